/* SPDX-License-Identifier: MIT */
/*
 * tests/test_channel_basic.c - the channel in one process: create/open/roles, copy, zero-copy and batch
 * APIs, full and empty behaviour, zero-length and maximum messages, -EMSGSIZE, wrap-around at every
 * offset of a small ring, the full policies without a racing peer, and a hostile peer's scribbles on the
 * header, indices and records (-EBADMSG, never a crash: run under ASan too).
 */
#include "helpers.h"
#include "channel/channel_internal.h"

#include <shmipc/channel.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A memfd segment holding a fresh channel of the given capacity and policy, plus both ends. */
typedef struct pair {
    shmipc_segment *seg;
    shmipc_channel *tx, *rx;
} pair;

static void pair_open(pair *p, size_t cap, shmipc_channel_full_policy pol)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(shmipc_segment_memfd_create("chan", shmipc_channel_size(cap), NULL, &p->seg), 0);
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = cap;
    o.full_policy = pol;
    assert_int_equal(shmipc_channel_create_in(p->seg, &o, &p->tx), 0);
    assert_int_equal(shmipc_channel_open_in(p->seg, SHMIPC_CHANNEL_CONSUMER, NULL, &p->rx), 0);
}

static void pair_close(pair *p)
{
    shmipc_channel_close(p->tx);
    shmipc_channel_close(p->rx);
    shmipc_segment_close(p->seg);
}

static shmipc__chan_hdr *hdr_of(pair *p) { return shmipc_segment_data(p->seg); }

/* Message i of a test stream: its length (below max) and contents are derived from i. */
static size_t msg_len(uint64_t i, size_t max) { return (size_t)((i * 2654435761u) >> 7) % (max + 1); }

static void get_msg(shmipc_channel *rx, uint64_t i, size_t max)
{
    unsigned char buf[4096];
    int r = shmipc_channel_recv(rx, buf, sizeof buf, 0);
    assert_int_equal(r, (int)msg_len(i, max));
    assert_int_equal(test_check(buf, (size_t)r, i), 0);
}

static void named_roles(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "chan");
    shmipc_channel *tx, *rx, *other, *obs;
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = 1000; /* rounded up to 1024 */
    assert_int_equal(shmipc_channel_create(name, &o, &tx), 0);
    assert_int_equal(shmipc_channel_create(name, &o, &other), -EEXIST);
    assert_int_equal(shmipc_channel_max_msg(tx), 512 - 16);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &other), -EBUSY);
    assert_int_equal(shmipc_channel_open(name, 0, NULL, &other), -EINVAL);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx), 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &other), -EBUSY);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_OBSERVER, NULL, &obs), 0);

    /* wrong roles */
    char buf[64];
    assert_int_equal(shmipc_channel_recv(tx, buf, sizeof buf, 0), -EBADF);
    assert_int_equal(shmipc_channel_send(rx, "x", 1, 0), -EBADF);
    assert_int_equal(shmipc_channel_send(obs, "x", 1, 0), -EBADF);

    assert_int_equal(shmipc_channel_recv(rx, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(shmipc_channel_send(tx, "hello", 5, 0), 0);
    assert_int_equal(shmipc_channel_recv(rx, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "hello", 5);

    shmipc_channel_stats st;
    assert_int_equal(shmipc_channel_stats_get(obs, &st), 0);
    assert_int_equal(st.capacity, 1024);
    assert_int_equal(st.msgs_sent, 1);
    assert_int_equal(st.bytes_sent, 5);
    assert_int_equal(st.msgs_recv, 1);
    assert_int_equal(st.bytes_recv, 5);
    assert_int_equal(st.producer.pid, getpid());
    assert_int_equal(st.producer_alive, 1);
    assert_int_equal(st.consumer_alive, 1);
    assert_int_equal(st.head, st.tail);

    /* a closed endpoint can be opened again; the consumer then sees -EPIPE on an empty ring */
    assert_int_equal(shmipc_channel_send(tx, "last", 4, 0), 0);
    shmipc_channel_close(tx);
    assert_int_equal(shmipc_channel_recv(rx, buf, sizeof buf, -1), 4);
    assert_int_equal(shmipc_channel_recv(rx, buf, sizeof buf, -1), -EPIPE);
    assert_int_equal(shmipc_channel_stats_get(obs, &st), 0);
    assert_int_equal(st.producer.pid, -1);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &tx), 0);
    assert_int_equal(shmipc_channel_send(tx, "again", 5, 0), 0);
    assert_int_equal(shmipc_channel_recv(rx, buf, sizeof buf, 0), 5);
    assert_int_equal(shmipc_channel_stats_get(obs, &st), 0);
    assert_int_equal(st.msgs_sent, 3); /* the new producer continued the count */

    shmipc_channel_close(obs);
    shmipc_channel_close(rx);
    shmipc_channel_close(tx);
    assert_int_equal(shmipc_channel_unlink(name), 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx), -ENOENT);

    /* not a channel */
    shmipc_segment *seg;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &seg), 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx), -EPROTOTYPE);
    shmipc_segment_close(seg);
    shmipc_segment_unlink(name);
}

