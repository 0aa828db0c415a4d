/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue_threads.c - many producer and consumer threads on one mapping (a memfd segment), so
 * that ThreadSanitizer sees every access of the queue protocol. Producers each attach their own handle;
 * two consumers share one handle (handles are thread-safe for push and pop), a third has its own. The
 * last producer and the third consumer use the zero-copy calls.
 */
#include "helpers.h"
#include "queue_test_msg.h"

#include <shmipc/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef SHMIPC_SANITIZER
#define TOTAL_MESSAGES 30000u
#else
#define TOTAL_MESSAGES 200000u
#endif
#define SLOT_SIZE 40u
#define PRODUCERS 3u

typedef struct worker {
    shmipc_segment *seg;
    shmipc_queue *q; /* shared handle, or NULL to attach one */
    qmsg_board *board;
    uint32_t id;
    shmipc_wait_mode mode;
    int result;
} worker;

static void *producer(void *p)
{
    worker *w = p;
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.wait_mode = w->mode;
    shmipc_queue *q;
    unsigned char buf[SLOT_SIZE];
    if ((w->result = shmipc_queue_open_in(w->seg, &o, &q)) != 0)
        return NULL;
    for (uint32_t s = 0; s < w->board->per_producer; s++) {
        if (w->id == PRODUCERS - 1) {
            /* The last producer writes in place. */
            shmipc_queue_claim c;
            if ((w->result = shmipc_queue_push_claim(q, &c, 30000)) != 0)
                break;
            size_t len = qmsg_make(c.data, c.len, w->id, s);
            if ((w->result = shmipc_queue_push_commit(q, &c, len)) != 0)
                break;
            continue;
        }
        size_t len = qmsg_make(buf, sizeof buf, w->id, s);
        if ((w->result = shmipc_queue_push(q, buf, len, 30000)) != 0)
            break;
    }
    shmipc_queue_close(q);
    return NULL;
}

static void *consumer(void *p)
{
    worker *w = p;
    shmipc_queue *q = w->q;
    if (!q) {
        shmipc_queue_opts o;
        shmipc_queue_opts_init(&o);
        o.wait_mode = w->mode;
        if ((w->result = shmipc_queue_open_in(w->seg, &o, &q)) != 0)
            return NULL;
    }
    w->result = qmsg_consume(q, w->board, 200, NULL, !w->q);
    if (!w->q)
        shmipc_queue_close(q);
    return NULL;
}

static void run_threads(shmipc_wait_mode mode)
{
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 32;
    o.slot_size = SLOT_SIZE;
    size_t size;
    assert_int_equal(shmipc_queue_memory_size(&o, &size), 0);
    shmipc_segment *seg;
    assert_int_equal(shmipc_segment_memfd_create("queue-threads", size, NULL, &seg), 0);
    assert_int_equal(shmipc_queue_create_in(seg, &o), 0);
    shmipc_queue *shared;
    o.wait_mode = mode;
    assert_int_equal(shmipc_queue_open_in(seg, &o, &shared), 0);
    uint32_t per = TOTAL_MESSAGES / PRODUCERS;
    qmsg_board *b = calloc(1, qmsg_board_size(PRODUCERS, per));
    assert_non_null(b);
    b->producers = PRODUCERS;
    b->per_producer = per;
    worker w[PRODUCERS + 3];
    pthread_t t[PRODUCERS + 3];
    uint64_t t0 = test_now_ms();
    for (uint32_t i = 0; i < PRODUCERS + 3; i++) {
        bool prod = i < PRODUCERS;
        w[i] = (worker){.seg = seg, .q = (!prod && i < PRODUCERS + 2) ? shared : NULL, .board = b,
                        .id = prod ? i : i - PRODUCERS, .mode = mode};
        assert_int_equal(pthread_create(&t[i], NULL, prod ? producer : consumer, &w[i]), 0);
    }
    for (uint32_t i = 0; i < PRODUCERS + 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].result, 0);
    }
    qmsg_board_expect_all(b);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(shared, &st), 0);
    assert_int_equal(st.pushes, (uint64_t)PRODUCERS * per);
    assert_int_equal(st.pops, (uint64_t)PRODUCERS * per);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.participants, 1);
    printf("  %u producers x 3 consumers (threads), %u messages, mode %d: %llu ms\n", PRODUCERS, PRODUCERS * per,
           mode, (unsigned long long)(test_now_ms() - t0));
    free(b);
    shmipc_queue_close(shared);
    shmipc_segment_close(seg);
}

static void threads_hybrid(void **state)
{
    (void)state;
    run_threads(SHMIPC_WAIT_HYBRID);
}

static void threads_block(void **state)
{
    (void)state;
    run_threads(SHMIPC_WAIT_BLOCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_hybrid),
        cmocka_unit_test(threads_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
