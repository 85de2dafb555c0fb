/* machine.h — what a machine is, measured once at start: name,
 * architecture and OS in Condor's spelling, kernel and libc identity
 * (checkpoint compatibility), CPUs, memory, a short speed benchmark
 * (KFlops, Mips); and free disk, measured at every advertisement. */
#pragma once

#include <glib.h>

#include "ad.h"

G_BEGIN_DECLS

typedef struct {
	const char *name;   /* machine name */
	gint64 cpus;	    /* 0: detect */
	guint64 memory_mib; /* 0: detect */
	const char *site;   /* NULL: not published */
	const char *subnet; /* NULL: not published */
	gboolean benchmark;
} KiteMachineOptions;

/* The machine's static attributes: Machine, Arch, OpSys, KernelRelease,
 * LibcVersion, TotalCpus, TotalMemory (MiB), KFlops, Mips, Site,
 * Subnet. */
KiteAd *kite_machine_probe(const KiteMachineOptions *opt);

/* Condor's spelling of a `uname -m` architecture: X86_64, INTEL,
 * AARCH64, … (upper case otherwise). */
char *kite_machine_arch(const char *uname_machine);

/* Free space of the file system holding @dir, in KiB. */
gboolean kite_machine_disk_kib(const char *dir, gint64 *out_kib, GError **error);

/* A short benchmark (about @seconds in all): floating-point and
 * integer loops, as Condor's KFlops and Mips. */
void kite_machine_benchmark(double seconds, gint64 *out_kflops, gint64 *out_mips);

G_END_DECLS