static void bad_args(void **state)
{
    (void)state;
    shmipc_segment *seg;
    shmipc_channel *ch;
    shmipc_channel_opts o;
    assert_int_equal(shmipc_segment_memfd_create("small", 256, NULL, &seg), 0);
    shmipc_channel_opts_init(&o);
    assert_int_equal(shmipc_channel_create_in(seg, &o, &ch), -ENOSPC); /* 512-byte header does not fit */
    shmipc_segment_close(seg);
    assert_int_equal(shmipc_segment_memfd_create("cap", 4096, NULL, &seg), 0);
    o.capacity = 32;
    assert_int_equal(shmipc_channel_create_in(seg, &o, &ch), -EINVAL);
    o.capacity = 8192;
    assert_int_equal(shmipc_channel_create_in(seg, &o, &ch), -ENOSPC);
    o.capacity = 0;
    o.full_policy = 7;
    assert_int_equal(shmipc_channel_create_in(seg, &o, &ch), -EINVAL);
    o.full_policy = 0;
    o.wait_mode = 9;
    assert_int_equal(shmipc_channel_create_in(seg, &o, &ch), -EINVAL);
    o.wait_mode = 0;
    assert_int_equal(shmipc_channel_create_in(seg, &o, &ch), 0); /* largest ring that fits: 2048 */
    assert_int_equal(shmipc_channel_max_msg(ch), 1024 - 16);
    assert_int_equal(shmipc_channel_set_wait(ch, 9), -EINVAL);
    assert_int_equal(shmipc_channel_set_wait(ch, SHMIPC_WAIT_SPIN), 0);
    assert_int_equal(shmipc_channel_send(ch, NULL, 4, 0), -EINVAL);
    assert_int_equal(shmipc_channel_send_batch(ch, NULL, 1, 0), -EINVAL);
    assert_int_equal(shmipc_channel_commit(ch, 0), -EINVAL);
    shmipc_channel_close(ch);
    shmipc_segment_close(seg);
    assert_int_equal(shmipc_channel_size(0), 512 + 65536);
    assert_int_equal(shmipc_channel_size((size_t)2 << 30), 0);
    assert_int_equal(shmipc_channel_close(NULL), 0);
}

