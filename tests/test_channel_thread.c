/* SPDX-License-Identifier: MIT */
/*
 * tests/test_channel_thread.c - producer and consumer as two threads over one mapping, so that
 * ThreadSanitizer sees every access of the data path (ring records, indices, notify words) and checks the
 * memory orders: copy, zero-copy and batch APIs, in each wait mode, with a ring small enough that both
 * sides wait for each other all the time.
 */
#include "helpers.h"

#include <shmipc/channel.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#ifdef SHMIPC_SANITIZER
#define THREAD_N 30000u
#else
#define THREAD_N 300000u
#endif

typedef struct run {
    shmipc_segment *seg;
    shmipc_wait_mode mode;
    uint64_t n;
    int result;
} run;

static size_t len_of(uint64_t i) { return (size_t)((i * 2654435761u) >> 5) % 120; }

static void *producer(void *arg)
{
    run *r = arg;
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.wait_mode = r->mode;
    shmipc_channel *tx;
    if (shmipc_channel_open_in(r->seg, SHMIPC_CHANNEL_PRODUCER, &o, &tx)) {
        r->result = 1;
        return NULL;
    }
    unsigned char bufs[4][128];
    uint64_t i = 0;
    while (i < r->n) {
        if (i % 3 == 0) {
            test_fill(bufs[0], len_of(i), i);
            if (shmipc_channel_send(tx, bufs[0], len_of(i), 20000)) {
                r->result = 2;
                break;
            }
            i++;
        } else if (i % 3 == 1) {
            void *w;
            if (shmipc_channel_reserve(tx, 120, &w, 20000)) {
                r->result = 3;
                break;
            }
            test_fill(w, len_of(i), i);
            shmipc_channel_commit(tx, len_of(i));
            i++;
        } else {
            struct iovec v[4];
            size_t k;
            for (k = 0; k < 4 && i + k < r->n; k++) {
                test_fill(bufs[k], len_of(i + k), i + k);
                v[k] = (struct iovec){bufs[k], len_of(i + k)};
            }
            int s = shmipc_channel_send_batch(tx, v, k, 20000);
            if (s <= 0) {
                r->result = 4;
                break;
            }
            i += (uint64_t)s;
        }
    }
    shmipc_channel_close(tx);
    return NULL;
}

static int consume(shmipc_channel *rx, uint64_t n)
{
    unsigned char bufs[4][128];
    uint64_t i = 0;
    while (i < n) {
        if (i % 3 == 0) {
            int s = shmipc_channel_recv(rx, bufs[0], sizeof bufs[0], 20000);
            if (s != (int)len_of(i) || test_check(bufs[0], (size_t)s, i))
                return 10;
            i++;
        } else if (i % 3 == 1) {
            const void *q;
            int s = shmipc_channel_peek(rx, &q, 20000);
            if (s != (int)len_of(i) || test_check(q, (size_t)s, i) || shmipc_channel_release(rx))
                return 11;
            i++;
        } else {
            struct iovec v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (struct iovec){bufs[k], sizeof bufs[k]};
            int s = shmipc_channel_recv_batch(rx, v, 4, 20000);
            if (s <= 0)
                return 12;
            for (int k = 0; k < s; k++)
                if (v[k].iov_len != len_of(i + (uint64_t)k) || test_check(bufs[k], v[k].iov_len, i + (uint64_t)k))
                    return 13;
            i += (uint64_t)s;
        }
    }
    char b[4];
    return shmipc_channel_recv(rx, b, sizeof b, 20000) == -EPIPE ? 0 : 14;
}

static void two_threads(void **state)
{
    (void)state;
    shmipc_wait_mode modes[] = {SHMIPC_WAIT_BLOCK, SHMIPC_WAIT_HYBRID, SHMIPC_WAIT_SPIN};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        run r = {.mode = modes[m], .n = THREAD_N / (m + 1)};
        assert_int_equal(shmipc_segment_memfd_create("threads", shmipc_channel_size(1024), NULL, &r.seg), 0);
        shmipc_channel_opts o;
        shmipc_channel_opts_init(&o);
        o.capacity = 1024;
        o.role = SHMIPC_CHANNEL_CONSUMER;
        o.wait_mode = modes[m];
        shmipc_channel *rx;
        assert_int_equal(shmipc_channel_create_in(r.seg, &o, &rx), 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, producer, &r), 0);
        int res = consume(rx, r.n);
        pthread_join(t, NULL);
        shmipc_channel_stats st;
        shmipc_channel_stats_get(rx, &st);
        shmipc_channel_close(rx);
        shmipc_segment_close(r.seg);
        assert_int_equal(r.result, 0);
        assert_int_equal(res, 0);
        assert_int_equal(st.msgs_recv, r.n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
