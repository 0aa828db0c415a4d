/* SPDX-License-Identifier: MIT */
/* tests/test_evsvc.c - the event service: ids and counts, options and mismatches, timeouts, no system call
 * while nobody sleeps, a notification writing only listeners' words, a listener in another process woken,
 * waiting on several services at once, no lost notifications under a burst, killed listeners reclaimed, a
 * counter moved backwards reported once, corrupt state, threads (for TSan). */
#include "helpers.h"
#include "evsvc/evsvc_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "t%d-%d-%s", (int)getpid(), n++, tag);
}

static uint64_t stat_of(const char *name, int i)
{
    shmipc_service_info si;
    if (shmipc_service_describe(SHMIPC_PATTERN_EVENT, name, &si))
        return UINT64_MAX;
    return si.stats[i];
}

static void basic_ids_and_counts(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "basic");
    shmipc_evsvc_opts o;
    shmipc_evsvc_opts_init(&o);
    o.max_events = 8;
    shmipc_evsvc_listener *l, *l2;
    shmipc_evsvc_notifier *n;
    assert_int_equal(shmipc_evsvc_listener_open(name, &o, &l), 0); /* creates */
    shmipc_evsvc_opts bad = {.size = sizeof bad, .max_events = 16};
    assert_int_equal(shmipc_evsvc_notifier_create(name, &bad, &n), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "max_events"));
    assert_int_equal(shmipc_evsvc_notifier_create(name, NULL, &n), 0);
    uint32_t id = 99;
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), -EAGAIN);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 30, &id), -ETIMEDOUT);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 8), -EINVAL);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 3), 0);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 3), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), 2); /* coalesced: the count says how many */
    assert_int_equal(id, 3);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), -EAGAIN);
    /* several pending: one per call */
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 5), 0);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 1), 0);
    uint32_t a, b;
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &a), 1);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &b), 1);
    assert_true((a == 5 && b == 1) || (a == 1 && b == 5));
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), -EAGAIN);
    /* a new listener sees only what comes after it attached */
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l2), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l2, 0, &id), -EAGAIN);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 0), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l2, 0, &id), 1);
    assert_int_equal(id, 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), 1);
    /* nobody slept: no wake system call was made */
    assert_int_equal(stat_of(name, 0), 5);
    assert_int_equal(stat_of(name, 1), 0);
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_EVENT, name, &si), 0);
    assert_int_equal(si.participants, 3);
    assert_string_equal(si.stat_names[0], "notifications");
    assert_non_null(strstr(si.options, "events=8"));
    assert_int_equal(shmipc_evsvc_listener_wait_any(NULL, 1, 0, NULL, NULL), -EINVAL);
    assert_int_equal(shmipc_evsvc_listener_wait_any(&l, 0, 0, NULL, NULL), -EINVAL);
    shmipc_evsvc_listener_close(l2);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_notifier_close(n);
    assert_int_equal(shmipc_evsvc_unlink(name), 0);
    /* a service nobody uses (its creator gone) is replaced by an opener with other settings */
    pid_t c = fork();
    if (c == 0)
        _exit(shmipc_evsvc_listener_open(name, &o, &l) ? 1 : 0); /* exits holding nothing live */
    assert_int_equal(test_wait(c, 10000), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(name, &o, &n), 0); /* same settings: opened */
    shmipc_evsvc_notifier_close(n);
    assert_int_equal(shmipc_evsvc_notifier_create(name, &bad, &n), 0); /* other settings: replaced */
    shmipc_evsvc_notifier_close(n);
    assert_int_equal(shmipc_evsvc_unlink(name), 0);
    bad = (shmipc_evsvc_opts){.size = sizeof(shmipc_evsvc_opts), .max_events = SHMIPC_EVSVC_MAX_EVENTS + 1};
    assert_int_equal(shmipc_evsvc_listener_open(name, &bad, &l), -EINVAL);
}

typedef struct notify_arg {
    const char *name;
    uint32_t id;
    pid_t sleeper; /* if set: notify only once this process sleeps in its wait (a forked notifier) */
    int count;
} notify_arg;

static int notifier_proc(void *p)
{
    notify_arg *a = p;
    shmipc_evsvc_notifier *n;
    if (shmipc_evsvc_notifier_create(a->name, NULL, &n))
        return 1;
    if (a->sleeper && test_until_futex_wait(a->sleeper, 20000))
        return 3;
    for (int i = 0; i < a->count; i++)
        if (shmipc_evsvc_notifier_notify(n, a->id))
            return 2;
    shmipc_evsvc_notifier_close(n);
    return 0;
}

