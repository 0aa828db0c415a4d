/* SPDX-License-Identifier: MIT */
/*
 * tests/test_channel_proc.c - the channel between real processes: ordering and integrity of a long stream
 * of random-size messages through every API, the blocking full policy, the overwrite policy under a racing
 * producer, every wait mode with wake-ups and timeouts, a peer killed while the other side is blocked
 * (-EPIPE), takeover of a dead endpoint and -EBUSY for a live one, and (with strace) proof that streaming
 * with nobody asleep makes no futex system call.
 */
#include "helpers.h"

#include <shmipc/channel.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SHMIPC_SANITIZER
#define STREAM_N 100000u
#else
#define STREAM_N 1000000u
#endif

static uint64_t stream_n(void)
{
    const char *e = getenv("SHMIPC_TEST_N");
    return e ? strtoull(e, NULL, 10) : STREAM_N;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Message i: 8-byte sequence number, then pseudo-random bytes from seed i; its length is derived from i
 * (mostly small, sometimes up to max), so the receiver checks order, length and every byte. */
static size_t stream_len(uint64_t i, size_t max)
{
    uint64_t r = mix(i + 1);
    size_t len = (r & 63) == 0 ? (size_t)(r >> 8) % (max + 1) : (size_t)(r >> 8) % 200;
    return len < 8 ? 8 : len;
}

static void stream_fill(unsigned char *p, uint64_t i, size_t len)
{
    memcpy(p, &i, 8);
    test_fill(p + 8, len - 8, i);
}

static int stream_check(const unsigned char *p, size_t len, uint64_t i, size_t max)
{
    uint64_t got;
    if (len != stream_len(i, max))
        return -1;
    memcpy(&got, p, 8);
    if (got != i)
        return -2;
    return test_check(p + 8, len - 8, i) ? -3 : 0;
}

static shmipc_channel_opts opts_of(size_t cap, shmipc_channel_full_policy pol, shmipc_wait_mode mode)
{
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = cap;
    o.full_policy = pol;
    o.wait_mode = mode;
    return o;
}

/* ---- the long stream ---- */

typedef struct stream_args {
    const char *name;
    uint64_t n;
    shmipc_wait_mode mode;
} stream_args;

static int stream_producer(void *arg)
{
    stream_args *a = arg;
    shmipc_channel_opts o = opts_of(0, 0, a->mode);
    shmipc_channel *tx;
    if (shmipc_channel_open(a->name, SHMIPC_CHANNEL_PRODUCER, &o, &tx))
        return 1;
    size_t max = shmipc_channel_max_msg(tx);
    static unsigned char bufs[8][65536];
    uint64_t i = 0;
    while (i < a->n) {
        int r;
        switch (i % 3) {
        case 0: {
            size_t len = stream_len(i, max);
            stream_fill(bufs[0], i, len);
            r = shmipc_channel_send(tx, bufs[0], len, 10000);
            if (r)
                return 2;
            i++;
            break;
        }
        case 1: {
            size_t len = stream_len(i, max);
            void *w;
            if (shmipc_channel_reserve(tx, max, &w, 10000))
                return 3;
            stream_fill(w, i, len);
            if (shmipc_channel_commit(tx, len))
                return 4;
            i++;
            break;
        }
        default: {
            struct iovec v[8];
            size_t k;
            for (k = 0; k < 8 && i + k < a->n; k++) {
                v[k].iov_len = stream_len(i + k, max);
                v[k].iov_base = bufs[k];
                stream_fill(bufs[k], i + k, v[k].iov_len);
            }
            r = shmipc_channel_send_batch(tx, v, k, 10000);
            if (r <= 0)
                return 5;
            i += (uint64_t)r;
        }
        }
    }
    shmipc_channel_close(tx);
    return 0;
}

/* Receive n messages through recv, peek/release and recv_batch in turn; returns 0 or a failure code. */
static int stream_consume(shmipc_channel *rx, uint64_t n)
{
    size_t max = shmipc_channel_max_msg(rx);
    static unsigned char bufs[8][65536];
    uint64_t i = 0;
    while (i < n) {
        switch (i % 3) {
        case 0: {
            int r = shmipc_channel_recv(rx, bufs[0], sizeof bufs[0], 10000);
            if (r < 0 || stream_check(bufs[0], (size_t)r, i, max))
                return 10;
            i++;
            break;
        }
        case 1: {
            const void *q;
            int r = shmipc_channel_peek(rx, &q, 10000);
            if (r < 0 || stream_check(q, (size_t)r, i, max) || shmipc_channel_release(rx))
                return 11;
            i++;
            break;
        }
        default: {
            struct iovec v[8];
            for (int k = 0; k < 8; k++)
                v[k] = (struct iovec){bufs[k], sizeof bufs[k]};
            int r = shmipc_channel_recv_batch(rx, v, 8, 10000);
            if (r <= 0)
                return 12;
            for (int k = 0; k < r; k++)
                if (stream_check(bufs[k], v[k].iov_len, i + (uint64_t)k, max))
                    return 13;
            i += (uint64_t)r;
        }
        }
    }
    char b[8];
    /* the producer closed after its last message: the drained ring reports -EPIPE */
    int r = shmipc_channel_recv(rx, b, sizeof b, 10000);
    return r == -EPIPE ? 0 : 14;
}

static void run_stream(uint64_t n, size_t cap, shmipc_wait_mode mode)
{
    char name[96];
    test_name(name, sizeof name, "stream");
    shmipc_channel_opts o = opts_of(cap, 0, mode);
    o.role = SHMIPC_CHANNEL_CONSUMER;
    shmipc_channel *rx;
    assert_int_equal(shmipc_channel_create(name, &o, &rx), 0);
    stream_args a = {name, n, mode};
    pid_t pid = test_fork(stream_producer, &a);
    int r = stream_consume(rx, n);
    int st = test_wait(pid, 120000);
    shmipc_channel_stats s;
    shmipc_channel_stats_get(rx, &s);
    shmipc_channel_close(rx);
    shmipc_channel_unlink(name);
    assert_int_equal(r, 0);
    assert_int_equal(st, 0);
    assert_int_equal(s.msgs_sent, n);
    assert_int_equal(s.msgs_recv, n);
    assert_int_equal(s.bytes_sent, s.bytes_recv);
    printf("# %llu messages, %llu bytes, ring %zu\n", (unsigned long long)n, (unsigned long long)s.bytes_recv, cap);
}

static void stream_million(void **state)
{
    (void)state;
    uint64_t t0 = test_now_ms();
    run_stream(stream_n(), 64 * 1024, SHMIPC_WAIT_HYBRID);
    printf("# %llu messages in %llu ms\n", (unsigned long long)stream_n(),
           (unsigned long long)(test_now_ms() - t0));
}

static void stream_modes_small_ring(void **state)
{
    (void)state;
    /* a small ring forces the sides to wait for each other often, in each mode */
    run_stream(stream_n() / 20, 4096, SHMIPC_WAIT_BLOCK);
    run_stream(stream_n() / 20, 4096, SHMIPC_WAIT_SPIN);
    run_stream(stream_n() / 20, 1024, SHMIPC_WAIT_HYBRID);
}

/* ---- block policy: a sender blocked on a full ring resumes when the consumer drains ---- */

static int slow_consumer(void *arg)
{
    const char *name = arg;
    shmipc_channel *rx;
    if (shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx))
        return 1;
    unsigned char b[256];
    for (uint64_t i = 0; i < 200; i++) {
        /* Every 50 messages, drain only once the sender sleeps on the full ring: with 200 to send and a
         * ring of a few, it must block again before each of these points (3: it never did). */
        if (i % 50 == 0 && test_until_futex_wait(getppid(), 20000))
            return 3;
        int r = shmipc_channel_recv(rx, b, sizeof b, 10000);
        if (r != 100 || test_check(b, 100, i))
            return 2;
    }
    shmipc_channel_close(rx);
    return 0;
}

