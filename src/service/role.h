/* SPDX-License-Identifier: MIT */
/*
 * service/role.h - the claim of a single-holder role of a service (a request/response server, a
 * blackboard writer): one owner word, taken from nobody or from a dead holder whose participant slot is
 * then reclaimed. Waiting is the common layer's shmipc__wait.
 */
#ifndef SHMIPC_SVC_ROLE_H
#define SHMIPC_SVC_ROLE_H

#include "service/service_internal.h"

/*
 * Claim the single-holder role recorded in *word (a packed owner id, 0 = none) for me: from 0, or from a
 * holder that died (its participant slot is reclaimed, which must clear *word through the pattern's
 * reclaim; if another process is reclaiming it, the dead id is replaced directly). Returns 0 or -EBUSY
 * (a live holder, possibly me).
 */
SHMIPC_INTERNAL int shmipc__svc_claim_role(shmipc__svc *svc, _Atomic uint64_t *word, uint64_t me);

#endif
