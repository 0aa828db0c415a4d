/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_common.c - the common-layer calls the segment layer rests on: error strings,
 * the version string, and process identity (pid + start time) with its liveness check, which must call
 * a zombie, a reaped process and a reused pid dead.
 */
#include "helpers.h"

#include <shmipc/common.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void strerror_codes(void **state)
{
    (void)state;
    static const int codes[] = {EBADMSG, EPROTO, EPROTOTYPE, EPIPE, ENOTRECOVERABLE, EOWNERDEAD,
                                ENOENT,  EEXIST, EACCES,     EPERM, ETIMEDOUT,       ENOSPC, EINVAL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *neg = shmipc_strerror(-codes[i]);
        const char *pos = shmipc_strerror(codes[i]);
        assert_non_null(neg);
        assert_true(neg[0] != '\0');
        assert_string_equal(neg, pos); /* the sign does not matter */
    }
    /* Plain errno codes read as libc reads them; shmipc's own meanings where libc's would mislead. */
    assert_string_equal(shmipc_strerror(-ENOENT), strerror(ENOENT));
    assert_string_not_equal(shmipc_strerror(-EBADMSG), strerror(EBADMSG));
    assert_string_equal(shmipc_strerror(0), "Success");
    /* Unknown codes: never NULL. */
    static const int unknown[] = {4095, -4095, 100000, -100000, 2147483647, -2147483647};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = shmipc_strerror(unknown[i]);
        assert_non_null(s);
        assert_true(s[0] != '\0');
    }
    /* The text is static: a later call for another code does not change it. */
    const char *a = shmipc_strerror(4095);
    char copy[128];
    snprintf(copy, sizeof copy, "%s", a);
    (void)shmipc_strerror(4094);
    (void)strerror(4093);
    assert_string_equal(a, copy);
    assert_non_null(shmipc_strerror(-2147483647 - 1)); /* INT_MIN has no positive counterpart */
}

static void version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", SHMIPC_VERSION_MAJOR, SHMIPC_VERSION_MINOR, SHMIPC_VERSION_PATCH);
    assert_string_equal(shmipc_version(), want);
}

static void self(void **state)
{
    (void)state;
    shmipc_proc_id me, again;
    assert_int_equal(shmipc_proc_self(&me), 0);
    assert_int_equal(me.pid, getpid());
    assert_int_not_equal(me.start_time, 0);
    assert_int_equal(me.reserved, 0);
    assert_int_equal(shmipc_proc_self(&again), 0);
    assert_int_equal(again.start_time, me.start_time); /* stable */
    assert_int_equal(shmipc_proc_alive(&me), 1);
    assert_int_equal(shmipc_proc_self(NULL), -EINVAL);

    shmipc_proc_id wrong = me;
    wrong.start_time += 1; /* same pid, another process's start: the pid was reused */
    assert_int_equal(shmipc_proc_alive(&wrong), 0);
    wrong.start_time = me.start_time - 1;
    assert_int_equal(shmipc_proc_alive(&wrong), 0);
    wrong = (shmipc_proc_id){.pid = 0, .start_time = me.start_time};
    assert_int_equal(shmipc_proc_alive(&wrong), 0);
    wrong.pid = -1;
    assert_int_equal(shmipc_proc_alive(&wrong), 0);
    wrong.pid = 0x7fffffff; /* beyond any pid_max */
    assert_int_equal(shmipc_proc_alive(&wrong), 0);
    assert_int_equal(shmipc_proc_alive(NULL), 0);
}

/* A child that reports its identity through a pipe, then exits when told to. */
static pid_t identified_child(shmipc_proc_id *id, int *release_fd)
{
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        shmipc_proc_id me;
        char c;
        if (shmipc_proc_self(&me) != 0 || write(up[1], &me, sizeof me) != sizeof me)
            _exit(1);
        _exit(read(down[0], &c, 1) >= 0 ? 0 : 2);
    }
    close(up[1]);
    close(down[0]);
    assert_int_equal(read(up[0], id, sizeof *id), (ssize_t)sizeof *id);
    close(up[0]);
    *release_fd = down[1];
    return pid;
}

static void child_lifecycle(void **state)
{
    (void)state;
    shmipc_proc_id id;
    int release;
    pid_t pid = identified_child(&id, &release);
    assert_int_equal(id.pid, pid);
    assert_int_equal(shmipc_proc_alive(&id), 1);
    shmipc_proc_id unknown_start = {.pid = pid};
    assert_int_equal(shmipc_proc_alive(&unknown_start), 1); /* start 0: any process with that pid */

    close(release); /* let it exit */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* Wait for the exit without reaping: the child is a zombie now. */
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(si.si_pid, pid);
    assert_int_equal(shmipc_proc_alive(&id), 0);
    assert_int_equal(shmipc_proc_alive(&unknown_start), 0); /* a zombie is dead, whatever its start */

    assert_int_equal(test_wait(pid, 10000), 0); /* reap */
    assert_int_equal(shmipc_proc_alive(&id), 0);
    assert_int_equal(shmipc_proc_alive(&unknown_start), 0);
}

static void killed_child(void **state)
{
    (void)state;
    shmipc_proc_id id;
    int release;
    pid_t pid = identified_child(&id, &release);
    assert_int_equal(kill(pid, SIGKILL), 0);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(shmipc_proc_alive(&id), 0);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(shmipc_proc_alive(&id), 0);
    close(release);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_codes),
        cmocka_unit_test(version),
        cmocka_unit_test(self),
        cmocka_unit_test(child_lifecycle),
        cmocka_unit_test(killed_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
