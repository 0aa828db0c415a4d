/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/logger.c - shmipc-demo-logger: subscribes to both streams ("TAG.sensor" and
 * "TAG.filtered"), one thread each, and checks them: counts, sequence gaps (told apart from samples its
 * own queue dropped because it fell behind), checksums, and the end-to-end latency from the sensor's
 * timestamp (sensor -> logger, and sensor -> filter -> logger). Its figures go to the launcher once a
 * second.
 * Usage: shmipc-demo-logger TAG
 */
#include "demo.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* What one stream's thread has seen; guarded by lock (the main thread reads it once a second). */
typedef struct stream {
    int index; /* 0 sensor, 1 filtered */
    char name[DEMO_NAME_MAX];
    const char *type;
    size_t size;
    pthread_mutex_t lock;
    uint64_t received, lost, gaps, overflow, last_gap, bad_checksum, errors;
    demo_hist window, total;
    int failed; /* could not subscribe */
} stream;

/* The sequence number and timestamp of a sample of either stream, once its checksum is verified. */
static bool parse(const stream *st, const shmipc_pubsub_sample *s, uint64_t *seq, uint64_t *t_ns)
{
    if (s->size != st->size)
        return false;
    if (st->index == 0) {
        const demo_sample *p = s->data;
        if (p->checksum != demo_sample_checksum(p))
            return false;
        *seq = p->seq;
        *t_ns = p->t_ns;
    } else {
        const demo_filtered *p = s->data;
        if (p->checksum != demo_filtered_checksum(p))
            return false;
        *seq = p->src_seq;
        *t_ns = p->t_ns;
    }
    return true;
}

static void *stream_main(void *arg)
{
    stream *st = arg;
    shmipc_pubsub_subscriber *sub = NULL;
    int err = demo_subscribe("logger", st->name, st->type, st->size, &sub);
    if (err) {
        pthread_mutex_lock(&st->lock);
        st->failed = 1;
        pthread_mutex_unlock(&st->lock);
        return NULL;
    }
    bool first = true;
    uint64_t expect = 0, jumped = 0;
    while (!demo_stop) {
        shmipc_pubsub_sample s;
        int rc = shmipc_pubsub_subscriber_receive(sub, &s, 100);
        if (rc < 0) {
            if (rc != -ETIMEDOUT && rc != -EINTR && rc != -EAGAIN) {
                pthread_mutex_lock(&st->lock);
                st->errors++;
                st->failed = rc == -EPIPE; /* reclaimed as dead after a long stall: exit, get restarted */
                pthread_mutex_unlock(&st->lock);
                if (rc == -EPIPE)
                    break;
                demo_sleep_ms(10);
            }
            continue;
        }
        uint64_t now = demo_now_ns(), seq = 0, t_ns = 0;
        bool ok = parse(st, &s, &seq, &t_ns);
        shmipc_pubsub_subscriber_release(sub, &s);
        uint64_t missed = shmipc_pubsub_subscriber_missed(sub);
        pthread_mutex_lock(&st->lock);
        st->received++;
        if (!ok) {
            st->bad_checksum++;
        } else {
            /* Forward jumps in the sequence add up to the samples we did not see: those our own queue
             * dropped (missed: we fell behind) and those never published to us (gaps). missed is read after
             * the receive, so it may already count a drop of a later sample: the difference can only
             * undercount the gap for a moment, never report one that is not there. A step back means the
             * publisher restarted and counts from 0 again. */
            if (!first && seq > expect)
                jumped += seq - expect;
            first = false;
            expect = seq + 1;
            uint64_t lost = jumped > missed ? jumped - missed : 0;
            st->overflow = jumped < missed ? jumped : missed;
            if (lost > st->lost) {
                st->gaps++;
                st->last_gap = lost - st->lost;
                st->lost = lost;
            }
            uint64_t lat = now > t_ns ? now - t_ns : 0;
            demo_hist_add(&st->window, lat);
            demo_hist_add(&st->total, lat);
        }
        pthread_mutex_unlock(&st->lock);
    }
    shmipc_pubsub_subscriber_close(sub);
    return NULL;
}

/* Send the launcher what both streams have seen; start a new latency window. Returns 1 if a stream
 * could not be subscribed to. */
static int report(demo_reporter *rep, stream *streams)
{
    demo_report r;
    memset(&r, 0, sizeof r);
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        stream *st = &streams[i];
        pthread_mutex_lock(&st->lock);
        r.received[i] = st->received;
        r.lost[i] = st->lost;
        r.gaps[i] = st->gaps;
        r.overflow[i] = st->overflow;
        r.last_gap[i] = st->last_gap;
        r.bad_checksum[i] = st->bad_checksum;
        r.errors += st->errors;
        r.lat_p50[i] = demo_hist_quantile(&st->window, 0.50);
        r.lat_p99[i] = demo_hist_quantile(&st->window, 0.99);
        r.tot_p50[i] = demo_hist_quantile(&st->total, 0.50);
        r.tot_p99[i] = demo_hist_quantile(&st->total, 0.99);
        r.tot_max[i] = st->total.max;
        memset(&st->window, 0, sizeof st->window);
        failed |= st->failed;
        pthread_mutex_unlock(&st->lock);
    }
    demo_reporter_send(rep, &r);
    return failed;
}

int main(int argc, char **argv)
{
    const char *tag;
    demo_reporter rep;
    int status = demo_component_init(argc, argv, DEMO_LOGGER, NULL, 0, &tag, &rep);
    if (status)
        return status;

    static stream streams[2]; /* large (histograms): not on the stack */
    pthread_t threads[2];
    int started = 0;
    for (int i = 0; i < 2; i++) {
        stream *st = &streams[i];
        st->index = i;
        demo_service_name(st->name, sizeof st->name, tag, i == 0 ? "sensor" : "filtered");
        st->type = i == 0 ? DEMO_SAMPLE_TYPE : DEMO_FILTERED_TYPE;
        st->size = i == 0 ? sizeof(demo_sample) : sizeof(demo_filtered);
        pthread_mutex_init(&st->lock, NULL);
        if (pthread_create(&threads[i], NULL, stream_main, st) != 0) {
            fprintf(stderr, "logger: cannot start a thread\n");
            demo_stop = 1;
            break;
        }
        started++;
    }

    int rc = 0;
    while (!demo_stop) {
        demo_sleep_ms(1000);
        if (report(&rep, streams))
            rc = 1;
        if (rc)
            demo_stop = 1; /* a stream we cannot subscribe to: exit, the launcher restarts us */
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    report(&rep, streams); /* the final figures */
    demo_reporter_close(&rep);
    return rc;
}
