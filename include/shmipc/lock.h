/* SPDX-License-Identifier: MIT */
/*
 * shmipc/lock.h - process-shared robust mutexes and condition variables for callers who keep their own
 * data in shared memory (a segment's data area, a MAP_SHARED mapping).
 *
 * A lock is glibc's pthread_mutex_t made PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST and
 * PTHREAD_MUTEX_ERRORCHECK, preceded by a magic word. It lives in SHMIPC_LOCK_SIZE bytes of the caller's
 * memory; shmipc_lock_init() lays it out there and the same memory, cast to shmipc_lock *, is the lock
 * for every process that maps it:
 *
 *     shmipc_lock *lk = (shmipc_lock *)((char *)shmipc_segment_data(seg) + off);
 *
 * Robustness: when the owner dies holding the lock (exit, kill, crash), the next locker gets
 * -EOWNERDEAD and holds the lock. The data it protects may be half-updated: repair or reset it, then
 * call shmipc_lock_consistent() and unlock as usual. A holder that unlocks without calling
 * shmipc_lock_consistent() leaves the lock unusable: every later lock attempt gets -ENOTRECOVERABLE
 * (reinitialise it with shmipc_lock_init once nobody uses it).
 *
 * A condition variable (shmipc_cond) is a process-shared pthread_cond_t on CLOCK_MONOTONIC, also behind
 * a magic word, used with a shmipc_lock.
 *
 * Validation and its limit: every call checks the magic word, so memory that was never initialised, or
 * a lock destroyed with shmipc_lock_destroy(), gives -EBADMSG rather than undefined behaviour. Past
 * that word the pthread object is opaque glibc state that any process with write access can change:
 * a buggy or hostile peer can corrupt it and make lockers deadlock, fail with unexpected errors
 * (-EINVAL, -EAGAIN, -EPERM...) or hold a lock they do not own. Share locks only between processes that
 * trust each other; message passing (channels, queues) does not rely on them.
 *
 * All functions are thread-safe and process-safe in the pthread sense: the ownership they report is per
 * thread, so a lock taken by one thread must be unlocked by the same thread.
 */
#ifndef SHMIPC_LOCK_H
#define SHMIPC_LOCK_H

#include <shmipc/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A lock or condition variable in shared memory; obtained by casting the memory given to *_init. */
typedef struct shmipc_lock shmipc_lock;
typedef struct shmipc_cond shmipc_cond;

/* Bytes a lock / condition variable occupies (a magic word, then the pthread object) and the alignment
 * its address needs. Checked at build time against sizeof(pthread_mutex_t) and sizeof(pthread_cond_t). */
#define SHMIPC_LOCK_SIZE  64
#define SHMIPC_COND_SIZE  64
#define SHMIPC_LOCK_ALIGN 8

/*
 * shmipc_lock_init - lay out an unlocked robust process-shared mutex in size bytes at mem.
 * mem must be SHMIPC_LOCK_ALIGN-aligned, shared by every user, and not in use as a lock (initialising a
 * lock others hold or wait for is undefined). The magic word is stored last, with release order.
 * Returns 0, -EINVAL (mem NULL or misaligned, size < SHMIPC_LOCK_SIZE), -ENOTSUP (this system has no
 * robust process-shared mutexes).
 */
SHMIPC_API int shmipc_lock_init(void *mem, size_t size);

/*
 * shmipc_lock_destroy - destroy an unlocked lock and clear its magic word, so later use gives -EBADMSG.
 * Returns 0, -EINVAL (NULL), -EBADMSG (not a lock), -EBUSY (locked).
 */
SHMIPC_API int shmipc_lock_destroy(shmipc_lock *lock);

/*
 * shmipc_lock_lock - take the lock, waiting without limit.
 * Returns 0; -EOWNERDEAD (the previous owner died holding it: the caller now holds it, see above);
 * -ENOTRECOVERABLE (a holder of an -EOWNERDEAD lock unlocked it without repair; not taken);
 * -EDEADLK (the calling thread already holds it); -EBADMSG (not a lock); -EINVAL (NULL).
 */
SHMIPC_API int shmipc_lock_lock(shmipc_lock *lock);

