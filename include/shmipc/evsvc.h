/* SPDX-License-Identifier: MIT */
/*
 * shmipc/evsvc.h - the event service: a named set of events (ids 0..max_events-1) that notifiers signal
 * and listeners wait for. Each event id is a counter: a listener learns which event fired and how many
 * times since it last looked (notifications are coalesced, never lost). A listener can wait on several
 * event services at once (shmipc_evsvc_listener_wait_any).
 *
 * No polling: every listener has its own futex word in the service segment; a notifier bumps the event's
 * counter and wakes each registered listener, which costs a system call only for a listener that sleeps.
 * Waiting on several services uses futex_waitv (Linux 5.16+) over the listeners' words; on older kernels
 * (or where a seccomp filter refuses it) it falls back to sleeping on the first one in 1 ms slices while
 * checking the others.
 * (Not to be confused with shmipc/event.h, the sync layer's in-memory event object.)
 */
#ifndef SHMIPC_EVSVC_H
#define SHMIPC_EVSVC_H

#include <shmipc/common.h>
#include <shmipc/service.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_evsvc_notifier shmipc_evsvc_notifier;
typedef struct shmipc_evsvc_listener shmipc_evsvc_listener;

#define SHMIPC_EVSVC_MAX_EVENTS 4096u
#define SHMIPC_EVSVC_MAX_WAIT_ANY 128u /* listeners in one shmipc_evsvc_listener_wait_any call */

/*
 * Settings of an event service. Whoever opens it first creates it with them (zero = default); later
 * openers' non-zero fields must equal the service's, else -EPROTOTYPE with shmipc_service_error_detail().
 */
typedef struct shmipc_evsvc_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    uint32_t max_events;      /* event ids 0..max_events-1; 0 = 64 */
    uint32_t max_participants; /* notifiers + listeners attached at once; 0 = 32 */
    unsigned mode;            /* segment permission bits at creation; 0 = 0600 */
    shmipc_wait_mode wait_mode; /* how a listener waits; 0 = hybrid */
    uint32_t pad0;
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_evsvc_opts;

/* shmipc_evsvc_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_evsvc_opts_init(shmipc_evsvc_opts *opts);

/*
 * shmipc_evsvc_notifier_create / shmipc_evsvc_listener_open - attach to event service name as a notifier or a listener,
 * creating the service if it does not exist (or replacing one with other settings that no live process
 * uses). opts may be NULL. A new listener sees only notifications made after it attached.
 * Errors: -EINVAL (bad name or option), -ENAMETOOLONG, -EPROTOTYPE, -EUSERS (max_participants attached),
 * -EBADMSG (corrupt service), -ENOMEM, errors of shmipc_segment_create/open.
 * Thread safety: one thread at a time per handle; process-safe.
 */
SHMIPC_API int shmipc_evsvc_notifier_create(const char *name, const shmipc_evsvc_opts *opts,
                                            shmipc_evsvc_notifier **out);
SHMIPC_API int shmipc_evsvc_listener_open(const char *name, const shmipc_evsvc_opts *opts, shmipc_evsvc_listener **out);

/*
 * shmipc_evsvc_notifier_notify - signal event_id: bump its counter and wake the listeners. Never blocks.
 * Errors: -EINVAL (NULL, event_id >= max_events).
 */
SHMIPC_API int shmipc_evsvc_notifier_notify(shmipc_evsvc_notifier *n, uint32_t event_id);

/*
 * shmipc_evsvc_listener_wait - wait per timeout_ms for an event; *event_id (may be NULL) receives its id. Events
 * pending together are returned one per call, round-robin over ids. Returns how many times that event
 * was signalled since this listener last returned it (>= 1).
 * Errors: -EINVAL, -EAGAIN (timeout 0, nothing pending), -ETIMEDOUT, -EBADMSG (a counter went
 * backwards: corrupt service; reported once, later waits follow the counter from its new value).
 */
SHMIPC_API int shmipc_evsvc_listener_wait(shmipc_evsvc_listener *l, int timeout_ms, uint32_t *event_id);

/*
 * shmipc_evsvc_listener_wait_any - wait per timeout_ms until any of the n listeners (of the same or different
 * services) has an event. *which (may be NULL) receives the index in ls, *event_id (may be NULL) the event.
 * Listeners are checked in order, so an earlier one is preferred when several have events. Returns the
 * count as shmipc_evsvc_listener_wait. The wait mode of ls[0] applies.
 * Errors: -EINVAL (NULL, n == 0 or n > SHMIPC_EVSVC_MAX_WAIT_ANY), -EAGAIN, -ETIMEDOUT, -EBADMSG.
 */
SHMIPC_API int shmipc_evsvc_listener_wait_any(shmipc_evsvc_listener *const *ls, size_t n, int timeout_ms, size_t *which,
                                        uint32_t *event_id);

/* shmipc_evsvc_notifier_close / shmipc_evsvc_listener_close - detach and free the handle. NULL is a no-op. Returns 0.
 */
SHMIPC_API int shmipc_evsvc_notifier_close(shmipc_evsvc_notifier *n);
SHMIPC_API int shmipc_evsvc_listener_close(shmipc_evsvc_listener *l);

/* shmipc_evsvc_unlink - remove the name. Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES. */
SHMIPC_API int shmipc_evsvc_unlink(const char *name);

#ifdef __cplusplus
}
#endif
#endif
