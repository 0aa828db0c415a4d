/* SPDX-License-Identifier: MIT */
/*
 * shmipc/bridge.h - the NATS bridge (libshmipc-nats, link with -lshmipc-nats -lshmipc -lnats): local
 * services of this machine's shared memory exported to NATS subjects, and subjects imported into local
 * services, so that processes on different hosts talk with the same shmipc API. This header belongs to
 * the optional library: the core library (libshmipc) has no network dependency and does not include it.
 *
 * What is forwarded (docs/man/shmipc-bridge.1 tells the whole story):
 *   - publish/subscribe: an exported service's samples are published on its subject (the bridge is one
 *     more subscriber of the service); an imported subject's messages are published into a local
 *     service (the bridge is one of its publishers). Headers carry the origin, the sample's publisher id
 *     and its sequence, so that the far end sees gaps and drops duplicates.
 *   - request/response: an imported service is served locally by the bridge, which forwards each request
 *     as a NATS request; an exported service is called by the bridge for each NATS request on its subject.
 *   - events: an exported event service's notifications (event id, count) are published on
 *     SUBJECT.ID; an imported one is notified locally.
 *
 * Name mapping: the subject of service NAME of pattern P is "PREFIX.P.NAME" (P is "pubsub", "reqresp" or
 * "event", PREFIX "shmipc" unless configured), so a service name's dots become subject tokens; the
 * reverse mapping takes everything after "PREFIX.P.". A route may name any other subject instead.
 *
 * Quality of service: core NATS (at most once) by default; with "qos jetstream" the samples of exported
 * publish/subscribe services go through a JetStream stream (at least once; the Nats-Msg-Id header is
 * the publisher id and sequence, so the stream drops a sample sent twice) and imports read them with a
 * durable consumer; the importing bridge drops what it forwarded already, so a subscriber never sees a
 * sample twice. Request/response and events always use core NATS.
 *
 * Faults: the connection is re-established with exponential backoff whatever happens to the server or
 * the network; what the local side gives the bridge meanwhile waits in one bounded buffer whose overflow
 * is counted, never pushed back onto shared memory. A bridge killed by any signal is restarted with the
 * same configuration and goes on (shmipc reclaims its dead participants).
 *
 * Errors are negative errno values. A bridge handle is thread-safe for shmipc_bridge_stats_get and
 * shmipc_bridge_route_stats_get; start and stop it from one thread.
 */
#ifndef SHMIPC_BRIDGE_H
#define SHMIPC_BRIDGE_H

#include <shmipc/common.h>
#include <shmipc/service.h>

#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_bridge_config shmipc_bridge_config;
typedef struct shmipc_bridge shmipc_bridge;

#define SHMIPC_BRIDGE_MAX_ROUTES 64     /* exports and imports in one configuration */
#define SHMIPC_BRIDGE_MAX_SERVERS 16    /* server URLs */
#define SHMIPC_BRIDGE_NAME_MAX 63       /* a bridge's name (its origin id): [A-Za-z0-9_-] */
#define SHMIPC_BRIDGE_SUBJECT_MAX 255   /* longest subject of a route (and prefix) */

typedef enum shmipc_bridge_direction {
    SHMIPC_BRIDGE_EXPORT = 1, /* a local service, seen on NATS */
    SHMIPC_BRIDGE_IMPORT = 2, /* a NATS subject, seen as a local service */
} shmipc_bridge_direction;

typedef enum shmipc_bridge_qos {
    SHMIPC_BRIDGE_QOS_CORE = 0,      /* core NATS: at most once */
    SHMIPC_BRIDGE_QOS_JETSTREAM = 1, /* publish/subscribe through a JetStream stream: at least once, deduplicated */
} shmipc_bridge_qos;

/*
 * shmipc_bridge_config_new - an empty configuration (defaults: server nats://127.0.0.1:4222, name = the
 * host name, prefix "shmipc", qos core, buffer 4096, see shmipc-bridge(1)) in *out. Errors: -EINVAL, -ENOMEM.
 * shmipc_bridge_config_free - free it (NULL: no-op).
 */
SHMIPC_API int shmipc_bridge_config_new(shmipc_bridge_config **out);
SHMIPC_API void shmipc_bridge_config_free(shmipc_bridge_config *cfg);