static void policy_block(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "block");
    shmipc_channel_opts o = opts_of(1024, SHMIPC_CHANNEL_FULL_BLOCK, SHMIPC_WAIT_BLOCK);
    shmipc_channel *tx;
    assert_int_equal(shmipc_channel_create(name, &o, &tx), 0);
    pid_t pid = test_fork(slow_consumer, name);
    unsigned char b[100];
    for (uint64_t i = 0; i < 200; i++) {
        test_fill(b, sizeof b, i);
        assert_int_equal(shmipc_channel_send(tx, b, sizeof b, 20000), 0);
    }
    assert_int_equal(test_wait(pid, 30000), 0); /* 0: the consumer found this sender blocked each time */
    shmipc_channel_close(tx);
    shmipc_channel_unlink(name);
}

/* ---- overwrite policy under a racing producer ---- */

typedef struct ow_args {
    const char *name;
    uint64_t n;
} ow_args;

static int ow_producer(void *arg)
{
    ow_args *a = arg;
    shmipc_channel *tx;
    if (shmipc_channel_open(a->name, SHMIPC_CHANNEL_PRODUCER, NULL, &tx))
        return 1;
    size_t max = shmipc_channel_max_msg(tx);
    unsigned char b[4096];
    for (uint64_t i = 0; i < a->n; i++) {
        size_t len = stream_len(i, max);
        if (i % 2) {
            void *w;
            if (shmipc_channel_reserve(tx, len, &w, 0))
                return 2;
            stream_fill(w, i, len);
            if (shmipc_channel_commit(tx, len))
                return 3;
        } else {
            stream_fill(b, i, len);
            if (shmipc_channel_send(tx, b, len, 0))
                return 4;
        }
    }
    shmipc_channel_close(tx);
    return 0;
}

