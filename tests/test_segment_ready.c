/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_ready.c - the ready protocol between a creator still initialising a segment
 * (SHMIPC_SEG_DEFER_READY) and openers: they wait for shmipc_segment_publish, time out when told to, and
 * learn promptly (well before their timeout) that a creator died before publishing.
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum publish_when {
    PUBLISH_NEVER,         /* wait to be killed */
    PUBLISH_ONCE_WAITED,   /* once the parent (the opener) sleeps in its wait for the publish */
    PUBLISH_ON_GO,         /* once the parent sends a byte through go_fd */
};

struct creator {
    const char *name;
    int ready_fd; /* write end: one byte once the segment exists (unpublished) */
    int go_fd;    /* read end, for PUBLISH_ON_GO */
    enum publish_when when;
};

static int deferred_creator(void *arg)
{
    struct creator *c = arg;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_DEFER_READY;
    shmipc_segment *s = NULL;
    if (shmipc_segment_create(c->name, 4096, &o, &s) != 0)
        return 1;
    if (test_signal(c->ready_fd))
        return 2;
    if (c->when == PUBLISH_NEVER) {
        for (;;)
            pause();
    }
    if (c->when == PUBLISH_ONCE_WAITED ? test_until_futex_wait(getppid(), 20000) : test_await(c->go_fd, 20000))
        return 4;
    /* Everything written before publish must be visible to an opener that saw it ready. */
    strcpy(shmipc_segment_data(s), "initialised");
    if (shmipc_segment_publish(s) != 0)
        return 3;
    shmipc_segment_close(s);
    return 0;
}

/* Start a creator; returns once the segment exists, unpublished. *go (if given) is the write end of the
 * creator's go pipe (PUBLISH_ON_GO); the caller closes it. */
static pid_t start_creator(const char *name, enum publish_when when, int *go)
{
    int p[2], g[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(g), 0);
    struct creator c = {.name = name, .ready_fd = p[1], .go_fd = g[0], .when = when};
    pid_t pid = test_fork(deferred_creator, &c);
    close(p[1]);
    close(g[0]);
    assert_int_equal(test_await(p[0], 20000), 0); /* the segment now exists, unpublished */
    close(p[0]);
    if (go)
        *go = g[1];
    else
        close(g[1]);
    return pid;
}

static int open_with_timeout(const char *name, int timeout_ms, shmipc_segment **s)
{
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.ready_timeout_ms = timeout_ms;
    return shmipc_segment_open(name, &o, s);
}

static void waits_for_publish(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "ready");
    pid_t pid = start_creator(name, PUBLISH_ONCE_WAITED, NULL);
    shmipc_segment *s = NULL;
    /* The creator publishes only once this open sleeps in its wait: it really waited for the publish. */
    assert_int_equal(open_with_timeout(name, 30000, &s), 0);
    assert_string_equal((char *)shmipc_segment_data(s), "initialised");
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_info_get(s, &info), 0);
    assert_int_equal(info.ready, 1);
    shmipc_segment_close(s);
    assert_int_equal(test_wait(pid, 10000), 0);
    shmipc_segment_unlink(name);
}

static void times_out(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "ready");
    int go;
    pid_t pid = start_creator(name, PUBLISH_ON_GO, &go);
    shmipc_segment *s = NULL;
    uint64_t t0 = test_now_ms();
    assert_int_equal(open_with_timeout(name, 20, &s), -ETIMEDOUT);
    uint64_t dt = test_now_ms() - t0;
    assert_true(dt >= 15 && dt < 10000); /* generous: the machine may be loaded */
    assert_null(s);
    assert_int_equal(open_with_timeout(name, -1, &s), -ETIMEDOUT); /* negative: do not wait */
    /* The segment is fine once published: a later open succeeds. */
    assert_int_equal(test_signal(go), 0);
    close(go);
    assert_int_equal(open_with_timeout(name, 30000, &s), 0);
    shmipc_segment_close(s);
    assert_int_equal(test_wait(pid, 10000), 0);
    shmipc_segment_unlink(name);
}

static void creator_killed(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "ready");
    shmipc_segment *s = NULL;

    /* Killed while an opener is already waiting. */
    pid_t pid = start_creator(name, PUBLISH_NEVER, NULL);
    pid_t me = getpid();
    pid_t killer = fork();
    if (killer == 0) {
        int r = test_until_futex_wait(me, 20000); /* the opener sleeps in its wait for the publish */
        kill(pid, SIGKILL);
        _exit(r ? 1 : 0);
    }
    uint64_t t0 = test_now_ms();
    assert_int_equal(open_with_timeout(name, 30000, &s), -ENOTRECOVERABLE);
    assert_true(test_now_ms() - t0 < 15000); /* far less than its 30 s timeout */
    assert_int_equal(test_wait(killer, 10000), 0);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    /* And when the creator is already dead (and reaped) before the open starts. */
    t0 = test_now_ms();
    assert_int_equal(open_with_timeout(name, 30000, &s), -ENOTRECOVERABLE);
    assert_true(test_now_ms() - t0 < 15000);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), 0);
    assert_int_equal(info.ready, 0);
    assert_int_equal(info.creator_alive, 0);
    assert_null(s);
    shmipc_segment_unlink(name);

    /* open_or_create replaces a corpse (never published, creator dead): no manual cleanup needed. */
    pid = start_creator(name, PUBLISH_NEVER, NULL);
    kill(pid, SIGKILL);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(shmipc_segment_open_or_create(name, 64, NULL, &s), 1);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waits_for_publish),
        cmocka_unit_test(times_out),
        cmocka_unit_test(creator_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
