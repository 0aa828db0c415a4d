/* SPDX-License-Identifier: MIT */
/*
 * shmipc/queue.h - a bounded, lock-free queue of fixed-size slots in shared memory, for many producers
 * and many consumers in different processes (work distribution).
 *
 * Each slot holds one message of 0 to slot_size bytes. push() copies a message into the next free slot,
 * pop() copies the oldest one out; neither makes a system call unless it has to sleep or wake a sleeper.
 * A process killed in the middle of a push or a pop never stalls the others: a waiter that finds a slot
 * held for too long by a dead process repairs it, and the message in it is counted as lost.
 *
 * Every process (or every handle) registers in a participant table in the queue when it opens it; the
 * table's size bounds how many handles may be open at once (-EUSERS beyond); entries of dead processes
 * are reclaimed.
 *
 * Handles: push, pop, stats and set_wait_mode may be called from several threads on one handle.
 * create/open/attach/close may not race with other calls on the same handle. A handle must not be used
 * by a child after fork(): the child opens or attaches its own.
 */
#ifndef SHMIPC_QUEUE_H
#define SHMIPC_QUEUE_H

#include <shmipc/common.h>
#include <shmipc/segment.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_queue shmipc_queue;

#define SHMIPC_QUEUE_DEFAULT_SLOT_COUNT 1024u
#define SHMIPC_QUEUE_DEFAULT_SLOT_SIZE 256u
#define SHMIPC_QUEUE_DEFAULT_PARTICIPANTS 64u
#define SHMIPC_QUEUE_MAX_SLOT_COUNT (1u << 24)
#define SHMIPC_QUEUE_MAX_SLOT_SIZE (16u << 20)
#define SHMIPC_QUEUE_MAX_PARTICIPANTS 4096u

/* Flags for shmipc_queue_opts.flags. */
#define SHMIPC_QUEUE_ALLOW_FOREIGN (1u << 0) /* open: accept a queue owned by another user */
#define SHMIPC_QUEUE_OBSERVE       (1u << 1) /* open/attach: do not register; only stats work (for tools) */
/* open/attach: the role this handle is registered with, as tools show it (shmipc ls, info, top). It does
 * not restrict the handle; neither flag (or both) registers a "peer" that pushes and pops. */
#define SHMIPC_QUEUE_PRODUCER      (1u << 2)
#define SHMIPC_QUEUE_CONSUMER      (1u << 3)

typedef struct shmipc_queue_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    uint32_t slot_count;        /* create/format: number of slots, a power of two >= 2; 0 = 1024 */
    uint32_t slot_size;         /* create/format: largest message in bytes; 0 = 256 */
    uint32_t max_participants;  /* create/format: handles open at once; 0 = 64 */
    unsigned mode;              /* create: permission bits, exactly; 0 = 0600 */
    shmipc_wait_mode wait_mode; /* how this handle waits; 0 = SHMIPC_WAIT_HYBRID */
    unsigned flags;             /* SHMIPC_QUEUE_* */
    int ready_timeout_ms;       /* open: wait for a creator still initialising (see shmipc_segment_opts) */
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_queue_opts;

/* What shmipc_queue_stats_get reports. Counts are totals since creation, over all processes. */
typedef struct shmipc_queue_stats {
    uint64_t pushes;           /* messages pushed */
    uint64_t pops;             /* messages popped */
    uint64_t lost;             /* slots repaired after their producer or consumer died */
    uint64_t depth;            /* messages in the queue now (a snapshot) */
    uint32_t slot_count;
    uint32_t slot_size;
    uint32_t participants;     /* handles registered now */
    uint32_t max_participants;
    int broken;                /* 1 if corruption was detected: every call then fails with -EBADMSG */
} shmipc_queue_stats;

/* shmipc_queue_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_queue_opts_init(shmipc_queue_opts *opts);

/*
 * shmipc_queue_memory_size - bytes of segment data a queue with these options needs (for
 * shmipc_queue_create_in on a segment the caller creates). opts may be NULL.
 * Returns 0 and sets *size, or -EINVAL (bad options).
 */
SHMIPC_API int shmipc_queue_memory_size(const shmipc_queue_opts *opts, size_t *size);

