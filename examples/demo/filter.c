/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/filter.c - shmipc-demo-filter: subscribes to "TAG.sensor" and publishes the moving
 * average of the last WINDOW samples on "TAG.filtered". The window's samples are held in place in the
 * sensor's pool (zero-copy: nothing is copied out), so killing this process leaves chunks held by a dead
 * participant: the demo shows them reclaimed. The window comes from the configuration service, asked at
 * start and every 2 s.
 * Usage: shmipc-demo-filter TAG
 */
#include "demo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The sensor service lets a subscriber hold 24 samples; one more is received before the oldest goes. */
#define WINDOW_MAX 16u

int main(int argc, char **argv)
{
    const char *tag;
    demo_reporter rep;
    int status = demo_component_init(argc, argv, DEMO_FILTER, NULL, 0, &tag, &rep);
    if (status)
        return status;
    demo_cfg_client cfg;
    demo_cfg_init(&cfg, tag);
    unsigned window = 8;
    demo_cfg_get_first(&cfg, DEMO_CFG_FILTER_WINDOW, &window);

    char in_name[DEMO_NAME_MAX], out_name[DEMO_NAME_MAX];
    demo_service_name(in_name, sizeof in_name, tag, "sensor");
    demo_service_name(out_name, sizeof out_name, tag, "filtered");
    shmipc_pubsub_subscriber *sub = NULL;
    shmipc_pubsub_publisher *pub = NULL;
    int err = demo_subscribe("filter", in_name, DEMO_SAMPLE_TYPE, sizeof(demo_sample), &sub);
    if (!err) {
        shmipc_pubsub_opts o;
        demo_pubsub_opts(&o, DEMO_FILTERED_TYPE, sizeof(demo_filtered));
        o.max_publishers = 4;
        o.max_subscribers = 4;
        o.depth = 256;
        err = shmipc_pubsub_publisher_create(out_name, &o, &pub);
        if (err)
            fprintf(stderr, "filter: cannot publish %s: %s\n", out_name, shmipc_strerror(err));
    }

    shmipc_pubsub_sample held[WINDOW_MAX + 1];
    unsigned nheld = 0;
    demo_report r;
    memset(&r, 0, sizeof r);
    uint64_t now = demo_now_ns(), next_report = now, next_cfg = now + 2000000000u;
    while (!err && !demo_stop) {
        if (window < 1 || window > WINDOW_MAX)
            window = 8;
        shmipc_pubsub_sample s;
        int rc = shmipc_pubsub_subscriber_receive(sub, &s, 100);
        if (rc == 0) {
            const demo_sample *in = s.data;
            r.received[0]++;
            /* The pool is shared memory another process writes: check before use. */
            if (s.size != sizeof *in || in->checksum != demo_sample_checksum(in)) {
                shmipc_pubsub_subscriber_release(sub, &s);
                r.errors++;
            } else {
                held[nheld++] = s;
                while (nheld > window) { /* let go of the oldest: its chunk may return to the pool */
                    shmipc_pubsub_subscriber_release(sub, &held[0]);
                    memmove(held, held + 1, --nheld * sizeof held[0]);
                }
                double sum = 0;
                for (unsigned i = 0; i < nheld; i++)
                    sum += ((const demo_sample *)held[i].data)->value;
                demo_filtered f = {.src_seq = in->seq, .t_ns = in->t_ns, .value = sum / nheld, .window = nheld};
                f.checksum = demo_filtered_checksum(&f);
                if (shmipc_pubsub_publisher_publish_copy(pub, &f, sizeof f) >= 0)
                    r.published++;
                else
                    r.errors++;
            }
        } else if (rc != -ETIMEDOUT && rc != -EINTR && rc != -EAGAIN) {
            r.errors++;
            if (rc == -EPIPE) /* we were reclaimed as dead (a long stall): reconnect */
                break;
            demo_sleep_ms(10);
        }
        now = demo_now_ns();
        if (now >= next_cfg) {
            demo_cfg_get(&cfg, DEMO_CFG_FILTER_WINDOW, &window);
            next_cfg = now + 2000000000u;
        }
        if (now >= next_report) {
            r.overflow[0] = shmipc_pubsub_subscriber_missed(sub);
            r.param = window;
            r.cfg_requests = cfg.answered;
            demo_reporter_send(&rep, &r);
            next_report = now + 1000000000u;
        }
    }
    r.overflow[0] = sub ? shmipc_pubsub_subscriber_missed(sub) : 0;
    r.param = window;
    r.cfg_requests = cfg.answered;
    demo_reporter_send(&rep, &r); /* the final figures */
    while (nheld > 0)
        shmipc_pubsub_subscriber_release(sub, &held[--nheld]);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    demo_cfg_close(&cfg);
    demo_reporter_close(&rep);
    return err ? 1 : 0;
}
