/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue_nosyscall.c - proof that push and pop make no system call while nobody sleeps, and
 * that a push does make one (the futex wake) when a consumer sleeps. A child process runs the hot loop
 * under a seccomp filter that traps every system call of its thread (SIGSYS, counted by a handler); the
 * count lands in memory shared with the parent. Skips when seccomp filters cannot be installed.
 */
#include "helpers.h"

#include "queue/queue_internal.h"
#include <shmipc/queue.h>

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>


typedef struct shared_counts {
    _Atomic int traps;
    _Atomic int errors;
} shared_counts;

/* In a child: open the queue, then run pairs push+pop (or, if pairs == 0, one push) with every system
 * call trapped. */
static void traced_child(const char *name, shared_counts *out, int pairs)
{
    unsigned char buf[64] = {0};
    shmipc_queue *q;
    if (shmipc_queue_open(name, NULL, &q))
        test_exit_group(3);
    if (test_trap_syscalls() != 0)
        test_exit_group(2);
    int errors = 0;
    if (pairs == 0) {
        errors += shmipc_queue_push(q, buf, 8, 0) != 0;
    } else {
        for (int i = 0; i < pairs; i++) {
            errors += shmipc_queue_push(q, buf, 8 + (size_t)(i % 50), 0) != 0;
            errors += shmipc_queue_pop(q, buf, sizeof buf, 0) < 0;
        }
        /* The empty and the full queue fail without a system call too. */
        errors += shmipc_queue_pop(q, buf, sizeof buf, 0) != -EAGAIN;
    }
    atomic_store(&out->traps, test_trapped_syscalls());
    atomic_store(&out->errors, errors);
    test_exit_group(0);
}

static void no_syscall_when_nobody_sleeps(void **state)
{
    (void)state;
#ifdef SHMIPC_SANITIZER
    skip(); /* sanitizer runtimes make system calls of their own inside instrumented code */
#endif
    if (!test_seccomp_usable()) {
        print_message("seccomp filters unavailable here: skipped\n");
        skip();
    }
    char name[96];
    test_name(name, sizeof name, "nosys");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 16;
    o.slot_size = 64;
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    shared_counts *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(c != MAP_FAILED);

    /* Nobody sleeps: 100000 pairs, zero system calls. */
    atomic_store(&c->traps, -1);
    pid_t pid = fork();
    if (pid == 0)
        traced_child(name, c, 100000);
    assert_int_equal(test_wait(pid, 30000), 0);
    assert_int_equal(atomic_load(&c->errors), 0);
    assert_int_equal(atomic_load(&c->traps), 0);

    /* A consumer sleeps: the push makes the wake-up call. */
    pid_t sleeper = fork();
    if (sleeper == 0) {
        shmipc_queue *s;
        unsigned char buf[64];
        if (shmipc_queue_open(name, NULL, &s) || shmipc_queue_set_wait(s, SHMIPC_WAIT_BLOCK))
            _exit(1);
        _exit(shmipc_queue_pop(s, buf, sizeof buf, 20000) == 8 ? 0 : 2);
    }
    uint64_t t0 = test_now_ms();
    while (atomic_load(&q->hdr->not_empty.waiters) == 0 && test_now_ms() - t0 < 10000)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    atomic_store(&c->traps, -1);
    pid = fork();
    if (pid == 0)
        traced_child(name, c, 0);
    assert_int_equal(test_wait(pid, 30000), 0);
    assert_int_equal(atomic_load(&c->errors), 0);
    assert_true(atomic_load(&c->traps) >= 1);
    /* The trapped wake never reached the kernel; the sleeper finds the message at its next slice. */
    assert_int_equal(test_wait(sleeper, 30000), 0);

    munmap(c, sizeof *c);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_syscall_when_nobody_sleeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
