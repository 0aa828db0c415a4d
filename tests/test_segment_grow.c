/* SPDX-License-Identifier: MIT */
/*
 * tests/test_segment_grow.c - growing a segment while another process has it mapped (the other sees the
 * new generation through shmipc_segment_refresh and reads what was written in the new area), refusals
 * (shrink, read-only handle, a header size a peer lowered below this handle's mapping), and that a
 * read-only handle's mapping really is read-only.
 */
#include "helpers.h"
#include "segment/segment_internal.h"

#include <shmipc/segment.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

struct sync {
    const char *name;
    int to_child[2];
    int to_parent[2];
};

static int wait_byte(int fd)
{
    char c;
    return read(fd, &c, 1) == 1 ? 0 : -1;
}

static int say(int fd) { return write(fd, "x", 1) == 1 ? 0 : -1; }

/* Process B: map the segment at its first size, wait until A grew it, refresh and read the new area. */
static int reader_b(void *arg)
{
    struct sync *y = arg;
    shmipc_segment *s = NULL;
    if (shmipc_segment_open(y->name, NULL, &s) != 0)
        return 1;
    size_t before = shmipc_segment_data_size(s);
    if (before != 4096)
        return 2;
    if (shmipc_segment_refresh(s) != 0) /* nothing changed yet */
        return 3;
    if (say(y->to_parent[1]) || wait_byte(y->to_child[0]))
        return 4;
    if (shmipc_segment_refresh(s) != 1)
        return 5;
    if (shmipc_segment_data_size(s) != 1 << 20)
        return 6;
    unsigned char *p = shmipc_segment_data(s);
    if (test_check(p + (1 << 20) - 100000, 100000, 42) != 0)
        return 7;
    if (strcmp((char *)p, "old area") != 0)
        return 8;
    if (shmipc_segment_refresh(s) != 0) /* once is enough */
        return 9;
    shmipc_segment_info info;
    if (shmipc_segment_info_get(s, &info) != 0 || info.generation != 1)
        return 10;
    /* B grows it further; A will see that. */
    if (shmipc_segment_grow(s, 2 << 20) != 0)
        return 11;
    p = shmipc_segment_data(s);
    test_fill(p + (2 << 20) - 4096, 4096, 43);
    shmipc_segment_close(s);
    return 0;
}

static void grow_across_processes(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "grow");
    shmipc_segment *a = NULL;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &a), 0);
    strcpy(shmipc_segment_data(a), "old area");
    struct sync y = {.name = name};
    assert_int_equal(pipe(y.to_child), 0);
    assert_int_equal(pipe(y.to_parent), 0);
    pid_t pid = test_fork(reader_b, &y);
    assert_int_equal(wait_byte(y.to_parent[0]), 0);

    assert_int_equal(shmipc_segment_grow(a, 1 << 20), 0);
    assert_int_equal(shmipc_segment_data_size(a), 1 << 20);
    unsigned char *p = shmipc_segment_data(a);
    assert_string_equal((char *)p, "old area"); /* the old data moved with the mapping */
    for (size_t i = 4096; i < (1 << 20); i += 4096)
        assert_int_equal(p[i], 0); /* the new area is zero-filled */
    test_fill(p + (1 << 20) - 100000, 100000, 42);
    assert_int_equal(shmipc_segment_refresh(a), 0); /* the grower is already current */
    assert_int_equal(say(y.to_child[1]), 0);
    assert_int_equal(test_wait(pid, 30000), 0);

    assert_int_equal(shmipc_segment_refresh(a), 1);
    assert_int_equal(shmipc_segment_data_size(a), 2 << 20);
    p = shmipc_segment_data(a);
    assert_int_equal(test_check(p + (2 << 20) - 4096, 4096, 43), 0);

    /* Growing to the current size is a no-op; shrinking is refused. */
    assert_int_equal(shmipc_segment_grow(a, 2 << 20), 0);
    assert_int_equal(shmipc_segment_grow(a, 4096), -EINVAL);
    assert_int_equal(shmipc_segment_data_size(a), 2 << 20);
    assert_int_equal(shmipc_segment_grow(a, SIZE_MAX), -EFBIG);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_info_get(a, &info), 0);
    assert_int_equal(info.generation, 2);
    assert_int_equal(info.file_size, info.size);
    shmipc_segment_close(a);
    shmipc_segment_unlink(name);
}

