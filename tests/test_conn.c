/* SPDX-License-Identifier: MIT */
/*
 * tests/test_conn.c - the connection ring under every pattern: order and capacity, drop-oldest by the
 * producer (the dropped entry handed back, the consumer never using an entry it lost), impossible indices
 * refused on both sides, no system call while nobody sleeps, and producer and consumer as two threads
 * over one mapping (so ThreadSanitizer checks the memory orders), blocking on each other through the
 * wait primitive.
 */
#include "helpers.h"

#include "conn/conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SHMIPC_SANITIZER
#define THREAD_N 20000u
#else
#define THREAD_N 400000u
#endif

static shmipc__conn *conn_new(uint32_t cap)
{
    shmipc__conn *c = aligned_alloc(64, shmipc__conn_size(cap));
    assert_non_null(c);
    memset(c, 0xa5, shmipc__conn_size(cap)); /* garbage in the entries must not matter */
    shmipc__conn_init(c, cap);
    return c;
}

/* Push one entry (a = b = v) and publish it. */
static void put(shmipc__conn_tx *tx, uint64_t v)
{
    assert_int_equal(shmipc__conn_push(tx, v, v, NULL, NULL), 0);
    shmipc__conn_publish(tx);
}

/* Take the next entry, which must be v. */
static void take(shmipc__conn_rx *rx, uint64_t v)
{
    uint64_t a, b;
    assert_int_equal(shmipc__conn_peek(rx, &a, &b), 0);
    assert_int_equal(a, v);
    assert_int_equal(b, v);
    assert_int_equal(shmipc__conn_pop(rx), 0);
}

static void fifo_and_capacity(void **state)
{
    (void)state;
    shmipc__conn *c = conn_new(8);
    shmipc__conn_tx tx;
    shmipc__conn_rx rx;
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 8, 0), 0);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 8, 0), 0);
    uint64_t a, b;
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), -EAGAIN);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(shmipc__conn_push(&tx, i, i * 10, NULL, NULL), 0);
    assert_int_equal(shmipc__conn_push(&tx, 99, 99, NULL, NULL), -EAGAIN);
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), -EAGAIN); /* nothing published yet */
    assert_int_equal(shmipc__conn_publish(&tx), 0);             /* nobody sleeps: no system call */
    assert_int_equal(shmipc__conn_avail(&rx), 8);
    assert_int_equal(shmipc__conn_depth(c, 8), 8);
    for (uint64_t i = 0; i < 8; i++) {
        assert_int_equal(shmipc__conn_peek(&rx, &a, &b), 0);
        assert_int_equal(a, i);
        assert_int_equal(b, i * 10);
        assert_int_equal(shmipc__conn_pop(&rx), 0);
    }
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), -EAGAIN);
    assert_int_equal(shmipc__conn_space(&tx), 8);
    /* A successor attaches where its predecessor stopped. */
    assert_int_equal(shmipc__conn_push(&tx, 100, 0, NULL, NULL), 0);
    shmipc__conn_publish(&tx);
    shmipc__conn_rx rx2;
    assert_int_equal(shmipc__conn_rx_attach(&rx2, c, 8, 0), 0);
    assert_int_equal(shmipc__conn_peek(&rx2, &a, &b), 0);
    assert_int_equal(a, 100);
    free(c);
}

static void overwrite_drops_oldest(void **state)
{
    (void)state;
    shmipc__conn *c = conn_new(4);
    shmipc__conn_tx tx;
    shmipc__conn_rx rx;
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 4, SHMIPC__CONN_OVERWRITE), 0);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 4, SHMIPC__CONN_OVERWRITE), 0);
    shmipc__conn_entry dropped[8];
    uint32_t nd = 0;
    for (uint64_t i = 0; i < 6; i++) {
        assert_int_equal(shmipc__conn_push(&tx, i, ~i, dropped, &nd), 0);
        shmipc__conn_publish(&tx);
    }
    assert_int_equal(nd, 2);
    assert_int_equal(atomic_load(&dropped[0].a), 0);
    assert_int_equal(atomic_load(&dropped[1].a), 1);
    assert_int_equal(atomic_load(&c->dropped), 2);
    uint64_t a, b;
    /* A consumer that peeked entry 2, then lost it to the producer, must not use it. */
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), 0);
    assert_int_equal(a, 2);
    assert_int_equal(shmipc__conn_push(&tx, 6, ~UINT64_C(6), dropped, &nd), 0);
    shmipc__conn_publish(&tx);
    assert_int_equal(shmipc__conn_pop(&rx), -EAGAIN);
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), 0);
    assert_int_equal(a, 3);
    assert_int_equal(shmipc__conn_pop(&rx), 0);
    /* Whole batch unpublished and the ring full: the producer publishes before it drops. */
    for (uint64_t i = 7; i < 12; i++)
        assert_int_equal(shmipc__conn_push(&tx, i, ~i, dropped, &nd), 0);
    shmipc__conn_publish(&tx);
    for (uint64_t want = 8; want < 12; want++) {
        assert_int_equal(shmipc__conn_peek(&rx, &a, &b), 0);
        assert_int_equal(a, want);
        assert_int_equal(b, ~want);
        assert_int_equal(shmipc__conn_pop(&rx), 0);
    }
    free(c);
}

