/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/demo.h - what the demo's processes share: the payloads of the two pub/sub streams, the
 * configuration service's requests and responses, the figures each component reports to the launcher,
 * the names derived from the launcher's tag, and small helpers (clock, checksum, latency histogram,
 * stop flag). Every component is its own program, started (and restarted) by shmipc-demo.
 */
#ifndef SHMIPC_DEMO_H
#define SHMIPC_DEMO_H

#include <shmipc/shmipc.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The components, in start order; the index is also the report channel's component id. */
enum demo_comp { DEMO_CONFIG = 0, DEMO_SENSOR = 1, DEMO_FILTER = 2, DEMO_LOGGER = 3, DEMO_NCOMP = 4 };

/* A sample of the sensor stream ("TAG.sensor"). */
typedef struct demo_sample {
    uint64_t seq;      /* 0, 1, 2, ... per sensor process */
    uint64_t t_ns;     /* CLOCK_MONOTONIC when it was published */
    double value;
    uint32_t checksum; /* demo_checksum over the fields above */
    uint32_t reserved;
} demo_sample;

/* A sample of the filtered stream ("TAG.filtered"): a moving average of the sensor samples. */
typedef struct demo_filtered {
    uint64_t src_seq;  /* the newest sensor sample it includes */
    uint64_t t_ns;     /* that sample's timestamp: the logger measures sensor -> filter -> logger */
    double value;
    uint32_t window;   /* samples averaged */
    uint32_t checksum;
} demo_filtered;

/* The payload types of the two streams, as their services record them (a mismatch is -EPROTOTYPE). */
#define DEMO_SAMPLE_TYPE "demo_sample_v1"
#define DEMO_FILTERED_TYPE "demo_filtered_v1"

/* Configuration keys served by the config service. */
enum demo_cfg_key { DEMO_CFG_SENSOR_RATE = 1, DEMO_CFG_FILTER_WINDOW = 2 };

#define DEMO_CFG_MAGIC 0x47464344u /* "DCFG" */

typedef struct demo_cfg_request {
    uint32_t magic;
    uint32_t key;
} demo_cfg_request;

typedef struct demo_cfg_response {
    uint32_t magic;
    uint32_t key;
    int32_t status; /* 0, or -EINVAL for an unknown key */
    uint32_t value;
} demo_cfg_response;

#define DEMO_REPORT_MAGIC 0x504f5244u /* "DROP" */

/*
 * What a component tells the launcher once a second through its report channel. Counters are cumulative
 * for the process (a restarted component starts again from 0); latencies are over the last second
 * (window) and since the start (total), in nanoseconds.
 */
typedef struct demo_report {
    uint32_t magic;
    uint32_t comp;
    int32_t pid;
    uint32_t param;          /* sensor: samples/s in use; filter: window in use */
    uint64_t t_ns;
    uint64_t published;      /* sensor: samples published; filter: filtered samples published */
    uint64_t received[2];    /* filter: [0] sensor samples; logger: [0] sensor, [1] filtered samples */
    uint64_t lost[2];        /* logger: samples missing from each stream (sequence gaps) */
    uint64_t gaps[2];        /* logger: gap events in each stream */
    uint64_t overflow[2];    /* samples the subscriber queues dropped (it fell behind): logger both,
                                filter [0] */
    uint64_t last_gap[2];    /* logger: size of the latest gap */
    uint64_t bad_checksum[2]; /* logger: samples of each stream that failed their checksum */
    uint64_t cfg_requests;   /* config: served; others: answered requests made */
    uint64_t errors;         /* failed calls (publish, receive, config) */
    uint64_t lat_p50[2], lat_p99[2];           /* logger: window */
    uint64_t tot_p50[2], tot_p99[2], tot_max[2]; /* logger: whole run */
} demo_report;

