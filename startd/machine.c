/* machine.c — the machine's static attributes and free disk; see
 * machine.h.  Owner activity and load are in activity*.c. */
#include "machine.h"

#include <gnu/libc-version.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util.h"

char *kite_machine_arch(const char *m)
{
	static const char *const map[][2] = {
	    {"x86_64", "X86_64"},   {"amd64", "X86_64"},  {"i386", "INTEL"},
	    {"i486", "INTEL"},	    {"i586", "INTEL"},	  {"i686", "INTEL"},
	    {"aarch64", "AARCH64"}, {"arm64", "AARCH64"}, {"ppc64le", "PPC64LE"},
	};
	for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
		if (g_str_equal(m, map[i][0]))
			return g_strdup(map[i][1]);
	return g_ascii_strup(m, -1);
}

gboolean kite_machine_disk_kib(const char *dir, gint64 *out_kib, GError **error)
{
	struct statvfs st;
	if (statvfs(dir, &st) < 0)
		return kite_throw_errno(error, "statvfs %s", dir);
	*out_kib = (gint64)((guint64)st.f_bavail * st.f_frsize / 1024);
	return TRUE;
}

/* Keep the compiler from optimising the loops away. */
static volatile double sink_d;
static volatile guint64 sink_u;

void kite_machine_benchmark(double seconds, gint64 *out_kflops, gint64 *out_mips)
{
	/* Floating point: a multiply and an add per step (2 flops), the
	 * inner loop of LINPACK's daxpy. */
	double half = seconds / 2;
	double start = kite_now_monotonic(), t;
	guint64 flops = 0;
	double x = 1.0, a = 1.0000001, b = 1e-9;
	do {
		for (int i = 0; i < 100000; i++)
			x = x * a + b;
		flops += 200000;
		t = kite_now_monotonic() - start;
	} while (t < half);
	sink_d = x;
	*out_kflops = (gint64)(flops / t / 1000);

	/* Integer: a few ALU operations per step, as Dhrystone mixes them;
	 * 4 instructions per step counted. */
	start = kite_now_monotonic();
	guint64 ops = 0, v = 12345;
	do {
		for (int i = 0; i < 100000; i++)
			v = (v ^ (v >> 3)) + (guint64)i * 7;
		ops += 400000;
		t = kite_now_monotonic() - start;
	} while (t < half);
	sink_u = v;
	*out_mips = (gint64)(ops / t / 1e6);
}

KiteAd *kite_machine_probe(const KiteMachineOptions *opt)
{
	KiteAd *ad = kite_ad_new();
	struct utsname u;
	if (uname(&u) < 0)
		memset(&u, 0, sizeof u);
	kite_ad_set_string(ad, "MyType", "Machine");
	kite_ad_set_string(ad, "Machine", opt->name);
	g_autofree char *arch = kite_machine_arch(*u.machine ? u.machine : "unknown");
	kite_ad_set_string(ad, "Arch", arch);
	kite_ad_set_string(ad, "OpSys", "LINUX");
	kite_ad_set_string(ad, "KernelRelease", u.release);
	kite_ad_set_string(ad, "LibcVersion", gnu_get_libc_version());

	gint64 cpus = opt->cpus > 0 ? opt->cpus : (gint64)g_get_num_processors();
	kite_ad_set_int(ad, "TotalCpus", cpus);
	gint64 mem = (gint64)opt->memory_mib;
	if (mem <= 0) {
		long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
		mem = pages > 0 && page > 0 ? (gint64)((guint64)pages * (guint64)page / (1024 * 1024)) : 0;
	}
	kite_ad_set_int(ad, "TotalMemory", mem);
	if (opt->benchmark) {
		gint64 kflops, mips;
		kite_machine_benchmark(0.2, &kflops, &mips);
		kite_ad_set_int(ad, "KFlops", kflops);
		kite_ad_set_int(ad, "Mips", mips);
	}
	if (opt->site)
		kite_ad_set_string(ad, "Site", opt->site);
	if (opt->subnet)
		kite_ad_set_string(ad, "Subnet", opt->subnet);
	return ad;
}
