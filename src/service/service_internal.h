/* SPDX-License-Identifier: MIT */
/*
 * service/service_internal.h - the core every service pattern is built on: the service header at the
 * start of a service's main segment, the participant table, and the crash-safe reclaim protocol.
 * Patterns (pubsub, reqresp, blackboard, event) register a shmipc__pattern_ops so that discovery and gc
 * can describe them and reclaim what their dead participants held.
 */
#ifndef SHMIPC_SERVICE_INTERNAL_H
#define SHMIPC_SERVICE_INTERNAL_H

#include "segment/segment_internal.h"
#include <shmipc/service.h>

#define SHMIPC_SVC_MAGIC 0x31435653u /* "SVC1" */
#define SHMIPC_SVC_VERSION 1u
#define SHMIPC_SVC_HDR_SIZE 512u
#define SHMIPC_SVC_MAX_PARTICIPANTS 1024u
/* A pattern value only the core's own tests use (no ops, never listed). */
#define SHMIPC__PATTERN_TEST ((shmipc_pattern)15)

/*
 * Service header at offset 0 of the main segment's data area. Written once by the creator before the
 * segment is published (ready, release); read-only afterwards except the stats, which the pattern updates
 * with relaxed atomics (figures for tools, not synchronisation).
 */
typedef struct shmipc__svc_hdr {
    uint32_t magic;              /*   0: SHMIPC_SVC_MAGIC */
    uint32_t version;            /*   4 */
    uint32_t pattern;            /*   8: shmipc_pattern */
    uint32_t flags;              /*  12: pattern-specific */
    char name[128];              /*  16: NUL-terminated service name */
    shmipc_type_info type;       /* 144: 80 bytes */
    uint32_t max_participants;   /* 224 */
    uint32_t participants_off;   /* 228: offset of the participant table from the data area start */
    uint32_t pattern_off;        /* 232: offset of the pattern's own header */
    uint32_t pattern_size;       /* 236: its size in bytes */
    uint32_t nstats;             /* 240: <= SHMIPC_SERVICE_MAX_STATS */
    uint8_t reserved[12];        /* 244 */
    char stat_names[SHMIPC_SERVICE_MAX_STATS][24]; /* 256: written once by the creator */
    _Atomic uint64_t stats[SHMIPC_SERVICE_MAX_STATS]; /* 448..511: relaxed counters */
} shmipc__svc_hdr;

SHMIPC_STATIC_ASSERT(sizeof(shmipc_type_info) == 80, "type info is 80 bytes");
SHMIPC_STATIC_ASSERT(sizeof(shmipc__svc_hdr) == SHMIPC_SVC_HDR_SIZE, "service header is 512 bytes");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__svc_hdr, stats) == 448, "stats offset");

/*
 * A participant slot, one cache line: the ONE participant record of every pattern (services, and the
 * endpoint tables of channels and queues). owner is the common layer's packed owner id (pid in bits
 * 63..42, low 42 bits of the start time below), so it is claimed with a single CAS. 0 = free.
 *
 * Lifecycle: claim (CAS owner 0 -> me, acq_rel) -> the owner writes role/pattern fields -> state = ACTIVE
 * (release). Clean leave: pattern cleanup -> state = VACATED (release) -> owner = 0 (CAS, release).
 * Reclaim of a dead owner: CAS reclaimer 0 -> me (or a dead reclaimer -> me), pattern reclaim (must be
 * idempotent: a reclaimer killed halfway is followed by another that redoes it), state = VACATED
 * (release), owner = 0 (CAS, release), then reclaimer = 0 (CAS, release). state FREE (0) therefore means
 * "never used", VACATED "used, and its last owner is gone": a channel end tells a peer that has not
 * opened yet from one that closed or died (owner 0 and VACATED, read with acquire, after which the
 * gone peer's last stores are visible). A participant whose owner word still
 * names a dead process is therefore always reclaimed again, never lost; one whose owner is 0 is never
 * reclaimed twice; and while the reclaimer word is held nobody can free the owner word and let a new
 * participant in under a reclaim still running. A reclaimer word left by a dead reclaimer is taken over.
 */
