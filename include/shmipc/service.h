/* SPDX-License-Identifier: MIT */
/*
 * shmipc/service.h - what every named service shares, whatever its pattern (publish/subscribe,
 * request/response, blackboard, event): names, payload type descriptions, discovery, participants and
 * reclaiming what dead processes held.
 *
 * A service is found by name and pattern with no daemon in between: it lives in a segment named
 * "/shmipc.<pattern>.<name>" (plus companion segments named from it). Its first bytes record the pattern,
 * the payload type and the options; every process that uses it registers as a participant (pid + start
 * time, so a reused pid is never taken for the dead one). Any live participant, and shmipc_service_gc(),
 * can detect dead participants and reclaim what they held; reclaiming is itself crash-safe.
 */
#ifndef SHMIPC_SERVICE_H
#define SHMIPC_SERVICE_H

#include <shmipc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest service name, excluding the terminating NUL. Names use [A-Za-z0-9_.-] and start with a letter
 * or digit. */
#define SHMIPC_SERVICE_NAME_MAX 127
#define SHMIPC_TYPE_NAME_MAX 63

typedef enum shmipc_pattern {
    SHMIPC_PATTERN_PUBSUB = 1,
    SHMIPC_PATTERN_REQRESP = 2,
    SHMIPC_PATTERN_BLACKBOARD = 3,
    SHMIPC_PATTERN_EVENT = 4,
    /* Channels and queues: not named services but named segments ("/NAME", listed as channel/NAME and
     * queue/NAME), whose endpoints are registered in the same participant table, so that discovery and
     * gc see and reclaim them like services. */
    SHMIPC_PATTERN_CHANNEL = 5,
    SHMIPC_PATTERN_QUEUE = 6,
} shmipc_pattern;

/* The payload type of a service: opening a service with a different one fails with -EPROTOTYPE.
 * An all-zero description means "untyped bytes" and, on open, "accept whatever the service has". */
typedef struct shmipc_type_info {
    char name[SHMIPC_TYPE_NAME_MAX + 1]; /* e.g. "sensor_sample_v1" */
    uint64_t size;                       /* bytes; for dynamic payloads the maximum */
    uint32_t align;                      /* power of two, 0 = 8 */
    uint32_t reserved;
} shmipc_type_info;

/* shmipc_service_name_check - 0 if name is a valid service name, else -EINVAL or -ENAMETOOLONG. */
SHMIPC_API int shmipc_service_name_check(const char *name);

/* shmipc_service_pattern_name - "pubsub", "reqresp", "blackboard", "event", "channel", "queue", or "unknown". */
SHMIPC_API const char *shmipc_service_pattern_name(shmipc_pattern pattern);

/*
 * shmipc_service_error_detail - after a call failed with -EPROTOTYPE (incompatible settings) or -EBADMSG,
 * a sentence naming what differed or what was invalid, e.g. "payload size: service has 64, caller asked
 * 32". Thread-local; valid until the next shmipc call on this thread. Never NULL ("" when none).
 */
SHMIPC_API const char *shmipc_service_error_detail(void);

#define SHMIPC_SERVICE_MAX_STATS 8

/* One registered participant. */
typedef struct shmipc_service_participant_info {
    shmipc_proc_id proc;
    uint32_t slot;  /* index in the service's participant table */
    uint32_t role;  /* pattern-specific: see shmipc_service_role_name() */
    int alive;      /* 0: dead, awaiting reclaim */
    int reserved;
} shmipc_service_participant_info;

/* shmipc_service_role_name - "publisher", "subscriber", "server", "client", "writer", "reader", "notifier",
 * "listener", "producer", "consumer", "peer", or "unknown". */
SHMIPC_API const char *shmipc_service_role_name(uint32_t role);

/* Roles (shared by all patterns so tools can print them). */
#define SHMIPC_ROLE_PUBLISHER  1u
#define SHMIPC_ROLE_SUBSCRIBER 2u
#define SHMIPC_ROLE_SERVER     3u
#define SHMIPC_ROLE_CLIENT     4u
#define SHMIPC_ROLE_WRITER     5u
#define SHMIPC_ROLE_READER     6u
#define SHMIPC_ROLE_NOTIFIER   7u
#define SHMIPC_ROLE_LISTENER   8u
#define SHMIPC_ROLE_PRODUCER   9u  /* channel producer; queue handle opened with SHMIPC_QUEUE_PRODUCER */
#define SHMIPC_ROLE_CONSUMER   10u /* channel consumer; queue handle opened with SHMIPC_QUEUE_CONSUMER */
#define SHMIPC_ROLE_PEER       11u /* queue handle that both pushes and pops (the default) */

#define SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS 64

/* A service as seen from outside (tools, monitoring). */
typedef struct shmipc_service_info {
    char name[SHMIPC_SERVICE_NAME_MAX + 1];
    char segment[SHMIPC_SERVICE_NAME_MAX + 32]; /* its main segment's name */
    shmipc_pattern pattern;
    shmipc_type_info type;
    uint32_t max_participants;
    uint32_t participants;  /* registered, alive or dead */
    uint32_t dead;          /* registered but dead: awaiting reclaim */
    uint32_t uid;           /* owner of the segment */
    shmipc_proc_id creator;
    uint64_t created_ns;
    char options[256];      /* pattern options as "key=value" words, e.g. "subscribers=8 depth=4 history=1" */
    uint32_t nstats;        /* live figures: names and values */
    uint32_t reserved;
    char stat_names[SHMIPC_SERVICE_MAX_STATS][24];
    uint64_t stats[SHMIPC_SERVICE_MAX_STATS];
    uint32_t nlisted;       /* entries filled in participant[] (at most the MAX_LISTED) */
    uint32_t reserved2;
    shmipc_service_participant_info participant[SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS];
} shmipc_service_info;

/*
 * shmipc_service_list - describe every service on the machine visible to the caller.
 * On success *list is a malloc'd array of *count entries (free with free()); services that cannot be read
 * (foreign without permission, corrupt) are skipped. Errors: -ENOMEM, or errno from reading /dev/shm.
 */
SHMIPC_API int shmipc_service_list(shmipc_service_info **list, size_t *count);

/*
 * shmipc_service_describe - describe one service by pattern and name (read-only; any owner the caller
 * may read). Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES, -EBADMSG (corrupt), -EPROTO.
 */
SHMIPC_API int shmipc_service_describe(shmipc_pattern pattern, const char *name, shmipc_service_info *info);

/* What shmipc_service_gc did. */
typedef struct shmipc_service_gc_report {
    uint32_t services_seen;
    uint32_t participants_reclaimed; /* dead participants whose resources were reclaimed */
    uint32_t services_removed;       /* services with no live participant left, unlinked */
    uint32_t skipped;                /* not the caller's, corrupt, or in use by another reclaimer */
} shmipc_service_gc_report;

/*
 * shmipc_service_gc - reclaim what dead participants hold in every service the caller owns (name NULL)
 * or in one service (pattern + name), and unlink services that no live process uses any more (unless
 * keep_unused). Never touches another user's service or one a live participant uses. Crash-safe: a gc
 * (or a participant's own reclaim) killed halfway is finished by the next one, and nothing is reclaimed
 * twice. report may be NULL. Errors: -EINVAL, -ENOENT (named service missing), -EPERM (named service
 * belongs to another user, or is not readable by the caller), errno from reading /dev/shm or from
 * opening the named service's segment (-EMFILE, ...).
 */
SHMIPC_API int shmipc_service_gc(shmipc_pattern pattern, const char *name, int keep_unused,
                                 shmipc_service_gc_report *report);

#ifdef __cplusplus
}
#endif
#endif
