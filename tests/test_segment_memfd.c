/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_memfd.c - anonymous memfd segments: shared across fork, passed over a Unix socket to
 * a process that never inherited them, sealed so the receiver cannot shrink them, and the refusals on the
 * receiving side (unsealed memfd, message without a descriptor, not a segment) that leave the caller's
 * descriptor alone.
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static int memfd_or_skip(const char *label, size_t size, shmipc_segment **s)
{
    int r = shmipc_segment_memfd_create(label, size, NULL, s);
    if (r == -ENOSYS) {
        print_message("skip: no memfd_create in this kernel\n");
        skip();
    }
    return r;
}

static void across_fork(void **state)
{
    (void)state;
    shmipc_segment *s = NULL;
    assert_int_equal(memfd_or_skip("fork-test", 8192, &s), 0);
    char *p = shmipc_segment_data(s);
    strcpy(p, "parent");
    pid_t pid = fork();
    if (pid == 0) {
        int ok = strcmp(p, "parent") == 0;
        strcpy(p, "child");
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(test_wait(pid, 10000), 0);
    assert_string_equal(p, "child");

    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_info_get(s, &info), 0);
    assert_int_equal(info.backing, SHMIPC_BACKING_MEMFD);
    assert_string_equal(info.name, "fork-test");
    assert_int_equal(info.data_size, 8192);
    assert_int_equal(info.ready, 1);
    assert_int_equal(info.mode, 0600);

    int seals = fcntl(shmipc_segment_fd(s), F_GET_SEALS);
    assert_true(seals >= 0);
    assert_true(seals & F_SEAL_SHRINK);
    assert_true(seals & F_SEAL_SEAL);
    assert_false(seals & F_SEAL_GROW);
    assert_int_equal(fcntl(shmipc_segment_fd(s), F_ADD_SEALS, F_SEAL_GROW), -1); /* seals are final */
    /* Growing is still allowed. */
    assert_int_equal(shmipc_segment_grow(s, 65536), 0);
    assert_string_equal((char *)shmipc_segment_data(s), "child");
    shmipc_segment_close(s);

    s = NULL;
    assert_int_equal(shmipc_segment_memfd_create(NULL, 0, NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_memfd_create(NULL, 64, NULL, NULL), -EINVAL);
    assert_null(s);
    assert_int_equal(shmipc_segment_memfd_create(NULL, 64, NULL, &s), 0); /* no label is fine */
    shmipc_segment_close(s);
}

/* The receiver: forked before the memfd existed, so it can only have it through the socket. */
static int receiver(void *arg)
{
    int sock = *(int *)arg;
    shmipc_segment *s = NULL;
    int r = shmipc_segment_recv_fd(sock, NULL, &s);
    if (r != 0)
        return 1;
    char *p = shmipc_segment_data(s);
    if (strcmp(p, "over the socket") != 0)
        return 2;
    int fd = shmipc_segment_fd(s);
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK) || !(seals & F_SEAL_SEAL))
        return 3;
    /* The receiver cannot pull the memory from under the sender. */
    if (ftruncate(fd, 64) == 0 || errno != EPERM)
        return 4;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0)
        return 5;
    shmipc_segment_info info;
    if (shmipc_segment_info_get(s, &info) != 0 || info.backing != SHMIPC_BACKING_MEMFD)
        return 6;
    strcpy(p, "received");
    /* It may grow it, and the sender sees that through refresh. */
    if (shmipc_segment_grow(s, 1 << 16) != 0)
        return 7;
    strcpy((char *)shmipc_segment_data(s) + (1 << 16) - 16, "grown");
    shmipc_segment_close(s);
    return 0;
}

static void over_socket(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = test_fork(receiver, &sv[1]);
    shmipc_segment *s = NULL;
    assert_int_equal(memfd_or_skip("sock-test", 4096, &s), 0);
    strcpy(shmipc_segment_data(s), "over the socket");
    assert_int_equal(shmipc_segment_send_fd(sv[0], s), 0);
    assert_int_equal(test_wait(pid, 10000), 0);
    assert_string_equal((char *)shmipc_segment_data(s), "received");
    assert_int_equal(shmipc_segment_refresh(s), 1);
    assert_string_equal((char *)shmipc_segment_data(s) + (1 << 16) - 16, "grown");
    shmipc_segment_close(s);
    close(sv[0]);
    close(sv[1]);
}

