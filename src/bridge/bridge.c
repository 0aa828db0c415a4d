/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/bridge.c - a running bridge: the NATS connection (reconnecting forever with exponential
 * backoff), the one outgoing buffer between shared memory and the network, the local thread that takes
 * what exported services produce, the network thread that hands it to NATS (core publish, or JetStream
 * publish with acknowledgement and resend), the stats, and start and stop. The patterns' own forwarding
 * is in pubsub.c, reqresp.c and event.c.
 *
 * Threads: the local thread waits on one waitset (every exported subscriber and listener, and a stop
 * event); it copies what arrives into NATS messages and puts them into the outgoing buffer, and never
 * waits for anything else, so shared memory is drained whatever the network does. The network thread
 * empties the buffer while connected. The NATS library runs its own threads: the connection's reader and
 * flusher, one delivery thread per subscription (imports and request/response exports run there), and
 * the JetStream acknowledgement handler.
 */
#include "bridge_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static FILE *log_file;
static atomic_bool log_set;

void shmipc_bridge_log(FILE *f)
{
    log_file = f;
    atomic_store_explicit(&log_set, true, memory_order_release); /* publishes log_file */
}

void shmipc__bridge_log(const shmipc_bridge *b, const char *fmt, ...)
{
    FILE *f = atomic_load_explicit(&log_set, memory_order_acquire) ? log_file : stderr;
    if (!f)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(f, "shmipc bridge %s: %s\n", b->cfg.name, line);
    fflush(f);
}

uint64_t shmipc__bridge_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int shmipc__bridge_errno(natsStatus s)
{
    switch (s) {
    case NATS_OK:
        return 0;
    case NATS_NO_MEMORY:
        return -ENOMEM;
    case NATS_TIMEOUT:
        return -ETIMEDOUT;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        return -EINVAL;
    case NATS_NO_RESPONDERS:
    case NATS_NOT_FOUND:
        return -ENOENT;
    case NATS_MAX_PAYLOAD:
        return -EMSGSIZE;
    case NATS_INSUFFICIENT_BUFFER:
        return -ENOBUFS;
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
        return -ENOTCONN;
    default:
        return -EPROTO;
    }
}

/* Wait on the condition variable (the caller holds b->mu) up to ms. */
static void cond_wait_ms(shmipc_bridge *b, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&b->cond, &b->mu, &ts);
}

void shmipc__bridge_nap(shmipc_bridge *b, unsigned ms)
{
    pthread_mutex_lock(&b->mu);
    if (!atomic_load_explicit(&b->stop, memory_order_relaxed))
        cond_wait_ms(b, ms);
    pthread_mutex_unlock(&b->mu);
}

/* ---- headers ----------------------------------------------------------------------------------------- */

int shmipc__bridge_headers(const shmipc_bridge *b, natsMsg *msg)
{
    return natsMsgHeader_Set(msg, BRIDGE_HDR_ORIGIN, b->cfg.name) == NATS_OK ? 0 : -ENOMEM;
}

bool shmipc__bridge_own(const shmipc_bridge *b, natsMsg *msg)
{
    const char *origin = NULL;
    return natsMsgHeader_Get(msg, BRIDGE_HDR_ORIGIN, &origin) == NATS_OK && origin && !strcmp(origin, b->cfg.name);
}

/* ---- subscriptions ----------------------------------------------------------------------------------- */

