/* SPDX-License-Identifier: MIT */
/*
 * common/opts.c - the one check of a caller's options structure: its size word (so a program built
 * against another header version is read only as far as it wrote) and its reserved room; and the one
 * way a structure is handed back to a caller (written only as far as the caller's size word says).
 */
#include "common/internal.h"

#include <string.h>

#define OPTS_MAX_SIZE 4096u /* no options structure will ever be this large: a size beyond is garbage */

int shmipc__opts_take(void *dst, size_t size, const void *src, size_t reserved_off)
{
    if (!src)
        return 0;
    uint32_t n;
    memcpy(&n, src, sizeof n);
    /* 1.0 is the first release with a size word: every caller's structure is at least this one. */
    if (n < size || n > OPTS_MAX_SIZE)
        return -EINVAL;
    const unsigned char *p = src;
    for (size_t i = size; i < n; i++) /* fields of a newer header: only their zero "default" is safe */
        if (p[i])
            return -EINVAL;
    for (size_t i = reserved_off; i < size; i++)
        if (p[i])
            return -EINVAL;
    memcpy(dst, src, size);
    uint32_t sz = (uint32_t)size;
    memcpy(dst, &sz, sizeof sz);
    return 0;
}

int shmipc__opts_give(void *dst, const void *src, size_t size)
{
    if (!dst)
        return -EINVAL;
    uint32_t n;
    memcpy(&n, dst, sizeof n);
    if (n < size || n > OPTS_MAX_SIZE)
        return -EINVAL;
    /* The caller's size word stays; bytes past ours (a newer header's fields) keep their opts_init zero. */
    memcpy((unsigned char *)dst + sizeof n, (const unsigned char *)src + sizeof n, size - sizeof n);
    return 0;
}