static void empty_full_sizes(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 1024, SHMIPC_CHANNEL_FULL_BLOCK);
    size_t max = shmipc_channel_max_msg(p.tx);
    assert_int_equal(max, 496);
    static unsigned char big[600], out[600];
    test_fill(big, sizeof big, 7);

    /* empty: -EAGAIN now, -ETIMEDOUT after a short timeout */
    assert_int_equal(shmipc_channel_recv(p.rx, out, sizeof out, 0), -EAGAIN);
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_channel_recv(p.rx, out, sizeof out, 30), -ETIMEDOUT);
    assert_true(test_now_ms() - t0 >= 29);

    /* zero-length messages */
    assert_int_equal(shmipc_channel_send(p.tx, NULL, 0, 0), 0);
    assert_int_equal(shmipc_channel_recv(p.rx, NULL, 0, 0), 0);

    /* maximum size, and one byte more */
    assert_int_equal(shmipc_channel_send(p.tx, big, max + 1, 0), -EMSGSIZE);
    void *w;
    assert_int_equal(shmipc_channel_reserve(p.tx, max + 1, &w, 0), -EMSGSIZE);
    assert_int_equal(shmipc_channel_send(p.tx, big, max, 0), 0);
    /* too small a buffer: -EMSGSIZE and the message stays */
    assert_int_equal(shmipc_channel_recv(p.rx, out, max - 1, 0), -EMSGSIZE);
    assert_int_equal(shmipc_channel_recv(p.rx, out, max, 0), (int)max);
    assert_memory_equal(out, big, max);

    /* full: 1024 bytes hold 8 records of 128 (112-byte messages) */
    int n = 0;
    while (shmipc_channel_send(p.tx, big, 112, 0) == 0)
        n++;
    assert_true(n >= 7 && n <= 8);
    assert_int_equal(shmipc_channel_send(p.tx, big, 112, 0), -EAGAIN);
    t0 = test_now_ms();
    assert_int_equal(shmipc_channel_send(p.tx, big, 112, 30), -ETIMEDOUT);
    assert_true(test_now_ms() - t0 >= 29);
    assert_int_equal(shmipc_channel_set_wait(p.tx, SHMIPC_WAIT_SPIN), 0);
    assert_int_equal(shmipc_channel_send(p.tx, big, 112, 20), -ETIMEDOUT);
    assert_int_equal(shmipc_channel_set_wait(p.tx, SHMIPC_WAIT_BLOCK), 0);
    assert_int_equal(shmipc_channel_send(p.tx, big, 112, 20), -ETIMEDOUT);
    for (int i = 0; i < n; i++)
        assert_int_equal(shmipc_channel_recv(p.rx, out, sizeof out, 0), 112);
    assert_int_equal(shmipc_channel_recv(p.rx, out, sizeof out, 0), -EAGAIN);
    pair_close(&p);
}

/* For every start offset of a 256-byte ring, fill and drain across the wrap with sizes that force
 * padding records, checking every byte. */
static void wrap_every_offset(void **state)
{
    (void)state;
    const size_t cap = 256;
    for (uint64_t start = 0; start < cap; start += CHAN_REC_ALIGN) {
        pair p;
        pair_open(&p, cap, SHMIPC_CHANNEL_FULL_BLOCK);
        size_t max = shmipc_channel_max_msg(p.tx);
        for (uint64_t k = 0; k < start / CHAN_REC_ALIGN; k++) { /* zero-length records are 16 bytes */
            assert_int_equal(shmipc_channel_send(p.tx, NULL, 0, 0), 0);
            assert_int_equal(shmipc_channel_recv(p.rx, NULL, 0, 0), 0);
        }
        assert_int_equal(hdr_of(&p)->prod.head, start);
        uint64_t sent = 0, recvd = 0;
        for (int round = 0; round < 40; round++) {
            /* fill until full */
            for (;;) {
                unsigned char buf[256];
                size_t len = msg_len(sent + start * 31, max);
                test_fill(buf, len, sent + start * 31);
                int r = shmipc_channel_send(p.tx, buf, len, 0);
                if (r == -EAGAIN)
                    break;
                assert_int_equal(r, 0);
                sent++;
            }
            /* drain half, or all on odd rounds */
            uint64_t target = round & 1 ? sent : recvd + (sent - recvd + 1) / 2;
            while (recvd < target) {
                get_msg(p.rx, recvd + start * 31, max);
                recvd++;
            }
        }
        while (recvd < sent) {
            get_msg(p.rx, recvd + start * 31, max);
            recvd++;
        }
        assert_int_equal(shmipc_channel_recv(p.rx, NULL, 0, 0), -EAGAIN);
        assert_true(sent > 60);
        pair_close(&p);
    }
}

