/* SPDX-License-Identifier: MIT */
/*
 * tests/test_timeout_bound.c - no word in shared memory can hold a call past its timeout. A scribbler
 * process writes, as fast as it can, values chosen to fool a waiter into every 8-byte word of a live
 * service (the caller's own packed owner id, the scribbler's, 0, ~0, small indices, random bits) while
 * the caller makes blocking calls with a 100 ms timeout; each must return (with any result) within the
 * timeout plus a bound (one 20 ms sleep slice, with room for a loaded machine). Also the sync layer's
 * event and a peer stopped with SIGSTOP. Patterns with their own files (channel, queue, pub/sub,
 * request/response) run the same check there.
 */
#include "helpers.h"

#include "common/internal.h"

#include <shmipc/blackboard.h>
#include <shmipc/event.h>
#include <shmipc/evsvc.h>
#include <shmipc/segment.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CALL_MS 100
/* timeout + one slice is the promise; the rest is slack for a busy 2-core machine (a call held by a
 * word would take seconds, as the bug this guards against did). */
#define BOUND_MS (CALL_MS + 20 + 230)
#define CALLS 12

/* Map the segment file of a live object (another, writable view of what the library mapped). */
static void *map_by_name(const char *segname, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "/dev/shm%s", segname);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    *len = (size_t)st.st_size;
    return p;
}

/* Fork a process that scribbles over [base + from, base + len), except the 64 bytes at spare (pass len
 * to spare nothing), until killed; returns after it started (a pipe handshake). */
static pid_t scribbler_start(void *base, size_t from, size_t len, size_t spare, uint64_t victim)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        uint64_t me = shmipc__owner_self();
        uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
        const uint64_t values[] = {victim, me, 0, UINT64_MAX, 1, 2, 0x7fffffff, victim | 1};
        _Atomic uint64_t *w = (_Atomic uint64_t *)((char *)base + from);
        size_t nwords = (len - from) / 8;
        char c = 'r';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        for (;;) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint64_t v = (x & 8) ? values[(x >> 4) % SHMIPC_ARRAY_LEN(values)] : x;
            size_t i = (x >> 20) % nwords, at = from + i * 8;
            if (at >= spare && at < spare + 64)
                continue;
            atomic_store_explicit(&w[i], v, memory_order_relaxed);
        }
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

/* Fork a process that writes live owner ids only (the victim's and its own) into the owner and
 * reclaimer word of every participant slot of a service, until killed: claims that look valid and
 * name processes that are alive, the kind a lock or a claim loop would wait on. */
