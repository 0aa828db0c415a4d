/* SPDX-License-Identifier: MIT */
/*
 * shmipc/channel.h - a channel: one producer and one consumer passing variable-size messages through a
 * ring in shared memory, by copy or in place (zero-copy), one at a time or in batches.
 *
 * A message moves with plain loads and stores: no system call is made while neither side sleeps. A side
 * that must wait spins, sleeps on a futex in the segment, or both (shmipc_wait_mode); a sleeping side is
 * woken by its peer only when it announced itself. Each endpoint records its process identity, so a side
 * waiting on a peer that died returns -EPIPE instead of hanging, and a new process can take over the
 * vacant endpoint. Everything read from shared memory is checked before use: a corrupt ring makes calls
 * fail with -EBADMSG, never read or write outside the segment.
 *
 * Handles: a handle belongs to the process (and, unless serialised, the thread) that made it; a child
 * created by fork() must open its own handle (shmipc_channel_open_in on the inherited segment). The
 * producer handle may only send, the consumer handle only receive; one of each per channel at a time.
 */
#ifndef SHMIPC_CHANNEL_H
#define SHMIPC_CHANNEL_H

#include <shmipc/common.h>
#include <shmipc/segment.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_channel shmipc_channel;

/* Which end of the channel a handle is. */
typedef enum shmipc_channel_role {
    SHMIPC_CHANNEL_PRODUCER = 1, /* sends; the default role of a creator */
    SHMIPC_CHANNEL_CONSUMER = 2, /* receives */
    SHMIPC_CHANNEL_OBSERVER = 3, /* neither: only reads statistics (for tools); claims no endpoint */
} shmipc_channel_role;

/* What a send does when the ring has no room, chosen at creation. */
typedef enum shmipc_channel_full_policy {
    SHMIPC_CHANNEL_FULL_BLOCK = 0,     /* wait for room, as the call's timeout says (default) */
    SHMIPC_CHANNEL_FULL_FAIL = 1,      /* return -EAGAIN at once, whatever the timeout */
    SHMIPC_CHANNEL_FULL_OVERWRITE = 2, /* drop the oldest messages (sensor streams); see shmipc_channel_dropped */
} shmipc_channel_full_policy;

/* Smallest and largest ring capacities, in bytes. */
#define SHMIPC_CHANNEL_MIN_CAPACITY 64u
#define SHMIPC_CHANNEL_MAX_CAPACITY (1u << 30)
/* Default ring capacity. */
#define SHMIPC_CHANNEL_DEFAULT_CAPACITY (64u * 1024u)

typedef struct shmipc_channel_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    shmipc_channel_role role;     /* create, create_in: the creator's role; 0 = producer */
    shmipc_channel_full_policy full_policy; /* create, create_in */
    shmipc_wait_mode wait_mode;   /* this endpoint's wait mode; 0 = SHMIPC_WAIT_HYBRID */
    unsigned spin_us;             /* SHMIPC_WAIT_HYBRID: least microseconds to spin before sleeping; 0 = 20 (5 in sparse traffic) */
    unsigned mode;                /* create: permission bits of the segment, exactly; 0 = 0600 */
    unsigned seg_flags;           /* SHMIPC_SEG_ALLOW_FOREIGN (open), SHMIPC_SEG_NO_RESERVE (create) */
    uint32_t pad0;
    size_t capacity;              /* create: ring bytes, rounded up to a power of two; 0 = 64 KiB
                                     (create_in: 0 = the largest power of two the segment holds) */
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_channel_opts;

/* shmipc_channel_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_channel_opts_init(shmipc_channel_opts *opts);

/*
 * shmipc_channel_size - bytes of segment data a channel with this ring capacity needs (header included),
 * for sizing a segment passed to shmipc_channel_create_in. capacity is rounded up as by create.
 * Returns 0 if capacity is above SHMIPC_CHANNEL_MAX_CAPACITY.
 */
SHMIPC_API size_t shmipc_channel_size(size_t capacity);

