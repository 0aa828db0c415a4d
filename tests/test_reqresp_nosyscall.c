/* SPDX-License-Identifier: MIT */
/*
 * tests/test_reqresp_nosyscall.c - proof that request/response makes no system call while nobody sleeps
 * (client send, server receive, respond, client receive, streamed responses, the full and empty rings),
 * and that a send does make one (the futex wake) when the server sleeps. A child process runs the hot
 * loops under a seccomp filter that traps every system call of the filtered thread (SIGSYS, counted by
 * a handler); the counts land in memory shared with the parent. Two loops: a client thread streaming
 * requests to a server thread of the same process, both busy-polling (timeout 0, spin mode), and one
 * thread that plays both ends. Skips when seccomp filters cannot be installed, and under sanitizers
 * (their runtimes make system calls).
 */
#include "helpers.h"

#include <shmipc/reqresp.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEPTH 64
#define STREAM_N 20000 /* requests the client thread streams */
#define PAIRS 20000    /* round trips of the single-thread loop */
#define MSG 64

/* Skip (with the reason) where the proof cannot be made: under sanitizers, whose runtimes make system
 * calls of their own inside instrumented code, and where seccomp filters cannot be installed. */
static bool proof_possible(void)
{
#ifdef SHMIPC_SANITIZER
    print_message("sanitizer build: skipped\n");
    return false;
#else
    if (!test_seccomp_usable()) {
        print_message("seccomp filters unavailable here: skipped\n");
        return false;
    }
    return true;
#endif
}

typedef struct shared_counts {
    _Atomic int traps;   /* system calls trapped in the filtered thread(s); -1 until the child reports */
    _Atomic int traps1;  /* busy_child: those of the one-thread loop alone */
    _Atomic int errors;  /* calls that did not return what they must */
    _Atomic int release; /* the parent lets the sender of the sleeper case exit */
} shared_counts;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Request i: its number, then a pattern derived from it. */
static void make_request(unsigned char *buf, uint64_t i)
{
    memcpy(buf, &i, sizeof i);
    test_fill(buf + sizeof i, MSG - sizeof i, i);
}

static int request_ok(const unsigned char *buf, int len, uint64_t want)
{
    uint64_t i;
    if (len != MSG)
        return 0;
    memcpy(&i, buf, sizeof i);
    return i == want && test_check(buf + sizeof i, MSG - sizeof i, i) == 0;
}

typedef struct end_arg {
    shmipc_reqresp_server *srv;
    shmipc_reqresp_client *cli;
    int errors;
    int trap_err;
    _Atomic int done; /* the work is over (errors is final) */
} end_arg;

/* The work is over: say so, and end the thread without the C library (test_exit_thread). */
static void *finish(end_arg *a)
{
    atomic_store(&a->done, 1);
    test_exit_thread();
}

static int both_done(void *p)
{
    end_arg *const *a = p;
    return atomic_load(&a[0]->done) && atomic_load(&a[1]->done);
}

/* The server thread: busy-polls for STREAM_N requests and echoes each; every 8th is answered with two
 * responses (the first with SHMIPC_RR_MORE). A full response ring is polled too. */
static void *server_thread(void *p)
{
    end_arg *a = p;
    if ((a->trap_err = test_trap_syscalls()) != 0)
        return finish(a);
    unsigned char buf[MSG];
    for (uint64_t n = 0; n < STREAM_N;) {
        shmipc_reqresp_request_info ri;
        int len = shmipc_reqresp_server_receive(a->srv, &ri, buf, sizeof buf, 0);
        if (len == -EAGAIN) {
            cpu_relax();
            continue;
        }
        a->errors += !request_ok(buf, len, n);
        for (int part = ri.id % 8 == 0 ? 0 : 1; part < 2; part++) {
            int r;
            while ((r = shmipc_reqresp_server_respond(a->srv, &ri, buf, MSG, part ? 0 : SHMIPC_RR_MORE, 0)) ==
                   -EAGAIN)
                cpu_relax();
            a->errors += r != 0;
        }
        n++;
    }
    return finish(a);
}

