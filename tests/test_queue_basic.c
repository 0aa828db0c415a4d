/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue_basic.c - the MPMC queue in one process and with one peer: capacity, FIFO order,
 * lengths, size errors, timeouts and wake-ups in each wait mode, options, the participant table, the
 * memfd + fork form, formatting refused through a read-only handle, and hostile shared memory (corrupt
 * header, slot words, lengths, positions).
 */
#include "helpers.h"

#include "queue/queue_internal.h"
#include <shmipc/queue.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static shmipc_queue *make_queue(char *name, size_t cap, uint32_t slots, uint32_t size, uint32_t parts)
{
    test_name(name, cap, "queue");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = slots;
    o.slot_size = size;
    o.max_participants = parts;
    shmipc_queue *q = NULL;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    return q;
}

static void fill_drain_fifo(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 8, 64, 0);
    unsigned char buf[128], out[128];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) {
            test_fill(buf, (size_t)i * 9, (uint64_t)(round * 100 + i));
            assert_int_equal(shmipc_queue_push(q, buf, (size_t)i * 9, 0), 0);
        }
        assert_int_equal(shmipc_queue_push(q, buf, 1, 0), -EAGAIN);
        shmipc_queue_stats st;
        assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
        assert_int_equal(st.depth, 8);
        for (int i = 0; i < 8; i++) {
            assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 0), i * 9);
            assert_int_equal(test_check(out, (size_t)i * 9, (uint64_t)(round * 100 + i)), 0);
        }
        assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 0), -EAGAIN);
    }
    /* Every length from 0 to slot_size, interleaved. */
    for (size_t len = 0; len <= 64; len++) {
        test_fill(buf, len, len);
        assert_int_equal(shmipc_queue_push(q, buf, len, 0), 0);
        memset(out, 0, sizeof out);
        assert_int_equal(shmipc_queue_pop(q, out, 64, 0), (int)len);
        assert_int_equal(test_check(out, len, len), 0);
    }
    assert_int_equal(shmipc_queue_push(q, buf, 65, 0), -EMSGSIZE);
    assert_int_equal(shmipc_queue_push(q, NULL, 0, 0), 0);
    assert_int_equal(shmipc_queue_pop(q, NULL, 0, 0), 0);
    /* A buffer too small leaves the message in place. */
    test_fill(buf, 40, 7);
    assert_int_equal(shmipc_queue_push(q, buf, 40, 0), 0);
    assert_int_equal(shmipc_queue_pop(q, out, 39, 0), -EMSGSIZE);
    assert_int_equal(shmipc_queue_pop(q, out, 39, 0), -EMSGSIZE);
    assert_int_equal(shmipc_queue_pop(q, out, 40, 0), 40);
    assert_int_equal(test_check(out, 40, 7), 0);
    assert_int_equal(shmipc_queue_push(NULL, buf, 1, 0), -EINVAL);
    assert_int_equal(shmipc_queue_push(q, NULL, 1, 0), -EINVAL);
    assert_int_equal(shmipc_queue_pop(q, NULL, 1, 0), -EINVAL);
    assert_int_equal(shmipc_queue_slot_size(q), 64);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.pushes, 3 * 8 + 65 + 2);
    assert_int_equal(st.pops, 3 * 8 + 65 + 2);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.participants, 1);
    assert_int_equal(st.broken, 0);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

