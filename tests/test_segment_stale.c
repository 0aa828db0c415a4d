/* SPDX-License-Identifier: MIT */
/* tests/test_segment_stale.c - a name left by a creator killed before publishing is replaced by the next
 * create (no manual cleanup), while one whose creator is still initialising it is not. */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Child: create unpublished, tell the parent, then wait to be killed. */
static pid_t spawn_unpublished_creator(const char *name)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_segment_opts o = {.size = sizeof o, .flags = SHMIPC_SEG_DEFER_READY};
        shmipc_segment *s;
        char c = shmipc_segment_create(name, 4096, &o, &s) == 0 ? 'c' : 'f';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c = 0;
    if (read(p[0], &c, 1) != 1 || c != 'c') {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    close(p[0]);
    close(p[1]);
    return pid;
}

static void stale_replaced_live_kept(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "stale");
    pid_t pid = spawn_unpublished_creator(name);
    assert_true(pid > 0);
    shmipc_segment *s = NULL;
    /* Creator alive and still initialising: the name is taken. */
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), -EEXIST);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    shmipc_segment_opts wait_short = {.size = sizeof wait_short, .ready_timeout_ms = 50};
    assert_int_equal(shmipc_segment_open(name, &wait_short, &s), -ENOTRECOVERABLE);
    /* Creator dead before publishing: the next create replaces it. */
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), 0);
    shmipc_segment *t = NULL;
    assert_int_equal(shmipc_segment_open(name, NULL, &t), 0);
    shmipc_segment_close(t);
    shmipc_segment_close(s);
    assert_int_equal(shmipc_segment_unlink(name), 0);
}

static void published_dead_creator_kept(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "pub");
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_segment *s;
        _exit(shmipc_segment_create(name, 4096, NULL, &s) ? 1 : 0); /* published, then exits */
    }
    assert_int_equal(test_wait(pid, 10000), 0);
    shmipc_segment *s = NULL;
    /* A published segment keeps its data after its creator exits: never replaced. */
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), -EEXIST);
    assert_int_equal(shmipc_segment_unlink(name), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stale_replaced_live_kept),
        cmocka_unit_test(published_dead_creator_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
