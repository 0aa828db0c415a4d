/* SPDX-License-Identifier: MIT */
/*
 * common/internal.h - helpers every layer shares: clocks and deadlines, shared futexes, the
 * "notify" word that lets a waker skip the system call when nobody sleeps, process identity, and
 * small utilities. Internal names use the shmipc__ prefix and are hidden from the shared library.
 */
#ifndef SHMIPC_INTERNAL_H
#define SHMIPC_INTERNAL_H

#include <shmipc/common.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <time.h>

#define SHMIPC_INTERNAL __attribute__((visibility("hidden")))
#define SHMIPC_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHMIPC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHMIPC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SHMIPC_STATIC_ASSERT(c, msg) _Static_assert(c, msg)

static inline void shmipc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/*
 * A consumer that found nothing yet, while it spins: ask for the line its next message will be read from
 * (a channel's next record, a request/response payload slot, the chunk a publisher most likely loans
 * next). The consumer learns of a message from one line (an index or an entry's stamp) and then reads
 * another; without the hint that second miss starts only once the first is resolved. With it, the line
 * is fetched again each poll after the producer's write invalidated it, so both misses overlap: about
 * one cache-line transfer less per message on the latency path. Only a hint: it never faults, and a
 * wrong guess costs one fetch of a line nobody needs.
 */
static inline void shmipc__prefetch_next(const void *p) { __builtin_prefetch(p, 0, 3); }

static inline size_t shmipc__align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* ---- clocks and deadlines (CLOCK_MONOTONIC nanoseconds) ---- */
#define SHMIPC_DEADLINE_NEVER UINT64_MAX

SHMIPC_INTERNAL uint64_t shmipc__now_ns(void);
/* Absolute deadline for a timeout in ms: 0 -> now, negative -> SHMIPC_DEADLINE_NEVER. */
SHMIPC_INTERNAL uint64_t shmipc__deadline(int timeout_ms);
SHMIPC_INTERNAL uint64_t shmipc__realtime_ns(void);

/* ---- futexes on words in shared memory (never FUTEX_PRIVATE_FLAG) ---- */
/*
 * Sleep while *word == expected, until woken or the absolute monotonic deadline passes.
 * Returns 0 (woken, maybe spuriously), -EAGAIN (*word != expected), -ETIMEDOUT, -EINTR.
 */
SHMIPC_INTERNAL int shmipc__futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns);
/* Wake up to n sleepers on word; returns how many were woken or -errno. */
SHMIPC_INTERNAL int shmipc__futex_wake(_Atomic uint32_t *word, int n);
/*
 * Sleep until any of n words differs from its expected value, woken, or the deadline: futex_waitv
 * (Linux 5.16+). Where the kernel lacks or refuses it, the fact is remembered (shmipc__futex_no_waitv)
 * and the caller sleeps on the first word in 1 ms slices instead. Same returns as shmipc__futex_wait.
 */
#define SHMIPC__FUTEX_WAITV_MAX 128
SHMIPC_INTERNAL int shmipc__futex_waitv(_Atomic uint32_t *const *words, const uint32_t *expected, unsigned n,
                                        uint64_t deadline_ns);
SHMIPC_INTERNAL extern _Atomic int shmipc__futex_no_waitv; /* tests set it to exercise the fallback */

/*
 * A notify word pair, placed in shared memory by the layers that block. Protocol:
 *   waiter: announce (waiters++), read seq, re-check its condition, sleep on seq if still unmet, retract.
 *   waker : publish the data, bump seq, and only if waiters != 0 make the FUTEX_WAKE system call.
 * Both sides use seq_cst for the announce/bump and the loads that follow, so that either the waiter sees
 * the new data or the waker sees the waiter (a Dekker-style handshake): no lost wake-up, and no system
 * call at all while nobody sleeps. A waiter that dies while announced leaves waiters > 0, which costs only
 * needless wake calls (one FUTEX_WAKE per wake from then on), never a hang. Layers that know when no
 * sleeper can exist (e.g. a channel when a new endpoint opens) reset the count.
 */