static void options(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "opts");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    shmipc_queue *q = NULL;
    size_t size;
    o.slot_count = 3;
    assert_int_equal(shmipc_queue_create(name, &o, &q), -EINVAL);
    o.slot_count = 1;
    assert_int_equal(shmipc_queue_create(name, &o, &q), -EINVAL);
    o.slot_count = 4;
    o.slot_size = SHMIPC_QUEUE_MAX_SLOT_SIZE + 1;
    assert_int_equal(shmipc_queue_create(name, &o, &q), -EINVAL);
    o.slot_size = 8;
    o.max_participants = SHMIPC_QUEUE_MAX_PARTICIPANTS + 1;
    assert_int_equal(shmipc_queue_memory_size(&o, &size), -EINVAL);
    o.max_participants = 0;
    o.wait_mode = (shmipc_wait_mode)9;
    assert_int_equal(shmipc_queue_create(name, &o, &q), -EINVAL);
    o.wait_mode = 0;
    o.flags = 1u << 7;
    assert_int_equal(shmipc_queue_create(name, &o, &q), -EINVAL);
    assert_int_equal(shmipc_queue_open(name, NULL, &q), -ENOENT);
    assert_int_equal(shmipc_queue_memory_size(NULL, &size), 0);
    assert_true(size >= SHMIPC_QUEUE_DEFAULT_SLOT_COUNT * (SHMIPC_QUEUE_DEFAULT_SLOT_SIZE + 16));
    assert_int_equal(shmipc_queue_create(name, NULL, &q), 0);
    shmipc_queue *q2 = NULL;
    assert_int_equal(shmipc_queue_create(name, NULL, &q2), -EEXIST);
    assert_int_equal(shmipc_queue_set_wait(q, (shmipc_wait_mode)7), -EINVAL);
    assert_int_equal(shmipc_queue_set_wait(q, SHMIPC_WAIT_SPIN), 0);
    /* An observer does not register and cannot push or pop. */
    o.flags = SHMIPC_QUEUE_OBSERVE;
    assert_int_equal(shmipc_queue_open(name, &o, &q2), 0);
    assert_int_equal(shmipc_queue_push(q2, "x", 1, 0), -EPERM);
    assert_int_equal(shmipc_queue_pop(q2, NULL, 0, 0), -EPERM);
    assert_int_equal(shmipc_queue_push(q, "x", 1, 0), 0);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q2, &st), 0);
    assert_int_equal(st.participants, 1);
    assert_int_equal(st.pushes, 1);
    assert_int_equal(st.depth, 1);
    assert_int_equal(st.slot_count, SHMIPC_QUEUE_DEFAULT_SLOT_COUNT);
    shmipc_queue_close(q2);
    /* A read-only mapping can only observe. */
    shmipc_segment_opts so;
    shmipc_segment_opts_init(&so);
    so.type = SHMIPC_TYPE_QUEUE;
    so.flags = SHMIPC_SEG_RDONLY;
    shmipc_segment *ro;
    assert_int_equal(shmipc_segment_open(name, &so, &ro), 0);
    assert_int_equal(shmipc_queue_open_in(ro, NULL, &q2), -EPERM);
    assert_int_equal(shmipc_queue_open_in(ro, &o, &q2), 0);
    assert_int_equal(shmipc_queue_stats_get(q2, &st), 0);
    assert_int_equal(st.depth, 1);
    shmipc_queue_close(q2);
    shmipc_segment_close(ro);
    shmipc_queue_close(q);
    /* A segment of another type is refused. */
    shmipc_queue_unlink(name);
    shmipc_segment *seg;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &seg), 0);
    assert_int_equal(shmipc_queue_open(name, NULL, &q), -EPROTOTYPE);
    shmipc_segment_close(seg);
    assert_int_equal(shmipc_queue_unlink(name), 0);
    assert_int_equal(shmipc_queue_close(NULL), 0);
}

/* The participant table: full -> -EUSERS; an entry of a dead process is reclaimed by the next opener. */
static void participants(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 4, 16, 2);
    shmipc_queue *q2 = NULL, *q3 = NULL;
    assert_int_equal(shmipc_queue_open(name, NULL, &q2), 0);
    assert_int_equal(shmipc_queue_open(name, NULL, &q3), -EUSERS);
    shmipc_queue_close(q2);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_queue *c;
        if (shmipc_queue_open(name, NULL, &c))
            _exit(1);
        shmipc_queue_push(c, "abc", 3, 0);
        _exit(0); /* dies without closing: its entry stays taken */
    }
    assert_int_equal(test_wait(pid, 10000), 0);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.participants, 2);
    assert_int_equal(shmipc_queue_open(name, NULL, &q2), 0); /* reclaims the dead child's entry */
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.participants, 2);
    assert_int_equal(st.pushes, 1); /* the dead child's count was retired, not lost */
    char out[16];
    assert_int_equal(shmipc_queue_pop(q2, out, sizeof out, 0), 3);
    shmipc_queue_close(q2);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

