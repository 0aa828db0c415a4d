/* SPDX-License-Identifier: MIT */
/*
 * shmipc/event.h - process-shared events: a post counter that any process may bump and any number of
 * processes may wait on, without a system call when nobody sleeps.
 *
 * Semantics: an event is a 32-bit counter of posts (an "event count"), not a flag and not a semaphore.
 * shmipc_event_post() adds one and wakes every process and thread sleeping on the event. Each handle
 * remembers the count it last saw; shmipc_event_wait() returns as soon as the count differs from it,
 * with the number of posts that happened since (so a waiter learns how many it missed), and takes the
 * new count as its own. Waiters never consume posts from one another: every handle sees every post.
 * A post that lands between a waiter's check and its sleep is never lost (the sleep is a futex wait on
 * the counter itself). A new handle starts at the count current when it was made, so it waits for
 * posts made after that. Counts are modulo 2^32: a waiter that misses exactly 2^32 posts sees none.
 *
 * Two forms:
 *   - in memory the caller provides (a segment's data area, any MAP_SHARED mapping, or one process's
 *     memory for threads): shmipc_event_create_in() lays the event out in SHMIPC_EVENT_SIZE bytes, and each
 *     user makes a handle with shmipc_event_open_in();
 *   - named: shmipc_event_create() / shmipc_event_open() put the event in its own segment of type
 *     SHMIPC_TYPE_EVENT; shmipc_event_unlink() removes the name.
 *
 * The event's memory starts with a magic and version word checked on every call: memory that is not an
 * event, or that a peer overwrote, gives -EBADMSG, never a crash. A peer with write access can still post
 * spuriously, reset the counter or make waiters spin; it cannot make a waiter read outside the event.
 *
 * A handle is not thread-safe (it holds the last count seen): use one handle per thread. Any number of
 * handles, in any number of processes, may use one event at once.
 */
#ifndef SHMIPC_EVENT_H
#define SHMIPC_EVENT_H

#include <shmipc/common.h>
#include <shmipc/segment.h> /* SHMIPC_SEG_ALLOW_FOREIGN, SHMIPC_TYPE_EVENT */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_event shmipc_event;

/* Bytes an event occupies in memory (one cache line). Its address must be 4-byte aligned; 64-byte
 * alignment keeps it from sharing a cache line with other data. */
#define SHMIPC_EVENT_SIZE 64

typedef struct shmipc_event_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    shmipc_wait_mode wait_mode; /* how shmipc_event_wait waits; 0 = SHMIPC_WAIT_HYBRID */
    unsigned spin_us;           /* HYBRID: least time to poll before sleeping, in us; 0 = default (20, 5 in sparse traffic) */
    unsigned mode;              /* create: permission bits of the segment; 0 = 0600 */
    unsigned flags;             /* open: 0 or SHMIPC_SEG_ALLOW_FOREIGN */
    uint32_t pad0;
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_event_opts;

/* shmipc_event_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_event_opts_init(shmipc_event_opts *opts);

/*
 * shmipc_event_create_in - lay out a new event, with a count of 0, in size bytes at mem.
 * mem must be shared by every user (MAP_SHARED for processes) and must not be in use as an event:
 * initialising an event others wait on loses their posts. Call it once, then hand the memory to users,
 * who call shmipc_event_open_in(). The magic word is stored last with release order, so an attach that
 * sees it (acquire) sees a complete event.
 * Returns 0, or -EINVAL (mem NULL or not 4-byte aligned, size < SHMIPC_EVENT_SIZE).
 * Not safe against concurrent use of the same memory.
 */
SHMIPC_API int shmipc_event_create_in(void *mem, size_t size);

/*
 * shmipc_event_open_in - make a handle for the event at mem (laid out by shmipc_event_create_in, in this or
 * another process). The handle does not own mem: keep it mapped until shmipc_event_close(). opts may
 * be NULL. On success *out holds the handle, whose last-seen count is the event's current count.
 * Errors: -EINVAL (NULL argument, misaligned mem, size < SHMIPC_EVENT_SIZE, bad opts), -EBADMSG (mem
 *         holds no event: wrong magic), -EPROTO (an event of a layout version this library does not
 *         know), -ENOMEM.
 */
