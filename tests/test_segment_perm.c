/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_perm.c - segments of another user: permission bits (-EACCES), the owner check that
 * refuses a foreign segment (-EPERM) unless SHMIPC_SEG_ALLOW_FOREIGN, and open_or_create refusing a name
 * squatted by someone else. Needs root, to play both users (root and a child dropped to nobody).
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
    const char *name;
    unsigned mode;  /* create: segment mode */
    unsigned flags; /* open: SHMIPC_SEG_* */
    int expect;     /* expected result */
};

/* In a child dropped to nobody: open the segment and compare the result with what is expected. */
static int nobody_open(void *arg)
{
    struct job *j = arg;
    if (test_become_nobody() != 0)
        return 100;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = j->flags;
    shmipc_segment *s = NULL;
    int r = shmipc_segment_open(j->name, &o, &s);
    if (r != j->expect)
        return 50 + (r < 0 ? -r : r) % 50;
    if (r == 0) {
        /* The foreign segment is really usable once accepted. */
        if (strcmp(shmipc_segment_data(s), "root's") != 0)
            return 101;
        shmipc_segment_close(s);
    }
    return 0;
}

static int nobody_create(void *arg)
{
    struct job *j = arg;
    if (test_become_nobody() != 0)
        return 100;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.mode = j->mode;
    shmipc_segment *s = NULL;
    if (shmipc_segment_create(j->name, 64, &o, &s) != 0)
        return 1;
    strcpy(shmipc_segment_data(s), "nobody's");
    shmipc_segment_close(s);
    return 0;
}

static int nobody_open_or_create(void *arg)
{
    struct job *j = arg;
    if (test_become_nobody() != 0)
        return 100;
    shmipc_segment *s = NULL;
    int r = shmipc_segment_open_or_create(j->name, 64, NULL, &s);
    if (r >= 0)
        shmipc_segment_close(s);
    return r == j->expect ? 0 : 50 + (r < 0 ? -r : r) % 50;
}

static int setup(void **state)
{
    (void)state;
    if (!test_is_root()) {
        print_message("skip: these tests need root (to create segments as two different users)\n");
        exit(TEST_SKIP_RC);
    }
    return 0;
}

static void root_creates(char *name, size_t cap, unsigned mode)
{
    test_name(name, cap, "perm");
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.mode = mode;
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), 0);
    strcpy(shmipc_segment_data(s), "root's");
    shmipc_segment_close(s);
}

static void private_segment(void **state)
{
    (void)state;
    char name[96];
    root_creates(name, sizeof name, 0600);
    struct job j = {.name = name, .expect = -EACCES};
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    j.flags = SHMIPC_SEG_ALLOW_FOREIGN; /* allowing foreign owners does not bypass permissions */
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    j.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    shmipc_segment_unlink(name);
}

static void world_readable_foreign(void **state)
{
    (void)state;
    char name[96];
    root_creates(name, sizeof name, 0666);
    struct job j = {.name = name, .expect = -EPERM};
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    j.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    j.flags = SHMIPC_SEG_ALLOW_FOREIGN;
    j.expect = 0;
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    j.flags = SHMIPC_SEG_ALLOW_FOREIGN | SHMIPC_SEG_RDONLY;
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    shmipc_segment_unlink(name);

    /* 0644: nobody may read but not write, so a read-write open fails on permissions. */
    root_creates(name, sizeof name, 0644);
    j.flags = SHMIPC_SEG_ALLOW_FOREIGN;
    j.expect = -EACCES;
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    j.flags = SHMIPC_SEG_ALLOW_FOREIGN | SHMIPC_SEG_RDONLY;
    j.expect = 0;
    assert_int_equal(test_wait(test_fork(nobody_open, &j), 10000), 0);
    shmipc_segment_unlink(name);
}

static void root_opens_nobodys(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "perm");
    struct job j = {.name = name, .mode = 0600};
    assert_int_equal(test_wait(test_fork(nobody_create, &j), 10000), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), 0); /* stat accepts any owner */
    assert_int_not_equal(info.uid, 0);

    shmipc_segment *s = NULL;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    /* root passes the permission bits, but the owner check still refuses a foreign segment. */
    assert_int_equal(shmipc_segment_open(name, NULL, &s), -EPERM);
    o.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(shmipc_segment_open(name, &o, &s), -EPERM);
    assert_null(s);
    o.flags = SHMIPC_SEG_ALLOW_FOREIGN;
    assert_int_equal(shmipc_segment_open(name, &o, &s), 0);
    assert_string_equal((char *)shmipc_segment_data(s), "nobody's");
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

static void squatted_name(void **state)
{
    (void)state;
    char name[96];
    shmipc_segment *s = NULL;

    /* nobody squats a name root wants. */
    test_name(name, sizeof name, "squat");
    struct job j = {.name = name, .mode = 0666};
    assert_int_equal(test_wait(test_fork(nobody_create, &j), 10000), 0);
    assert_int_equal(shmipc_segment_open_or_create(name, 64, NULL, &s), -EPERM);
    assert_null(s);
    shmipc_segment_unlink(name);

    /* root squats a name nobody wants: -EPERM when nobody can open it, -EACCES when it cannot. */
    root_creates(name, sizeof name, 0666);
    j.expect = -EPERM;
    assert_int_equal(test_wait(test_fork(nobody_open_or_create, &j), 10000), 0);
    shmipc_segment_unlink(name);
    root_creates(name, sizeof name, 0600);
    j.name = name;
    j.expect = -EACCES;
    assert_int_equal(test_wait(test_fork(nobody_open_or_create, &j), 10000), 0);
    shmipc_segment_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(private_segment),
        cmocka_unit_test(world_readable_foreign),
        cmocka_unit_test(root_opens_nobodys),
        cmocka_unit_test(squatted_name),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
