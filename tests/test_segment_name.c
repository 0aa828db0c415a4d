/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_name.c - segment name validation: what shmipc_segment_name_check accepts and refuses,
 * and that create/open/unlink/stat refuse bad names before touching /dev/shm.
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <string.h>

static void refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",          /* empty */
        "/",         /* nothing after the slash */
        "noslash",   /* no leading '/' */
        "/a/b",      /* another '/' */
        "/a/",       /* trailing '/' */
        "//",        /* two slashes */
        "/.",        /* the directory itself */
        "/..",       /* its parent */
        "/a b",      /* space */
        "/a\tb",     /* control character */
        "/a\nb",     /* newline */
        "/a\x7f",    /* DEL */
        "/caf\xc3\xa9", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = shmipc_segment_name_check(bad[i]);
        if (r != -EINVAL)
            fail_msg("name #%zu (\"%s\") gave %d, expected -EINVAL", i, bad[i], r);
    }
    assert_int_equal(shmipc_segment_name_check(NULL), -EINVAL);
}

static void accepted(void **state)
{
    (void)state;
    assert_int_equal(shmipc_segment_name_check("/a"), 0);
    assert_int_equal(shmipc_segment_name_check("/..."), 0);
    assert_int_equal(shmipc_segment_name_check("/.hidden"), 0);
    assert_int_equal(shmipc_segment_name_check("/my_shm"), 0);
    assert_int_equal(shmipc_segment_name_check("/A-z_0.9~!#"), 0);
}

static void length(void **state)
{
    (void)state;
    char name[SHMIPC_NAME_MAX + 8];
    /* Exactly SHMIPC_NAME_MAX characters including the '/': the longest accepted. */
    memset(name, 'x', sizeof name);
    name[0] = '/';
    name[SHMIPC_NAME_MAX] = '\0';
    assert_int_equal(shmipc_segment_name_check(name), 0);

    /* It really works as a name, not only in the checker. */
    memcpy(name + 1, "shmipc-test-", 12);
    shmipc_segment *s = NULL;
    shmipc_segment_unlink(name);
    assert_int_equal(shmipc_segment_create(name, 64, NULL, &s), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_info_get(s, &info), 0);
    assert_string_equal(info.name, name);
    shmipc_segment_close(s);
    assert_int_equal(shmipc_segment_unlink(name), 0);

    name[SHMIPC_NAME_MAX] = 'x';
    name[SHMIPC_NAME_MAX + 1] = '\0';
    assert_int_equal(shmipc_segment_name_check(name), -ENAMETOOLONG);
    /* Far too long, and not terminated within the checked range. */
    char huge[4096];
    memset(huge, 'y', sizeof huge - 1);
    huge[0] = '/';
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(shmipc_segment_name_check(huge), -ENAMETOOLONG);
}

/* Every entry point that takes a name validates it first. */
static void entry_points(void **state)
{
    (void)state;
    shmipc_segment *s = NULL;
    shmipc_segment_info info;
    char longname[SHMIPC_NAME_MAX + 2];
    memset(longname, 'z', sizeof longname);
    longname[0] = '/';
    longname[SHMIPC_NAME_MAX + 1] = '\0';

    assert_int_equal(shmipc_segment_create("bad", 64, NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_create("/a/b", 64, NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_create(longname, 64, NULL, &s), -ENAMETOOLONG);
    assert_int_equal(shmipc_segment_open("/..", NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_open(longname, NULL, &s), -ENAMETOOLONG);
    assert_int_equal(shmipc_segment_open_or_create("", 64, NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_unlink("/a b"), -EINVAL);
    assert_int_equal(shmipc_segment_unlink(longname), -ENAMETOOLONG);
    assert_int_equal(shmipc_segment_stat("/.", &info), -EINVAL);
    assert_int_equal(shmipc_segment_stat(longname, &info), -ENAMETOOLONG);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused),
        cmocka_unit_test(accepted),
        cmocka_unit_test(length),
        cmocka_unit_test(entry_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