SHMIPC_API int shmipc_event_open_in(void *mem, size_t size, const shmipc_event_opts *opts,
                                   shmipc_event **out);

/*
 * shmipc_event_create - create a named event in a new POSIX segment of type SHMIPC_TYPE_EVENT.
 * Creation is exclusive. opts may be NULL. On success *out holds a handle (last-seen count 0).
 * Errors: -EINVAL (bad name or opts), -ENOMEM, and those of shmipc_segment_create (-EEXIST,
 *         -ENAMETOOLONG, -ENOSPC, -EACCES, -EMFILE, ...).
 */
SHMIPC_API int shmipc_event_create(const char *name, const shmipc_event_opts *opts, shmipc_event **out);

/*
 * shmipc_event_open - open a named event made by shmipc_event_create.
 * Errors: -EINVAL, -ENOMEM, those of shmipc_segment_open (-ENOENT, -EPERM, -EACCES, -EPROTOTYPE for a
 *         segment of another type, -ETIMEDOUT, -ENOTRECOVERABLE, ...), -EBADMSG (the segment is too small
 *         or holds no valid event), -EPROTO.
 */
SHMIPC_API int shmipc_event_open(const char *name, const shmipc_event_opts *opts, shmipc_event **out);

/*
 * shmipc_event_close - free the handle and, for a named event, unmap its segment. The event and its
 * name stay for others. A thread blocked in shmipc_event_wait on this handle must have returned first.
 * Closing NULL is a no-op. Returns 0.
 */
SHMIPC_API int shmipc_event_close(shmipc_event *ev);

/*
 * shmipc_event_unlink - remove a named event's name (as shmipc_segment_unlink). Errors: -EINVAL,
 * -ENAMETOOLONG, -ENOENT, -EACCES.
 */
SHMIPC_API int shmipc_event_unlink(const char *name);

/*
 * shmipc_event_post - add one to the event's count and wake every waiter sleeping on it (in any
 * process). Makes no system call when no waiter sleeps. Lock-free, async-signal-safe, and safe from
 * any number of threads and processes at once (it does not touch the handle's own state).
 * Returns 0, or -EBADMSG (the event's memory was overwritten).
 */
SHMIPC_API int shmipc_event_post(shmipc_event *ev);

/*
 * shmipc_event_wait - wait until the event's count differs from the count this handle last saw.
 * timeout_ms: 0 = only check, negative = no limit, positive = at most that many milliseconds.
 * The handle's wait mode decides how (common.h): SPIN polls, BLOCK sleeps on a futex at once, HYBRID
 * polls for spin_us (adapting to the traffic) then sleeps.
 * Returns the number of posts since the handle last saw the count (>= 1, modulo 2^32, at most INT_MAX)
 * and takes the new count as seen; the successful wait is an acquire that pairs with the post (a
 * release), so data written before a post is visible after the wait that sees it.
 * Errors: -EAGAIN (timeout 0 and no new post), -ETIMEDOUT, -EINTR (a signal interrupted the sleep; the
 * handle is unchanged), -EBADMSG (the event's memory was overwritten), -EINVAL (ev NULL).
 * Polling yields the CPU (sched_yield) every 1024 polls so that a spinning waiter cannot starve the
 * poster on a busy machine.
 * An event nobody posts is waited on until the timeout: there is no "peer" whose death ends the wait.
 */
SHMIPC_API int shmipc_event_wait(shmipc_event *ev, int timeout_ms);

/*
 * shmipc_event_count - the event's current post count (modulo 2^32) in *count, without changing what
 * the handle has seen. Returns 0, -EINVAL or -EBADMSG.
 */
SHMIPC_API int shmipc_event_count(const shmipc_event *ev, uint32_t *count);

#ifdef __cplusplus
}
#endif
#endif
