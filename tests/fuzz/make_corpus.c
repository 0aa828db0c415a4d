/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/make_corpus.c - writes the seed corpus: valid segments of each kind, so the fuzzer starts
 * from the shapes a real peer produces. Usage: make_corpus OUTDIR. Each layer adds its generator here.
 */
#include "harness.h"
#include "segment/segment_internal.h"
#include "service/service_internal.h"

#include <shmipc/blackboard.h>
#include <shmipc/channel.h>
#include <shmipc/event.h>
#include <shmipc/evsvc.h>
#include <shmipc/pubsub.h>
#include <shmipc/queue.h>
#include <shmipc/reqresp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dump(const char *dir, const char *harness, const char *file, const shmipc_segment *s)
{
    char path[512];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, harness, file);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t total = SHMIPC_SEGMENT_HEADER_SIZE + shmipc_segment_data_size(s);
    size_t n = fwrite((const char *)shmipc_segment_data(s) - SHMIPC_SEGMENT_HEADER_SIZE, 1, total, f);
    fclose(f);
    return n == total ? 0 : -1;
}

static int seg_corpus(const char *dir)
{
    static const size_t sizes[] = {64, 200, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        shmipc_segment *s;
        shmipc_segment_opts o = {.size = sizeof o, .type = (uint32_t)i};
        if (shmipc_segment_memfd_create("corpus", sizes[i], &o, &s))
            return -1;
        memset(shmipc_segment_data(s), (int)i, sizes[i]);
        char file[64];
        snprintf(file, sizeof file, "valid-%zu", sizes[i]);
        int err = dump(dir, "fuzz_segment", file, s);
        shmipc_segment_close(s);
        if (err)
            return -1;
    }
    return 0;
}

/* Events: fresh, posted a few times, and one with an announced waiter left behind (a dead sleeper). */
static int event_corpus(const char *dir)
{
    for (int i = 0; i < 3; i++) {
        shmipc_segment *s;
        shmipc_segment_opts o = {.size = sizeof o, .type = SHMIPC_TYPE_EVENT};
        if (shmipc_segment_memfd_create("corpus", SHMIPC_EVENT_SIZE, &o, &s))
            return -1;
        shmipc_event *ev;
        if (shmipc_event_create_in(shmipc_segment_data(s), SHMIPC_EVENT_SIZE) ||
            shmipc_event_open_in(shmipc_segment_data(s), SHMIPC_EVENT_SIZE, NULL, &ev)) {
            shmipc_segment_close(s);
            return -1;
        }
        for (int k = 0; k < i * 3; k++)
            shmipc_event_post(ev);
        shmipc_event_close(ev);
        if (i == 2) /* notify.waiters: a sleeper that never left */
            ((uint32_t *)shmipc_segment_data(s))[3] = 1;
        char file[64];
        snprintf(file, sizeof file, "event-%d", i);
        int err = dump(dir, "fuzz_event", file, s);
        shmipc_segment_close(s);
        if (err)
            return -1;
    }
    return 0;
}

/* Channels of each policy and a few capacities, holding messages, some wrapped around the ring's end
 * (a padding record), left by a producer and a consumer that have since exited. */
static int channel_corpus(const char *dir)
{
    static const size_t caps[] = {64, 256, 1024};
    static uint8_t msg[600];
    memset(msg, 0x42, sizeof msg);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        for (int policy = 0; policy <= SHMIPC_CHANNEL_FULL_OVERWRITE; policy++) {
            shmipc_segment *s;
            shmipc_segment_opts so = {.size = sizeof so, .type = SHMIPC_TYPE_CHANNEL};
            if (shmipc_segment_memfd_create("corpus", shmipc_channel_size(caps[c]), &so, &s))
                return -1;
            shmipc_channel_opts o = {
                .size = sizeof o, .capacity = caps[c], .full_policy = (shmipc_channel_full_policy)policy};
            shmipc_channel *p, *q;
            if (shmipc_channel_create_in(s, &o, &p) ||
                shmipc_channel_open_in(s, SHMIPC_CHANNEL_CONSUMER, NULL, &q)) {
                shmipc_segment_close(s);
                return -1;
            }
            size_t max = shmipc_channel_max_msg(p);
            /* Fill, drain part, refill: the indices wrap and messages straddle the end (padding). */
            for (size_t k = 0; k < 12; k++)
                shmipc_channel_send(p, msg, (k * 13 + c) % (max + 1), 0);
            for (int k = 0; k < 3; k++)
                shmipc_channel_recv(q, msg, sizeof msg, 0);
            for (size_t k = 0; k < 5; k++)
                shmipc_channel_send(p, msg, (k * 29) % (max + 1), 0);
            shmipc_channel_close(p); /* the consumer's slot keeps its (soon dead) owner */
            char file[64];
            snprintf(file, sizeof file, "channel-%zu-%d", caps[c], policy);
            int err = dump(dir, "fuzz_channel", file, s);
            shmipc_channel_close(q);
            shmipc_segment_close(s);
            if (err)
                return -1;
        }
    }
    return 0;
}