/*
 * shmipc_channel_create - create a named channel (a POSIX segment of type SHMIPC_TYPE_CHANNEL), initialise
 * it and make it visible to openers only once initialised. The handle takes opts->role (default producer).
 * opts may be NULL. Close with shmipc_channel_close; remove the name with shmipc_channel_unlink.
 * Errors: -EINVAL (bad name, role, policy, wait mode or capacity 0 < c < 64 or > 1 GiB), -ENAMETOOLONG,
 *         -EEXIST, -ENOSPC, -EACCES, -EMFILE, -ENOMEM, or another error of shmipc_segment_create.
 * Thread-safe (each call makes its own handle).
 */
SHMIPC_API int shmipc_channel_create(const char *name, const shmipc_channel_opts *opts, shmipc_channel **out);

/*
 * shmipc_channel_open - open the named channel as role. The producer and consumer roles are exclusive:
 * opening a role whose owner process is alive gives -EBUSY; a role whose owner died or closed is taken
 * over (atomically, so of two racing openers one wins). A new producer continues after the last committed
 * message; a new consumer starts at the oldest unconsumed one (a message its predecessor was reading but
 * had not released is delivered again). opts may be NULL (only wait_mode, spin_us, seg_flags are used).
 * Errors: -EINVAL (bad role or options), -ENOENT, -EACCES, -EPERM (foreign owner), -EPROTOTYPE (not a
 *         channel), -EBADMSG (corrupt or broken channel, see shmipc_channel_open_in), -EBUSY, -ETIMEDOUT,
 *         -ENOTRECOVERABLE (creator died before publishing), -ENOMEM, or another shmipc_segment_open error.
 */
SHMIPC_API int shmipc_channel_open(const char *name, shmipc_channel_role role, const shmipc_channel_opts *opts,
                                   shmipc_channel **out);

/*
 * shmipc_channel_create_in - initialise a channel in the data area of a segment the caller made (typically
 * a memfd segment, shared afterwards by fork() or SCM_RIGHTS). Do it before any other process uses the
 * segment. The handle borrows seg: seg must stay open until the channel handle is closed, and is not
 * closed by it. Only capacity, role, full_policy, wait_mode, spin_us of opts are used.
 * Errors: -EINVAL (bad options, seg NULL), -ENOSPC (the data area is too small for the capacity or for
 *         the smallest ring), -EPERM (read-only segment handle: SHMIPC_SEG_RDONLY), -ENOMEM.
 */
SHMIPC_API int shmipc_channel_create_in(shmipc_segment *seg, const shmipc_channel_opts *opts,
                                        shmipc_channel **out);

/*
 * shmipc_channel_open_in - open the channel in seg's data area as role (see shmipc_channel_open for the
 * role rules). seg is borrowed as by create_in. The channel header is validated first: magic, version,
 * ring offset and capacity (a power of two within the segment), policy, maximum message size; any
 * disagreement, or a channel already marked broken (except for SHMIPC_CHANNEL_OBSERVER), gives -EBADMSG.
 * Errors: -EINVAL, -EBADMSG, -EBUSY, -EPERM (producer or consumer on a read-only segment), -ENOMEM.
 */
SHMIPC_API int shmipc_channel_open_in(shmipc_segment *seg, shmipc_channel_role role,
                                      const shmipc_channel_opts *opts, shmipc_channel **out);

/*
 * shmipc_channel_close - give up the endpoint (the peer then sees -EPIPE once the ring is drained or, for
 * a producer, when it would wait for room), wake a sleeping peer, free the handle, and close the segment
 * if the handle opened it by name. A pending reservation or peek is dropped (an unreleased message stays
 * in the ring). Closing NULL is a no-op. Returns 0.
 */
SHMIPC_API int shmipc_channel_close(shmipc_channel *ch);

/* shmipc_channel_unlink - remove a named channel's name (as shmipc_segment_unlink). */
SHMIPC_API int shmipc_channel_unlink(const char *name);

