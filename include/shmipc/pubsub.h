/* SPDX-License-Identifier: MIT */
/*
 * shmipc/pubsub.h - zero-copy publish/subscribe as a named service.
 *
 * A publisher loans a chunk from the service's shared pool, writes the payload in place and publishes it;
 * every subscriber receives a read-only view of that same chunk (the pool is mapped read-only in
 * subscribers), whatever the size, and releases it when done. The chunk returns to the pool when its
 * last holder lets go. Copying convenience calls exist too.
 *
 * The service lives in "/shmipc.pubsub.NAME" (headers, participant table, publisher and subscriber
 * slots, chunk descriptors, one deliver and one return connection per publisher/subscriber pair) and its
 * payload pool in "/shmipc.pubsub.NAME.pool"; each publisher owns a partition of the pool. No call takes
 * a lock: no word a peer writes can hold a call past its timeout plus one 20 ms wait slice. Every publisher and
 * subscriber registers as a participant; what a dead process held (loans, queued and received samples)
 * returns to the pool when any live participant, or shmipc_service_gc(), reclaims it. A dead subscriber
 * never blocks a publisher, and samples a dead publisher already published stay readable.
 *
 * Handles are not thread-safe: use one per thread (several handles of one process may use one service).
 *
 * Tools see the service through shmipc_service_describe(): options (with "in_use", the chunks held now)
 * and the figures "published", "delivered", "dropped" (summed from each publisher's own counters) and
 * "pool_used" (derived from the chunks' reference state).
 */
#ifndef SHMIPC_PUBSUB_H
#define SHMIPC_PUBSUB_H

#include <shmipc/common.h>
#include <shmipc/service.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_pubsub_publisher shmipc_pubsub_publisher;
typedef struct shmipc_pubsub_subscriber shmipc_pubsub_subscriber;

/* The most subscribers a service can have (one bit each in a chunk's 64-bit holder mask). */
#define SHMIPC_PUBSUB_MAX_SUBSCRIBERS 48
/* The most publishers a service can have. */
#define SHMIPC_PUBSUB_MAX_PUBLISHERS 256

/* What a publisher does when a subscriber's queue is full. */
typedef enum shmipc_pubsub_policy {
    SHMIPC_PUBSUB_POLICY_DEFAULT = 0,     /* create: drop oldest; open: accept the service's */
    SHMIPC_PUBSUB_DROP_OLDEST = 1,        /* the subscriber loses its oldest queued sample (counted missed) */
    SHMIPC_PUBSUB_WAIT = 2,               /* the publisher waits for room (see publish_timeout_ms) */
} shmipc_pubsub_policy;

/* shmipc_pubsub_opts.flags */
#define SHMIPC_PUBSUB_DYNAMIC (1u << 0) /* samples have any size up to payload_size, each carries its length */
#define SHMIPC_PUBSUB_FIXED (1u << 1)   /* every sample is payload_size bytes (the default at creation); at open,
                                         * neither flag accepts the service's choice, one of them requires it */

/*
 * Options. Zero fields mean "default" when creating, and "whatever the service has" when opening; a
 * non-zero field that differs from the service's gives -EPROTOTYPE with a detail
 * (shmipc_service_error_detail()).
 */
typedef struct shmipc_pubsub_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    uint32_t pad0;
    shmipc_type_info type;      /* payload type; all zero = untyped bytes */
    uint64_t payload_size;      /* bytes per sample (dynamic: the maximum); 0 = type.size, else 4096 */
    uint32_t payload_align;     /* power of two <= 4096; 0 = type.align, else 8 */
    uint32_t flags;             /* SHMIPC_PUBSUB_* */
    uint32_t max_publishers;    /* 0 = 4 */
    uint32_t max_subscribers;   /* 0 = 8; at most SHMIPC_PUBSUB_MAX_SUBSCRIBERS */
    uint32_t depth;             /* samples queued per (publisher, subscriber) pair; 0 = 8 */
    uint32_t history;           /* last N samples of each publisher given to a subscriber when it
                                 * connects (even from an idle or dead publisher); <= depth */
    shmipc_pubsub_policy policy; /* when a subscriber's queue is full */
    uint32_t max_loans;         /* chunks one publisher may hold loaned at once; 0 = 4 */
    uint32_t max_held;          /* samples one subscriber may hold received at once; 0 = 4 */
    int publish_timeout_ms;     /* local: SHMIPC_PUBSUB_WAIT bound per publish: 0 = try once, negative =
                                 * without limit (shmipc_pubsub_opts_init and NULL options: -1) */
    shmipc_wait_mode wait_mode; /* local: how this handle waits (a receive; a publish for room under
                                 * SHMIPC_PUBSUB_WAIT); default SHMIPC_WAIT_HYBRID */
    unsigned mode;              /* create: permission bits of the segments; 0 = 0600 */
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_pubsub_opts;

