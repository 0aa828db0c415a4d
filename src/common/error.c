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
    case EOWNERDEAD: return "Previous owner died holding the lock; data may be inconsistent";
    default: {
        /* Not strerror(): for an unknown code it formats into a buffer the next call overwrites, and
         * this function promises static text. strerrordesc_np (glibc 2.32) returns NULL instead. */
        const char *desc = strerrordesc_np(err);
        return desc ? desc : "Unknown error";
    }
    }
}

const char *shmipc_version(void) { return SHMIPC_VERSION_STRING; }
