/* SPDX-License-Identifier: MIT */
/* tests/test_blackboard.c - the blackboard service: values, versions, keys, options and mismatches, waits,
 * the reader table (max_readers readers at most, never the slot a restarting writer needs), values larger
 * than the reader's on-stack snapshot, readers racing a writer in other processes and in threads (never a
 * torn value), a writer killed in the middle of a write (readers keep the previous value, a new writer
 * takes over), corrupt state. */
#include "helpers.h"
#include "blackboard/blackboard_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "t%d-%d-%s", (int)getpid(), n++, tag);
}

static void basic_values_and_options(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "basic");
    shmipc_blackboard_writer *w, *w2;
    shmipc_blackboard_reader *r;
    assert_int_equal(shmipc_blackboard_writer_create(name, NULL, &w), -EINVAL); /* no value size */
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r), -ENOENT);
    shmipc_type_info t = {.name = "pose_v1", .size = 13, .align = 4};
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.type = &t;
    o.entries = 4;
    o.max_readers = 2;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w2), -EBUSY);
    shmipc_blackboard_opts bad = o;
    bad.entries = 5;
    assert_int_equal(shmipc_blackboard_reader_open(name, &bad, &r), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "entries"));
    shmipc_type_info t2 = t;
    snprintf(t2.name, sizeof t2.name, "other");
    bad = o;
    bad.type = &t2;
    assert_int_equal(shmipc_blackboard_reader_open(name, &bad, &r), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "payload type"));
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r), 0);
    assert_int_equal(shmipc_blackboard_value_size(r), 13);

    char v[16], got[16];
    uint64_t ver = 0;
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, &ver), -ENODATA);
    assert_int_equal(shmipc_blackboard_read(r, 4, got, sizeof got, &ver), -EINVAL);
    assert_int_equal(shmipc_blackboard_read(r, 0, got, 12, &ver), -EMSGSIZE);
    memcpy(v, "abcdefghijklm", 13);
    assert_int_equal(shmipc_blackboard_write(w, 0, v, 12), -EINVAL);
    assert_int_equal(shmipc_blackboard_write(w, 4, v, 13), -EINVAL);
    assert_int_equal(shmipc_blackboard_wait(r, 0, 0, 0), -EAGAIN);
    assert_int_equal(shmipc_blackboard_wait(r, 0, 0, 30), -ETIMEDOUT);
    assert_int_equal(shmipc_blackboard_write(w, 0, v, 13), 0);
    assert_int_equal(shmipc_blackboard_wait(r, 0, 0, 0), 0);
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, &ver), 13);
    assert_memory_equal(got, v, 13);
    assert_int_equal(ver, 1);
    assert_int_equal(shmipc_blackboard_wait(r, 0, ver, 0), -EAGAIN);
    v[0] = 'X';
    assert_int_equal(shmipc_blackboard_write(w, 0, v, 13), 0);
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, &ver), 13);
    assert_int_equal(ver, 2);
    assert_int_equal(got[0], 'X');
    /* keys are independent */
    assert_int_equal(shmipc_blackboard_read(r, 3, got, sizeof got, &ver), -ENODATA);
    memcpy(v, "3333333333333", 13);
    assert_int_equal(shmipc_blackboard_write(w, 3, v, 13), 0);
    assert_int_equal(shmipc_blackboard_read(r, 3, got, sizeof got, &ver), 13);
    assert_int_equal(ver, 1);
    assert_memory_equal(got, v, 13);

    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_BLACKBOARD, name, &si), 0);
    assert_int_equal(si.participants, 2);
    assert_string_equal(si.stat_names[0], "updates");
    assert_int_equal(si.stats[0], 3);
    assert_non_null(strstr(si.options, "writer=alive"));

    /* the writer leaves: values stay, waits wait for a new writer; a new writer takes over and versions go on */
    shmipc_blackboard_writer_close(w);
    assert_int_equal(shmipc_blackboard_wait(r, 0, 2, 30), -ETIMEDOUT); /* no writer: waits for one */
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, &ver), 13);
    assert_int_equal(ver, 2);
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_write(w, 0, v, 13), 0);
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, &ver), 13);
    assert_int_equal(ver, 3);
    /* the reader table's bound: readers_never_take_the_writer_slot */
    bad = o;
    bad.entries = 2;
    assert_int_equal(shmipc_blackboard_writer_create(name, &bad, &w2), -EPROTOTYPE); /* in use: kept */
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_writer_close(w);
    assert_int_equal(shmipc_blackboard_unlink(name), 0);
    /* a blackboard nobody uses (its creator gone) is replaced by a writer with other settings */
    pid_t c = fork();
    if (c == 0)
        _exit(shmipc_blackboard_writer_create(name, &o, &w) ? 1 : 0); /* exits holding nothing live */
    assert_int_equal(test_wait(c, 10000), 0);
    assert_int_equal(shmipc_blackboard_writer_create(name, &bad, &w2), 0);
    shmipc_blackboard_writer_close(w2);
    assert_int_equal(shmipc_blackboard_unlink(name), 0);
    assert_int_equal(shmipc_blackboard_unlink(name), -ENOENT);
    bad = (shmipc_blackboard_opts){.size = sizeof(shmipc_blackboard_opts), .value_size = SHMIPC_BB_MAX_VALUE + 1};
    assert_int_equal(shmipc_blackboard_writer_create(name, &bad, &w), -EINVAL);
    bad = (shmipc_blackboard_opts){.size = sizeof(shmipc_blackboard_opts), .value_size = 8, .entries = SHMIPC_BB_MAX_ENTRIES + 1};
    assert_int_equal(shmipc_blackboard_writer_create(name, &bad, &w), -EINVAL);
}

