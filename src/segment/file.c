/* SPDX-License-Identifier: MIT */
/* segment/file.c - segments backed by a regular file (data persists); symbolic links are never followed. */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int shmipc_segment_file_create(const char *path, size_t size, const shmipc_segment_opts *opts,
                               shmipc_segment **out)
{
    if (!path || !*path || !out)
        return -EINVAL;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = -errno;
        struct stat st;
        /* O_EXCL reports a symbolic link (even a dangling one) as EEXIST: say what it is. */
        if (err == -EEXIST && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            err = -ELOOP;
        return err;
    }
    int err = shmipc__seg_create_fd(fd, SHMIPC_BACKING_FILE, path, size, opts, out);
    if (err)
        unlink(path);
    return err;
}

int shmipc_segment_file_open(const char *path, const shmipc_segment_opts *opts, shmipc_segment **out)
{
    if (!path || !*path || !out)
        return -EINVAL;
    bool rdonly = opts && (opts->flags & SHMIPC_SEG_RDONLY);
    int fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return shmipc__seg_attach_fd(fd, SHMIPC_BACKING_FILE, path, opts, true, out);
}