static void listener_woken_across_processes(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "xproc");
    shmipc_evsvc_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_BLOCK};
    shmipc_evsvc_listener *l;
    assert_int_equal(shmipc_evsvc_listener_open(name, &o, &l), 0);
    notify_arg a = {.name = name, .id = 42, .sleeper = getpid(), .count = 1};
    pid_t c = test_fork(notifier_proc, &a);
    uint32_t id;
    assert_int_equal(shmipc_evsvc_listener_wait(l, 10000, &id), 1);
    assert_int_equal(id, 42);
    assert_int_equal(test_wait(c, 10000), 0);
    assert_int_equal(stat_of(name, 1), 1); /* the listener slept: one wake call */
    /* a burst: counts add up, nothing lost */
    a = (notify_arg){.name = name, .id = 7, .count = 5000};
    c = test_fork(notifier_proc, &a);
    int total = 0;
    while (total < 5000) {
        int r = shmipc_evsvc_listener_wait(l, 10000, &id);
        assert_true(r > 0);
        assert_int_equal(id, 7);
        total += r;
    }
    assert_int_equal(total, 5000);
    assert_int_equal(test_wait(c, 10000), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), -EAGAIN);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_unlink(name);
}

static void wait_any_several_services(void **state)
{
    (void)state;
    char na[64], nb[64];
    svc_name(na, sizeof na, "anyA");
    svc_name(nb, sizeof nb, "anyB");
    shmipc_evsvc_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_BLOCK};
    shmipc_evsvc_listener *ls[2];
    assert_int_equal(shmipc_evsvc_listener_open(na, &o, &ls[0]), 0);
    assert_int_equal(shmipc_evsvc_listener_open(nb, &o, &ls[1]), 0);
    size_t which = 9;
    uint32_t id = 0;
    assert_int_equal(shmipc_evsvc_listener_wait_any(ls, 2, 0, &which, &id), -EAGAIN);
    assert_int_equal(shmipc_evsvc_listener_wait_any(ls, 2, 30, &which, &id), -ETIMEDOUT);
    notify_arg b = {.name = nb, .id = 7, .sleeper = getpid(), .count = 1};
    pid_t c = test_fork(notifier_proc, &b);
    assert_int_equal(shmipc_evsvc_listener_wait_any(ls, 2, 10000, &which, &id), 1);
    assert_int_equal(which, 1);
    assert_int_equal(id, 7);
    assert_int_equal(test_wait(c, 10000), 0);
    notify_arg a = {.name = na, .id = 2, .sleeper = getpid(), .count = 3};
    c = test_fork(notifier_proc, &a);
    int got = 0;
    while (got < 3) {
        int r = shmipc_evsvc_listener_wait_any(ls, 2, 10000, &which, &id);
        assert_true(r > 0);
        assert_int_equal(which, 0);
        assert_int_equal(id, 2);
        got += r;
    }
    assert_int_equal(test_wait(c, 10000), 0);
    /* both pending: the earlier listener first, then the other */
    shmipc_evsvc_notifier *n0, *n1;
    assert_int_equal(shmipc_evsvc_notifier_create(na, NULL, &n0), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(nb, NULL, &n1), 0);
    assert_int_equal(shmipc_evsvc_notifier_notify(n1, 1), 0);
    assert_int_equal(shmipc_evsvc_notifier_notify(n0, 4), 0);
    assert_int_equal(shmipc_evsvc_listener_wait_any(ls, 2, 0, &which, &id), 1);
    assert_int_equal(which, 0);
    assert_int_equal(id, 4);
    assert_int_equal(shmipc_evsvc_listener_wait_any(ls, 2, 0, &which, &id), 1);
    assert_int_equal(which, 1);
    assert_int_equal(id, 1);
    shmipc_evsvc_notifier_close(n0);
    shmipc_evsvc_notifier_close(n1);
    shmipc_evsvc_listener_close(ls[0]);
    shmipc_evsvc_listener_close(ls[1]);
    shmipc_evsvc_unlink(na);
    shmipc_evsvc_unlink(nb);
}

static void wait_any_fallback(void **state)
{
    /* the path for kernels without futex_waitv: sleeping on the first word in slices */
    int saved = atomic_load(&shmipc__futex_no_waitv);
    atomic_store(&shmipc__futex_no_waitv, 1);
    wait_any_several_services(state);
    atomic_store(&shmipc__futex_no_waitv, saved);
}

static int sleeping_listener(void *p)
{
    shmipc_evsvc_listener *l;
    if (shmipc_evsvc_listener_open(p, NULL, &l))
        return 1;
    shmipc_evsvc_listener_wait(l, -1, NULL); /* killed while asleep */
    return 2;
}