/*
 * shmipc_bridge_config_directive - apply one configuration line, as a configuration file holds it:
 * words separated by blanks, '#' starts a comment, an empty line does nothing. For example
 * "export pubsub camera", "import reqresp config subject site1.config", "qos jetstream", "buffer 8192".
 * The directives are listed in shmipc-bridge(1). Errors: -EINVAL (unknown directive, bad value, too many
 * routes or servers: shmipc_bridge_config_error() says which and why), -ENAMETOOLONG.
 */
SHMIPC_API int shmipc_bridge_config_directive(shmipc_bridge_config *cfg, const char *line);

/*
 * shmipc_bridge_config_load - apply every line of the file at path (lines up to 1023 bytes). Errors:
 * those of shmipc_bridge_config_directive (the error text names the file and line), or the errno of
 * opening or reading it.
 */
SHMIPC_API int shmipc_bridge_config_load(shmipc_bridge_config *cfg, const char *path);

/*
 * shmipc_bridge_config_check - finish a configuration: derive each route's subject, and refuse what
 * cannot work: no route, a service exported or imported twice, a request/response or event service both
 * exported and imported (it would loop), two imports of one subject. Called by shmipc_bridge_start;
 * call it to validate a file (shmipc bridge --check). Errors: -EINVAL, with shmipc_bridge_config_error().
 */
SHMIPC_API int shmipc_bridge_config_check(shmipc_bridge_config *cfg);

/* shmipc_bridge_config_error - what the last failed call on cfg found wrong ("" if none). Valid until
 * the next call on cfg. */
SHMIPC_API const char *shmipc_bridge_config_error(const shmipc_bridge_config *cfg);

/* One route (export or import) of a configuration, as shmipc_bridge_config_route reports it. */
typedef struct shmipc_bridge_route_info {
    shmipc_bridge_direction direction;
    shmipc_pattern pattern;                      /* PUBSUB, REQRESP or EVENT */
    char service[SHMIPC_SERVICE_NAME_MAX + 1];
    char subject[SHMIPC_BRIDGE_SUBJECT_MAX + 1]; /* "" before shmipc_bridge_config_check if not given */
    uint64_t size;                               /* import: largest payload of a service the bridge creates */
    uint32_t depth;                              /* import: depth of a service the bridge creates (0: default) */
    uint32_t history;                            /* import pubsub: history of a service the bridge creates */
    uint32_t events;                             /* import event: max_events of a service the bridge creates */
    uint32_t policy;                             /* import pubsub: shmipc_pubsub_policy of a service the bridge
                                                    creates (0: drop oldest; SHMIPC_PUBSUB_WAIT: a full
                                                    subscriber queue holds the bridge, nothing is dropped) */
    uint32_t reserved[4];
} shmipc_bridge_route_info;

/* shmipc_bridge_config_routes - how many routes cfg has. */
SHMIPC_API size_t shmipc_bridge_config_routes(const shmipc_bridge_config *cfg);

/* shmipc_bridge_config_route - route i (0 .. routes - 1) of cfg into *out. Errors: -EINVAL, -ERANGE. */
SHMIPC_API int shmipc_bridge_config_route(const shmipc_bridge_config *cfg, size_t i, shmipc_bridge_route_info *out);

/*
 * shmipc_bridge_subject - the subject of service (pattern PUBSUB, REQRESP or EVENT) under prefix:
 * "prefix.pattern.service" into buf (cap bytes). An event's notifications go to that subject followed by
 * ".ID". Errors: -EINVAL (bad pattern, prefix or service name, or a service name with an empty subject
 * token: two dots in a row or a final dot), -ENAMETOOLONG (longer than SHMIPC_BRIDGE_SUBJECT_MAX or cap).
 */
SHMIPC_API int shmipc_bridge_subject(const char *prefix, shmipc_pattern pattern, const char *service, char *buf,
                                     size_t cap);

/*
 * shmipc_bridge_service_name - the reverse mapping: the service name that subject designates under
 * prefix and pattern ("prefix.pattern.NAME" gives NAME) into buf (cap bytes). Errors: -EINVAL (subject
 * not under "prefix.pattern.", or what follows is no service name), -ENAMETOOLONG.
 */
