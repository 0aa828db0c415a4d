/* SPDX-License-Identifier: MIT */
/*
 * shmipc/segment.h - shared-memory segments: named POSIX shared memory, memory-mapped files and anonymous
 * memfd segments, each starting with a validated header.
 *
 * Lifecycle (the seed's shm_open + ftruncate + mmap, made safe):
 *   shmipc_segment_create()  creates the name exclusively, sizes it, reserves its memory, maps it and
 *                            initialises the header; the segment is "ready" when it returns (unless
 *                            SHMIPC_SEG_DEFER_READY, then after shmipc_segment_publish()).
 *   shmipc_segment_open()    maps an existing segment after checking owner, header and size.
 *   shmipc_segment_close()   unmaps this process's view and closes the descriptor; others are unaffected.
 *   shmipc_segment_unlink()  removes the name; the memory is freed when the last mapping goes.
 *
 * A handle is not thread-safe: use one per thread, or serialise calls on it. Different handles, in one
 * process or many, may map the same segment. The memory itself is shared: what lives in it is the business
 * of the layer that put it there (channels, queues, ...).
 */
#ifndef SHMIPC_SEGMENT_H
#define SHMIPC_SEGMENT_H

#include <shmipc/common.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_segment shmipc_segment;

/* Longest segment name accepted, including the leading '/'. Shorter than NAME_MAX so that layers can
 * derive companion names (NAME.pool, ...). */
#define SHMIPC_NAME_MAX 200

/* Size of the segment header; the user data starts right after it, aligned to a cache line. */
#define SHMIPC_SEGMENT_HEADER_SIZE 128

/* Type tags stored in the header, telling tools what lives inside. Values below 0x10000 are shmipc's. */
#define SHMIPC_TYPE_RAW        0u /* plain bytes (created by a user or `shmipc segment create`) */
#define SHMIPC_TYPE_CHANNEL    1u
#define SHMIPC_TYPE_QUEUE      2u
#define SHMIPC_TYPE_EVENT      3u
#define SHMIPC_TYPE_PUBSUB     4u
#define SHMIPC_TYPE_PUBSUB_POOL 5u
#define SHMIPC_TYPE_REQRESP    6u
#define SHMIPC_TYPE_BLACKBOARD 7u
#define SHMIPC_TYPE_EVSVC                                                                                              \
    8u /* the event *service* (shmipc_event_* in caller memory or its own segment use SHMIPC_TYPE_EVENT) */
#define SHMIPC_TYPE_USER       0x10000u /* first value free for applications */

/* What backs a segment. */
typedef enum shmipc_backing {
    SHMIPC_BACKING_POSIX = 1, /* shm_open() name under /dev/shm */
    SHMIPC_BACKING_FILE = 2,  /* a regular file, data persists */
    SHMIPC_BACKING_MEMFD = 3, /* anonymous memfd, shared by fork or by passing its descriptor */
} shmipc_backing;

/* Flags for shmipc_segment_opts.flags. */
#define SHMIPC_SEG_ALLOW_FOREIGN (1u << 0) /* open: accept a segment owned by another user */
#define SHMIPC_SEG_RDONLY        (1u << 1) /* open: map read-only (writes fault) */
#define SHMIPC_SEG_DEFER_READY   (1u << 2) /* create: leave the segment unready until shmipc_segment_publish() */
#define SHMIPC_SEG_NO_RESERVE    (1u << 3) /* create: do not reserve the memory (sparse; may SIGBUS later) */
#define SHMIPC_SEG_ANY_TYPE      (1u << 4) /* open: accept any type tag (for tools) */

typedef struct shmipc_segment_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    unsigned mode;        /* create: permission bits, exactly (umask is not applied); 0 = 0600 */
    uint32_t type;        /* create: type tag to store; open: type required (unless SHMIPC_SEG_ANY_TYPE) */
    unsigned flags;       /* SHMIPC_SEG_* */
    int ready_timeout_ms; /* open: how long to wait for a segment still being initialised;
                             0 = default (1000 ms), negative = do not wait */
    uint32_t pad0;
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_segment_opts;

/* shmipc_segment_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_segment_opts_init(shmipc_segment_opts *opts);

/* Longest directory path shmipc_segment_set_dir accepts. */
#define SHMIPC_DIR_MAX 200

/*
 * shmipc_segment_set_dir - where named segments (and so named channels, queues and services) live, for this
 * process: NULL or "" selects POSIX shared memory (/dev/shm, the default); an absolute path selects that
 * directory, whose files are mapped the same way (use a tmpfs, e.g. $XDG_RUNTIME_DIR, or a directory the
 * administrator created on one; a disk file system works too, for boards without /dev/shm, at the cost
 * of write-back). Without a call, the environment variable SHMIPC_DIR is read once at first use.
 * /dev/shm is writable by every user, so anyone can take a name first and make the owner's create fail;
 * the directory must be owned by the caller or root and not writable by others, so nobody outside its
 * user (or group) can create, replace or remove anything in it. Every process of a product must choose
 * the same directory (tools: shmipc --dir DIR, or SHMIPC_DIR). Call it before creating or opening
 * named objects; objects already open stay where they are.
 * Errors: -EINVAL (relative path), -ENAMETOOLONG, -ENOENT, -ENOTDIR, -ELOOP (a link), -EPERM (owned by
 * another user, or writable by others), -EACCES. With a bad SHMIPC_DIR, every named call fails with the
 * same error. Thread-safe.
 */