/* Services of each pattern (and the core's test pattern), under the name fuzz_service substitutes, with
 * participants: one that left, and one still registered by this process (dead when the fuzzer reads it,
 * so reclaim runs). */
static int service_corpus(const char *dir)
{
    static const shmipc_pattern pats[] = {SHMIPC_PATTERN_PUBSUB, SHMIPC_PATTERN_REQRESP, SHMIPC_PATTERN_BLACKBOARD,
                                          SHMIPC_PATTERN_EVENT, SHMIPC__PATTERN_TEST};
    static const char *const stats[] = {"sent", "received"};
    static const shmipc_type_info type = {.name = "fuzz_t", .size = 8, .align = 8};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        shmipc__svc_params p = {.pattern = pats[i], .name = FUZZ_SEED_SERVICE, .type = i % 2 ? &type : NULL,
                                .max_participants = 4, .pattern_size = 128, .nstats = 2, .stat_names = stats};
        shmipc__svc svc;
        if (shmipc__svc_create(&p, &svc))
            return -1;
        shmipc__svc_publish(&svc);
        int a = shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0);
        int b = shmipc__svc_join(&svc, SHMIPC_ROLE_SUBSCRIBER, 1);
        if (a >= 0)
            shmipc__svc_leave(&svc, (uint32_t)a);
        shmipc__svc_stat_add(&svc, 0, 7);
        char file[64];
        snprintf(file, sizeof file, "service-%s", shmipc_service_pattern_name(pats[i]));
        int err = b < 0 ? -1 : dump(dir, "fuzz_service", file, svc.seg);
        shmipc_segment_unlink(svc.segname);
        shmipc__svc_close(&svc);
        if (err)
            return -1;
    }
    return 0;
}

/* Queues of a few shapes holding messages, with a handle still registered and a zero-copy claim still
 * held by this process (dead when the fuzzer reads the bytes: its entry is reclaimed, its slot repaired). */
static int queue_corpus(const char *dir)
{
    static const uint32_t shapes[][3] = {{2, 16, 2}, {4, 64, 4}, {8, 8, 3}};
    static uint8_t msg[64];
    memset(msg, 0x24, sizeof msg);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        shmipc_queue_opts o = {.size = sizeof o, .slot_count = shapes[i][0], .slot_size = shapes[i][1],
                               .max_participants = shapes[i][2]};
        size_t need;
        shmipc_segment *s;
        shmipc_segment_opts so = {.size = sizeof so, .type = SHMIPC_TYPE_QUEUE};
        if (shmipc_queue_memory_size(&o, &need) || shmipc_segment_memfd_create("corpus", need, &so, &s))
            return -1;
        shmipc_queue *q;
        if (shmipc_queue_create_in(s, &o) || shmipc_queue_open_in(s, &o, &q)) {
            shmipc_segment_close(s);
            return -1;
        }
        for (uint32_t k = 0; k < shapes[i][0] + 1; k++)
            shmipc_queue_push(q, msg, k % (shapes[i][1] + 1), 0);
        shmipc_queue_pop(q, msg, sizeof msg, 0);
        shmipc_queue_claim c;
        if (i == 1)
            shmipc_queue_pop_claim(q, &c, 0);
        char file[64];
        snprintf(file, sizeof file, "queue-%u-%u", shapes[i][0], shapes[i][1]);
        int err = dump(dir, "fuzz_queue", file, s);
        shmipc_queue_close(q);
        shmipc_segment_close(s);
        if (err)
            return -1;
    }
    return 0;
}

/* Copy the /dev/shm object of the service FUZZ_SEED_SERVICE of pattern into the corpus of harness and of
 * fuzz_service (which takes any service). */

static int dump_service(const char *dir, const char *harness, shmipc_pattern pattern, const char *file)
{
    char seg[256], path[512];
    if (shmipc__svc_segname(pattern, FUZZ_SEED_SERVICE, NULL, seg, sizeof seg))
        return -1;
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    FILE *in = fopen(path, "rb");
    if (!in)
        return -1;
    static uint8_t bytes[1u << 20];
    size_t n = fread(bytes, 1, sizeof bytes, in);
    fclose(in);
    const char *harnesses[] = {harness, "fuzz_service"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, harnesses[i]);
        mkdir(dir, 0755);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/%s", dir, harnesses[i], file);
        FILE *f = fopen(path, "wb");
        if (!f)
            return -1;
        size_t w = fwrite(bytes, 1, n, f);
        fclose(f);
        if (w != n)
            return -1;
    }
    return 0;
}

