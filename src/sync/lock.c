/* SPDX-License-Identifier: MIT */
/*
 * sync/lock.c - robust process-shared mutexes and CLOCK_MONOTONIC condition variables in caller memory:
 * thin wrappers over glibc's pthread objects that add a magic word (so memory that holds no lock is
 * refused with -EBADMSG) and translate errors to negative errno values.
 */
#include "sync/sync_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <unistd.h>


static bool mem_ok(const void *mem, size_t size, size_t need)
{
    return mem && ((uintptr_t)mem % SHMIPC_LOCK_ALIGN) == 0 && size >= need;
}

/* Acquire on the magic pairs with the release store at the end of init, so a caller that sees the magic
 * sees the initialised pthread object; the version is written before that store and needs no order of
 * its own. The pthread object's state is then synchronised by the pthread calls themselves. */
static int lock_check(shmipc_lock *l)
{
    if (!l)
        return -EINVAL;
    if (atomic_load_explicit(&l->magic, memory_order_acquire) != SHMIPC_LOCK_MAGIC ||
        atomic_load_explicit(&l->version, memory_order_relaxed) != SHMIPC_SYNC_VERSION)
        return -EBADMSG;
    return 0;
}

static int cond_check(shmipc_cond *c)
{
    if (!c)
        return -EINVAL;
    if (atomic_load_explicit(&c->magic, memory_order_acquire) != SHMIPC_COND_MAGIC ||
        atomic_load_explicit(&c->version, memory_order_relaxed) != SHMIPC_SYNC_VERSION)
        return -EBADMSG;
    return 0;
}

int shmipc_lock_init(void *mem, size_t size)
{
    if (!mem_ok(mem, size, SHMIPC_LOCK_SIZE))
        return -EINVAL;
    shmipc_lock *l = mem;
    atomic_store_explicit(&l->magic, 0, memory_order_relaxed);
    atomic_store_explicit(&l->version, SHMIPC_SYNC_VERSION, memory_order_relaxed);
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
        (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0 &&
        (r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK)) == 0)
        r = pthread_mutex_init(&l->mutex, &a);
    pthread_mutexattr_destroy(&a);
    if (r)
        return r == EINVAL ? -ENOTSUP : -r; /* EINVAL here means an attribute is unsupported */
    /* Release: a user that sees the magic (acquire in lock_check) sees the initialised mutex. */
    atomic_store_explicit(&l->magic, SHMIPC_LOCK_MAGIC, memory_order_release);
    return 0;
}

/*
 * glibc 2.36's pthread_mutex_trylock on a robust mutex left unrecoverable returns ENOTRECOVERABLE but
 * leaves the lock word holding the caller's tid (it unlocks only when the value *before* its CAS was
 * its tid), so every later locker would block for ever. Give the word back as glibc's own unlock does:
 * store 0, and wake sleepers if one flagged itself.
 */
static int trylock(shmipc_lock *l)
{
    int r = pthread_mutex_trylock(&l->mutex);
#ifndef __GLIBC__
    /* musl's trylock says EBUSY also when the caller holds the lock; its timedlock tells the two apart
     * (EDEADLK for an error-checking mutex the caller holds) and, with a deadline already past, returns
     * ETIMEDOUT instead of waiting when another thread holds it. So -EDEADLK means the same everywhere. */
    if (r == EBUSY) {
        static const struct timespec past = {0, 0};
        r = pthread_mutex_timedlock(&l->mutex, &past);
        if (r == ETIMEDOUT)
            r = EBUSY;
    }
#endif
    if (r != ENOTRECOVERABLE)
        return -r;
#ifdef __GLIBC__ /* the lock word is glibc's; musl's trylock has no such defect to work around */
    int *word = &l->mutex.__data.__lock;
    if ((__atomic_load_n(word, __ATOMIC_RELAXED) & FUTEX_TID_MASK) == (int)gettid()) {
        int old = __atomic_exchange_n(word, 0, __ATOMIC_RELEASE);
        if (old & FUTEX_WAITERS)
            shmipc__futex_wake((_Atomic uint32_t *)word, INT_MAX);
    }
#endif
    return -ENOTRECOVERABLE;
}

int shmipc_lock_destroy(shmipc_lock *l)
{
    int r = lock_check(l);
    if (r)
        return r;
    /* glibc does not refuse to destroy a held robust mutex: take it ourselves to find out. */
    r = trylock(l);
    if (r == -EBUSY || r == -EDEADLK)
        return -EBUSY;
    if (r == -EOWNERDEAD)
        pthread_mutex_consistent(&l->mutex);
    if (r == 0 || r == -EOWNERDEAD)
        pthread_mutex_unlock(&l->mutex);
    atomic_store_explicit(&l->magic, 0, memory_order_relaxed);
    pthread_mutex_destroy(&l->mutex);
    return 0;
}

