/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_create.c - creating and opening named POSIX segments: exclusivity, exact modes
 * whatever the umask, sizes, zero fill and alignment, open_or_create (also raced by several processes),
 * -ENOSPC when /dev/shm cannot hold the segment, and the fields reported by info_get and stat.
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned shm_mode(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (stat(path, &st) < 0)
        return 0xffffffffu;
    return st.st_mode & 07777;
}

static int shm_exists(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

static void exclusive(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "excl");
    shmipc_segment *a = NULL, *b = NULL;
    assert_int_equal(shmipc_segment_create(name, 100, NULL, &a), 0);
    assert_int_equal(shmipc_segment_create(name, 100, NULL, &b), -EEXIST);
    assert_null(b);
    /* The failed create must not have unlinked the winner's name. */
    assert_true(shm_exists(name));
    shmipc_segment_close(a);
    assert_int_equal(shmipc_segment_unlink(name), 0);
    assert_false(shm_exists(name));
}

static void modes(void **state)
{
    (void)state;
    char name[96];
    shmipc_segment *s = NULL;
    shmipc_segment_opts o;
    mode_t old = umask(0);

    /* Default 0600, whatever the umask: one that would widen nothing and one that masks everything. */
    static const mode_t umasks[] = {0, 022, 077, 0777};
    for (size_t i = 0; i < sizeof umasks / sizeof umasks[0]; i++) {
        umask(umasks[i]);
        test_name(name, sizeof name, "mode");
        assert_int_equal(shmipc_segment_create(name, 64, NULL, &s), 0);
        assert_int_equal(shm_mode(name), 0600);
        shmipc_segment_close(s);
        shmipc_segment_unlink(name);
    }

    umask(077);
    shmipc_segment_opts_init(&o);
    o.mode = 0640;
    test_name(name, sizeof name, "mode");
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), 0);
    assert_int_equal(shm_mode(name), 0640);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_info_get(s, &info), 0);
    assert_int_equal(info.mode, 0640);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);

    umask(0);
    o.mode = 0604; /* a narrower grant than the umask would allow is also kept exactly */
    test_name(name, sizeof name, "mode");
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), 0);
    assert_int_equal(shm_mode(name), 0604);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);

    /* Bits outside 07777 are not a mode. */
    o.mode = 010600;
    test_name(name, sizeof name, "mode");
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), -EINVAL);
    assert_false(shm_exists(name));
    umask(old);
}

static void bad_args(void **state)
{
    (void)state;
    char name[96];
    shmipc_segment *s = NULL;
    shmipc_segment_opts o;
    test_name(name, sizeof name, "args");
    assert_int_equal(shmipc_segment_create(name, 0, NULL, &s), -EINVAL);
    assert_false(shm_exists(name)); /* a failed create leaves no name behind */
    assert_int_equal(shmipc_segment_create(name, 64, NULL, NULL), -EINVAL);
    assert_false(shm_exists(name));
    shmipc_segment_opts_init(&o);
    o.flags = 1u << 20; /* unknown flag */
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), -EINVAL);
    assert_false(shm_exists(name));
    assert_int_equal(shmipc_segment_create(name, SIZE_MAX, NULL, &s), -EFBIG);
    assert_false(shm_exists(name));
    assert_null(s);
    assert_int_equal(shmipc_segment_open(name, NULL, NULL), -EINVAL);
    assert_int_equal(shmipc_segment_stat(name, NULL), -EINVAL);
    assert_int_equal(shmipc_segment_close(NULL), 0);
    assert_null(shmipc_segment_data(NULL));
    assert_int_equal(shmipc_segment_data_size(NULL), 0);
    assert_int_equal(shmipc_segment_fd(NULL), -1);
    assert_int_equal(shmipc_segment_publish(NULL), -EINVAL);
    assert_int_equal(shmipc_segment_grow(NULL, 64), -EINVAL);
    assert_int_equal(shmipc_segment_refresh(NULL), -EINVAL);
}

static void zero_filled_aligned(void **state)
{
    (void)state;
    char name[96];
    static const size_t sizes[] = {1, 63, 64, 65, 4096, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        shmipc_segment *s = NULL;
        test_name(name, sizeof name, "zero");
        assert_int_equal(shmipc_segment_create(name, sizes[i], NULL, &s), 0);
        unsigned char *p = shmipc_segment_data(s);
        size_t n = shmipc_segment_data_size(s);
        assert_true(n >= sizes[i]);
        assert_int_equal(n % SHMIPC_CACHELINE, 0);
        assert_int_equal((uintptr_t)p % SHMIPC_CACHELINE, 0);
        for (size_t j = 0; j < n; j++)
            if (p[j] != 0)
                fail_msg("size %zu: byte %zu is %u, not zero", sizes[i], j, p[j]);
        memset(p, 0xa5, n); /* the whole data area is writable */
        shmipc_segment_close(s);
        shmipc_segment_unlink(name);
    }
}

