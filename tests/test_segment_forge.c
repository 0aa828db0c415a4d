/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_forge.c - opening objects that are not (or no longer) valid shmipc segments. Headers
 * are forged byte by byte at the offsets documented in ARCHITECTURE.md, so these tests also pin the
 * on-memory layout: a change to it must show up here. Every case must give its documented error, promptly,
 * and never crash or map more than the object holds.
 */
#include "helpers.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Layout of the segment header (ARCHITECTURE.md, "Segment header"). */
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_HEADER_SIZE 12
#define OFF_SIZE 16
#define OFF_TYPE 24
#define OFF_BACKING 28
#define OFF_PID 32
#define OFF_START 40
#define OFF_CREATED 48
#define OFF_READY 56
#define OFF_GENERATION 60
#define MAGIC UINT64_C(0x31434950494d4853)
#define READY UINT32_C(0x59444552)

struct forged {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint64_t size;      /* header's total size */
    uint32_t type;
    int32_t pid;
    uint64_t start;
    uint32_t ready;
    uint64_t file_size; /* real size of the object */
};

/* A header exactly as shmipc writes it, for a segment of 4096 data bytes created by this process. */
static struct forged valid(void)
{
    shmipc_proc_id self;
    shmipc_proc_self(&self);
    return (struct forged){.magic = MAGIC, .version = 1, .header_size = 128, .size = 128 + 4096,
                           .type = 0, .pid = self.pid, .start = self.start_time, .ready = READY,
                           .file_size = 128 + 4096};
}

static void put(unsigned char *p, size_t off, const void *v, size_t n) { memcpy(p + off, v, n); }

static void forge(const char *name, const struct forged *f)
{
    shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)f->file_size), 0);
    if (f->file_size >= 128) {
        unsigned char *p = mmap(NULL, 128, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(p != MAP_FAILED);
        uint32_t backing = SHMIPC_BACKING_POSIX, gen = 0;
        uint64_t created = 1;
        put(p, OFF_MAGIC, &f->magic, 8);
        put(p, OFF_VERSION, &f->version, 4);
        put(p, OFF_HEADER_SIZE, &f->header_size, 4);
        put(p, OFF_SIZE, &f->size, 8);
        put(p, OFF_TYPE, &f->type, 4);
        put(p, OFF_BACKING, &backing, 4);
        put(p, OFF_PID, &f->pid, 4);
        put(p, OFF_START, &f->start, 8);
        put(p, OFF_CREATED, &created, 8);
        put(p, OFF_READY, &f->ready, 4);
        put(p, OFF_GENERATION, &gen, 4);
        munmap(p, 128);
    }
    close(fd);
}

static int try_open(const char *name, unsigned flags, int timeout_ms)
{
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = flags;
    o.ready_timeout_ms = timeout_ms;
    shmipc_segment *s = NULL;
    int r = shmipc_segment_open(name, &o, &s);
    if (r == 0)
        shmipc_segment_close(s);
    else if (s != NULL)
        return -9999; /* a failed open must not hand out a handle */
    return r;
}

static void layout_matches_library(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "forge");
    struct forged f = valid();
    forge(name, &f);
    assert_int_equal(try_open(name, 0, 50), 0);
    /* And the other way: what the library writes is at the documented offsets. */
    shmipc_segment_unlink(name);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.type = 0x12345;
    shmipc_segment *s = NULL;
    assert_int_equal(shmipc_segment_create(name, 1000, &o, &s), 0);
    const unsigned char *p = (const unsigned char *)shmipc_segment_data(s) - SHMIPC_SEGMENT_HEADER_SIZE;
    uint64_t u64;
    uint32_t u32;
    int32_t i32;
    memcpy(&u64, p + OFF_MAGIC, 8);
    assert_int_equal(u64, MAGIC);
    assert_memory_equal(p, "SHMIPIC1", 8); /* the magic spells "SHMIPIC1" in memory */
    memcpy(&u32, p + OFF_VERSION, 4);
    assert_int_equal(u32, 1);
    memcpy(&u32, p + OFF_HEADER_SIZE, 4);
    assert_int_equal(u32, 128);
    memcpy(&u64, p + OFF_SIZE, 8);
    assert_int_equal(u64, 128 + 1024);
    memcpy(&u32, p + OFF_TYPE, 4);
    assert_int_equal(u32, 0x12345);
    memcpy(&u32, p + OFF_BACKING, 4);
    assert_int_equal(u32, SHMIPC_BACKING_POSIX);
    memcpy(&i32, p + OFF_PID, 4);
    assert_int_equal(i32, getpid());
    memcpy(&u64, p + OFF_START, 8);
    assert_int_equal(u64, f.start);
    memcpy(&u32, p + OFF_READY, 4);
    assert_int_equal(u32, READY);
    memcpy(&u32, p + OFF_GENERATION, 4);
    assert_int_equal(u32, 0);
    for (size_t i = 64; i < 128; i++)
        assert_int_equal(p[i], 0);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