/*
 * shmipc_channel_set_wait - change this endpoint's wait mode for the following calls (SHMIPC_WAIT_DEFAULT
 * restores the mode given at open). Returns 0 or -EINVAL.
 */
SHMIPC_API int shmipc_channel_set_wait(shmipc_channel *ch, shmipc_wait_mode mode);

/* shmipc_channel_max_msg - the largest message this channel carries (capacity / 2 - 16 bytes). */
SHMIPC_API size_t shmipc_channel_max_msg(const shmipc_channel *ch);

/* shmipc_channel_segment - the segment under the channel (owned by the handle when opened by name). */
SHMIPC_API shmipc_segment *shmipc_channel_segment(const shmipc_channel *ch);

/*
 * Waiting, for every send and receive below: timeout_ms 0 = do not wait (-EAGAIN), negative = no limit,
 * positive = at most that long (-ETIMEDOUT), in this endpoint's wait mode: SPIN polls, BLOCK sleeps at
 * once, HYBRID (default) spins for spin_us (stretched up to 256 us while recent waits of this handle ended
 * within that time; with spin_us 0, only 5 us in sparse traffic: most recent waits longer, or this wait
 * beginning over 256 us after the last one ended; none at all there right after this thread woke a
 * sleeping peer) and then sleeps. Sleeps last at most 20 ms; between them the call checks the peer: if
 * the peer endpoint was closed, or its process died, a receive on an empty ring or a send that finds no
 * room returns -EPIPE (a closed peer is seen at once). A receive always delivers the messages already
 * committed before reporting -EPIPE. An endpoint that nobody has opened yet is waited for. The deadline is
 * absolute: a call with a finite timeout returns within it plus one slice whatever a peer writes to the
 * shared memory or however long it is stopped. A signal whose handler runs while the call sleeps ends it
 * with -EINTR (as read(2) would; a handler that runs while it spins is not seen). A negative error from a
 * call leaves the ring unchanged.
 *
 * Common errors: -EBADF (wrong role for the call), -EBADMSG (the shared ring failed a check: the channel
 * is marked broken in the handle and in shared memory, and every later call returns -EBADMSG),
 * -EAGAIN, -ETIMEDOUT, -EPIPE, -EINTR. A handle is not thread-safe; the two ends may be in different threads or
 * processes.
 */

/*
 * shmipc_channel_send - copy a message of len bytes (0 allowed) into the ring and publish it.
 * Errors: the common ones, -EMSGSIZE (len > shmipc_channel_max_msg), -EINVAL (a reservation is pending).
 * With SHMIPC_CHANNEL_FULL_FAIL a full ring gives -EAGAIN without waiting; with
 * SHMIPC_CHANNEL_FULL_OVERWRITE a send never waits or fails for room.
 */
SHMIPC_API int shmipc_channel_send(shmipc_channel *ch, const void *buf, size_t len, int timeout_ms);

/*
 * shmipc_channel_send_batch - send up to count messages (msgs[i].iov_base, msgs[i].iov_len), publishing
 * all of them with one index store and at most one wake-up. Waits (per timeout_ms) only for the first;
 * stops at the first that does not fit. Returns the number sent (>= 1), or an error as
 * shmipc_channel_send for the first message (-EINVAL also for count 0 or msgs NULL).
 */
SHMIPC_API int shmipc_channel_send_batch(shmipc_channel *ch, const struct iovec *msgs, size_t count,
                                         int timeout_ms);

/*
 * shmipc_channel_reserve - reserve room for a message of up to len bytes and return in *buf where to write
 * it in place; nothing is visible to the consumer until shmipc_channel_commit. One reservation at a time.
 * Errors: the common ones, -EMSGSIZE, -EINVAL (buf NULL or a reservation already pending).
 * With SHMIPC_CHANNEL_FULL_OVERWRITE the room is made at once by dropping the oldest messages.
 */
SHMIPC_API int shmipc_channel_reserve(shmipc_channel *ch, size_t len, void **buf, int timeout_ms);

