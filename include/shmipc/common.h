/* SPDX-License-Identifier: MIT */
/*
 * shmipc/common.h - conventions shared by every part of the shmipc API.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success and a negative errno value
 * on failure; shmipc_strerror() turns one into text. Handles are opaque pointers created by a *_create or
 * *_open function and destroyed by the matching *_close. Options structures start with a size word and
 * end with reserved room: fill one with its *_opts_init() function (which sets the size and every
 * default), then change the fields you need; zero-valued fields mean "default". A structure whose size
 * word is wrong (never initialised, or from a foreign layout) or whose reserved room is not zero is
 * -EINVAL. NULL stands for all defaults.
 */
#ifndef SHMIPC_COMMON_H
#define SHMIPC_COMMON_H

#include <shmipc/version.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMIPC_API __attribute__((visibility("default")))

/* Size of a cache line on the platforms shmipc supports; shared indices written by different processes
 * are kept on separate lines of this size. */
#define SHMIPC_CACHELINE 64

/*
 * shmipc_strerror - describe an error code returned by any shmipc function.
 * err may be negative (as returned) or positive. Never returns NULL; the string is static.
 * Thread-safe.
 */
SHMIPC_API const char *shmipc_strerror(int err);

/*
 * shmipc_errname - the symbolic name of an error code, e.g. "EPIPE" for -EPIPE (or 32), as the man pages
 * write it; "OK" for 0, "E?" for a code shmipc never returns. Never NULL; static; thread-safe.
 */
SHMIPC_API const char *shmipc_errname(int err);

/* shmipc_version - the library's version as "MAJOR.MINOR.PATCH". */
SHMIPC_API const char *shmipc_version(void);

/*
 * How a call waits when it cannot complete at once. Every blocking call takes a timeout in milliseconds:
 * 0 = do not wait (return -EAGAIN), negative = wait without limit, positive = wait at most that long
 * (then -ETIMEDOUT). The bound holds whatever a peer writes to shared memory or however long it is
 * stopped: a call returns within its timeout plus one sleep slice (20 ms), the interval at which a
 * sleeping caller checks that the peer it waits for is alive (-EPIPE when it is gone).
 * Signals: a handler that runs while the caller sleeps ends the call with -EINTR (whether or not the
 * handler was installed with SA_RESTART), so a program can act on SIGINT or SIGTERM; retry to go on.
 * HYBRID spins for a budget that adapts to the traffic (20 us, up to 256 us while recent waits ended
 * within that time; 5 us in sparse traffic, and none right after the caller woke a sleeping peer), then
 * sleeps.
 */
typedef enum shmipc_wait_mode {
    SHMIPC_WAIT_DEFAULT = 0, /* the endpoint's own mode (SHMIPC_WAIT_HYBRID unless set otherwise) */
    SHMIPC_WAIT_SPIN = 1,    /* busy-poll: lowest latency, burns a core while waiting */
    SHMIPC_WAIT_BLOCK = 2,   /* sleep on a futex at once: no CPU while waiting */
    SHMIPC_WAIT_HYBRID = 3,  /* spin briefly, then sleep on the futex */
} shmipc_wait_mode;

#define SHMIPC_TIMEOUT_INFINITE (-1)
#define SHMIPC_TIMEOUT_NONE 0

/*
 * Identity of a process that survives pid reuse: the pid plus its start time in clock ticks since boot
 * (field 22 of /proc/PID/stat).
 */
typedef struct shmipc_proc_id {
    int32_t pid;
    uint32_t reserved;
    uint64_t start_time;
} shmipc_proc_id;

/* shmipc_proc_self - fill *id with the calling process's identity. Returns 0 or -errno. */
SHMIPC_API int shmipc_proc_self(shmipc_proc_id *id);

/*
 * shmipc_proc_alive - is the process *id still running?
 * Returns 1 if a process with that pid and start time exists and is not a zombie, 0 if it is gone (exited,
 * zombie, or the pid now belongs to another process). A pid of 0 or less is never alive.
 */
SHMIPC_API int shmipc_proc_alive(const shmipc_proc_id *id);

#ifdef __cplusplus
}
#endif
#endif
