/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue_hostile.c - no word in a queue's shared memory can hold a call past its timeout. A
 * scribbler process writes live owner ids (its own and the caller's) into every participant ident, slot
 * words claimed (WRITING/READING) by small participant indices or garbage, positions, lengths, counters
 * and notify words of two queues (one empty, one full), and keeps clearing the broken flag so that the
 * calls keep going through their waits, while the caller's pushes, pops and zero-copy claims with
 * 100 ms timeouts run: each must return, with any error, within the timeout plus two wait slices. Then a
 * peer stopped (SIGSTOP) holding a zero-copy claim: the same bound, and the claim is repaired once the
 * peer is killed.
 */
#include "hostile.h"
#include "queue/queue_internal.h"

#include <shmipc/queue.h>

#define SLOTS 4
#define SLOT_SIZE 64
#define PARTS 4
#define ROUNDS 8

static shmipc_queue *make_queue(const char *name)
{
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = SLOTS;
    o.slot_size = SLOT_SIZE;
    o.max_participants = PARTS;
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    return q;
}

static void fill(shmipc_queue *q)
{
    char msg[SLOT_SIZE] = {0};
    while (shmipc_queue_push(q, msg, sizeof msg, 0) == 0) {
    }
}

static void calls(shmipc_queue *qe, shmipc_queue *qf)
{
    int last_result = 0;
    char buf[SLOT_SIZE];
    shmipc_queue_claim c;
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < ROUNDS; i++) {
        HOSTILE_CALL("pop on the empty queue", shmipc_queue_pop(qe, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("pop_claim on the empty queue", shmipc_queue_pop_claim(qe, &c, HOSTILE_TIMEOUT_MS));
        if (last_result >= 0)
            shmipc_queue_pop_release(qe, &c);
        HOSTILE_CALL("push on the full queue", shmipc_queue_push(qf, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("push_claim on the full queue", shmipc_queue_push_claim(qf, &c, HOSTILE_TIMEOUT_MS));
        if (last_result == 0)
            shmipc_queue_push_commit(qf, &c, 0);
    }
}

static void scribbled(bool everything)
{
    char n1[96], n2[96];
    test_name(n1, sizeof n1, "host-q-e");
    test_name(n2, sizeof n2, "host-q-f");
    shmipc_queue *qe = make_queue(n1), *qf = make_queue(n2);
    fill(qf);
    shmipc__queue_geom g;
    assert_int_equal(shmipc__queue_geom_compute(SLOTS, SLOT_SIZE, PARTS, &g), 0);
    const char *names[] = {n1, n2};
    hostile_word words[96];
    size_t nw = 0;
    for (unsigned s = 0; s < 2; s++) {
        for (unsigned i = 0; i < PARTS; i++)
            words[nw++] = (hostile_word){s, g.table_offset + i * sizeof(shmipc__participant), HW_LIVE, 0};
        for (unsigned i = 0; i < SLOTS; i++)
            /* Claims that look legitimate (the empty queue's consumers and the full queue's producers
             * wait behind them, for owners that look alive) unless everything is scribbled. */
            words[nw++] = (hostile_word){s, g.slots_offset + (size_t)i * g.slot_stride,
                                         everything ? HW_QSLOT : s == 0 ? HW_QWRITING : HW_QREADING, i};
        words[nw++] = (hostile_word){s, offsetof(shmipc__queue_hdr, broken), HW_CLEAR32, 0};
        if (everything) {
            words[nw++] = (hostile_word){s, offsetof(shmipc__queue_hdr, enqueue_pos), HW_INDEX, 0};
            words[nw++] = (hostile_word){s, offsetof(shmipc__queue_hdr, dequeue_pos), HW_INDEX, 0};
            words[nw++] = (hostile_word){s, offsetof(shmipc__queue_hdr, not_empty), HW_INDEX, 0};
            words[nw++] = (hostile_word){s, offsetof(shmipc__queue_hdr, not_full), HW_INDEX, 0};
            words[nw++] = (hostile_word){s, offsetof(shmipc__queue_hdr, lost), HW_INDEX, 0};
            for (unsigned i = 0; i < PARTS; i++) {
                size_t e = g.table_offset + i * sizeof(shmipc__participant);
                words[nw++] = (hostile_word){s, e + offsetof(shmipc__participant, reclaimer), HW_LIVE, 0};
                words[nw++] = (hostile_word){s, e + offsetof(shmipc__participant, count), HW_INDEX, 0};
            }
            for (unsigned i = 0; i < SLOTS; i++)
                words[nw++] = (hostile_word){s, g.slots_offset + (size_t)i * g.slot_stride + 8, HW_INDEX, 0};
        }
    }
    assert_true(nw <= sizeof words / sizeof *words);
    pid_t scrib = hostile_start(names, 2, words, nw);
    calls(qe, qf);
    hostile_stop(scrib);
    shmipc_queue_close(qe);
    shmipc_queue_close(qf);
    shmipc_queue_unlink(n1);
    shmipc_queue_unlink(n2);
}

static void scribbled_idents_and_slots(void **state)
{
    (void)state;
    scribbled(false);
}

static void scribbled_every_word(void **state)
{
    (void)state;
    scribbled(true);
}

/* ------------------------------------------------------------------------------- stopped peers ---- */

static int stop_holding_push_claim(void *arg)
{
    shmipc_queue *q;
    if (shmipc_queue_open(arg, NULL, &q))
        return 10;
    shmipc_queue_claim c;
    if (shmipc_queue_push_claim(q, &c, 0))
        return 11;
    hostile_freeze();
    shmipc_queue_push_commit(q, &c, 0);
    return 0;
}

static int stop_holding_pop_claim(void *arg)
{
    shmipc_queue *q;
    if (shmipc_queue_open(arg, NULL, &q))
        return 10;
    shmipc_queue_claim c;
    if (shmipc_queue_pop_claim(q, &c, 0) < 0)
        return 11;
    hostile_freeze();
    shmipc_queue_pop_release(q, &c);
    return 0;
}

static void stopped_producer(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "host-q-stp");
    shmipc_queue *q = make_queue(name);
    pid_t child = hostile_frozen_child(stop_holding_push_claim, name);
    int last_result = 0;
    char buf[SLOT_SIZE];
    shmipc_queue_claim c;
    for (int i = 0; i < 3; i++) {
        HOSTILE_CALL("pop behind a stopped producer's claim", shmipc_queue_pop(q, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
        HOSTILE_CALL("pop_claim behind a stopped producer's claim", shmipc_queue_pop_claim(q, &c, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
    }
    hostile_end_child(child);
    /* Dead now: the waiting pop repairs the hole, then finds the queue empty. */
    HOSTILE_CALL("pop after the producer was killed", shmipc_queue_pop(q, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
    assert_int_equal(last_result, -ETIMEDOUT);
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.lost, 1);
    assert_int_equal(shmipc_queue_push(q, buf, 8, 0), 0);
    assert_int_equal(shmipc_queue_pop(q, buf, sizeof buf, 0), 8);
    shmipc_queue_close(q);
    shmipc_queue_unlink(name);
}

static void stopped_consumer(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "host-q-stc");
    shmipc_queue *q = make_queue(name);
    fill(q);
    pid_t child = hostile_frozen_child(stop_holding_pop_claim, name);
    int last_result = 0;
    char buf[SLOT_SIZE] = {0};
    shmipc_queue_claim c;
    for (int i = 0; i < 3; i++) {
        HOSTILE_CALL("push in front of a stopped consumer's claim", shmipc_queue_push(q, buf, 8, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
        HOSTILE_CALL("push_claim in front of a stopped consumer's claim", shmipc_queue_push_claim(q, &c, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
    }
    hostile_end_child(child);
    HOSTILE_CALL("push after the consumer was killed", shmipc_queue_push(q, buf, 8, HOSTILE_TIMEOUT_MS));
    assert_int_equal(last_result, 0);
    shmipc_queue_close(q);
    shmipc_queue_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scribbled_idents_and_slots),
        cmocka_unit_test(scribbled_every_word),
        cmocka_unit_test(stopped_producer),
        cmocka_unit_test(stopped_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
