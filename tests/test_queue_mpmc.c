/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue_mpmc.c - many producer and many consumer processes on one named queue: every message
 * arrives exactly once, intact, and in each producer's order as seen by each consumer; in each wait mode;
 * and with a producer SIGKILLed at a random moment mid-stream (nothing duplicated, at most one lost).
 * Consumer 1 reads in place (zero-copy claims).
 */
#include "helpers.h"
#include "queue_test_msg.h"

#include <shmipc/queue.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef SHMIPC_SANITIZER
#define TOTAL_MESSAGES 30000u
#else
#define TOTAL_MESSAGES 200000u
#endif
#define SLOT_SIZE 48u

typedef struct role {
    const char *name;
    qmsg_board *board;
    uint32_t id;
    uint32_t count;          /* producer: messages to push (UINT32_MAX: until killed) */
    shmipc_wait_mode mode;
    _Atomic int *stop;       /* consumers: drain and leave once set */
} role;

static int producer(void *p)
{
    role *r = p;
    shmipc_queue *q;
    unsigned char buf[SLOT_SIZE];
    if (shmipc_queue_open(r->name, NULL, &q))
        return 1;
    shmipc_queue_set_wait(q, r->mode);
    for (uint32_t s = 0; s < r->count && s < r->board->per_producer; s++) {
        size_t len = qmsg_make(buf, sizeof buf, r->id, s);
        int e = shmipc_queue_push(q, buf, len, 30000);
        if (e) {
            fprintf(stderr, "producer %u: push %u: %s\n", r->id, s, shmipc_strerror(e));
            return 2;
        }
    }
    shmipc_queue_close(q);
    return 0;
}

static int consumer(void *p)
{
    role *r = p;
    shmipc_queue *q;
    if (shmipc_queue_open(r->name, NULL, &q))
        return 1;
    shmipc_queue_set_wait(q, r->mode);
    int e = qmsg_consume(q, r->board, 300, r->stop, r->id == 1);
    if (e)
        fprintf(stderr, "consumer %u: pop: %s\n", r->id, shmipc_strerror(e));
    shmipc_queue_close(q);
    return e ? 2 : 0;
}

static qmsg_board *board_new(uint32_t producers, uint32_t per)
{
    qmsg_board *b = mmap(NULL, qmsg_board_size(producers, per), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                         -1, 0);
    assert_true(b != MAP_FAILED);
    b->producers = producers;
    b->per_producer = per;
    return b;
}

static void run_mpmc(uint32_t np, uint32_t nc, uint32_t total, uint32_t slots, shmipc_wait_mode pmode,
                     shmipc_wait_mode cmode)
{
    char name[96];
    test_name(name, sizeof name, "mpmc");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = slots;
    o.slot_size = SLOT_SIZE;
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    uint32_t per = total / np;
    qmsg_board *b = board_new(np, per);
    role roles[16];
    pid_t pids[16];
    uint64_t t0 = test_now_ms();
    for (uint32_t i = 0; i < nc; i++) {
        roles[i] = (role){.name = name, .board = b, .id = i, .mode = cmode};
        pids[i] = test_fork(consumer, &roles[i]);
    }
    for (uint32_t i = 0; i < np; i++) {
        roles[nc + i] = (role){.name = name, .board = b, .id = i, .count = per, .mode = pmode};
        pids[nc + i] = test_fork(producer, &roles[nc + i]);
    }
    for (uint32_t i = 0; i < np + nc; i++)
        assert_int_equal(test_wait(pids[i], 120000), 0);
    uint64_t ms = test_now_ms() - t0;
    qmsg_board_expect_all(b);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.pushes, (uint64_t)np * per);
    assert_int_equal(st.pops, (uint64_t)np * per);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.depth, 0);
    printf("  %ux%u, %u messages, %u slots, modes %d/%d: %llu ms\n", np, nc, np * per, slots, pmode, cmode,
           (unsigned long long)ms);
    munmap(b, qmsg_board_size(np, per));
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

static void mpmc_3x3_hybrid(void **state)
{
    (void)state;
    run_mpmc(3, 3, TOTAL_MESSAGES, 64, SHMIPC_WAIT_HYBRID, SHMIPC_WAIT_HYBRID);
}

static void mpmc_block(void **state)
{
    (void)state;
    run_mpmc(3, 3, TOTAL_MESSAGES / 4, 16, SHMIPC_WAIT_BLOCK, SHMIPC_WAIT_BLOCK);
}

static void mpmc_spin(void **state)
{
    (void)state;
    /* Spinning processes outnumber the cores: keep it short. */
    run_mpmc(2, 2, TOTAL_MESSAGES / 10, 16, SHMIPC_WAIT_SPIN, SHMIPC_WAIT_SPIN);
}

typedef struct received_at_least {
    qmsg_board *b;
    uint64_t n;
} received_at_least;

static int has_received(void *p)
{
    const received_at_least *c = p;
    return atomic_load(&c->b->received) >= c->n;
}

/* Producer 1 is SIGKILLed at a random moment (after a random number of messages went through, so that it
 * is mid-stream); producer 0 completes. */
static void mpmc_producer_sigkill(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "kill");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 16;
    o.slot_size = SLOT_SIZE;
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    uint32_t per = TOTAL_MESSAGES / 2;
    qmsg_board *b = board_new(2, per);
    _Atomic int *stop = mmap(NULL, sizeof *stop, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(stop != MAP_FAILED);
    atomic_store(stop, 0);
    role cons[2], prod[2];
    pid_t cp[2], pp[2];
    for (uint32_t i = 0; i < 2; i++) {
        cons[i] = (role){.name = name, .board = b, .id = i, .mode = SHMIPC_WAIT_HYBRID, .stop = stop};
        cp[i] = test_fork(consumer, &cons[i]);
        prod[i] = (role){.name = name, .board = b, .id = i, .count = i ? UINT32_MAX : per, .mode = SHMIPC_WAIT_HYBRID};
        pp[i] = test_fork(producer, &prod[i]);
    }
    srand((unsigned)getpid());
    received_at_least when = {b, 1 + (uint64_t)rand() % (per / 2)};
    assert_int_equal(test_until(has_received, &when, 60000), 0);
    kill(pp[1], SIGKILL);
    int st1 = test_wait(pp[1], 10000);
    assert_true(st1 == 128 + SIGKILL || st1 == 0);
    assert_int_equal(test_wait(pp[0], 60000), 0);
    atomic_store(stop, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(test_wait(cp[i], 60000), 0);
    assert_int_equal(atomic_load(&b->bad), 0);
    for (uint32_t s = 0; s < per; s++)
        assert_int_equal(atomic_load(&b->seen[s]), 1);
    /* The killed producer's messages: a prefix, each once. */
    uint32_t got = 0;
    while (got < per && atomic_load(&b->seen[per + got]) == 1)
        got++;
    for (uint32_t s = got; s < per; s++)
        assert_int_equal(atomic_load(&b->seen[per + s]), 0);
    shmipc_queue_stats qs;
    assert_int_equal(shmipc_queue_stats_get(q, &qs), 0);
    assert_true(qs.lost <= 1);
    assert_int_equal(qs.depth, 0);
    printf("  killed producer delivered %u messages, lost %llu\n", got, (unsigned long long)qs.lost);
    munmap(stop, sizeof *stop);
    munmap(b, qmsg_board_size(2, per));
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mpmc_3x3_hybrid),
        cmocka_unit_test(mpmc_block),
        cmocka_unit_test(mpmc_spin),
        cmocka_unit_test(mpmc_producer_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