static void on_sub_complete(void *closure)
{
    shmipc__bridge_sub *bs = closure;
    shmipc_bridge *b = bs->b;
    pthread_mutex_lock(&b->mu);
    atomic_store_explicit(&bs->done, true, memory_order_relaxed); /* under b->mu: the waiter's lock orders it */
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

int shmipc__bridge_subscribe(shmipc_bridge *b, shmipc__bridge_sub *bs, const char *subject, const char *queue, natsMsgHandler cb,
                     void *closure)
{
    bs->b = b;
    atomic_store_explicit(&bs->done, false, memory_order_relaxed);
    natsStatus s = queue ? natsConnection_QueueSubscribe(&bs->s, b->nc, subject, queue, cb, closure)
                         : natsConnection_Subscribe(&bs->s, b->nc, subject, cb, closure);
    if (s == NATS_OK)
        s = natsSubscription_SetOnCompleteCB(bs->s, on_sub_complete, bs);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(bs->s, 65536, 64 * 1024 * 1024);
    if (s != NATS_OK) {
        shmipc__bridge_log(b, "subscribe %s: %s", subject, natsStatus_GetText(s));
        if (bs->s) {
            natsSubscription_Unsubscribe(bs->s);
            natsSubscription_Destroy(bs->s);
            bs->s = NULL;
        }
        return shmipc__bridge_errno(s) ? shmipc__bridge_errno(s) : -EPROTO;
    }
    return 0;
}

void shmipc__bridge_unsubscribe(shmipc__bridge_sub *bs)
{
    if (!bs->s)
        return;
    shmipc_bridge *b = bs->b;
    natsSubscription_Unsubscribe(bs->s);
    uint64_t deadline = shmipc__bridge_now_ns() + 5000000000u;
    pthread_mutex_lock(&b->mu);
    while (!atomic_load_explicit(&bs->done, memory_order_relaxed) && shmipc__bridge_now_ns() < deadline)
        cond_wait_ms(b, 100);
    pthread_mutex_unlock(&b->mu);
    natsSubscription_Destroy(bs->s);
    bs->s = NULL;
}

/* ---- the outgoing buffer ----------------------------------------------------------------------------- */

void shmipc__bridge_send(shmipc_bridge *b, shmipc__bridge_route *r, natsMsg *msg, bool jetstream)
{
    natsMsg *victim = NULL;
    uint32_t victim_route = 0;
    pthread_mutex_lock(&b->mu);
    uint32_t cap = b->cfg.buffer;
    if (b->count == cap) {
        if (b->cfg.drop_newest) {
            victim = msg;
            victim_route = r->index;
            msg = NULL;
        } else {
            shmipc__bridge_out *old = &b->ring[b->head];
            victim = old->msg;
            victim_route = old->route;
            b->head = (b->head + 1) % cap;
            b->count--;
        }
    }
    if (msg) {
        b->ring[(b->head + b->count) % cap] = (shmipc__bridge_out){msg, r->index, jetstream};
        b->count++;
        pthread_cond_signal(&b->cond);
    }
    pthread_mutex_unlock(&b->mu);
    if (victim) {
        /* relaxed: statistics counters, read on their own */
        atomic_fetch_add_explicit(&b->overflow, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->routes[victim_route].dropped, 1, memory_order_relaxed);
        natsMsg_Destroy(victim);
    }
}

/* ---- JetStream --------------------------------------------------------------------------------------- */

int shmipc__bridge_stream_ensure(shmipc_bridge *b)
{
    if (atomic_load_explicit(&b->stream_ready, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&b->stream_mu);
    int err = 0;
    if (!atomic_load_explicit(&b->stream_ready, memory_order_relaxed)) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetStreamInfo(&si, b->js, b->cfg.stream, NULL, &jerr);
        if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
            char subj[SHMIPC_BRIDGE_SUBJECT_MAX + 16];
            snprintf(subj, sizeof subj, "%s.pubsub.>", b->cfg.prefix);
            const char *subjects[1] = {subj};
            const char *tags[1] = {b->cfg.stream_tag};
            /* Cluster "": any (libnats 3.4 marshals it unconditionally: NULL crashes) */
            jsPlacement place = {.Cluster = "", .Tags = tags, .TagsLen = 1};
            jsStreamConfig sc;
            jsStreamConfig_Init(&sc);
            sc.Name = b->cfg.stream;
            sc.Subjects = subjects;
            sc.SubjectsLen = 1;
            sc.Storage = js_FileStorage;
            sc.MaxAge = (int64_t)b->cfg.max_age_ms * 1000000;  /* ns */
            sc.Duplicates = (int64_t)b->cfg.dedup_window_ms * 1000000;
            if (b->cfg.stream_tag[0])
                sc.Placement = &place;
            jerr = 0;
            s = js_AddStream(&si, b->js, &sc, NULL, &jerr);
            if (s == NATS_OK)
                shmipc__bridge_log(b, "created JetStream stream %s (subjects %s)", b->cfg.stream, subj);
            else if (jerr == JSStreamNameExistErr)
                s = NATS_OK; /* another bridge made it meanwhile */
        }
        jsStreamInfo_Destroy(si);
        if (s == NATS_OK)
            atomic_store_explicit(&b->stream_ready, true, memory_order_release);
        else
            err = shmipc__bridge_errno(s) ? shmipc__bridge_errno(s) : -EPROTO;
    }
    pthread_mutex_unlock(&b->stream_mu);
    return err;
}