/* shmipc_pubsub_opts_init - set *opts to the defaults (all zero, except publish_timeout_ms = -1) and its
 * size word. */
SHMIPC_API void shmipc_pubsub_opts_init(shmipc_pubsub_opts *opts);

/* A received sample: a read-only view of a chunk in the pool, valid until shmipc_pubsub_subscriber_release(). */
typedef struct shmipc_pubsub_sample {
    const void *data;
    size_t size;
    uint64_t sequence;   /* publish order of its publisher: 1, 2, ... per publisher slot (a publisher
                          * claiming a slot continues its predecessor's count); no order across publishers */
    uint32_t publisher;  /* the publisher slot that published it (see shmipc_pubsub_publisher_id) */
    uint32_t chunk;      /* internal: the chunk index */
} shmipc_pubsub_sample;

/*
 * shmipc_pubsub_publisher_create - create the service NAME with opts (NULL = defaults) and register a publisher.
 * If a live service of that name exists it is opened instead, provided its options are compatible; a
 * stale one (left by dead processes) is replaced without manual cleanup.
 * Errors: -EINVAL (bad name or options), -ENAMETOOLONG, -EPROTOTYPE (incompatible existing service; see
 * shmipc_service_error_detail()), -EBADMSG (corrupt service), -EUSERS (max_publishers reached), -ENOMEM,
 * -ENOSPC, -EPERM/-EACCES (another user's), or another error of shmipc_segment_create/open.
 */
SHMIPC_API int shmipc_pubsub_publisher_create(const char *name, const shmipc_pubsub_opts *opts,
                                              shmipc_pubsub_publisher **out);

/* shmipc_pubsub_publisher_open - like shmipc_pubsub_publisher_create but only opens an existing service (-ENOENT if
 * none). */
SHMIPC_API int shmipc_pubsub_publisher_open(const char *name, const shmipc_pubsub_opts *opts,
                                            shmipc_pubsub_publisher **out);

/*
 * shmipc_pubsub_publisher_loan - loan a chunk with room for len bytes (0 = payload_size) and return its address
 * in *ptr. The caller writes the payload there and then publishes or discards it.
 * Errors: -EINVAL (len > payload_size), -ENOBUFS (this publisher holds max_loans chunks, or the pool is
 * exhausted even after reclaiming dead participants).
 */
SHMIPC_API int shmipc_pubsub_publisher_loan(shmipc_pubsub_publisher *pub, size_t len, void **ptr);

/*
 * shmipc_pubsub_publisher_publish - publish the loaned chunk ptr holding len bytes (fixed-size services: len
 * must be payload_size or 0). Every connected subscriber gets it; the loan ends (except on -EINVAL).
 * With SHMIPC_PUBSUB_WAIT a full subscriber queue makes the call wait (a dead subscriber is reclaimed
 * within ~20 ms); subscribers still full after publish_timeout_ms (0: at once) count the sample as missed.
 * Returns the number of subscribers the sample was delivered to, or: -EINVAL (ptr not loaned by pub, or
 * bad len: then the loan is kept), -ETIMEDOUT (delivered to the others, see above), -EINTR (a signal
 * interrupted a wait; delivered to the others), -EBADMSG (a queue in shared memory is corrupt;
 * delivered to the others).
 */
SHMIPC_API int shmipc_pubsub_publisher_publish(shmipc_pubsub_publisher *pub, void *ptr, size_t len);

/* shmipc_pubsub_publisher_discard - return a loaned chunk unpublished. Errors: -EINVAL (not loaned by pub). */
SHMIPC_API int shmipc_pubsub_publisher_discard(shmipc_pubsub_publisher *pub, void *ptr);

/* shmipc_pubsub_publisher_publish_copy - loan, copy len bytes from buf, publish (fixed-size services: len must
 * be payload_size). Returns what publish returns; errors: -EINVAL, those of loan, and those of publish. */
SHMIPC_API int shmipc_pubsub_publisher_publish_copy(shmipc_pubsub_publisher *pub, const void *buf, size_t len);

