/* SPDX-License-Identifier: MIT */
/*
 * segment/names.c - where named segments live: POSIX shared memory (shm_open in /dev/shm, the default)
 * or a directory chosen with shmipc_segment_set_dir() or the SHMIPC_DIR environment variable, whose files are
 * mapped the same way. /dev/shm is writable by everyone, so another user can take a name first (a file,
 * a FIFO, a link) and the owner's create fails; a directory only its user (or group) can write closes
 * that hole. The directory is checked once, when it is chosen, and then held open, so names are resolved
 * relative to the very directory that was checked (openat), never through a path that could be swapped.
 */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;
static bool dir_chosen;    /* set_dir or the environment was consulted */
static int dir_fd = -1;    /* -1: POSIX shared memory */
static char dir_path[SHMIPC_DIR_MAX + 1];
static int dir_error;      /* a bad SHMIPC_DIR: every named operation fails with it */

/* Open and check a directory: a directory (not a link to one), owned by us or root, not writable by
 * others. Group write is the administrator's choice (a group of trusted users). */
static int dir_open_checked(const char *path, int *fd_out)
{
    if (!path || path[0] != '/' || strlen(path) > SHMIPC_DIR_MAX)
        return path && path[0] == '/' ? -ENAMETOOLONG : -EINVAL;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat lst; /* with O_DIRECTORY, Linux reports a link as ENOTDIR: say what it is */
        return e == ENOTDIR && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) ? -ELOOP : -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & S_IWOTH)) {
        close(fd);
        return -EPERM;
    }
    *fd_out = fd;
    return 0;
}

static void dir_from_env_locked(void)
{
    if (dir_chosen)
        return;
    dir_chosen = true;
    const char *env = getenv("SHMIPC_DIR");
    if (!env || !*env)
        return;
    int fd = -1;
    dir_error = dir_open_checked(env, &fd);
    if (dir_error == 0) {
        dir_fd = fd;
        snprintf(dir_path, sizeof dir_path, "%s", env);
    }
}

int shmipc_segment_set_dir(const char *path)
{
    int fd = -1, err = 0;
    if (path && *path) {
        err = dir_open_checked(path, &fd);
        if (err)
            return err;
    }
    pthread_mutex_lock(&dir_lock);
    if (dir_fd >= 0)
        close(dir_fd);
    dir_fd = fd;
    dir_error = 0;
    dir_chosen = true;
    snprintf(dir_path, sizeof dir_path, "%s", fd >= 0 ? path : "");
    pthread_mutex_unlock(&dir_lock);
    return 0;
}

const char *shmipc_segment_get_dir(void)
{
    pthread_mutex_lock(&dir_lock);
    dir_from_env_locked();
    const char *p = dir_fd >= 0 ? dir_path : "/dev/shm";
    pthread_mutex_unlock(&dir_lock);
    return p;
}

/* The directory descriptor to resolve names in (-1 for shm_open), or a negative error: a dup, so a
 * concurrent shmipc_segment_set_dir cannot close it under the caller. *dfd = -1 means POSIX shm. */
static int dir_get(int *dfd)
{
    pthread_mutex_lock(&dir_lock);
    dir_from_env_locked();
    int err = dir_error;
    *dfd = -1;
    if (!err && dir_fd >= 0) {
        *dfd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
        if (*dfd < 0)
            err = -errno;
    }
    pthread_mutex_unlock(&dir_lock);
    return err;
}

int shmipc__name_open(const char *name, int flags, mode_t mode)
{
    int dfd;
    int err = dir_get(&dfd);
    if (err)
        return err;
    int fd;
    if (dfd < 0) {
        fd = shm_open(name, flags | O_CLOEXEC, mode);
    } else {
        /* O_NOFOLLOW: a link planted under the name (by ourselves, since nobody else can write here) is
         * refused like in /dev/shm, where shm_open does the same. */
        fd = openat(dfd, name + 1, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    }
    int e = errno;
    if (dfd >= 0)
        close(dfd);
    /* Creating in POSIX shared memory fails with ENOENT only when /dev/shm itself is missing (a board
     * or container without it): say so, rather than "no such file" for a name being created. */
    struct stat st;
    if (fd < 0 && e == ENOENT && dfd < 0 && (flags & O_CREAT) && stat("/dev/shm", &st) < 0 && errno == ENOENT)
        return -ENODEV;
    return fd < 0 ? -e : fd;
}

int shmipc__name_unlink(const char *name)
{
    int dfd;
    int err = dir_get(&dfd);
    if (err)
        return err;
    int r = dfd < 0 ? shm_unlink(name) : unlinkat(dfd, name + 1, 0);
    int e = errno;
    if (dfd >= 0)
        close(dfd);
    return r < 0 ? -e : 0;
}

int shmipc__name_stat(const char *name, struct stat *st)
{
    int dfd;
    int err = dir_get(&dfd);
    if (err)
        return err;
    int r;
    if (dfd < 0) {
        char path[SHMIPC_NAME_MAX + 16];
        snprintf(path, sizeof path, "/dev/shm%s", name);
        r = lstat(path, st);
    } else {
        r = fstatat(dfd, name + 1, st, AT_SYMLINK_NOFOLLOW);
    }
    int e = errno;
    if (dfd >= 0)
        close(dfd);
    return r < 0 ? -e : 0;
}

int shmipc__name_opendir(DIR **out)
{
    int dfd;
    int err = dir_get(&dfd);
    if (err)
        return err;
    DIR *d = dfd < 0 ? opendir("/dev/shm") : fdopendir(dfd);
    if (!d) {
        err = -errno;
        if (dfd >= 0)
            close(dfd);
        return err;
    }
    *out = d;
    return 0;
}