/*
 * shmipc_queue_create - create a named queue in its own POSIX segment (type SHMIPC_TYPE_QUEUE) and open
 * it. The segment is published only once the queue inside is initialised, so an opener never sees it
 * half-built. The name is exclusive (-EEXIST if it exists). opts may be NULL.
 * Errors: -EINVAL (bad name or options), -ENAMETOOLONG, -EEXIST, -ENOSPC, -EACCES, -EMFILE, -ENOMEM, or
 *         another error of shmipc_segment_create; -ENOENT if this process's identity cannot be read
 *         from /proc. On failure nothing is left behind.
 */
SHMIPC_API int shmipc_queue_create(const char *name, const shmipc_queue_opts *opts, shmipc_queue **out);

/*
 * shmipc_queue_open - open an existing named queue and register this handle in its participant table.
 * Only opts->wait_mode, flags and ready_timeout_ms are used. The queue header is validated: magic,
 * version, slot count (power of two), slot size, table size, and that it all fits the segment.
 * Errors: those of shmipc_segment_open (-ENOENT, -EPERM, -EACCES, -ETIMEDOUT, -ENOTRECOVERABLE,
 *         -EPROTOTYPE if the segment is not a queue, ...), -EINVAL (bad options), -EBADMSG (invalid queue
 *         header, or the queue is marked broken), -EPROTO (queue layout version not understood), -EUSERS
 *         (participant table full of live processes), -ENOMEM, -ENOENT (no such queue, or this process's
 *         identity cannot be read from /proc).
 */
SHMIPC_API int shmipc_queue_open(const char *name, const shmipc_queue_opts *opts, shmipc_queue **out);

/*
 * shmipc_queue_create_in - initialise a queue in the data area of seg (for instance a memfd segment to be
 * shared by fork() or by descriptor passing). Do it before any other process can use the segment.
 * Errors: -EINVAL (bad options or NULL seg), -ENOSPC (the data area is smaller than
 *         shmipc_queue_memory_size says), -EPERM (a read-only segment handle).
 */
SHMIPC_API int shmipc_queue_create_in(shmipc_segment *seg, const shmipc_queue_opts *opts);

/*
 * shmipc_queue_open_in - open the queue that lives in the data area of seg, registering this handle.
 * The handle borrows seg: keep it open until shmipc_queue_close. Several handles may attach to one
 * segment (one per thread, for instance). Only opts->wait_mode and flags are used.
 * A read-only segment (SHMIPC_SEG_RDONLY) can only be attached with SHMIPC_QUEUE_OBSERVE.
 * Errors: -EINVAL, -EBADMSG, -EPROTO, -EUSERS, -ENOMEM, -ENOENT (as shmipc_queue_open), -EPERM (read-only
 *         segment without SHMIPC_QUEUE_OBSERVE).
 */
SHMIPC_API int shmipc_queue_open_in(shmipc_segment *seg, const shmipc_queue_opts *opts, shmipc_queue **out);

/*
 * shmipc_queue_close - unregister the handle and free it; for a handle from create or open the segment
 * is closed too (the name stays: see shmipc_queue_unlink). Must not race with calls on the handle.
 * Zero-copy claims still held are abandoned: their slots are freed and counted as lost.
 * Closing NULL is a no-op. Returns 0.
 */
SHMIPC_API int shmipc_queue_close(shmipc_queue *q);

/* shmipc_queue_unlink - remove a named queue's name. Errors as shmipc_segment_unlink. */
SHMIPC_API int shmipc_queue_unlink(const char *name);

/*
 * shmipc_queue_push - copy len bytes from buf into the queue as one message.
 * timeout_ms: 0 = fail at once when full, negative = wait without limit, positive = wait at most that long
 * (an absolute deadline: the call returns within timeout_ms plus one 20 ms sleep slice whatever a peer
 * writes to shared memory). Waiting spins (SPIN), sleeps on a futex (BLOCK) or both (HYBRID: a spin of
 * 20..256 us learnt from the handle's recent waits, then sleeps); the dead-claimer check runs between
 * sleep slices. A signal handler that runs during a sleep ends the call with -EINTR.
 * Returns 0.
 * Errors: -EINVAL (NULL q, or NULL buf with len > 0), -EMSGSIZE (len > slot_size), -EAGAIN (full and
 *         timeout_ms == 0), -ETIMEDOUT (still full after timeout_ms), -EINTR, -EPERM (observer handle),
 *         -EBADMSG (corruption found in shared memory: the queue is now marked broken).
 * Thread- and process-safe.
 */