static void zero_copy(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 512, SHMIPC_CHANNEL_FULL_BLOCK);
    void *w;
    const void *r;
    assert_int_equal(shmipc_channel_reserve(p.tx, 100, &w, 0), 0);
    assert_int_equal(shmipc_channel_reserve(p.tx, 10, &w, 0), -EINVAL); /* one at a time */
    assert_int_equal(shmipc_channel_send(p.tx, "x", 1, 0), -EINVAL);
    memcpy(w, "in place", 8);
    assert_int_equal(shmipc_channel_peek(p.rx, &r, 0), -EAGAIN); /* not committed yet */
    assert_int_equal(shmipc_channel_commit(p.tx, 101), -EINVAL);
    assert_int_equal(shmipc_channel_commit(p.tx, 8), 0);
    assert_int_equal(shmipc_channel_commit(p.tx, 8), -EINVAL);
    assert_int_equal(shmipc_channel_peek(p.rx, &r, 0), 8);
    assert_memory_equal(r, "in place", 8);
    const void *r2;
    assert_int_equal(shmipc_channel_peek(p.rx, &r2, 0), 8); /* same message again */
    assert_ptr_equal(r, r2);
    char buf[16];
    assert_int_equal(shmipc_channel_recv(p.rx, buf, sizeof buf, 0), -EINVAL);
    assert_int_equal(shmipc_channel_release(p.rx), 0);
    assert_int_equal(shmipc_channel_release(p.rx), -EINVAL);
    assert_int_equal(shmipc_channel_peek(p.rx, &r, 0), -EAGAIN);

    /* cancel leaves nothing behind */
    assert_int_equal(shmipc_channel_reserve(p.tx, 50, &w, 0), 0);
    assert_int_equal(shmipc_channel_cancel(p.tx), 0);
    assert_int_equal(shmipc_channel_peek(p.rx, &r, 0), -EAGAIN);

    /* reservations across the wrap, in place */
    for (uint64_t i = 0; i < 200; i++) {
        size_t len = msg_len(i, shmipc_channel_max_msg(p.tx));
        assert_int_equal(shmipc_channel_reserve(p.tx, len + 5 > 240 ? 240 : len + 5, &w, 0), 0);
        test_fill(w, len, i);
        assert_int_equal(shmipc_channel_commit(p.tx, len), 0);
        int n = shmipc_channel_peek(p.rx, &r, 0);
        assert_int_equal(n, (int)len);
        assert_int_equal(test_check(r, len, i), 0);
        assert_int_equal(shmipc_channel_release(p.rx), 0);
    }
    pair_close(&p);
}

static void batches(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 1024, SHMIPC_CHANNEL_FULL_BLOCK);
    unsigned char data[20][100];
    struct iovec v[20];
    for (int i = 0; i < 20; i++) {
        test_fill(data[i], (size_t)i * 5, (uint64_t)i);
        v[i].iov_base = data[i];
        v[i].iov_len = (size_t)i * 5;
    }
    /* 20 messages of up to 95 bytes do not all fit in 1024 bytes: a partial batch */
    int n = shmipc_channel_send_batch(p.tx, v, 20, 0);
    assert_true(n > 5 && n < 20);
    assert_int_equal(hdr_of(&p)->prod.msgs_sent, (uint64_t)n);
    unsigned char out[20][100];
    struct iovec in[20];
    for (int i = 0; i < 20; i++) {
        in[i].iov_base = out[i];
        in[i].iov_len = sizeof out[i];
    }
    in[3].iov_len = 2; /* too small for message 3: the batch stops before it */
    int m = shmipc_channel_recv_batch(p.rx, in, 20, 0);
    assert_int_equal(m, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(in[i].iov_len, (size_t)i * 5);
        assert_int_equal(test_check(out[i], in[i].iov_len, (uint64_t)i), 0);
    }
    assert_int_equal(shmipc_channel_recv_batch(p.rx, in + 3, 1, 0), -EMSGSIZE);
    in[3].iov_len = 100;
    m = shmipc_channel_recv_batch(p.rx, in + 3, 17, 0);
    assert_int_equal(m, n - 3);
    for (int i = 3; i < n; i++)
        assert_int_equal(test_check(out[i], in[i].iov_len, (uint64_t)i), 0);
    assert_int_equal(shmipc_channel_recv_batch(p.rx, in, 20, 0), -EAGAIN);
    pair_close(&p);
}

