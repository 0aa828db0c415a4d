/* SPDX-License-Identifier: MIT */
/* tests/test_pubsub_crash.c - publish/subscribe when processes die (kill -9) or peers corrupt shared
 * memory: dead subscribers (holding and queued samples, zombies) never block a publisher and their
 * chunks return; dead publishers' loans return; a publisher killed at each point of a publish leaks
 * nothing and loses nothing committed; a reclaimer killed halfway is finished by the next, with nothing
 * freed twice; restarted publishers reopen without cleanup; corruption gives -EBADMSG. */
#include "helpers.h"
#include "pubsub/pubsub_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "pc%d-%d-%s", (int)getpid(), n++, tag);
}

static void svc_remove(const char *name)
{
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, NULL);
}

static char hear(int fd)
{
    char c = 0;
    return read(fd, &c, 1) == 1 ? c : 0;
}

static int kill_point;
static void hook_kill(int point)
{
    if (point == kill_point)
        raise(SIGKILL);
}

static shmipc_pubsub_publisher *mkpub(const char *name, uint32_t depth, shmipc_pubsub_policy pol)
{
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 64;
    o.depth = depth;
    o.policy = pol;
    o.max_subscribers = 4;
    shmipc_pubsub_publisher *pub = NULL;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    return pub;
}

static int pub1(shmipc_pubsub_publisher *pub, unsigned char v)
{
    unsigned char buf[64];
    memset(buf, v, sizeof buf);
    return shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf);
}

/* Pool accounting: the masks, and the figure tools see (describe derives it from the masks). */
static void assert_pool(shmipc__ps *ps, uint32_t used)
{
    assert_int_equal(shmipc__ps_pool_used(ps), used);
    shmipc_service_info info;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, ps->svc.hdr->name, &info), 0);
    assert_int_equal(info.stats[PS_STAT_POOL_USED], used);
}

