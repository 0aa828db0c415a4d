/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_nospace.c - boards with a tiny or no /dev/shm: in a private mount namespace (as root,
 * or as an unprivileged user through a user namespace), a 1 MiB tmpfs chosen with shmipc_segment_set_dir fills
 * up with segments, channels, queues, services and events, and every create beyond what fits fails with
 * -ENOSPC (never a SIGBUS later: every page of what was created is touched), leaving no file behind; a
 * grow that does not fit fails the same way; and with /dev/shm hidden, creates fail with -ENODEV and a
 * message naming the way out (SHMIPC_DIR); on a file system without fallocate (ramfs) segments are still
 * reserved whole. Where namespaces are not available the program skips
 * (exit 77) with the reason.
 */
#include "helpers.h"

#include <shmipc/channel.h>
#include <shmipc/event.h>
#include <shmipc/pubsub.h>
#include <shmipc/queue.h>
#include <shmipc/segment.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char mnt[64]; /* the directory the tmpfs is mounted on (in the child's namespace only) */

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = n < 0 ? -errno : 0;
    close(fd);
    return e;
}

/* Enter a private mount namespace (a user namespace first when not root). 0, or -1 with a reason. */
static int enter_namespace(char *why, size_t cap)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
            snprintf(why, cap, "unshare(CLONE_NEWUSER|CLONE_NEWNS): %s (user namespaces disabled?)",
                     strerror(errno));
            return -1;
        }
        char map[64];
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        int e = write_file("/proc/self/setgroups", "deny");
        if (e == 0 || e == -ENOENT)
            e = write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        if (e == 0)
            e = write_file("/proc/self/gid_map", map);
        if (e) {
            snprintf(why, cap, "user namespace id maps: %s", strerror(-e));
            return -1;
        }
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(why, cap, "making mounts private: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The namespace plus a 1 MiB tmpfs (mode 0700: shmipc_segment_set_dir refuses a world-writable directory). */
static int enter_tiny_tmpfs(char *why, size_t cap)
{
    if (enter_namespace(why, cap))
        return -1;
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") < 0) {
        snprintf(why, cap, "mount tmpfs size=1m on %s: %s", mnt, strerror(errno));
        return -1;
    }
    return 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

#define CHECK(cond, ...)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            fprintf(stderr, "line %d: ", __LINE__);                                                         \
            fprintf(stderr, __VA_ARGS__);                                                                   \
            fprintf(stderr, "\n");                                                                          \
            return 1;                                                                                       \
        }                                                                                                   \
    } while (0)

/* ---- child bodies (run in their own namespace; 0 = pass, 77 = skip, else fail) ---- */

