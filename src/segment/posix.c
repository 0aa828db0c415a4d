/* SPDX-License-Identifier: MIT */
/* segment/posix.c - named segments (POSIX shared memory, or files in the directory of shmipc_segment_set_dir:
 * segment/names.c resolves names): name rules, create, open, open-or-create, unlink and stat. */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int shmipc_segment_name_check(const char *name)
{
    if (!name || name[0] != '/')
        return -EINVAL;
    size_t len = strnlen(name, SHMIPC_NAME_MAX + 1);
    if (len > SHMIPC_NAME_MAX)
        return -ENAMETOOLONG;
    if (len < 2 || strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
        return -EINVAL;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '/')
            return -EINVAL;
    }
    return 0;
}

/*
 * A segment whose creator was killed before publishing it can never become ready: opens fail with
 * -ENOTRECOVERABLE and, without this, every later create with -EEXIST until a human removes it. Remove it
 * only when that is certain: our own object, a shmipc header (magic) that was never published, and a
 * creator that is dead. Returns true if the name was removed.
 */
static bool seg_remove_if_stale(const char *name)
{
    int fd = shmipc__name_open(name, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return fd == -ENOENT; /* gone meanwhile: just try again */
    bool stale = false;
    struct stat st, now;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (uint64_t)st.st_size >= SHMIPC_SEGMENT_HEADER_SIZE) {
        const shmipc__seg_hdr *h = mmap(NULL, SHMIPC_SEGMENT_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
        if (h != MAP_FAILED) {
            shmipc_proc_id creator = {.pid = __atomic_load_n(&h->creator_pid, __ATOMIC_RELAXED),
                                      .start_time = __atomic_load_n(&h->creator_start, __ATOMIC_RELAXED)};
            /* Liveness first, ready after: a creator may publish and exit between the two loads, but
             * once it is known dead, a ready word still unset can never be set. */
            stale = __atomic_load_n(&h->magic, __ATOMIC_RELAXED) == SHMIPC_SEG_MAGIC && creator.pid > 0 &&
                    !shmipc_proc_alive(&creator) &&
                    atomic_load_explicit(&((shmipc__seg_hdr *)h)->ready, memory_order_acquire) != SHMIPC_SEG_READY;
            munmap((void *)h, SHMIPC_SEGMENT_HEADER_SIZE);
        }
    }
    /* Unlink only the object we examined: another process may have replaced it since (same inode check
     * right before the unlink; the remaining window is a few instructions wide). */
    if (stale && shmipc__name_stat(name, &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev) {
        int r = shmipc__name_unlink(name);
        stale = r == 0 || r == -ENOENT;
    }
    else
        stale = false;
    close(fd);
    return stale;
}

int shmipc_segment_create(const char *name, size_t size, const shmipc_segment_opts *opts, shmipc_segment **out)
{
    int err = shmipc_segment_name_check(name);
    if (err)
        return err;
    if (!out)
        return -EINVAL;
    int fd = shmipc__name_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd == -EEXIST && seg_remove_if_stale(name))
        fd = shmipc__name_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return fd;
    err = shmipc__seg_create_fd(fd, SHMIPC_BACKING_POSIX, name, size, opts, out);
    if (err)
        shmipc__name_unlink(name); /* we created it exclusively: nobody else can be using it yet */
    return err;
}

int shmipc_segment_open(const char *name, const shmipc_segment_opts *opts, shmipc_segment **out)
{
    int err = shmipc_segment_name_check(name);
    if (err)
        return err;
    if (!out)
        return -EINVAL;
    bool rdonly = opts && (opts->flags & SHMIPC_SEG_RDONLY);
    /* O_NONBLOCK: a FIFO planted under the name must not hang us in open (attach then rejects it). */
    int fd = shmipc__name_open(name, (rdonly ? O_RDONLY : O_RDWR) | O_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    return shmipc__seg_attach_fd(fd, SHMIPC_BACKING_POSIX, name, opts, true, out);
}

int shmipc_segment_open_or_create(const char *name, size_t size, const shmipc_segment_opts *opts,
                                  shmipc_segment **out)
{
    /* Racing creators: exactly one wins O_EXCL; the others open and wait for its ready word. */
    for (int attempt = 0; attempt < 8; attempt++) {
        int err = shmipc_segment_create(name, size, opts, out);
        if (err == 0)
            return 1;
        if (err != -EEXIST)
            return err;
        shmipc_segment_opts o = {.size = sizeof o};
        if (opts)
            o = *opts;
        o.flags &= ~(SHMIPC_SEG_DEFER_READY | SHMIPC_SEG_NO_RESERVE);
        err = shmipc_segment_open(name, &o, out);
        if (err != -ENOENT) /* ENOENT: it was unlinked between our two calls; try again */
            return err == 0 ? 0 : err;
    }
    return -EAGAIN;
}

int shmipc_segment_unlink(const char *name)
{
    int err = shmipc_segment_name_check(name);
    if (err)
        return err;
    return shmipc__name_unlink(name);
}

int shmipc_segment_stat(const char *name, shmipc_segment_info *info)
{
    int err = shmipc_segment_name_check(name);
    if (err)
        return err;
    if (!info)
        return -EINVAL;
    int fd = shmipc__name_open(name, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    const shmipc__seg_hdr *h = NULL;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size >= SHMIPC_SEGMENT_HEADER_SIZE) {
        h = mmap(NULL, SHMIPC_SEGMENT_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
        if (h == MAP_FAILED)
            h = NULL;
    }
    err = shmipc__seg_describe(fd, h, info);
    snprintf(info->name, sizeof info->name, "%s", name);
    info->backing = SHMIPC_BACKING_POSIX;
    if (h)
        munmap((void *)h, SHMIPC_SEGMENT_HEADER_SIZE);
    close(fd);
    return err;
}