static shmipc__bridge_route *route_of(shmipc_bridge *b, natsMsg *msg)
{
    const char *subj = natsMsg_GetSubject(msg);
    for (size_t i = 0; i < b->nroutes; i++)
        if (b->routes[i].info.direction == SHMIPC_BRIDGE_EXPORT && b->routes[i].info.pattern == SHMIPC_PATTERN_PUBSUB &&
            subj && !strcmp(subj, b->routes[i].info.subject))
            return &b->routes[i];
    return NULL;
}

/* The stream's answer to one asynchronous publish (a NATS library thread). A failure or a missing
 * answer (ack-wait) puts the message into the resend list; the stream's dedup window makes a resend of
 * a message it stored harmless. */
static void on_puback(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    shmipc_bridge *b = closure;
    shmipc__bridge_route *r = route_of(b, msg);
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    if (pa || !pae) {
        pthread_mutex_unlock(&b->mu);
        if (r)
            atomic_fetch_add_explicit(&r->forwarded, 1, memory_order_relaxed);
        natsMsg_Destroy(msg);
        pthread_cond_signal(&b->cond);
        return;
    }
    /* resend later: the server may be away; do not spin on it */
    b->retry[b->nretry++] = (shmipc__bridge_out){msg, r ? r->index : 0, true};
    b->retry_after_ns = shmipc__bridge_now_ns() + 100000000u;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
    if (r)
        atomic_fetch_add_explicit(&r->retried, 1, memory_order_relaxed);
}

/* ---- the network thread ------------------------------------------------------------------------------ */

/* Publish one message: the outcome counted on its route. JetStream: returns false if the message must
 * be tried again later (it is then back in the resend list). */
static bool publish_one(shmipc_bridge *b, shmipc__bridge_out *o)
{
    shmipc__bridge_route *r = &b->routes[o->route];
    if (!o->jetstream) {
        natsStatus s = natsConnection_PublishMsg(b->nc, o->msg);
        natsMsg_Destroy(o->msg);
        if (s == NATS_OK) {
            atomic_fetch_add_explicit(&r->forwarded, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
            if (s != NATS_INSUFFICIENT_BUFFER)
                atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
        }
        return true;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = b->cfg.ack_wait_ms;
    pthread_mutex_lock(&b->mu);
    b->inflight++;
    pthread_mutex_unlock(&b->mu);
    natsStatus s = js_PublishMsgAsync(b->js, &o->msg, &po);
    if (s == NATS_OK)
        return true;
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    if (s == NATS_MAX_PAYLOAD || s == NATS_INVALID_ARG) {
        pthread_mutex_unlock(&b->mu);
        natsMsg_Destroy(o->msg);
        atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
        return true;
    }
    b->retry[b->nretry++] = *o; /* room: nretry + inflight <= max_inflight */
    b->retry_after_ns = shmipc__bridge_now_ns() + 100000000u;
    pthread_mutex_unlock(&b->mu);
    return false;
}

static void *net_main(void *arg)
{
    shmipc_bridge *b = arg;
    bool js_warned = false;
    shmipc__bridge_out batch[64];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&b->mu);
        for (;;) {
            if (atomic_load_explicit(&b->stop, memory_order_relaxed))
                break;
            bool up = atomic_load_explicit(&b->connected, memory_order_relaxed);
            uint64_t now = shmipc__bridge_now_ns();
            bool retry_ok = b->nretry > 0 && now >= b->retry_after_ns;
            /* JetStream: resends first, then new messages while the window has room; core: anything */
            if (up && retry_ok)
                break;
            if (up && b->count > 0 && (!b->ring[b->head].jetstream || (b->nretry == 0 &&
                                                                       b->inflight < b->cfg.max_inflight)))
                break;
            cond_wait_ms(b, 100);
        }
        if (atomic_load_explicit(&b->stop, memory_order_relaxed)) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        if (b->nretry > 0 && shmipc__bridge_now_ns() >= b->retry_after_ns) {
            n = b->nretry < 64 ? b->nretry : 64;
            memcpy(batch, b->retry, n * sizeof batch[0]);
            memmove(b->retry, b->retry + n, (b->nretry - n) * sizeof b->retry[0]);
            b->nretry -= (uint32_t)n;
        } else {
            uint32_t room = b->cfg.max_inflight - b->inflight - b->nretry;
            while (n < 64 && b->count > 0) {
                shmipc__bridge_out *o = &b->ring[b->head];
                if (o->jetstream && (room == 0 || b->nretry > 0))
                    break; /* JetStream: in order after what waits to be sent again */
                if (o->jetstream)
                    room--;
                batch[n++] = *o;
                b->head = (b->head + 1) % b->cfg.buffer;
                b->count--;
            }
        }
        pthread_mutex_unlock(&b->mu);
        bool any_js = false;
        for (size_t i = 0; i < n; i++)
            any_js |= batch[i].jetstream;
        if (any_js) {
            int err = shmipc__bridge_stream_ensure(b);
            if (err) {
                if (!js_warned)
                    shmipc__bridge_log(b, "JetStream stream %s not available yet (%s): keeping the samples", b->cfg.stream,
                               shmipc_strerror(err));
                js_warned = true;
                pthread_mutex_lock(&b->mu);
                for (size_t i = 0; i < n; i++)
                    b->retry[b->nretry++] = batch[i];
                b->retry_after_ns = shmipc__bridge_now_ns() + 250000000u;
                pthread_mutex_unlock(&b->mu);
                continue;
            }
            if (js_warned)
                shmipc__bridge_log(b, "JetStream stream %s is available", b->cfg.stream);
            js_warned = false;
        }
        for (size_t i = 0; i < n; i++) {
            if (!publish_one(b, &batch[i])) {
                /* the window is full or the stream away: put back what is left, in order */
                pthread_mutex_lock(&b->mu);
                for (size_t j = i + 1; j < n; j++)
                    b->retry[b->nretry++] = batch[j];
                pthread_mutex_unlock(&b->mu);
                break;
            }
        }
    }
    return NULL;
}