typedef struct shmipc__participant {
    _Atomic uint64_t owner;      /*  0: packed pid/start, 0 = free */
    _Atomic uint64_t reclaimer;  /*  8: packed id of the process reclaiming this slot, 0 = none */
    _Atomic uint32_t state;      /* 16: SHMIPC__PART_* */
    uint32_t role;               /* 20: SHMIPC_ROLE_*, written by the owner before ACTIVE */
    uint64_t start_time;         /* 24: full start time of the owner (for tools) */
    int32_t pid;                 /* 32: owner pid (for tools) */
    uint32_t user;               /* 36: pattern-specific (e.g. a subscriber queue index) */
    _Atomic uint64_t count[2];   /* 40, 48: pattern-specific counters written by the owner (relaxed; the
                                  * queue's pushes and pops) */
    uint8_t pad[8];              /* 56..63 */
} shmipc__participant;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__participant) == 64, "participant slot is one cache line");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__participant, count) == 40, "participant counters offset");

#define SHMIPC__PART_FREE 0u    /* never used */
#define SHMIPC__PART_CLAIMED 1u
#define SHMIPC__PART_ACTIVE 2u
#define SHMIPC__PART_VACATED 3u /* free again: left cleanly or reclaimed */

/* Owners are the common layer's packed ids (shmipc__owner_*, common/internal.h). */

/*
 * An open service (the core's part of every pattern handle). Channels and queues ("objects": named by
 * their segment, no service header) fill it too: hdr is NULL, parts points at the endpoint table inside
 * their own header, pattern_area at that header; the table code below is the same for both.
 */
typedef struct shmipc__svc {
    shmipc_segment *seg;
    shmipc__svc_hdr *hdr;           /* == shmipc_segment_data(seg); NULL for a channel or queue */
    shmipc__participant *parts;     /* participant table (validated at open) */
    uint32_t nparts;                /* validated max_participants */
    void *pattern_area;             /* validated pattern header */
    size_t pattern_size;
    char segname[SHMIPC_SERVICE_NAME_MAX + 32];
    shmipc_pattern pattern;         /* validated pattern: never re-read from the header, which a peer can
                                     * rewrite after the pattern area was validated for this one */
    shmipc_type_info type;          /* the header's payload type as validated at open (zero for objects) */
} shmipc__svc;

typedef struct shmipc__svc_params {
    shmipc_pattern pattern;
    const char *name;
    const shmipc_type_info *type;  /* NULL = untyped */
    uint32_t max_participants;
    uint32_t flags;
    size_t pattern_size;           /* bytes of the pattern's own header (placed after the table) */
    unsigned mode;                 /* segment permissions, 0 = 0600 */
    uint32_t nstats;
    const char *const *stat_names;
} shmipc__svc_params;

/* Segment name of a service: "/shmipc.<pattern>.<name>[.<suffix>]". Returns 0, -EINVAL, -ENAMETOOLONG. */
SHMIPC_INTERNAL int shmipc__svc_segname(shmipc_pattern pattern, const char *name, const char *suffix,
                                        char *buf, size_t cap);

/*
 * Create a service segment (unpublished: the pattern initialises pattern_area, then calls
 * shmipc__svc_publish). If the name exists but no live process uses it (stale after a crash), it is
 * unlinked and created anew. -EEXIST if a live service of that name exists.
 */
SHMIPC_INTERNAL int shmipc__svc_create(const shmipc__svc_params *p, shmipc__svc *svc);
SHMIPC_INTERNAL int shmipc__svc_publish(shmipc__svc *svc);
/* Open and validate; type (may be NULL/all zero = any) must match or -EPROTOTYPE with a detail. */
SHMIPC_INTERNAL int shmipc__svc_open(shmipc_pattern pattern, const char *name, const shmipc_type_info *type,
                                     unsigned seg_flags, shmipc__svc *svc);
