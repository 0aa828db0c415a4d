/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/pubsub.c - publish/subscribe through the bridge. Export: the bridge is one more subscriber
 * of the local service; the local thread copies each sample into a NATS message with the origin, the
 * publisher id (ORIGIN/SERVICE/EPOCH/SLOT, EPOCH the service's creation time, so a service made anew
 * starts a new stream) and the sequence, and releases the chunk at once. Import: the bridge is one of
 * the local service's publishers; each message is checked against the publisher's window (dedup.c),
 * copied into a loaned chunk and published. Core NATS imports run in the subscription's delivery thread,
 * JetStream imports in a thread of their own that fetches from a durable pull consumer and acknowledges
 * each message once it is published locally.
 */
#include "bridge_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

/* relaxed everywhere below: statistics counters, read on their own by shmipc_bridge_route_stats */
#define COUNT(r, field, n) atomic_fetch_add_explicit(&(r)->field, (uint64_t)(n), memory_order_relaxed)

static bool jetstream(const shmipc__bridge_route *r)
{
    return r->b->cfg.qos == SHMIPC_BRIDGE_QOS_JETSTREAM;
}

/* ---- export ------------------------------------------------------------------------------------------ */

int shmipc__bridge_pubsub_export_open(shmipc__bridge_route *r)
{
    /* NULL options: whatever the service has */
    int err = shmipc_pubsub_subscriber_open(r->info.service, NULL, &r->sub);
    if (err)
        return err;
    shmipc_service_info *in = malloc(sizeof *in);
    uint64_t epoch = 0;
    if (in && shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, r->info.service, in) == 0)
        epoch = in->created_ns;
    free(in);
    int n = snprintf(r->publisher, sizeof r->publisher, "%s/%s/%" PRIx64 "/", r->b->cfg.name, r->info.service, epoch);
    r->publisher_len = n > 0 && (size_t)n < sizeof r->publisher ? (size_t)n : 0;
    r->missed_seen = shmipc_pubsub_subscriber_missed(r->sub);
    return 0;
}

void shmipc__bridge_pubsub_export_close(shmipc__bridge_route *r)
{
    shmipc_pubsub_subscriber_close(r->sub);
    r->sub = NULL;
    atomic_store_explicit(&r->active, false, memory_order_relaxed);
}

/* The headers of an exported sample; 0 or -ENOMEM. */
static int sample_headers(shmipc__bridge_route *r, natsMsg *m, const shmipc_pubsub_sample *s)
{
    char pub[sizeof r->publisher + 16], seq[24], id[sizeof pub + 24];
    snprintf(pub, sizeof pub, "%.*s%" PRIu32, (int)r->publisher_len, r->publisher, s->publisher);
    snprintf(seq, sizeof seq, "%" PRIu64, s->sequence);
    if (shmipc__bridge_headers(r->b, m) || natsMsgHeader_Set(m, BRIDGE_HDR_PUBLISHER, pub) != NATS_OK ||
        natsMsgHeader_Set(m, BRIDGE_HDR_SEQUENCE, seq) != NATS_OK)
        return -ENOMEM;
    if (jetstream(r)) {
        snprintf(id, sizeof id, "%s/%s", pub, seq);
        if (natsMsgHeader_Set(m, BRIDGE_HDR_MSGID, id) != NATS_OK)
            return -ENOMEM;
    }
    return 0;
}

void shmipc__bridge_pubsub_export_drain(shmipc__bridge_route *r)
{
    shmipc_bridge *b = r->b;
    /* at most 256 per turn, so that other routes are served; the waitset reports what is left */
    for (int i = 0; i < 256; i++) {
        shmipc_pubsub_sample s;
        int err = shmipc_pubsub_subscriber_receive(r->sub, &s, 0);
        if (err == -EAGAIN || err == -ETIMEDOUT || err == -EINTR)
            break;
        if (err == -EBADMSG) { /* a corrupt queue entry, skipped by the library */
            COUNT(r, errors, 1);
            continue;
        }
        if (err) {
            shmipc__bridge_log(b, "pubsub/%s: %s: subscribing again", r->info.service, shmipc_strerror(err));
            COUNT(r, errors, 1);
            atomic_store_explicit(&r->active, false, memory_order_relaxed); /* the local thread reopens */
            break;
        }
        if ((int64_t)s.publisher == r->loop_slot) { /* what our own import published: never sent back */
            shmipc_pubsub_subscriber_release(r->sub, &s);
            continue;
        }
        COUNT(r, received, 1);
        natsMsg *m = NULL;
        /* the one copy out of shared memory: into the NATS message */
        natsStatus st = natsMsg_Create(&m, r->info.subject, NULL, s.data, (int)s.size);
        shmipc_pubsub_subscriber_release(r->sub, &s);
        if (st != NATS_OK || sample_headers(r, m, &s) != 0) {
            natsMsg_Destroy(m);
            COUNT(r, dropped, 1);
            COUNT(r, errors, 1);
            continue;
        }
        shmipc__bridge_send(b, r, m, jetstream(r));
    }
    if (r->sub) {
        uint64_t missed = shmipc_pubsub_subscriber_missed(r->sub);
        if (missed > r->missed_seen)
            COUNT(r, missed, missed - r->missed_seen);
        r->missed_seen = missed;
    }
}