/* The client thread: keeps the request ring as full as it can and takes the responses in order. */
static void *client_thread(void *p)
{
    end_arg *a = p;
    if ((a->trap_err = test_trap_syscalls()) != 0)
        return finish(a);
    unsigned char buf[MSG];
    uint64_t sent = 0, answered = 0;
    bool got_more = false; /* the first of a request's two responses came */
    while (answered < STREAM_N) {
        while (sent < STREAM_N) {
            make_request(buf, sent);
            uint64_t id;
            int r = shmipc_reqresp_client_send(a->cli, buf, MSG, &id, 0);
            if (r == -EAGAIN)
                break; /* depth requests in flight */
            a->errors += r != 0 || id != sent + 1;
            sent++;
        }
        shmipc_reqresp_response_info info;
        int len = shmipc_reqresp_client_receive(a->cli, &info, buf, sizeof buf, 0);
        if (len == -EAGAIN) {
            cpu_relax();
            continue;
        }
        /* ids count from 1; request number id - 1 is in the payload */
        a->errors += info.id != answered + 1 || !request_ok(buf, len, answered);
        bool stream = info.id % 8 == 0; /* the server streams two answers to ids 8, 16, ... */
        a->errors += info.flags != (stream && !got_more ? SHMIPC_RR_MORE : 0u);
        got_more = info.flags == SHMIPC_RR_MORE;
        if (!got_more)
            answered++;
    }
    return finish(a);
}

/* One thread, both ends: send, receive, respond (a stream of two now and then), receive; then the empty
 * and the full rings refuse without a system call too. */
static int one_thread(shmipc_reqresp_server *srv, shmipc_reqresp_client *cli)
{
    int errors = 0;
    unsigned char buf[MSG], got[MSG];
    for (uint64_t i = 0; i < PAIRS; i++) {
        make_request(buf, i);
        uint64_t id;
        shmipc_reqresp_request_info ri;
        shmipc_reqresp_response_info info;
        errors += shmipc_reqresp_client_send(cli, buf, MSG, &id, 0) != 0;
        errors += !request_ok(got, shmipc_reqresp_server_receive(srv, &ri, got, sizeof got, 0), i);
        errors += ri.id != id;
        if (i % 16 == 0)
            errors += shmipc_reqresp_server_respond(srv, &ri, got, MSG, SHMIPC_RR_MORE, 0) != 0;
        errors += shmipc_reqresp_server_respond(srv, &ri, got, MSG, 0, 0) != 0;
        if (i % 16 == 0) {
            errors += !request_ok(buf, shmipc_reqresp_client_receive(cli, &info, buf, sizeof buf, 0), i);
            errors += info.id != id || info.flags != SHMIPC_RR_MORE;
        }
        errors += !request_ok(buf, shmipc_reqresp_client_receive(cli, &info, buf, sizeof buf, 0), i);
        errors += info.id != id || info.flags != 0;
    }
    shmipc_reqresp_request_info ri;
    errors += shmipc_reqresp_server_receive(srv, &ri, buf, sizeof buf, 0) != -EAGAIN;
    errors += shmipc_reqresp_client_receive(cli, NULL, buf, sizeof buf, 0) != -EAGAIN;
    for (int i = 0; i < DEPTH; i++)
        errors += shmipc_reqresp_client_send(cli, buf, MSG, NULL, 0) != 0;
    errors += shmipc_reqresp_client_send(cli, buf, MSG, NULL, 0) != -EAGAIN;
    errors += shmipc_reqresp_server_receive(srv, &ri, buf, sizeof buf, 0) != MSG;
    for (int i = 0; i < DEPTH; i++)
        errors += shmipc_reqresp_server_respond(srv, &ri, buf, MSG, SHMIPC_RR_MORE, 0) != 0;
    errors += shmipc_reqresp_server_respond(srv, &ri, buf, MSG, 0, 0) != -EAGAIN;
    return errors;
}

static void busy_child(const char *name, shared_counts *out)
{
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.wait_mode = SHMIPC_WAIT_SPIN;
    shmipc_reqresp_server *srv;
    shmipc_reqresp_client *cli, *cli1;
    if (shmipc_reqresp_server_create(name, &o, &srv) || shmipc_reqresp_client_open(name, &o, &cli) ||
        shmipc_reqresp_client_open(name, &o, &cli1))
        test_exit_group(3);
    end_arg sa = {.srv = srv}, ca = {.cli = cli};
    pthread_t st, ct;
    if (pthread_create(&st, NULL, server_thread, &sa) || pthread_create(&ct, NULL, client_thread, &ca))
        test_exit_group(4);
    /* The two threads' traps, once both are done (they end without the C library: no exit system call
     * is counted; this thread is not filtered yet). */
    end_arg *both[2] = {&sa, &ca};
    if (test_until(both_done, both, 100000))
        test_exit_group(5);
    int traps = test_trapped_syscalls();
    if (sa.trap_err || ca.trap_err)
        test_exit_group(2);
    int errors = sa.errors + ca.errors;
    int base = test_trapped_syscalls();
    if (test_trap_syscalls() != 0)
        test_exit_group(2);
    errors += one_thread(srv, cli1);
    atomic_store(&out->traps1, test_trapped_syscalls() - base);
    atomic_store(&out->traps, traps);
    atomic_store(&out->errors, errors);
    test_exit_group(0);
}

