/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review2_blackboard.c - review findings on the blackboard service: readers must never take
 * the participant slot a (re)starting writer needs (max_readers readers at most), and large values read
 * correctly through the reader's preallocated snapshot buffer.
 */
#include "helpers.h"
#include "blackboard/blackboard_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "r2-%d-%d-%s", (int)getpid(), n++, tag);
}

/* max_readers = 2: two readers connect, a third is refused, and a writer that closed can come back even
 * though the readers connected while it was away. */
static void readers_never_lock_out_the_writer(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "slots");
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 8;
    o.max_readers = 2;
    shmipc_bb_writer *w;
    shmipc_bb_reader *r[3] = {NULL, NULL, NULL};
    assert_int_equal(shmipc_blackboard_writer_open(name, &o, &w), 0);
    shmipc_blackboard_writer_close(w); /* the writer restarts: its slot is free meanwhile */
    assert_int_equal(shmipc_blackboard_reader_open(name, &o, &r[0]), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, &o, &r[1]), 0);
    int third = shmipc_blackboard_reader_open(name, &o, &r[2]);
    int wr = shmipc_blackboard_writer_open(name, &o, &w);
    if (wr == 0)
        shmipc_blackboard_writer_close(w);
    for (int i = 0; i < 3; i++)
        shmipc_blackboard_reader_close(r[i]);
    shmipc_blackboard_unlink(name);
    assert_int_equal(third, -EUSERS); /* max_readers is the most readers at once */
    assert_int_equal(wr, 0);          /* the writer is never locked out by readers */
}

/* Values larger than the on-stack snapshot (512 bytes) read correctly, repeatedly. */
static void large_values(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "large");
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 4099;
    o.entries = 2;
    shmipc_bb_writer *w;
    shmipc_bb_reader *r;
    assert_int_equal(shmipc_blackboard_writer_open(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, &o, &r), 0);
    unsigned char *v = malloc(o.value_size), *got = malloc(o.value_size + 8);
    assert_non_null(v);
    assert_non_null(got);
    for (uint64_t i = 1; i <= 50; i++) {
        test_fill(v, o.value_size, i);
        assert_int_equal(shmipc_blackboard_write(w, (uint32_t)(i & 1), v, o.value_size), 0);
        uint64_t ver = 0;
        assert_int_equal(shmipc_blackboard_read(r, (uint32_t)(i & 1), got, o.value_size + 8, &ver),
                         (int)o.value_size);
        assert_int_equal(test_check(got, o.value_size, i), 0);
        assert_int_equal(ver, (i + 1) / 2);
    }
    free(v);
    free(got);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_writer_close(w);
    shmipc_blackboard_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readers_never_lock_out_the_writer),
        cmocka_unit_test(large_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