/* shmipc_pubsub_publisher_id - this publisher's slot (0 .. max_publishers - 1), as reported in
 * shmipc_pubsub_sample.publisher. */
SHMIPC_API uint32_t shmipc_pubsub_publisher_id(const shmipc_pubsub_publisher *pub);

/* shmipc_pubsub_publisher_options - the settings PUB runs with: the service's (what a field left 0 at open
 * became: payload_size, depth, ...; flags holds DYNAMIC or FIXED), the type, and this handle's
 * publish_timeout_ms and wait_mode; mode is 0. out->size must be set (shmipc_pubsub_opts_init).
 * Errors: -EINVAL. */
SHMIPC_API int shmipc_pubsub_publisher_options(const shmipc_pubsub_publisher *pub, shmipc_pubsub_opts *out);

/* shmipc_pubsub_publisher_close - discard every loan, leave the service and free the handle. The service stays
 * (remove it with shmipc_service_gc once unused). NULL is a no-op. Returns 0. */
SHMIPC_API int shmipc_pubsub_publisher_close(shmipc_pubsub_publisher *pub);

/*
 * shmipc_pubsub_subscriber_open - connect a subscriber to the existing service NAME; the pool is mapped
 * read-only. With history N it starts with the last N samples published.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EPROTOTYPE (incompatible options or type, with a detail),
 * -EBADMSG (corrupt), -EUSERS (max_subscribers reached), -ENOMEM, -EPERM/-EACCES, or an error of
 * shmipc_segment_open.
 */
SHMIPC_API int shmipc_pubsub_subscriber_open(const char *name, const shmipc_pubsub_opts *opts,
                                             shmipc_pubsub_subscriber **out);

/*
 * shmipc_pubsub_subscriber_receive - take the next sample, waiting up to timeout_ms (0 = no wait, negative =
 * without limit) in the handle's wait mode. *sample then views the chunk read-only until released.
 * Returns 0, or -EAGAIN (nothing and timeout 0), -ETIMEDOUT, -EINTR (signal while sleeping), -ENOBUFS
 * (max_held samples already held: release some), -EBADMSG (corrupt queue entry, skipped), -EPIPE (this
 * subscriber was reclaimed as dead by another process).
 */
SHMIPC_API int shmipc_pubsub_subscriber_receive(shmipc_pubsub_subscriber *sub, shmipc_pubsub_sample *sample,
                                                int timeout_ms);

/* shmipc_pubsub_subscriber_release - give back a received sample. Errors: -EINVAL (not held by sub). */
SHMIPC_API int shmipc_pubsub_subscriber_release(shmipc_pubsub_subscriber *sub, shmipc_pubsub_sample *sample);

/*
 * shmipc_pubsub_subscriber_receive_copy - receive, copy the payload into buf (cap bytes), release. info (may be
 * NULL) gets the sample's size, sequence and publisher (data NULL). Returns the payload size, or the
 * errors of receive, or -EMSGSIZE (cap too small: the sample is released and lost).
 */
SHMIPC_API int shmipc_pubsub_subscriber_receive_copy(shmipc_pubsub_subscriber *sub, void *buf, size_t cap,
                                                     int timeout_ms, shmipc_pubsub_sample *info);

/* shmipc_pubsub_subscriber_options - like shmipc_pubsub_publisher_options, for a subscriber (its
 * publish_timeout_ms is the opts_init default). Errors: -EINVAL. */
SHMIPC_API int shmipc_pubsub_subscriber_options(const shmipc_pubsub_subscriber *sub, shmipc_pubsub_opts *out);

/* shmipc_pubsub_subscriber_missed - samples dropped for this subscriber since it connected (queue full under
 * SHMIPC_PUBSUB_DROP_OLDEST, or a publisher's wait timed out). */
SHMIPC_API uint64_t shmipc_pubsub_subscriber_missed(const shmipc_pubsub_subscriber *sub);

/*
 * shmipc_pubsub_unlink - remove the service's names (the service segment and its pool); processes that
 * have it open keep working, and a later create makes a new service. shmipc_service_gc() does the same
 * for services no live process uses any more.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT (no service segment; a leftover pool is removed anyway), -EACCES.
 */
SHMIPC_API int shmipc_pubsub_unlink(const char *name);

/* shmipc_pubsub_subscriber_close - release every held and queued sample, leave, free the handle. NULL is a
 * no-op. Returns 0. */
SHMIPC_API int shmipc_pubsub_subscriber_close(shmipc_pubsub_subscriber *sub);

#ifdef __cplusplus
}
#endif
#endif