static void no_syscall_when_nobody_sleeps(void **state)
{
    (void)state;
    if (!proof_possible())
        skip();
    char name[64];
    snprintf(name, sizeof name, "rns%d", (int)getpid());
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.depth = DEPTH;
    o.max_request = MSG;
    o.max_clients = 4;
    shmipc_reqresp_server *srv;
    shmipc_reqresp_client *hold;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &srv), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &hold), 0); /* keeps the service in use */
    shmipc_reqresp_server_close(srv);                                    /* the child serves */
    shared_counts *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(c != MAP_FAILED);
    atomic_store(&c->traps, -1);
    pid_t pid = fork();
    if (pid == 0)
        busy_child(name, c);
    assert_int_equal(test_wait(pid, 120000), 0);
    print_message("%d requests streamed between two busy-polling threads: %d system calls\n", STREAM_N,
                  atomic_load(&c->traps));
    print_message("%d round trips in one thread, then the empty and full rings: %d system calls\n", PAIRS,
                  atomic_load(&c->traps1));
    assert_int_equal(atomic_load(&c->errors), 0);
    assert_int_equal(atomic_load(&c->traps), 0);
    assert_int_equal(atomic_load(&c->traps1), 0);
    munmap(c, sizeof *c);
    shmipc_reqresp_client_close(hold);
    assert_int_equal(shmipc_reqresp_unlink(name), 0);
}

/* In a child: send one request with every system call trapped, report, then spin (no system call) until
 * the parent releases it: a client that exited would be reclaimed and its request dropped. */
static void sending_child(const char *name, shared_counts *out)
{
    shmipc_reqresp_client *cli;
    if (shmipc_reqresp_client_open(name, NULL, &cli))
        test_exit_group(3);
    if (test_trap_syscalls() != 0)
        test_exit_group(2);
    unsigned char buf[MSG];
    make_request(buf, 7);
    int errors = shmipc_reqresp_client_send(cli, buf, MSG, NULL, 0) != 0;
    atomic_store(&out->traps, test_trapped_syscalls());
    atomic_store(&out->errors, errors);
    while (!atomic_load(&out->release))
        cpu_relax();
    test_exit_group(0);
}

static int sleeping_server(void *arg)
{
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.wait_mode = SHMIPC_WAIT_BLOCK;
    shmipc_reqresp_server *srv;
    if (shmipc_reqresp_server_create(arg, &o, &srv))
        return 1;
    unsigned char buf[MSG];
    shmipc_reqresp_request_info ri;
    int len = shmipc_reqresp_server_receive(srv, &ri, buf, sizeof buf, 30000);
    shmipc_reqresp_server_close(srv);
    return request_ok(buf, len, 7) ? 0 : 2;
}

/* The control: the filter does see the wake-up a send owes a sleeping server. */
static void syscall_when_server_sleeps(void **state)
{
    (void)state;
    if (!proof_possible())
        skip();
    char name[64];
    snprintf(name, sizeof name, "rnw%d", (int)getpid());
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.max_request = MSG;
    shmipc_reqresp_server *srv;
    shmipc_reqresp_client *hold;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &srv), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &hold), 0);
    shmipc_reqresp_server_close(srv);
    pid_t sleeper = test_fork(sleeping_server, name);
    assert_int_equal(test_until_futex_wait(sleeper, 30000), 0); /* asleep inside the receive */
    shared_counts *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(c != MAP_FAILED);
    atomic_store(&c->traps, -1);
    pid_t pid = fork();
    if (pid == 0)
        sending_child(name, c);
    /* The trapped wake never reached the kernel; the server finds the request at its next slice. */
    assert_int_equal(test_wait(sleeper, 30000), 0);
    atomic_store(&c->release, 1);
    assert_int_equal(test_wait(pid, 30000), 0);
    assert_int_equal(atomic_load(&c->errors), 0);
    assert_true(atomic_load(&c->traps) >= 1);
    munmap(c, sizeof *c);
    shmipc_reqresp_client_close(hold);
    assert_int_equal(shmipc_reqresp_unlink(name), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_syscall_when_nobody_sleeps),
        cmocka_unit_test(syscall_when_server_sleeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
