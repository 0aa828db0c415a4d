/* SPDX-License-Identifier: MIT */
/*
 * segment/memfd.c - anonymous memfd segments, sealed against shrinking so that no peer holding the
 * descriptor can truncate it under another's mapping (which would SIGBUS the other), and passing segment
 * descriptors over Unix sockets with SCM_RIGHTS.
 */
#include "segment/segment_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

int shmipc_segment_memfd_create(const char *label, size_t size, const shmipc_segment_opts *opts,
                                shmipc_segment **out)
{
    if (!out)
        return -EINVAL;
    int fd = memfd_create(label && *label ? label : "shmipc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int err = shmipc__seg_create_fd(fd, SHMIPC_BACKING_MEMFD, label, size, opts, out);
    if (err)
        return err;
    /* Seal after sizing: growing stays possible, shrinking and changing the seals do not. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        err = -errno;
        shmipc_segment_close(*out);
        *out = NULL;
    }
    return err;
}

/*
 * Is fd a memfd? POSIX shm objects live on tmpfs too and answer F_GET_SEALS (with F_SEAL_SEAL alone, which
 * can never be lifted), so the seals cannot tell them apart; the descriptor's link can: a memfd's reads
 * "/memfd:LABEL (deleted)". Without /proc, answer yes: the stricter rule then applies.
 */
static bool fd_is_memfd(int fd)
{
    char path[64], link[16];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link);
    return n < 0 || (n >= 7 && memcmp(link, "/memfd:", 7) == 0);
}

int shmipc_segment_from_fd(int fd, const shmipc_segment_opts *opts, shmipc_segment **out)
{
    if (fd < 0 || !out)
        return -EINVAL;
    shmipc_backing backing = SHMIPC_BACKING_POSIX;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals >= 0 && fd_is_memfd(fd)) {
        backing = SHMIPC_BACKING_MEMFD;
        if (!(seals & F_SEAL_SHRINK))
            return -EPERM;
    } else if (seals < 0) {
        backing = SHMIPC_BACKING_FILE; /* not on tmpfs: a regular file */
    }
    return shmipc__seg_attach_fd(fd, backing, "", opts, false, out);
}

int shmipc_segment_send_fd(int sock, const shmipc_segment *s)
{
    if (!s || sock < 0)
        return -EINVAL;
    char byte = 'S';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &s->fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

int shmipc_segment_recv_fd(int sock, const shmipc_segment_opts *opts, shmipc_segment **out)
{
    if (sock < 0 || !out)
        return -EINVAL;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE;
    int fd = -1;
    /* Take the first descriptor; close any others a peer stuffed in, so they do not leak. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
            if (fd < 0)
                fd = f;
            else
                close(f);
        }
    }
    if (fd < 0)
        return -EBADMSG;
    int err = shmipc_segment_from_fd(fd, opts, out);
    if (err)
        close(fd);
    return err;
}
