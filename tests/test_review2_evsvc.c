/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review2_evsvc.c - review findings on the event service: a counter a peer moved backwards is
 * reported once (-EBADMSG), not on every later wait, so one corrupt counter does not make a listener (or a
 * wait_any over several services) unusable for every other event; and a notification writes only the
 * words of listeners, not those of every other notifier.
 */
#include "helpers.h"
#include "evsvc/evsvc_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "r2-%d-%d-%s", (int)getpid(), n++, tag);
}

static void backwards_counter_reported_once(void **state)
{
    (void)state;
    char name[64], other[64];
    svc_name(name, sizeof name, "back");
    svc_name(other, sizeof other, "other");
    shmipc_listener *l, *l2;
    shmipc_notifier *n, *n2;
    assert_int_equal(shmipc_listener_open(name, NULL, &l), 0);
    assert_int_equal(shmipc_notifier_open(name, NULL, &n), 0);
    assert_int_equal(shmipc_listener_open(other, NULL, &l2), 0);
    assert_int_equal(shmipc_notifier_open(other, NULL, &n2), 0);
    assert_int_equal(shmipc_notifier_notify(n, 2), 0);
    assert_int_equal(shmipc_listener_wait(l, 0, NULL), 1);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, &view), 0);
    shmipc__ev_hdr *h = view.pattern_area;
    _Atomic uint64_t *cnt = (_Atomic uint64_t *)((char *)h + h->counters_off);
    atomic_store(&cnt[2], 0); /* a hostile peer moves it backwards */
    atomic_fetch_add(&h->total, 1);
    assert_int_equal(shmipc_listener_wait(l, 0, NULL), -EBADMSG);
    /* Reported; later events (of this service and, through wait_any, of another) get through. */
    uint32_t id = 99;
    assert_int_equal(shmipc_notifier_notify(n, 5), 0);
    assert_int_equal(shmipc_listener_wait(l, 0, &id), 1);
    assert_int_equal(id, 5);
    assert_int_equal(shmipc_notifier_notify(n, 2), 0);
    assert_int_equal(shmipc_listener_wait(l, 0, &id), 1);
    atomic_store(&cnt[2], 0); /* backwards again, then wait on both services at once */
    atomic_fetch_add(&h->total, 1);
    shmipc_listener *both[2] = {l, l2};
    size_t which = 9;
    assert_int_equal(shmipc_listener_wait_any(both, 2, 0, &which, &id), -EBADMSG);
    assert_int_equal(shmipc_notifier_notify(n2, 7), 0);
    assert_int_equal(shmipc_listener_wait_any(both, 2, 1000, &which, &id), 1);
    assert_int_equal(which, 1);
    assert_int_equal(id, 7);
    shmipc__svc_close(&view);
    shmipc_listener_close(l);
    shmipc_listener_close(l2);
    shmipc_notifier_close(n);
    shmipc_notifier_close(n2);
    shmipc_evsvc_unlink(name);
    shmipc_evsvc_unlink(other);
}

/* Per notification the notifier writes the counter, the total and each listener's word: other notifiers'
 * words (nobody ever sleeps on them) stay untouched. */
static void notify_writes_only_listener_words(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "words");
    shmipc_listener *l;
    shmipc_notifier *n[3];
    assert_int_equal(shmipc_listener_open(name, NULL, &l), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmipc_notifier_open(name, NULL, &n[i]), 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(shmipc_notifier_notify(n[i % 3], (uint32_t)i % 4), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, &view), 0);
    shmipc__ev_hdr *h = view.pattern_area;
    int bumped = 0;
    for (uint32_t i = 0; i < h->nparts; i++)
        bumped += atomic_load(&((shmipc__ev_area *)((char *)h + h->areas_off) + i)->notify.seq) != 0;
    shmipc__svc_close(&view);
    int got = 0;
    while (shmipc_listener_wait(l, 0, NULL) > 0)
        got++;
    for (int i = 0; i < 3; i++)
        shmipc_notifier_close(n[i]);
    shmipc_listener_close(l);
    shmipc_evsvc_unlink(name);
    assert_int_equal(got, 4);
    assert_int_equal(bumped, 1); /* the listener's word only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backwards_counter_reported_once),
        cmocka_unit_test(notify_writes_only_listener_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
