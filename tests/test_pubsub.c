/* SPDX-License-Identifier: MIT */
/* tests/test_pubsub.c - publish/subscribe across real processes: zero-copy (same chunk, read-only
 * mapping), sizes 64 B .. 4 MiB, fan-out to 1..8 subscribers, several publishers, history, both
 * full-queue policies, blocking receive, timeouts, option/type mismatches, describe and gc. */
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
    snprintf(buf, cap, "pt%d-%d-%s", (int)getpid(), n++, tag);
}

static void svc_remove(const char *name)
{
    shmipc_service_gc_report r;
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, &r);
}

/* Tell the parent we are ready / wait for the child to be ready. */
static void say(int fd, char c) { assert_int_equal(write(fd, &c, 1), 1); }
static char hear(int fd)
{
    char c = 0;
    return read(fd, &c, 1) == 1 ? c : 0;
}

/* ---- zero copy ---- */

static const size_t zc_sizes[] = {64, 256, 1024, 4096, 65536, 1 << 20, 4 << 20};
#define ZC_N (sizeof zc_sizes / sizeof zc_sizes[0])

static void zero_copy(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "zc");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 4 << 20;
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.max_publishers = 1;
    o.max_subscribers = 2;
    o.depth = 2;
    o.max_loans = 2;
    o.max_held = 2;
    o.policy = SHMIPC_PUBSUB_WAIT;
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    int ready[2], offs[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(offs), 0);
    pid_t child = fork();
    if (child == 0) {
        shmipc_pubsub_subscriber *sub;
        if (shmipc_pubsub_subscriber_open(name, NULL, &sub))
            _exit(1);
        say(ready[1], 'r');
        for (size_t i = 0; i < ZC_N; i++) {
            shmipc_pubsub_sample s;
            if (shmipc_pubsub_subscriber_receive(sub, &s, 10000))
                _exit(2);
            if (s.size != zc_sizes[i] || test_check(s.data, s.size, s.sequence))
                _exit(3);
            uint64_t off = (uint64_t)((const unsigned char *)s.data - sub->ps.pool);
            if (write(offs[1], &off, sizeof off) != sizeof off)
                _exit(4);
            if (i == 0) {
                /* The pool is mapped read-only here: a write faults. */
                pid_t g = fork();
                if (g == 0) {
                    signal(SIGSEGV, SIG_DFL);
                    *(volatile char *)s.data = 1;
                    _exit(0);
                }
                int st = test_wait(g, 10000);
#ifdef SHMIPC_SANITIZER
                if (st == 0)
#else
                if (st != 128 + SIGSEGV)
#endif
                    _exit(5);
            }
            shmipc_pubsub_subscriber_release(sub, &s);
        }
        shmipc_pubsub_subscriber_close(sub);
        _exit(0);
    }
    assert_int_equal(hear(ready[0]), 'r');
    for (size_t i = 0; i < ZC_N; i++) {
        void *p;
        assert_int_equal(shmipc_pubsub_publisher_loan(pub, zc_sizes[i], &p), 0);
        uint64_t mine = (uint64_t)((unsigned char *)p - pub->ps.pool);
        test_fill(p, zc_sizes[i], pub->seq + 1);
        assert_int_equal(shmipc_pubsub_publisher_publish(pub, p, zc_sizes[i]), 1);
        uint64_t theirs = 0;
        assert_int_equal(read(offs[0], &theirs, sizeof theirs), sizeof theirs);
        assert_int_equal(theirs, mine); /* the very same chunk: no copy */
    }
    assert_int_equal(test_wait(child, 30000), 0);
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 0);
    /* Too large, and the copy convenience. */
    void *p;
    assert_int_equal(shmipc_pubsub_publisher_loan(pub, (4 << 20) + 1, &p), -EINVAL);
    close(ready[0]);
    close(ready[1]);
    close(offs[0]);
    close(offs[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

/* ---- fan-out ---- */

#define FAN_SAMPLES 300
#define FAN_SIZE 256

static int fan_subscriber(const char *name, int readyfd, uint32_t npubs, uint32_t per_pub)
{
    shmipc_pubsub_subscriber *sub;
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.wait_mode = SHMIPC_WAIT_BLOCK;
    if (shmipc_pubsub_subscriber_open(name, &o, &sub))
        return 1;
    char c = 'r';
    if (write(readyfd, &c, 1) != 1)
        return 2;
    uint64_t last_seq = 0;
    uint32_t next[8] = {0};
    for (uint32_t k = 0; k < npubs * per_pub; k++) {
        shmipc_pubsub_sample s;
        if (shmipc_pubsub_subscriber_receive(sub, &s, 20000))
            return 3;
        uint32_t hdr[2];
        memcpy(hdr, s.data, sizeof hdr);
        if (s.size != FAN_SIZE || hdr[0] >= npubs || hdr[1] != next[hdr[0]]++ ||
            test_check((const char *)s.data + 8, FAN_SIZE - 8, (uint64_t)hdr[0] << 32 | hdr[1]))
            return 4;
        if (npubs == 1 && s.sequence != last_seq + 1)
            return 5; /* one publisher, wait policy: every sample, in order */
        last_seq = s.sequence;
        shmipc_pubsub_subscriber_release(sub, &s);
    }
    if (shmipc_pubsub_subscriber_missed(sub) != 0)
        return 6;
    shmipc_pubsub_subscriber_close(sub);
    return 0;
}

static int fan_publish(shmipc_pubsub_publisher *pub, uint32_t id, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        void *p;
        if (shmipc_pubsub_publisher_loan(pub, FAN_SIZE, &p))
            return -1;
        uint32_t hdr[2] = {id, i};
        memcpy(p, hdr, sizeof hdr);
        test_fill((char *)p + 8, FAN_SIZE - 8, (uint64_t)id << 32 | i);
        if (shmipc_pubsub_publisher_publish(pub, p, 0) < 0)
            return -2;
    }
    return 0;
}

static void fan_out_n(uint32_t nsubs, uint32_t npubs)
{
    char name[64];
    svc_name(name, sizeof name, "fan");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = FAN_SIZE;
    o.max_subscribers = 8;
    o.depth = 4;
    o.policy = SHMIPC_PUBSUB_WAIT;
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t kids[8], pubs[4];
    uint32_t per_pub = FAN_SAMPLES / npubs;
    for (uint32_t i = 0; i < nsubs; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(fan_subscriber(name, ready[1], npubs, per_pub));
    }
    for (uint32_t i = 0; i < nsubs; i++)
        assert_int_equal(hear(ready[0]), 'r');
    if (npubs == 1) {
        assert_int_equal(fan_publish(pub, 0, per_pub), 0);
    } else {
        for (uint32_t i = 0; i < npubs; i++) {
            pubs[i] = fork();
            if (pubs[i] == 0) {
                shmipc_pubsub_publisher *mine;
                if (shmipc_pubsub_publisher_open(name, NULL, &mine))
                    _exit(10);
                int r = fan_publish(mine, i, per_pub);
                shmipc_pubsub_publisher_close(mine);
                _exit(r ? 11 : 0);
            }
        }
        for (uint32_t i = 0; i < npubs; i++)
            assert_int_equal(test_wait(pubs[i], 60000), 0);
    }
    for (uint32_t i = 0; i < nsubs; i++)
        assert_int_equal(test_wait(kids[i], 60000), 0);
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 0);
    close(ready[0]);
    close(ready[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void fan_out(void **state)
{
    (void)state;
    fan_out_n(1, 1);
    fan_out_n(2, 1);
    fan_out_n(4, 1);
    fan_out_n(8, 1);
}

static void multi_publishers(void **state)
{
    (void)state;
    fan_out_n(2, 3);
}

/* ---- history, policies, blocking ---- */

static shmipc_pubsub_publisher *mkpub(const char *name, uint32_t depth, uint32_t history, shmipc_pubsub_policy pol,
                               int timeout_ms)
{
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 64;
    o.depth = depth;
    o.history = history;
    o.policy = pol;
    o.publish_timeout_ms = timeout_ms;
    shmipc_pubsub_publisher *pub = NULL;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    return pub;
}

static void pub_n(shmipc_pubsub_publisher *pub, int n)
{
    char buf[64];
    for (int i = 0; i < n; i++) {
        memset(buf, i, sizeof buf);
        assert_true(shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf) >= 0);
    }
}

static void history_late_joiner(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "hist");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, 3, 0, 0);
    pub_n(pub, 10);
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    shmipc_pubsub_sample s;
    for (uint64_t want = 8; want <= 10; want++) {
        assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
        assert_int_equal(s.sequence, want);
        assert_int_equal(((const unsigned char *)s.data)[0], (unsigned char)(want - 1));
        assert_int_equal(s.publisher, shmipc_pubsub_publisher_id(pub));
        assert_int_equal(shmipc_pubsub_subscriber_release(sub, &s), 0);
    }
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), -EAGAIN);
    pub_n(pub, 1);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
    assert_int_equal(s.sequence, 11);
    assert_int_equal(shmipc_pubsub_subscriber_release(sub, &s), 0);
    assert_int_equal(shmipc_pubsub_subscriber_release(sub, &s), -EINVAL);
    shmipc_pubsub_subscriber_close(sub);
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 3); /* the history */
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void drop_oldest(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "drop");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, 0, SHMIPC_PUBSUB_DROP_OLDEST, 0);
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    pub_n(pub, 10);
    assert_int_equal(shmipc_pubsub_subscriber_missed(sub), 6);
    shmipc_pubsub_sample s;
    for (uint64_t want = 7; want <= 10; want++) {
        assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
        assert_int_equal(s.sequence, want);
        shmipc_pubsub_subscriber_release(sub, &s);
    }
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 0);
    /* held samples are limited */
    pub_n(pub, 6);
    shmipc_pubsub_sample h[5];
    for (int i = 0; i < 4; i++)
        assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &h[i], 0), 0);
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &h[4], 0), -ENOBUFS);
    shmipc_service_info info;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &info), 0);
    assert_non_null(strstr(info.options, "depth=4"));
    assert_non_null(strstr(info.options, "drop-oldest"));
    assert_string_equal(info.stat_names[0], "published");
    assert_int_equal(info.stats[0], 16);
    assert_int_equal(info.stats[2], 8);                 /* dropped */
    assert_int_equal(info.stats[3], 4);                 /* pool_used: the 4 held */
    shmipc_pubsub_subscriber_close(sub); /* releases held and queued */
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 0);
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &info), 0);
    assert_int_equal(info.stats[PS_STAT_POOL_USED], 0);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

