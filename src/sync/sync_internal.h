/* SPDX-License-Identifier: MIT */
/*
 * sync/sync_internal.h - the in-memory layouts of the sync layer's objects (event, lock, condition
 * variable), shared by its files and by layers that embed an event. ARCHITECTURE.md ("Sync layer")
 * documents them byte by byte; the _Static_asserts here keep the two in step.
 */
#ifndef SHMIPC_SYNC_INTERNAL_H
#define SHMIPC_SYNC_INTERNAL_H

#include "common/internal.h"
#include <shmipc/event.h>
#include <shmipc/lock.h>

#include <pthread.h>

#define SHMIPC_EVENT_MAGIC   UINT32_C(0x56454853) /* bytes "SHEV" (little-endian) */
#define SHMIPC_EVENT_VERSION 1u
#define SHMIPC_LOCK_MAGIC    UINT32_C(0x4b4c4853) /* bytes "SHLK" */
#define SHMIPC_COND_MAGIC    UINT32_C(0x44434853) /* bytes "SHCD" */
#define SHMIPC_SYNC_VERSION  1u

/*
 * An event, in one cache line. magic and version are written once by shmipc_event_create_in (magic last,
 * release) and only read afterwards; every call re-checks them (relaxed: they detect overwriting, they
 * publish nothing). notify.seq is the post count and the futex word; notify.waiters counts announced
 * sleepers (see the notify protocol in common/internal.h). Every process writes seq and waiters, so
 * they share the line with nothing another process writes at another rate.
 */
typedef struct shmipc__event_mem {
    _Atomic uint32_t magic;  /*  0: SHMIPC_EVENT_MAGIC */
    _Atomic uint32_t version; /* 4: SHMIPC_EVENT_VERSION */
    shmipc__notify notify;   /*  8: seq (post count), 12: waiters */
    uint8_t reserved[48];    /* 16..63: zero */
} shmipc__event_mem;

SHMIPC_STATIC_ASSERT(sizeof(shmipc__event_mem) == SHMIPC_EVENT_SIZE, "event is one cache line");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__event_mem, notify) == 8, "event notify offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__event_mem, notify.seq) == 8, "event seq offset");
SHMIPC_STATIC_ASSERT(offsetof(shmipc__event_mem, notify.waiters) == 12, "event waiters offset");

/*
 * A lock or condition variable: a header word, then the pthread object at offset 8 (its natural
 * alignment). magic is stored last by init with release and cleared by destroy; version is written once.
 */
struct shmipc_lock {
    _Atomic uint32_t magic;   /* 0: SHMIPC_LOCK_MAGIC */
    _Atomic uint32_t version; /* 4: SHMIPC_SYNC_VERSION */
    pthread_mutex_t mutex;    /* 8: PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST, ERRORCHECK */
};

struct shmipc_cond {
    _Atomic uint32_t magic;   /* 0: SHMIPC_COND_MAGIC */
    _Atomic uint32_t version; /* 4: SHMIPC_SYNC_VERSION */
    pthread_cond_t cond;      /* 8: PTHREAD_PROCESS_SHARED, CLOCK_MONOTONIC */
};

SHMIPC_STATIC_ASSERT(offsetof(struct shmipc_lock, mutex) == 8, "mutex offset");
SHMIPC_STATIC_ASSERT(offsetof(struct shmipc_cond, cond) == 8, "cond offset");
SHMIPC_STATIC_ASSERT(sizeof(struct shmipc_lock) <= SHMIPC_LOCK_SIZE, "SHMIPC_LOCK_SIZE too small for pthread_mutex_t");
SHMIPC_STATIC_ASSERT(sizeof(struct shmipc_cond) <= SHMIPC_COND_SIZE, "SHMIPC_COND_SIZE too small for pthread_cond_t");
SHMIPC_STATIC_ASSERT(SHMIPC_LOCK_ALIGN >= _Alignof(pthread_mutex_t), "SHMIPC_LOCK_ALIGN below pthread_mutex_t's");
SHMIPC_STATIC_ASSERT(SHMIPC_LOCK_ALIGN >= _Alignof(pthread_cond_t), "SHMIPC_LOCK_ALIGN below pthread_cond_t's");

/* Validate an event's header: 0, -EBADMSG (magic) or -EPROTO (version). */
static inline int shmipc__event_check(const shmipc__event_mem *m)
{
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&m->magic, memory_order_relaxed) != SHMIPC_EVENT_MAGIC))
        return -EBADMSG;
    if (SHMIPC_UNLIKELY(atomic_load_explicit(&m->version, memory_order_relaxed) != SHMIPC_EVENT_VERSION))
        return -EPROTO;
    return 0;
}

#endif
