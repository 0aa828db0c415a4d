/* SPDX-License-Identifier: MIT */
/*
 * service/svc_wait.h - what the request/response, blackboard and event patterns share: the blocking loop
 * (spin / block / hybrid waits on a notify word with a timeout, sliced so that a waiter re-checks its
 * peer's liveness or reclaims dead participants at least every SHMIPC__SVC_SLICE_NS and never sleeps
 * forever on a dead process), and the claim of a single-holder role (server, writer).
 */
#ifndef SHMIPC_SVC_WAIT_H
#define SHMIPC_SVC_WAIT_H

#include "service/service_internal.h"

/* Longest sleep between two slow checks: bounds how long a waiter takes to notice a dead peer. */
#define SHMIPC__SVC_SLICE_NS (50u * 1000u * 1000u)
/* How long SHMIPC_WAIT_HYBRID spins before it sleeps. */
#define SHMIPC__SVC_SPIN_NS (20u * 1000u)

/*
 * The waiter's condition: return 1 when it holds (the wait returns 0), 0 to keep waiting, or a negative
 * error to return. slow is true at most once per slice: the place for costly checks (peer liveness).
 */
typedef int (*shmipc__svc_cond_fn)(void *arg, bool slow);

/*
 * Wait on n until cond holds. timeout_ms follows common.h (0: check once, -EAGAIN if unmet; negative:
 * no limit; positive: -ETIMEDOUT after it). mode SHMIPC_WAIT_DEFAULT means hybrid. Returns 0, cond's
 * error, -EAGAIN or -ETIMEDOUT. EINTR is retried.
 */
SHMIPC_INTERNAL int shmipc__svc_wait(shmipc__notify *n, shmipc_wait_mode mode, int timeout_ms,
                                     shmipc__svc_cond_fn cond, void *arg);

/*
 * Claim the single-holder role recorded in *word (a packed owner id, 0 = none) for me: from 0, or from a
 * holder that died (its participant slot is reclaimed, which must clear *word through the pattern's
 * reclaim; if another process is reclaiming it, the dead id is replaced directly). Returns 0 or -EBUSY
 * (a live holder, possibly me).
 */
SHMIPC_INTERNAL int shmipc__svc_claim_role(shmipc__svc *svc, _Atomic uint64_t *word, uint64_t me);

/* Is mode one of the shmipc_wait_mode values? */
static inline bool shmipc__wait_mode_valid(int mode) { return mode >= SHMIPC_WAIT_DEFAULT && mode <= SHMIPC_WAIT_HYBRID; }

#endif