/* Subscribes, then receives nothing until the publisher (the parent, single-threaded) is asleep in
 * futex_wait with two samples published: the third publish waits for room. Only then receives all four. */
static int slow_subscriber(const char *name, int readyfd)
{
    shmipc_pubsub_subscriber *sub;
    if (shmipc_pubsub_subscriber_open(name, NULL, &sub))
        return 1;
    char c = 'r';
    if (write(readyfd, &c, 1) != 1)
        return 2;
    if (test_until_futex_wait(getppid(), 30000))
        return 4;
    shmipc_service_info info;
    if (shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &info) || info.stats[PS_STAT_PUBLISHED] != 2)
        return 5;
    for (uint64_t want = 1; want <= 4; want++) {
        shmipc_pubsub_sample s;
        if (shmipc_pubsub_subscriber_receive(sub, &s, 10000) || s.sequence != want)
            return 3;
        shmipc_pubsub_subscriber_release(sub, &s);
    }
    shmipc_pubsub_subscriber_close(sub);
    return 0;
}

static void publisher_waits(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "wait");
    shmipc_pubsub_publisher *pub = mkpub(name, 2, 0, SHMIPC_PUBSUB_WAIT, -1);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t kid = fork();
    if (kid == 0)
        _exit(slow_subscriber(name, ready[1]));
    assert_int_equal(hear(ready[0]), 'r');
    pub_n(pub, 4); /* the 3rd waits until the subscriber starts receiving (the child checks it) */
    assert_int_equal(test_wait(kid, 30000), 0);
    close(ready[0]);
    close(ready[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);

    /* Bounded: -ETIMEDOUT, counted as missed for that subscriber. */
    svc_name(name, sizeof name, "waitto");
    pub = mkpub(name, 2, 0, SHMIPC_PUBSUB_WAIT, 100);
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    pub_n(pub, 2);
    char buf[64] = {0};
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf), -ETIMEDOUT);
    assert_true(test_now_ms() - t0 >= 80);
    assert_int_equal(shmipc_pubsub_subscriber_missed(sub), 1);
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 2);
    shmipc_pubsub_subscriber_close(sub);
    assert_int_equal(shmipc__ps_pool_used(&pub->ps), 0);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void blocking_receive(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "block");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, 0, 0, 0);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t kid = fork();
    if (kid == 0) {
        shmipc_pubsub_opts o;
        shmipc_pubsub_opts_init(&o);
        o.wait_mode = SHMIPC_WAIT_BLOCK;
        shmipc_pubsub_subscriber *sub;
        if (shmipc_pubsub_subscriber_open(name, &o, &sub))
            _exit(1);
        char buf[64];
        shmipc_pubsub_sample info;
        say(ready[1], 'r');
        int n = shmipc_pubsub_subscriber_receive_copy(sub, buf, sizeof buf, -1, &info);
        if (n != 64 || buf[0] != 0 || info.sequence != 1)
            _exit(2);
        n = shmipc_pubsub_subscriber_receive_copy(sub, buf, 10, 5000, NULL);
        _exit(n == -EMSGSIZE ? 0 : 3);
    }
    assert_int_equal(hear(ready[0]), 'r');
    assert_int_equal(test_until_futex_wait(kid, 30000), 0); /* asleep inside the blocking receive */
    pub_n(pub, 2);
    assert_int_equal(test_wait(kid, 10000), 0);
    /* Timeouts. */
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    shmipc_pubsub_sample s;
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), -EAGAIN);
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 50), -ETIMEDOUT);
    assert_true(test_now_ms() - t0 >= 40);
    shmipc_pubsub_subscriber_close(sub);
    close(ready[0]);
    close(ready[1]);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void mismatch(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "mis");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    snprintf(o.type.name, sizeof o.type.name, "sample_v1");
    o.type.size = 64;
    o.max_subscribers = 4;
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    shmipc_pubsub_subscriber *sub;
    shmipc_pubsub_opts w = o;
    w.type.size = 32;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &w, &sub), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "payload size"));
    w = o;
    w.max_subscribers = 8;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &w, &sub), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "max subscribers"));
    w = o;
    snprintf(w.type.name, sizeof w.type.name, "other");
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &w, &sub), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "payload type"));
    w = o;
    w.flags = SHMIPC_PUBSUB_DYNAMIC;
    shmipc_pubsub_publisher *p2;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &w, &p2), -EPROTOTYPE); /* live, incompatible */
    assert_non_null(strstr(shmipc_service_error_detail(), "dynamic"));
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &p2), 0); /* live, compatible: opened */
    shmipc_pubsub_publisher_close(p2);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &o, &sub), 0);
    shmipc_pubsub_subscriber_close(sub);
    /* bad options */
    w = o;
    w.max_subscribers = 49;
    assert_int_equal(shmipc_pubsub_publisher_create("x", &w, &p2), -EINVAL);
    w = o;
    w.payload_size = 100; /* disagrees with type.size */
    assert_int_equal(shmipc_pubsub_publisher_create("x", &w, &p2), -EINVAL);
    assert_int_equal(shmipc_pubsub_subscriber_open("nonexistent-pubsub", NULL, &sub), -ENOENT);
    /* fixed size: len must match */
    char buf[64] = {0};
    assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, buf, 10), -EINVAL);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