/* ---- the local thread -------------------------------------------------------------------------------- */

#define STOP_USER UINT64_MAX

static int export_open(shmipc__bridge_route *r)
{
    return r->info.pattern == SHMIPC_PATTERN_PUBSUB ? shmipc__bridge_pubsub_export_open(r) : shmipc__bridge_event_export_open(r);
}

static void *local_main(void *arg)
{
    shmipc_bridge *b = arg;
    shmipc_waitset_ready ready[SHMIPC_BRIDGE_MAX_ROUTES + 1];
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        /* exported services that do not exist yet (or went away): try again every 100 ms */
        uint64_t now = shmipc__bridge_now_ns();
        bool waiting = false;
        for (size_t i = 0; i < b->nroutes; i++) {
            shmipc__bridge_route *r = &b->routes[i];
            if (r->info.direction != SHMIPC_BRIDGE_EXPORT || r->info.pattern == SHMIPC_PATTERN_REQRESP ||
                atomic_load_explicit(&r->active, memory_order_relaxed))
                continue;
            waiting = true;
            if (now < r->retry_ns)
                continue;
            r->retry_ns = now + 100000000u;
            int err = export_open(r);
            if (err == 0) {
                err = r->sub ? shmipc_waitset_add_subscriber(b->ws, r->sub, SHMIPC_WAITSET_IN, i)
                             : shmipc_waitset_add_listener(b->ws, r->listener, SHMIPC_WAITSET_IN, i);
                if (err) {
                    shmipc__bridge_log(b, "%s/%s: waitset: %s", shmipc_service_pattern_name(r->info.pattern), r->info.service,
                               shmipc_strerror(err));
                    r->sub ? shmipc__bridge_pubsub_export_close(r) : shmipc__bridge_event_export_close(r);
                    continue;
                }
                atomic_store_explicit(&r->active, true, memory_order_relaxed);
                shmipc__bridge_log(b, "exporting %s/%s to %s", shmipc_service_pattern_name(r->info.pattern), r->info.service,
                           r->info.subject);
                r->failing = false;
            } else if (err != -ENOENT && !r->failing) {
                const char *detail = shmipc_service_error_detail();
                shmipc__bridge_log(b, "%s/%s: %s%s%s (retrying)", shmipc_service_pattern_name(r->info.pattern), r->info.service,
                           shmipc_strerror(err), detail[0] ? ": " : "", detail);
                r->failing = true;
            }
        }
        int n = shmipc_waitset_wait(b->ws, waiting ? 100 : 1000, ready, sizeof ready / sizeof ready[0]);
        for (int i = 0; i < n; i++) {
            if (ready[i].user == STOP_USER)
                continue;
            shmipc__bridge_route *r = &b->routes[ready[i].user];
            if (r->info.pattern == SHMIPC_PATTERN_PUBSUB)
                shmipc__bridge_pubsub_export_drain(r);
            else
                shmipc__bridge_event_export_drain(r);
            if (!atomic_load_explicit(&r->active, memory_order_relaxed)) {
                /* the drain found the service gone for us (reclaimed): take it out, open it again */
                if (r->sub) {
                    shmipc_waitset_remove(b->ws, r->sub);
                    shmipc__bridge_pubsub_export_close(r);
                } else if (r->listener) {
                    shmipc_waitset_remove(b->ws, r->listener);
                    shmipc__bridge_event_export_close(r);
                }
            }
        }
    }
    return NULL;
}