/* max_readers = 2: two readers connect, a third is refused, and a writer that closed can come back even
 * though the readers connected while it was away. */
static void readers_never_take_the_writer_slot(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "slots");
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 8;
    o.max_readers = 2;
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r[3] = {NULL, NULL, NULL};
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    shmipc_blackboard_writer_close(w); /* the writer restarts: its slot is free meanwhile */
    assert_int_equal(shmipc_blackboard_reader_open(name, &o, &r[0]), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, &o, &r[1]), 0);
    int third = shmipc_blackboard_reader_open(name, &o, &r[2]);
    int wr = shmipc_blackboard_writer_create(name, &o, &w);
    if (wr == 0)
        shmipc_blackboard_writer_close(w);
    for (int i = 0; i < 3; i++)
        shmipc_blackboard_reader_close(r[i]);
    shmipc_blackboard_unlink(name);
    assert_int_equal(third, -EUSERS); /* max_readers is the most readers at once */
    assert_int_equal(wr, 0);          /* the writer is never locked out by readers */
}

/* Values larger than the on-stack snapshot (512 bytes) read correctly, repeatedly, through the reader's
 * preallocated snapshot buffer. */
static void values_larger_than_stack_snapshot(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "large");
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 4099;
    o.entries = 2;
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
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

#define WORDS 64 /* a 512-byte value: every word holds the same counter */

static int check_value(const uint64_t *v, uint64_t version)
{
    for (int i = 0; i < WORDS; i++)
        if (v[i] != version)
            return 0;
    return 1;
}

static int writer_proc(void *arg)
{
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = WORDS * 8};
    shmipc_blackboard_writer *w;
    if (shmipc_blackboard_writer_create(arg, &o, &w))
        return 1;
    uint64_t v[WORDS];
    uint64_t end = test_now_ms() + 1500;
    for (uint64_t n = 1; test_now_ms() < end; n++) {
        for (int i = 0; i < WORDS; i++)
            v[i] = n; /* version n carries value n: the writer's n-th write */
        if (shmipc_blackboard_write(w, 0, v, sizeof v))
            return 2;
    }
    shmipc_blackboard_writer_close(w);
    return 0;
}