/* An endpoint opened with zero options learns what the service has; flags follow the "zero accepts,
 * non-zero requires" rule of every other field. */
static void options_reported_and_flags_required(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "opts");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    snprintf(o.type.name, sizeof o.type.name, "frame_v2");
    o.payload_size = 1000;
    o.payload_align = 64;
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.max_subscribers = 3;
    o.depth = 16;
    o.history = 2;
    o.policy = SHMIPC_PUBSUB_WAIT;
    o.publish_timeout_ms = 250;
    o.wait_mode = SHMIPC_WAIT_SPIN;
    shmipc_pubsub_publisher *pub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    shmipc_pubsub_opts got;
    shmipc_pubsub_opts_init(&got);
    assert_int_equal(shmipc_pubsub_publisher_options(pub, &got), 0);
    assert_int_equal(got.size, sizeof got);
    assert_string_equal(got.type.name, "frame_v2");
    assert_int_equal(got.payload_size, 1000);
    assert_int_equal(got.payload_align, 64);
    assert_int_equal(got.flags, SHMIPC_PUBSUB_DYNAMIC);
    assert_int_equal(got.max_publishers, 4); /* the default, as created */
    assert_int_equal(got.max_subscribers, 3);
    assert_int_equal(got.depth, 16);
    assert_int_equal(got.history, 2);
    assert_int_equal(got.policy, SHMIPC_PUBSUB_WAIT);
    assert_int_equal(got.max_loans, 4);
    assert_int_equal(got.max_held, 4);
    assert_int_equal(got.publish_timeout_ms, 250);
    assert_int_equal(got.wait_mode, SHMIPC_WAIT_SPIN);
    /* What this library hands back, another opens with as is. */
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &got, &sub), 0);
    shmipc_pubsub_subscriber_close(sub);
    /* Zero options: the subscriber learns the geometry from the handle. */
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    shmipc_pubsub_opts_init(&got);
    assert_int_equal(shmipc_pubsub_subscriber_options(sub, &got), 0);
    assert_int_equal(got.payload_size, 1000);
    assert_int_equal(got.flags, SHMIPC_PUBSUB_DYNAMIC);
    assert_int_equal(got.depth, 16);
    assert_int_equal(got.publish_timeout_ms, -1);
    assert_int_equal(got.wait_mode, SHMIPC_WAIT_HYBRID);
    shmipc_pubsub_subscriber_close(sub);
    /* A short or absurd size word, or no handle, is refused and the structure left alone. */
    shmipc_pubsub_opts_init(&got);
    got.size = 8;
    assert_int_equal(shmipc_pubsub_publisher_options(pub, &got), -EINVAL);
    assert_int_equal(got.payload_size, 0);
    got.size = 1u << 20;
    assert_int_equal(shmipc_pubsub_publisher_options(pub, &got), -EINVAL);
    assert_int_equal(shmipc_pubsub_publisher_options(pub, NULL), -EINVAL);
    assert_int_equal(shmipc_pubsub_publisher_options(NULL, &got), -EINVAL);
    assert_int_equal(shmipc_pubsub_subscriber_options(NULL, &got), -EINVAL);
    /* flags: 0 accepts the service's choice, FIXED requires fixed, both together are nonsense. */
    shmipc_pubsub_opts w;
    shmipc_pubsub_opts_init(&w);
    w.flags = SHMIPC_PUBSUB_FIXED;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &w, &sub), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "service is dynamic, caller asked fixed"));
    w.flags = SHMIPC_PUBSUB_DYNAMIC | SHMIPC_PUBSUB_FIXED;
    assert_int_equal(shmipc_pubsub_subscriber_open(name, &w, &sub), -EPROTOTYPE);
    char other[64];
    svc_name(other, sizeof other, "optsx");
    shmipc_pubsub_publisher *p2;
    assert_int_equal(shmipc_pubsub_publisher_create(other, &w, &p2), -EINVAL);
    w.flags = SHMIPC_PUBSUB_FIXED; /* at creation: the default spelled out */
    assert_int_equal(shmipc_pubsub_publisher_create(other, &w, &p2), 0);
    shmipc_pubsub_opts_init(&got);
    assert_int_equal(shmipc_pubsub_publisher_options(p2, &got), 0);
    assert_int_equal(got.flags, SHMIPC_PUBSUB_FIXED);
    assert_int_equal(got.payload_size, 4096);
    w.flags = 0;
    assert_int_equal(shmipc_pubsub_subscriber_open(other, &w, &sub), 0);
    shmipc_pubsub_subscriber_close(sub);
    w.flags = SHMIPC_PUBSUB_DYNAMIC;
    assert_int_equal(shmipc_pubsub_subscriber_open(other, &w, &sub), -EPROTOTYPE);
    shmipc_pubsub_publisher_close(p2);
    svc_remove(other);
    shmipc_pubsub_publisher_close(pub);
    svc_remove(name);
}