static void open_missing(void **state)
{
    (void)state;
    char name[96];
    shmipc_segment *s = NULL;
    test_name(name, sizeof name, "missing");
    assert_int_equal(shmipc_segment_open(name, NULL, &s), -ENOENT);
    assert_int_equal(shmipc_segment_unlink(name), -ENOENT);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), -ENOENT);
    assert_null(s);
}

static void open_or_create_once(void **state)
{
    (void)state;
    char name[96];
    shmipc_segment *a = NULL, *b = NULL;
    test_name(name, sizeof name, "ooc");
    assert_int_equal(shmipc_segment_open_or_create(name, 256, NULL, &a), 1);
    strcpy(shmipc_segment_data(a), "first");
    assert_int_equal(shmipc_segment_open_or_create(name, 256, NULL, &b), 0);
    assert_string_equal((char *)shmipc_segment_data(b), "first");
    /* The existing segment keeps its size even if a different one is asked for. */
    shmipc_segment_close(b);
    assert_int_equal(shmipc_segment_open_or_create(name, 99999, NULL, &b), 0);
    assert_int_equal(shmipc_segment_data_size(b), shmipc_segment_data_size(a));
    shmipc_segment_close(b);
    /* A type mismatch on the open path is reported, not papered over. */
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.type = SHMIPC_TYPE_USER + 1;
    assert_int_equal(shmipc_segment_open_or_create(name, 256, &o, &b), -EPROTOTYPE);
    shmipc_segment_close(a);
    shmipc_segment_unlink(name);
}

#define RACERS 6

struct race {
    const char *name;
    int go_fd;    /* read end of a pipe: all racers start when its write end is closed */
    int go_wr_fd; /* write end, closed at once in each racer so that only the parent holds it */
};

typedef struct race_data {
    uint64_t marker;         /* written by the creator before publishing */
    _Atomic uint32_t joined; /* incremented by every racer */
} race_data;

static int racer(void *arg)
{
    struct race *r = arg;
    char c;
    close(r->go_wr_fd);
    if (read(r->go_fd, &c, 1) != 0)
        return 1;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_DEFER_READY; /* the creator fills the marker before anyone can see the segment */
    o.ready_timeout_ms = 20000;
    shmipc_segment *s = NULL;
    int created = shmipc_segment_open_or_create(r->name, sizeof(race_data), &o, &s);
    if (created < 0) /* report which error: 30 + errno (the ones expected here are small) */
        return 30 + (-created < 200 ? -created : 199);
    race_data *d = shmipc_segment_data(s);
    if (created) {
        d->marker = 0x5eed5eed5eedull;
        if (shmipc_segment_publish(s) != 0)
            return 3;
    } else if (d->marker != 0x5eed5eed5eedull) {
        return 4;
    }
    atomic_fetch_add_explicit(&d->joined, 1, memory_order_relaxed);
    shmipc_segment_close(s);
    return created ? 10 : 20;
}

static void open_or_create_race(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "race");
    for (int round = 0; round < 5; round++) {
        int go[2];
        assert_int_equal(pipe(go), 0);
        struct race r = {.name = name, .go_fd = go[0], .go_wr_fd = go[1]};
        pid_t pids[RACERS];
        for (int i = 0; i < RACERS; i++)
            pids[i] = test_fork(racer, &r);
        close(go[0]);
        close(go[1]); /* release them all at once */
        int creators = 0, openers = 0;
        for (int i = 0; i < RACERS; i++) {
            int st = test_wait(pids[i], 30000);
            if (st == 10)
                creators++;
            else if (st == 20)
                openers++;
            else {
                shmipc_segment_unlink(name); /* leave nothing behind in /dev/shm */
                fail_msg("round %d racer %d exited %d%s%s", round, i, st, st >= 30 ? ": " : "",
                         st >= 30 ? shmipc_strerror(st - 30) : "");
            }
        }
        assert_int_equal(creators, 1);
        assert_int_equal(openers, RACERS - 1);
        shmipc_segment *s = NULL;
        assert_int_equal(shmipc_segment_open(name, NULL, &s), 0);
        race_data *d = shmipc_segment_data(s);
        assert_int_equal(d->marker, 0x5eed5eed5eedull);
        assert_int_equal(atomic_load(&d->joined), RACERS);
        shmipc_segment_close(s);
        assert_int_equal(shmipc_segment_unlink(name), 0);
    }
}

