/* SPDX-License-Identifier: MIT */
/*
 * common/wait.c - the one wait loop every blocking call of every layer uses (rules in internal.h, "the
 * wait primitive"): try the condition, spin for a time budget, then sleep on a notify word in slices with
 * a slow check (the awaited peer's liveness) between slices, until the condition holds, the deadline
 * passes or a signal handler interrupts a sleep.
 */
#include "common/internal.h"

/* Adaptive hybrid spin: a wait that the spin would have covered (it ended within SPIN_MAX) teaches the
 * handle to spin about that long next time; one that needed a long sleep shrinks the budget again, so
 * sparse traffic costs almost no CPU and dense traffic of large messages never pays a futex round trip. */
#define SPIN_MAX_NS (256u * 1000u)

static uint64_t spin_budget(const shmipc__wait_spec *w, uint64_t now)
{
    switch (w->mode) {
    case SHMIPC_WAIT_SPIN: return SHMIPC_DEADLINE_NEVER;
    case SHMIPC_WAIT_BLOCK: return now;
    default: break;
    }
    uint64_t spin = w->spin_ns ? w->spin_ns : SHMIPC__WAIT_SPIN_NS;
    if (w->adapt) {
        uint64_t learnt = w->adapt->recent_ns + w->adapt->recent_ns / 2;
        if (learnt > spin && learnt <= SPIN_MAX_NS)
            spin = learnt;
    }
    return now + spin;
}

static void learn(const shmipc__wait_spec *w, uint64_t start, uint64_t now)
{
    if (!w->adapt)
        return;
    uint64_t took = now - start;
    /* Exponential average over about four waits; a long wait counts as SPIN_MAX + 1 so it pulls the
     * budget back to the floor quickly instead of teaching us to spin for milliseconds. */
    if (took > SPIN_MAX_NS)
        took = SPIN_MAX_NS + 1;
    w->adapt->recent_ns = (w->adapt->recent_ns * 3 + took) / 4;
}

int shmipc__wait(const shmipc__wait_spec *w, shmipc__wait_cond_fn cond, void *arg)
{
    int r = cond(arg, false);
    if (r)
        return r > 0 ? 0 : r;
    if (w->deadline_ns == 0)
        return -EAGAIN;
    uint64_t start = shmipc__now_ns();
    if (w->deadline_ns <= start)
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
        if (now >= w->deadline_ns)
            return -ETIMEDOUT;
        if (now < spin_until) {
            /* A spinner sharing its CPU with the peer (one core, or oversubscribed) must let it run. */
            if ((++polls & 1023u) == 0)
                sched_yield();
            else
                shmipc__cpu_relax();
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
        uint64_t until = next_slow < w->deadline_ns ? next_slow : w->deadline_ns;
        r = nn == 1 ? shmipc__notify_sleep(ns[0], seen[0], until) : shmipc__notify_sleep_many(ns, seen, nn, until);
        if (r == -EINTR && !w->retry_eintr)
            return -EINTR;
        /* woken, timed out at the slice end, or the word moved: the loop re-checks */
    }
}