/* Child: subscribe, receive `hold` samples and keep them, tell the parent, wait to be killed. */
static pid_t spawn_holder(const char *name, int fd, int hold)
{
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_pubsub_subscriber *sub;
        if (shmipc_pubsub_subscriber_open(name, NULL, &sub))
            _exit(1);
        char c = 's';
        if (write(fd, &c, 1) != 1)
            _exit(2);
        for (int i = 0; i < hold; i++) {
            shmipc_pubsub_sample s;
            if (shmipc_pubsub_subscriber_receive(sub, &s, 10000))
                _exit(3);
        }
        c = 'h';
        if (write(fd, &c, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    return pid;
}

static void dead_subscriber(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "deadsub");
    shmipc_pubsub_publisher *pub = mkpub(name, 3, SHMIPC_PUBSUB_WAIT);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t kid = spawn_holder(name, p[1], 2);
    assert_int_equal(hear(p[0]), 's');
    assert_int_equal(pub1(pub, 1), 1);
    assert_int_equal(pub1(pub, 2), 1);
    assert_int_equal(hear(p[0]), 'h'); /* holds 2 received */
    for (int i = 0; i < 3; i++)
        assert_int_equal(pub1(pub, 3), 1); /* 3 queued: full */
    assert_pool(&pub->ps, 5);
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    /* The queue is full and its owner dead: the publisher notices, reclaims, and does not block. */
    uint64_t t0 = test_now_ms();
    assert_int_equal(pub1(pub, 4), 0);
    assert_true(test_now_ms() - t0 < 5000);
    assert_pool(&pub->ps, 0);
    close(p[0]);
    close(p[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static int is_zombie(void *arg)
{
    bool zombie = false;
    shmipc__proc_start_time(*(pid_t *)arg, &zombie);
    return zombie;
}

static void zombie_subscriber_gc(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "zombie");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, SHMIPC_PUBSUB_DROP_OLDEST);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t kid = spawn_holder(name, p[1], 1);
    assert_int_equal(hear(p[0]), 's');
    for (int i = 0; i < 3; i++)
        assert_int_equal(pub1(pub, 1), 1);
    assert_int_equal(hear(p[0]), 'h');
    assert_pool(&pub->ps, 3);
    kill(kid, SIGKILL);
    /* Not reaped: once it is a zombie it counts as dead (a big process can take a while to get there). */
    assert_int_equal(test_until(is_zombie, &kid, 10000), 0);
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 1);
    assert_pool(&pub->ps, 0);
    waitpid(kid, NULL, 0);
    close(p[0]);
    close(p[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void dead_publisher_loans(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "deadpub");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t kid = fork();
    if (kid == 0) {
        shmipc_pubsub_publisher *mine;
        void *a, *b, *c;
        if (shmipc_pubsub_publisher_open(name, NULL, &mine) || shmipc_pubsub_publisher_loan(mine, 0, &a) ||
            shmipc_pubsub_publisher_loan(mine, 0, &b) || shmipc_pubsub_publisher_loan(mine, 0, &c))
            _exit(1);
        char ch = 'l';
        if (write(p[1], &ch, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    assert_int_equal(hear(p[0]), 'l');
    assert_pool(&pub->ps, 3);
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    /* Reclaimed by any live participant that notices (here: ours, as a loan finding the pool empty does). */
    assert_int_equal(shmipc__svc_reclaim_dead(&pub->ps.svc), 1);
    assert_pool(&pub->ps, 0);
    void *loans[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(shmipc_pubsub_publisher_loan(pub, 0, &loans[i]), 0);
    assert_int_equal(shmipc_pubsub_publisher_loan(pub, 0, &loans[0]), -ENOBUFS); /* max_loans */
    assert_pool(&pub->ps, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(shmipc_pubsub_publisher_discard(pub, loans[i]), 0);
    assert_int_equal(shmipc_pubsub_publisher_discard(pub, loans[0]), -EINVAL);
    assert_pool(&pub->ps, 0);
    close(p[0]);
    close(p[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

/* A child publisher publishes sample 1, then is killed at `point` while publishing sample 2. Two
 * subscribers (slots 0 and 1) live in the parent. want[k] = samples subscriber k must end up with. */
static void killed_mid_publish_at(int point, int want0, int want1)
{
    char name[64];
    svc_name(name, sizeof name, "mid");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, SHMIPC_PUBSUB_WAIT);
    shmipc_pubsub_subscriber *s0, *s1;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &s0), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &s1), 0);
    assert_int_equal(s0->j, 0);
    assert_int_equal(s1->j, 1);
    pid_t kid = fork();
    if (kid == 0) {
        shmipc_pubsub_publisher *mine;
        if (shmipc_pubsub_publisher_open(name, NULL, &mine) || pub1(mine, 1) != 2)
            _exit(1);
        kill_point = point;
        shmipc__pubsub_test_hook = hook_kill;
        pub1(mine, 2);
        _exit(2); /* not reached */
    }
    assert_int_equal(test_wait(kid, 10000), 128 + SIGKILL);
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 1);
    /* Locks the dead publisher held are free again: the parent can publish (sample 3). */
    assert_int_equal(pub1(pub, 3), 2);
    shmipc_pubsub_subscriber *subs[2] = {s0, s1};
    int want[2] = {want0, want1};
    for (int k = 0; k < 2; k++) {
        shmipc_pubsub_sample s;
        int got = 0;
        while (shmipc_pubsub_subscriber_receive(subs[k], &s, 0) == 0) {
            unsigned char v = ((const unsigned char *)s.data)[0];
            if (v != 3)
                got++;
            else
                assert_int_equal(s.publisher, shmipc_pubsub_publisher_id(pub));
            shmipc_pubsub_subscriber_release(subs[k], &s);
        }
        assert_int_equal(got, want[k]); /* sample 1, plus sample 2 where it was committed */
    }
    assert_pool(&pub->ps, 0);
    shmipc_pubsub_subscriber_close(s0);
    shmipc_pubsub_subscriber_close(s1);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void killed_mid_publish(void **state)
{
    (void)state;
    killed_mid_publish_at(PS_HOOK_AFTER_LOAN, 1, 1);
    killed_mid_publish_at(PS_HOOK_MID_DELIVERY, 1, 1);
    killed_mid_publish_at(PS_HOOK_AFTER_FIRST, 2, 1);
    killed_mid_publish_at(PS_HOOK_AFTER_PUBLISH, 2, 2);
}

static void killed_mid_drop(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "middrop");
    shmipc_pubsub_publisher *pub = mkpub(name, 2, SHMIPC_PUBSUB_DROP_OLDEST);
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    pid_t kid = fork();
    if (kid == 0) {
        /* Each publisher has its own connection to the subscriber: the child fills its own, then dies
         * taking the oldest entry back for sample 3. */
        shmipc_pubsub_publisher *mine;
        if (shmipc_pubsub_publisher_open(name, NULL, &mine) || pub1(mine, 1) != 1 || pub1(mine, 2) != 1)
            _exit(1);
        kill_point = PS_HOOK_MID_DROP;
        shmipc__pubsub_test_hook = hook_kill;
        pub1(mine, 3);
        _exit(2);
    }
    assert_int_equal(test_wait(kid, 10000), 128 + SIGKILL);
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, NULL), 0);
    shmipc_pubsub_sample s;
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0); /* sample 1 was dropped */
    assert_int_equal(((const unsigned char *)s.data)[0], 2);
    shmipc_pubsub_subscriber_release(sub, &s);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), -EAGAIN);
    assert_pool(&pub->ps, 0);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void killed_mid_reclaim(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "midrec");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, SHMIPC_PUBSUB_DROP_OLDEST);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t kid = spawn_holder(name, p[1], 2);
    assert_int_equal(hear(p[0]), 's');
    for (int i = 0; i < 4; i++)
        assert_int_equal(pub1(pub, 1), 1);
    assert_int_equal(hear(p[0]), 'h');
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    assert_pool(&pub->ps, 4);
    /* A reclaimer dies inside the subscriber reclaim (queue reset, chunks not swept). */
    pid_t rec = fork();
    if (rec == 0) {
        kill_point = PS_HOOK_MID_RECLAIM;
        shmipc__pubsub_test_hook = hook_kill;
        shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, NULL);
        _exit(2);
    }
    assert_int_equal(test_wait(rec, 10000), 128 + SIGKILL);
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 1);
    assert_pool(&pub->ps, 0); /* every chunk back, none freed twice */
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 0);
    /* The slot is usable again. */
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    assert_int_equal(pub1(pub, 5), 1);
    shmipc_pubsub_subscriber_close(sub);
    assert_pool(&pub->ps, 0);
    close(p[0]);
    close(p[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void restarted_publisher(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "restart");
    /* 1. Nobody left: the stale service is replaced. */
    pid_t kid = fork();
    if (kid == 0) {
        shmipc_pubsub_publisher *mine;
        static unsigned char big[4096];
        if (shmipc_pubsub_publisher_create(name, NULL, &mine) ||
            shmipc_pubsub_publisher_publish_copy(mine, big, sizeof big))
            _exit(1);
        raise(SIGKILL);
    }
    assert_int_equal(test_wait(kid, 10000), 128 + SIGKILL);
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, NULL, &pub), 0);
    /* 2. A live subscriber keeps it: the restarted publisher reopens it. */
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    shmipc_pubsub_publisher_close(pub);
    kid = fork();
    if (kid == 0) {
        shmipc_pubsub_publisher *mine;
        void *p;
        int err = shmipc_pubsub_publisher_create(name, NULL, &mine);
        if (err) {
            fprintf(stderr, "create: %s (%s)\n", shmipc_strerror(err), shmipc_service_error_detail());
            _exit(1);
        }
        if (shmipc_pubsub_publisher_loan(mine, 0, &p))
            _exit(3);
        raise(SIGKILL);
    }
    assert_int_equal(test_wait(kid, 10000), 128 + SIGKILL);
    assert_int_equal(shmipc_pubsub_publisher_create(name, NULL, &pub), 0);
    unsigned char buf[4096] = {7};
    assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf), 1);
    shmipc_pubsub_sample s;
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
    assert_int_equal(((const unsigned char *)s.data)[0], 7);
    shmipc_pubsub_subscriber_release(sub, &s);
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, NULL), 0);
    assert_pool(&pub->ps, 0);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void corruption(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "corrupt");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 64;
    o.history = 2;
    o.depth = 4;
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    shmipc__ps_hdr *h = pub->ps.hdr;
    shmipc_pubsub_subscriber *sub;
    /* Pattern header */
    uint32_t saved = h->nchunks;
    h->nchunks = UINT32_MAX;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), -EBADMSG);
    h->nchunks = saved;
    saved = h->max_subs;
    h->max_subs = 63;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), -EBADMSG);
    h->max_subs = saved;
    uint64_t inst = h->instance;
    h->instance ^= 1;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), -EBADMSG); /* pool of another instance */
    h->instance = inst;
    /* History entries: a bad one is skipped. */
    assert_int_equal(pub1(pub, 1), 0);
    assert_int_equal(pub1(pub, 2), 0);
    atomic_store(&ps_hist(&pub->ps, pub->k)[0].a, UINT64_C(1) << 30);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    shmipc_pubsub_sample s;
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
    assert_int_equal(((const unsigned char *)s.data)[0], 2);
    shmipc_pubsub_subscriber_release(sub, &s);
    /* Deliver entries: a chunk index out of the partition, a length beyond the payload. */
    shmipc__conn *dc = ps_dconn(&pub->ps, pub->k, sub->j);
    assert_int_equal(pub1(pub, 3), 1);
    uint64_t tail = atomic_load(&dc->tail);
    shmipc__conn_entry *e = &dc->ring[tail & (pub->ps.dcap - 1)];
    atomic_store(&e->a, atomic_load(&e->a) | PS_LOCAL_MASK);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), -EBADMSG);
    assert_non_null(strstr(shmipc_service_error_detail(), "chunk"));
    assert_int_equal(pub1(pub, 4), 1);
    tail = atomic_load(&dc->tail);
    e = &dc->ring[tail & (pub->ps.dcap - 1)];
    atomic_store(&e->a, (atomic_load(&e->a) & PS_LOCAL_MASK) | UINT64_C(65) << PS_LOCAL_BITS);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), -EBADMSG);
    /* Connection indices: an impossible head is reported, and the publisher's next publish restores it. */
    atomic_store(&dc->head, atomic_load(&dc->tail) + 1000);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), -EBADMSG);
    assert_int_equal(pub1(pub, 5), 1);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
    assert_int_equal(((const unsigned char *)s.data)[0], 5);
    shmipc_pubsub_subscriber_release(sub, &s);
    /* Forged returns (a chunk never delivered, a stale sequence) change nothing. */
    shmipc__conn_tx *rtx = &sub->peers[pub->k].tx;
    assert_int_equal(shmipc__conn_push(rtx, 0, 12345, NULL, NULL), 0);
    assert_int_equal(shmipc__conn_push(rtx, 1u << 19, (uint64_t)sub->gen << PS_SEQ_BITS | 3, NULL, NULL), 0);
    shmipc__conn_publish(rtx);
    assert_int_equal(pub1(pub, 6), 1);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
    assert_int_equal(((const unsigned char *)s.data)[0], 6);
    shmipc_pubsub_subscriber_release(sub, &s);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

