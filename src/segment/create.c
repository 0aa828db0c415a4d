/* SPDX-License-Identifier: MIT */
/*
 * segment/create.c - turning a freshly created descriptor into a ready segment: exact mode, size,
 * reserved memory (so a full /dev/shm fails here, not with SIGBUS later), mapping and header.
 */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_CREATE_FLAGS (SHMIPC_SEG_DEFER_READY | SHMIPC_SEG_NO_RESERVE)

int shmipc__seg_create_fd(int fd, shmipc_backing backing, const char *name, size_t size,
                          const shmipc_segment_opts *opts, shmipc_segment **out)
{
    shmipc_segment_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_segment_opts, shmipc_segment_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    int err;
    unsigned mode = opts->mode ? opts->mode : 0600;
    if (size == 0 || (mode & ~07777u) || (opts->flags & ~(SEG_CREATE_FLAGS | SHMIPC_SEG_ALLOW_FOREIGN))) {
        err = -EINVAL;
        goto fail;
    }
    if (size > (size_t)INT64_MAX - 2 * SHMIPC_SEGMENT_HEADER_SIZE) {
        err = -EFBIG;
        goto fail;
    }
    size_t total = SHMIPC_SEGMENT_HEADER_SIZE + shmipc__align_up(size, SHMIPC_CACHELINE);

    /* fchmod sets the bits exactly: the umask applied by shm_open/open must not silently narrow (or the
     * caller's intent widen) sharing. */
    if (fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)total) < 0) {
        err = -errno;
        goto fail;
    }
    if (!(opts->flags & SHMIPC_SEG_NO_RESERVE)) {
        err = shmipc__seg_reserve(fd, 0, total);
        if (err)
            goto fail;
    }
    shmipc_segment *s = NULL;
    err = shmipc__seg_map_handle(fd, backing, name, opts->flags, PROT_READ | PROT_WRITE, total, &s);
    if (!s) /* set exactly when err == 0 */
        goto fail;

    shmipc__seg_hdr *h = s->base;
    shmipc_proc_id self;
    shmipc_proc_self(&self);
    h->magic = SHMIPC_SEG_MAGIC;
    h->version = SHMIPC_SEG_VERSION;
    h->header_size = SHMIPC_SEGMENT_HEADER_SIZE;
    atomic_store_explicit(&h->size, total, memory_order_relaxed);
    h->type = opts->type;
    h->backing = (uint32_t)backing;
    h->creator_pid = self.pid;
    h->creator_start = self.start_time;
    h->created_ns = shmipc__realtime_ns();
    atomic_store_explicit(&h->generation, 0, memory_order_relaxed);
    if (!(opts->flags & SHMIPC_SEG_DEFER_READY))
        shmipc_segment_publish(s);
    *out = s;
    return 0;
fail:
    close(fd);
    return err;
}

int shmipc__seg_reserve(int fd, uint64_t off, uint64_t len)
{
    int r = posix_fallocate(fd, (off_t)off, (off_t)len);
    if (r == 0)
        return 0;
    if (r != EOPNOTSUPP && r != EINVAL)
        return -r; /* ENOSPC above all: a full tmpfs or disk */
    /* No fallocate here (glibc emulates it; musl returns EOPNOTSUPP): allocate each page by writing one
     * zero byte in it, which the file system must find room for now or refuse with ENOSPC. The range is
     * fresh (beyond every mapping's end), so the zero overwrites a zero. */
    static const char zero;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t step = pg > 0 ? (uint64_t)pg : 4096;
    for (uint64_t p = off - off % step; p < off + len; p += step) {
        uint64_t at = p < off ? off : p;
        ssize_t w;
        do
            w = pwrite(fd, &zero, 1, (off_t)at);
        while (w < 0 && errno == EINTR);
        if (w < 0)
            return -errno;
        if (w != 1)
            return -ENOSPC;
    }
    return 0;
}

int shmipc__seg_map_handle(int fd, shmipc_backing backing, const char *name, unsigned flags, int prot,
                           size_t total, shmipc_segment **out)
{
    void *base = mmap(NULL, total, prot, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return -errno;
    shmipc_segment *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(base, total);
        return -ENOMEM;
    }
    s->fd = fd;
    s->backing = backing;
    s->flags = flags;
    s->base = base;
    s->map_size = total;
    snprintf(s->name, sizeof s->name, "%s", name ? name : "");
    *out = s;
    return 0;
}

int shmipc_segment_publish(shmipc_segment *s)
{
    if (!s || s->published)
        return -EINVAL;
    shmipc__seg_hdr *h = shmipc__seg_hdr_of(s);
    /* release: everything the creator wrote (header and the layer's own structures) is visible to an
     * opener that loads ready with acquire. */
    atomic_store_explicit(&h->ready, SHMIPC_SEG_READY, memory_order_release);
    shmipc__futex_wake(&h->ready, INT32_MAX);
    s->published = true;
    return 0;
}

void shmipc_segment_opts_init(shmipc_segment_opts *opts)
{
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}