SHMIPC_API int shmipc_bridge_service_name(const char *prefix, shmipc_pattern pattern, const char *subject,
                                          char *buf, size_t cap);

/*
 * shmipc_bridge_start - check cfg (shmipc_bridge_config_check), connect to NATS and start forwarding;
 * cfg may be freed afterwards. The call does not wait for a server: a bridge started while no server
 * answers connects when one does. Local services that do not exist yet are waited for (exports) or
 * created (imports of publish/subscribe and event services; request/response imports serve the
 * service, creating it). Errors: -EINVAL (see shmipc_bridge_config_error on cfg), -ENOMEM, -EAGAIN
 * (threads), -EBUSY (another process runs a bridge of this name), -EPROTO (the NATS library refused its
 * options), errors of creating the local services.
 */
SHMIPC_API int shmipc_bridge_start(shmipc_bridge_config *cfg, shmipc_bridge **out);

/* What a bridge did, in all. */
typedef struct shmipc_bridge_stats {
    bool connected;        /* a server connection is up now */
    bool jetstream;        /* qos jetstream */
    uint16_t reserved0;
    uint32_t buffered;     /* messages waiting in the outgoing buffer now */
    uint32_t buffer_cap;   /* its size (directive "buffer") */
    uint32_t reserved1;
    uint64_t connects;     /* connections established (the first one and every reconnection) */
    uint64_t disconnects;  /* connections lost */
    uint64_t overflow;     /* messages the outgoing buffer dropped when full (policy "overflow") */
    char server[128];      /* URL of the server connected to ("" when none) */
    char name[SHMIPC_BRIDGE_NAME_MAX + 1]; /* the bridge's name (directive "name", or the host name) */
    uint64_t reserved[8];
} shmipc_bridge_stats;

/* shmipc_bridge_stats_get - fill *st. Thread-safe. Errors: -EINVAL. */
SHMIPC_API int shmipc_bridge_stats_get(shmipc_bridge *b, shmipc_bridge_stats *st);

/* What one route did. The counters only grow. */
typedef struct shmipc_bridge_route_stats {
    shmipc_bridge_route_info route;
    bool active;         /* its local service is open (an export waits for a service that does not exist) */
    uint8_t reserved0[7];
    uint64_t received;   /* taken in: samples, requests or notifications read locally (export) or
                            messages received from NATS (import) */
    uint64_t forwarded;  /* passed on: handed to NATS (export; with JetStream: acknowledged by the stream)
                            or delivered into the local service (import) */
    uint64_t dropped;    /* lost in the bridge: buffer overflow, refused by NATS or by the local service,
                            slow-consumer drops in the NATS library, requests without answer in time */
    uint64_t duplicates; /* import: samples forwarded before (same publisher id and sequence), not again */
    uint64_t gaps;       /* import: sequence numbers of a publisher that never arrived (less those that
                            arrived late) */
    uint64_t missed;     /* export pubsub: samples the service dropped for the bridge's subscriber */
    uint64_t retried;    /* JetStream: samples published again after a failed or missing acknowledgement */
    uint64_t errors;     /* malformed messages and local errors (each also logged) */
    uint64_t reserved[8];
} shmipc_bridge_route_stats;

/* shmipc_bridge_route_stats_get - fill *st with route i's figures. Thread-safe. Errors: -EINVAL, -ERANGE. */
SHMIPC_API int shmipc_bridge_route_stats_get(shmipc_bridge *b, size_t i, shmipc_bridge_route_stats *st);

/* shmipc_bridge_routes - how many routes b has (those of its configuration). */
SHMIPC_API size_t shmipc_bridge_routes(const shmipc_bridge *b);

/*
 * shmipc_bridge_stop - stop forwarding, flush what NATS accepted (bounded: 2 s), close the connection
 * and the local services (the bridge leaves them cleanly: what it published stays readable), free b.
 * What is still in the outgoing buffer is dropped. NULL is a no-op. Returns 0.
 */
SHMIPC_API int shmipc_bridge_stop(shmipc_bridge *b);

/* shmipc_bridge_log - where the bridge writes what happens (connections lost and made, services
 * appearing, errors): stderr by default, NULL for nowhere. Process-wide; call before starting bridges. */
SHMIPC_API void shmipc_bridge_log(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
