/* ckpt inspect: print an image's header and records for people. */
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "libckpt/cmd/ckpt-image.h"
#include "libckpt/cmd/ckpt.h"

static const char *fd_kind(guint32 k)
{
	switch (k) {
	case KITE_FD_REGULAR:
		return "file";
	case KITE_FD_INHERIT:
		return "inherit";
	case KITE_FD_DEVICE:
		return "device";
	case KITE_FD_DIR:
		return "dir";
	case KITE_FD_DUP:
		return "dup";
	case KITE_FD_EVENTFD:
		return "eventfd";
	case KITE_FD_TIMERFD:
		return "timerfd";
	case KITE_FD_SIGNALFD:
		return "signalfd";
	case KITE_FD_EPOLL:
		return "epoll";
	default:
		return "?";
	}
}

static void region_flags(guint32 f, char *buf, size_t cap)
{
	g_snprintf(buf, cap, "%s%s%s%s%s%s%s%s%s", f & KITE_REG_FILE ? "file " : "", f & KITE_REG_SHARED ? "shared " : "",
		   f & KITE_REG_HEAP ? "heap " : "", f & KITE_REG_STACK ? "stack " : "",
		   f & (KITE_REG_VDSO | KITE_REG_VVAR | KITE_REG_VSYSCALL) ? "kernel " : "",
		   f & KITE_REG_DATA ? "data " : "", f & KITE_REG_EXCLUDED ? "excluded " : "",
		   f & KITE_REG_HUGE ? "huge " : "", f & KITE_REG_NOHUGE ? "nohuge " : "");
}

