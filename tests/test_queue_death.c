/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue_death.c - processes SIGKILLed in the middle of a push or a pop (at exact points, via
 * the internal test hook) must not stall anybody: the slot they held is repaired by a waiter, counted as
 * lost, and every other message arrives in order. Also: the repair done when a new process reclaims the
 * dead one's participant entry, and a non-blocking poller that repairs.
 */
#include "helpers.h"
#include "queue_test_msg.h"

#include "queue/queue_internal.h"
#include <shmipc/queue.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int kill_point;
static int dying_fd = -1; /* if set: told (one byte) just before the SIGKILL, the claim already held */
static void kill_hook(int point)
{
    if (point == kill_point) {
        if (dying_fd >= 0)
            (void)test_signal(dying_fd);
        raise(SIGKILL);
    }
}

static shmipc_queue *make_queue(char *name, size_t cap, uint32_t parts)
{
    test_name(name, cap, "death");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 8;
    o.slot_size = 32;
    o.max_participants = parts;
    shmipc_queue *q = NULL;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    return q;
}

typedef struct child_arg {
    const char *name;
    int point;
    int before; /* messages to push or pop normally before dying */
} child_arg;

/* Pushes 0..before-1, then dies inside the push of message `before`. */
static int dying_producer(void *p)
{
    child_arg *a = p;
    shmipc_queue *q;
    if (shmipc_queue_open(a->name, NULL, &q))
        return 1;
    for (int i = 0; i < a->before; i++)
        if (shmipc_queue_push(q, &i, sizeof i, 5000))
            return 2;
    kill_point = a->point;
    shmipc__queue_test_hook = kill_hook;
    int v = a->before;
    shmipc_queue_push(q, &v, sizeof v, 5000);
    return 3; /* not reached */
}

/* Pops before messages, then dies inside the next pop. */
static int dying_consumer(void *p)
{
    child_arg *a = p;
    shmipc_queue *q;
    int v;
    if (shmipc_queue_open(a->name, NULL, &q))
        return 1;
    for (int i = 0; i < a->before; i++)
        if (shmipc_queue_pop(q, &v, sizeof v, 5000) != (int)sizeof v)
            return 2;
    kill_point = a->point;
    shmipc__queue_test_hook = kill_hook;
    shmipc_queue_pop(q, &v, sizeof v, 5000);
    return 3;
}

/* Pop the ints from..to-1 in order without waiting, then find the queue empty. */
static void pop_expect(shmipc_queue *q, int from, int to)
{
    for (int i = from; i < to; i++) {
        int v = -1;
        assert_int_equal(shmipc_queue_pop(q, &v, sizeof v, 0), (int)sizeof v);
        assert_int_equal(v, i);
    }
    assert_int_equal(shmipc_queue_pop(q, NULL, 0, 0), -EAGAIN);
}

static uint64_t lost_of(shmipc_queue *q)
{
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    return st.lost;
}

static void producer_killed_at(int point, shmipc_wait_mode mode, int poll)
{
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 0);
    assert_int_equal(shmipc_queue_set_wait(q, mode), 0);
    child_arg a = {.name = name, .point = point, .before = 5};
    pid_t pid = test_fork(dying_producer, &a);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    /* Two more messages after the hole, from this process. */
    for (int i = 6; i < 8; i++)
        assert_int_equal(shmipc_queue_push(q, &i, sizeof i, 2000), 0);
    uint64_t t0 = test_now_ms();
    for (int i = 0; i < 8; i++) {
        if (i == 5)
            continue; /* the dead producer's message */
        int v = -1, r;
        if (poll) {
            /* A consumer that never blocks must repair too. */
            while ((r = shmipc_queue_pop(q, &v, sizeof v, 0)) == -EAGAIN && test_now_ms() - t0 < 20000)
                nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* the poller under test: its pace */
        } else {
            r = shmipc_queue_pop(q, &v, sizeof v, 20000);
        }
        assert_int_equal(r, (int)sizeof v);
        assert_int_equal(v, i);
    }
    assert_true(test_now_ms() - t0 < 15000);
    assert_int_equal(lost_of(q), 1);
    /* Several laps more: the repaired slot and the positions are sound. */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(shmipc_queue_push(q, &i, sizeof i, 0), 0);
        pop_expect(q, i, i + 1);
    }
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