/* Any segment's descriptor can be passed, not only a memfd's: a named POSIX one here. */
static void posix_over_socket(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "fdpass");
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    shmipc_segment *a = NULL, *b = NULL;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &a), 0);
    assert_int_equal(shmipc_segment_unlink(name), 0); /* the descriptor alone carries it now */
    strcpy(shmipc_segment_data(a), "named");
    assert_int_equal(shmipc_segment_send_fd(sv[0], a), 0);
    assert_int_equal(shmipc_segment_recv_fd(sv[1], NULL, &b), 0);
    assert_string_equal((char *)shmipc_segment_data(b), "named");
    shmipc_segment_close(b);
    shmipc_segment_close(a);
    close(sv[0]);
    close(sv[1]);
}

static void refusals(void **state)
{
    (void)state;
    shmipc_segment *s = NULL, *t = NULL;
    assert_int_equal(memfd_or_skip("refuse", 4096, &s), 0);

    /* An unsealed memfd holding a perfectly valid segment image: refused, fd left open. */
    int raw = memfd_create("unsealed", MFD_ALLOW_SEALING);
    assert_true(raw >= 0);
    size_t total = SHMIPC_SEGMENT_HEADER_SIZE + 4096;
    assert_int_equal(write(raw, (char *)shmipc_segment_data(s) - SHMIPC_SEGMENT_HEADER_SIZE, total),
                     (ssize_t)total);
    assert_int_equal(shmipc_segment_from_fd(raw, NULL, &t), -EPERM);
    assert_true(fd_open(raw));
    /* Sealing only against growth is not enough either. */
    assert_int_equal(fcntl(raw, F_ADD_SEALS, F_SEAL_GROW), 0);
    assert_int_equal(shmipc_segment_from_fd(raw, NULL, &t), -EPERM);
    close(raw);
    /* A memfd that cannot be sealed at all. */
    raw = memfd_create("nosealing", 0);
    assert_true(raw >= 0);
    assert_int_equal(shmipc_segment_from_fd(raw, NULL, &t), -EPERM);
    assert_true(fd_open(raw));
    close(raw);

    /* Sealed but not a segment: the header checks apply, and the fd stays the caller's. */
    raw = memfd_create("garbage", MFD_ALLOW_SEALING);
    assert_true(raw >= 0);
    unsigned char junk[4096];
    test_fill(junk, sizeof junk, 5);
    assert_int_equal(write(raw, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_int_equal(fcntl(raw, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    assert_int_equal(shmipc_segment_from_fd(raw, NULL, &t), -EBADMSG);
    assert_true(fd_open(raw));
    close(raw);

    /* A sealed, valid image is accepted, and the handle takes the descriptor. */
    raw = memfd_create("valid", MFD_ALLOW_SEALING);
    assert_true(raw >= 0);
    assert_int_equal(write(raw, (char *)shmipc_segment_data(s) - SHMIPC_SEGMENT_HEADER_SIZE, total),
                     (ssize_t)total);
    assert_int_equal(fcntl(raw, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    assert_int_equal(shmipc_segment_from_fd(raw, NULL, &t), 0);
    assert_int_equal(shmipc_segment_fd(t), raw);
    shmipc_segment_close(t);
    assert_false(fd_open(raw));
    t = NULL;

    /* Type and flag checks apply to from_fd too. */
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.type = SHMIPC_TYPE_QUEUE;
    assert_int_equal(shmipc_segment_from_fd(shmipc_segment_fd(s), &o, &t), -EPROTOTYPE);
    assert_true(fd_open(shmipc_segment_fd(s)));
    assert_int_equal(shmipc_segment_from_fd(-1, NULL, &t), -EINVAL);

    /* A message without a descriptor. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], "S", 1), 1);
    assert_int_equal(shmipc_segment_recv_fd(sv[1], NULL, &t), -EBADMSG);
    /* A descriptor that is not a segment arrives, is refused and does not leak. */
    assert_int_equal(shmipc_segment_send_fd(sv[0], s), 0);
    o.type = SHMIPC_TYPE_QUEUE;
    assert_int_equal(shmipc_segment_recv_fd(sv[1], &o, &t), -EPROTOTYPE);
    /* The peer hung up. */
    close(sv[0]);
    assert_int_equal(shmipc_segment_recv_fd(sv[1], NULL, &t), -EPIPE);
    close(sv[1]);
    assert_int_equal(shmipc_segment_send_fd(-1, s), -EINVAL);
    assert_int_equal(shmipc_segment_send_fd(sv[0], NULL), -EINVAL);
    assert_null(t);
    shmipc_segment_close(s);
}

/* Counting descriptors proves the failed receives above closed what they got. */
static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fd_open(fd);
    return n;
}

static void no_fd_leak(void **state)
{
    int before = count_fds();
    refusals(state);
    assert_int_equal(count_fds(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(across_fork),
        cmocka_unit_test(over_socket),
        cmocka_unit_test(posix_over_socket),
        cmocka_unit_test(refusals),
        cmocka_unit_test(no_fd_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