SHMIPC_API int shmipc_queue_push(shmipc_queue *q, const void *buf, size_t len, int timeout_ms);

/*
 * shmipc_queue_pop - copy the oldest message into buf (at most cap bytes) and remove it.
 * timeout_ms as for push. Returns the message length (0 to slot_size).
 * Errors: -EINVAL (NULL q, or NULL buf with cap > 0), -EMSGSIZE (the message is longer than cap; it
 *         stays in the queue), -EAGAIN (empty and timeout_ms == 0), -ETIMEDOUT, -EPERM (observer handle),
 *         -EBADMSG (corruption, e.g. a length above slot_size: the queue is now marked broken).
 * Thread- and process-safe.
 */
SHMIPC_API int shmipc_queue_pop(shmipc_queue *q, void *buf, size_t cap, int timeout_ms);

/*
 * Zero-copy use: a claim holds one slot between two calls, so that the message is written or read in
 * place. data and len are for the caller; the other fields are private. While a slot is held, the
 * positions behind it wait for it (FIFO order): hold it briefly. A process that dies holding a claim is
 * handled like one that dies inside push or pop (the slot is repaired and counted as lost).
 */
typedef struct shmipc_queue_claim {
    void *data;    /* push: where to write (len bytes of room); pop: the message, in shared memory */
    size_t len;    /* push: slot_size; pop: the message length */
    uint64_t pos_; /* private */
    void *slot_;   /* private */
} shmipc_queue_claim;

/*
 * shmipc_queue_push_claim - claim the next free slot for writing in place; publish it with
 * shmipc_queue_push_commit. timeout_ms as for push. Returns 0.
 * Errors: -EINVAL (NULL argument), -EAGAIN, -ETIMEDOUT, -EPERM, -EBADMSG (as shmipc_queue_push).
 */
SHMIPC_API int shmipc_queue_push_claim(shmipc_queue *q, shmipc_queue_claim *c, int timeout_ms);

/*
 * shmipc_queue_push_commit - publish a claimed slot holding len bytes at c->data. A claim cannot be
 * abandoned: commit it, with len 0 if there is nothing to say. Returns 0.
 * Errors: -EMSGSIZE (len > slot_size; the claim is still held), -EINVAL (NULL argument, or c is not a
 *         claim of this handle still held: committed already, or taken over by a repairer).
 */
SHMIPC_API int shmipc_queue_push_commit(shmipc_queue *q, shmipc_queue_claim *c, size_t len);

/*
 * shmipc_queue_pop_claim - claim the oldest message for reading in place at c->data (c->len bytes);
 * give the slot back with shmipc_queue_pop_release. The bytes are in shared memory: a hostile producer
 * could still change them, so validate what you read once. timeout_ms as for pop.
 * Returns the message length. Errors: -EINVAL (NULL argument), -EAGAIN, -ETIMEDOUT, -EPERM, -EBADMSG.
 */
SHMIPC_API int shmipc_queue_pop_claim(shmipc_queue *q, shmipc_queue_claim *c, int timeout_ms);

/*
 * shmipc_queue_pop_release - give a claimed message's slot back to the producers. Returns 0.
 * Errors: -EINVAL (NULL argument, or c is not a claim of this handle still held).
 */
SHMIPC_API int shmipc_queue_pop_release(shmipc_queue *q, shmipc_queue_claim *c);

/*
 * shmipc_queue_set_wait - change how this handle waits in push and pop (SHMIPC_WAIT_DEFAULT means
 * hybrid). Returns 0 or -EINVAL (NULL q, unknown mode).
 */
SHMIPC_API int shmipc_queue_set_wait(shmipc_queue *q, shmipc_wait_mode mode);

/*
 * shmipc_queue_stats_get - fill *st with the queue's counters and geometry. Counts of processes that are
 * still running are read while they change, so the totals are a snapshot, not an atomic cut.
 * Returns 0 or -EINVAL.
 */
SHMIPC_API int shmipc_queue_stats_get(const shmipc_queue *q, shmipc_queue_stats *st);

/* shmipc_queue_slot_size - the largest message this queue carries, or 0 for NULL. */
SHMIPC_API size_t shmipc_queue_slot_size(const shmipc_queue *q);

#ifdef __cplusplus
}
#endif
#endif
