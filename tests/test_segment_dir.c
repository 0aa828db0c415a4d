/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_dir.c - named objects in a private directory (shmipc_segment_set_dir / SHMIPC_DIR) instead
 * of /dev/shm: segments, channels and services are created, found and removed there; a directory that
 * others could write, a link or a relative path is refused; and another user, who can squat a name in
 * /dev/shm, can neither pre-create nor replace anything in the directory (needs root to play both users).
 */
#include "helpers.h"

#include <shmipc/channel.h>
#include <shmipc/pubsub.h>
#include <shmipc/segment.h>
#include <shmipc/service.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/dev/shm/shmipc-test-dir-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return chmod(dir, 0700);
}

static int teardown(void **state)
{
    (void)state;
    shmipc_segment_set_dir(NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists_in(const char *d, const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s%s", d, name);
    return lstat(path, &st) == 0;
}

static void objects_live_in_the_directory(void **state)
{
    (void)state;
    assert_string_equal(shmipc_segment_get_dir(), "/dev/shm");
    assert_int_equal(shmipc_segment_set_dir(dir), 0);
    assert_string_equal(shmipc_segment_get_dir(), dir);
    char name[64];
    test_name(name, sizeof name, "dirseg");
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), 0);
    assert_true(exists_in(dir, name));
    assert_false(exists_in("/dev/shm", name));
    shmipc_segment *s2;
    assert_int_equal(shmipc_segment_open(name, NULL, &s2), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), 0);
    shmipc_segment_close(s2);
    shmipc_segment_close(s);
    assert_int_equal(shmipc_segment_unlink(name), 0);
    assert_false(exists_in(dir, name));

    /* A channel and a pub/sub service: created there and found by discovery there. */
    char cname[64];
    test_name(cname, sizeof cname, "dirchan");
    shmipc_channel *ch;
    assert_int_equal(shmipc_channel_create(cname, NULL, &ch), 0);
    shmipc_channel_close(ch);
    assert_int_equal(shmipc_channel_unlink(cname), 0);
    const char *svc = "shmipc-test-dir-svc";
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(svc, NULL, &pub), 0);
    assert_true(exists_in(dir, "/shmipc.pubsub.shmipc-test-dir-svc"));
    shmipc_service_info *list;
    size_t n;
    assert_int_equal(shmipc_service_list(&list, &n), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= strcmp(list[i].name, svc) == 0;
    free(list);
    assert_true(found);
    shmipc_pubsub_publisher_close(pub);
    shmipc_service_gc_report rep;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, svc, 0, &rep), 0);
    assert_false(exists_in(dir, "/shmipc.pubsub.shmipc-test-dir-svc"));

    /* Back to POSIX shared memory. */
    assert_int_equal(shmipc_segment_set_dir(NULL), 0);
    assert_string_equal(shmipc_segment_get_dir(), "/dev/shm");
}

static void unsafe_directories_refused(void **state)
{
    (void)state;
    assert_int_equal(shmipc_segment_set_dir("relative/dir"), -EINVAL);
    assert_int_equal(shmipc_segment_set_dir("/nonexistent-shmipc-dir"), -ENOENT);
    char open_dir[80], link[80];
    snprintf(open_dir, sizeof open_dir, "%s/everyone", dir);
    assert_int_equal(mkdir(open_dir, 0777), 0);
    assert_int_equal(chmod(open_dir, 01777), 0); /* like /tmp: anyone may create names */
    assert_int_equal(shmipc_segment_set_dir(open_dir), -EPERM);
    snprintf(link, sizeof link, "%s/link", dir);
    assert_int_equal(symlink(dir, link), 0);
    assert_int_equal(shmipc_segment_set_dir(link), -ELOOP);
    assert_int_equal(shmipc_segment_set_dir("/dev/null"), -ENOTDIR);
    assert_string_equal(shmipc_segment_get_dir(), "/dev/shm"); /* a refused choice changes nothing */
}

struct squat {
    const char *path;
    int result;
};

/* In a child dropped to nobody: try to create path (a squatter planting a file under a name). */
static int nobody_plants(void *arg)
{
    struct squat *q = arg;
    if (test_become_nobody() != 0)
        return 100;
    int fd = open(q->path, O_RDWR | O_CREAT | O_EXCL, 0666);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EACCES ? 13 : 99;
}

static void another_user_cannot_squat(void **state)
{
    (void)state;
    if (!test_is_root()) {
        print_message("needs root to play two users: skipped\n");
        skip();
    }
    char name[64], in_shm[128], in_dir[128];
    test_name(name, sizeof name, "squat");
    snprintf(in_shm, sizeof in_shm, "/dev/shm%s", name);
    snprintf(in_dir, sizeof in_dir, "%s%s", dir, name);

    /* In /dev/shm the squat works, and the owner's create then fails: the problem the directory solves. */
    struct squat q = {.path = in_shm};
    assert_int_equal(test_wait(test_fork(nobody_plants, &q), 10000), 0);
    shmipc_segment *s;
    int r = shmipc_segment_create(name, 4096, NULL, &s);
    assert_true(r == -EEXIST || r == -EPERM);
    unlink(in_shm);

    /* In the private directory nobody else can create anything... */
    q.path = in_dir;
    assert_int_equal(test_wait(test_fork(nobody_plants, &q), 10000), 13);
    assert_int_equal(shmipc_segment_set_dir(dir), 0);
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), 0);
    /* ...nor replace or remove what is there. */
    char renamed[160];
    snprintf(renamed, sizeof renamed, "%s.x", in_dir);
    q.path = renamed;
    assert_int_equal(test_wait(test_fork(nobody_plants, &q), 10000), 13);
    shmipc_segment_close(s);
    assert_int_equal(shmipc_segment_unlink(name), 0);
    shmipc_segment_set_dir(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_live_in_the_directory),
        cmocka_unit_test(unsafe_directories_refused),
        cmocka_unit_test(another_user_cannot_squat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