/* ---- connection callbacks ---------------------------------------------------------------------------- */

static void note_server(shmipc_bridge *b, natsConnection *nc)
{
    char url[128] = "";
    if (natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK)
        url[0] = '\0';
    pthread_mutex_lock(&b->mu);
    snprintf(b->server, sizeof b->server, "%s", url);
    pthread_mutex_unlock(&b->mu);
}

static void on_connected(natsConnection *nc, void *closure)
{
    shmipc_bridge *b = closure;
    note_server(b, nc);
    atomic_fetch_add_explicit(&b->connects, 1, memory_order_relaxed);
    atomic_store_explicit(&b->connected, true, memory_order_relaxed);
    shmipc__bridge_log(b, "connected to %s", b->server);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    shmipc_bridge *b = closure;
    (void)nc;
    if (atomic_exchange_explicit(&b->connected, false, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&b->disconnects, 1, memory_order_relaxed);
        if (!atomic_load_explicit(&b->stop, memory_order_relaxed))
            shmipc__bridge_log(b, "disconnected from %s: reconnecting", b->server);
    }
    pthread_mutex_lock(&b->mu);
    b->server[0] = '\0';
    pthread_mutex_unlock(&b->mu);
}

/* The connection's last callback: the library delivers connection callbacks in order on one thread, so
 * once this one has run none other will touch the bridge (shmipc_bridge_stop waits for it). */
static void on_closed(natsConnection *nc, void *closure)
{
    shmipc_bridge *b = closure;
    (void)nc;
    pthread_mutex_lock(&b->mu);
    b->closed = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    shmipc_bridge *b = closure;
    (void)nc;
    (void)sub;
    static _Atomic uint64_t last_ns; /* at most one line per second: a slow consumer reports per message */
    uint64_t now = shmipc__bridge_now_ns(), last = atomic_load_explicit(&last_ns, memory_order_relaxed);
    if (now - last > 1000000000u && atomic_compare_exchange_strong_explicit(&last_ns, &last, now,
                                                                            memory_order_relaxed,
                                                                            memory_order_relaxed))
        shmipc__bridge_log(b, "NATS: %s", natsStatus_GetText(err));
}

/* Exponential backoff from reconnect-wait MIN to MAX, with up to 10% jitter. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    shmipc_bridge *b = closure;
    (void)nc;
    uint64_t d = b->cfg.reconnect_min_ms;
    for (int i = 1; i < attempts && d < b->cfg.reconnect_max_ms; i++)
        d *= 2;
    if (d > b->cfg.reconnect_max_ms)
        d = b->cfg.reconnect_max_ms;
    d += (uint64_t)rand() % (d / 10 + 1);
    return (int64_t)d;
}

/* ---- start and stop ---------------------------------------------------------------------------------- */

