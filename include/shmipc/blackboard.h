/* SPDX-License-Identifier: MIT */
/*
 * shmipc/blackboard.h - the blackboard (latest-value) service: one writer keeps a fixed-size value, or a
 * small table of them indexed by key 0..entries-1, up to date; any number of readers read the latest
 * value without locks and always get a consistent snapshot, never a mix of two writes.
 *
 * Each entry has two buffers, each guarded by its own sequence counter (odd while being written). The
 * writer fills the buffer readers are not directed to, then flips the entry's index to it; a reader
 * copies the current buffer and retries if its sequence moved. A writer killed mid-write therefore leaves
 * the previous value intact and readable, and a restarted writer takes over from it. Readers can sleep
 * until an entry changes (futex, no system call for the writer while nobody sleeps).
 */
#ifndef SHMIPC_BLACKBOARD_H
#define SHMIPC_BLACKBOARD_H

#include <shmipc/common.h>
#include <shmipc/service.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_blackboard_writer shmipc_blackboard_writer;
typedef struct shmipc_blackboard_reader shmipc_blackboard_reader;

#define SHMIPC_BB_MAX_VALUE (1u << 20) /* largest value, bytes */
#define SHMIPC_BB_MAX_ENTRIES 4096u

/*
 * Settings of a blackboard. The writer creates it with them; a reader (or a writer taking over) passes
 * its own: the type must match (see shmipc_type_info) and each non-zero field must equal the service's,
 * else -EPROTOTYPE with shmipc_service_error_detail() naming the field.
 */
typedef struct shmipc_blackboard_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    uint32_t pad0;
    const shmipc_type_info *type; /* value type; NULL = untyped (then value_size is required) */
    uint32_t value_size;          /* bytes per value; 0 = type->size */
    uint32_t entries;             /* keys 0..entries-1; 0 = 1 */
    uint32_t max_readers;         /* readers registered at once; 0 = 64 */
    unsigned mode;                /* segment permission bits at creation; 0 = 0600 */
    shmipc_wait_mode wait_mode;   /* how shmipc_blackboard_wait waits; 0 = hybrid */
    uint32_t pad1;
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_blackboard_opts;

/* shmipc_blackboard_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_blackboard_opts_init(shmipc_blackboard_opts *opts);

/*
 * shmipc_blackboard_writer_create - become the writer of blackboard name, creating it if it does not exist.
 * An existing blackboard whose writer died or closed is taken over with its values (even if no process
 * uses it any more); one with other settings is replaced if no live process uses it, else -EPROTOTYPE.
 * opts may be NULL only to take over an existing one.
 * Errors: -EINVAL (bad name or option, no value size), -ENAMETOOLONG, -EBUSY (a live writer exists),
 * -EPROTOTYPE, -EUSERS, -EBADMSG (existing one corrupt), -ENOMEM, errors of shmipc_segment_create/open.
 * Thread safety: one thread at a time per handle; process-safe.
 */
SHMIPC_API int shmipc_blackboard_writer_create(const char *name, const shmipc_blackboard_opts *opts,
                                             shmipc_blackboard_writer **out);

/*
 * shmipc_blackboard_write - publish a new value of key (len must be the value size). Never blocks; wakes
 * readers sleeping in shmipc_blackboard_wait (a system call only if one sleeps).
 * Errors: -EINVAL (NULL argument, key >= entries, len != value size).
 */
SHMIPC_API int shmipc_blackboard_write(shmipc_blackboard_writer *w, uint32_t key, const void *value, size_t len);

/* shmipc_blackboard_writer_close - give up the writer role (values stay, readers waiting get -EPIPE) and
 * free the handle. NULL is a no-op. Returns 0. */
SHMIPC_API int shmipc_blackboard_writer_close(shmipc_blackboard_writer *w);

/*
 * shmipc_blackboard_reader_open - open the existing blackboard name for reading. opts may be NULL.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EPROTOTYPE, -EUSERS, -EBADMSG, -ENOMEM, errors of
 * shmipc_segment_open.
 */
SHMIPC_API int shmipc_blackboard_reader_open(const char *name, const shmipc_blackboard_opts *opts,
                                             shmipc_blackboard_reader **out);

/*
 * shmipc_blackboard_read - copy the latest value of key into buf (cap bytes); *version (may be NULL)
 * receives its version (1 for the first write, +1 per write). Lock-free; never blocks on the writer.
 * One reader's reads of a key never go back to an older version. Returns the value size.
 * Errors: -EINVAL, -EMSGSIZE (cap < value size), -ENODATA (never written), -EBADMSG (index or version
 * corrupt, or both buffers older than what this reader returned before), -EAGAIN (the writer rewrote the entry faster than it could be copied for a whole second).
 */
SHMIPC_API int shmipc_blackboard_read(shmipc_blackboard_reader *r, uint32_t key, void *buf, size_t cap,
                                      uint64_t *version);

/*
 * shmipc_blackboard_wait - wait until key's version is greater than seen (pass the version of the last
 * read, or 0). Returns 0 when it is; then read it. With no writer at the start it waits for one to appear
 * and write.
 * Errors: -EINVAL, -EAGAIN (timeout 0), -ETIMEDOUT, -EPIPE (the writer present when the wait began, or
 * the first to appear during it, closed or died; death is noticed within about 50 ms), -EBADMSG.
 */
SHMIPC_API int shmipc_blackboard_wait(shmipc_blackboard_reader *r, uint32_t key, uint64_t seen, int timeout_ms);

/* shmipc_blackboard_value_size - the value size of the blackboard (bytes). */
SHMIPC_API size_t shmipc_blackboard_value_size(const shmipc_blackboard_reader *r);

/* shmipc_blackboard_reader_close - free the handle. NULL is a no-op. Returns 0. */
SHMIPC_API int shmipc_blackboard_reader_close(shmipc_blackboard_reader *r);

/* shmipc_blackboard_unlink - remove the name. Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES. */
SHMIPC_API int shmipc_blackboard_unlink(const char *name);

#ifdef __cplusplus
}
#endif
#endif