/* Blackboards of two shapes, dumped with their writer and a reader registered (dead when the fuzzer reads
 * them), then after both closed. */
static int blackboard_corpus(const char *dir)
{
    static const uint32_t shapes[][2] = {{16, 4}, {100, 1}};
    static uint8_t v[128];
    for (size_t i = 0; i < 2; i++) {
        shmipc_blackboard_opts o = {
            .size = sizeof o, .value_size = shapes[i][0], .entries = shapes[i][1], .max_readers = 4};
        shmipc_blackboard_writer *w;
        shmipc_blackboard_reader *r;
        shmipc_blackboard_unlink(FUZZ_SEED_SERVICE);
        if (shmipc_blackboard_writer_create(FUZZ_SEED_SERVICE, &o, &w))
            return -1;
        if (shmipc_blackboard_reader_open(FUZZ_SEED_SERVICE, NULL, &r)) {
            shmipc_blackboard_writer_close(w);
            return -1;
        }
        for (uint32_t k = 0; k < shapes[i][1] && k < 3; k++)
            for (int n = 0; n <= (int)k; n++) {
                memset(v, (int)(k * 16 + (uint32_t)n), sizeof v);
                shmipc_blackboard_write(w, k, v, shapes[i][0]);
            }
        shmipc_blackboard_read(r, 0, v, sizeof v, NULL);
        char file[64];
        snprintf(file, sizeof file, "blackboard-%u-%u-live", shapes[i][0], shapes[i][1]);
        int err = dump_service(dir, "fuzz_blackboard", SHMIPC_PATTERN_BLACKBOARD, file);
        shmipc_blackboard_reader_close(r);
        shmipc_blackboard_writer_close(w);
        snprintf(file, sizeof file, "blackboard-%u-%u-closed", shapes[i][0], shapes[i][1]);
        if (!err)
            err = dump_service(dir, "fuzz_blackboard", SHMIPC_PATTERN_BLACKBOARD, file);
        shmipc_blackboard_unlink(FUZZ_SEED_SERVICE);
        if (err)
            return -1;
    }
    return 0;
}

/* An event service with a listener and a notifier registered and events pending. */
static int evsvc_corpus(const char *dir)
{
    shmipc_evsvc_opts o = {.size = sizeof o, .max_events = 16, .max_participants = 4};
    shmipc_evsvc_listener *l;
    shmipc_evsvc_notifier *n;
    shmipc_evsvc_unlink(FUZZ_SEED_SERVICE);
    if (shmipc_evsvc_listener_open(FUZZ_SEED_SERVICE, &o, &l))
        return -1;
    if (shmipc_evsvc_notifier_create(FUZZ_SEED_SERVICE, &o, &n)) {
        shmipc_evsvc_listener_close(l);
        return -1;
    }
    for (uint32_t id = 0; id < 6; id++)
        shmipc_evsvc_notifier_notify(n, id % 3 * 5);
    shmipc_evsvc_listener_wait(l, 0, NULL);
    int err = dump_service(dir, "fuzz_evsvc", SHMIPC_PATTERN_EVENT, "evsvc-live");
    shmipc_evsvc_notifier_close(n);
    if (!err)
        err = dump_service(dir, "fuzz_evsvc", SHMIPC_PATTERN_EVENT, "evsvc-listener-only");
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_unlink(FUZZ_SEED_SERVICE);
    return err;
}

/* A request/response service with a server and a client registered, requests and responses in flight. */
static int reqresp_corpus(const char *dir)
{
    shmipc_reqresp_opts o = {.size = sizeof o, .max_request = 32, .max_response = 48, .depth = 4, .max_clients = 3};
    shmipc_reqresp_server *s;
    shmipc_reqresp_client *c;
    static uint8_t b[64];
    shmipc_reqresp_unlink(FUZZ_SEED_SERVICE);
    if (shmipc_reqresp_server_create(FUZZ_SEED_SERVICE, &o, &s))
        return -1;
    if (shmipc_reqresp_client_open(FUZZ_SEED_SERVICE, NULL, &c)) {
        shmipc_reqresp_server_close(s);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        memset(b, i, sizeof b);
        shmipc_reqresp_client_send(c, b, (size_t)i * 10, NULL, 0);
    }
    shmipc_reqresp_request_info ri;
    int len = shmipc_reqresp_server_receive(s, &ri, b, sizeof b, 0);
    if (len >= 0) {
        shmipc_reqresp_server_respond(s, &ri, b, 5, SHMIPC_RR_MORE, 0);
        shmipc_reqresp_server_respond(s, &ri, b, 40, 0, 0);
    }
    int err = dump_service(dir, "fuzz_reqresp", SHMIPC_PATTERN_REQRESP, "reqresp-live");
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_server_close(s);
    if (!err)
        err = dump_service(dir, "fuzz_reqresp", SHMIPC_PATTERN_REQRESP, "reqresp-closed");
    shmipc_reqresp_unlink(FUZZ_SEED_SERVICE);
    return err;
}