static void killed_listeners_reclaimed(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "kill");
    shmipc_evsvc_opts o = {.size = sizeof o, .max_participants = 3};
    shmipc_evsvc_notifier *n;
    shmipc_evsvc_listener *l;
    assert_int_equal(shmipc_evsvc_notifier_create(name, &o, &n), 0);
    for (int i = 0; i < 6; i++) {
        pid_t c = test_fork(sleeping_listener, name);
        assert_int_equal(test_until_futex_wait(c, 20000), 0); /* joined and asleep */
        kill(c, SIGKILL);
        assert_int_equal(test_wait(c, 10000), 128 + SIGKILL);
    }
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l), 0); /* table not exhausted */
    shmipc_evsvc_listener *l2;
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l2), 0);
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_EVENT, name, &si), 0);
    assert_int_equal(si.dead, 0);
    /* a reclaimed slot's word was reset: a notify with nobody asleep makes no system call */
    uint64_t before = stat_of(name, 1);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 0), 0);
    assert_int_equal(stat_of(name, 1), before);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, NULL), 1);
    shmipc_evsvc_listener_close(l2);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_unlink(name);
}

/* A counter a peer moved backwards is reported once (-EBADMSG, detail "backwards"), not on every later
 * wait: later events of this service and, through wait_any, of another get through. */
static void backwards_counter_reported_once(void **state)
{
    (void)state;
    char name[64], other[64];
    svc_name(name, sizeof name, "back");
    svc_name(other, sizeof other, "other");
    shmipc_evsvc_listener *l, *l2;
    shmipc_evsvc_notifier *n, *n2;
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(name, NULL, &n), 0);
    assert_int_equal(shmipc_evsvc_listener_open(other, NULL, &l2), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(other, NULL, &n2), 0);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 2), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, NULL), 1);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, &view), 0);
    shmipc__ev_hdr *h = view.pattern_area;
    _Atomic uint64_t *cnt = (_Atomic uint64_t *)((char *)h + h->counters_off);
    atomic_store(&cnt[2], 0); /* a hostile peer moves it backwards */
    atomic_fetch_add(&h->total, 1);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, NULL), -EBADMSG);
    assert_non_null(strstr(shmipc_service_error_detail(), "backwards"));
    /* Reported; later events (of this service and, through wait_any, of another) get through. */
    uint32_t id = 99;
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 5), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), 1);
    assert_int_equal(id, 5);
    assert_int_equal(shmipc_evsvc_notifier_notify(n, 2), 0);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), 1);
    atomic_store(&cnt[2], 0); /* backwards again, then wait on both services at once */
    atomic_fetch_add(&h->total, 1);
    shmipc_evsvc_listener *both[2] = {l, l2};
    size_t which = 9;
    assert_int_equal(shmipc_evsvc_listener_wait_any(both, 2, 0, &which, &id), -EBADMSG);
    assert_int_equal(shmipc_evsvc_notifier_notify(n2, 7), 0);
    assert_int_equal(shmipc_evsvc_listener_wait_any(both, 2, 1000, &which, &id), 1);
    assert_int_equal(which, 1);
    assert_int_equal(id, 7);
    shmipc__svc_close(&view);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_listener_close(l2);
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_notifier_close(n2);
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
    shmipc_evsvc_listener *l;
    shmipc_evsvc_notifier *n[3];
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmipc_evsvc_notifier_create(name, NULL, &n[i]), 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(shmipc_evsvc_notifier_notify(n[i % 3], (uint32_t)i % 4), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, &view), 0);
    shmipc__ev_hdr *h = view.pattern_area;
    int bumped = 0;
    for (uint32_t i = 0; i < h->nparts; i++)
        bumped += atomic_load(&((shmipc__ev_area *)((char *)h + h->areas_off) + i)->notify.seq) != 0;
    shmipc__svc_close(&view);
    int got = 0;
    while (shmipc_evsvc_listener_wait(l, 0, NULL) > 0)
        got++;
    for (int i = 0; i < 3; i++)
        shmipc_evsvc_notifier_close(n[i]);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_unlink(name);
    assert_int_equal(got, 4);
    assert_int_equal(bumped, 1); /* the listener's word only */
}

