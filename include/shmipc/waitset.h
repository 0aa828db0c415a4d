/* SPDX-License-Identifier: MIT */
/*
 * shmipc/waitset.h - wait for any of several handles at once (channel ends, queues, events, event
 * service listeners, pub/sub subscribers), and a file descriptor for event loops (epoll, poll, libuv, GLib, asyncio).
 *
 * A waitset holds up to SHMIPC_WAITSET_MAX handles, each added with the readiness it waits for and a
 * user value. shmipc_waitset_wait() reports which are ready; it consumes nothing: the handle's own
 * receive (or send) call then takes the message. When something is ready already, the wait makes no
 * system call. Otherwise it spins, then sleeps on all the handles' notify words at once (futex_waitv),
 * checking dead peers between 20 ms slices, exactly like a single handle's blocking call.
 *
 * shmipc_waitset_fd() gives a descriptor that is readable whenever the waitset may have something
 * ready: register it with an event loop, and when it is readable call shmipc_waitset_wait() with
 * timeout 0 and serve what it reports. The descriptor stays readable after a wait that reported
 * something (so a loop that serves one message per turn comes back), and goes quiet only after a wait
 * that found nothing. Cost: the first call starts one thread per waitset that sleeps on the notify
 * words in the kernel; each wake-up of an idle loop costs that thread an eventfd write (about 2 system
 * calls and a context switch more than a blocking shmipc call), and an idle waitset wakes its loop once
 * per 20 ms slice so that a dead peer is noticed. Nothing is added to the fast path of the handles.
 *
 * A waitset is used by one thread at a time (the descriptor's internal thread only sleeps on shared
 * words and never touches the handles). A handle must be removed (or the waitset closed) before it is
 * closed. Errors are negative errno values.
 */
#ifndef SHMIPC_WAITSET_H
#define SHMIPC_WAITSET_H

#include <shmipc/channel.h>
#include <shmipc/evsvc.h>
#include <shmipc/event.h>
#include <shmipc/pubsub.h>
#include <shmipc/queue.h>
#include <shmipc/reqresp.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_waitset shmipc_waitset;

/* Readiness bits: what a handle is added for (events) and what a wait reports. */
#define SHMIPC_WAITSET_IN 0x1u  /* a receive (recv, pop, wait) would not wait */
#define SHMIPC_WAITSET_OUT 0x2u /* a send (send, push) would not wait for room */
#define SHMIPC_WAITSET_ERR 0x4u /* reported only: the handle's next call fails (peer gone, corruption) */

#define SHMIPC_WAITSET_MAX 64u /* handles per waitset */

/* One ready handle, as a wait reports it. */
typedef struct shmipc_waitset_ready {
    void *handle;    /* the handle as it was added */
    uint64_t user;   /* the user value given when it was added */
    uint32_t events; /* SHMIPC_WAITSET_IN / OUT, with SHMIPC_WAITSET_ERR when its next call will fail */
    uint32_t reserved;
} shmipc_waitset_ready;

/* shmipc_waitset_create - an empty waitset in *out. Errors: -EINVAL, -ENOMEM. */
SHMIPC_API int shmipc_waitset_create(shmipc_waitset **out);

/* shmipc_waitset_close - stop the descriptor's thread and close the descriptor (if any), free the set;
 * the handles in it are left alone. NULL is accepted. Returns 0. */
SHMIPC_API int shmipc_waitset_close(shmipc_waitset *ws);