/* Read until the writer leaves: every value consistent, versions never going back. */
static int reader_loop(const char *name, long *reads)
{
    shmipc_blackboard_reader *r;
    int err = -ENOENT;
    for (int tries = 0; tries < 500 && err == -ENOENT; tries++) {
        err = shmipc_blackboard_reader_open(name, NULL, &r);
        if (err == -ENOENT)
            usleep(5000); /* poll interval: not created yet */
    }
    if (err)
        return 30;
    uint64_t v[WORDS], last = 0, ver;
    int rc = 0;
    uint64_t give_up = test_now_ms() + 20000;
    for (;;) {
        int n = shmipc_blackboard_read(r, 0, v, sizeof v, &ver);
        if (n == -ENODATA && test_now_ms() < give_up) {
            usleep(1000); /* poll interval (deadline give_up): the writer has not written yet */
            continue;
        }
        if (n != (int)sizeof v || !check_value(v, ver) || ver < last) {
            rc = 31;
            break;
        }
        last = ver;
        (*reads)++;
        int werr = shmipc_blackboard_wait(r, 0, ver, 1000);
        if (werr == -EPIPE || werr == -ETIMEDOUT)
            break; /* the writer left (while we waited, or before) */
        if (werr) {
            rc = 32;
            break;
        }
    }
    shmipc_blackboard_reader_close(r);
    return rc;
}

static int reader_proc(void *arg)
{
    long reads = 0;
    int rc = reader_loop(arg, &reads);
    return rc ? rc : reads > 0 ? 0 : 33;
}

static void no_torn_values_processes(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "torn");
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = WORDS * 8};
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *hold;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &hold), 0); /* keeps it in use */
    shmipc_blackboard_writer_close(w);
    pid_t readers[2];
    for (int i = 0; i < 2; i++)
        readers[i] = test_fork(reader_proc, name);
    pid_t wr = test_fork(writer_proc, name);
    assert_int_equal(test_wait(wr, 30000), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(test_wait(readers[i], 30000), 0);
    shmipc_blackboard_reader_close(hold);
    shmipc_blackboard_unlink(name);
}

/* Kill-point hook: die half-way through copying the value, sequence odd. */
static void die_now(void) { raise(SIGKILL); }

typedef struct dying_arg {
    const char *name;
    int read_fd; /* a byte once the parent read value 1; it then waits for the next version */
} dying_arg;

static int dying_writer(void *arg)
{
    const dying_arg *a = arg;
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = WORDS * 8};
    shmipc_blackboard_writer *w;
    if (shmipc_blackboard_writer_create(a->name, &o, &w))
        return 1;
    uint64_t v[WORDS];
    for (int i = 0; i < WORDS; i++)
        v[i] = 1;
    if (shmipc_blackboard_write(w, 0, v, sizeof v))
        return 2;
    /* The parent read value 1 and sleeps in its wait for the next version. */
    if (test_await(a->read_fd, 20000) || test_until_futex_wait(getppid(), 20000))
        return 4;
    for (int i = 0; i < WORDS; i++)
        v[i] = 2;
    shmipc__bb_kill_point = die_now;
    shmipc_blackboard_write(w, 0, v, sizeof v);
    return 3; /* not reached */
}

static void writer_killed_mid_write(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "kill");
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = WORDS * 8};
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r), 0);
    shmipc_blackboard_writer_close(w);
    int p[2];
    assert_int_equal(pipe(p), 0);
    dying_arg da = {name, p[0]};
    pid_t c = test_fork(dying_writer, &da);
    assert_int_equal(shmipc_blackboard_wait(r, 0, 0, 10000), 0);
    uint64_t v[WORDS], ver;
    assert_int_equal(shmipc_blackboard_read(r, 0, v, sizeof v, &ver), (int)sizeof v);
    assert_int_equal(ver, 1);
    assert_int_equal(test_signal(p[1]), 0);
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_blackboard_wait(r, 0, 1, 20000), -EPIPE); /* the writer died mid-write */
    assert_true(test_now_ms() - t0 < 10000);
    assert_int_equal(test_wait(c, 10000), 128 + SIGKILL);
    close(p[0]);
    close(p[1]);
    /* the half-written buffer is marked (odd), the published one is intact */
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_BLACKBOARD, name, NULL, 0, &view), 0);
    shmipc__bb_hdr *h = view.pattern_area;
    shmipc__bb_entry *e = (shmipc__bb_entry *)((char *)h + h->entry_off);
    uint32_t active = atomic_load(&e->active);
    shmipc__bb_buf *other = (shmipc__bb_buf *)((char *)(e + 1) + (size_t)(active ^ 1) * h->buf_size);
    assert_true(atomic_load(&other->seq) & 1);
    assert_int_equal(shmipc_blackboard_read(r, 0, v, sizeof v, &ver), (int)sizeof v);
    assert_int_equal(ver, 1);
    assert_true(check_value(v, 1));
    /* a new writer takes over (the dead one is detected) and writes through the odd buffer */
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    for (uint64_t n = 2; n <= 4; n++) {
        for (int i = 0; i < WORDS; i++)
            v[i] = n;
        assert_int_equal(shmipc_blackboard_write(w, 0, v, sizeof v), 0);
        assert_int_equal(shmipc_blackboard_read(r, 0, v, sizeof v, &ver), (int)sizeof v);
        assert_int_equal(ver, n);
        assert_true(check_value(v, n));
    }
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_BLACKBOARD, name, &si), 0);
    assert_int_equal(si.dead, 0); /* taking over reclaimed the dead writer's slot (or it was never full) */
    shmipc__svc_close(&view);
    shmipc_blackboard_writer_close(w);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_unlink(name);
}