static void impossible_indices_refused(void **state)
{
    (void)state;
    shmipc__conn *c = conn_new(8);
    shmipc__conn_tx tx;
    shmipc__conn_rx rx;
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 8, 0), 0);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 8, 0), 0);
    uint64_t a, b;
    atomic_store(&c->head, 1000); /* a hostile producer claims 1000 entries in a ring of 8 */
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), -EAGAIN); /* entries' stamps are read, not head */
    assert_false(shmipc__conn_rx_ready(&rx));
    assert_int_equal(shmipc__conn_avail(&rx), 0);
    assert_int_equal(shmipc__conn_skip_to(&rx, 5), -EBADMSG);
    shmipc__conn_tx tx2;
    assert_int_equal(shmipc__conn_tx_attach(&tx2, c, 8, 0), -EBADMSG);
    atomic_store(&c->head, 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(shmipc__conn_push(&tx, 1, 1, NULL, NULL), 0);
    atomic_store(&c->tail, 77); /* a hostile consumer claims to have read past the head */
    assert_int_equal(shmipc__conn_push(&tx, 1, 1, NULL, NULL), -EBADMSG);
    atomic_store(&c->tail, UINT64_MAX);
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 8, 0), -EBADMSG);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 8, 0), -EBADMSG);
    /* Overwrite mode: a tail moved backwards is corruption too. */
    shmipc__conn_init(c, 8);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 8, SHMIPC__CONN_OVERWRITE), 0);
    rx.tail = 5;
    rx.head_cache = 5;
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), -EBADMSG);
    free(c);
}

/* A producer that dies after stamping its entries and before storing head: the consumer takes them
 * (its tail passes the stored head), and a successor goes on after them, as do the scan and skip_to. */
static void producer_dead_before_head_store(void **state)
{
    (void)state;
    shmipc__conn *c = conn_new(8);
    shmipc__conn_tx tx;
    shmipc__conn_rx rx;
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 8, 0), 0);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 8, 0), 0);
    for (uint64_t i = 0; i < 11; i++) { /* 11: the stamps of the second lap are the ones that count */
        put(&tx, i);
        if (i < 8)
            take(&rx, i);
    }
    atomic_store(&c->head, 8); /* as if the last three head stores never happened */
    assert_int_equal(shmipc__conn_head_scan(c, 8, 8, 8), 11);
    take(&rx, 8); /* tail 9, stored head 8 */
    shmipc__conn_rx rx2; /* a consumer attaching now (tail past the stored head) is not refused */
    assert_int_equal(shmipc__conn_rx_attach(&rx2, c, 8, 0), 0);
    assert_int_equal(rx2.tail, 9);
    shmipc__conn_tx succ;
    assert_int_equal(shmipc__conn_tx_attach(&succ, c, 8, 0), 0);
    assert_int_equal(succ.head, 11);
    put(&succ, 11);
    assert_int_equal(atomic_load(&c->head), 12);
    assert_int_equal(shmipc__conn_skip_to(&rx, 11), 2); /* 9 and 10 dropped */
    take(&rx, 11);
    free(c);
}

/* A consumer takes entries as soon as their stamps say published, before the producer stores head; a
 * successor that read that old head, while the producer went on a lap, still attaches where the
 * consumer stopped (the slots below tail hold newer entries by then) and counts what is queued. */
static void consumer_ahead_of_stored_head(void **state)
{
    (void)state;
    shmipc__conn *c = conn_new(4);
    shmipc__conn_tx tx;
    shmipc__conn_rx rx;
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 4, 0), 0);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 4, 0), 0);
    for (uint64_t i = 0; i < 4; i++) {
        put(&tx, i);
        take(&rx, i);
    }
    for (uint64_t i = 4; i < 7; i++) /* positions 4..6 reuse slots 0..2 */
        put(&tx, i);
    /* what a successor that loaded head before the producer's stores sees: head 2, tail 4 */
    assert_int_equal(shmipc__conn_head_scan(c, 4, 4, 2), 7);
    atomic_store(&c->head, 2);
    shmipc__conn_rx succ;
    assert_int_equal(shmipc__conn_rx_attach(&succ, c, 4, 0), 0);
    assert_int_equal(succ.tail, 4);
    assert_int_equal(shmipc__conn_avail(&succ), 3);
    assert_int_equal(shmipc__conn_skip_to(&succ, 6), 2);
    take(&succ, 6);
    atomic_store(&c->head, 7);
    free(c);
}

