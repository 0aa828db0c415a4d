/* SPDX-License-Identifier: MIT */
/*
 * tests/test_pubsub_nosyscall.c - proof that loan, publish, receive and release make no system call
 * while nobody sleeps. A child runs the hot loop under a seccomp filter that traps every system call of
 * its thread (SIGSYS, counted by a handler); the count lands in memory shared with the parent. Skips
 * when seccomp filters cannot be installed, and under sanitizers (their runtimes make system calls).
 */
#include "helpers.h"
#include "pubsub/pubsub_internal.h"

#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>


typedef struct shared_counts {
    _Atomic int traps;
    _Atomic int errors;
} shared_counts;

static void traced_child(const char *name, shared_counts *out, int rounds)
{
    shmipc_pubsub_publisher *pub;
    shmipc_pubsub_subscriber *a, *b;
    if (shmipc_pubsub_publisher_open(name, NULL, &pub) || shmipc_pubsub_subscriber_open(name, NULL, &a) ||
        shmipc_pubsub_subscriber_open(name, NULL, &b))
        test_exit_group(3);
    int probe = test_trap_syscalls();
    if (probe == -ENOSYS || probe == -EINVAL || probe == -EACCES || probe == -EPERM)
        test_exit_group(TEST_SKIP_RC);
    if (probe)
        test_exit_group(2);
    int errors = 0;
    unsigned char buf[128];
    for (int i = 0; i < rounds; i++) {
        void *p;
        shmipc_pubsub_sample s;
        errors += shmipc_pubsub_publisher_loan(pub, 0, &p) != 0;
        memset(p, i, 128);
        errors += shmipc_pubsub_publisher_publish(pub, p, 0) != 2;
        errors += shmipc_pubsub_subscriber_receive(a, &s, 0) != 0;
        errors += shmipc_pubsub_subscriber_release(a, &s) != 0;
        errors += shmipc_pubsub_subscriber_receive_copy(b, buf, sizeof buf, 0, NULL) != 128;
        errors += shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf) != 2;
        errors += shmipc_pubsub_subscriber_receive_copy(a, buf, sizeof buf, 0, NULL) != 128;
        errors += shmipc_pubsub_subscriber_receive_copy(b, buf, sizeof buf, 0, NULL) != 128;
    }
    errors += shmipc_pubsub_subscriber_receive(a, &(shmipc_pubsub_sample){0}, 0) != -EAGAIN;
    atomic_store(&out->traps, test_trapped_syscalls());
    atomic_store(&out->errors, errors);
    test_exit_group(0);
}

static void no_syscall_when_nobody_sleeps(void **state)
{
    (void)state;
#ifdef SHMIPC_SANITIZER
    skip();
#endif
    char name[64];
    snprintf(name, sizeof name, "ns%d", (int)getpid());
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 128;
    o.history = 2;
    o.depth = 4;
    shmipc_pubsub_publisher *owner;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &owner), 0);
    shared_counts *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(c != MAP_FAILED);
    atomic_store(&c->traps, -1);
    pid_t pid = fork();
    if (pid == 0)
        traced_child(name, c, 20000);
    int st = test_wait(pid, 30000);
    int errors = atomic_load(&c->errors), traps = atomic_load(&c->traps);
    munmap(c, sizeof *c);
    shmipc_pubsub_publisher_close(owner);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, NULL);
    if (st == TEST_SKIP_RC) {
        print_message("seccomp filters unavailable here: skipped\n");
        skip();
    }
    assert_int_equal(st, 0);
    assert_int_equal(errors, 0);
    assert_int_equal(traps, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_syscall_when_nobody_sleeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