/* A stale handle (one that did not refresh) may not shrink the segment under the others either. */
static void stale_handle_cannot_shrink(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "grow");
    shmipc_segment *a = NULL, *b = NULL;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &a), 0);
    assert_int_equal(shmipc_segment_open(name, NULL, &b), 0);
    assert_int_equal(shmipc_segment_grow(a, 65536), 0);
    assert_int_equal(shmipc_segment_grow(b, 8192), -EINVAL);
    assert_int_equal(shmipc_segment_data_size(b), 4096);
    /* Growing past the current size through a stale handle works and leaves it current. */
    assert_int_equal(shmipc_segment_grow(b, 131072), 0);
    assert_int_equal(shmipc_segment_data_size(b), 131072);
    assert_int_equal(shmipc_segment_refresh(b), 0);
    assert_int_equal(shmipc_segment_refresh(a), 1);
    assert_int_equal(shmipc_segment_data_size(a), 131072);
    shmipc_segment_close(b);
    shmipc_segment_close(a);
    shmipc_segment_unlink(name);
}

/* A header whose size a peer lowered below this handle's mapping must not make shmipc_segment_grow shrink
 * the mapping under the caller: -EBADMSG, the mapping and its bytes stay. */
static void grow_refuses_header_size_below_mapping(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "growhdr");
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &s), 0);
    unsigned char *data = shmipc_segment_data(s);
    memset(data, 0xab, 4096);
    /* A hostile peer lowers the recorded size (still a multiple of the cache line, still within the
     * object): a grow to a size between it and our mapping must not remap us smaller. */
    atomic_store(&shmipc__seg_hdr_of(s)->size, (uint64_t)SHMIPC_SEGMENT_HEADER_SIZE + 64);
    assert_int_equal(shmipc_segment_grow(s, 256), -EBADMSG);
    assert_int_equal(shmipc_segment_data_size(s), 4096);
    data = shmipc_segment_data(s);
    assert_int_equal(data[4095], 0xab); /* still mapped */
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
}

static int write_through_rdonly(void *arg)
{
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_RDONLY;
    shmipc_segment *s = NULL;
    if (shmipc_segment_open(arg, &o, &s) != 0)
        return 1;
    volatile char *p = shmipc_segment_data(s);
    if (p[0] != 'r') /* reading is fine */
        return 2;
    signal(SIGSEGV, SIG_DFL);
    p[0] = 'w'; /* must fault */
    return 3;
}

static void rdonly(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "rdonly");
    shmipc_segment *a = NULL, *r = NULL;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &a), 0);
    strcpy(shmipc_segment_data(a), "ro");
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(shmipc_segment_open(name, &o, &r), 0);
    assert_string_equal((char *)shmipc_segment_data(r), "ro");
    assert_int_equal(shmipc_segment_grow(r, 8192), -EPERM);
    assert_int_equal(shmipc_segment_data_size(r), 4096);
    /* A read-only handle still follows growth by others. */
    assert_int_equal(shmipc_segment_grow(a, 8192), 0);
    assert_int_equal(shmipc_segment_refresh(r), 1);
    assert_int_equal(shmipc_segment_data_size(r), 8192);
    assert_string_equal((char *)shmipc_segment_data(r), "ro");

    int st = test_wait(test_fork(write_through_rdonly, name), 10000);
    assert_int_equal(st, 128 + SIGSEGV);
    assert_string_equal((char *)shmipc_segment_data(a), "ro"); /* the write did not land */
    shmipc_segment_close(r);
    shmipc_segment_close(a);
    shmipc_segment_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grow_across_processes),
        cmocka_unit_test(stale_handle_cannot_shrink),
        cmocka_unit_test(grow_refuses_header_size_below_mapping),
        cmocka_unit_test(rdonly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
