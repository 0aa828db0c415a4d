/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_segment.c - the segment layer against hostile bytes: the input is a whole segment
 * (header and data). Opening it must either fail with an error or yield a mapping whose advertised data
 * area lies within the object; info, refresh and stat must never read out of bounds.
 */
#include "harness.h"
#include "segment/segment_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    int fd = fuzz_memfd(data, size);
    if (fd < 0)
        return 0;
    shmipc_segment_opts o = {.size = sizeof o, .flags = SHMIPC_SEG_ANY_TYPE, .ready_timeout_ms = -1};
    shmipc_segment *s = NULL;
    if (shmipc_segment_from_fd(fd, &o, &s) == 0) {
        /* Touch the whole advertised data area: ASan/SIGBUS would catch a size beyond the object. */
        volatile const uint8_t *p = shmipc_segment_data(s);
        size_t n = shmipc_segment_data_size(s);
        if (n + SHMIPC_SEGMENT_HEADER_SIZE > size)
            __builtin_trap();
        uint8_t acc = 0;
        for (size_t i = 0; i < n; i += 64)
            acc ^= p[i];
        (void)acc;
        shmipc_segment_info info;
        shmipc_segment_info_get(s, &info);
        shmipc_segment_refresh(s);
        shmipc_segment_close(s);
    } else {
        close(fd);
    }
    /* The same bytes as a named object, through the read-only stat path tools use. */
    char name[64];
    snprintf(name, sizeof name, "/shmipc-fuzz-seg-%d", (int)getpid());
    if (fuzz_named(name, data, size) == 0) {
        shmipc_segment_info info;
        shmipc_segment_stat(name, &info);
        shmipc_segment *t = NULL;
        if (shmipc_segment_open(name, &o, &t) == 0)
            shmipc_segment_close(t);
        shmipc_segment_unlink(name);
    }
    return 0;
}
