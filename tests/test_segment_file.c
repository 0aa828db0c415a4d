/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_file.c - segments backed by a regular file: data persists across close and reopen
 * by another process, symbolic links are refused (-ELOOP) for create and open, and a file truncated below
 * the size its header claims is refused (-EBADMSG) instead of mapped.
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/shmipc-test-file-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

static const char *path_in(char *buf, size_t cap, const char *leaf)
{
    snprintf(buf, cap, "%s/%s", dir, leaf);
    return buf;
}

static int reopen_in_child(void *arg)
{
    shmipc_segment *s = NULL;
    if (shmipc_segment_file_open(arg, NULL, &s) != 0)
        return 1;
    int ok = test_check(shmipc_segment_data(s), 10000, 7) == 0;
    shmipc_segment_info info;
    if (shmipc_segment_info_get(s, &info) != 0 || info.backing != SHMIPC_BACKING_FILE ||
        strcmp(info.name, arg) != 0)
        return 2;
    memcpy(shmipc_segment_data(s), "child was here", 15);
    shmipc_segment_close(s);
    return ok ? 0 : 3;
}

static void persists(void **state)
{
    (void)state;
    char path[256];
    path_in(path, sizeof path, "seg");
    shmipc_segment *s = NULL;
    mode_t old = umask(077);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.mode = 0640;
    assert_int_equal(shmipc_segment_file_create(path, 10000, &o, &s), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_size, 10048 + SHMIPC_SEGMENT_HEADER_SIZE);
    test_fill(shmipc_segment_data(s), 10000, 7);
    assert_int_equal(shmipc_segment_file_create(path, 10000, NULL, &s), -EEXIST);
    shmipc_segment_close(s);
    /* Nobody has it open now: the data lives in the file alone. */
    assert_int_equal(test_wait(test_fork(reopen_in_child, path), 10000), 0);
    assert_int_equal(shmipc_segment_file_open(path, NULL, &s), 0);
    assert_string_equal((char *)shmipc_segment_data(s), "child was here");
    shmipc_segment_close(s);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(shmipc_segment_file_open(path, NULL, &s), -ENOENT);
    assert_int_equal(shmipc_segment_file_open("", NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_file_create(NULL, 64, NULL, &s), -EINVAL);
    assert_int_equal(shmipc_segment_file_create(path, 0, NULL, &s), -EINVAL);
    assert_int_equal(access(path, F_OK), -1); /* a failed create removes the file it made */
}

static void symlinks(void **state)
{
    (void)state;
    char path[256], target[256], link[256], dangling[256];
    path_in(target, sizeof target, "target");
    path_in(link, sizeof link, "link");
    path_in(dangling, sizeof dangling, "dangling");
    path_in(path, sizeof path, "nowhere");
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_file_create(target, 64, NULL, &s), 0);
    shmipc_segment_close(s);
    s = NULL;
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(symlink(path, dangling), 0);

    assert_int_equal(shmipc_segment_file_open(link, NULL, &s), -ELOOP);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(shmipc_segment_file_open(link, &o, &s), -ELOOP);
    /* Creating through a link, to an existing file or to a missing one, is refused as a link. */
    assert_int_equal(shmipc_segment_file_create(link, 64, NULL, &s), -ELOOP);
    assert_int_equal(shmipc_segment_file_create(dangling, 64, NULL, &s), -ELOOP);
    assert_int_equal(access(path, F_OK), -1); /* nothing was created at the link's target */
    assert_null(s);
    /* The links themselves are left alone. */
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(dangling, &st), 0);
    unlink(link);
    unlink(dangling);
    unlink(target);
}

static void truncated(void **state)
{
    (void)state;
    char path[256];
    path_in(path, sizeof path, "trunc");
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_file_create(path, 65536, NULL, &s), 0);
    shmipc_segment_close(s);
    s = NULL;
    assert_int_equal(truncate(path, 4096), 0);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.ready_timeout_ms = 30000;
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_segment_file_open(path, &o, &s), -EBADMSG);
    assert_true(test_now_ms() - t0 < 10000); /* a finished header is judged at once, not after a timeout */
    assert_null(s);
    /* Truncated below the header itself. */
    assert_int_equal(truncate(path, 100), 0);
    o.ready_timeout_ms = 50;
    assert_int_equal(shmipc_segment_file_open(path, &o, &s), -EBADMSG);
    /* Truncated to nothing: indistinguishable from a creator that has not sized it yet. */
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(shmipc_segment_file_open(path, &o, &s), -ETIMEDOUT);
    unlink(path);

    /* Not a regular file at all. */
    assert_int_equal(shmipc_segment_file_open(dir, NULL, &s), -EISDIR);
    assert_int_equal(shmipc_segment_file_open("/dev/null", NULL, &s), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(persists),
        cmocka_unit_test(symlinks),
        cmocka_unit_test(truncated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
