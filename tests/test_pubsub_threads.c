/* SPDX-License-Identifier: MIT */
/* tests/test_pubsub_threads.c - publish/subscribe with threads of one process (one handle each), so that
 * ThreadSanitizer sees the queue locks, masks and notify words at work: fan-out with several publishers
 * under the wait policy, late joiners with history getting every sample without a gap, and subscribers
 * joining and leaving while publishers drop-oldest (pool accounting must come back exact). */
#include "helpers.h"
#include "pubsub/pubsub_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NPUB 2
#define NSUB 3
#define PER_PUB 2000
#define SIZE 128

static char g_name[64];
static _Atomic int g_stop;
static shmipc__ps *g_view; /* every handle of the test shares the owner's mapping */
static _Atomic uint32_t g_published[NPUB]; /* samples each publisher thread has published */

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "th%d-%d-%s", (int)getpid(), n++, tag);
}

static void *pub_thread(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    shmipc_pubsub_publisher *pub;
    if (shmipc__publisher_attach(g_view, -1, SHMIPC_WAIT_DEFAULT, &pub))
        return (void *)1;
    for (uint32_t i = 0; i < PER_PUB; i++) {
        void *p;
        if (shmipc_pubsub_publisher_loan(pub, 0, &p))
            return (void *)2;
        uint32_t hdr[2] = {id, i};
        memcpy(p, hdr, sizeof hdr);
        test_fill((char *)p + 8, SIZE - 8, (uint64_t)id << 32 | i);
        if (shmipc_pubsub_publisher_publish(pub, p, 0) < 0)
            return (void *)3;
        atomic_fetch_add_explicit(&g_published[id], 1, memory_order_relaxed); /* a figure for the test */
    }
    shmipc_pubsub_publisher_close(pub);
    return NULL;
}

/* Receive until every publisher's last sample was seen; each publisher's counters must be contiguous
 * from the first one seen (a late joiner starts in the middle). */
static void *sub_thread(void *arg)
{
    shmipc_pubsub_subscriber *sub = arg;
    int64_t next[NPUB];
    for (int i = 0; i < NPUB; i++)
        next[i] = -1;
    int done = 0;
    while (done < NPUB) {
        shmipc_pubsub_sample s;
        int r = shmipc_pubsub_subscriber_receive(sub, &s, 20000);
        if (r)
            return (void *)10;
        uint32_t hdr[2];
        memcpy(hdr, s.data, sizeof hdr);
        if (s.size == SIZE && hdr[0] < NPUB && next[hdr[0]] >= 0 && hdr[1] != next[hdr[0]])
            fprintf(stderr, "pub %u: got %u, expected %lld (seq %llu)\n", hdr[0], hdr[1], (long long)next[hdr[0]],
                    (unsigned long long)s.sequence);
        if (s.size != SIZE || hdr[0] >= NPUB || (next[hdr[0]] >= 0 && hdr[1] != next[hdr[0]]) ||
            test_check((const char *)s.data + 8, SIZE - 8, (uint64_t)hdr[0] << 32 | hdr[1]))
            return (void *)11;
        next[hdr[0]] = hdr[1] + 1;
        if (hdr[1] == PER_PUB - 1)
            done++;
        shmipc_pubsub_subscriber_release(sub, &s);
    }
    if (shmipc_pubsub_subscriber_missed(sub))
        return (void *)12;
    return NULL;
}

/* Chunks the histories hold: each publisher slot keeps its own (threads that ran one after the other may
 * have used the same slot, and so the same history). */
static uint32_t histories(const shmipc__ps *ps, uint32_t history)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < ps->max_pubs; k++) {
        uint64_t t = atomic_load(&ps_pub(ps, k)->hist_tail);
        n += t < history ? (uint32_t)t : history;
    }
    return n;
}

static shmipc_pubsub_publisher *create(uint32_t history, shmipc_pubsub_policy pol)
{
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = SIZE;
    o.depth = 4;
    o.history = history;
    o.policy = pol;
    o.max_subscribers = 8;
    shmipc_pubsub_publisher *owner;
    assert_int_equal(shmipc_pubsub_publisher_create(g_name, &o, &owner), 0);
    g_view = &owner->ps;
    return owner;
}