static void too_big_for_shm(void **state)
{
    (void)state;
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) < 0)
        skip();
    /* Free space + 1 GiB cannot fit. Use the larger of free and total space: a request larger than the
     * whole file system is refused by tmpfs before it allocates anything, so the test never fills the
     * memory of a machine shared with other tests. */
    uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (vfs.f_blocks == 0) {
        print_message("skip: /dev/shm reports no size limit\n");
        skip();
    }
    uint64_t want = (total > avail ? total : avail) + (UINT64_C(1) << 30);
    if (want > SIZE_MAX) {
        /* A 32-bit target (armhf) cannot even name such a size; sizes it can name are refused earlier
         * (-EFBIG, or by mmap): nothing to learn about a full /dev/shm here. */
        print_message("skip: %llu bytes do not fit size_t on this target\n", (unsigned long long)want);
        skip();
    }
    char name[96];
    test_name(name, sizeof name, "nospc");
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_create(name, (size_t)want, NULL, &s), -ENOSPC);
    assert_null(s);
    assert_false(shm_exists(name));
    assert_int_equal(shmipc_segment_open(name, NULL, &s), -ENOENT);
}

static void info_and_stat(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "info");
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.type = SHMIPC_TYPE_USER + 7;
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_create(name, 1000, &o, &s), 0);

    shmipc_segment_info a, b;
    assert_int_equal(shmipc_segment_info_get(s, &a), 0);
    assert_string_equal(a.name, name);
    assert_int_equal(a.backing, SHMIPC_BACKING_POSIX);
    assert_int_equal(a.version, 1);
    assert_int_equal(a.type, SHMIPC_TYPE_USER + 7);
    assert_int_equal(a.data_size, 1024);
    assert_int_equal(a.size, 1024 + SHMIPC_SEGMENT_HEADER_SIZE);
    assert_int_equal(a.file_size, a.size);
    assert_int_equal(a.data_size, shmipc_segment_data_size(s));
    assert_int_equal(a.mode, 0600);
    assert_int_equal(a.uid, geteuid());
    assert_int_equal(a.gid, getegid());
    assert_int_equal(a.creator.pid, getpid());
    assert_true(a.creator.start_time != 0);
    assert_int_equal(a.creator_alive, 1);
    assert_int_equal(a.ready, 1);
    assert_int_equal(a.generation, 0);
    assert_true(a.created_ns > UINT64_C(1600000000) * 1000000000u);

    assert_int_equal(shmipc_segment_stat(name, &b), 0);
    assert_string_equal(b.name, name);
    assert_int_equal(b.backing, SHMIPC_BACKING_POSIX);
    assert_int_equal(b.type, a.type);
    assert_int_equal(b.size, a.size);
    assert_int_equal(b.data_size, a.data_size);
    assert_int_equal(b.mode, a.mode);
    assert_int_equal(b.uid, a.uid);
    assert_int_equal(b.creator.pid, a.creator.pid);
    assert_int_equal(b.creator.start_time, a.creator.start_time);
    assert_int_equal(b.created_ns, a.created_ns);
    assert_int_equal(b.ready, 1);

    assert_int_equal(shmipc_segment_grow(s, 5000), 0);
    assert_int_equal(shmipc_segment_info_get(s, &a), 0);
    assert_int_equal(a.generation, 1);
    assert_int_equal(a.data_size, 5056);
    assert_int_equal(shmipc_segment_stat(name, &b), 0);
    assert_int_equal(b.generation, 1);
    assert_int_equal(b.size, 5056 + SHMIPC_SEGMENT_HEADER_SIZE);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);

    /* An unpublished segment: stat does not wait and reports ready = 0. */
    o.flags = SHMIPC_SEG_DEFER_READY;
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), 0);
    assert_int_equal(shmipc_segment_stat(name, &b), 0);
    assert_int_equal(b.ready, 0);
    assert_int_equal(shmipc_segment_publish(s), 0);
    assert_int_equal(shmipc_segment_publish(s), -EINVAL);
    assert_int_equal(shmipc_segment_stat(name, &b), 0);
    assert_int_equal(b.ready, 1);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

/* A segment's creator that has exited is reported as not alive. */
static int create_and_exit(void *arg)
{
    shmipc_segment *s;
    if (shmipc_segment_create(arg, 64, NULL, &s))
        return 1;
    shmipc_segment_close(s);
    return 0;
}

static void info_dead_creator(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "dead");
    assert_int_equal(test_wait(test_fork(create_and_exit, name), 10000), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), 0);
    assert_int_equal(info.creator_alive, 0);
    assert_int_equal(info.ready, 1);
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_open(name, NULL, &s), 0); /* a finished segment outlives its creator */
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exclusive),
        cmocka_unit_test(modes),
        cmocka_unit_test(bad_args),
        cmocka_unit_test(zero_filled_aligned),
        cmocka_unit_test(open_missing),
        cmocka_unit_test(open_or_create_once),
        cmocka_unit_test(open_or_create_race),
        cmocka_unit_test(too_big_for_shm),
        cmocka_unit_test(info_and_stat),
        cmocka_unit_test(info_dead_creator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