/* ---- import ------------------------------------------------------------------------------------------ */

int64_t shmipc__bridge_pubsub_import_slot(const shmipc__bridge_route *r)
{
    return r->pub ? (int64_t)shmipc_pubsub_publisher_id(r->pub) : -1;
}

/* Publish len bytes into the local service: fixed-size samples are padded with zero bytes. */
static int publish_local(shmipc__bridge_route *r, const void *data, size_t len)
{
    if (len > r->payload_max)
        return -EMSGSIZE;
    int rc;
    if (r->dynamic) {
        rc = shmipc_pubsub_publisher_publish_copy(r->pub, data, len);
    } else {
        void *p;
        if ((rc = shmipc_pubsub_publisher_loan(r->pub, 0, &p)) != 0)
            return rc;
        memcpy(p, data, len);
        memset((char *)p + len, 0, r->payload_max - len);
        rc = shmipc_pubsub_publisher_publish(r->pub, p, 0);
    }
    /* -ETIMEDOUT: delivered, but a subscriber's queue stayed full (policy WAIT): the local policy's call */
    return rc >= 0 || rc == -ETIMEDOUT ? 0 : rc;
}

/* One message from NATS: 0 (forwarded, duplicate or our own), -ENOBUFS (the pool is exhausted: worth
 * another try), or another error (dropped). */
static int import_one(shmipc__bridge_route *r, natsMsg *msg)
{
    shmipc_bridge *b = r->b;
    if (shmipc__bridge_own(b, msg))
        return 0;
    COUNT(r, received, 1);
    const char *pub = NULL, *seq_s = NULL;
    uint64_t key = 0, seq = 0;
    bool has_pub = natsMsgHeader_Get(msg, BRIDGE_HDR_PUBLISHER, &pub) == NATS_OK && pub;
    bool has_seq = natsMsgHeader_Get(msg, BRIDGE_HDR_SEQUENCE, &seq_s) == NATS_OK && seq_s;
    if (has_pub && has_seq && shmipc__bridge_parse_u64(seq_s, UINT64_MAX, &seq) == 0) {
        key = shmipc__bridge_dedup_key(pub, strlen(pub));
        if (shmipc__bridge_dedup_check(r->dedup, key, seq) == BRIDGE_DUP) {
            COUNT(r, duplicates, 1);
            return 0;
        }
    } else if (has_pub || has_seq) {
        COUNT(r, errors, 1); /* forwarded all the same, without the window */
    }
    int len = natsMsg_GetDataLength(msg);
    int err = publish_local(r, natsMsg_GetData(msg), len > 0 ? (size_t)len : 0);
    if (err) {
        if (err == -ENOBUFS && jetstream(r))
            return err; /* JetStream: redelivered later */
        COUNT(r, dropped, 1);
        if (!r->failing)
            shmipc__bridge_log(b, "pubsub/%s: a sample of %d bytes was dropped: %s", r->info.service, len,
                       shmipc_strerror(err));
        r->failing = true;
        return err;
    }
    /* recorded at once: a bridge killed between the publish and this store publishes the sample once
     * more after its restart (JetStream redelivers it), so nothing else comes in between */
    int64_t d = key ? shmipc__bridge_dedup_commit(r->dedup, key, seq) : 0;
    r->failing = false;
    COUNT(r, forwarded, 1);
    if (d)
        COUNT(r, gaps, d); /* two's complement: -1 takes one off */
    return 0;
}

static void on_sample(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    import_one(closure, msg);
    natsMsg_Destroy(msg);
}

/* The durable consumer's name: the bridge's name and the service's, with what a consumer name may not
 * hold replaced (and then a hash of the service name, so that "a.b" and "a_b" differ). */
