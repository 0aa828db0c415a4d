/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/sensor.c - shmipc-demo-sensor: publishes samples (sequence, timestamp, value, checksum)
 * on the zero-copy pub/sub service "TAG.sensor" at the rate the configuration service gives, writing
 * each sample straight into a chunk of the shared pool. It asks for the rate at start and every 2 s.
 * Usage: shmipc-demo-sensor TAG
 */
#include "demo.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Rates the sensor accepts from the configuration service. */
#define RATE_MIN 10u
#define RATE_MAX 20000u

int main(int argc, char **argv)
{
    const char *tag;
    demo_reporter rep;
    int status = demo_component_init(argc, argv, DEMO_SENSOR, NULL, 0, &tag, &rep);
    if (status)
        return status;
    demo_cfg_client cfg;
    demo_cfg_init(&cfg, tag);
    unsigned rate = 1000;
    demo_cfg_get_first(&cfg, DEMO_CFG_SENSOR_RATE, &rate);

    char name[DEMO_NAME_MAX];
    demo_service_name(name, sizeof name, tag, "sensor");
    shmipc_pubsub_opts o;
    demo_pubsub_opts(&o, DEMO_SAMPLE_TYPE, sizeof(demo_sample));
    o.max_publishers = 2;
    o.max_subscribers = 4;
    o.depth = 256;   /* a quarter of a second of slack for a subscriber that falls behind */
    o.max_held = 24; /* the filter holds its whole window in place */
    shmipc_pubsub_publisher *pub;
    int err = shmipc_pubsub_publisher_create(name, &o, &pub);
    if (err) {
        fprintf(stderr, "sensor: cannot publish %s: %s\n", name, shmipc_strerror(err));
        demo_cfg_close(&cfg);
        demo_reporter_close(&rep);
        return 1;
    }

    demo_report r;
    memset(&r, 0, sizeof r);
    uint64_t seq = 0, now = demo_now_ns();
    uint64_t next = now, next_report = now, next_cfg = now + 2000000000u;
    while (!demo_stop) {
        if (rate < RATE_MIN || rate > RATE_MAX)
            rate = 1000;
        void *chunk;
        err = shmipc_pubsub_publisher_loan(pub, sizeof(demo_sample), &chunk);
        if (err == 0) {
            demo_sample *s = chunk;
            s->seq = seq;
            s->value = 20.0 + 5.0 * sin((double)seq * 0.01) + 0.5 * sin((double)seq * 1.7);
            s->reserved = 0;
            s->t_ns = demo_now_ns();
            s->checksum = demo_sample_checksum(s);
            err = shmipc_pubsub_publisher_publish(pub, chunk, sizeof(demo_sample));
        }
        if (err >= 0) {
            seq++;
            r.published++;
        } else {
            r.errors++;
        }
        now = demo_now_ns();
        if (now >= next_cfg) {
            demo_cfg_get(&cfg, DEMO_CFG_SENSOR_RATE, &rate);
            next_cfg = now + 2000000000u;
        }
        if (now >= next_report) {
            r.param = rate;
            r.cfg_requests = cfg.answered;
            demo_reporter_send(&rep, &r);
            next_report = now + 1000000000u;
        }
        /* Absolute deadlines keep the rate exact; after a long stall (machine busy) start afresh
         * rather than publish a burst. */
        next += 1000000000u / rate;
        if (now > next + 100000000u)
            next = now;
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u), .tv_nsec = (long)(next % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    r.param = rate;
    r.cfg_requests = cfg.answered;
    demo_reporter_send(&rep, &r); /* the final figures */
    shmipc_pubsub_publisher_close(pub);
    demo_cfg_close(&cfg);
    demo_reporter_close(&rep);
    return 0;
}