static int fill_tiny_tmpfs(void *arg)
{
    (void)arg;
    char why[256];
    if (enter_tiny_tmpfs(why, sizeof why)) {
        fprintf(stderr, "skip: %s\n", why);
        return TEST_SKIP_RC;
    }
    CHECK(shmipc_segment_set_dir(mnt) == 0, "shmipc_segment_set_dir(%s)", mnt);

    /* Segments of 64 KiB until the file system is full: each one's every page is touched (a segment
     * that was created without its memory would SIGBUS here and fail the test by signal). */
    enum { MAXSEG = 64 };
    shmipc_segment *segs[MAXSEG] = {0};
    int n = 0, err = 0;
    for (; n < MAXSEG; n++) {
        char name[32];
        snprintf(name, sizeof name, "/seg%d", n);
        err = shmipc_segment_create(name, 64 << 10, NULL, &segs[n]);
        if (err)
            break;
        memset(shmipc_segment_data(segs[n]), 0xa5, shmipc_segment_data_size(segs[n]));
    }
    CHECK(n >= 8 && n < 16, "%d segments of 64 KiB fit in 1 MiB", n);
    CHECK(err == -ENOSPC, "create beyond the space: %d (%s), want -ENOSPC", err, shmipc_errname(err));
    CHECK(segs[n] == NULL, "no handle on failure");
    CHECK(count_files(mnt) == n, "the failed create left a file: %d files for %d segments", count_files(mnt), n);
    char name[32];
    snprintf(name, sizeof name, "/seg%d", n);
    shmipc_segment *s = NULL;
    CHECK(shmipc_segment_open(name, NULL, &s) == -ENOENT, "the failed name is not there");

    /* Small ones until even one page does not fit: then the tmpfs is exactly full. */
    int small = 0;
    for (;; small++) {
        snprintf(name, sizeof name, "/small%d", small);
        err = shmipc_segment_create(name, 64, NULL, &s);
        if (err)
            break;
        memset(shmipc_segment_data(s), 1, shmipc_segment_data_size(s));
        shmipc_segment_close(s); /* the name keeps the memory */
        CHECK(small < 256, "1 MiB holds no more than 256 pages");
    }
    CHECK(err == -ENOSPC, "small create on the full tmpfs: %d (%s)", err, shmipc_errname(err));

    /* Every kind of object fails the same clear way on the full file system. */
    shmipc_channel *ch = NULL;
    err = shmipc_channel_create("/ch", NULL, &ch);
    CHECK(err == -ENOSPC, "channel create: %d (%s)", err, shmipc_errname(err));
    shmipc_queue *q = NULL;
    err = shmipc_queue_create("/q", NULL, &q);
    CHECK(err == -ENOSPC, "queue create: %d (%s)", err, shmipc_errname(err));
    shmipc_event *ev = NULL;
    err = shmipc_event_create("/ev", NULL, &ev);
    CHECK(err == -ENOSPC, "event create: %d (%s)", err, shmipc_errname(err));
    shmipc_pubsub_publisher *pub = NULL;
    err = shmipc_pubsub_publisher_create("ps", NULL, &pub);
    CHECK(err == -ENOSPC, "pub/sub create: %d (%s)", err, shmipc_errname(err));
    CHECK(strstr(shmipc_strerror(err), "full") != NULL, "the message says why: %s", shmipc_strerror(err));

    /* A grow that does not fit fails and leaves the segment as it was, fully usable. */
    size_t before = shmipc_segment_data_size(segs[0]);
    err = shmipc_segment_grow(segs[0], 512 << 10);
    CHECK(err == -ENOSPC, "grow beyond the space: %d (%s)", err, shmipc_errname(err));
    CHECK(shmipc_segment_data_size(segs[0]) == before, "size unchanged after a failed grow");
    memset(shmipc_segment_data(segs[0]), 0x5a, before);

    /* Room made by removing two segments is usable again: a channel fits now, and works. */
    shmipc_segment_close(segs[0]);
    shmipc_segment_close(segs[1]);
    CHECK(shmipc_segment_unlink("/seg0") == 0 && shmipc_segment_unlink("/seg1") == 0, "unlink");
    shmipc_channel_opts co;
    shmipc_channel_opts_init(&co);
    co.capacity = 16 << 10;
    err = shmipc_channel_create("/ch", &co, &ch);
    CHECK(err == 0, "channel create after freeing room: %d (%s)", err, shmipc_errname(err));
    shmipc_channel *rx = NULL;
    CHECK(shmipc_channel_open("/ch", SHMIPC_CHANNEL_CONSUMER, NULL, &rx) == 0, "channel open");
    char buf[8];
    CHECK(shmipc_channel_send(ch, "hello", 5, 0) == 0, "send");
    CHECK(shmipc_channel_recv(rx, buf, sizeof buf, 0) == 5 && memcmp(buf, "hello", 5) == 0, "recv");
    shmipc_channel_close(rx);
    shmipc_channel_close(ch);
    for (int i = 2; i < n; i++)
        shmipc_segment_close(segs[i]);
    return 0;
}

static int no_dev_shm(void *arg)
{
    (void)arg;
    char why[256];
    if (enter_namespace(why, sizeof why)) {
        fprintf(stderr, "skip: %s\n", why);
        return TEST_SKIP_RC;
    }
    /* An empty tmpfs over /dev hides /dev/shm, as on a board whose /dev has none. */
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=0755") < 0) {
        fprintf(stderr, "skip: mount tmpfs on /dev: %s\n", strerror(errno));
        return TEST_SKIP_RC;
    }
    struct stat st;
    CHECK(stat("/dev/shm", &st) < 0 && errno == ENOENT, "/dev/shm hidden");
    CHECK(shmipc_segment_set_dir(NULL) == 0, "POSIX shared memory selected");
    shmipc_segment *s = NULL;
    int err = shmipc_segment_create("/seg", 4096, NULL, &s);
    CHECK(err == -ENODEV, "segment create without /dev/shm: %d (%s), want -ENODEV", err, shmipc_errname(err));
    CHECK(strstr(shmipc_strerror(err), "SHMIPC_DIR") != NULL, "the message names the way out: %s",
          shmipc_strerror(err));
    shmipc_channel *ch = NULL;
    err = shmipc_channel_create("/ch", NULL, &ch);
    CHECK(err == -ENODEV, "channel create: %d (%s)", err, shmipc_errname(err));
    shmipc_pubsub_publisher *pub = NULL;
    err = shmipc_pubsub_publisher_create("ps", NULL, &pub);
    CHECK(err == -ENODEV, "pub/sub create: %d (%s)", err, shmipc_errname(err));
    /* Opening what does not exist is still plain -ENOENT. */
    err = shmipc_segment_open("/seg", NULL, &s);
    CHECK(err == -ENOENT, "open without /dev/shm: %d (%s)", err, shmipc_errname(err));

    /* The way out: a directory on another file system (here a tmpfs mounted for the purpose). */
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") < 0) {
        fprintf(stderr, "mount tmpfs on %s: %s\n", mnt, strerror(errno));
        return 1;
    }
    CHECK(shmipc_segment_set_dir(mnt) == 0, "shmipc_segment_set_dir");
    err = shmipc_segment_create("/seg", 4096, NULL, &s);
    CHECK(err == 0, "create in the directory: %d (%s)", err, shmipc_errname(err));
    shmipc_segment_close(s);
    return 0;
}