static void durable_name(shmipc__bridge_route *r)
{
    char svc[SHMIPC_SERVICE_NAME_MAX + 1];
    bool changed = false;
    size_t i = 0;
    for (; r->info.service[i]; i++) {
        char c = r->info.service[i];
        changed |= c == '.';
        svc[i] = c == '.' ? '_' : c;
    }
    svc[i] = '\0';
    if (changed)
        snprintf(r->durable, sizeof r->durable, "%.63s_%.40s_%08" PRIx32, r->b->cfg.name, svc,
                 (uint32_t)shmipc__bridge_dedup_key(r->info.service, strlen(r->info.service)));
    else
        snprintf(r->durable, sizeof r->durable, "%.63s_%.60s", r->b->cfg.name, svc);
}

/* Make the durable consumer if it does not exist, then bind a pull subscription to it. The consumer is
 * made here and not by the subscribe call because the NATS library deletes, on unsubscribe, a consumer
 * its subscribe made, durable or not: a restarted bridge goes on where the last one stopped. */
static int consumer_bind(shmipc__bridge_route *r)
{
    shmipc_bridge *b = r->b;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, b->js, b->cfg.stream, r->durable, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = r->durable;
        cc.FilterSubject = r->info.subject;
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = (int64_t)b->cfg.ack_wait_ms * 1000000; /* ns */
        cc.DeliverPolicy = js_DeliverNew; /* a new import starts with new samples, like a new subscriber */
        cc.MaxAckPending = (int64_t)b->cfg.max_inflight * 4;
        jerr = 0;
        s = js_AddConsumer(&ci, b->js, b->cfg.stream, &cc, NULL, &jerr);
    }
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK)
        return shmipc__bridge_errno(s) ? shmipc__bridge_errno(s) : -EPROTO;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = b->cfg.stream;
    so.Consumer = r->durable;
    jerr = 0;
    s = js_PullSubscribe(&r->pull, b->js, r->info.subject, r->durable, NULL, &so, &jerr);
    return s == NATS_OK ? 0 : (shmipc__bridge_errno(s) ? shmipc__bridge_errno(s) : -EPROTO);
}

static void *fetch_main(void *arg)
{
    shmipc__bridge_route *r = arg;
    shmipc_bridge *b = r->b;
    bool warned = false;
    int batch = (int)(b->cfg.max_inflight < 256 ? b->cfg.max_inflight : 256);
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        if (!atomic_load_explicit(&b->connected, memory_order_relaxed)) {
            shmipc__bridge_nap(b, 100);
            continue;
        }
        if (!r->pull) {
            int err = shmipc__bridge_stream_ensure(b);
            if (!err)
                err = consumer_bind(r);
            if (err) {
                if (!warned)
                    shmipc__bridge_log(b, "pubsub/%s: JetStream consumer %s not available yet (%s): retrying", r->info.service,
                               r->durable, shmipc_strerror(err));
                warned = true;
                shmipc__bridge_nap(b, 500);
                continue;
            }
            shmipc__bridge_log(b, "importing %s into pubsub/%s through JetStream consumer %s", r->info.subject,
                       r->info.service, r->durable);
            warned = false;
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, r->pull, batch, 500, &jerr);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            if (jerr == JSConsumerNotFoundErr || s == NATS_NOT_FOUND) {
                shmipc__bridge_log(b, "pubsub/%s: consumer %s is gone: making it again", r->info.service, r->durable);
                natsSubscription_Destroy(r->pull);
                r->pull = NULL;
            }
            shmipc__bridge_nap(b, 200);
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            if (import_one(r, list.Msgs[i]) == -ENOBUFS)
                natsMsg_NakWithDelay(list.Msgs[i], 100, NULL);
            else
                natsMsg_Ack(list.Msgs[i], NULL);
        }
        natsMsgList_Destroy(&list);
    }
    /* bound to a consumer it did not make: destroying the subscription keeps the consumer */
    natsSubscription_Destroy(r->pull);
    r->pull = NULL;
    return NULL;
}

/* Open (or make) the route's state segment and take its lock: 0, -EBUSY (another live bridge of this
 * name imports this service), or an error of the segment calls. */