/* Wake-ups across processes and timeouts, in each wait mode. The child acts once the parent is blocked:
 * announced as a sleeper on the notify word it waits on (BLOCK, HYBRID after its spin). A spinning parent
 * announces nothing: the child then acts at once, and the parent must see it whether it lands before or
 * during the spin. */
typedef struct waker_arg {
    const char *name;
    shmipc_wait_mode mode; /* the parent's */
} waker_arg;

static int await_parent_blocked(shmipc__notify *n, shmipc_wait_mode mode)
{
    return mode == SHMIPC_WAIT_SPIN ? 0 : test_until_at_least(&n->waiters, 1, 20000);
}

static int pusher_child(void *arg)
{
    const waker_arg *a = arg;
    shmipc_queue *q;
    if (shmipc_queue_open(a->name, NULL, &q))
        return 1;
    if (await_parent_blocked(&q->hdr->not_empty, a->mode))
        return 3;
    int r = shmipc_queue_push(q, "wake", 4, 5000);
    shmipc_queue_close(q);
    return r ? 2 : 0;
}

static int popper_child(void *arg)
{
    const waker_arg *a = arg;
    shmipc_queue *q;
    char out[16];
    if (shmipc_queue_open(a->name, NULL, &q))
        return 1;
    if (await_parent_blocked(&q->hdr->not_full, a->mode))
        return 3;
    int r = shmipc_queue_pop(q, out, sizeof out, 5000);
    shmipc_queue_close(q);
    return r == 1 ? 0 : 2;
}

static void wait_modes(void **state)
{
    (void)state;
    static const shmipc_wait_mode modes[] = {SHMIPC_WAIT_SPIN, SHMIPC_WAIT_BLOCK, SHMIPC_WAIT_HYBRID};
    for (size_t m = 0; m < SHMIPC_ARRAY_LEN(modes); m++) {
        char name[96];
        shmipc_queue *q = make_queue(name, sizeof name, 2, 16, 0);
        char out[16];
        assert_int_equal(shmipc_queue_set_wait(q, modes[m]), 0);
        /* Timeouts. */
        uint64_t t0 = test_now_ms();
        assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 30), -ETIMEDOUT);
        assert_true(test_now_ms() - t0 >= 25);
        assert_int_equal(shmipc_queue_push(q, "a", 1, 0), 0);
        assert_int_equal(shmipc_queue_push(q, "b", 1, 0), 0);
        t0 = test_now_ms();
        assert_int_equal(shmipc_queue_push(q, "c", 1, 30), -ETIMEDOUT);
        assert_true(test_now_ms() - t0 >= 25);
        /* A blocked push woken by a pop in another process. */
        waker_arg wa = {name, modes[m]};
        pid_t pid = test_fork(popper_child, &wa);
        assert_int_equal(shmipc_queue_push(q, "c", 1, SHMIPC_TIMEOUT_INFINITE), 0);
        assert_int_equal(test_wait(pid, 10000), 0);
        assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 0), 1);
        assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 0), 1);
        assert_int_equal(out[0], 'c');
        /* A blocked pop woken by a push in another process. */
        pid = test_fork(pusher_child, &wa);
        assert_int_equal(shmipc_queue_pop(q, out, sizeof out, SHMIPC_TIMEOUT_INFINITE), 4);
        assert_memory_equal(out, "wake", 4);
        assert_int_equal(test_wait(pid, 10000), 0);
        shmipc_queue_close(q);
        assert_int_equal(shmipc_queue_unlink(name), 0);
    }
}

/* The memfd form: format a segment, share it by fork, attach on both sides. */
static void memfd_fork(void **state)
{
    (void)state;
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 16;
    o.slot_size = 32;
    size_t size;
    assert_int_equal(shmipc_queue_memory_size(&o, &size), 0);
    shmipc_segment *seg;
    assert_int_equal(shmipc_segment_memfd_create("queue", size, NULL, &seg), 0);
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_open_in(seg, NULL, &q), -EBADMSG); /* not formatted yet */
    assert_int_equal(shmipc_queue_create_in(seg, &o), 0);
    assert_int_equal(shmipc_queue_open_in(seg, NULL, &q), 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_queue *c;
        if (shmipc_queue_open_in(seg, NULL, &c))
            _exit(1);
        for (int i = 0; i < 100; i++)
            if (shmipc_queue_push(c, &i, sizeof i, 5000))
                _exit(2);
        shmipc_queue_close(c);
        _exit(0);
    }
    for (int i = 0; i < 100; i++) {
        int v = -1;
        assert_int_equal(shmipc_queue_pop(q, &v, sizeof v, 5000), (int)sizeof v);
        assert_int_equal(v, i);
    }
    assert_int_equal(test_wait(pid, 10000), 0);
    shmipc_queue_close(q);
    /* Too small a segment for the options. */
    o.slot_count = 1024;
    assert_int_equal(shmipc_queue_create_in(seg, &o), -ENOSPC);
    shmipc_segment_close(seg);
}