static void bad_fields(void **state)
{
    (void)state;
    char name[96];
    shmipc_segment_info info;
    struct {
        const char *what;
        struct forged f;
        int expect;
    } cases[] = {
        {"wrong magic", valid(), -EBADMSG},
        {"wrong version", valid(), -EPROTO},
        {"version 0", valid(), -EPROTO},
        {"header_size 64", valid(), -EBADMSG},
        {"header_size 256", valid(), -EBADMSG},
        {"size > file", valid(), -EBADMSG},
        {"size huge", valid(), -EBADMSG},
        {"size == header", valid(), -EBADMSG},
        {"size 0", valid(), -EBADMSG},
        {"size % 64", valid(), -EBADMSG},
        {"type mismatch", valid(), -EPROTOTYPE},
    };
    cases[0].f.magic ^= 1;
    cases[1].f.version = 2;
    cases[2].f.version = 0;
    cases[3].f.header_size = 64;
    cases[4].f.header_size = 256;
    cases[5].f.size = cases[5].f.file_size + 64;
    cases[6].f.size = UINT64_MAX - 63;
    cases[7].f.size = 128;
    cases[8].f.size = 0;
    cases[9].f.size = 128 + 4000;
    cases[10].f.type = 3;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_name(name, sizeof name, "forge");
        forge(name, &cases[i].f);
        int r = try_open(name, 0, 50);
        if (r != cases[i].expect)
            fail_msg("%s: open gave %d (%s), expected %d", cases[i].what, r, shmipc_strerror(r),
                     cases[i].expect);
        r = try_open(name, SHMIPC_SEG_RDONLY, 50);
        if (r != cases[i].expect)
            fail_msg("%s: read-only open gave %d, expected %d", cases[i].what, r, cases[i].expect);
        /* stat is a tool's view: it reports what it can but must not accept a broken segment either
         * (a type mismatch is not an error for stat, which accepts any type). */
        r = shmipc_segment_stat(name, &info);
        if (r != (cases[i].expect == -EPROTOTYPE ? 0 : cases[i].expect))
            fail_msg("%s: stat gave %d", cases[i].what, r);
        shmipc_segment_unlink(name);
    }
}

static void type_check(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "type");
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.type = SHMIPC_TYPE_CHANNEL;
    shmipc_segment *s = NULL, *t = NULL;
    assert_int_equal(shmipc_segment_create(name, 64, &o, &s), 0);
    assert_int_equal(shmipc_segment_open(name, NULL, &t), -EPROTOTYPE); /* default type is RAW */
    o.type = SHMIPC_TYPE_QUEUE;
    assert_int_equal(shmipc_segment_open(name, &o, &t), -EPROTOTYPE);
    o.flags = SHMIPC_SEG_ANY_TYPE;
    assert_int_equal(shmipc_segment_open(name, &o, &t), 0);
    shmipc_segment_close(t);
    o.type = SHMIPC_TYPE_CHANNEL;
    o.flags = 0;
    assert_int_equal(shmipc_segment_open(name, &o, &t), 0);
    shmipc_segment_close(t);
    /* A create-only flag is not an open flag. */
    o.flags = SHMIPC_SEG_DEFER_READY;
    assert_int_equal(shmipc_segment_open(name, &o, &t), -EINVAL);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