static void policy_fail(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 256, SHMIPC_CHANNEL_FULL_FAIL);
    unsigned char buf[112] = {0};
    while (shmipc_channel_send(p.tx, buf, 100, 0) == 0)
        ;
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_channel_send(p.tx, buf, 100, 5000), -EAGAIN); /* no waiting */
    assert_true(test_now_ms() - t0 < 2000);
    assert_int_equal(shmipc_channel_recv(p.rx, buf, sizeof buf, 0), 100);
    assert_int_equal(shmipc_channel_send(p.tx, buf, 100, 5000), 0);
    pair_close(&p);
}

static void policy_overwrite_single(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, 1024, SHMIPC_CHANNEL_FULL_OVERWRITE);
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t v[4] = {i, i, i, i};
        assert_int_equal(shmipc_channel_send(p.tx, v, 8 + (i % 4) * 8, 0), 0);
    }
    uint64_t v[4], last = 0, got = 0;
    int r;
    while ((r = shmipc_channel_recv(p.rx, v, sizeof v, 0)) >= 0) {
        assert_int_equal(r, 8 + (v[0] % 4) * 8);
        if (got)
            assert_true(v[0] > last);
        last = v[0];
        got++;
    }
    assert_int_equal(r, -EAGAIN);
    assert_int_equal(last, 99); /* the newest survived */
    assert_true(got < 100 && got > 10);
    assert_int_equal(shmipc_channel_dropped(p.rx), 100 - got);
    shmipc_channel_stats st;
    assert_int_equal(shmipc_channel_stats_get(p.rx, &st), 0);
    assert_int_equal(st.overwritten, 100 - got);
    assert_int_equal(st.dropped, 100 - got);

    /* peek copies in overwrite mode: the copy survives the producer reusing the ring */
    assert_int_equal(shmipc_channel_send(p.tx, "keep", 4, 0), 0);
    const void *q;
    assert_int_equal(shmipc_channel_peek(p.rx, &q, 0), 4);
    for (int i = 0; i < 50; i++)
        assert_int_equal(shmipc_channel_send(p.tx, v, 32, 0), 0);
    assert_memory_equal(q, "keep", 4);
    assert_int_equal(shmipc_channel_release(p.rx), 0);
    void *w;
    assert_int_equal(shmipc_channel_reserve(p.tx, 400, &w, 0), 0);
    memset(w, 0xab, 400);
    assert_int_equal(shmipc_channel_commit(p.tx, 400), 0);
    unsigned char big[496];
    assert_int_equal(shmipc_channel_recv(p.rx, big, sizeof big, 0), 32); /* an old one that survived */
    pair_close(&p);
}

/* ---- hostile peer ---- */

typedef void (*scribble_fn)(pair *p);

