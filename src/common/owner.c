/* SPDX-License-Identifier: MIT */
/*
 * common/owner.c - the one owner identity every layer stores in shared memory: a process packed into
 * one 64-bit word (pid + low bits of its start time) so that a slot is claimed, checked and taken over
 * from a dead owner with a single CAS. Layout and rules in internal.h ("owner identity").
 */
#include "common/internal.h"

#include <unistd.h>

uint64_t shmipc__owner_pack(const shmipc_proc_id *id)
{
    if (!id || id->pid <= 0 || (uint64_t)id->pid > SHMIPC__OWNER_PID_MAX)
        return SHMIPC__OWNER_NONE;
    return ((uint64_t)(uint32_t)id->pid << SHMIPC__OWNER_START_BITS) | (id->start_time & SHMIPC__OWNER_START_MASK);
}

uint64_t shmipc__owner_self(void)
{
    /* Cached per process; re-read after fork (the pid changes). The pid is published last (release), so a
     * thread that sees our pid also sees the matching word. */
    static _Atomic uint64_t cached;
    static _Atomic int32_t cached_pid;
    int32_t pid = (int32_t)getpid();
    if (atomic_load_explicit(&cached_pid, memory_order_acquire) == pid)
        return atomic_load_explicit(&cached, memory_order_relaxed);
    shmipc_proc_id id;
    shmipc_proc_self(&id);
    uint64_t v = shmipc__owner_pack(&id);
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    atomic_store_explicit(&cached_pid, pid, memory_order_release);
    return v;
}

int32_t shmipc__owner_pid(uint64_t owner)
{
    if (owner == SHMIPC__OWNER_NONE || owner == SHMIPC__OWNER_CLOSED)
        return 0;
    return (int32_t)(owner >> SHMIPC__OWNER_START_BITS);
}

int shmipc__owner_alive(uint64_t owner)
{
    int32_t pid = shmipc__owner_pid(owner);
    if (pid <= 0)
        return 0;
    return shmipc__proc_alive_masked(pid, owner, SHMIPC__OWNER_START_MASK);
}

int shmipc__owner_claim(_Atomic uint64_t *word, uint64_t me, uint64_t *prev)
{
    uint64_t cur = atomic_load_explicit(word, memory_order_relaxed);
    for (;;) {
        if (cur != SHMIPC__OWNER_NONE && cur != SHMIPC__OWNER_CLOSED && (cur == me || shmipc__owner_alive(cur)))
            return -EBUSY;
        /* acq_rel: acquire pairs with the previous owner's release (its close, or a reclaim) so the state it
         * left is visible before we build on it; release publishes our claim. On failure cur is reloaded
         * and judged again: exactly one claimer replaces a given dead owner. */
        if (atomic_compare_exchange_weak_explicit(word, &cur, me, memory_order_acq_rel, memory_order_relaxed)) {
            if (prev)
                *prev = cur;
            return 0;
        }
    }
}

bool shmipc__owner_release(_Atomic uint64_t *word, uint64_t me, uint64_t to)
{
    /* release: what the owner wrote is visible to the next claimer (acq_rel CAS above). A CAS, not a store:
     * a slot that was taken over meanwhile (we were judged dead) is never freed by us. */
    return atomic_compare_exchange_strong_explicit(word, &me, to, memory_order_release, memory_order_relaxed);
}