/* Batched pops: tail reaches the producer once a batch, at settle, and as soon as the ring is empty. */
static void batched_pops_store_tail_per_batch(void **state)
{
    (void)state;
    shmipc__conn *c = conn_new(16);
    shmipc__conn_tx tx;
    shmipc__conn_rx rx;
    const uint32_t f = SHMIPC__CONN_PRODUCER_SLEEPS | SHMIPC__CONN_BATCH_WAKE;
    assert_int_equal(shmipc__conn_tx_attach(&tx, c, 16, 0), 0);
    assert_int_equal(shmipc__conn_rx_attach(&rx, c, 16, f), 0);
    rx.batch = 4;
    uint64_t a, b;
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(shmipc__conn_push(&tx, i, i, NULL, NULL), 0);
    shmipc__conn_publish(&tx);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(shmipc__conn_peek(&rx, &a, &b), 0);
        assert_int_equal(shmipc__conn_pop(&rx), 0);
    }
    assert_int_equal(atomic_load(&c->tail), 0); /* within a batch */
    assert_int_equal(shmipc__conn_pop(&rx), 0);
    assert_int_equal(atomic_load(&c->tail), 4); /* a batch */
    assert_int_equal(shmipc__conn_pop(&rx), 0);
    shmipc__conn_rx_settle(&rx);
    assert_int_equal(atomic_load(&c->tail), 5); /* settle */
    for (int i = 0; i < 4; i++)
        assert_int_equal(shmipc__conn_pop(&rx), 0);
    assert_int_equal(atomic_load(&c->tail), 9);
    assert_int_equal(shmipc__conn_pop(&rx), 0);
    assert_int_equal(atomic_load(&c->tail), 10); /* the ring is empty */
    assert_int_equal(shmipc__conn_peek(&rx, &a, &b), -EAGAIN);
    free(c);
}

static void no_syscall_while_nobody_sleeps(void **state)
{
    (void)state;
#ifdef SHMIPC_SANITIZER
    skip(); /* sanitizer runtimes make system calls of their own inside instrumented code */
#endif
    /* The filter stays for the rest of the process: run in a child that reports through shared memory. */
    _Atomic int *out = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(out != MAP_FAILED);
    atomic_store(&out[0], -1);
    shmipc__conn *c = conn_new(64);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc__conn_tx tx;
        shmipc__conn_rx rx;
        if (shmipc__conn_tx_attach(&tx, c, 64, SHMIPC__CONN_PRODUCER_SLEEPS) ||
            shmipc__conn_rx_attach(&rx, c, 64, SHMIPC__CONN_PRODUCER_SLEEPS))
            test_exit_group(3);
        if (test_trap_syscalls() != 0)
            test_exit_group(2);
        uint64_t a, b, sum = 0;
        for (uint64_t i = 0; i < 100000; i++) {
            shmipc__conn_push(&tx, i, 0, NULL, NULL);
            shmipc__conn_publish(&tx);
            shmipc__conn_peek(&rx, &a, &b);
            shmipc__conn_pop(&rx);
            sum += a;
        }
        atomic_store(&out[1], sum == UINT64_C(100000) * 99999 / 2);
        atomic_store(&out[0], test_trapped_syscalls());
        test_exit_group(0);
    }
    int st = test_wait(pid, 20000);
    if (st == 2) {
        print_message("seccomp filters unavailable here: skipped\n");
        skip();
    }
    assert_int_equal(st, 0);
    assert_int_equal(atomic_load(&out[0]), 0); /* system calls trapped */
    assert_int_equal(atomic_load(&out[1]), 1);
    free(c);
    munmap(out, 4096);
}

/* ---- two threads over one mapping ---- */

typedef struct pair {
    shmipc__conn *c;
    uint32_t cap, flags;
    shmipc_wait_mode mode;
    uint64_t n;
    int result;
    uint64_t received, gaps;
} pair;

static int tx_room_cond(void *arg, bool slow)
{
    (void)slow;
    return shmipc__conn_tx_room(arg) ? 1 : 0;
}