static int nats_setup(shmipc_bridge *b)
{
    const shmipc_bridge_config *c = &b->cfg;
    const char *urls[SHMIPC_BRIDGE_MAX_SERVERS];
    size_t n = c->nservers;
    for (size_t i = 0; i < n; i++)
        urls[i] = c->servers[i];
    if (n == 0)
        urls[n++] = "nats://127.0.0.1:4222";
    char cname[SHMIPC_BRIDGE_NAME_MAX + 16];
    snprintf(cname, sizeof cname, "shmipc-bridge-%s", c->name);
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, urls, (int)n);
    if (s == NATS_OK)
        s = natsOptions_SetNoRandomize(o, true); /* the first URL (the local server) is preferred */
    if (s == NATS_OK)
        s = natsOptions_SetName(o, cname);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1); /* for ever */
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(o, (int)c->reconnect_buffer);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, on_closed, b);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, on_error, b);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, 1000); /* a dead server or link noticed in ~3 s */
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(o, 2);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetWriteDeadline(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPendingMsgs(o, 65536);
    if (s == NATS_OK) /* else the library's flusher holds each message up to 1 ms, to batch */
        s = natsOptions_SetSendAsap(o, c->send_asap);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        shmipc__bridge_log(b, "NATS options: %s", natsStatus_GetText(s));
        return -EPROTO;
    }
    b->opts = o;
    s = natsConnection_Connect(&b->nc, o);
    if (s == NATS_OK) {
        on_connected(b->nc, b);
    } else if (s == NATS_NOT_YET_CONNECTED) {
        shmipc__bridge_log(b, "no server answers yet at %s%s: connecting in the background", urls[0], n > 1 ? ", ..." : "");
    } else {
        shmipc__bridge_log(b, "NATS connect: %s", natsStatus_GetText(s));
        return shmipc__bridge_errno(s) ? shmipc__bridge_errno(s) : -EPROTO;
    }
    if (c->qos == SHMIPC_BRIDGE_QOS_JETSTREAM) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = c->ack_wait_ms;
        jo.PublishAsync.AckHandler = on_puback;
        jo.PublishAsync.AckHandlerClosure = b;
        jo.PublishAsync.MaxPending = c->max_inflight;
        s = natsConnection_JetStream(&b->js, b->nc, &jo);
        if (s != NATS_OK) {
            shmipc__bridge_log(b, "JetStream context: %s", natsStatus_GetText(s));
            return -EPROTO;
        }
    }
    return 0;
}

static int route_start(shmipc__bridge_route *r)
{
    if (r->info.direction == SHMIPC_BRIDGE_IMPORT) {
        switch (r->info.pattern) {
        case SHMIPC_PATTERN_PUBSUB:
            return shmipc__bridge_pubsub_import_start(r);
        case SHMIPC_PATTERN_EVENT:
            return shmipc__bridge_event_import_start(r);
        default:
            return shmipc__bridge_reqresp_import_start(r);
        }
    }
    if (r->info.pattern == SHMIPC_PATTERN_REQRESP)
        return shmipc__bridge_reqresp_export_start(r);
    return 0; /* the local thread opens pubsub and event exports */
}

static void route_stop(shmipc__bridge_route *r)
{
    if (r->info.direction == SHMIPC_BRIDGE_IMPORT) {
        switch (r->info.pattern) {
        case SHMIPC_PATTERN_PUBSUB:
            shmipc__bridge_pubsub_import_stop(r);
            break;
        case SHMIPC_PATTERN_EVENT:
            shmipc__bridge_event_import_stop(r);
            break;
        default:
            shmipc__bridge_reqresp_import_stop(r);
        }
    } else if (r->info.pattern == SHMIPC_PATTERN_REQRESP) {
        shmipc__bridge_reqresp_export_stop(r);
    } else if (r->info.pattern == SHMIPC_PATTERN_PUBSUB) {
        if (r->sub)
            shmipc_waitset_remove(r->b->ws, r->sub);
        shmipc__bridge_pubsub_export_close(r);
    } else {
        if (r->listener)
            shmipc_waitset_remove(r->b->ws, r->listener);
        shmipc__bridge_event_export_close(r);
    }
}

static void drain_buffers(shmipc_bridge *b)
{
    pthread_mutex_lock(&b->mu);
    while (b->count > 0) {
        natsMsg_Destroy(b->ring[b->head].msg);
        b->head = (b->head + 1) % b->cfg.buffer;
        b->count--;
    }
    for (uint32_t i = 0; i < b->nretry; i++)
        natsMsg_Destroy(b->retry[i].msg);
    b->nretry = 0;
    pthread_mutex_unlock(&b->mu);
}