static void alignment(void **state)
{
    (void)state;
    static const uint32_t aligns[] = {8, 64, 256, 4096};
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        char name[64];
        svc_name(name, sizeof name, "align");
        shmipc_pubsub_opts o;
        shmipc_pubsub_opts_init(&o);
        o.payload_size = 100;
        o.payload_align = aligns[k];
        o.flags = SHMIPC_PUBSUB_DYNAMIC;
        shmipc_pubsub_publisher *pub;
        assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
        shmipc_pubsub_subscriber *sub;
        assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
        for (int i = 0; i < 6; i++) {
            void *p;
            assert_int_equal(shmipc_pubsub_publisher_loan(pub, 10, &p), 0);
            assert_int_equal((uintptr_t)p % aligns[k], 0);
            assert_int_equal(shmipc_pubsub_publisher_publish(pub, p, (size_t)i), 1);
            shmipc_pubsub_sample s;
            assert_int_equal(shmipc_pubsub_subscriber_receive(sub, &s, 0), 0);
            assert_int_equal((uintptr_t)s.data % aligns[k], 0);
            assert_int_equal(s.size, (size_t)i); /* dynamic: each sample its own length, 0 included */
            shmipc_pubsub_subscriber_release(sub, &s);
        }
        shmipc_pubsub_subscriber_close(sub);
        shmipc_pubsub_publisher_close(pub);
        svc_remove(name);
    }
}

static void gc_removes_unused(void **state)
{
    (void)state;
    char name[64], seg[256], pool[256];
    svc_name(name, sizeof name, "gc");
    shmipc_pubsub_publisher *pub = mkpub(name, 4, 1, 0, 0);
    pub_n(pub, 2);
    shmipc_pubsub_publisher_close(pub);
    shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, name, NULL, seg, sizeof seg);
    shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, name, "pool", pool, sizeof pool);
    shmipc_segment_info si;
    assert_int_equal(shmipc_segment_stat(pool, &si), 0);
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, &r), 0);
    assert_int_equal(r.services_removed, 1);
    assert_int_equal(shmipc_segment_stat(seg, &si), -ENOENT);
    assert_int_equal(shmipc_segment_stat(pool, &si), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_copy),
        cmocka_unit_test(fan_out),
        cmocka_unit_test(multi_publishers),
        cmocka_unit_test(history_late_joiner),
        cmocka_unit_test(drop_oldest),
        cmocka_unit_test(publisher_waits),
        cmocka_unit_test(blocking_receive),
        cmocka_unit_test(mismatch),
        cmocka_unit_test(options_reported_and_flags_required),
        cmocka_unit_test(alignment),
        cmocka_unit_test(gc_removes_unused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