static void sc_head_far(pair *p) { atomic_store(&hdr_of(p)->prod.head, 1u << 20); }
static void sc_head_misaligned(pair *p) { atomic_store(&hdr_of(p)->prod.head, hdr_of(p)->prod.head + 8); }
/* The record the consumer reads next. */
static shmipc__chan_rec *next_rec(pair *p)
{
    return (shmipc__chan_rec *)(p->rx->ring + (hdr_of(p)->cons.tail & p->rx->mask));
}
static void sc_len_huge(pair *p) { next_rec(p)->len = 0x7fffffff; }
static void sc_len_past_head(pair *p) { next_rec(p)->len = 200; }
static void sc_flags(pair *p) { next_rec(p)->flags = 77; }
static void sc_pad_len(pair *p)
{
    next_rec(p)->flags = CHAN_REC_PAD;
    next_rec(p)->len = 16;
}

static void corrupt_consumer_side(void **state)
{
    (void)state;
    scribble_fn fns[] = {sc_head_far, sc_head_misaligned, sc_len_huge, sc_len_past_head, sc_flags, sc_pad_len};
    for (size_t k = 0; k < SHMIPC_ARRAY_LEN(fns); k++) {
        for (int policy = 0; policy <= 2; policy++) {
            pair p;
            pair_open(&p, 1024, (shmipc_channel_full_policy)policy);
            unsigned char buf[512];
            /* the consumer's cached head is used up, so the next call reads head again */
            assert_int_equal(shmipc_channel_send(p.tx, buf, 40, 0), 0);
            assert_int_equal(shmipc_channel_recv(p.rx, buf, sizeof buf, 0), 40);
            for (int i = 0; i < 2; i++)
                assert_int_equal(shmipc_channel_send(p.tx, buf, 40, 0), 0);
            fns[k](&p);
            const void *q;
            int r = k % 2 ? shmipc_channel_recv(p.rx, buf, sizeof buf, 0) : shmipc_channel_peek(p.rx, &q, 0);
            assert_int_equal(r, -EBADMSG);
            assert_int_equal(shmipc_channel_recv(p.rx, buf, sizeof buf, 0), -EBADMSG);
            shmipc_channel_stats st;
            assert_int_equal(shmipc_channel_stats_get(p.tx, &st), 0);
            assert_int_equal(st.broken, 1);
            /* a broken channel is refused at open, except to an observer */
            shmipc_channel *obs;
            shmipc_channel_close(p.rx);
            p.rx = NULL;
            assert_int_equal(shmipc_channel_open_in(p.seg, SHMIPC_CHANNEL_CONSUMER, NULL, &p.rx), -EBADMSG);
            assert_int_equal(shmipc_channel_open_in(p.seg, SHMIPC_CHANNEL_OBSERVER, NULL, &obs), 0);
            assert_int_equal(shmipc_channel_stats_get(obs, &st), 0);
            assert_int_equal(st.broken, 1);
            shmipc_channel_close(obs);
            pair_close(&p);
        }
    }
}

static void corrupt_producer_side(void **state)
{
    (void)state;
    for (int policy = 0; policy <= 2; policy++) {
        for (int k = 0; k < 3; k++) {
            pair p;
            pair_open(&p, 512, (shmipc_channel_full_policy)policy);
            unsigned char buf[200] = {0};
            int r = 0;
            if (k == 0) /* tail beyond head */
                atomic_store(&hdr_of(&p)->cons.tail, 4096);
            else if (k == 1) /* tail misaligned */
                atomic_store(&hdr_of(&p)->cons.tail, 8);
            for (int i = 0; i < 20 && r == 0; i++) {
                if (k == 2 && i == 2) /* our own old record scribbled: matters when overwriting it */
                    ((shmipc__chan_rec *)p.tx->ring)->len = 100000;
                r = shmipc_channel_send(p.tx, buf, 100, 0);
            }
            if (policy == SHMIPC_CHANNEL_FULL_OVERWRITE || k < 2)
                assert_int_equal(r, -EBADMSG);
            else
                assert_int_equal(r, -EAGAIN); /* the producer never reads records it will not overwrite */
            pair_close(&p);
        }
    }
}