/*
 * shmipc_lock_trylock - take the lock only if it is free now.
 * Returns as shmipc_lock_lock (-EDEADLK when the calling thread holds it), and -EBUSY when another
 * thread holds it.
 */
SHMIPC_API int shmipc_lock_trylock(shmipc_lock *lock);

/*
 * shmipc_lock_timedlock - take the lock, waiting at most timeout_ms milliseconds (CLOCK_MONOTONIC, so
 * clock changes do not stretch it; built with musl, which has no pthread_mutex_clocklock, the deadline is
 * on CLOCK_REALTIME). 0 = do not wait, negative = no limit.
 * Returns as shmipc_lock_lock, and -EAGAIN (timeout 0 and the lock is held elsewhere), -ETIMEDOUT.
 */
SHMIPC_API int shmipc_lock_timedlock(shmipc_lock *lock, int timeout_ms);

/*
 * shmipc_lock_unlock - release the lock held by the calling thread.
 * Returns 0, -EPERM (the calling thread does not hold it), -EBADMSG, -EINVAL.
 */
SHMIPC_API int shmipc_lock_unlock(shmipc_lock *lock);

/*
 * shmipc_lock_consistent - after a lock call returned -EOWNERDEAD and the caller repaired the data,
 * mark the lock usable again. The caller keeps holding it and unlocks it as usual.
 * Returns 0, -EINVAL (the lock is not in the owner-died state, or NULL), -EBADMSG.
 */
SHMIPC_API int shmipc_lock_consistent(shmipc_lock *lock);

/*
 * shmipc_cond_init - lay out a process-shared condition variable (CLOCK_MONOTONIC) in size bytes at mem.
 * Same requirements as shmipc_lock_init, with SHMIPC_COND_SIZE. Returns 0 or -EINVAL.
 */
SHMIPC_API int shmipc_cond_init(void *mem, size_t size);

/*
 * shmipc_cond_destroy - clear the magic word of a condition variable nobody waits on, so later use gives
 * -EBADMSG. Unlike pthread_cond_destroy it never waits for waiters to confirm their wake-up (a waiter
 * killed mid-wait never would). Returns 0, -EINVAL (NULL), -EBADMSG (not a condition variable).
 */
SHMIPC_API int shmipc_cond_destroy(shmipc_cond *cond);

/*
 * shmipc_cond_wait - atomically release lock (held by the caller) and wait for a signal on cond, then
 * take the lock back. May wake spuriously: wait in a loop on the caller's predicate.
 * Returns 0 with the lock held; -EOWNERDEAD (while re-taking the lock, its previous owner turned out
 * dead: the caller holds it and must repair and call shmipc_lock_consistent, as after a lock call);
 * -ENOTRECOVERABLE (the lock was left unrecoverable; not held); -EPERM (the caller does not hold lock);
 * -EBADMSG (cond or lock is not valid); -EINVAL (NULL).
 */
SHMIPC_API int shmipc_cond_wait(shmipc_cond *cond, shmipc_lock *lock);

/*
 * shmipc_cond_timedwait - shmipc_cond_wait for at most timeout_ms milliseconds (CLOCK_MONOTONIC).
 * 0 = do not wait: returns -EAGAIN at once, lock still held and never released; negative = no limit.
 * Returns as shmipc_cond_wait, and -ETIMEDOUT (with the lock held again).
 */
SHMIPC_API int shmipc_cond_timedwait(shmipc_cond *cond, shmipc_lock *lock, int timeout_ms);

/*
 * shmipc_cond_signal - wake at least one waiter of cond, if any. shmipc_cond_broadcast - wake all.
 * May be called with or without the lock held. Return 0, -EBADMSG, -EINVAL.
 * A waiter killed while waiting can absorb a later signal (glibc counts it as a waiter still): where
 * waiters may die, prefer shmipc_cond_broadcast, or timed waits that re-check their predicate.
 */
SHMIPC_API int shmipc_cond_signal(shmipc_cond *cond);
SHMIPC_API int shmipc_cond_broadcast(shmipc_cond *cond);

#ifdef __cplusplus
}
#endif
#endif