/* A file system without fallocate (ramfs): segments are still fully reserved at create and grow (glibc
 * emulates posix_fallocate; with musl the library writes a byte per page itself). */
static int ramfs_without_fallocate(void *arg)
{
    (void)arg;
    char why[256];
    if (enter_namespace(why, sizeof why)) {
        fprintf(stderr, "skip: %s\n", why);
        return TEST_SKIP_RC;
    }
    if (mount("ramfs", mnt, "ramfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0) {
        fprintf(stderr, "skip: mount ramfs on %s: %s\n", mnt, strerror(errno));
        return TEST_SKIP_RC;
    }
    int fd = open(mnt, O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0, "open %s", mnt);
    int tfd = openat(fd, "probe", O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(tfd >= 0, "create a probe file");
    int have = fallocate(tfd, 0, 0, 4096) == 0;
    close(tfd);
    unlinkat(fd, "probe", 0);
    close(fd);
    if (have)
        fprintf(stderr, "note: this kernel's ramfs has fallocate; the case still checks create and grow\n");
    CHECK(shmipc_segment_set_dir(mnt) == 0, "shmipc_segment_set_dir(%s)", mnt);
    shmipc_segment *s = NULL;
    int err = shmipc_segment_create("/seg", 100000, NULL, &s);
    CHECK(err == 0, "create on ramfs: %d (%s)", err, shmipc_errname(err));
    struct stat st;
    CHECK(fstat(shmipc_segment_fd(s), &st) == 0, "fstat");
    CHECK((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size, "reserved: %lld blocks for %lld bytes",
          (long long)st.st_blocks, (long long)st.st_size);
    memset(shmipc_segment_data(s), 7, shmipc_segment_data_size(s));
    err = shmipc_segment_grow(s, 300000);
    CHECK(err == 0, "grow on ramfs: %d (%s)", err, shmipc_errname(err));
    CHECK(fstat(shmipc_segment_fd(s), &st) == 0, "fstat");
    CHECK((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size, "grown part reserved: %lld blocks for %lld",
          (long long)st.st_blocks, (long long)st.st_size);
    memset(shmipc_segment_data(s), 8, shmipc_segment_data_size(s));
    shmipc_segment_close(s);
    return 0;
}

/* ---- the cases: each child must exit 0; 77 skips with the child's reason (on stderr) ---- */

static void run_child(int (*fn)(void *))
{
    pid_t pid = test_fork(fn, NULL);
    assert_true(pid > 0);
    int rc = test_wait(pid, 60000);
    if (rc == TEST_SKIP_RC)
        skip();
    assert_int_equal(rc, 0); /* 128 + SIGBUS (135) would be the failure this test is about */
}

static void tiny_tmpfs_gives_enospc(void **state)
{
    (void)state;
    run_child(fill_tiny_tmpfs);
}

static void missing_dev_shm_gives_enodev(void **state)
{
    (void)state;
    run_child(no_dev_shm);
}

/* The probe child: 0 when the namespace and the tmpfs work, else 77 with the reason on the pipe. */
static void file_system_without_fallocate(void **state)
{
    (void)state;
    run_child(ramfs_without_fallocate);
}

static int probe(void *arg)
{
    int fd = *(int *)arg;
    char why[256];
    if (enter_tiny_tmpfs(why, sizeof why) == 0)
        return 0;
    ssize_t w = write(fd, why, strlen(why));
    (void)w;
    return TEST_SKIP_RC;
}

int main(void)
{
    snprintf(mnt, sizeof mnt, "/tmp/shmipc-nospace-XXXXXX");
    if (!mkdtemp(mnt)) {
        printf("skipped: mkdtemp: %s\n", strerror(errno));
        return TEST_SKIP_RC;
    }
    /* Probe once: without namespaces (or tmpfs mounts in them) nothing here can run. */
    int p[2];
    if (pipe(p) < 0)
        return 1;
    pid_t pid = test_fork(probe, &p[1]);
    close(p[1]);
    char why[256] = "";
    ssize_t n = read(p[0], why, sizeof why - 1);
    why[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int rc = pid > 0 ? test_wait(pid, 30000) : -1;
    if (rc != 0) {
        printf("skipped: no private mount namespace with a tmpfs here: %s\n", why[0] ? why : "probe failed");
        rmdir(mnt);
        return TEST_SKIP_RC;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tiny_tmpfs_gives_enospc),
        cmocka_unit_test(missing_dev_shm_gives_enodev),
        cmocka_unit_test(file_system_without_fallocate),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(mnt);
    return r;
}