typedef struct shmipc__notify {
    _Atomic uint32_t seq;     /* bumped by every waker; the futex word */
    _Atomic uint32_t waiters; /* number of announced sleepers */
} shmipc__notify;

SHMIPC_INTERNAL void shmipc__notify_init(shmipc__notify *n);
/* Returns the seq value to pass to shmipc__notify_sleep, after announcing the caller. */
SHMIPC_INTERNAL uint32_t shmipc__notify_prepare(shmipc__notify *n);
/* Sleep until seq moves away from seen or the deadline; then retract. Same returns as futex_wait. */
SHMIPC_INTERNAL int shmipc__notify_sleep(shmipc__notify *n, uint32_t seen, uint64_t deadline_ns);
/* Retract an announcement without sleeping (condition became true after prepare). */
SHMIPC_INTERNAL void shmipc__notify_cancel(shmipc__notify *n);
/* Sleep on several notify words at once (each already announced with prepare, seen[i] its seq), then
 * retract from all. Same returns as futex_wait; -EINVAL for n outside 1..SHMIPC__FUTEX_WAITV_MAX. */
SHMIPC_INTERNAL int shmipc__notify_sleep_many(shmipc__notify *const *ns, const uint32_t *seen, unsigned n,
                                              uint64_t deadline_ns);
/* Bump seq and wake up to count sleepers (INT32_MAX = all) if any are announced. Returns 1 if a
 * system call was made. */
SHMIPC_INTERNAL int shmipc__notify_wake(shmipc__notify *n, int count);
/* When this thread last made a futex wake through shmipc__notify_wake (shmipc__now_ns; 0: never): the
 * wait primitive's hint that the peer it waits for next may be one it has just woken. */
SHMIPC_INTERNAL uint64_t shmipc__notify_woke_at(void);

/* ---- process identity ---- */
/* Start time (clock ticks since boot) of pid, or 0 if it does not exist / cannot be read. If zombie is
 * not NULL it is set to true when the process is a zombie. */
SHMIPC_INTERNAL uint64_t shmipc__proc_start_time(int pid, bool *zombie);
/*
 * Is pid alive with a start time whose bits under mask equal expect's? 1 alive, 0 dead (gone, zombie, or
 * pid reused by a process that started at another time). When /proc/PID/stat cannot be read although the
 * pid exists (/proc mounted with hidepid, or another user's process), the start time cannot be verified
 * and the process counts as alive: taking a live peer for dead (and its endpoint over) is worse than
 * waiting for it.
 */
SHMIPC_INTERNAL int shmipc__proc_alive_masked(int pid, uint64_t expect, uint64_t mask);

/* ---- owner identity (src/common/owner.c) ---- */
/*
 * The one way a process is named in shared memory, by every layer: pid in bits 63..42 (pid_max <= 2^22),
 * the low 42 bits of its start time (clock ticks since boot, /proc/PID/stat field 22) in bits 41..0, so a
 * slot is claimed with one CAS and a reused pid is never taken for the dead process (its start time
 * differs). 0 = nobody; ~0 = closed (a slot its owner gave back on purpose, for layers that tell "never
 * opened" from "closed"). A zombie counts as dead.
 */
#define SHMIPC__OWNER_NONE UINT64_C(0)
#define SHMIPC__OWNER_CLOSED UINT64_MAX
#define SHMIPC__OWNER_START_BITS 42
#define SHMIPC__OWNER_START_MASK ((UINT64_C(1) << SHMIPC__OWNER_START_BITS) - 1)
#define SHMIPC__OWNER_PID_MAX ((UINT64_C(1) << (64 - SHMIPC__OWNER_START_BITS)) - 1)