/* Formatting through a read-only handle is refused with -EPERM instead of faulting on the first store. */
static void format_refuses_readonly_segment(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "qfmtro");
    size_t need;
    assert_int_equal(shmipc_queue_memory_size(NULL, &need), 0);
    shmipc_segment *w, *ro;
    assert_int_equal(shmipc_segment_create(name, need, NULL, &w), 0);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(shmipc_segment_open(name, &o, &ro), 0);
    assert_int_equal(shmipc_queue_create_in(ro, NULL), -EPERM);
    assert_int_equal(shmipc_queue_create_in(w, NULL), 0);
    shmipc_segment_close(ro);
    shmipc_segment_close(w);
    shmipc_segment_unlink(name);
}

/* Hostile shared memory: a damaged header is refused at open; damaged slots are -EBADMSG, never a crash. */
static void corrupt_header(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 8, 32, 4);
    shmipc__queue_hdr *h = q->hdr;
    shmipc_queue *q2 = NULL;
    struct {
        void *field;
        size_t size;
        uint64_t bad;
        int err;
    } cases[] = {
        {&h->magic, 8, 0x1234, -EBADMSG},
        {&h->version, 4, 99, -EPROTO},
        {&h->header_size, 4, 64, -EBADMSG},
        {&h->slot_count, 4, 12, -EBADMSG},           /* not a power of two */
        {&h->slot_count, 4, 1u << 20, -EBADMSG},     /* does not fit the segment */
        {&h->slot_size, 4, 4096, -EBADMSG},          /* stride and size disagree */
        {&h->slot_stride, 4, 128, -EBADMSG},
        {&h->max_participants, 4, 0, -EBADMSG},
        {&h->table_offset, 8, 0, -EBADMSG},
        {&h->slots_offset, 8, 1u << 30, -EBADMSG},
        {&h->total_size, 8, UINT64_MAX, -EBADMSG},
    };
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(cases); i++) {
        uint64_t saved = 0;
        memcpy(&saved, cases[i].field, cases[i].size);
        memcpy(cases[i].field, &cases[i].bad, cases[i].size);
        assert_int_equal(shmipc_queue_open(name, NULL, &q2), cases[i].err);
        memcpy(cases[i].field, &saved, cases[i].size);
    }
    assert_int_equal(shmipc_queue_open(name, NULL, &q2), 0);
    shmipc_queue_close(q2);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

/* Run one damage on a fresh queue holding 3 messages; expect op to fail with -EBADMSG and stay broken. */
static void corrupt_case(int which)
{
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 8, 32, 4);
    char buf[64] = "hello";
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmipc_queue_push(q, buf, 5, 0), 0);
    shmipc__queue_slot *s0 = queue_slot(q, 0);
    shmipc__queue_slot *s3 = queue_slot(q, 3);
    uint64_t w0 = atomic_load(&s0->word);
    bool pop = true;
    switch (which) {
    case 0: atomic_store(&s0->word, qw_make(qw_turn(w0) + 1000, QS_FULL, 0)); break;   /* far ahead */
    case 1: atomic_store(&s0->word, qw_make(qw_turn(w0) - 77, QS_FULL, 0)); break;     /* behind */
    case 2: atomic_store(&s0->len, 33); break;                                          /* > slot_size */
    case 3: atomic_store(&s0->len, UINT32_MAX); break;
    case 4: atomic_store(&q->hdr->dequeue_pos, UINT64_C(1) << 40); break;               /* position */
    case 5: atomic_store(&q->hdr->enqueue_pos, 12345); pop = false; break;
    case 6: atomic_store(&s3->word, qw_make(3 + 8 * 5, QS_FREE, 0)); pop = false; break; /* next slot */
    case 7: atomic_store(&s0->word, ~UINT64_C(0)); break;
    default: break;
    }
    int r = pop ? shmipc_queue_pop(q, buf, sizeof buf, 0) : shmipc_queue_push(q, buf, 5, 0);
    assert_int_equal(r, -EBADMSG);
    assert_int_equal(shmipc_queue_push(q, buf, 5, 0), -EBADMSG);
    assert_int_equal(shmipc_queue_pop(q, buf, sizeof buf, 0), -EBADMSG);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.broken, 1);
    shmipc_queue *q2;
    assert_int_equal(shmipc_queue_open(name, NULL, &q2), -EBADMSG);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