int shmipc_bridge_stop(shmipc_bridge *b)
{
    if (!b)
        return 0;
    atomic_store_explicit(&b->stop, true, memory_order_relaxed);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->mu);
    if (b->stop_ev) {
        shmipc_event_post(b->stop_ev);
    }
    if (b->local_started)
        pthread_join(b->local_thread, NULL);
    /* replies first (their handler wakes reqresp imports), then the routes: unsubscribed (no handler
     * runs afterwards), their threads joined */
    shmipc__bridge_unsubscribe(&b->inbox_sub);
    for (size_t i = 0; i < b->nroutes; i++)
        route_stop(&b->routes[i]);
    if (b->net_started)
        pthread_join(b->net_thread, NULL);
    if (b->js) {
        /* Wait (bounded) for the stream's acknowledgements, then take back what has none: no
         * acknowledgement handler runs after this. */
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        if (atomic_load_explicit(&b->connected, memory_order_relaxed))
            js_PublishAsyncComplete(b->js, &po);
        pthread_mutex_lock(&b->mu);
        bool inflight = b->inflight > 0;
        pthread_mutex_unlock(&b->mu);
        natsMsgList pending = {0};
        /* (only with something in flight: libnats 3.4 crashes on a context that never published) */
        if (inflight && js_PublishAsyncGetPendingList(&pending, b->js) == NATS_OK)
            natsMsgList_Destroy(&pending);
    }
    if (b->nc) {
        natsConnection_FlushTimeout(b->nc, 2000);
        natsConnection_Close(b->nc);
        /* the disconnected and closed callbacks run on the library's thread after Close returns: b
         * stays until the last of them has (bounded, in case the library never calls it) */
        uint64_t deadline = shmipc__bridge_now_ns() + 5000000000u;
        pthread_mutex_lock(&b->mu);
        while (!b->closed && shmipc__bridge_now_ns() < deadline)
            cond_wait_ms(b, 100);
        pthread_mutex_unlock(&b->mu);
    }
    jsCtx_Destroy(b->js);
    natsConnection_Destroy(b->nc);
    natsOptions_Destroy(b->opts);
    drain_buffers(b);
    if (b->ws)
        shmipc_waitset_close(b->ws);
    shmipc_event_close(b->stop_ev);
    for (size_t i = 0; i < b->nroutes; i++) {
        free(b->routes[i].buf);
        free(b->routes[i].pending);
        pthread_mutex_destroy(&b->routes[i].reply_mu);
    }
    free(b->routes);
    free(b->ring);
    free(b->retry);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->stream_mu);
    pthread_cond_destroy(&b->cond);
    free(b);
    return 0;
}

