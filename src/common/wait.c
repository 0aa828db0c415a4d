/* SPDX-License-Identifier: MIT */
/*
 * common/wait.c - the one wait loop every blocking call of every layer uses (rules in internal.h, "the
 * wait primitive"): try the condition, spin for a time budget, then sleep on a notify word in slices with
 * a slow check (the awaited peer's liveness) between slices, until the condition holds, the deadline
 * passes or a signal handler interrupts a sleep.
 */
#include "common/internal.h"

/*
 * Adaptive hybrid spin. A handle remembers two things about its recent waits (shmipc__wait_adapt.state):
 *  - how long the waits that a spin could have covered took (those that ended within SPIN_MAX):
 *    an average over about four of them, in the low 32 bits, in ns;
 *  - which share of all recent waits were longer than that (sparse traffic): an average over about eight
 *    waits, in 1/LONG_ONE, in the high 32 bits.
 * While most waits are short the budget is twice their average, at least the floor (spin_ns) and at most
 * SPIN_MAX, so dense traffic of any message size is caught by the spin and never pays a futex round trip;
 * once most waits are long (a rate below about 1 / SPIN_MAX) the budget falls to
 * SHMIPC__WAIT_SPIN_SPARSE_NS (or the caller's own floor, if it set one) and sparse traffic costs almost
 * no CPU: there a spin rarely catches anything, and the 20 us it used to cost per wait was most of the
 * CPU that the low-rate benchmark counted against a pipe (about a fifth less with 5 us, measured). A wait that slept is learnt like any other: its length includes the
 * wake-up, so it errs towards spinning next time, which is what stops the mode from locking itself into
 * sleeping (issue 9: the old rule dropped to the floor as soon as 1.5x the average passed SPIN_MAX, so waits
 * lengthened by wake-ups kept every later wait asleep). One long wait among short ones (a preempted peer)
 * moves the share by 1/8 only and does not throw the budget away.
 */
#define SPIN_MAX_NS (256u * 1000u)
#define LONG_ONE 1024u

static uint64_t adapt_short(uint64_t st) { return st & 0xffffffffu; }
static uint64_t adapt_long(uint64_t st) { return st >> 32; }

uint64_t shmipc__wait_budget_ns(const shmipc__wait_adapt *a, uint64_t floor_ns)
{
    uint64_t spin = floor_ns ? floor_ns : SHMIPC__WAIT_SPIN_NS;
    if (!a)
        return spin;
    if (adapt_long(a->state) > LONG_ONE / 2)
        return floor_ns ? floor_ns : SHMIPC__WAIT_SPIN_SPARSE_NS;
    uint64_t want = 2 * adapt_short(a->state);
    if (want > SPIN_MAX_NS)
        want = SPIN_MAX_NS;
    return want > spin ? want : spin;
}

void shmipc__wait_learn(shmipc__wait_adapt *a, uint64_t took_ns)
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
    a->state = lg << 32 | sh;
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
    return now + shmipc__wait_budget_ns(w->adapt, w->spin_ns);
}

static void learn(const shmipc__wait_spec *w, uint64_t start, uint64_t now) { shmipc__wait_learn(w->adapt, now - start); }

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