static void policy_overwrite_race(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "ow");
    shmipc_channel_opts o = opts_of(4096, SHMIPC_CHANNEL_FULL_OVERWRITE, SHMIPC_WAIT_SPIN);
    o.role = SHMIPC_CHANNEL_CONSUMER;
    shmipc_channel *rx;
    assert_int_equal(shmipc_channel_create(name, &o, &rx), 0);
    size_t max = shmipc_channel_max_msg(rx);
    ow_args a = {name, stream_n() / 4};
    pid_t pid = test_fork(ow_producer, &a);
    unsigned char b[4096];
    uint64_t got = 0, next = 0, gaps = 0;
    int bad = 0;
    for (;;) {
        int r;
        if (got % 2) {
            const void *q;
            r = shmipc_channel_peek(rx, &q, 10000);
            if (r >= 0) {
                memcpy(b, q, (size_t)r);
                shmipc_channel_release(rx);
            }
        } else {
            r = shmipc_channel_recv(rx, b, sizeof b, 10000);
        }
        if (r == -EPIPE)
            break;
        if (r < 8) {
            bad = 100 + (r < 0 ? -r : r);
            break;
        }
        uint64_t seq;
        memcpy(&seq, b, 8);
        if (seq < next || stream_check(b, (size_t)r, seq, max)) { /* torn or out of order */
            bad = 1;
            break;
        }
        gaps += seq - next;
        next = seq + 1;
        got++;
    }
    uint64_t dropped = shmipc_channel_dropped(rx);
    shmipc_channel_stats st;
    shmipc_channel_stats_get(rx, &st);
    shmipc_channel_close(rx);
    shmipc_channel_unlink(name);
    assert_int_equal(test_wait(pid, 60000), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(next, a.n); /* the newest message arrived */
    assert_int_equal(dropped, gaps);
    assert_int_equal(got + dropped, a.n);
    assert_int_equal(st.overwritten, dropped);
    printf("# overwrite: %llu received, %llu dropped\n", (unsigned long long)got, (unsigned long long)dropped);
}

/* ---- wait modes: wake-ups and timeouts ---- */

typedef struct late_args {
    const char *name;
    shmipc_wait_mode mode; /* the parent's */
} late_args;

/* Sends once the parent sleeps in its receive (BLOCK, HYBRID after its spin; a spinning parent announces
 * nothing, so then at once: the message must be seen whether it lands before or during the spin). */
static int late_sender(void *arg)
{
    late_args *a = arg;
    shmipc_channel *tx;
    if (shmipc_channel_open(a->name, SHMIPC_CHANNEL_PRODUCER, NULL, &tx))
        return 1;
    if (a->mode != SHMIPC_WAIT_SPIN && test_until_futex_wait(getppid(), 20000))
        return 4;
    if (shmipc_channel_send(tx, "wake", 4, 0))
        return 2;
    /* then wait for room in a full ring until the parent drains it */
    unsigned char b[100] = {0};
    while (shmipc_channel_send(tx, b, sizeof b, 0) == 0)
        ;
    if (shmipc_channel_send(tx, b, sizeof b, 20000))
        return 3;
    shmipc_channel_close(tx);
    return 0;
}