static void corrupt_state(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "corrupt");
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = 16};
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r, *r2;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r), 0);
    char v[16] = "0123456789abcdef", got[16];
    assert_int_equal(shmipc_blackboard_write(w, 0, v, 16), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_BLACKBOARD, name, NULL, 0, &view), 0);
    shmipc__bb_hdr *h = view.pattern_area;
    shmipc__bb_entry *e = (shmipc__bb_entry *)((char *)h + h->entry_off);
    uint32_t active = atomic_load(&e->active);
    atomic_store(&e->active, 7);
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, NULL), -EBADMSG);
    assert_int_equal(shmipc_blackboard_wait(r, 0, 5, 0), -EBADMSG);
    atomic_store(&e->active, active);
    assert_int_equal(shmipc_blackboard_read(r, 0, got, sizeof got, NULL), 16);
    h->entries = 1u << 30;
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r2), -EBADMSG);
    h->entries = 1;
    h->buf_size = 8;
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r2), -EBADMSG);
    assert_non_null(strstr(shmipc_service_error_detail(), "geometry"));
    h->buf_size = 64;
    h->magic = 1;
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r2), -EBADMSG);
    h->magic = SHMIPC_BB_MAGIC;
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r2), 0);
    shmipc_blackboard_reader_close(r2);
    shmipc__svc_close(&view);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_writer_close(w);
    shmipc_blackboard_unlink(name);
}

/* One reader's versions never go back: an index still naming the older buffer while the newer one is
 * complete (a writer killed between the two stores, or an index store not yet visible) gives the newer
 * one; both buffers older than what the reader returned (only a scribbler can do that) is -EBADMSG. */
static void reads_never_go_back(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "mono");
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = 8};
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r), 0);
    uint64_t val, ver;
    for (val = 1; val <= 3; val++)
        assert_int_equal(shmipc_blackboard_write(w, 0, &val, 8), 0);
    assert_int_equal(shmipc_blackboard_read(r, 0, &val, 8, &ver), 8);
    assert_int_equal(ver, 3);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_BLACKBOARD, name, NULL, 0, &view), 0);
    shmipc__bb_hdr *h = view.pattern_area;
    shmipc__bb_entry *e = (shmipc__bb_entry *)((char *)h + h->entry_off);
    uint32_t active = atomic_load(&e->active);
    shmipc__bb_buf *older = (shmipc__bb_buf *)((char *)(e + 1) + (size_t)(active ^ 1) * h->buf_size);
    assert_int_equal(atomic_load(&older->version), 2);
    atomic_store(&e->active, active ^ 1); /* the index names version 2's buffer again */
    assert_int_equal(shmipc_blackboard_read(r, 0, &val, 8, &ver), 8);
    assert_int_equal(ver, 3);
    assert_int_equal(val, 3);
    shmipc_blackboard_reader *fresh;
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &fresh), 0);
    assert_int_equal(shmipc_blackboard_read(fresh, 0, &val, 8, &ver), 8); /* no floor yet: the index's */
    assert_int_equal(ver, 2);
    shmipc_blackboard_reader_close(fresh);
    shmipc__bb_buf *newer = (shmipc__bb_buf *)((char *)(e + 1) + (size_t)active * h->buf_size);
    atomic_store(&newer->version, 1); /* both below 3 */
    assert_int_equal(shmipc_blackboard_read(r, 0, &val, 8, &ver), -EBADMSG);
    assert_non_null(strstr(shmipc_service_error_detail(), "below"));
    atomic_store(&newer->version, 3);
    atomic_store(&e->active, active);
    assert_int_equal(shmipc_blackboard_read(r, 0, &val, 8, &ver), 8);
    assert_int_equal(ver, 3);
    shmipc__svc_close(&view);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_writer_close(w);
    shmipc_blackboard_unlink(name);
}