static void garbage(void **state)
{
    (void)state;
    char name[96];
    for (uint64_t seed = 1; seed <= 20; seed++) {
        test_name(name, sizeof name, "garbage");
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        size_t n = (size_t)(seed % 3 == 0 ? 4096 : 128 + seed * 64);
        unsigned char buf[4096];
        test_fill(buf, n, seed);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        close(fd);
        uint64_t t0 = test_now_ms();
        int r = try_open(name, SHMIPC_SEG_ANY_TYPE, 30000);
        /* Random magic is refused at once, without waiting for a "creator" that does not exist. */
        assert_int_equal(r, -EBADMSG);
        assert_true(test_now_ms() - t0 < 10000);
        shmipc_segment_info info;
        assert_int_equal(shmipc_segment_stat(name, &info), -EBADMSG);
        shmipc_segment_unlink(name);
    }
}

static void empty_and_short(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "empty");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    /* An empty object may be a segment whose creator has not sized it yet: wait, then time out. */
    uint64_t t0 = test_now_ms();
    assert_int_equal(try_open(name, 0, 50), -ETIMEDOUT);
    uint64_t dt = test_now_ms() - t0;
    assert_true(dt >= 40 && dt < 5000);
    assert_int_equal(try_open(name, 0, -1), -ETIMEDOUT); /* negative: do not wait at all */
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), 0); /* stat: not ready yet, not an error */
    assert_int_equal(info.ready, 0);
    assert_int_equal(info.file_size, 0);
    shmipc_segment_unlink(name);

    /* Shorter than a header: -EBADMSG once the timeout has given a creator its chance. */
    test_name(name, sizeof name, "short");
    struct forged f = valid();
    f.file_size = 100;
    forge(name, &f);
    t0 = test_now_ms();
    assert_int_equal(try_open(name, 0, 50), -EBADMSG);
    assert_true(test_now_ms() - t0 < 5000);
    assert_int_equal(shmipc_segment_stat(name, &info), -EBADMSG);
    shmipc_segment_unlink(name);

    /* A zeroed header (sized but never written): still waiting for its creator. */
    test_name(name, sizeof name, "zeroed");
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    close(fd);
    assert_int_equal(try_open(name, 0, 50), -ETIMEDOUT);
    assert_int_equal(shmipc_segment_stat(name, &info), 0);
    assert_int_equal(info.ready, 0);
    shmipc_segment_unlink(name);
}

static void unready_dead_creator(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "deadcr");
    struct forged f = valid();
    f.ready = 0;
    f.start += 12345; /* same pid, other start time: a previous process with our pid */
    forge(name, &f);
    uint64_t t0 = test_now_ms();
    assert_int_equal(try_open(name, 0, 20000), -ENOTRECOVERABLE);
    assert_true(test_now_ms() - t0 < 10000);
    shmipc_segment_unlink(name);

    /* A live creator (ourselves) that never publishes: time out. */
    f = valid();
    f.ready = 0;
    forge(name, &f);
    assert_int_equal(try_open(name, 0, 50), -ETIMEDOUT);
    /* A "ready" word that is almost, but not exactly, the ready value. */
    f.ready = READY ^ 0x100;
    forge(name, &f);
    assert_int_equal(try_open(name, 0, 50), -ETIMEDOUT);
    shmipc_segment_unlink(name);
}

/* Something that is not a regular file planted under a segment name: refused, never waited on. */
static void not_regular(void **state)
{
    (void)state;
    char name[96], path[128];
    test_name(name, sizeof name, "fifo");
    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (mkfifo(path, 0600) < 0) {
        print_message("skip: cannot make a FIFO in /dev/shm\n");
        skip();
    }
    uint64_t t0 = test_now_ms();
    assert_int_equal(try_open(name, 0, 30000), -EBADMSG);
    assert_int_equal(try_open(name, SHMIPC_SEG_RDONLY, 30000), -EBADMSG);
    assert_true(test_now_ms() - t0 < 10000);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), -EBADMSG);
    assert_int_equal(unlink(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_library),
        cmocka_unit_test(bad_fields),
        cmocka_unit_test(type_check),
        cmocka_unit_test(garbage),
        cmocka_unit_test(empty_and_short),
        cmocka_unit_test(unready_dead_creator),
        cmocka_unit_test(not_regular),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
