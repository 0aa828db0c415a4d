/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/common.c - helpers every demo program links: names, clock, checksums, the stop flag, the
 * report channel to the launcher, the latency histogram, argument parsing and the reconnecting client
 * of the configuration service.
 */
#include "demo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

atomic_int demo_stop;

static const char *const comp_names[DEMO_NCOMP] = {"config", "sensor", "filter", "logger"};

const char *demo_comp_name(int comp)
{
    return comp >= 0 && comp < DEMO_NCOMP ? comp_names[comp] : "?";
}

void demo_service_name(char *buf, size_t size, const char *tag, const char *what)
{
    snprintf(buf, size, "%s.%s", tag, what);
}

void demo_report_name(char *buf, size_t size, const char *tag, int comp)
{
    snprintf(buf, size, "/%s.report.%s", tag, demo_comp_name(comp));
}

uint64_t demo_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void demo_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint32_t demo_checksum(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t demo_sample_checksum(const demo_sample *s)
{
    return demo_checksum(s, offsetof(demo_sample, checksum));
}

uint32_t demo_filtered_checksum(const demo_filtered *f)
{
    return demo_checksum(f, offsetof(demo_filtered, checksum));
}

static void on_signal(int sig)
{
    (void)sig;
    demo_stop = 1;
}

void demo_on_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleeping wait returns early and the loop sees the flag */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int demo_reporter_open(demo_reporter *r, const char *tag, int comp)
{
    memset(r, 0, sizeof *r);
    r->comp = comp;
    demo_report_name(r->name, sizeof r->name, tag, comp);
    /* The launcher creates the channel before starting us; a restarted component takes over the endpoint
     * its dead predecessor held. Retry briefly in case we raced a takeover by nobody (never expected). */
    int err = -ENOENT;
    for (int i = 0; i < 50 && !demo_stop; i++) {
        err = shmipc_channel_open(r->name, SHMIPC_CHANNEL_PRODUCER, NULL, &r->ch);
        if (err != -ENOENT && err != -EBUSY)
            break;
        demo_sleep_ms(100);
    }
    if (err)
        fprintf(stderr, "%s: cannot open report channel %s: %s\n", demo_comp_name(comp), r->name,
                shmipc_strerror(err));
    return err;
}

void demo_reporter_send(demo_reporter *r, demo_report *rep)
{
    rep->magic = DEMO_REPORT_MAGIC;
    rep->comp = (uint32_t)r->comp;
    rep->pid = (int32_t)getpid();
    rep->t_ns = demo_now_ns();
    if (r->ch)
        shmipc_channel_send(r->ch, rep, sizeof *rep, 0);
}

void demo_reporter_close(demo_reporter *r)
{
    shmipc_channel_close(r->ch);
    r->ch = NULL;
}

static unsigned hist_bucket(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= 4 */
    unsigned b = (e - 3) * 16 + (unsigned)((v >> (e - 4)) & 15);
    return b < DEMO_HIST_BUCKETS ? b : DEMO_HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned b)
{
    if (b < 16)
        return b;
    unsigned e = b / 16 + 3, sub = b % 16;
    uint64_t step = 1ull << (e - 4);
    return ((16ull + sub) << (e - 4)) + step / 2; /* middle of the bucket */
}

void demo_hist_add(demo_hist *h, uint64_t ns)
{
    h->bucket[hist_bucket(ns)]++;
    h->count++;
    if (ns > h->max)
        h->max = ns;
}

uint64_t demo_hist_quantile(const demo_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count);
    if (want >= h->count)
        want = h->count - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < DEMO_HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen > want) {
            uint64_t v = hist_value(b);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

int demo_parse_args(int argc, char **argv, const char **tag, demo_arg *args, size_t nargs)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s TAG [--option N]... (started by shmipc-demo)\n", argv[0]);
        return -EINVAL;
    }
    *tag = argv[1];
    for (int i = 2; i < argc; i += 2) {
        size_t k = 0;
        while (k < nargs && (strncmp(argv[i], "--", 2) || strcmp(argv[i] + 2, args[k].key)))
            k++;
        char *end = NULL;
        unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
        if (k == nargs || !end || *end || end == argv[i + 1] || v > 1000000) {
            fprintf(stderr, "%s: bad option '%s'\n", argv[0], argv[i]);
            return -EINVAL;
        }
        *args[k].value = (unsigned)v;
    }
    return 0;
}

int demo_component_init(int argc, char **argv, int comp, demo_arg *args, size_t nargs, const char **tag,
                        demo_reporter *rep)
{
    if (demo_parse_args(argc, argv, tag, args, nargs))
        return 2;
    demo_on_stop();
    return demo_reporter_open(rep, *tag, comp) ? 1 : 0;
}

void demo_pubsub_opts(shmipc_pubsub_opts *o, const char *type, size_t size)
{
    shmipc_pubsub_opts_init(o);
    snprintf(o->type.name, sizeof o->type.name, "%s", type);
    o->type.size = size;
    o->type.align = 8;
}

int demo_subscribe(const char *who, const char *name, const char *type, size_t size, shmipc_pubsub_subscriber **sub)
{
    shmipc_pubsub_opts o;
    demo_pubsub_opts(&o, type, size);
    int err = -ENOENT;
    for (int i = 0; i < 200 && !demo_stop; i++) {
        err = shmipc_pubsub_subscriber_open(name, &o, sub);
        if (err != -ENOENT)
            break;
        demo_sleep_ms(50);
    }
    if (err)
        fprintf(stderr, "%s: cannot subscribe to %s: %s\n", who, name, shmipc_strerror(err));
    return err;
}

void demo_cfg_init(demo_cfg_client *c, const char *tag)
{
    memset(c, 0, sizeof *c);
    demo_service_name(c->name, sizeof c->name, tag, "config");
}

int demo_cfg_get(demo_cfg_client *c, uint32_t key, unsigned *value)
{
    if (!c->cli) {
        int err = shmipc_reqresp_client_open(c->name, NULL, &c->cli);
        if (err) {
            c->errors++;
            return err;
        }
    }
    demo_cfg_request req = {.magic = DEMO_CFG_MAGIC, .key = key};
    demo_cfg_response resp;
    int n = shmipc_reqresp_client_call(c->cli, &req, sizeof req, &resp, sizeof resp, NULL, 500);
    if (n < 0) {
        /* The server died or was replaced: drop the connection, the next call reconnects. */
        shmipc_reqresp_client_close(c->cli);
        c->cli = NULL;
        c->errors++;
        return n;
    }
    if ((size_t)n != sizeof resp || resp.magic != DEMO_CFG_MAGIC || resp.key != key || resp.status != 0) {
        c->errors++;
        return -EBADMSG;
    }
    c->answered++;
    *value = resp.value;
    return 0;
}

int demo_cfg_get_first(demo_cfg_client *c, uint32_t key, unsigned *value)
{
    int err = demo_cfg_get(c, key, value);
    for (int i = 0; i < 20 && err && !demo_stop; i++) {
        demo_sleep_ms(50);
        err = demo_cfg_get(c, key, value);
    }
    return err;
}

void demo_cfg_close(demo_cfg_client *c)
{
    shmipc_reqresp_client_close(c->cli);
    c->cli = NULL;
}