/* Children publish or receive as fast as they can until killed; each says 'o' on readyfd once it has
 * opened its handle. */
static void torture_child(const char *name, bool publisher, unsigned seed, int readyfd)
{
    if (publisher) {
        shmipc_pubsub_publisher *pub;
        if (shmipc_pubsub_publisher_open(name, NULL, &pub) || test_signal(readyfd))
            _exit(1);
        for (unsigned char v = 0;; v++) {
            void *p;
            if (shmipc_pubsub_publisher_loan(pub, 0, &p) == 0) {
                memset(p, v, 64);
                if ((seed + v) % 7 == 0)
                    shmipc_pubsub_publisher_discard(pub, p);
                else
                    shmipc_pubsub_publisher_publish(pub, p, 0);
            }
        }
    }
    shmipc_pubsub_subscriber *sub;
    if (shmipc_pubsub_subscriber_open(name, NULL, &sub) || test_signal(readyfd))
        _exit(1);
    shmipc_pubsub_sample held[3];
    unsigned n = 0;
    for (unsigned k = seed;; k++) {
        if (n < 3 && shmipc_pubsub_subscriber_receive(sub, &held[n], 5) == 0) {
            const unsigned char *d = held[n].data;
            if (d[0] != d[63])
                _exit(9); /* a chunk changed under a reader */
            n++;
        }
        if (n && k % 2)
            shmipc_pubsub_subscriber_release(sub, &held[--n]);
    }
}