static pid_t owner_scribbler_start(void *base, uint64_t victim)
{
    uint32_t nparts;
    memcpy(&nparts, (const char *)base + 128 + 224, sizeof nparts);
    assert_true(nparts >= 1 && nparts <= 1024);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        const uint64_t values[2] = {victim, shmipc__owner_self()};
        _Atomic uint64_t *t = (_Atomic uint64_t *)((char *)base + 128 + 512);
        char c = 'r';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        for (uint64_t i = 0;; i++)
            atomic_store_explicit(&t[(i % nparts) * 8 + ((i >> 1) & 1)], values[i & 1], memory_order_relaxed);
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void scribbler_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Run call() CALLS times; each must come back within BOUND_MS. Returns how many timed out (calls that
 * really waited: a check that only ever met -EBADMSG at once would prove nothing). */
static int expect_bounded(const char *what, int (*call)(void *), void *arg)
{
    uint64_t worst = 0;
    int timed_out = 0, other = 0;
    for (int i = 0; i < CALLS; i++) {
        uint64_t t0 = test_now_ms();
        int r = call(arg);
        uint64_t took = test_now_ms() - t0;
        if (took > worst)
            worst = took;
        if (r == -ETIMEDOUT)
            timed_out++;
        else if (other++ == 0)
            print_message("%s: first other result %d (%s)\n", what, r, r < 0 ? strerror(-r) : "a count");
    }
    print_message("%s: %d timed out, %d other results; slowest call %llu ms (timeout %d ms)\n", what, timed_out,
                  other, (unsigned long long)worst, CALL_MS);
    assert_true(worst <= BOUND_MS);
    return timed_out;
}

/* Where a service's pattern area starts in its segment file: the segment header (128 B), then the
 * service header, whose pattern_off (at 232) was validated when we opened it. The scribbler spares the
 * pattern's first line (magic and geometry, checked at open: a change there only makes calls fail at
 * once) and aims at the participant table and every word after that line. */
static size_t svc_geometry_line(const void *base)
{
    uint32_t off;
    memcpy(&off, (const char *)base + 128 + 232, sizeof off);
    return 128 + off;
}

static int bb_wait_call(void *arg) { return shmipc_blackboard_wait(arg, 0, UINT64_MAX - 1, CALL_MS); }

static void blackboard_wait_bounded_under_scribbler(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "tbbb");
    const char *svc = name + 1; /* service names have no leading slash */
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 16;
    o.entries = 4;
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r;
    assert_int_equal(shmipc_blackboard_writer_create(svc, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(svc, &o, &r), 0);
    char seg[256];
    snprintf(seg, sizeof seg, "/shmipc.blackboard.%s", svc);
    size_t len;
    void *base = map_by_name(seg, &len);
    /* Past the segment header (128 B) and the service header (512 B): the table and the pattern area,
     * where every owner, writer, notify and version word lives. */
    /* Live owner ids first (the area stays otherwise sane, so the waits really wait), then garbage. */
    pid_t s = owner_scribbler_start(base, shmipc__owner_self());
    int waited = expect_bounded("blackboard_wait (live owner ids)", bb_wait_call, r);
    scribbler_stop(s);
    s = scribbler_start(base, 128 + 512, len, svc_geometry_line(base), shmipc__owner_self());
    expect_bounded("blackboard_wait (garbage)", bb_wait_call, r);
    scribbler_stop(s);
    munmap(base, len);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_writer_close(w);
    shmipc_blackboard_unlink(svc);
    assert_true(waited > 0);
}

static int listener_wait_call(void *arg)
{
    uint32_t id;
    return shmipc_evsvc_listener_wait(arg, CALL_MS, &id);
}

static int listener_wait_any_call(void *arg)
{
    shmipc_evsvc_listener **ls = arg;
    size_t which;
    uint32_t id;
    return shmipc_evsvc_listener_wait_any(ls, 2, CALL_MS, &which, &id);
}

static void listener_waits_bounded_under_scribbler(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "tbev");
    const char *svc = name + 1;
    shmipc_evsvc_notifier *n;
    shmipc_evsvc_listener *ls[2];
    assert_int_equal(shmipc_evsvc_notifier_create(svc, NULL, &n), 0);
    assert_int_equal(shmipc_evsvc_listener_open(svc, NULL, &ls[0]), 0);
    assert_int_equal(shmipc_evsvc_listener_open(svc, NULL, &ls[1]), 0);
    char seg[256];
    snprintf(seg, sizeof seg, "/shmipc.event.%s", svc);
    size_t len;
    void *base = map_by_name(seg, &len);
    pid_t s = owner_scribbler_start(base, shmipc__owner_self());
    int waited = expect_bounded("listener_wait (live owner ids)", listener_wait_call, ls[0]);
    waited += expect_bounded("listener_wait_any (live owner ids)", listener_wait_any_call, ls);
    scribbler_stop(s);
    s = scribbler_start(base, 128 + 512, len, svc_geometry_line(base), shmipc__owner_self());
    expect_bounded("listener_wait (garbage)", listener_wait_call, ls[0]);
    expect_bounded("listener_wait_any (garbage)", listener_wait_any_call, ls);
    scribbler_stop(s);
    munmap(base, len);
    shmipc_evsvc_listener_close(ls[1]);
    shmipc_evsvc_listener_close(ls[0]);
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_unlink(svc);
    assert_true(waited > 0);
}

static int event_wait_call(void *arg) { return shmipc_event_wait(arg, CALL_MS); }

static void event_wait_bounded_under_scribbler(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "tbse");
    shmipc_event *ev;
    assert_int_equal(shmipc_event_create(name, NULL, &ev), 0);
    size_t len;
    void *base = map_by_name(name, &len);
    /* The count and waiter words (the magic and version word is checked on every call: spared). */
    pid_t s = scribbler_start(base, 128, 128 + 64, 128 - 56, shmipc__owner_self());
    expect_bounded("event_wait", event_wait_call, ev);
    scribbler_stop(s);
    munmap(base, len);
    shmipc_event_close(ev);
    shmipc_event_unlink(name);
}

/* A writer stopped (SIGSTOP) for the whole wait: the reader's wait is bounded by its timeout, and a
 * stopped process counts as alive, so the result is -ETIMEDOUT, not -EPIPE. */
static void blackboard_wait_bounded_with_stopped_writer(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "tbst");
    const char *svc = name + 1;
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 8;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_blackboard_writer *w;
        char c = shmipc_blackboard_writer_create(svc, &o, &w) == 0 ? 'k' : 'e';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'k');
    kill(pid, SIGSTOP);
    shmipc_blackboard_reader *r;
    assert_int_equal(shmipc_blackboard_reader_open(svc, &o, &r), 0);
    uint64_t t0 = test_now_ms();
    int rc = shmipc_blackboard_wait(r, 0, 0, CALL_MS);
    uint64_t took = test_now_ms() - t0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[0]);
    close(p[1]);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_unlink(svc);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(took >= CALL_MS && took <= BOUND_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blackboard_wait_bounded_under_scribbler),
        cmocka_unit_test(listener_waits_bounded_under_scribbler),
        cmocka_unit_test(event_wait_bounded_under_scribbler),
        cmocka_unit_test(blackboard_wait_bounded_with_stopped_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