/* Names: services "TAG.sensor", "TAG.filtered", "TAG.config"; report channel "/TAG.report.COMP". */
#define DEMO_NAME_MAX 96
const char *demo_comp_name(int comp);
void demo_service_name(char *buf, size_t size, const char *tag, const char *what);
void demo_report_name(char *buf, size_t size, const char *tag, int comp);

/* CLOCK_MONOTONIC in nanoseconds (the same clock in every process). */
uint64_t demo_now_ns(void);
/* Sleep ms milliseconds (fewer if a signal arrives). */
void demo_sleep_ms(unsigned ms);

/* FNV-1a over len bytes: the payload checksum. */
uint32_t demo_checksum(const void *p, size_t len);
uint32_t demo_sample_checksum(const demo_sample *s);
uint32_t demo_filtered_checksum(const demo_filtered *f);

/* Set by SIGTERM / SIGINT (or by the program itself); polled by every thread, hence atomic (lock-free,
 * so a signal handler may store it). demo_on_stop installs the handler (no SA_RESTART, so a sleeping
 * call returns early). */
extern atomic_int demo_stop;
void demo_on_stop(void);

/* A component's connection to the launcher: the producer end of its report channel. */
typedef struct demo_reporter {
    shmipc_channel *ch;
    char name[DEMO_NAME_MAX];
    int comp;
} demo_reporter;

/* Open the report channel (retrying for a while: the launcher creates it). Returns 0 or -errno. */
int demo_reporter_open(demo_reporter *r, const char *tag, int comp);
/* Fill in the header fields and send (never waits: the channel drops the oldest report when full). */
void demo_reporter_send(demo_reporter *r, demo_report *rep);
void demo_reporter_close(demo_reporter *r);

/* Latency histogram: 16 linear steps per power of two (about 6% resolution), up to ~68 s. */
#define DEMO_HIST_BUCKETS (36 * 16)
typedef struct demo_hist {
    uint64_t count;
    uint64_t max;
    uint32_t bucket[DEMO_HIST_BUCKETS];
} demo_hist;
void demo_hist_add(demo_hist *h, uint64_t ns);
/* The value below which a fraction q (0..1) of the recorded values fall; 0 if none. */
uint64_t demo_hist_quantile(const demo_hist *h, double q);

/* Parse the component's command line: TAG plus "--key value" pairs into the given integers. */
typedef struct demo_arg {
    const char *key;
    unsigned *value;
} demo_arg;
int demo_parse_args(int argc, char **argv, const char **tag, demo_arg *args, size_t nargs);

/* How every component starts: parse TAG and options, install the stop handler, open the report channel.
 * Returns 0, or the status the program should exit with (2: bad arguments, 1: no report channel). */
int demo_component_init(int argc, char **argv, int comp, demo_arg *args, size_t nargs, const char **tag,
                        demo_reporter *rep);

/* Pub/sub options with the payload type set (name, size, alignment 8); the rest default. */
void demo_pubsub_opts(shmipc_pubsub_opts *o, const char *type, size_t size);
/* Subscribe to service name, waiting up to 10 s for its publisher to create it; who names the caller in
 * the error message. Returns 0 or -errno. */
int demo_subscribe(const char *who, const char *name, const char *type, size_t size, shmipc_pubsub_subscriber **sub);

/* A client of the configuration service that reconnects when the service restarts. */
typedef struct demo_cfg_client {
    shmipc_reqresp_client *cli;
    char name[DEMO_NAME_MAX];
    uint64_t answered, errors;
} demo_cfg_client;
void demo_cfg_init(demo_cfg_client *c, const char *tag);
/* Ask for key; on success store the value in *value and return 0, else keep *value, return -errno. */
int demo_cfg_get(demo_cfg_client *c, uint32_t key, unsigned *value);
/* demo_cfg_get, retried for about a second: the config service may still be starting (or restarting). */
int demo_cfg_get_first(demo_cfg_client *c, uint32_t key, unsigned *value);
void demo_cfg_close(demo_cfg_client *c);

#endif
