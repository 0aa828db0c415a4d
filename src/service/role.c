/* SPDX-License-Identifier: MIT */
/* service/role.c - the claim of a single-holder role (server, writer); see role.h. */
#include "service/role.h"

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
