/* SPDX-License-Identifier: MIT */
/*
 * tests/hostile.h - what test_channel_hostile.c and test_queue_hostile.c share: a scribbler process that
 * maps segments by name and writes, in a loop, live owner ids (its own and the caller's), closed/free
 * markers, garbage indices and counters into chosen words; a stopped-peer helper; and the timing bound
 * every call with a finite timeout must keep (timeout + 2 wait slices), whatever those words hold.
 * Handshakes go through pipes; nothing waits a fixed time.
 */
#ifndef SHMIPC_TEST_HOSTILE_H
#define SHMIPC_TEST_HOSTILE_H

#include "helpers.h"
#include "common/internal.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOSTILE_TIMEOUT_MS 100
#define HOSTILE_SLICE_MS (SHMIPC__WAIT_SLICE_NS / 1000000u)
/* Timeout plus one slice, plus a slice of scheduling slack; sanitizer builds (ThreadSanitizer runs
 * the scribbler and the caller several times slower) get 100 ms more. */
#ifdef SHMIPC_SANITIZER
#define HOSTILE_BOUND_MS (HOSTILE_TIMEOUT_MS + 2 * HOSTILE_SLICE_MS + 100)
#else
#define HOSTILE_BOUND_MS (HOSTILE_TIMEOUT_MS + 2 * HOSTILE_SLICE_MS)
#endif

/* What a scribbled word receives. */
enum {
    HW_LIVE,    /* u64: a live owner id, the scribbler's or the caller's */
    HW_OWNER,   /* u64: a live owner id (scribbler's or caller's), NONE or CLOSED */
    HW_INDEX,   /* u64: an owner id, a nearby or far value, or garbage */
    HW_CLEAR32, /* u32: 0 (e.g. a broken flag: keep the victims in their waits instead of -EBADMSG) */
    HW_QSLOT,   /* u64: a queue slot word WRITING/READING at turn arg by owner index 1..4 (now and then
                 * garbage): a claim that blocks the callers if the ident it names looks alive */
    HW_QWRITING, /* u64: WRITING at turn arg by owner index 1..4 (consumers at arg wait behind it) */
    HW_QREADING, /* u64: READING at turn arg by owner index 1..4 (producers a lap later wait) */
};

typedef struct hostile_word {
    unsigned seg; /* index into the names */
    size_t off;   /* from the segment's data area */
    int kind;
    uint64_t arg; /* HW_QSLOT: the turn */
} hostile_word;

static uint64_t hostile_xs(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t hostile_value(int kind, uint64_t arg, uint64_t *rng, uint64_t self, uint64_t victim)
{
    uint64_t r = hostile_xs(rng);
    switch (kind) {
    case HW_LIVE: return (r & 1) ? self : victim;
    case HW_OWNER: {
        const uint64_t v[] = {self, victim, self, victim, SHMIPC__OWNER_NONE, SHMIPC__OWNER_CLOSED};
        return v[r % 6];
    }
    case HW_INDEX: {
        const uint64_t v[] = {self, victim, r & 0xff0, r, 16, 0};
        return v[(r >> 32) % 6];
    }
    case HW_QSLOT: {
        if ((r & 15) == 0)
            return r; /* garbage */
        uint64_t st = (r & 16) ? 1 : 3, own = ((r >> 8) & 3) + 1; /* WRITING or READING, index 1..4 */
        return arg << 16 | st << 14 | own;
    }
    case HW_QWRITING: return arg << 16 | 1u << 14 | (((r >> 8) & 3) + 1);
    case HW_QREADING: return arg << 16 | 3u << 14 | (((r >> 8) & 3) + 1);
    default: return 0;
    }
}

/* The scribbler (a child): maps every name, writes one round, tells the parent (one byte on ready_fd),
 * then scribbles until it is killed. It runs niced so that the victims' deadlines are tested, not the
 * scheduler's fairness on a loaded machine. */
static void hostile_scribble(const char *const *names, unsigned nnames, const hostile_word *words, size_t nwords,
                             uint64_t victim, int ready_fd)
{
    unsigned char *data[8] = {0};
    for (unsigned i = 0; i < nnames && i < 8; i++) {
        shmipc_segment_opts o = {.size = sizeof o, .flags = SHMIPC_SEG_ANY_TYPE | SHMIPC_SEG_ALLOW_FOREIGN};
        shmipc_segment *seg;
        if (shmipc_segment_open(names[i], &o, &seg))
            _exit(2);
        data[i] = shmipc_segment_data(seg);
    }
    if (setpriority(PRIO_PROCESS, 0, 19)) {
        /* not fatal: only fairness */
    }
    uint64_t self = shmipc__owner_self(), rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
    for (unsigned long round = 0;; round++) {
        for (size_t k = 0; k < nwords; k++) {
            unsigned char *p = data[words[k].seg] + words[k].off;
            if (words[k].kind == HW_CLEAR32)
                __atomic_store_n((uint32_t *)(void *)p, 0u, __ATOMIC_RELAXED);
            else
                __atomic_store_n((uint64_t *)(void *)p, hostile_value(words[k].kind, words[k].arg, &rng, self, victim),
                                 __ATOMIC_RELAXED);
        }
        if (round == 0) {
            char c = 's';
            if (write(ready_fd, &c, 1) != 1)
                _exit(3);
            close(ready_fd);
        }
        if ((round & 15) == 0)
            sched_yield();
    }
}

/* Start the scribbler; returns its pid once it has written its first round. */
static pid_t hostile_start(const char *const *names, unsigned nnames, const hostile_word *words, size_t nwords)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    uint64_t victim = shmipc__owner_self();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        hostile_scribble(names, nnames, words, nwords, victim, p[1]);
        _exit(0);
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void hostile_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

/* Fork a child that runs fn(arg) (which must make its claim and then call hostile_freeze); returns once
 * the child is stopped in the middle of its operation. */
static pid_t hostile_frozen_child(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg));
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, WUNTRACED)) < 0 && errno == EINTR) {
    }
    assert_int_equal(r, pid);
    if (!WIFSTOPPED(st)) {
        print_error("child ended (status %#x) instead of stopping in its operation\n", st);
        fail();
    }
    return pid;
}

/* The child's half: stop here, holding whatever it claimed (the parent sees WIFSTOPPED). */
static void hostile_freeze(void) { raise(SIGSTOP); }

static void hostile_end_child(pid_t pid)
{
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

/* Run one call and check its duration; any result is accepted. */
#define HOSTILE_CALL(what, expr)                                                                             \
    do {                                                                                                     \
        uint64_t t0_ = test_now_ms();                                                                        \
        int r_ = (expr);                                                                                     \
        uint64_t dt_ = test_now_ms() - t0_;                                                                  \
        if (dt_ > HOSTILE_BOUND_MS) {                                                                        \
            print_error("%s returned %d after %llu ms (bound %u ms)\n", what, r_, (unsigned long long)dt_,    \
                        (unsigned)HOSTILE_BOUND_MS);                                                         \
            fail();                                                                                          \
        }                                                                                                    \
        if (getenv("HOSTILE_VERBOSE"))                                                                       \
            fprintf(stderr, "%s: %d in %llu ms\n", what, r_, (unsigned long long)dt_);                       \
        last_result = r_;                                                                                    \
    } while (0)

#endif