/* Read /dev/shm<seg> into buf (cap bytes); returns the length or -1. */
static long read_object(const char *seg, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    FILE *in = fopen(path, "rb");
    if (!in)
        return -1;
    size_t n = fread(buf, 1, cap, in);
    fclose(in);
    return (long)n;
}

/* Publish/subscribe services (fixed and dynamic sizes) with a publisher and a subscriber registered,
 * samples queued, one received and held, one loaned: the main segment and the pool, as fuzz_pubsub takes
 * them (4-byte length of the main segment, main, pool). */
static int pubsub_corpus(const char *dir)
{
    static uint8_t bytes[1u << 19];
    static uint8_t msg[256];
    for (int dyn = 0; dyn < 2; dyn++) {
        shmipc_pubsub_opts o = {.size = sizeof o,
                                .payload_size = 64,
                                .max_publishers = 2,
                                .max_subscribers = 2,
                                .depth = 4,
                                .history = 2,
                                .max_loans = 2,
                                .max_held = 2,
                                .flags = dyn ? SHMIPC_PUBSUB_DYNAMIC : 0u};
        shmipc_pubsub_publisher *p;
        shmipc_pubsub_subscriber *sub;
        char seg[256], pool[256];
        if (shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, FUZZ_SEED_SERVICE, NULL, seg, sizeof seg) ||
            shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, FUZZ_SEED_SERVICE, "pool", pool, sizeof pool))
            return -1;
        shmipc_segment_unlink(seg);
        shmipc_segment_unlink(pool);
        if (shmipc_pubsub_publisher_create(FUZZ_SEED_SERVICE, &o, &p))
            return -1;
        for (int i = 0; i < 3; i++)
            shmipc_pubsub_publisher_publish_copy(p, msg, dyn ? (size_t)i * 20 : 64);
        if (shmipc_pubsub_subscriber_open(FUZZ_SEED_SERVICE, &o, &sub)) {
            shmipc_pubsub_publisher_close(p);
            return -1;
        }
        for (int i = 0; i < 3; i++)
            shmipc_pubsub_publisher_publish_copy(p, msg, dyn ? (size_t)i * 7 : 64);
        shmipc_pubsub_sample smp;
        shmipc_pubsub_subscriber_receive(sub, &smp, 0);
        void *loan;
        shmipc_pubsub_publisher_loan(p, 0, &loan);
        uint32_t main_len = 0;
        long m = read_object(seg, bytes + 4, sizeof bytes - 4);
        long q = m < 0 ? -1 : read_object(pool, bytes + 4 + m, sizeof bytes - 4 - (size_t)m);
        shmipc_pubsub_subscriber_close(sub);
        shmipc_pubsub_publisher_close(p);
        shmipc_segment_unlink(seg);
        shmipc_segment_unlink(pool);
        if (q < 0)
            return -1;
        main_len = (uint32_t)m;
        memcpy(bytes, &main_len, sizeof main_len);
        char path[512];
        snprintf(path, sizeof path, "%s/fuzz_pubsub", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/fuzz_pubsub/pubsub-%s", dir, dyn ? "dynamic" : "fixed");
        FILE *f = fopen(path, "wb");
        if (!f)
            return -1;
        size_t total = 4 + (size_t)m + (size_t)q;
        size_t w = fwrite(bytes, 1, total, f);
        fclose(f);
        if (w != total)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUTDIR\n");
        return 2;
    }
    if (seg_corpus(argv[1]) || event_corpus(argv[1]) || channel_corpus(argv[1]) || service_corpus(argv[1]) ||
        queue_corpus(argv[1]) || blackboard_corpus(argv[1]) || evsvc_corpus(argv[1]) ||
        reqresp_corpus(argv[1]) || pubsub_corpus(argv[1])) {
        perror("make_corpus");
        return 1;
    }
    return 0;
}