/*
 * shmipc_waitset_add_channel - add a channel end. events: SHMIPC_WAITSET_IN for a consumer end,
 * SHMIPC_WAITSET_OUT for a producer end (room for a message of one byte; a larger one may still wait),
 * or 0 for the end's natural direction. A producer whose policy is SHMIPC_CHANNEL_FULL_FAIL is not
 * woken by its consumer, so its room is polled once per slice.
 * shmipc_waitset_add_queue - add a queue handle: IN (a message to pop), OUT (a free slot), or both;
 * 0 means IN.
 * shmipc_waitset_add_event - add an event: IN when it was posted since this handle last looked (the
 * count shmipc_event_wait would return); 0 means IN.
 * shmipc_waitset_add_listener - add an event service listener: IN when any of its events fired since
 * it last looked; 0 means IN.
 * shmipc_waitset_add_subscriber - add a pub/sub subscriber: IN when a sample (or history not yet
 * received) is there for shmipc_pubsub_subscriber_receive; 0 means IN.
 * shmipc_waitset_add_server - add a request/response server: IN when a request is queued for
 * shmipc_reqresp_server_receive (one sent to a server that has since been replaced is dropped by that
 * receive, which then returns -EAGAIN); 0 means IN.
 * shmipc_waitset_add_client - add a request/response client: IN when a response is queued, OUT when
 * there is room to send a request, or both; 0 means IN. ERR when the next call would fail with -EPIPE
 * (the server closed or died with requests of this client pending, or, for OUT, there is no server).
 * user is returned with the handle when it is ready. Errors: -EINVAL (NULL, events the handle cannot
 * have, or an observer end), -EEXIST (the handle is in the set already), -ENOSPC (SHMIPC_WAITSET_MAX
 * handles, or more notify words than one futex_waitv takes).
 */
SHMIPC_API int shmipc_waitset_add_channel(shmipc_waitset *ws, shmipc_channel *ch, uint32_t events, uint64_t user);
SHMIPC_API int shmipc_waitset_add_queue(shmipc_waitset *ws, shmipc_queue *q, uint32_t events, uint64_t user);
SHMIPC_API int shmipc_waitset_add_event(shmipc_waitset *ws, shmipc_event *ev, uint32_t events, uint64_t user);
SHMIPC_API int shmipc_waitset_add_listener(shmipc_waitset *ws, shmipc_evsvc_listener *l, uint32_t events,
                                           uint64_t user);
SHMIPC_API int shmipc_waitset_add_subscriber(shmipc_waitset *ws, shmipc_pubsub_subscriber *sub, uint32_t events,
                                            uint64_t user);
SHMIPC_API int shmipc_waitset_add_server(shmipc_waitset *ws, shmipc_reqresp_server *srv, uint32_t events,
                                         uint64_t user);
SHMIPC_API int shmipc_waitset_add_client(shmipc_waitset *ws, shmipc_reqresp_client *cli, uint32_t events,
                                         uint64_t user);

/* shmipc_waitset_remove - take a handle out of the set. Returns 0 or -ENOENT (not in it), -EINVAL. */
SHMIPC_API int shmipc_waitset_remove(shmipc_waitset *ws, const void *handle);

/*
 * shmipc_waitset_wait - wait until at least one handle is ready, or timeout_ms (-1 for ever, 0 try
 * once). Writes up to cap entries to ready[] (handles are visited round-robin from one wait to the
 * next, so none starves when more are ready than cap) and returns their number (> 0). Dead peers and
 * corrupt handles are reported as ready with SHMIPC_WAITSET_ERR, so that the handle's own call reports
 * the error. Errors: -EINVAL (NULL, cap 0), -EAGAIN (timeout 0, nothing ready), -ETIMEDOUT, -EINTR (a
 * signal handler ran during a sleep), -ENOENT (the set is empty).
 */
SHMIPC_API int shmipc_waitset_wait(shmipc_waitset *ws, int timeout_ms, shmipc_waitset_ready *ready, size_t cap);

/*
 * shmipc_waitset_fd - a descriptor (eventfd, non-blocking, close-on-exec) readable while the set may
 * have something ready, for epoll / poll / select / libuv's uv_poll_t; see the top of this file for the
 * protocol and its cost. The same descriptor is returned by every call; it belongs to the waitset
 * (closed by shmipc_waitset_close): do not close it, and do not read it (the waitset does). Errors:
 * -EINVAL, -ENOMEM, -EMFILE / -ENFILE (eventfd), -EAGAIN (thread creation).
 */
SHMIPC_API int shmipc_waitset_fd(shmipc_waitset *ws);

#ifdef __cplusplus
}
#endif

#endif /* SHMIPC_WAITSET_H */
