/* SPDX-License-Identifier: MIT */
/*
 * common/wait.c - the one wait loop every blocking call of every layer uses (rules in internal.h, "the
 * wait primitive"): try the condition, spin for a time budget, then sleep on a notify word in slices with
 * a slow check (the awaited peer's liveness) between slices, until the condition holds, the deadline
 * passes or a signal handler interrupts a sleep.
 */
#include "common/internal.h"

/*
 * Adaptive hybrid spin. A handle remembers three things about its recent waits (shmipc__wait_adapt.state):
 *  - how long the waits that a spin could have covered took (those that ended within SPIN_MAX):
 *    an average over about four of them, in ns (bits 0-17);
 *  - which share of all recent waits were longer than that (sparse traffic): an average over about eight
 *    waits, in 1/LONG_ONE (bits 18-28);
 *  - when the last wait ended, in units of 1024 ns modulo 2^32 (bits 32-63; bit 29 says it is set).
 * While most waits are short the budget is twice their average, at least the floor (spin_ns) and at most
 * SPIN_MAX, so dense traffic of any message size is caught by the spin and never pays a futex round trip.
 * Traffic is sparse in two cases, and the budget then falls to SHMIPC__WAIT_SPIN_SPARSE_NS (or the
 * caller's own floor, if it set one):
 *  - most recent waits were long (a rate below about 1 / SPIN_MAX): there a spin rarely catches anything,
 *    and the 20 us it used to cost per wait was most of the CPU the low-rate benchmark counted against a
 *    pipe;
 *  - this wait begins more than SPIN_MAX after the previous one ended and this thread has just woken a
 *    sleeper: a caller paced by something else (a timer, another descriptor) waiting for the reply of a
 *    server it has just woken, which takes the server's wake-up (25-50 us here, half the CPU of a pipe's
 *    round trip if spun through). Only then: a busy handle that rarely waits keeps its spin, since its
 *    calls that find their condition true teach the state nothing. Whether it sleeps does not change the
 *    gap, so the rule cannot lock itself in.
 * In sparse traffic the short spin is worth its CPU when the peer is awake (a busy server answers within
 * a microsecond or two), but not right after this thread woke a sleeper, most likely the peer that will
 * answer: it cannot run before the scheduler has switched to it, far beyond the spin, so such a wait
 * sleeps at once (budget 0, unless the caller set a floor). A low-rate exchange of sleeping peers then
 * costs what blocking waits cost.
 * A wait that slept is learnt like any other: its length includes the wake-up, so it errs towards spinning
 * next time, which is what stops the mode from locking itself into sleeping (issue 9: the old rule dropped
 * to the floor as soon as 1.5x the average passed SPIN_MAX, so waits lengthened by wake-ups kept every later
 * wait asleep). One long wait among short ones (a preempted peer) moves the share by 1/8 only and does not
 * throw the budget away.
 */
#define SPIN_MAX_NS (256u * 1000u)
#define LONG_ONE 1024u
#define SHORT_MASK ((1u << 18) - 1)
#define LONG_SHIFT 18
#define END_SET (1u << 29)
#define END_SHIFT 10 /* end times are kept in units of 1024 ns */

static uint64_t adapt_short(uint64_t st) { return st & SHORT_MASK; }
static uint64_t adapt_long(uint64_t st) { return (st >> LONG_SHIFT) & (2 * LONG_ONE - 1); /* 11 bits */ }

/* Whether a wait beginning at now_ns begins more than SPIN_MAX after the state's last wait ended. */
static bool adapt_gap_long(uint64_t st, uint64_t now_ns)
{
    if (!(st & END_SET))
        return false; /* no wait ended yet: nothing known */
    uint32_t gap = (uint32_t)(now_ns >> END_SHIFT) - (uint32_t)(st >> 32); /* modulo 2^32: wraps are harmless */
    return (uint64_t)gap << END_SHIFT > SPIN_MAX_NS;
}

uint64_t shmipc__wait_budget_ns(const shmipc__wait_adapt *a, uint64_t floor_ns, uint64_t now_ns, bool just_woke)
{
    uint64_t spin = floor_ns ? floor_ns : SHMIPC__WAIT_SPIN_NS;
    if (!a)
        return spin;
    if (adapt_long(a->state) > LONG_ONE / 2 || (just_woke && adapt_gap_long(a->state, now_ns)))
        return floor_ns ? floor_ns : just_woke ? 0 : SHMIPC__WAIT_SPIN_SPARSE_NS;
    uint64_t want = 2 * adapt_short(a->state);
    if (want > SPIN_MAX_NS)
        want = SPIN_MAX_NS;
    return want > spin ? want : spin;
}