static void torture_round(shmipc_pubsub_policy pol, unsigned round)
{
    char name[64];
    svc_name(name, sizeof name, "torture");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 64;
    o.depth = 3;
    o.history = 2;
    o.policy = pol;
    o.publish_timeout_ms = 50;
    o.max_subscribers = 4;
    shmipc_pubsub_publisher *owner;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &owner), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t kids[5];
    for (int i = 0; i < 5; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            torture_child(name, i < 2, round * 5 + (unsigned)i, ready[1]);
    }
    /* Every child has its handle and is at work before the first kill. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(test_await(ready[0], 30000), 0);
    close(ready[0]);
    close(ready[1]);
    srand(round);
    for (int i = 0; i < 5; i++) {
        /* Random kill points, not a wait: whatever each child was doing when it dies is the test. */
        usleep(2000 + (useconds_t)(rand() % 15000));
        kill(kids[i], SIGKILL);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(test_wait(kids[i], 10000), 128 + SIGKILL); /* 137: never exited on an error */
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 1, &r), 0);
    if (getenv("PUBSUB_TORTURE_VERBOSE")) {
        shmipc_service_info info;
        if (shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &info) == 0)
            print_message("round %u: published %llu delivered %llu dropped %llu\n", round,
                          (unsigned long long)info.stats[PS_STAT_PUBLISHED],
                          (unsigned long long)info.stats[PS_STAT_DELIVERED],
                          (unsigned long long)info.stats[PS_STAT_DROPPED]);
    }
    /* Children may have reclaimed each other already: what counts is that only the owner is left. */
    assert_true(r.participants_reclaimed <= 5);
    for (uint32_t i = 0; i < owner->ps.svc.nparts; i++)
        assert_int_equal(atomic_load(&owner->ps.svc.parts[i].owner) != 0, i == (uint32_t)owner->ps.slot);
    /* Only the histories hold chunks (each publisher slot keeps its own, a dead publisher's included). */
    uint32_t hist = shmipc__ps_pool_used(&owner->ps);
    assert_true(hist <= 2 * owner->ps.max_pubs);
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    assert_int_equal(pub1(owner, 42), 1);
    shmipc_pubsub_sample s;
    int got = 0;
    while (shmipc_pubsub_subscriber_receive(sub, &s, 0) == 0) {
        got++;
        shmipc_pubsub_subscriber_release(sub, &s);
    }
    assert_int_equal(got, (int)hist + 1);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(owner);
    svc_remove(name);
}

static void random_kills(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 12; round++)
        torture_round(round % 2 ? SHMIPC_PUBSUB_WAIT : SHMIPC_PUBSUB_DROP_OLDEST, round);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dead_subscriber),
        cmocka_unit_test(zombie_subscriber_gc),
        cmocka_unit_test(dead_publisher_loans),
        cmocka_unit_test(killed_mid_publish),
        cmocka_unit_test(killed_mid_drop),
        cmocka_unit_test(killed_mid_reclaim),
        cmocka_unit_test(restarted_publisher),
        cmocka_unit_test(corruption),
        cmocka_unit_test(random_kills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