int kite_ckpt_cmd_inspect(int argc, char **argv)
{
	gboolean summary = FALSE, verify = TRUE;
	const char *path = NULL, *server = NULL, *caps = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--summary") == 0)
			summary = TRUE;
		else if (strcmp(argv[i], "--no-verify") == 0)
			verify = FALSE;
		else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			server = argv[++i];
		else if (strcmp(argv[i], "--caps") == 0 && i + 1 < argc)
			caps = argv[++i];
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "usage: ckpt inspect [--summary] [--no-verify] [--server HOST:PORT] [--caps FILE] "
					"[IMAGE|DIR]\n");
			return 2;
		}
	}
	g_autofree char *server_dir = path ? g_build_filename(path, "server.caps", NULL) : NULL;
	gboolean dir_caps = server_dir && g_file_test(server_dir, G_FILE_TEST_EXISTS);
	g_autofree char *shown = NULL, *memfd_path = NULL;
	if (server || caps || dir_caps || (!path && (g_getenv("KITE_CKPT_CAPS") || g_getenv("KITE_CKPT_READ_CAP")))) {
		g_autoptr(GError) ferr = NULL;
		int fd = kite_ckpt_server_fetch(server, caps, dir_caps ? path : NULL, &shown, NULL, &ferr);
		if (fd < 0) {
			fprintf(stderr, "ckpt inspect: %s: %s\n", shown ? shown : "the server image", ferr->message);
			return 1;
		}
		memfd_path = g_strdup_printf("/proc/self/fd/%d", fd);
		path = memfd_path;
	}
	if (!path) {
		fprintf(stderr, "usage: ckpt inspect [--summary] [--no-verify] [--server HOST:PORT] [--caps FILE] [IMAGE|DIR]\n");
		return 2;
	}
	g_autoptr(GError) error = NULL;
	g_autoptr(KiteImage) img = kite_image_open(path, verify, &error);
	if (!img) {
		fprintf(stderr, "ckpt inspect: %s\n", error->message);
		return 1;
	}
	const KiteImgHeader *h = &img->header;
	const KiteImgProcess *p = &img->process;
	time_t t = (time_t)(h->created_ns / 1000000000ull);
	char when[64];
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	char vendor[13];
	memcpy(vendor, h->cpu_vendor, 12);
	vendor[12] = 0;
	printf("image:      %s (%" G_GUINT64_FORMAT " bytes)\n", shown ? shown : img->path, img->size);
	printf("format:     %.8s version %u, arch x86_64, page size %u\n", h->magic, h->version, h->page_size);
	printf("created:    %s on %s, checkpoint #%u of pid %u\n", when, h->hostname, h->seq, h->pid);
	printf("kernel:     %s %s\n", h->kernel_release, h->kernel_version);
	printf("libc:       glibc %s\n", h->libc_version);
	printf("cpu:        %s, cpuid.1 ecx=%08x edx=%08x, cpuid.7 ebx=%08x ecx=%08x edx=%08x\n", vendor, h->cpuid1_ecx,
	       h->cpuid1_edx, h->cpuid7_ebx, h->cpuid7_ecx, h->cpuid7_edx);
	printf("xsave:      xcr0=%#" G_GINT64_MODIFIER "x, %u bytes\n", h->xcr0, h->xsave_size);
	printf("header crc: %08x (ok)\n", h->header_crc);
	printf("process:    %s (comm '%s'), cwd %s, umask %03o, %u thread(s)\n", p->exe, p->comm, p->cwd, p->umask,
	       p->nthreads);
	printf("resume:     rip=%#" G_GINT64_MODIFIER "x rsp=%#" G_GINT64_MODIFIER "x fs_base=%#" G_GINT64_MODIFIER
	       "x\n",
	       p->jmp.rip, p->jmp.rsp, p->fs_base);
	printf("rseq:       %#" G_GINT64_MODIFIER "x len %u; cached tid at %#" G_GINT64_MODIFIER "x\n", p->rseq_addr,
	       p->rseq_len, p->tid_addr);
	printf("brk:        %#" G_GINT64_MODIFIER "x..%#" G_GINT64_MODIFIER "x\n", p->start_brk, p->brk);
	int nh = 0;
	for (int s = 1; s <= KITE_NSIG; s++)
		if (p->sigactions[s - 1].handler > 1)
			nh++;
	printf("signals:    %d handler(s), blocked %#" G_GINT64_MODIFIER "x, altstack %s\n", nh, p->sigmask,
	       p->altstack_size && !(p->altstack_flags & 2) ? "yes" : "no");
	for (int w = 0; w < 3; w++)
		if (p->itimers[w][2] || p->itimers[w][3])
			printf("itimer %d:   next %" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT " s, every %" G_GINT64_FORMAT
			       ".%06" G_GINT64_FORMAT " s\n",
			       w, p->itimers[w][2], p->itimers[w][3], p->itimers[w][0], p->itimers[w][1]);
	printf("memory:     %u regions, %" G_GUINT64_FORMAT " bytes stored, %" G_GUINT64_FORMAT
	       " bytes from the parent; file contents %" G_GUINT64_FORMAT " bytes\n",
	       img->regions->len, img->stored_bytes, img->parent_bytes, img->file_bytes);
	if (h->parent_seq) {
		g_autofree char *pp = kite_image_parent_path(img);
		printf("incremental: parent %s, chain of %u image(s)\n", pp, h->chain_len);
	} else {
		printf("incremental: no (a full image)\n");
	}
	printf("dirty pages: %s\n", h->flags & KITE_IMG_FLAG_WP_TRACKED ? "write-protect tracking (userfaultfd)"
				     : h->flags & KITE_IMG_FLAG_WP_SCANNED ? "page hashes; write-protect tracking from here on"
									     : "page hashes");
	printf("end:        %" G_GUINT64_FORMAT " records, digest %08x%s\n", img->end.nrecords, img->end.digest,
	       verify ? " (every checksum verified)" : " (payloads not verified)");

	printf("\ndescriptors:\n");
	for (guint i = 0; i < img->fds->len; i++) {
		const KiteImageFd *f = img->fds->pdata[i];
		/* a kernel object's state (fdinfo lines) on one line */
		g_autofree char *state = g_strdup(f->path);
		g_strchomp(state);
		for (char *c = state; *c; c++)
			if (*c == '\n' || *c == '\t')
				*c = *c == '\n' ? ';' : ' ';
		printf("  fd %-3d %-8s flags %#o%s offset %" G_GINT64_FORMAT " size %" G_GUINT64_FORMAT "%s %s", f->f.fd,
		       fd_kind(f->f.kind), f->f.open_flags, f->f.fd_flags & 1 ? " cloexec" : "", f->f.offset, f->f.size,
		       f->f.has_contents ? " contents-saved" : "", state);
		if (f->f.kind == KITE_FD_DUP)
			printf(" (dup of fd %d)", f->f.dup_of);
		printf("\n");
	}
	kite_ckpt_sandbox_print(img);
	printf("\nregions:\n");
	for (guint i = 0; i < img->regions->len; i++) {
		const KiteImageRegion *r = img->regions->pdata[i];
		char fl[128];
		region_flags(r->r.flags, fl, sizeof fl);
		printf("  %012" G_GINT64_MODIFIER "x-%012" G_GINT64_MODIFIER "x %c%c%c%c %8" G_GUINT64_FORMAT
		       " KiB stored %8" G_GUINT64_FORMAT " KiB in %u chunk(s), %" G_GUINT64_FORMAT
		       " KiB from parent  %s%s\n",
		       r->r.start, r->r.end, r->r.prot & PROT_READ ? 'r' : '-', r->r.prot & PROT_WRITE ? 'w' : '-',
		       r->r.prot & PROT_EXEC ? 'x' : '-', r->r.flags & KITE_REG_SHARED ? 's' : 'p',
		       (r->r.end - r->r.start) >> 10, r->stored_bytes >> 10, r->nchunks, r->parent_bytes >> 10, fl,
		       r->path);
	}
	if (!summary) {
		printf("\nrecords:\n");
		for (guint i = 0; i < img->records->len; i++) {
			const KiteImageRec *r = &g_array_index(img->records, KiteImageRec, i);
			printf("  %6u @%-10" G_GUINT64_FORMAT " %-8s %10" G_GUINT64_FORMAT " bytes crc32c %08x\n", i,
			       r->offset, kite_image_rec_name(r->type), r->len, r->data_crc);
		}
	}
	return 0;
}