static void producer_killed(void **state)
{
    (void)state;
    producer_killed_at(SHMIPC__QUEUE_HOOK_PUSH_CLAIMED, SHMIPC_WAIT_HYBRID, 0);
    producer_killed_at(SHMIPC__QUEUE_HOOK_PUSH_WRITTEN, SHMIPC_WAIT_HYBRID, 0);
    producer_killed_at(SHMIPC__QUEUE_HOOK_PUSH_CLAIMED, SHMIPC_WAIT_BLOCK, 0);
    producer_killed_at(SHMIPC__QUEUE_HOOK_PUSH_WRITTEN, SHMIPC_WAIT_SPIN, 0);
    producer_killed_at(SHMIPC__QUEUE_HOOK_PUSH_WRITTEN, SHMIPC_WAIT_HYBRID, 1);
}

static void consumer_killed_at(int point, shmipc_wait_mode mode)
{
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 0);
    assert_int_equal(shmipc_queue_set_wait(q, mode), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(shmipc_queue_push(q, &i, sizeof i, 0), 0);
    child_arg a = {.name = name, .point = point, .before = 2};
    pid_t pid = test_fork(dying_consumer, &a);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    /* The dead consumer took 0 and 1 and died holding 2. */
    pop_expect(q, 3, 8);
    /* A full lap: the producer reaches the held slot and must not stall. */
    uint64_t t0 = test_now_ms();
    for (int i = 100; i < 108; i++)
        assert_int_equal(shmipc_queue_push(q, &i, sizeof i, 20000), 0);
    assert_true(test_now_ms() - t0 < 15000);
    assert_int_equal(lost_of(q), 1);
    pop_expect(q, 100, 108);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

static void consumer_killed(void **state)
{
    (void)state;
    consumer_killed_at(SHMIPC__QUEUE_HOOK_POP_CLAIMED, SHMIPC_WAIT_HYBRID);
    consumer_killed_at(SHMIPC__QUEUE_HOOK_POP_COPIED, SHMIPC_WAIT_HYBRID);
    consumer_killed_at(SHMIPC__QUEUE_HOOK_POP_CLAIMED, SHMIPC_WAIT_BLOCK);
    consumer_killed_at(SHMIPC__QUEUE_HOOK_POP_COPIED, SHMIPC_WAIT_SPIN);
}

/* A new process that reclaims the dead producer's participant entry repairs its slot at once. */
static void reclaim_repairs(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 2);
    child_arg a = {.name = name, .point = SHMIPC__QUEUE_HOOK_PUSH_WRITTEN, .before = 1};
    pid_t pid = test_fork(dying_producer, &a);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(lost_of(q), 0);
    shmipc_queue *q2;
    assert_int_equal(shmipc_queue_open(name, NULL, &q2), 0); /* table full: takes the dead entry */
    assert_int_equal(lost_of(q), 1);
    pop_expect(q2, 0, 1);
    shmipc_queue_close(q2);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

/* A consumer blocked without limit on an empty queue while a producer dies mid-push is not stranded. The
 * first child dies holding slot 0 once the parent is announced as a sleeper; the second pushes once the
 * first has its claim (told through a pipe from the kill hook), so its message lands behind the hole. */
static void sleeper_not_stranded(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 0);
    assert_int_equal(shmipc_queue_set_wait(q, SHMIPC_WAIT_BLOCK), 0);
    int dying[2];
    assert_int_equal(pipe(dying), 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_queue *c;
        if (shmipc_queue_open(name, NULL, &c))
            _exit(1);
        if (test_until_at_least(&c->hdr->not_empty.waiters, 1, 20000))
            _exit(4);
        dying_fd = dying[1];
        kill_point = SHMIPC__QUEUE_HOOK_PUSH_WRITTEN;
        shmipc__queue_test_hook = kill_hook;
        int v = 0;
        shmipc_queue_push(c, &v, sizeof v, 0); /* dies holding slot 0 */
        _exit(3);
    }
    pid_t pid2 = fork();
    if (pid2 == 0) {
        shmipc_queue *c;
        if (shmipc_queue_open(name, NULL, &c))
            _exit(1);
        if (test_await(dying[0], 20000))
            _exit(4);
        int v = 1;
        _exit(shmipc_queue_push(c, &v, sizeof v, 5000) ? 2 : 0);
    }
    int v = -1;
    assert_int_equal(shmipc_queue_pop(q, &v, sizeof v, SHMIPC_TIMEOUT_INFINITE), (int)sizeof v);
    assert_int_equal(v, 1);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(test_wait(pid2, 10000), 0);
    assert_int_equal(lost_of(q), 1);
    close(dying[0]);
    close(dying[1]);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

/* A process that exits while holding zero-copy claims (one push, one pop) is repaired like a killed one. */
static void claim_holder_exits(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 0);
    int v = 7;
    assert_int_equal(shmipc_queue_push(q, &v, sizeof v, 0), 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_queue *c;
        shmipc_queue_claim pc, rc;
        if (shmipc_queue_open(name, NULL, &c) || shmipc_queue_pop_claim(c, &rc, 0) != (int)sizeof v ||
            shmipc_queue_push_claim(c, &pc, 0))
            _exit(1);
        _exit(0); /* neither released nor committed */
    }
    assert_int_equal(test_wait(pid, 10000), 0);
    v = 8;
    assert_int_equal(shmipc_queue_push(q, &v, sizeof v, 0), 0);
    v = -1;
    assert_int_equal(shmipc_queue_pop(q, &v, sizeof v, 10000), (int)sizeof v); /* past the push hole */
    assert_int_equal(v, 8);
    /* Eight more fill the queue, the sixth reaching (a lap later) the slot the reader held. */
    for (int i = 0; i < 8; i++)
        assert_int_equal(shmipc_queue_push(q, &i, sizeof i, 10000), 0);
    pop_expect(q, 0, 8);
    assert_int_equal(lost_of(q), 2);
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

/* Three consumers blocked on the same hole: exactly one repairs it, and the rest of the stream arrives
 * once each. */
static int hole_consumer(void *p)
{
    void **args = p;
    shmipc_queue *q;
    if (shmipc_queue_open(args[0], NULL, &q))
        return 1;
    int e = qmsg_consume(q, args[1], 500, NULL, false);
    shmipc_queue_close(q);
    return e ? 2 : 0;
}

static void many_repairers(void **state)
{
    (void)state;
    char name[96];
    shmipc_queue *q = make_queue(name, sizeof name, 0);
    qmsg_board *b = mmap(NULL, qmsg_board_size(1, 200), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(b != MAP_FAILED);
    b->producers = 1;
    b->per_producer = 200;
    void *args[2] = {name, b};
    pid_t cons[3];
    for (int i = 0; i < 3; i++)
        cons[i] = test_fork(hole_consumer, args);
    /* All three blocked on slot 0 (announced sleepers, after their hybrid spin) before the producer dies. */
    assert_int_equal(test_until_at_least(&q->hdr->not_empty.waiters, 3, 20000), 0);
    child_arg a = {.name = name, .point = SHMIPC__QUEUE_HOOK_PUSH_WRITTEN, .before = 0};
    pid_t pid = test_fork(dying_producer, &a);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    unsigned char buf[32];
    for (uint32_t s = 0; s < 200; s++) {
        size_t len = qmsg_make(buf, sizeof buf, 0, s);
        assert_int_equal(shmipc_queue_push(q, buf, len, 20000), 0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(test_wait(cons[i], 30000), 0);
    qmsg_board_expect_all(b);
    assert_int_equal(lost_of(q), 1);
    munmap(b, qmsg_board_size(1, 200));
    shmipc_queue_close(q);
    assert_int_equal(shmipc_queue_unlink(name), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(producer_killed),
        cmocka_unit_test(consumer_killed),
        cmocka_unit_test(reclaim_repairs),
        cmocka_unit_test(sleeper_not_stranded),
        cmocka_unit_test(many_repairers),
        cmocka_unit_test(claim_holder_exits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