static void corrupt_state(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "corrupt");
    shmipc_evsvc_listener *l, *l2;
    shmipc_evsvc_notifier *n;
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(name, NULL, &n), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, &view), 0);
    shmipc__ev_hdr *h = view.pattern_area;
    /* a counter moved backwards: backwards_counter_reported_once */
    h->areas_off += 64;
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l2), -EBADMSG);
    h->areas_off -= 64;
    h->max_events = 0;
    assert_int_equal(shmipc_evsvc_listener_open(name, NULL, &l2), -EBADMSG);
    h->max_events = 64;
    h->magic = 0;
    assert_int_equal(shmipc_evsvc_notifier_create(name, NULL, &n), -EBADMSG);
    h->magic = SHMIPC_EV_MAGIC;
    shmipc__svc_close(&view);
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_unlink(name);
}

/* Random words scribbled over the pattern area between calls: documented errors only, no crash (ASan). */
static void random_garbage(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "garbage");
    shmipc_evsvc_opts o = {.size = sizeof o, .max_events = 16, .max_participants = 4};
    shmipc_evsvc_listener *l, *l2;
    shmipc_evsvc_notifier *n;
    assert_int_equal(shmipc_evsvc_listener_open(name, &o, &l), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(name, NULL, &n), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_EVENT, name, NULL, 0, &view), 0);
    size_t size = view.pattern_size;
    uint32_t *words = view.pattern_area;
    static uint32_t saved[1 << 12];
    assert_true(size <= sizeof saved);
    memcpy(saved, words, size);
    srand(999);
    for (int it = 0; it < 2000; it++) {
        for (int k = 0; k < 1 + it % 8; k++)
            words[(size_t)rand() % (size / 4)] = (uint32_t)rand();
        assert_int_equal(shmipc_evsvc_notifier_notify(n, (uint32_t)it % 16), 0);
        int r = shmipc_evsvc_listener_wait(l, 0, NULL);
        assert_true(r > 0 || r == -EAGAIN || r == -EBADMSG);
        r = shmipc_evsvc_listener_open(name, NULL, &l2);
        assert_true(r == 0 || r == -EBADMSG || r == -EUSERS);
        if (!r)
            shmipc_evsvc_listener_close(l2);
        if (it % 16 == 15)
            memcpy(words, saved, size);
    }
    shmipc__svc_close(&view);
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_unlink(name);
}

/* Threads over one mapping: two notifier threads, a listener thread on two services (what TSan checks). */
typedef struct thr_arg {
    const char *name;
    uint32_t id;
    int count;
    int rc;
} thr_arg;

static void *thr_notifier(void *p)
{
    thr_arg *a = p;
    notify_arg na = {.name = a->name, .id = a->id, .count = a->count};
    a->rc = notifier_proc(&na);
    return NULL;
}

static void threads_one_mapping(void **state)
{
    (void)state;
    char na[64], nb[64];
    svc_name(na, sizeof na, "thrA");
    svc_name(nb, sizeof nb, "thrB");
    shmipc_evsvc_listener *ls[2];
    assert_int_equal(shmipc_evsvc_listener_open(na, NULL, &ls[0]), 0);
    assert_int_equal(shmipc_evsvc_listener_open(nb, NULL, &ls[1]), 0);
    thr_arg ta = {.name = na, .id = 1, .count = 3000}, tb = {.name = nb, .id = 2, .count = 3000};
    pthread_t t[2];
    assert_int_equal(pthread_create(&t[0], NULL, thr_notifier, &ta), 0);
    assert_int_equal(pthread_create(&t[1], NULL, thr_notifier, &tb), 0);
    int got[2] = {0, 0};
    while (got[0] < 3000 || got[1] < 3000) {
        size_t which;
        uint32_t id;
        int r = shmipc_evsvc_listener_wait_any(ls, 2, 10000, &which, &id);
        assert_true(r > 0);
        assert_int_equal(id, which + 1);
        got[which] += r;
    }
    assert_int_equal(got[0], 3000);
    assert_int_equal(got[1], 3000);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    assert_int_equal(ta.rc, 0);
    assert_int_equal(tb.rc, 0);
    shmipc_evsvc_listener_close(ls[0]);
    shmipc_evsvc_listener_close(ls[1]);
    shmipc_evsvc_unlink(na);
    shmipc_evsvc_unlink(nb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_ids_and_counts),
        cmocka_unit_test(listener_woken_across_processes),
        cmocka_unit_test(wait_any_several_services),
        cmocka_unit_test(wait_any_fallback),
        cmocka_unit_test(killed_listeners_reclaimed),
        cmocka_unit_test(notify_writes_only_listener_words),
        cmocka_unit_test(backwards_counter_reported_once),
        cmocka_unit_test(corrupt_state),
        cmocka_unit_test(random_garbage),
        cmocka_unit_test(threads_one_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