/* Random words scribbled over the pattern area between calls: documented errors only, no crash (ASan). */
static void random_garbage(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "garbage");
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = 40, .entries = 3};
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *r, *r2;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &r), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_BLACKBOARD, name, NULL, 0, &view), 0);
    size_t size = view.pattern_size;
    uint32_t *words = view.pattern_area;
    static uint32_t saved[1 << 12];
    assert_true(size <= sizeof saved);
    memcpy(saved, words, size);
    srand(4321);
    char v[40] = "value", got[40];
    for (int it = 0; it < 2000; it++) {
        for (int k = 0; k < 1 + it % 8; k++)
            words[(size_t)rand() % (size / 4)] = it % 3 ? (uint32_t)rand() : (uint32_t)rand() % 4;
        uint32_t key = (uint32_t)it % 3;
        assert_int_equal(shmipc_blackboard_write(w, key, v, sizeof v), 0);
        int n = shmipc_blackboard_read(r, key, got, sizeof got, NULL);
        assert_true(n == 40 || n == -EBADMSG || n == -ENODATA || n == -EAGAIN);
        n = shmipc_blackboard_wait(r, key, UINT64_MAX, 0);
        assert_true(n == -EAGAIN || n == -EBADMSG || n == -EPIPE);
        n = shmipc_blackboard_reader_open(name, NULL, &r2);
        assert_true(n == 0 || n == -EBADMSG);
        if (!n)
            shmipc_blackboard_reader_close(r2);
        if (it % 16 == 15)
            memcpy(words, saved, size);
    }
    shmipc__svc_close(&view);
    shmipc_blackboard_reader_close(r);
    shmipc_blackboard_writer_close(w);
    shmipc_blackboard_unlink(name);
}

/* Threads over one mapping: one writer thread, two reader threads (what TSan checks). */
typedef struct thr_arg {
    const char *name;
    int rc;
    long reads;
} thr_arg;

static void *thr_writer(void *p)
{
    thr_arg *a = p;
    a->rc = writer_proc((void *)a->name);
    return NULL;
}

static void *thr_reader(void *p)
{
    thr_arg *a = p;
    a->rc = reader_loop(a->name, &a->reads);
    return NULL;
}

static void no_torn_values_threads(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "thr");
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = WORDS * 8};
    shmipc_blackboard_writer *w;
    shmipc_blackboard_reader *hold;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &w), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &hold), 0);
    shmipc_blackboard_writer_close(w);
    thr_arg ra[2] = {{.name = name}, {.name = name}}, wa = {.name = name};
    pthread_t rt[2], wt;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&rt[i], NULL, thr_reader, &ra[i]), 0);
    assert_int_equal(pthread_create(&wt, NULL, thr_writer, &wa), 0);
    pthread_join(wt, NULL);
    assert_int_equal(wa.rc, 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(ra[i].rc, 0);
        assert_true(ra[i].reads > 0);
    }
    shmipc_blackboard_reader_close(hold);
    shmipc_blackboard_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_values_and_options),
        cmocka_unit_test(readers_never_take_the_writer_slot),
        cmocka_unit_test(values_larger_than_stack_snapshot),
        cmocka_unit_test(no_torn_values_processes),
        cmocka_unit_test(writer_killed_mid_write),
        cmocka_unit_test(corrupt_state),
        cmocka_unit_test(reads_never_go_back),
        cmocka_unit_test(random_garbage),
        cmocka_unit_test(no_torn_values_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
