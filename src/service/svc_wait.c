/* SPDX-License-Identifier: MIT */
/*
 * service/svc_wait.c - the sliced wait loop and the single-holder role claim of the service patterns (see
 * svc_wait.h). Blocking follows the notify protocol: announce, re-check, sleep; so a waker makes no
 * system call while nobody sleeps.
 */
#include "service/svc_wait.h"

int shmipc__svc_wait(shmipc__notify *n, shmipc_wait_mode mode, int timeout_ms, shmipc__svc_cond_fn cond,
                     void *arg)
{
    int r = cond(arg, false);
    if (r)
        return r > 0 ? 0 : r;
    if (timeout_ms == 0)
        return -EAGAIN;
    uint64_t now = shmipc__now_ns();
    uint64_t deadline = shmipc__deadline(timeout_ms);
    uint64_t spin_until = mode == SHMIPC_WAIT_SPIN ? SHMIPC_DEADLINE_NEVER
                          : mode == SHMIPC_WAIT_BLOCK ? 0
                                                       : now + SHMIPC__SVC_SPIN_NS;
    uint64_t next_slow = now + SHMIPC__SVC_SLICE_NS;
    for (;;) {
        now = shmipc__now_ns();
        bool slow = now >= next_slow;
        if (slow)
            next_slow = now + SHMIPC__SVC_SLICE_NS;
        r = cond(arg, slow);
        if (r)
            return r > 0 ? 0 : r;
        if (now >= deadline)
            return -ETIMEDOUT;
        if (now < spin_until) {
            shmipc__cpu_relax();
            continue;
        }
        uint32_t seen = shmipc__notify_prepare(n);
        r = cond(arg, false);
        if (r) {
            shmipc__notify_cancel(n);
            return r > 0 ? 0 : r;
        }
        uint64_t until = next_slow < deadline ? next_slow : deadline;
        shmipc__notify_sleep(n, seen, until); /* any return: loop re-checks */
    }
}

int shmipc__svc_claim_role(shmipc__svc *svc, _Atomic uint64_t *word, uint64_t me)
{
    uint64_t cur = 0;
    for (;;) {
        /* acq_rel: acquire pairs with the previous holder's release (its clean close, or the reclaim) so
         * its writes to the shared state are visible before we go on from them; release publishes us. */
        if (atomic_compare_exchange_strong_explicit(word, &cur, me, memory_order_acq_rel, memory_order_acquire))
            return 0;
        if (cur == me || shmipc__owner_alive(cur))
            return -EBUSY;
        if (shmipc__svc_reclaim_dead(svc) > 0)
            cur = 0; /* else cur still holds the dead id: the CAS replaces exactly it */
    }
}
