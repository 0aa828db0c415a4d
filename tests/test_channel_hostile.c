/* SPDX-License-Identifier: MIT */
/*
 * tests/test_channel_hostile.c - no word in a channel's shared memory can hold a call past its timeout.
 * A scribbler process writes live owner ids (its own and the caller's), CLOSED/vacant markers, garbage
 * indices and counters into the endpoint owner words, the indices, the counters and the notify words of
 * two channels (one empty, one full) while the caller's sends, receives, peeks and reservations with
 * 100 ms timeouts run: each must return, with any error, within the timeout plus two wait slices. Then a
 * peer stopped (SIGSTOP) in the middle of an operation, holding a reservation or a peek: the same bound.
 */
#include "hostile.h"
#include "channel/channel_internal.h"

#include <shmipc/channel.h>

#define CAP 1024
#define ROUNDS 8

static void make_pair(const char *name, shmipc_channel **prod, shmipc_channel **cons)
{
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = CAP;
    assert_int_equal(shmipc_channel_create(name, &o, prod), 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, cons), 0);
}

static void fill(shmipc_channel *p)
{
    char msg[64] = {0};
    while (shmipc_channel_send(p, msg, sizeof msg, 0) == 0) {
    }
}

static void calls(shmipc_channel *ep, shmipc_channel *ec, shmipc_channel *fp, shmipc_channel *fc)
{
    (void)ep;
    int last_result = 0;
    char buf[CAP];
    const void *pk;
    void *res;
    (void)fc;
    for (int i = 0; i < ROUNDS; i++) {
        HOSTILE_CALL("recv on the empty channel", shmipc_channel_recv(ec, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("peek on the empty channel", shmipc_channel_peek(ec, &pk, HOSTILE_TIMEOUT_MS));
        if (last_result >= 0)
            shmipc_channel_release(ec);
        HOSTILE_CALL("send on the full channel", shmipc_channel_send(fp, buf, 64, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("reserve on the full channel", shmipc_channel_reserve(fp, 64, &res, HOSTILE_TIMEOUT_MS));
        if (last_result == 0)
            shmipc_channel_cancel(fp);
    }
}

static void scribbled(bool indices)
{
    char n1[96], n2[96];
    test_name(n1, sizeof n1, "host-ch-e");
    test_name(n2, sizeof n2, "host-ch-f");
    shmipc_channel *ep, *ec, *fp, *fc;
    make_pair(n1, &ep, &ec);
    make_pair(n2, &fp, &fc);
    fill(fp);
    const char *names[] = {n1, n2};
    hostile_word words[32];
    size_t nw = 0;
    for (unsigned s = 0; s < 2; s++) {
        /* Live ids only while the indices are left alone (the calls then wait for a peer that seems to
         * live: the deadline is what ends them); any owner value when everything is scribbled. */
        int owner = indices ? HW_OWNER : HW_LIVE;
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, ends[0].owner), owner, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, ends[1].owner), owner, 0};
        /* The core's reclaimer words: a live id there must not hold an open (or a call) either. */
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, ends[0].reclaimer), owner, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, ends[1].reclaimer), owner, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, data), HW_INDEX, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, space), HW_INDEX, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, prod.msgs_sent), HW_INDEX, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, cons.msgs_recv), HW_INDEX, 0};
        words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, cons.dropped), HW_INDEX, 0};
        if (indices) {
            words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, prod.head), HW_INDEX, 0};
            words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, cons.tail), HW_INDEX, 0};
            words[nw++] = (hostile_word){s, offsetof(shmipc__chan_hdr, broken), HW_CLEAR32, 0};
            words[nw++] = (hostile_word){s, CHAN_HDR_SIZE, HW_INDEX, 0}; /* the first record header */
        }
    }
    pid_t scrib = hostile_start(names, 2, words, nw);
    calls(ep, ec, fp, fc);
    hostile_stop(scrib);
    shmipc_channel_close(ep);
    shmipc_channel_close(ec);
    shmipc_channel_close(fp);
    shmipc_channel_close(fc);
    shmipc_channel_unlink(n1);
    shmipc_channel_unlink(n2);
}

static void scribbled_owner_words(void **state)
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

static int stop_holding_reservation(void *arg)
{
    shmipc_channel *p;
    if (shmipc_channel_open(arg, SHMIPC_CHANNEL_PRODUCER, NULL, &p))
        return 10;
    void *buf;
    if (shmipc_channel_reserve(p, 32, &buf, 0))
        return 11;
    memset(buf, 'x', 32);
    hostile_freeze();
    shmipc_channel_commit(p, 32);
    return 0;
}

static int stop_holding_peek(void *arg)
{
    shmipc_channel *c;
    if (shmipc_channel_open(arg, SHMIPC_CHANNEL_CONSUMER, NULL, &c))
        return 10;
    const void *buf;
    if (shmipc_channel_peek(c, &buf, 0) < 0)
        return 11;
    hostile_freeze();
    shmipc_channel_release(c);
    return 0;
}

static void stopped_producer(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "host-ch-stp");
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = CAP;
    o.role = SHMIPC_CHANNEL_CONSUMER;
    shmipc_channel *c;
    assert_int_equal(shmipc_channel_create(name, &o, &c), 0);
    pid_t child = hostile_frozen_child(stop_holding_reservation, name);
    int last_result = 0;
    char buf[CAP];
    const void *pk;
    for (int i = 0; i < 3; i++) {
        HOSTILE_CALL("recv from a stopped producer", shmipc_channel_recv(c, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
        HOSTILE_CALL("peek from a stopped producer", shmipc_channel_peek(c, &pk, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
    }
    hostile_end_child(child);
    /* Dead now: the next wait sees it within a slice or two. */
    HOSTILE_CALL("recv from a killed producer", shmipc_channel_recv(c, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
    assert_int_equal(last_result, -EPIPE);
    shmipc_channel_close(c);
    shmipc_channel_unlink(name);
}

static void stopped_consumer(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "host-ch-stc");
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = CAP;
    shmipc_channel *p;
    assert_int_equal(shmipc_channel_create(name, &o, &p), 0);
    fill(p);
    pid_t child = hostile_frozen_child(stop_holding_peek, name);
    int last_result = 0;
    char buf[64] = {0};
    void *res;
    for (int i = 0; i < 3; i++) {
        HOSTILE_CALL("send to a stopped consumer", shmipc_channel_send(p, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
        HOSTILE_CALL("reserve with a stopped consumer", shmipc_channel_reserve(p, 64, &res, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
    }
    hostile_end_child(child);
    shmipc_channel_close(p);
    shmipc_channel_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scribbled_owner_words),
        cmocka_unit_test(scribbled_every_word),
        cmocka_unit_test(stopped_producer),
        cmocka_unit_test(stopped_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