static void wait_modes(void **state)
{
    (void)state;
    shmipc_wait_mode modes[] = {SHMIPC_WAIT_SPIN, SHMIPC_WAIT_BLOCK, SHMIPC_WAIT_HYBRID};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char name[96];
        test_name(name, sizeof name, "wait");
        shmipc_channel_opts o = opts_of(1024, 0, modes[m]);
        o.role = SHMIPC_CHANNEL_CONSUMER;
        shmipc_channel *rx;
        assert_int_equal(shmipc_channel_create(name, &o, &rx), 0);
        unsigned char b[256];
        /* timeout with nothing there (no producer yet: it is waited for, not -EPIPE) */
        uint64_t t0 = test_now_ms();
        assert_int_equal(shmipc_channel_recv(rx, b, sizeof b, 100), -ETIMEDOUT);
        uint64_t dt = test_now_ms() - t0;
        assert_true(dt >= 99 && dt < 5000);
        assert_int_equal(shmipc_channel_recv(rx, b, sizeof b, 0), -EAGAIN);
        /* woken by a sender */
        late_args a = {name, modes[m]};
        pid_t pid = test_fork(late_sender, &a);
        assert_int_equal(shmipc_channel_recv(rx, b, sizeof b, 20000), 4);
        /* the sender fills the ring and waits for room (its own default mode, HYBRID): drain it once it
         * sleeps */
        assert_int_equal(test_until_futex_wait(pid, 20000), 0);
        int r, n = 0;
        while ((r = shmipc_channel_recv(rx, b, sizeof b, 5000)) == 100)
            n++;
        assert_int_equal(r, -EPIPE); /* the sender closed after its last message */
        assert_true(n >= 8);
        assert_int_equal(test_wait(pid, 30000), 0);
        shmipc_channel_close(rx);
        shmipc_channel_unlink(name);
    }
}

/* ---- peer death ---- */

typedef struct peer_args {
    const char *name;
    shmipc_channel_role role;
    int msgs;
    int ready_fd; /* write end: a byte once the role is held and the messages sent */
} peer_args;

/* Open the role, send msgs messages (producer) or fill the ring (if msgs < 0), then wait to be killed. */
static int doomed_peer(void *arg)
{
    peer_args *a = arg;
    shmipc_channel *ch;
    if (shmipc_channel_open(a->name, a->role, NULL, &ch))
        return 1;
    for (int i = 0; i < a->msgs; i++)
        if (shmipc_channel_send(ch, &i, sizeof i, 0))
            return 2;
    if (test_signal(a->ready_fd))
        return 3;
    for (;;)
        pause();
}

static int blocked_receiver(void *arg)
{
    const char *name = arg;
    shmipc_channel_opts o = opts_of(0, 0, SHMIPC_WAIT_BLOCK);
    shmipc_channel *rx;
    if (shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, &o, &rx))
        return 1;
    int v;
    for (int i = 0; i < 3; i++) /* what was committed is delivered first */
        if (shmipc_channel_recv(rx, &v, sizeof v, 10000) != sizeof v || v != i)
            return 2;
    uint64_t t0 = test_now_ms();
    int r = shmipc_channel_recv(rx, &v, sizeof v, -1); /* blocks until the producer is killed */
    if (r != -EPIPE)
        return 3;
    if (test_now_ms() - t0 > 20000)
        return 4;
    r = shmipc_channel_recv(rx, &v, sizeof v, 0);
    shmipc_channel_close(rx);
    return r == -EPIPE ? 0 : 5;
}

static int blocked_sender(void *arg)
{
    const char *name = arg;
    shmipc_channel_opts o = opts_of(0, 0, SHMIPC_WAIT_HYBRID);
    shmipc_channel *tx;
    if (shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, &o, &tx))
        return 1;
    unsigned char b[100] = {0};
    while (shmipc_channel_send(tx, b, sizeof b, 0) == 0)
        ;
    uint64_t t0 = test_now_ms();
    int r = shmipc_channel_send(tx, b, sizeof b, -1); /* blocks until the consumer is killed */
    if (r != -EPIPE)
        return 3;
    if (test_now_ms() - t0 > 20000)
        return 4;
    r = shmipc_channel_send(tx, b, sizeof b, 0);
    shmipc_channel_close(tx);
    return r == -EPIPE ? 0 : 5;
}