/*
 * shmipc_channel_commit - publish the reserved message with its final length len (<= the reserved length).
 * Returns 0, -EBADF, or -EINVAL (no reservation pending, or len too large; the reservation stays).
 */
SHMIPC_API int shmipc_channel_commit(shmipc_channel *ch, size_t len);

/* shmipc_channel_cancel - drop the pending reservation, if any, unpublished. Returns 0 or -EBADF. */
SHMIPC_API int shmipc_channel_cancel(shmipc_channel *ch);

/*
 * shmipc_channel_recv - copy the oldest message into buf (cap bytes) and consume it.
 * Returns the message length (>= 0). Errors: the common ones, -EMSGSIZE (cap is smaller than the message,
 * which stays in the ring), -EINVAL (buf NULL with cap > 0, or a peek is pending).
 */
SHMIPC_API int shmipc_channel_recv(shmipc_channel *ch, void *buf, size_t cap, int timeout_ms);

/*
 * shmipc_channel_recv_batch - receive up to count messages into msgs[i].iov_base (capacity iov_len, set to
 * each message's length on return), consuming all of them with one index store and at most one wake-up.
 * Waits (per timeout_ms) only for the first; stops at the first message that is not there yet or does
 * not fit its buffer. Returns the number received (>= 1), or an error as shmipc_channel_recv for the
 * first (-EINVAL also for count 0 or msgs NULL). In overwrite mode each message is consumed on its own.
 */
SHMIPC_API int shmipc_channel_recv_batch(shmipc_channel *ch, struct iovec *msgs, size_t count, int timeout_ms);

/*
 * shmipc_channel_peek - return in *buf a pointer to the oldest message, readable in place until
 * shmipc_channel_release; the return value is its length. Peeking again before release returns the same
 * message. In overwrite mode the message is first copied into a buffer of the handle (the producer may
 * reuse the ring memory at any time), and it is consumed already by the peek.
 * Errors: the common ones, -EINVAL (buf NULL).
 */
SHMIPC_API int shmipc_channel_peek(shmipc_channel *ch, const void **buf, int timeout_ms);

/* shmipc_channel_release - consume the peeked message. Returns 0, -EBADF, or -EINVAL (no peek pending). */
SHMIPC_API int shmipc_channel_release(shmipc_channel *ch);

/*
 * shmipc_channel_dropped - how many messages this consumer lost because the producer overwrote them
 * (SHMIPC_CHANNEL_FULL_OVERWRITE) since the handle was opened; counted exactly from the per-message
 * sequence numbers. Call it after a receive to learn how many were missed before that message.
 * Always 0 for other policies and roles.
 */
SHMIPC_API uint64_t shmipc_channel_dropped(const shmipc_channel *ch);

/* Counters and state, as shmipc_channel_stats_get reports them. */
typedef struct shmipc_channel_stats {
    uint64_t capacity;         /* ring bytes */
    uint64_t max_msg;          /* largest message */
    uint32_t full_policy;      /* shmipc_channel_full_policy */
    int broken;                /* 1 if the channel was marked broken */
    uint64_t head, tail;       /* byte indices; head - tail bytes are in use (padding included) */
    uint64_t msgs_sent, bytes_sent;
    uint64_t msgs_recv, bytes_recv;
    uint64_t overwritten;      /* messages the producer dropped to make room (overwrite policy) */
    uint64_t dropped;          /* messages the consumer(s) missed because of that */
    shmipc_proc_id producer, consumer; /* owners (pid 0: vacant; pid -1: closed) */
    int producer_alive, consumer_alive;
} shmipc_channel_stats;

/*
 * shmipc_channel_stats_get - read the channel's counters (relaxed: each value is current, the set is not a
 * snapshot). Works from any handle, including SHMIPC_CHANNEL_OBSERVER. Returns 0 or -EINVAL.
 */
SHMIPC_API int shmipc_channel_stats_get(const shmipc_channel *ch, shmipc_channel_stats *st);

#ifdef __cplusplus
}
#endif
#endif
