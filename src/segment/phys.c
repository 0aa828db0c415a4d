/* SPDX-License-Identifier: MIT */
/*
 * segment/phys.c - physical-memory windows: map the pages enclosing an unaligned physical range of
 * /dev/mem, a UIO device or a stand-in file, and do bounds- and alignment-checked volatile register access.
 */
#include "common/internal.h"
#include <shmipc/phys.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct shmipc_phys {
    int fd;
    unsigned flags;
    void *map;            /* page-aligned mapping start */
    size_t map_len;       /* bytes mapped */
    volatile uint8_t *p;  /* == physical address addr */
    uint64_t addr;
    size_t len;
};

int shmipc_phys_open(const char *device, uint64_t addr, size_t len, unsigned flags, shmipc_phys **out)
{
    if (!out || len == 0 || (flags & ~(SHMIPC_PHYS_UNCACHED | SHMIPC_PHYS_RDONLY)))
        return -EINVAL;
    if (addr > UINT64_MAX - len || addr + len > (uint64_t)INT64_MAX)
        return -EINVAL;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096u;
    uint64_t base = addr & ~(page - 1);
    size_t delta = (size_t)(addr - base);
    if (len > SIZE_MAX - delta - page)
        return -EINVAL;
    size_t map_len = shmipc__align_up(delta + len, (size_t)page);
    bool rdonly = flags & SHMIPC_PHYS_RDONLY;
    int oflags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | ((flags & SHMIPC_PHYS_UNCACHED) ? O_SYNC : 0);
    int fd = open(device ? device : "/dev/mem", oflags);
    if (fd < 0)
        return -errno;
    struct stat st;
    int err;
    if (fstat(fd, &st) < 0) {
        err = -errno;
        goto fail;
    }
    /* A regular file standing in for the device: touching pages past its end would SIGBUS. */
    if (S_ISREG(st.st_mode) && addr + len > (uint64_t)st.st_size) {
        err = -ENXIO;
        goto fail;
    }
    void *m = mmap(NULL, map_len, PROT_READ | (rdonly ? 0 : PROT_WRITE), MAP_SHARED, fd, (off_t)base);
    if (m == MAP_FAILED) {
        err = -errno;
        goto fail;
    }
    shmipc_phys *ph = calloc(1, sizeof *ph);
    if (!ph) {
        munmap(m, map_len);
        err = -ENOMEM;
        goto fail;
    }
    *ph = (shmipc_phys){.fd = fd, .flags = flags, .map = m, .map_len = map_len,
                        .p = (volatile uint8_t *)m + delta, .addr = addr, .len = len};
    *out = ph;
    return 0;
fail:
    close(fd);
    return err;
}

int shmipc_phys_close(shmipc_phys *ph)
{
    if (!ph)
        return 0;
    munmap(ph->map, ph->map_len);
    close(ph->fd);
    free(ph);
    return 0;
}

volatile void *shmipc_phys_ptr(const shmipc_phys *ph) { return ph ? ph->p : NULL; }
size_t shmipc_phys_len(const shmipc_phys *ph) { return ph ? ph->len : 0; }

static int phys_check(const shmipc_phys *ph, size_t off, size_t width, bool write)
{
    if (!ph)
        return -EINVAL;
    if (off > ph->len || width > ph->len - off)
        return -ERANGE;
    /* Device registers need naturally aligned accesses of exactly their width. */
    if ((ph->addr + off) % width)
        return -EINVAL;
    if (write && (ph->flags & SHMIPC_PHYS_RDONLY))
        return -EPERM;
    return 0;
}

#define SHMIPC_PHYS_ACCESSORS(bits)                                                                 \
    int shmipc_phys_read##bits(const shmipc_phys *ph, size_t off, uint##bits##_t *val)              \
    {                                                                                               \
        int err = phys_check(ph, off, sizeof(uint##bits##_t), false);                              \
        if (err)                                                                                    \
            return err;                                                                             \
        if (!val)                                                                                   \
            return -EINVAL;                                                                         \
        *val = *(volatile uint##bits##_t *)(ph->p + off);                                          \
        return 0;                                                                                   \
    }                                                                                               \
    int shmipc_phys_write##bits(shmipc_phys *ph, size_t off, uint##bits##_t val)                    \
    {                                                                                               \
        int err = phys_check(ph, off, sizeof(uint##bits##_t), true);                               \
        if (err)                                                                                    \
            return err;                                                                             \
        *(volatile uint##bits##_t *)(ph->p + off) = val;                                           \
        return 0;                                                                                   \
    }

SHMIPC_PHYS_ACCESSORS(8)
SHMIPC_PHYS_ACCESSORS(16)
SHMIPC_PHYS_ACCESSORS(32)
SHMIPC_PHYS_ACCESSORS(64)
