/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_service.c - the service core against hostile bytes: the input is a whole service
 * segment (segment header, service header, participant table, pattern area), written as the /dev/shm
 * object "shmipc.<pattern>.<name>" since services are found by name. The pattern in the name is the one
 * the input's service header claims (or the core's test pattern when it claims none), so both agreeing
 * and disagreeing headers are explored. On it: describe (what tools do), open (with and without a
 * payload type), in_use, reclaim_dead, join and leave, gc of that one service (keeping it, then removing
 * it), and creating a service over it (the stale-service check). Nothing may crash, read out of bounds
 * or wait: named opens are skipped for unready inputs (they would wait for the creator), and gc is only
 * ever given this service's name, never a scan of /dev/shm, which holds other people's services.
 */
#include "harness.h"
#include "service/service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static shmipc_pattern input_pattern(const uint8_t *data, size_t size)
{
    uint32_t p = 0;
    size_t off = SHMIPC_SEGMENT_HEADER_SIZE + offsetof(shmipc__svc_hdr, pattern);
    if (size >= off + sizeof p)
        memcpy(&p, data + off, sizeof p);
    return p >= SHMIPC_PATTERN_PUBSUB && p <= SHMIPC_PATTERN_EVENT ? (shmipc_pattern)p : SHMIPC__PATTERN_TEST;
}

static void use(shmipc_pattern pattern, const char *name)
{
    shmipc_service_info *info = malloc(sizeof *info);
    if (info) {
        shmipc_service_describe(pattern, name, info);
        free(info);
    }
    static const shmipc_type_info typed = {.name = "fuzz_t", .size = 8, .align = 8};
    shmipc__svc svc;
    if (shmipc__svc_open(pattern, name, &typed, 0, &svc) == 0)
        shmipc__svc_close(&svc);
    if (shmipc__svc_open(pattern, name, NULL, 0, &svc) != 0)
        return;
    shmipc__svc_in_use(&svc);
    shmipc__svc_reclaim_dead(&svc);
    int slot = shmipc__svc_join(&svc, SHMIPC_ROLE_SUBSCRIBER, 0);
    if (slot >= 0)
        shmipc__svc_leave(&svc, (uint32_t)slot);
    shmipc__svc_close(&svc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    shmipc_pattern pattern = input_pattern(data, size);
    char name[32];
    if (fuzz_service_named(pattern, data, size, name, sizeof name) == 0) {
        if (fuzz_ready(data, size))
            use(pattern, name);
        shmipc_service_gc_report rep;
        shmipc_service_gc(pattern, name, 1, &rep);
        shmipc_service_gc(pattern, name, 0, &rep);
    }
    /* A service created over the same bytes: only replaces them if they are a stale service of ours. */
    if (fuzz_service_named(pattern, data, size, name, sizeof name) == 0) {
        shmipc__svc_params p = {.pattern = pattern, .name = name, .max_participants = 2, .pattern_size = 64};
        shmipc__svc svc;
        if (shmipc__svc_create(&p, &svc) == 0)
            shmipc__svc_close(&svc);
    }
    fuzz_service_drop(pattern, name);
    return 0;
}