static void corrupt_slots(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++)
        corrupt_case(i);
}

/* A slot owned by a participant index that does not exist: found when a waiter checks the owner. */
static void corrupt_owner(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 4, 16, 2);
    shmipc__queue_slot *s0 = queue_slot(q, 0);
    atomic_store(&s0->word, qw_make(0, QS_WRITING, 3000));
    char buf[16];
    assert_int_equal(shmipc_queue_pop(q, buf, sizeof buf, 2000), -EBADMSG);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

/* Zero-copy: claim a slot, write or read in place, commit or release. */
static void zero_copy(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 2, 32, 0);
    shmipc_queue_claim c, d;
    assert_int_equal(shmipc_queue_push_claim(q, &c, 0), 0);
    assert_int_equal(c.len, 32);
    memcpy(c.data, "in place", 8);
    assert_int_equal(shmipc_queue_pop_claim(q, &d, 0), -EAGAIN); /* claimed, not published */
    assert_int_equal(shmipc_queue_push_commit(q, &c, 33), -EMSGSIZE);
    assert_int_equal(shmipc_queue_push_commit(q, &c, 8), 0);
    assert_int_equal(shmipc_queue_push_commit(q, &c, 8), -EINVAL); /* already committed */
    assert_int_equal(shmipc_queue_push(q, "second", 6, 0), 0);
    assert_int_equal(shmipc_queue_push_claim(q, &c, 0), -EAGAIN);  /* full */
    assert_int_equal(shmipc_queue_pop_claim(q, &d, 0), 8);
    assert_int_equal(d.len, 8);
    assert_memory_equal(d.data, "in place", 8);
    /* While the first slot is held, the second message can be taken. */
    char out[32];
    assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 0), 6);
    assert_int_equal(shmipc_queue_pop_release(q, &d), 0);
    assert_int_equal(shmipc_queue_pop_release(q, &d), -EINVAL);
    shmipc_queue_claim bogus = {.slot_ = out};
    assert_int_equal(shmipc_queue_pop_release(q, &bogus), -EINVAL);
    assert_int_equal(shmipc_queue_push_commit(q, &bogus, 0), -EINVAL);
    assert_int_equal(shmipc_queue_push_claim(NULL, &c, 0), -EINVAL);
    assert_int_equal(shmipc_queue_pop_claim(q, NULL, 0), -EINVAL);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.pushes, 2);
    assert_int_equal(st.pops, 2);
    assert_int_equal(st.depth, 0);
    /* Closing with a claim held abandons it: the slot is freed at once, not left to a waiter. */
    shmipc_queue *q2;
    assert_int_equal(shmipc_queue_open(name, NULL, &q2), 0);
    assert_int_equal(shmipc_queue_push_claim(q2, &c, 0), 0);
    shmipc_queue_close(q2);
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.lost, 1);
    assert_int_equal(shmipc_queue_push(q, "x", 1, 0), 0);
    assert_int_equal(shmipc_queue_pop(q, out, sizeof out, 0), 1);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fill_drain_fifo), cmocka_unit_test(options),        cmocka_unit_test(participants),
        cmocka_unit_test(wait_modes),      cmocka_unit_test(memfd_fork),     cmocka_unit_test(corrupt_header),
        cmocka_unit_test(corrupt_slots),   cmocka_unit_test(corrupt_owner),  cmocka_unit_test(zero_copy),
        cmocka_unit_test(format_refuses_readonly_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