SHMIPC_API int shmipc_segment_set_dir(const char *path);

/* shmipc_segment_get_dir - the directory named objects live in now ("/dev/shm" for POSIX shared memory). The
 * string stays valid until the next shmipc_segment_set_dir. */
SHMIPC_API const char *shmipc_segment_get_dir(void);

/*
 * shmipc_segment_name_check - validate a POSIX segment name: a leading '/', then 1 to SHMIPC_NAME_MAX - 1
 * printable, non-space ASCII characters with no other '/', and not "/." or "/..".
 * Returns 0, -EINVAL (malformed) or -ENAMETOOLONG.
 */
SHMIPC_API int shmipc_segment_name_check(const char *name);

/*
 * shmipc_segment_create - create a named POSIX shared-memory segment with room for size bytes of user data.
 * Creation is exclusive: an existing name gives -EEXIST, never a silent share. The one exception is a
 * corpse: a segment of the caller's own that was never published and whose creator is dead (killed while
 * initialising it) can never become ready, so it is removed and the name created anew. The memory is reserved
 * now, so a full /dev/shm gives -ENOSPC here instead of SIGBUS on a later write.
 * opts may be NULL. On success *out holds the new handle and the data area is zero-filled.
 * Errors: -EINVAL (bad name or flags, size 0), -ENAMETOOLONG, -EEXIST, -ENOSPC (the file system is full or
 *         too small: the memory is reserved here, so a full /dev/shm never raises SIGBUS later), -ENODEV
 *         (no /dev/shm: mount a tmpfs there or choose a directory, see shmipc_segment_set_dir), -EFBIG (size too
 *         large), -EACCES, -EMFILE, -ENOMEM, or another errno from shm_open/ftruncate/mmap.
 */
SHMIPC_API int shmipc_segment_create(const char *name, size_t size, const shmipc_segment_opts *opts,
                                     shmipc_segment **out);

/*
 * shmipc_segment_open - open and map an existing named segment.
 * Checks, in order: the name; that the segment belongs to the caller's effective user (else -EPERM,
 * unless SHMIPC_SEG_ALLOW_FOREIGN); that it is ready (waiting up to opts->ready_timeout_ms for a creator
 * still initialising it); that its header is valid and agrees with the object's real size.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT (no such segment), -EACCES, -EPERM (foreign owner),
 *         -EBADMSG (not a shmipc segment: bad magic, header size or size, or file shorter than the header
 *         claims), -EPROTO (layout version this library does not understand), -EPROTOTYPE (type tag differs
 *         from opts->type), -ETIMEDOUT (still initialising after the timeout), -ENOTRECOVERABLE (its creator
 *         died before finishing initialisation), or another errno from shm_open/fstat/mmap.
 */
SHMIPC_API int shmipc_segment_open(const char *name, const shmipc_segment_opts *opts, shmipc_segment **out);

/*
 * shmipc_segment_open_or_create - open name if it exists, else create it with size bytes of data.
 * Returns 1 if this call created the segment, 0 if it opened an existing one, or a negative error of
 * create or open. A segment that exists but belongs to another user is refused (-EPERM), never used.
 */
SHMIPC_API int shmipc_segment_open_or_create(const char *name, size_t size, const shmipc_segment_opts *opts,
                                             shmipc_segment **out);

/*
 * shmipc_segment_file_create / shmipc_segment_file_open - the same for a regular file at path, which keeps
 * its data after the last process closes it. Symbolic links are never followed (-ELOOP).
 * Same errors as shmipc_segment_create / shmipc_segment_open (the path is not checked as a name).
 */
SHMIPC_API int shmipc_segment_file_create(const char *path, size_t size, const shmipc_segment_opts *opts,
                                          shmipc_segment **out);
SHMIPC_API int shmipc_segment_file_open(const char *path, const shmipc_segment_opts *opts,
                                        shmipc_segment **out);

/*
 * shmipc_segment_memfd_create - create an anonymous segment (memfd_create) with size bytes of data.
 * It has no name in any file system; share it by fork() or by sending its descriptor with
 * shmipc_segment_send_fd(). It is sealed against shrinking (F_SEAL_SHRINK) and against seal changes
 * (F_SEAL_SEAL), so no peer can truncate it under another's mapping. label only names it in
 * /proc/PID/fd and /proc/PID/maps (may be NULL).
 * Errors: -EINVAL, -ENOSPC, -EMFILE, -ENOMEM, -ENOSYS (no memfd in this kernel).
 */
SHMIPC_API int shmipc_segment_memfd_create(const char *label, size_t size, const shmipc_segment_opts *opts,
                                           shmipc_segment **out);

