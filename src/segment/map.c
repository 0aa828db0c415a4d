/* SPDX-License-Identifier: MIT */
/*
 * segment/map.c - what a handle does with its mapping: accessors, close, grow (serialised by flock,
 * announced through the header's generation counter) and refresh (remap after another process grew it).
 */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void *shmipc_segment_data(const shmipc_segment *s)
{
    return s ? (char *)s->base + SHMIPC_SEGMENT_HEADER_SIZE : NULL;
}

size_t shmipc_segment_data_size(const shmipc_segment *s)
{
    return s ? s->map_size - SHMIPC_SEGMENT_HEADER_SIZE : 0;
}

int shmipc_segment_fd(const shmipc_segment *s) { return s ? s->fd : -1; }

int shmipc_segment_close(shmipc_segment *s)
{
    if (!s)
        return 0;
    munmap(s->base, s->map_size);
    close(s->fd);
    free(s);
    return 0;
}

static int seg_remap(shmipc_segment *s, size_t total)
{
    if (total == s->map_size)
        return 0;
    void *p = mremap(s->base, s->map_size, total, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return -errno;
    s->base = p;
    s->map_size = total;
    return 1;
}

int shmipc_segment_grow(shmipc_segment *s, size_t new_size)
{
    if (!s)
        return -EINVAL;
    if (s->flags & SHMIPC_SEG_RDONLY)
        return -EPERM;
    if (new_size > (size_t)INT64_MAX - 2 * SHMIPC_SEGMENT_HEADER_SIZE)
        return -EFBIG;
    size_t total = SHMIPC_SEGMENT_HEADER_SIZE + shmipc__align_up(new_size, SHMIPC_CACHELINE);
    shmipc__seg_hdr *h = shmipc__seg_hdr_of(s);
    /* flock, not a lock word in the segment: the kernel drops it if the grower dies mid-way. */
    if (flock(s->fd, LOCK_EX) < 0)
        return -errno;
    int err = 0;
    uint64_t cur = atomic_load_explicit(&h->size, memory_order_acquire);
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        err = -errno;
        goto out;
    }
    /* Below our own mapping is no size a grower ever wrote (sizes only grow): a peer scribbled it, and
     * remapping to it would pull memory out from under the caller's pointers. */
    if (cur > (uint64_t)st.st_size || cur < s->map_size || cur % SHMIPC_CACHELINE != 0) {
        err = -EBADMSG;
        goto out;
    }
    if (total < cur) {
        err = -EINVAL;
        goto out;
    }
    if (total > cur) {
        if ((uint64_t)st.st_size < total && ftruncate(s->fd, (off_t)total) < 0) {
            err = -errno;
            goto out;
        }
        err = shmipc__seg_reserve(s->fd, cur, total - cur);
        if (err) /* the object is now larger than the header says; harmless, reclaimed by the next grow */
            goto out;
        /* Order: object sized, then size (release), then generation (release). A reader that sees the
         * new generation (acquire) therefore sees the new size, and the object is already that large. */
        atomic_store_explicit(&h->size, total, memory_order_release);
        atomic_fetch_add_explicit(&h->generation, 1, memory_order_release);
    }
    /* Map the size checked above (cur against the object, or ours), not a fresh load of a word another
     * process could have changed meanwhile. */
    err = seg_remap(s, total > cur ? total : (size_t)cur);
    if (err >= 0) {
        s->generation = atomic_load_explicit(&shmipc__seg_hdr_of(s)->generation, memory_order_acquire);
        err = 0;
    }
out:
    flock(s->fd, LOCK_UN);
    return err;
}

int shmipc_segment_refresh(shmipc_segment *s)
{
    if (!s)
        return -EINVAL;
    shmipc__seg_hdr *h = shmipc__seg_hdr_of(s);
    uint32_t gen = atomic_load_explicit(&h->generation, memory_order_acquire);
    if (gen == s->generation)
        return 0;
    uint64_t total = atomic_load_explicit(&h->size, memory_order_acquire);
    struct stat st;
    if (fstat(s->fd, &st) < 0)
        return -errno;
    if (total < s->map_size || total > (uint64_t)st.st_size || total % SHMIPC_CACHELINE)
        return -EBADMSG;
    int r = seg_remap(s, (size_t)total);
    if (r < 0)
        return r;
    s->generation = gen;
    return 1;
}

int shmipc__seg_describe(int fd, const shmipc__seg_hdr *h, shmipc_segment_info *info)
{
    struct stat st;
    memset(info, 0, sizeof *info);
    if (fstat(fd, &st) < 0)
        return -errno;
    info->file_size = (uint64_t)st.st_size;
    info->mode = st.st_mode & 07777;
    info->uid = st.st_uid;
    info->gid = st.st_gid;
    if (!h) /* no header: an empty regular file is being sized by its creator; anything else is no segment */
        return S_ISREG(st.st_mode) && st.st_size == 0 ? 0 : -EBADMSG;
    info->ready = atomic_load_explicit(&((shmipc__seg_hdr *)h)->ready, memory_order_acquire) == SHMIPC_SEG_READY;
    /* relaxed: a creator may still be writing the header; an unready one reads as "being initialised"
     * only while its magic is still zero, as open sees it. */
    uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_RELAXED);
    if (magic != SHMIPC_SEG_MAGIC)
        return info->ready || magic != 0 ? -EBADMSG : 0;
    info->version = h->version;
    info->type = h->type;
    info->size = atomic_load_explicit(&((shmipc__seg_hdr *)h)->size, memory_order_acquire);
    info->data_size = info->size > SHMIPC_SEGMENT_HEADER_SIZE ? info->size - SHMIPC_SEGMENT_HEADER_SIZE : 0;
    info->creator.pid = h->creator_pid;
    info->creator.start_time = h->creator_start;
    info->creator_alive = shmipc_proc_alive(&info->creator);
    info->generation = atomic_load_explicit(&((shmipc__seg_hdr *)h)->generation, memory_order_relaxed);
    info->created_ns = h->created_ns;
    if (!info->ready) {
        /* The creator may have published and exited after our load of ready; judged dead, it can no
         * longer publish, so one more load settles it (and a ready segment is described afresh, its
         * fields now read after the acquire). */
        if (!info->creator_alive &&
            atomic_load_explicit(&((shmipc__seg_hdr *)h)->ready, memory_order_acquire) == SHMIPC_SEG_READY)
            return shmipc__seg_describe(fd, h, info);
        return 0;
    }
    /* The same checks as open (attach.c), on the values copied into info. */
    if (info->version != SHMIPC_SEG_VERSION)
        return -EPROTO;
    if (h->header_size != SHMIPC_SEGMENT_HEADER_SIZE || info->size > info->file_size ||
        info->size <= SHMIPC_SEGMENT_HEADER_SIZE || info->size % SHMIPC_CACHELINE != 0)
        return -EBADMSG;
    return 0;
}

int shmipc_segment_info_get(const shmipc_segment *s, shmipc_segment_info *info)
{
    if (!s || !info)
        return -EINVAL;
    int err = shmipc__seg_describe(s->fd, shmipc__seg_hdr_of(s), info);
    memcpy(info->name, s->name, sizeof info->name);
    info->backing = s->backing;
    return err;
}
