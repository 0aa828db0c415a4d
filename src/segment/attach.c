/* SPDX-License-Identifier: MIT */
/*
 * segment/attach.c - mapping an existing segment: owner check, bounded wait for a creator still
 * initialising it, and validation of every header field against the object's real size before use.
 */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_OPEN_FLAGS (SHMIPC_SEG_ALLOW_FOREIGN | SHMIPC_SEG_RDONLY | SHMIPC_SEG_ANY_TYPE)
#define SEG_DEFAULT_READY_TIMEOUT_MS 1000

/* Validate a ready header against the object size; returns 0 or a negative error, and in *total the size
 * that was checked: the caller maps that value, never a fresh load a peer could have changed since. */
static int seg_validate(const shmipc__seg_hdr *h, uint64_t file_size, const shmipc_segment_opts *opts,
                        size_t *total)
{
    if (h->magic != SHMIPC_SEG_MAGIC)
        return -EBADMSG;
    if (h->version != SHMIPC_SEG_VERSION)
        return -EPROTO;
    if (h->header_size != SHMIPC_SEGMENT_HEADER_SIZE)
        return -EBADMSG;
    uint64_t size = atomic_load_explicit(&((shmipc__seg_hdr *)h)->size, memory_order_acquire);
    /* A size beyond the object would make us touch pages past EOF (SIGBUS); a size that is not a whole
     * number of cache lines was never written by shmipc. */
    if (size <= SHMIPC_SEGMENT_HEADER_SIZE || size > file_size || size % SHMIPC_CACHELINE != 0 ||
        size > (uint64_t)SIZE_MAX)
        return -EBADMSG;
    if (!(opts->flags & SHMIPC_SEG_ANY_TYPE) && h->type != opts->type)
        return -EPROTOTYPE;
    *total = (size_t)size;
    return 0;
}

int shmipc__seg_attach_fd(int fd, shmipc_backing backing, const char *name, const shmipc_segment_opts *opts,
                          bool close_on_fail, shmipc_segment **out)
{
    shmipc_segment_opts def;
    int oerr = SHMIPC__OPTS_TAKE(shmipc_segment_opts, shmipc_segment_opts_init, &def, opts);
    if (oerr)
        return oerr;
    opts = &def;
    if (opts->flags & ~SEG_OPEN_FLAGS) {
        if (close_on_fail)
            close(fd);
        return -EINVAL;
    }
    bool rdonly = opts->flags & SHMIPC_SEG_RDONLY;
    int prot = PROT_READ | (rdonly ? 0 : PROT_WRITE);
    int timeout = opts->ready_timeout_ms == 0 ? SEG_DEFAULT_READY_TIMEOUT_MS : opts->ready_timeout_ms;
    uint64_t deadline = shmipc__deadline(timeout < 0 ? 0 : timeout);
    shmipc__seg_hdr *h = NULL;
    struct stat st;
    int err;

    if (fstat(fd, &st) < 0) {
        err = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        err = -EBADMSG;
        goto fail;
    }
    if (st.st_uid != geteuid() && !(opts->flags & SHMIPC_SEG_ALLOW_FOREIGN)) {
        err = -EPERM;
        goto fail;
    }
    /* Wait (bounded) for the creator: first for the object to be sized, then for ready. */
    for (;;) {
        if (fstat(fd, &st) < 0) {
            err = -errno;
            goto fail;
        }
        /* A creator sizes the object in one ftruncate from 0: a size between is no segment (as stat
         * says), not one to wait for. */
        if (!h && st.st_size > 0 && (uint64_t)st.st_size < SHMIPC_SEGMENT_HEADER_SIZE) {
            err = -EBADMSG;
            goto fail;
        }
        if (!h && (uint64_t)st.st_size >= SHMIPC_SEGMENT_HEADER_SIZE) {
            h = mmap(NULL, SHMIPC_SEGMENT_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
            if (h == MAP_FAILED) {
                h = NULL;
                err = -errno;
                goto fail;
            }
        }
        if (h) {
            if (atomic_load_explicit(&h->ready, memory_order_acquire) == SHMIPC_SEG_READY)
                break;
            /* relaxed loads: the creator may be writing these right now. */
            uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_RELAXED);
            if (magic != 0 && magic != SHMIPC_SEG_MAGIC) {
                err = -EBADMSG;
                goto fail;
            }
            shmipc_proc_id creator = {.pid = __atomic_load_n(&h->creator_pid, __ATOMIC_RELAXED),
                                      .start_time = __atomic_load_n(&h->creator_start, __ATOMIC_RELAXED)};
            if (magic == SHMIPC_SEG_MAGIC && creator.pid > 0 && !shmipc_proc_alive(&creator)) {
                /* It may have published and exited since our load of ready: only a creator that died
                 * with ready still unset left the segment unusable. */
                if (atomic_load_explicit(&h->ready, memory_order_acquire) == SHMIPC_SEG_READY)
                    break;
                err = -ENOTRECOVERABLE;
                goto fail;
            }
        }
        uint64_t now = shmipc__now_ns();
        if (now >= deadline) {
            err = h ? -ETIMEDOUT : (st.st_size == 0 ? -ETIMEDOUT : -EBADMSG);
            goto fail;
        }
        uint64_t slice = now + 10 * 1000000u; /* re-check creator liveness every 10 ms */
        if (h)
            shmipc__futex_wait(&h->ready, 0, slice < deadline ? slice : deadline);
        else
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    if (fstat(fd, &st) < 0) {
        err = -errno;
        goto fail;
    }
    size_t total = 0;
    err = seg_validate(h, (uint64_t)st.st_size, opts, &total);
    if (err)
        goto fail;
    uint32_t gen = atomic_load_explicit(&h->generation, memory_order_acquire);
    munmap(h, SHMIPC_SEGMENT_HEADER_SIZE);
    h = NULL;
    err = shmipc__seg_map_handle(fd, backing, name, opts->flags, prot, total, out);
    if (err)
        goto fail;
    (*out)->published = true;
    (*out)->generation = gen;
    return 0;
fail:
    if (h)
        munmap(h, SHMIPC_SEGMENT_HEADER_SIZE);
    if (close_on_fail)
        close(fd);
    return err;
}