/*
 * shmipc_segment_from_fd - map a segment from a descriptor received from a peer (typically a memfd).
 * On success the handle owns fd (closed by shmipc_segment_close); on failure the caller still owns it.
 * A memfd must carry F_SEAL_SHRINK, else -EPERM: an unsealed one could be truncated under us.
 * The same header checks as shmipc_segment_open apply.
 */
SHMIPC_API int shmipc_segment_from_fd(int fd, const shmipc_segment_opts *opts, shmipc_segment **out);

/*
 * shmipc_segment_send_fd - send the segment's descriptor over a connected AF_UNIX socket (SCM_RIGHTS).
 * shmipc_segment_recv_fd - receive one and map it as by shmipc_segment_from_fd.
 * Errors: -EINVAL (bad socket or handle), those of sendmsg/recvmsg, -EPIPE (recv: the peer closed the
 * socket), -EBADMSG (no descriptor in the message), and those of from_fd.
 */
SHMIPC_API int shmipc_segment_send_fd(int sock, const shmipc_segment *seg);
SHMIPC_API int shmipc_segment_recv_fd(int sock, const shmipc_segment_opts *opts, shmipc_segment **out);

/*
 * shmipc_segment_close - unmap this process's view and close the descriptor. The segment and its name
 * stay for other processes (see shmipc_segment_unlink). Closing NULL is a no-op. Returns 0.
 */
SHMIPC_API int shmipc_segment_close(shmipc_segment *seg);

/*
 * shmipc_segment_unlink - remove a named POSIX segment's name. Processes that have it mapped keep
 * their view; the memory is freed when the last one unmaps. Errors: -EINVAL, -ENAMETOOLONG, -ENOENT,
 * -EACCES.
 */
SHMIPC_API int shmipc_segment_unlink(const char *name);

/*
 * shmipc_segment_publish - mark a segment created with SHMIPC_SEG_DEFER_READY as initialised, with release
 * order, so that openers waiting for it proceed and see everything written before. Returns 0, or -EINVAL
 * if the segment was already published by this call's handle.
 */
SHMIPC_API int shmipc_segment_publish(shmipc_segment *seg);

/* shmipc_segment_data - the start of the user data area (cache-line aligned), valid until the next
 * shmipc_segment_refresh or shmipc_segment_grow on this handle that remaps it. */
SHMIPC_API void *shmipc_segment_data(const shmipc_segment *seg);

/* shmipc_segment_data_size - size of the user data area as of this handle's last map. */
SHMIPC_API size_t shmipc_segment_data_size(const shmipc_segment *seg);

/* shmipc_segment_fd - the descriptor behind the segment (owned by the handle). */
SHMIPC_API int shmipc_segment_fd(const shmipc_segment *seg);

/*
 * shmipc_segment_grow - enlarge the data area to new_size bytes for every process. The new memory is
 * reserved (-ENOSPC when there is no room) and zero-filled. This handle remaps at once; other handles see
 * the new size through shmipc_segment_refresh. Growers are serialised with a file lock, released by the
 * kernel if a grower dies. Errors: -EINVAL (new_size smaller than the current size), -EPERM (read-only
 * handle), -ENOSPC, -EFBIG, -ENOMEM, -EBADMSG (the header records a size the object or this handle's
 * mapping contradicts: overwritten by a peer; nothing is remapped).
 */
SHMIPC_API int shmipc_segment_grow(shmipc_segment *seg, size_t new_size);

/*
 * shmipc_segment_refresh - remap if another process grew the segment (its generation counter changed).
 * Returns 1 if the mapping changed (re-fetch shmipc_segment_data), 0 if not, or -EBADMSG if the header
 * now claims a size the object does not have.
 */
SHMIPC_API int shmipc_segment_refresh(shmipc_segment *seg);

/* What shmipc_segment_stat and shmipc_segment_info report. */
typedef struct shmipc_segment_info {
    char name[SHMIPC_NAME_MAX + 1]; /* name, path or memfd label ("" if none) */
    shmipc_backing backing;
    uint32_t version;      /* header layout version */
    uint32_t type;         /* type tag */
    uint64_t size;         /* total bytes, header included, as the header says */
    uint64_t data_size;    /* bytes of user data */
    uint64_t file_size;    /* bytes of the object, as fstat says */
    uint32_t mode;         /* permission bits */
    uint32_t uid, gid;     /* owner */
    shmipc_proc_id creator;
    int creator_alive;     /* 1 if the creator still runs */
    int ready;             /* 1 if initialised */
    uint32_t generation;   /* grow count */
    uint64_t created_ns;   /* creation time, CLOCK_REALTIME nanoseconds */
} shmipc_segment_info;

/* shmipc_segment_info - describe an open segment. Returns 0 or -errno. */
SHMIPC_API int shmipc_segment_info_get(const shmipc_segment *seg, shmipc_segment_info *info);

/*
 * shmipc_segment_stat - describe a named POSIX segment without opening it for use (read-only, no wait,
 * any owner): for tools such as `shmipc segment ls`. Errors as shmipc_segment_open, minus -EPERM and
 * -ETIMEDOUT (an unready segment reports ready = 0).
 */
SHMIPC_API int shmipc_segment_stat(const char *name, shmipc_segment_info *info);

#ifdef __cplusplus
}
#endif
#endif