static int all_published(void *arg)
{
    (void)arg;
    for (int i = 0; i < NPUB; i++)
        if (atomic_load(&g_published[i]) == 0)
            return 0;
    return 1;
}

static void fan_out_wait(void **state)
{
    (void)state;
    svc_name(g_name, sizeof g_name, "fan");
    shmipc_pubsub_publisher *owner = create(4, SHMIPC_PUBSUB_WAIT);
    pthread_t pt[NPUB], st[NSUB + 1];
    shmipc_pubsub_subscriber *subs[NSUB + 1];
    for (int i = 0; i < NSUB; i++)
        assert_int_equal(shmipc__subscriber_attach(g_view, 0, &subs[i]), 0);
    for (int i = 0; i < NPUB; i++) {
        atomic_store(&g_published[i], 0);
        assert_int_equal(pthread_create(&pt[i], NULL, pub_thread, (void *)(uintptr_t)i), 0);
    }
    /* A late joiner: history, then every later sample with no gap. It joins mid-stream: every publisher
     * has published, and none can be done, since no subscriber receives yet (the wait policy holds the
     * publishers once the first queues are full). */
    assert_int_equal(test_until(all_published, NULL, 30000), 0);
    assert_int_equal(shmipc__subscriber_attach(g_view, 0, &subs[NSUB]), 0);
    for (int i = 0; i < NPUB; i++)
        assert_true(atomic_load(&g_published[i]) < PER_PUB);
    for (int i = 0; i <= NSUB; i++)
        assert_int_equal(pthread_create(&st[i], NULL, sub_thread, subs[i]), 0);
    for (int i = 0; i < NPUB; i++) {
        void *r;
        pthread_join(pt[i], &r);
        assert_null(r);
    }
    for (int i = 0; i <= NSUB; i++) {
        void *r;
        pthread_join(st[i], &r);
        if (r)
            fprintf(stderr, "subscriber %d failed: %d\n", i, (int)(intptr_t)r);
        assert_null(r);
        shmipc_pubsub_subscriber_close(subs[i]);
    }
    assert_int_equal(shmipc__ps_pool_used(&owner->ps), histories(&owner->ps, 4));
    shmipc_pubsub_publisher_close(owner);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, g_name, 0, NULL);
}

static void *churn_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        shmipc_pubsub_subscriber *sub;
        if (shmipc__subscriber_attach(g_view, 0, &sub))
            return (void *)1;
        shmipc_pubsub_sample s[2];
        int n = 0;
        for (int k = 0; k < 10; k++)
            if (n < 2 && shmipc_pubsub_subscriber_receive(sub, &s[n], 1) == 0)
                n++;
        if (n)
            shmipc_pubsub_subscriber_release(sub, &s[0]);
        shmipc_pubsub_subscriber_close(sub); /* releases s[1] if still held */
    }
    return NULL;
}

static void churn_drop_oldest(void **state)
{
    (void)state;
    svc_name(g_name, sizeof g_name, "churn");
    shmipc_pubsub_publisher *owner = create(2, SHMIPC_PUBSUB_DROP_OLDEST);
    atomic_store(&g_stop, 0);
    pthread_t ct[3], pt[NPUB];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&ct[i], NULL, churn_thread, NULL), 0);
    for (int i = 0; i < NPUB; i++)
        assert_int_equal(pthread_create(&pt[i], NULL, pub_thread, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < NPUB; i++) {
        void *r;
        pthread_join(pt[i], &r);
        assert_null(r);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(ct[i], &r);
        assert_null(r);
    }
    assert_int_equal(shmipc__ps_pool_used(&owner->ps), histories(&owner->ps, 2));
    shmipc_service_info info;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, g_name, &info), 0);
    assert_int_equal(info.stats[PS_STAT_POOL_USED], histories(&owner->ps, 2));
    shmipc_pubsub_publisher_close(owner);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, g_name, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fan_out_wait),
        cmocka_unit_test(churn_drop_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
