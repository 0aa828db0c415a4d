/* SPDX-License-Identifier: MIT */
/*
 * shmipc/phys.h - windows onto physical memory (/dev/mem, a UIO device, or any file standing in for one),
 * for register access on embedded boards.
 *
 * mmap() needs a page-aligned offset; shmipc_phys_open() maps the pages enclosing [addr, addr + len) and
 * hands back a pointer to addr itself. Register helpers do single volatile accesses of the named width at
 * an offset from that pointer, after checking bounds and natural alignment.
 *
 * On a real board: /dev/mem needs root (CAP_SYS_RAWIO) and a kernel without CONFIG_STRICT_DEVMEM blocking
 * the range; a UIO device (/dev/uioN) exposes map N at offset N * page size. Use SHMIPC_PHYS_UNCACHED for
 * device registers (opens with O_SYNC so the kernel maps the range uncached).
 */
#ifndef SHMIPC_PHYS_H
#define SHMIPC_PHYS_H

#include <shmipc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_phys shmipc_phys;

#define SHMIPC_PHYS_UNCACHED (1u << 0) /* open with O_SYNC: uncached access, for device registers */
#define SHMIPC_PHYS_RDONLY   (1u << 1) /* map read-only */

/*
 * shmipc_phys_open - map len bytes of physical address addr from device (NULL means "/dev/mem").
 * addr need not be page-aligned. Symbolic links to the device are followed (udev makes them).
 * Errors: -EINVAL (len 0, unknown flags, addr + len overflows), -ENOENT, -EACCES / -EPERM (no right to
 *         the device), -ENXIO (range beyond the end of a regular file standing in for the device),
 *         or another errno from open/mmap.
 */
SHMIPC_API int shmipc_phys_open(const char *device, uint64_t addr, size_t len, unsigned flags,
                               shmipc_phys **out);

/* shmipc_phys_close - unmap and close. NULL is a no-op. Returns 0. */
SHMIPC_API int shmipc_phys_close(shmipc_phys *phys);

/* shmipc_phys_ptr - pointer to physical address addr in this process. */
SHMIPC_API volatile void *shmipc_phys_ptr(const shmipc_phys *phys);

/* shmipc_phys_len - the len given to shmipc_phys_open. */
SHMIPC_API size_t shmipc_phys_len(const shmipc_phys *phys);

/*
 * Register access at byte offset off from addr: one volatile load or store of exactly that width.
 * Errors: -ERANGE (off + width beyond len), -EINVAL (physical address addr + off not a multiple of the
 * width), -EPERM (write to a
 * read-only map).
 */
SHMIPC_API int shmipc_phys_read8(const shmipc_phys *phys, size_t off, uint8_t *val);
SHMIPC_API int shmipc_phys_read16(const shmipc_phys *phys, size_t off, uint16_t *val);
SHMIPC_API int shmipc_phys_read32(const shmipc_phys *phys, size_t off, uint32_t *val);
SHMIPC_API int shmipc_phys_read64(const shmipc_phys *phys, size_t off, uint64_t *val);
SHMIPC_API int shmipc_phys_write8(shmipc_phys *phys, size_t off, uint8_t val);
SHMIPC_API int shmipc_phys_write16(shmipc_phys *phys, size_t off, uint16_t val);
SHMIPC_API int shmipc_phys_write32(shmipc_phys *phys, size_t off, uint32_t val);
SHMIPC_API int shmipc_phys_write64(shmipc_phys *phys, size_t off, uint64_t val);

#ifdef __cplusplus
}
#endif
#endif