int shmipc_bridge_start(shmipc_bridge_config *cfg, shmipc_bridge **out)
{
    if (!cfg || !out)
        return -EINVAL;
    int err = shmipc_bridge_config_check(cfg);
    if (err)
        return err;
    shmipc_bridge *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->cfg = *cfg;
    b->cfg.file = NULL;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->stream_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    b->nroutes = cfg->nroutes;
    b->routes = calloc(b->nroutes, sizeof *b->routes);
    b->ring = calloc(cfg->buffer, sizeof *b->ring);
    b->retry = calloc(cfg->max_inflight + 64, sizeof *b->retry);
    if (!b->routes || !b->ring || !b->retry) {
        shmipc_bridge_stop(b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < b->nroutes; i++) {
        shmipc__bridge_route *r = &b->routes[i];
        r->b = b;
        r->index = (uint32_t)i;
        r->info = cfg->routes[i];
        r->loop_slot = -1;
        pthread_mutex_init(&r->reply_mu, NULL);
        r->replies_tail = &r->replies;
    }
    if ((err = shmipc_waitset_create(&b->ws)) != 0 || (err = shmipc_event_create_in(b->stop_mem, sizeof b->stop_mem)) ||
        (err = shmipc_event_open_in(b->stop_mem, sizeof b->stop_mem, NULL, &b->stop_ev)) ||
        (err = shmipc_waitset_add_event(b->ws, b->stop_ev, SHMIPC_WAITSET_IN, STOP_USER)) || (err = nats_setup(b))) {
        shmipc_bridge_stop(b);
        return err;
    }
    /* Replies to forwarded requests come to one wildcard inbox subscription. */
    bool any_rr_import = false;
    for (size_t i = 0; i < b->nroutes; i++)
        any_rr_import |= b->routes[i].info.direction == SHMIPC_BRIDGE_IMPORT &&
                         b->routes[i].info.pattern == SHMIPC_PATTERN_REQRESP;
    if (any_rr_import) {
        natsInbox *ib = NULL;
        char wild[sizeof b->inbox + 4];
        natsStatus s = natsInbox_Create(&ib);
        if (s == NATS_OK) {
            snprintf(b->inbox, sizeof b->inbox, "%s", ib);
            snprintf(wild, sizeof wild, "%s.>", b->inbox);
        }
        natsInbox_Destroy(ib);
        if (s != NATS_OK || (err = shmipc__bridge_subscribe(b, &b->inbox_sub, wild, NULL, shmipc__bridge_reqresp_reply, b))) {
            shmipc_bridge_stop(b);
            return s != NATS_OK ? -ENOMEM : err;
        }
    }
    /* Imports first: an export of the same pubsub service must know our publisher's slot to skip it. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < b->nroutes; i++) {
            shmipc__bridge_route *r = &b->routes[i];
            if ((r->info.direction == SHMIPC_BRIDGE_IMPORT) != (pass == 0))
                continue;
            if (pass == 1 && r->info.pattern == SHMIPC_PATTERN_PUBSUB)
                for (size_t j = 0; j < b->nroutes; j++)
                    if (b->routes[j].info.direction == SHMIPC_BRIDGE_IMPORT &&
                        b->routes[j].info.pattern == SHMIPC_PATTERN_PUBSUB &&
                        !strcmp(b->routes[j].info.service, r->info.service))
                        r->loop_slot = shmipc__bridge_pubsub_import_slot(&b->routes[j]);
            if ((err = route_start(r)) != 0) {
                shmipc__bridge_log(b, "%s %s/%s: %s", r->info.direction == SHMIPC_BRIDGE_IMPORT ? "import" : "export",
                           shmipc_service_pattern_name(r->info.pattern), r->info.service, shmipc_strerror(err));
                shmipc_bridge_stop(b);
                return err;
            }
        }
    if (pthread_create(&b->net_thread, NULL, net_main, b) != 0) {
        shmipc_bridge_stop(b);
        return -EAGAIN;
    }
    b->net_started = true;
    if (pthread_create(&b->local_thread, NULL, local_main, b) != 0) {
        shmipc_bridge_stop(b);
        return -EAGAIN;
    }
    b->local_started = true;
    *out = b;
    return 0;
}

/* ---- stats ------------------------------------------------------------------------------------------- */

int shmipc_bridge_stats_get(shmipc_bridge *b, shmipc_bridge_stats *st)
{
    if (!b || !st)
        return -EINVAL;
    memset(st, 0, sizeof *st);
    st->connected = atomic_load_explicit(&b->connected, memory_order_relaxed);
    st->jetstream = b->cfg.qos == SHMIPC_BRIDGE_QOS_JETSTREAM;
    st->buffer_cap = b->cfg.buffer;
    st->connects = atomic_load_explicit(&b->connects, memory_order_relaxed);
    st->disconnects = atomic_load_explicit(&b->disconnects, memory_order_relaxed);
    st->overflow = atomic_load_explicit(&b->overflow, memory_order_relaxed);
    snprintf(st->name, sizeof st->name, "%s", b->cfg.name);
    pthread_mutex_lock(&b->mu);
    st->buffered = b->count + b->nretry;
    snprintf(st->server, sizeof st->server, "%s", b->server);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

size_t shmipc_bridge_routes(const shmipc_bridge *b)
{
    return b ? b->nroutes : 0;
}

int shmipc_bridge_route_stats_get(shmipc_bridge *b, size_t i, shmipc_bridge_route_stats *st)
{
    if (!b || !st)
        return -EINVAL;
    if (i >= b->nroutes)
        return -ERANGE;
    shmipc__bridge_route *r = &b->routes[i];
    memset(st, 0, sizeof *st);
    st->route = r->info;
    st->active = atomic_load_explicit(&r->active, memory_order_relaxed);
    st->received = atomic_load_explicit(&r->received, memory_order_relaxed);
    st->forwarded = atomic_load_explicit(&r->forwarded, memory_order_relaxed);
    st->dropped = atomic_load_explicit(&r->dropped, memory_order_relaxed);
    st->duplicates = atomic_load_explicit(&r->duplicates, memory_order_relaxed);
    st->gaps = atomic_load_explicit(&r->gaps, memory_order_relaxed);
    st->missed = atomic_load_explicit(&r->missed, memory_order_relaxed);
    st->retried = atomic_load_explicit(&r->retried, memory_order_relaxed);
    st->errors = atomic_load_explicit(&r->errors, memory_order_relaxed);
    /* what the NATS library dropped for a slow import (its pending limit) */
    if (r->ns.s && r->info.direction == SHMIPC_BRIDGE_IMPORT) { /* set before start returned */
        int64_t dropped = 0;
        if (natsSubscription_GetDropped(r->ns.s, &dropped) == NATS_OK && dropped > 0)
            st->dropped += (uint64_t)dropped;
    }
    return 0;
}