static int state_open(shmipc__bridge_route *r)
{
    char name[SHMIPC_NAME_MAX];
    snprintf(name, sizeof name, "/shmipc-bridge.%s.%016" PRIx64, r->b->cfg.name,
             shmipc__bridge_dedup_key(r->info.service, strlen(r->info.service)));
    shmipc_segment_opts so;
    shmipc_segment_opts_init(&so);
    so.type = BRIDGE_STATE_TYPE;
    int rc = shmipc_segment_open_or_create(name, sizeof(shmipc__bridge_state), &so, &r->state_seg);
    if (rc < 0) {
        /* not ours to read (another type, a corpse): made anew */
        if (rc != -EPROTOTYPE && rc != -EBADMSG && rc != -EPROTO && rc != -ENOTRECOVERABLE)
            return rc;
        shmipc_segment_unlink(name);
        if ((rc = shmipc_segment_open_or_create(name, sizeof(shmipc__bridge_state), &so, &r->state_seg)) < 0)
            return rc;
    }
    if (flock(shmipc_segment_fd(r->state_seg), LOCK_EX | LOCK_NB) != 0) {
        int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
        shmipc_segment_close(r->state_seg);
        r->state_seg = NULL;
        return err;
    }
    shmipc__bridge_state *st = shmipc_segment_data(r->state_seg);
    if (shmipc_segment_data_size(r->state_seg) < sizeof *st) { /* another layout's: made anew */
        shmipc_segment_close(r->state_seg);
        r->state_seg = NULL;
        shmipc_segment_unlink(name);
        if ((rc = shmipc_segment_create(name, sizeof(shmipc__bridge_state), &so, &r->state_seg)) < 0)
            return rc;
        if (flock(shmipc_segment_fd(r->state_seg), LOCK_EX | LOCK_NB) != 0) {
            shmipc_segment_close(r->state_seg);
            r->state_seg = NULL;
            return -EBUSY;
        }
        st = shmipc_segment_data(r->state_seg);
    }
    if (st->magic != BRIDGE_STATE_MAGIC || st->version != 1 || st->size != sizeof *st ||
        strncmp(st->service, r->info.service, sizeof st->service) != 0) {
        memset(st, 0, sizeof *st);
        st->version = 1;
        st->size = sizeof *st;
        snprintf(st->service, sizeof st->service, "%s", r->info.service);
        st->magic = BRIDGE_STATE_MAGIC;
    } else {
        shmipc__bridge_log(r->b, "pubsub/%s: going on from the window of the last run (%s)", r->info.service, name);
    }
    r->dedup = &st->dedup;
    return 0;
}

int shmipc__bridge_pubsub_import_start(shmipc__bridge_route *r)
{
    shmipc_pubsub_opts o;
    int err = shmipc_pubsub_publisher_open(r->info.service, NULL, &r->pub); /* an existing one as it is */
    if (err == -ENOENT) {
        shmipc_pubsub_opts_init(&o);
        o.flags = SHMIPC_PUBSUB_DYNAMIC;
        o.payload_size = r->info.size ? r->info.size : 65536;
        o.depth = r->info.depth;
        o.history = r->info.history;
        o.policy = (shmipc_pubsub_policy)r->info.policy;
        err = shmipc_pubsub_publisher_create(r->info.service, &o, &r->pub);
    }
    if (err)
        return err;
    shmipc_pubsub_opts_init(&o);
    if ((err = shmipc_pubsub_publisher_options(r->pub, &o)) != 0)
        return err;
    r->payload_max = o.payload_size;
    r->dynamic = o.flags & SHMIPC_PUBSUB_DYNAMIC;
    if ((err = state_open(r)) != 0)
        return err;
    if (jetstream(r)) {
        durable_name(r);
        if (pthread_create(&r->thread, NULL, fetch_main, r) != 0)
            return -EAGAIN;
        r->thread_started = true;
    } else if ((err = shmipc__bridge_subscribe(r->b, &r->ns, r->info.subject, NULL, on_sample, r)) != 0) {
        return err;
    }
    atomic_store_explicit(&r->active, true, memory_order_relaxed);
    shmipc__bridge_log(r->b, "importing %s into pubsub/%s (samples up to %" PRIu64 " bytes%s)", r->info.subject,
               r->info.service, r->payload_max, r->dynamic ? "" : ", fixed size");
    return 0;
}

void shmipc__bridge_pubsub_import_stop(shmipc__bridge_route *r)
{
    shmipc__bridge_unsubscribe(&r->ns);
    if (r->thread_started)
        pthread_join(r->thread, NULL);
    r->thread_started = false;
    shmipc_pubsub_publisher_close(r->pub);
    r->pub = NULL;
    shmipc_segment_close(r->state_seg); /* its lock goes with its descriptor */
    r->state_seg = NULL;
    r->dedup = NULL;
    atomic_store_explicit(&r->active, false, memory_order_relaxed);
}