SHMIPC_INTERNAL uint64_t shmipc__owner_pack(const shmipc_proc_id *id);
/* This process's packed id, cached (re-read after fork). */
SHMIPC_INTERNAL uint64_t shmipc__owner_self(void);
/* The pid in a packed id (0 for NONE and CLOSED). */
SHMIPC_INTERNAL int32_t shmipc__owner_pid(uint64_t owner);
/* 1 if the process named by owner runs (same pid and start time, not a zombie), else 0 (NONE/CLOSED: 0). */
SHMIPC_INTERNAL int shmipc__owner_alive(uint64_t owner);
/*
 * Claim *word for me: CAS from NONE, CLOSED or a dead owner (take-over); *prev (may be NULL) gets the
 * value replaced, so a caller that took over a dead owner knows to repair what it left. -EBUSY if a live
 * process (me included) owns it.
 */
SHMIPC_INTERNAL int shmipc__owner_claim(_Atomic uint64_t *word, uint64_t me, uint64_t *prev);
/* Give *word back (CAS me -> to, release); false if it no longer names me (we were taken over). */
SHMIPC_INTERNAL bool shmipc__owner_release(_Atomic uint64_t *word, uint64_t me, uint64_t to);

/* ---- the wait primitive (src/common/wait.c) ---- */
/*
 * Every blocking call of every layer waits through shmipc__wait:
 *  1. the condition is tried once (timeout 0: -EAGAIN if unmet, with no clock read);
 *  2. SPIN polls it until the deadline; HYBRID (the default) polls for a time budget (spin_ns, default
 *     SHMIPC__WAIT_SPIN_NS, stretched to twice the recent waits, up to 256 us, while an adapt state shows
 *     that most recent waits ended within 256 us; SHMIPC__WAIT_SPIN_SPARSE_NS, unless the caller set
 *     spin_ns, once most were longer, or when the wait begins over 256 us after the last one ended right
 *     after this thread made a futex wake (within SHMIPC__WAIT_SPIN_NS); no spin at all in sparse traffic
 *     after such a wake unless the caller set spin_ns), then sleeps; BLOCK sleeps at once;
 *  3. a sleep follows the notify protocol on w->notify (announce, re-check, futex wait) and lasts at most
 *     one slice (SHMIPC__WAIT_SLICE_NS), after which the condition runs with slow = true: the place to
 *     check the awaited peer's liveness (and return -EPIPE, or reclaim) and anything costly;
 *  4. the deadline is absolute CLOCK_MONOTONIC: wake-ups, spurious or not, never stretch it, so a call
 *     returns within its timeout plus one slice whatever a peer writes to shared memory;
 *  5. EINTR policy: a signal whose handler runs while the caller sleeps ends the call with -EINTR (as
 *     read(2) would), so a program can act on SIGINT or SIGTERM; layers that must finish a step set
 *     retry_eintr. A handler that runs while the caller spins is not seen.
 * The condition returns 1 (done: wait returns 0), 0 (keep waiting) or a negative error (returned as is).
 */
#define SHMIPC__WAIT_SLICE_NS (20u * 1000u * 1000u)
#define SHMIPC__WAIT_SPIN_NS (20u * 1000u)
#define SHMIPC__WAIT_SPIN_SPARSE_NS (5u * 1000u)

typedef int (*shmipc__wait_cond_fn)(void *arg, bool slow);

/* Per-handle memory of how long recent waits took and when the last one ended (private memory, never
 * shared): one word, so that a handle shared by threads can keep it in an atomic (queues). Zero is the
 * initial state. The encoding is wait.c's (short-wait average, long-wait share, last end, see there). */
typedef struct shmipc__wait_adapt {
    uint64_t state;
} shmipc__wait_adapt;