/* Create a channel (observer handle returned), start a peer owning doomed_role that sends msgs messages
 * and stays, then the blocked side; check that the live role cannot be taken (-EBUSY); SIGKILL the peer
 * and require the blocked side to see -EPIPE. */
static shmipc_channel *kill_while_blocked(const char *name, shmipc_channel_role doomed_role, int msgs,
                                          int (*blocked)(void *))
{
    shmipc_channel_opts o = opts_of(1024, 0, 0);
    o.role = SHMIPC_CHANNEL_OBSERVER;
    shmipc_channel *obs, *ch;
    assert_int_equal(shmipc_channel_create(name, &o, &obs), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    peer_args pa = {name, doomed_role, msgs, p[1]};
    pid_t doomed = test_fork(doomed_peer, &pa);
    assert_int_equal(test_await(p[0], 20000), 0);
    close(p[0]);
    close(p[1]);
    pid_t other = test_fork(blocked, (void *)name);
    assert_int_equal(test_until_futex_wait(other, 20000), 0); /* asleep in the call that must fail */
    assert_int_equal(shmipc_channel_open(name, doomed_role, NULL, &ch), -EBUSY);
    kill(doomed, SIGKILL);
    assert_int_equal(test_wait(doomed, 5000), 128 + SIGKILL);
    assert_int_equal(test_wait(other, 30000), 0);
    return obs;
}

static void producer_killed(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "pdie");
    shmipc_channel *obs = kill_while_blocked(name, SHMIPC_CHANNEL_PRODUCER, 3, blocked_receiver);
    /* a new process takes over the dead producer's endpoint and goes on with the stream */
    shmipc_channel *tx, *rx;
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &tx), 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx), 0); /* consumer closed */
    assert_int_equal(shmipc_channel_send(tx, "next", 4, 0), 0);
    char b[8];
    assert_int_equal(shmipc_channel_recv(rx, b, sizeof b, 0), 4);
    shmipc_channel_stats st;
    assert_int_equal(shmipc_channel_stats_get(obs, &st), 0);
    assert_int_equal(st.msgs_sent, 4);
    assert_int_equal(st.producer.pid, getpid());
    shmipc_channel_close(tx);
    shmipc_channel_close(rx);
    shmipc_channel_close(obs);
    shmipc_channel_unlink(name);
}

static void consumer_killed(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "cdie");
    shmipc_channel *obs = kill_while_blocked(name, SHMIPC_CHANNEL_CONSUMER, 0, blocked_sender);
    /* the new consumer finds what the dead one left */
    shmipc_channel *rx;
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx), 0);
    unsigned char b[128];
    int n = 0;
    while (shmipc_channel_recv(rx, b, sizeof b, 0) == 100)
        n++;
    assert_true(n >= 8);
    shmipc_channel_close(rx);
    shmipc_channel_close(obs);
    shmipc_channel_unlink(name);
}

/* ---- anonymous channel over a memfd shared by fork ---- */

static void memfd_fork(void **state)
{
    (void)state;
    shmipc_segment *seg;
    assert_int_equal(shmipc_segment_memfd_create("chan", shmipc_channel_size(4096), NULL, &seg), 0);
    shmipc_channel *tx;
    assert_int_equal(shmipc_channel_create_in(seg, NULL, &tx), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_channel *rx;
        if (shmipc_channel_open_in(seg, SHMIPC_CHANNEL_CONSUMER, NULL, &rx))
            _exit(1);
        for (uint64_t i = 0; i < 10000; i++) {
            unsigned char b[300];
            int r = shmipc_channel_recv(rx, b, sizeof b, 10000);
            if (r < 0 || stream_check(b, (size_t)r, i, 200))
                _exit(2);
        }
        _exit(0);
    }
    for (uint64_t i = 0; i < 10000; i++) {
        unsigned char b[300];
        size_t len = stream_len(i, 200);
        stream_fill(b, i, len);
        assert_int_equal(shmipc_channel_send(tx, b, len, 10000), 0);
    }
    assert_int_equal(test_wait(pid, 30000), 0);
    shmipc_channel_close(tx);
    shmipc_segment_close(seg);
}

