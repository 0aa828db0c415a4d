/* SPDX-License-Identifier: MIT */
/* common/error.c - error strings (shmipc returns negative errno values) and the version string. */
#include "common/internal.h"

#include <limits.h>
#include <string.h>

const char *shmipc_strerror(int err)
{
    if (err < 0)
        err = err == INT_MIN ? INT_MAX : -err; /* -INT_MIN overflows */
    switch (err) {
    case 0: return "Success";
    /* Codes whose libc text would mislead in shmipc's context. */
    case EBADMSG: return "Not a valid shmipc object (corrupt or foreign header or indices)";
    case EPROTO: return "Unsupported shmipc layout version";
    case EPROTOTYPE: return "Object is of another type or has incompatible settings";
    case EPIPE: return "Peer process is gone";
    case ENOTRECOVERABLE: return "Object was left unusable by a process that died";
    case ENODEV: return "No POSIX shared memory (/dev/shm missing): mount a tmpfs there, or choose a "
                        "directory with SHMIPC_DIR / shmipc_segment_set_dir";
    case ENOSPC: return "No space left: the shared memory file system (e.g. /dev/shm) is full or too small, "
                        "or the object does not fit its segment";
    case EOWNERDEAD: return "Previous owner died holding the lock; data may be inconsistent";
    default: {
        /* Not strerror(): for an unknown code it formats into a buffer the next call overwrites, and
         * this function promises static text. strerrordesc_np (glibc 2.32) returns NULL instead. */
#ifdef __GLIBC__
        const char *desc = strerrordesc_np(err);
        return desc ? desc : "Unknown error";
#else
        return strerror(err); /* musl: static strings, "No error information" for unknown codes */
#endif
    }
    }
}

const char *shmipc_errname(int err)
{
    if (err < 0)
        err = err == INT_MIN ? INT_MAX : -err;
    /* The codes shmipc documents, and those that pass through from the system calls it makes. Written out
     * rather than strerrorname_np(): that is glibc 2.32+ only, and musl has no equivalent. */
    switch (err) {
#define SHMIPC_ERRNAME(e) case e: return #e;
    SHMIPC_ERRNAME(EPERM) SHMIPC_ERRNAME(ENOENT) SHMIPC_ERRNAME(ESRCH) SHMIPC_ERRNAME(EINTR)
    SHMIPC_ERRNAME(EIO) SHMIPC_ERRNAME(ENXIO) SHMIPC_ERRNAME(E2BIG) SHMIPC_ERRNAME(EBADF)
    SHMIPC_ERRNAME(EAGAIN) SHMIPC_ERRNAME(ENOMEM) SHMIPC_ERRNAME(EACCES) SHMIPC_ERRNAME(EFAULT)
    SHMIPC_ERRNAME(EBUSY) SHMIPC_ERRNAME(EEXIST) SHMIPC_ERRNAME(ENODEV) SHMIPC_ERRNAME(ENOTDIR)
    SHMIPC_ERRNAME(EISDIR) SHMIPC_ERRNAME(EINVAL) SHMIPC_ERRNAME(ENFILE) SHMIPC_ERRNAME(EMFILE)
    SHMIPC_ERRNAME(EFBIG) SHMIPC_ERRNAME(ENOSPC) SHMIPC_ERRNAME(EROFS) SHMIPC_ERRNAME(EPIPE)
    SHMIPC_ERRNAME(ERANGE) SHMIPC_ERRNAME(ENAMETOOLONG) SHMIPC_ERRNAME(ENOSYS) SHMIPC_ERRNAME(ELOOP)
    SHMIPC_ERRNAME(EBADMSG) SHMIPC_ERRNAME(EOVERFLOW) SHMIPC_ERRNAME(EUSERS) SHMIPC_ERRNAME(EMSGSIZE)
    SHMIPC_ERRNAME(EPROTOTYPE) SHMIPC_ERRNAME(EPROTO) SHMIPC_ERRNAME(EOPNOTSUPP) SHMIPC_ERRNAME(ENOBUFS)
    SHMIPC_ERRNAME(ENOTCONN) SHMIPC_ERRNAME(ETIMEDOUT) SHMIPC_ERRNAME(ECANCELED)
    SHMIPC_ERRNAME(EOWNERDEAD) SHMIPC_ERRNAME(ENOTRECOVERABLE) SHMIPC_ERRNAME(ETXTBSY)
    SHMIPC_ERRNAME(ENODATA) SHMIPC_ERRNAME(EDEADLK)
#undef SHMIPC_ERRNAME
    case 0: return "OK";
    default: return "E?";
    }
}

const char *shmipc_version(void) { return SHMIPC_VERSION_STRING; }
