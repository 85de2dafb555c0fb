/* GNU build-id of an ELF file.  ASYNC-SIGNAL-SAFE: raw system calls and
 * stack buffers only (it runs in the checkpoint child). */
#include <elf.h>
#include <fcntl.h>

#include "libckpt/elf-build-id.h"
#include "libckpt/raw-syscall.h"

uint32_t kite_elf_build_id(const char *path, uint8_t *out, uint32_t cap)
{
	int fd = (int)rs_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	uint32_t got = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	if (rs_pread_all(fd, &eh, sizeof eh, 0) < 0 || !rs_memeq(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > 64 || rs_pread_all(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff) < 0)
		goto out;
	for (int i = 0; i < eh.e_phnum && !got; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz > 4096 || ph[i].p_filesz < sizeof(Elf64_Nhdr))
			continue;
		unsigned char notes[4096];
		if (rs_pread_all(fd, notes, ph[i].p_filesz, ph[i].p_offset) < 0)
			continue;
		uint64_t off = 0;
		while (off + sizeof(Elf64_Nhdr) <= ph[i].p_filesz) {
			Elf64_Nhdr nh;
			__builtin_memcpy(&nh, notes + off, sizeof nh);
			uint64_t name = off + sizeof nh;
			uint64_t desc = name + ((nh.n_namesz + 3) & ~3u);
			uint64_t next = desc + ((nh.n_descsz + 3) & ~3u);
			if (next > ph[i].p_filesz)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && rs_memeq(notes + name, "GNU", 4)) {
				got = nh.n_descsz < cap ? nh.n_descsz : cap;
				for (uint32_t k = 0; k < got; k++)
					out[k] = notes[desc + k];
				break;
			}
			off = next;
		}
	}
out:
	rs_close(fd);
	return got;
}