/* ---- no system call while nobody sleeps (strace) ---- */

/* Helper mode: stream n messages between two processes over a memfd channel. "spin": both sides spin,
 * nobody ever sleeps. "sleep": the consumer blocks and the producer sends slowly, so it sleeps often. */
static int syscall_helper(const char *how, uint64_t n)
{
    bool spin = strcmp(how, "spin") == 0;
    shmipc_segment *seg;
    if (shmipc_segment_memfd_create("strace", shmipc_channel_size(4096), NULL, &seg))
        return 1;
    shmipc_channel_opts o = opts_of(4096, 0, spin ? SHMIPC_WAIT_SPIN : SHMIPC_WAIT_BLOCK);
    shmipc_channel *tx, *rx;
    if (shmipc_channel_create_in(seg, &o, &tx))
        return 2;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (shmipc_channel_open_in(seg, SHMIPC_CHANNEL_CONSUMER, &o, &rx))
            _exit(3);
        unsigned char b[256];
        for (uint64_t i = 0; i < n; i++)
            if (shmipc_channel_recv(rx, b, sizeof b, 30000) != (int)(i % 200))
                _exit(4);
        _exit(0);
    }
    unsigned char b[256] = {0};
    for (uint64_t i = 0; i < n; i++) {
        if (shmipc_channel_send(tx, b, i % 200, 30000))
            return 5;
        if (!spin)
            usleep(2000); /* the behaviour under test: a slow sender, so that the consumer sleeps often */
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 6;
    return 0;
}

/* Run the helper under strace -f -c; returns the number of futex calls, or -1 if strace cannot run. */
static long count_futex(const char *how, uint64_t n)
{
    char out[128], cmd[512];
    snprintf(out, sizeof out, "/tmp/shmipc-strace-%d.txt", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 strace -f -c -e trace=futex -o %s /proc/%d/exe --syscall-helper %s "
             "%llu >/dev/null 2>&1",
             out, (int)getpid(), how, (unsigned long long)n);
    int rc = system(cmd);
    if (rc != 0) {
        unlink(out);
        return -1;
    }
    FILE *f = fopen(out, "r");
    if (!f)
        return -1;
    char line[256];
    long calls = 0;
    while (fgets(line, sizeof line, f)) {
        char *tok[8];
        int k = 0;
        for (char *s = strtok(line, " \t\n"); s && k < 8; s = strtok(NULL, " \t\n"))
            tok[k++] = s;
        if (k >= 5 && strcmp(tok[k - 1], "futex") == 0)
            calls = strtol(tok[3], NULL, 10);
    }
    fclose(f);
    unlink(out);
    return calls;
}

static void no_syscall_fast_path(void **state)
{
    (void)state;
#if SHMIPC_SANITIZER == 2
    skip(); /* TSan's runtime makes futex calls of its own */
#endif
    if (system("strace -V >/dev/null 2>&1") != 0) {
        printf("# skipped: strace is not installed (scripts/install-deps.sh installs it)\n");
        skip();
    }
    /* Setup makes a futex call or so of its own (waking openers of the new segment): count the calls of
     * a run that streams nothing, and compare. */
    long base = count_futex("spin", 0);
    if (base < 0) {
        printf("# skipped: strace cannot trace here (ptrace not permitted?)\n");
        skip();
    }
    long quiet = count_futex("spin", 20000);
    long control = count_futex("sleep", 100);
    printf("# futex calls: %ld for setup, %ld streaming 20000 messages with nobody asleep, %ld for 100 "
           "messages with a sleeping consumer\n", base, quiet, control);
    assert_int_equal(quiet, base);
    assert_true(control > base);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--syscall-helper") == 0)
        return syscall_helper(argv[2], strtoull(argv[3], NULL, 10));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_million),
        cmocka_unit_test(stream_modes_small_ring),
        cmocka_unit_test(policy_block),
        cmocka_unit_test(policy_overwrite_race),
        cmocka_unit_test(wait_modes),
        cmocka_unit_test(producer_killed),
        cmocka_unit_test(consumer_killed),
        cmocka_unit_test(memfd_fork),
        cmocka_unit_test(no_syscall_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
