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

struct creator {
    const char *name;
    int ready_fd;   /* write end: one byte once the segment exists (unpublished) */
    int publish_ms; /* publish after this long; negative: never (wait to be killed) */
};

static void sleep_ms(int ms) { nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}, NULL); }

static int deferred_creator(void *arg)
{
    struct creator *c = arg;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_DEFER_READY;
    shmipc_segment *s = NULL;
    if (shmipc_segment_create(c->name, 4096, &o, &s) != 0)
        return 1;
    if (write(c->ready_fd, "c", 1) != 1)
        return 2;
    if (c->publish_ms < 0) {
        for (;;)
            pause();
    }
    sleep_ms(c->publish_ms);
    /* Everything written before publish must be visible to an opener that saw it ready. */
    strcpy(shmipc_segment_data(s), "initialised");
    if (shmipc_segment_publish(s) != 0)
        return 3;
    shmipc_segment_close(s);
    return 0;
}

static pid_t start_creator(const char *name, int publish_ms)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct creator c = {.name = name, .ready_fd = p[1], .publish_ms = publish_ms};
    pid_t pid = test_fork(deferred_creator, &c);
    close(p[1]);
    char b;
    assert_int_equal(read(p[0], &b, 1), 1); /* the segment now exists, unpublished */
    close(p[0]);
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
    pid_t pid = start_creator(name, 200);
    shmipc_segment *s = NULL;
    uint64_t t0 = test_now_ms();
    assert_int_equal(open_with_timeout(name, 30000, &s), 0);
    assert_true(test_now_ms() - t0 >= 150); /* it really waited for the publish */
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
    pid_t pid = start_creator(name, 2000);
    shmipc_segment *s = NULL;
    uint64_t t0 = test_now_ms();
    assert_int_equal(open_with_timeout(name, 20, &s), -ETIMEDOUT);
    uint64_t dt = test_now_ms() - t0;
    assert_true(dt >= 15 && dt < 10000); /* generous: the machine may be loaded */
    assert_null(s);
    assert_int_equal(open_with_timeout(name, -1, &s), -ETIMEDOUT); /* negative: do not wait */
    /* The segment is fine once published: a later open succeeds. */
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
    pid_t pid = start_creator(name, -1);
    pid_t killer = fork();
    if (killer == 0) {
        sleep_ms(100);
        kill(pid, SIGKILL);
        _exit(0);
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
    pid = start_creator(name, -1);
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