typedef struct shmipc__wait_spec {
    shmipc__notify *notify;       /* the word to sleep on; NULL (and no notifies): yield between polls */
    shmipc__notify *const *notifies; /* instead: sleep on all of these at once (futex_waitv) */
    unsigned nnotify;             /* entries in notifies, 1..SHMIPC__FUTEX_WAITV_MAX */
    shmipc_wait_mode mode;        /* SHMIPC_WAIT_DEFAULT means HYBRID */
    uint64_t deadline_ns;         /* absolute (shmipc__deadline(timeout_ms)); 0 = try once */
    int timeout_ms;               /* with relative: instead of deadline_ns, as common.h defines timeouts;
                                   * the clock is then read only once the condition first fails, so a
                                   * call that finds its condition true makes no clock read at all */
    bool relative;
    uint64_t spin_ns;             /* hybrid spin budget floor; 0 = SHMIPC__WAIT_SPIN_NS */
    uint64_t slice_ns;            /* 0 = SHMIPC__WAIT_SLICE_NS */
    shmipc__wait_adapt *adapt;    /* NULL = fixed budget */
    bool retry_eintr;
} shmipc__wait_spec;

/* Returns 0 (condition holds), its error, -EAGAIN (deadline 0, unmet), -ETIMEDOUT or -EINTR. */
SHMIPC_INTERNAL int shmipc__wait(const shmipc__wait_spec *w, shmipc__wait_cond_fn cond, void *arg);
/* The hybrid spin budget an adapt state gives a wait beginning at now_ns (a NULL state: the floor):
 * twice the recent short waits, between floor_ns (0 = SHMIPC__WAIT_SPIN_NS) and 256 us; once most recent
 * waits were longer than 256 us, or when this wait begins more than 256 us after the last one ended and
 * just_woke says that the caller has just woken a sleeping peer (which cannot answer before it has been
 * scheduled), floor_ns if the caller set one, else SHMIPC__WAIT_SPIN_SPARSE_NS, or 0 with just_woke. */
SHMIPC_INTERNAL uint64_t shmipc__wait_budget_ns(const shmipc__wait_adapt *a, uint64_t floor_ns, uint64_t now_ns,
                                                bool just_woke);
/* Teach an adapt state one wait that took took_ns and ended at end_ns (shmipc__wait does it after every
 * wait). */
SHMIPC_INTERNAL void shmipc__wait_learn(shmipc__wait_adapt *a, uint64_t took_ns, uint64_t end_ns);
/* The deadline for a timeout as common.h defines it: 0 (try once), negative (none), else now + ms. */
static inline uint64_t shmipc__wait_deadline(int timeout_ms)
{
    return timeout_ms == 0 ? 0 : shmipc__deadline(timeout_ms);
}
/* shmipc__wait with a timeout in ms, the default slice and spin, and an optional adapt state. */
static inline int shmipc__wait_ms(shmipc__notify *n, shmipc_wait_mode mode, int timeout_ms, shmipc__wait_adapt *adapt,
                                  shmipc__wait_cond_fn cond, void *arg)
{
    shmipc__wait_spec w = {.notify = n, .mode = mode, .timeout_ms = timeout_ms, .relative = true, .adapt = adapt};
    return shmipc__wait(&w, cond, arg);
}

/* ---- options structures (docs/api.md, "Options structures") ---- */
/*
 * Take the caller's options src (NULL = defaults) into dst, which the caller has just filled with the
 * defaults (X_opts_init) and whose type is `size` bytes with its reserved room at reserved_off. src's
 * first word is the size it was built with: smaller than the 1.0 structure, larger than 4 KiB, non-zero
 * bytes past what this library knows, or non-zero reserved room is -EINVAL. Afterwards dst->size is
 * this library's size.
 */
SHMIPC_INTERNAL int shmipc__opts_take(void *dst, size_t size, const void *src, size_t reserved_off);
/* Hand the filled structure src (size bytes) back into the caller's dst, whose size word opts_init set:
 * -EINVAL if dst is NULL or its size word is short or absurd. */
SHMIPC_INTERNAL int shmipc__opts_give(void *dst, const void *src, size_t size);
#define SHMIPC__OPTS_TAKE(type, init, dst, src)                                                              \
    (init(dst), shmipc__opts_take((dst), sizeof(type), (src), offsetof(type, reserved)))

/* Is mode one of the shmipc_wait_mode values? */
static inline bool shmipc__wait_mode_valid(int mode) { return mode >= SHMIPC_WAIT_DEFAULT && mode <= SHMIPC_WAIT_HYBRID; }

#endif
