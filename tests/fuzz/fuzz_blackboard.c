/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_blackboard.c - the blackboard service against hostile bytes: the input is a whole
 * blackboard segment, written under the service's name. A reader opens it and reads and polls (timeout 0)
 * the first keys; a writer takes it over and writes them; the reader reads again; then gc. Every call must
 * return a value or an error (-EBADMSG, -ENODATA, -EAGAIN, -EBUSY, ...), never crash, touch memory
 * outside the segment, or wait. Unready inputs are skipped (opening one waits for its creator).
 */
#include "harness.h"

#include <shmipc/blackboard.h>

#include <string.h>

#define KEYS 6

static uint8_t buf[SHMIPC_BB_MAX_VALUE];

static void read_all(shmipc_blackboard_reader *r)
{
    for (uint32_t k = 0; k < KEYS; k++) {
        uint64_t version = 0;
        shmipc_blackboard_read(r, k, buf, sizeof buf, &version);
        shmipc_blackboard_read(r, k, buf, 1, NULL); /* -EMSGSIZE unless the value is one byte */
        shmipc_blackboard_wait(r, k, version, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT || !fuzz_ready(data, size))
        return 0;
    char name[32];
    if (fuzz_service_named(SHMIPC_PATTERN_BLACKBOARD, data, size, name, sizeof name) != 0)
        return 0;
    shmipc_blackboard_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_SPIN};
    shmipc_blackboard_reader *r = NULL;
    if (shmipc_blackboard_reader_open(name, &o, &r) == 0) {
        shmipc_blackboard_value_size(r);
        read_all(r);
    }
    shmipc_blackboard_writer *w = NULL;
    if (shmipc_blackboard_writer_create(name, NULL, &w) == 0) {
        memset(buf, 0x6b, 4096);
        for (uint32_t k = 0; k < KEYS; k++)
            for (size_t len = 1; len <= 4096; len *= 8)
                shmipc_blackboard_write(w, k, buf, len); /* only the value size is accepted */
        if (r)
            read_all(r);
        shmipc_blackboard_writer_close(w);
    }
    shmipc_blackboard_reader_close(r);
    fuzz_service_drop(SHMIPC_PATTERN_BLACKBOARD, name);
    return 0;
}