int shmipc_lock_lock(shmipc_lock *l)
{
    int r = lock_check(l);
    return r ? r : -pthread_mutex_lock(&l->mutex);
}

int shmipc_lock_trylock(shmipc_lock *l)
{
    int r = lock_check(l);
    return r ? r : trylock(l);
}

static struct timespec mono_deadline(int timeout_ms)
{
    uint64_t d = shmipc__deadline(timeout_ms);
    return (struct timespec){.tv_sec = (time_t)(d / 1000000000u), .tv_nsec = (long)(d % 1000000000u)};
}

int shmipc_lock_timedlock(shmipc_lock *l, int timeout_ms)
{
    int r = lock_check(l);
    if (r)
        return r;
    if (timeout_ms < 0)
        return -pthread_mutex_lock(&l->mutex);
    if (timeout_ms == 0) {
        r = trylock(l);
        return r == -EBUSY ? -EAGAIN : r;
    }
#if (defined(SHMIPC_SANITIZER) && SHMIPC_SANITIZER == 2) || !defined(__GLIBC__)
    /* GCC 12's ThreadSanitizer does not intercept pthread_mutex_clocklock and would lose track of who
     * holds the lock, and musl (1.2.3) has no pthread_mutex_clocklock: in TSan and musl builds, wait with
     * a CLOCK_REALTIME deadline instead (a step of the wall clock then lengthens or shortens the wait). */
    uint64_t d = shmipc__realtime_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u), .tv_nsec = (long)(d % 1000000000u)};
    return -pthread_mutex_timedlock(&l->mutex, &ts);
#else
    struct timespec ts = mono_deadline(timeout_ms);
    return -pthread_mutex_clocklock(&l->mutex, CLOCK_MONOTONIC, &ts);
#endif
}

int shmipc_lock_unlock(shmipc_lock *l)
{
    int r = lock_check(l);
    return r ? r : -pthread_mutex_unlock(&l->mutex);
}

int shmipc_lock_consistent(shmipc_lock *l)
{
    int r = lock_check(l);
    return r ? r : -pthread_mutex_consistent(&l->mutex);
}

int shmipc_cond_init(void *mem, size_t size)
{
    if (!mem_ok(mem, size, SHMIPC_COND_SIZE))
        return -EINVAL;
    shmipc_cond *c = mem;
    atomic_store_explicit(&c->magic, 0, memory_order_relaxed);
    atomic_store_explicit(&c->version, SHMIPC_SYNC_VERSION, memory_order_relaxed);
    pthread_condattr_t a;
    int r = pthread_condattr_init(&a);
    if (r)
        return -r;
    if ((r = pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
        (r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC)) == 0)
        r = pthread_cond_init(&c->cond, &a);
    pthread_condattr_destroy(&a);
    if (r)
        return -r;
    /* Release: pairs with the acquire in cond_check. */
    atomic_store_explicit(&c->magic, SHMIPC_COND_MAGIC, memory_order_release);
    return 0;
}

int shmipc_cond_destroy(shmipc_cond *c)
{
    int r = cond_check(c);
    if (r)
        return r;
    /* Not pthread_cond_destroy: glibc's waits until every waiter has confirmed its wake-up, so a waiter
     * killed in shmipc_cond_wait would make it block for ever. A process-shared condvar holds no other
     * resource, so clearing the magic is all destruction needs. */
    atomic_store_explicit(&c->magic, 0, memory_order_relaxed);
    return 0;
}

int shmipc_cond_wait(shmipc_cond *c, shmipc_lock *l)
{
    int r = cond_check(c);
    if (!r)
        r = lock_check(l);
    return r ? r : -pthread_cond_wait(&c->cond, &l->mutex);
}

int shmipc_cond_timedwait(shmipc_cond *c, shmipc_lock *l, int timeout_ms)
{
    int r = cond_check(c);
    if (!r)
        r = lock_check(l);
    if (r)
        return r;
    if (timeout_ms < 0)
        return -pthread_cond_wait(&c->cond, &l->mutex);
    if (timeout_ms == 0)
        return -EAGAIN;
    struct timespec ts = mono_deadline(timeout_ms);
    return -pthread_cond_timedwait(&c->cond, &l->mutex, &ts);
}

int shmipc_cond_signal(shmipc_cond *c)
{
    int r = cond_check(c);
    return r ? r : -pthread_cond_signal(&c->cond);
}

int shmipc_cond_broadcast(shmipc_cond *c)
{
    int r = cond_check(c);
    return r ? r : -pthread_cond_broadcast(&c->cond);
}
