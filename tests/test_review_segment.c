/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review_segment.c - review findings in the segment layer: a header whose size a peer lowered
 * below this handle's mapping must not make shmipc_segment_grow shrink the mapping under the caller.
 */
#include "helpers.h"
#include "segment/segment_internal.h"

#include <string.h>

static void grow_refuses_header_below_mapping(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "rvgrow");
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), 0);
    unsigned char *data = shmipc_segment_data(s);
    memset(data, 0xab, 4096);
    /* A hostile peer lowers the recorded size (still a multiple of the cache line, still within the
     * object): a grow to a size between it and our mapping must not remap us smaller. */
    atomic_store(&shmipc__seg_hdr_of(s)->size, (uint64_t)SHMIPC_SEGMENT_HEADER_SIZE + 64);
    int r = shmipc_segment_grow(s, 256);
    assert_int_equal(r, -EBADMSG);
    assert_int_equal(shmipc_segment_data_size(s), 4096);
    data = shmipc_segment_data(s);
    assert_int_equal(data[4095], 0xab); /* still mapped */
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grow_refuses_header_below_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