static int rx_ready_cond(void *arg, bool slow)
{
    (void)slow;
    return shmipc__conn_rx_ready(arg) ? 1 : 0;
}

static void *producer(void *arg)
{
    pair *p = arg;
    shmipc__conn_tx tx;
    if (shmipc__conn_tx_attach(&tx, p->c, p->cap, p->flags)) {
        p->result = 1;
        return NULL;
    }
    shmipc__wait_adapt adapt = {0};
    for (uint64_t i = 1; i <= p->n;) {
        int r = shmipc__conn_push(&tx, i, ~i, NULL, NULL);
        if (r == 0) {
            /* Publish in small batches so the consumer sees both single entries and runs of them. */
            if (i % 3 == 0 || i == p->n)
                shmipc__conn_publish(&tx);
            i++;
            continue;
        }
        if (r != -EAGAIN) {
            p->result = 2;
            return NULL;
        }
        shmipc__conn_publish(&tx);
        shmipc__wait_spec w = {.notify = &p->c->space, .mode = p->mode, .deadline_ns = shmipc__deadline(20000),
                               .adapt = &adapt, .retry_eintr = true};
        if (shmipc__wait(&w, tx_room_cond, &tx)) {
            p->result = 3;
            return NULL;
        }
    }
    /* Under overwrite the consumer may miss the last entries' wake-up order: the end marker is n itself. */
    return NULL;
}

static void *consumer(void *arg)
{
    pair *p = arg;
    shmipc__conn_rx rx;
    if (shmipc__conn_rx_attach(&rx, p->c, p->cap, p->flags)) {
        p->result = 11;
        return NULL;
    }
    shmipc__wait_adapt adapt = {0};
    uint64_t last = 0;
    while (last < p->n) {
        uint64_t a, b;
        int r = shmipc__conn_peek(&rx, &a, &b);
        if (r == -EAGAIN) {
            shmipc__wait_spec w = {.notify = &p->c->data, .mode = p->mode,
                                   .deadline_ns = shmipc__deadline(20000), .adapt = &adapt, .retry_eintr = true};
            if (shmipc__wait(&w, rx_ready_cond, &rx)) {
                p->result = 12;
                return NULL;
            }
            continue;
        }
        if (r) {
            p->result = 13;
            return NULL;
        }
        if (shmipc__conn_pop(&rx) != 0)
            continue; /* overwrite: lost to the producer while we read it; the values are not used */
        if (b != ~a || a <= last || (!(p->flags & SHMIPC__CONN_OVERWRITE) && a != last + 1)) {
            p->result = 14; /* torn, reordered or (without overwrite) lost */
            return NULL;
        }
        p->gaps += a - last - 1;
        last = a;
        p->received++;
    }
    return NULL;
}

static void run_pair(uint32_t cap, uint32_t flags, shmipc_wait_mode mode)
{
    pair p = {.c = conn_new(cap), .cap = cap, .flags = flags, .mode = mode, .n = THREAD_N};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t2, NULL, consumer, &p), 0);
    assert_int_equal(pthread_create(&t1, NULL, producer, &p), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(p.result, 0);
    if (flags & SHMIPC__CONN_OVERWRITE) {
        assert_int_equal(p.received + p.gaps, p.n);
        assert_int_equal(p.gaps, atomic_load(&p.c->dropped));
    } else {
        assert_int_equal(p.received, p.n);
    }
    free(p.c);
}

static void threads_block_on_each_other(void **state)
{
    (void)state;
    run_pair(8, SHMIPC__CONN_PRODUCER_SLEEPS, SHMIPC_WAIT_BLOCK);
    run_pair(8, SHMIPC__CONN_PRODUCER_SLEEPS, SHMIPC_WAIT_HYBRID);
    run_pair(256, SHMIPC__CONN_PRODUCER_SLEEPS, SHMIPC_WAIT_SPIN);
}

static void threads_overwrite_never_torn(void **state)
{
    (void)state;
    run_pair(4, SHMIPC__CONN_OVERWRITE, SHMIPC_WAIT_HYBRID);
    run_pair(64, SHMIPC__CONN_OVERWRITE, SHMIPC_WAIT_SPIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifo_and_capacity),
        cmocka_unit_test(overwrite_drops_oldest),
        cmocka_unit_test(impossible_indices_refused),
        cmocka_unit_test(producer_dead_before_head_store),
        cmocka_unit_test(consumer_ahead_of_stored_head),
        cmocka_unit_test(batched_pops_store_tail_per_batch),
        cmocka_unit_test(no_syscall_while_nobody_sleeps),
        cmocka_unit_test(threads_block_on_each_other),
        cmocka_unit_test(threads_overwrite_never_torn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