void shmipc__wait_learn(shmipc__wait_adapt *a, uint64_t took_ns, uint64_t end_ns)
{
    if (!a)
        return;
    uint64_t sh = adapt_short(a->state), lg = adapt_long(a->state);
    /* The state may come from another thread's copy (queue handles): keep it in range whatever it is. */
    if (sh > SPIN_MAX_NS)
        sh = SPIN_MAX_NS;
    if (lg > LONG_ONE)
        lg = LONG_ONE;
    if (took_ns > SPIN_MAX_NS) {
        lg = (lg * 7 + LONG_ONE) / 8;
    } else {
        lg = lg * 7 / 8;
        sh = (sh * 3 + took_ns) / 4;
    }
    a->state = (uint64_t)(uint32_t)(end_ns >> END_SHIFT) << 32 | END_SET | lg << LONG_SHIFT | sh;
}

/* Condition polls between two clock reads while spinning (a power of two dividing 1024). */
#define SPIN_POLLS_PER_CLOCK 8u

static uint64_t spin_budget(const shmipc__wait_spec *w, uint64_t now)
{
    switch (w->mode) {
    case SHMIPC_WAIT_SPIN: return SHMIPC_DEADLINE_NEVER;
    case SHMIPC_WAIT_BLOCK: return now;
    default: break;
    }
    /* A peer this thread has just woken (most likely the one that will answer) is not running yet. */
    bool just_woke = now - shmipc__notify_woke_at() < SHMIPC__WAIT_SPIN_NS;
    return now + shmipc__wait_budget_ns(w->adapt, w->spin_ns, now, just_woke);
}

static void learn(const shmipc__wait_spec *w, uint64_t start, uint64_t now)
{
    shmipc__wait_learn(w->adapt, now - start, now);
}

int shmipc__wait(const shmipc__wait_spec *w, shmipc__wait_cond_fn cond, void *arg)
{
    int r = cond(arg, false);
    if (r)
        return r > 0 ? 0 : r;
    if (w->relative ? w->timeout_ms == 0 : w->deadline_ns == 0)
        return -EAGAIN;
    uint64_t start = shmipc__now_ns();
    uint64_t deadline = !w->relative         ? w->deadline_ns
                        : w->timeout_ms < 0 ? SHMIPC_DEADLINE_NEVER
                                            : start + (uint64_t)w->timeout_ms * 1000000u;
    if (deadline <= start)
        return -ETIMEDOUT;
    uint64_t spin_until = spin_budget(w, start);
    uint64_t slice = w->slice_ns ? w->slice_ns : SHMIPC__WAIT_SLICE_NS;
    uint64_t next_slow = start + slice;
    unsigned polls = 0;
    for (;;) {
        uint64_t now = shmipc__now_ns();
        bool slow = now >= next_slow;
        if (slow)
            next_slow = now + slice;
        r = cond(arg, slow);
        if (r) {
            learn(w, start, now);
            return r > 0 ? 0 : r;
        }
        if (now >= deadline)
            return -ETIMEDOUT;
        if (now < spin_until) {
            /* A spinner sharing its CPU with the peer (one core, or oversubscribed) must let it run. */
            if ((polls += SPIN_POLLS_PER_CLOCK) % 1024u == 0) {
                sched_yield();
                continue;
            }
            /* Several polls per clock read: on some hosts (paravirtual clocks) a read costs more than a
             * poll, and it would delay the poll that sees the peer's store. The spin budget and the
             * deadline are kept to within these few polls. */
            for (unsigned i = 0; i < SPIN_POLLS_PER_CLOCK; i++) {
                shmipc__cpu_relax();
                r = cond(arg, false);
                if (r) {
                    learn(w, start, now);
                    return r > 0 ? 0 : r;
                }
            }
            continue;
        }
        shmipc__notify *const *ns = w->nnotify ? w->notifies : &w->notify;
        unsigned nn = w->nnotify ? w->nnotify : 1;
        if (!ns[0]) { /* nothing to sleep on: poll gently until the next slice */
            sched_yield();
            continue;
        }
        uint32_t seen[SHMIPC__FUTEX_WAITV_MAX];
        if (nn > SHMIPC__FUTEX_WAITV_MAX)
            return -EINVAL;
        for (unsigned i = 0; i < nn; i++)
            seen[i] = shmipc__notify_prepare(ns[i]);
        r = cond(arg, false);
        if (r) {
            for (unsigned i = 0; i < nn; i++)
                shmipc__notify_cancel(ns[i]);
            learn(w, start, shmipc__now_ns());
            return r > 0 ? 0 : r;
        }
        uint64_t until = next_slow < deadline ? next_slow : deadline;
        r = nn == 1 ? shmipc__notify_sleep(ns[0], seen[0], until) : shmipc__notify_sleep_many(ns, seen, nn, until);
        if (r == -EINTR && !w->retry_eintr)
            return -EINTR;
        /* woken, timed out at the slice end, or the word moved: the loop re-checks */
    }
}
