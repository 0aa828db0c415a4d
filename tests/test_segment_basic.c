/* SPDX-License-Identifier: MIT */
/* tests/test_segment_basic.c - create, open, share between processes, close and unlink a POSIX segment. */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void create_open_share(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "basic");
    shmipc_segment *a = NULL, *b = NULL;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &a), 0);
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &b), -EEXIST);
    char *p = shmipc_segment_data(a);
    assert_non_null(p);
    assert_true(shmipc_segment_data_size(a) >= 4096);
    strcpy(p, "hello");
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_segment *c;
        if (shmipc_segment_open(name, NULL, &c))
            _exit(1);
        char *q = shmipc_segment_data(c);
        int ok = strcmp(q, "hello") == 0;
        strcpy(q, "world");
        shmipc_segment_close(c);
        _exit(ok ? 0 : 2);
    }
    assert_int_equal(test_wait(pid, 10000), 0);
    assert_string_equal(p, "world");
    assert_int_equal(shmipc_segment_open(name, NULL, &b), 0);
    assert_string_equal((char *)shmipc_segment_data(b), "world");
    shmipc_segment_close(b);
    shmipc_segment_close(a);
    assert_int_equal(shmipc_segment_unlink(name), 0);
    assert_int_equal(shmipc_segment_open(name, NULL, &b), -ENOENT);
    assert_int_equal(shmipc_segment_unlink(name), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_open_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