static void corrupt_header_at_open(void **state)
{
    (void)state;
    for (int k = 0; k < 7; k++) {
        pair p;
        pair_open(&p, 1024, SHMIPC_CHANNEL_FULL_BLOCK);
        shmipc_channel_close(p.rx);
        p.rx = NULL;
        shmipc__chan_hdr *h = hdr_of(&p);
        switch (k) {
        case 0: h->magic ^= 1; break;
        case 1: h->version = 99; break;
        case 2: h->capacity = 1000; break;             /* not a power of two */
        case 3: h->capacity = 1u << 20; break;         /* larger than the segment */
        case 4: h->ring_offset = 64; break;
        case 5: h->max_msg = 1000; break;
        case 6: h->policy = 9; break;
        }
        shmipc_channel *c = NULL;
        assert_int_equal(shmipc_channel_open_in(p.seg, SHMIPC_CHANNEL_CONSUMER, NULL, &c), -EBADMSG);
        pair_close(&p);
    }
    /* indices inconsistent at takeover */
    pair p;
    pair_open(&p, 1024, SHMIPC_CHANNEL_FULL_BLOCK);
    shmipc_channel_close(p.rx);
    p.rx = NULL;
    atomic_store(&hdr_of(&p)->cons.tail, 1u << 30);
    assert_int_equal(shmipc_channel_open_in(p.seg, SHMIPC_CHANNEL_CONSUMER, NULL, &p.rx), -EBADMSG);
    pair_close(&p);
}

/* Random scribbles over the index lines and the ring, then every kind of call: each must return a
 * documented value and never touch memory outside the segment (ASan watches). */
static int allowed(int r)
{
    return r >= 0 || r == -EAGAIN || r == -EBADMSG || r == -EMSGSIZE || r == -EPIPE || r == -EINVAL;
}

static void random_scribbles(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 10000; iter++) {
        pair p;
        pair_open(&p, 256, (shmipc_channel_full_policy)(iter % 3));
        unsigned char buf[256];
        for (int i = 0; i < iter % 7; i++)
            shmipc_channel_send(p.tx, buf, (size_t)(i * 13) % 100, 0);
        uint8_t *base = (uint8_t *)hdr_of(&p);
        for (int k = 0; k < 1 + iter % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* producer/consumer lines (192..320) or the ring (512..768), 8-byte aligned words */
            size_t off = (x & 1) ? 192 + ((x >> 8) % 16) * 8 : 512 + ((x >> 8) % 32) * 8;
            uint64_t v = (x >> 16) % 4 == 0 ? x : (x >> 20) % 1024;
            memcpy(base + off, &v, sizeof v);
        }
        for (int i = 0; i < 8; i++) {
            const void *q;
            void *w;
            assert_true(allowed(shmipc_channel_recv(p.rx, buf, sizeof buf, 0)));
            int r = shmipc_channel_peek(p.rx, &q, 0);
            assert_true(allowed(r));
            if (r >= 0) {
                assert_true((size_t)r <= shmipc_channel_max_msg(p.rx));
                memcpy(buf, q, (size_t)r); /* in bounds, or ASan says so */
                shmipc_channel_release(p.rx);
            }
            assert_true(allowed(shmipc_channel_send(p.tx, buf, (size_t)i * 11, 0)));
            if (shmipc_channel_reserve(p.tx, 100, &w, 0) == 0) {
                memset(w, 1, 100);
                shmipc_channel_commit(p.tx, 50);
            }
        }
        pair_close(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(named_roles),
        cmocka_unit_test(bad_args),
        cmocka_unit_test(empty_full_sizes),
        cmocka_unit_test(wrap_every_offset),
        cmocka_unit_test(zero_copy),
        cmocka_unit_test(batches),
        cmocka_unit_test(policy_fail),
        cmocka_unit_test(policy_overwrite_single),
        cmocka_unit_test(corrupt_consumer_side),
        cmocka_unit_test(corrupt_producer_side),
        cmocka_unit_test(corrupt_header_at_open),
        cmocka_unit_test(random_scribbles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