SHMIPC_INTERNAL void shmipc__svc_close(shmipc__svc *svc);
/* Is there any live participant (or a live creator still initialising)? */
SHMIPC_INTERNAL int shmipc__svc_in_use(const shmipc__svc *svc);

/* Register the caller with role; reclaims dead participants first if the table is full.
 * Returns the slot index or -EUSERS. */
SHMIPC_INTERNAL int shmipc__svc_join(shmipc__svc *svc, uint32_t role, uint32_t user);
/* Register the caller in the one given slot (a channel's producer or consumer end): from free, or from a
 * dead owner after reclaiming it (the same reclaim as shmipc__svc_reclaim_dead). Returns slot, -EBUSY (a
 * live owner, possibly the caller, or a live process reclaiming it), -EINVAL or -ESRCH. */
SHMIPC_INTERNAL int shmipc__svc_join_slot(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user);
/* Leave cleanly (the pattern has already released what the slot held). */
SHMIPC_INTERNAL void shmipc__svc_leave(shmipc__svc *svc, uint32_t slot);
/* Reclaim every dead participant (calling the pattern's reclaim); returns the number reclaimed. */
SHMIPC_INTERNAL int shmipc__svc_reclaim_dead(shmipc__svc *svc);

SHMIPC_INTERNAL void shmipc__svc_set_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void shmipc__svc_stat_add(shmipc__svc *svc, unsigned i, uint64_t v)
{
    /* relaxed: figures for tools, never used to synchronise. */
    atomic_fetch_add_explicit(&svc->hdr->stats[i], v, memory_order_relaxed);
}

/* What a pattern tells the core. Each pattern defines one (strong references in service/patterns.c). */
typedef struct shmipc__pattern_ops {
    shmipc_pattern pattern;
    uint32_t seg_type;                 /* SHMIPC_TYPE_* of the main segment */
    /* Validate the pattern area of a freshly opened service (hostile peer): 0 or -EBADMSG. */
    int (*validate)(shmipc__svc *svc);
    /* Release what the dead participant in slot held. Must be idempotent and safe against a concurrent
     * reclaimer having done part of it. Called with the slot's reclaimer word held by the caller. */
    int (*reclaim)(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user);
    /* Describe options in words for tools (may be NULL). */
    void (*describe)(const shmipc__svc *svc, char *buf, size_t cap);
    /* Overwrite figures that are derived from the shared state rather than counted on the hot path
     * (e.g. pool use, from the chunk masks), in the nstats values describe copied (may be NULL). */
    void (*derived_stats)(const shmipc__svc *svc, uint64_t *stats, uint32_t nstats);
    /* Unlink companion segments when the service is removed (may be NULL). */
    void (*unlink_companions)(const char *name);
    /* Objects (channel, queue) only, NULL for services. Their segment is "/<name>" with no service header:
     * open_object validates the pattern's own header in svc->seg (hostile peer) and sets parts, nparts,
     * pattern_area and pattern_size (0 or -EBADMSG / -EPROTO); object_stats writes the live figures'
     * names and values (at most SHMIPC_SERVICE_MAX_STATS) and returns how many. */
    int (*open_object)(shmipc__svc *svc);
    uint32_t (*object_stats)(const shmipc__svc *svc, char names[][24], uint64_t *values);
} shmipc__pattern_ops;

/* Is pattern a channel or queue (named by its segment, no service header)? */
static inline bool shmipc__pattern_is_object(shmipc_pattern p)
{
    return p == SHMIPC_PATTERN_CHANNEL || p == SHMIPC_PATTERN_QUEUE;
}

SHMIPC_INTERNAL const shmipc__pattern_ops *shmipc__pattern_lookup(shmipc_pattern pattern);
/* Tests only: when set, replaces the lookup (so a test can watch which reclaim runs). */
SHMIPC_INTERNAL extern const shmipc__pattern_ops *(*shmipc__pattern_lookup_hook)(shmipc_pattern pattern);

#endif
