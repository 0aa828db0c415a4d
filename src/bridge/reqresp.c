/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/reqresp.c - request/response through the bridge, as NATS request/reply.
 *
 * Export (a local server answers requests from NATS): the bridge subscribes to the subject in the queue
 * group "shmipc-bridge" (bridges of several hosts exporting one service share its requests) and, in the
 * subscription's delivery thread, calls the local server with a client of its own; each response goes to
 * the request's reply subject, a stream's responses but the last with the header Shmipc-More: 1. One
 * request at a time per exported service: the local call takes microseconds.
 *
 * Import (local clients call a service whose server is elsewhere): the bridge is the local server, in a
 * thread of its own. Each request is sent on the subject with the reply subject INBOX.ROUTE.SLOT.ID and
 * kept in a table of pending requests until its last response or request-timeout. Replies arrive in the
 * inbox subscription's thread, which may not use the server handle (one thread per handle): it queues
 * them and posts an event (in the bridge's memory) that the server thread waits on together with the
 * server, in one waitset. A request that gets no answer in time is dropped (counted), and the local
 * client's own timeout ends its call; so does "no responders".
 */
#include "bridge_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(r, field, n) atomic_fetch_add_explicit(&(r)->field, (uint64_t)(n), memory_order_relaxed)
#define QUEUE_GROUP "shmipc-bridge"

/* ---- export ------------------------------------------------------------------------------------------ */

/* Send one response to reply (through the outgoing buffer). */
static void respond_nats(shmipc__bridge_route *r, const char *reply, const void *data, int len, bool more)
{
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, reply, NULL, data, len) != NATS_OK || shmipc__bridge_headers(r->b, m) != 0 ||
        (more && natsMsgHeader_Set(m, BRIDGE_HDR_MORE, "1") != NATS_OK)) {
        natsMsg_Destroy(m);
        COUNT(r, dropped, 1);
        return;
    }
    shmipc__bridge_send(r->b, r, m, false);
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    shmipc__bridge_route *r = closure;
    shmipc_bridge *b = r->b;
    (void)nc;
    (void)sub;
    const char *reply = natsMsg_GetReply(msg);
    if (!reply || !*reply) { /* a publish, not a request: nobody to answer */
        COUNT(r, errors, 1);
        natsMsg_Destroy(msg);
        return;
    }
    COUNT(r, received, 1);
    int err = 0;
    if (!r->cli) {
        err = shmipc_reqresp_client_open(r->info.service, NULL, &r->cli); /* the service's settings */
        if (err) {
            if (!r->failing)
                shmipc__bridge_log(b, "reqresp/%s: no local server to call (%s): requests go unanswered", r->info.service,
                           shmipc_strerror(err));
            r->failing = true;
            r->cli = NULL;
        } else {
            if (r->failing)
                shmipc__bridge_log(b, "reqresp/%s: calling the local server", r->info.service);
            r->failing = false;
            atomic_store_explicit(&r->active, true, memory_order_relaxed);
        }
    }
    int n = -ENOTCONN;
    shmipc_reqresp_response_info info = {0};
    if (r->cli) {
        int len = natsMsg_GetDataLength(msg);
        n = shmipc_reqresp_client_call(r->cli, natsMsg_GetData(msg), len > 0 ? (size_t)len : 0, r->buf, r->cap,
                                       &info, (int)b->cfg.request_timeout_ms);
    }
    if (n < 0) {
        COUNT(r, dropped, 1);
        if (n == -EPIPE || n == -EBADMSG) { /* the server went away: connect again next time */
            shmipc_reqresp_client_close(r->cli);
            r->cli = NULL;
            atomic_store_explicit(&r->active, false, memory_order_relaxed);
        }
        natsMsg_Destroy(msg);
        return;
    }
    uint64_t id = info.id;
    bool more = info.flags & SHMIPC_RR_MORE;
    respond_nats(r, reply, r->buf, n, more);
    /* a stream: the rest of its responses, each bounded by the request timeout */
    while (more) {
        n = shmipc_reqresp_client_receive(r->cli, &info, r->buf, r->cap, (int)b->cfg.request_timeout_ms);
        if (n < 0) {
            COUNT(r, dropped, 1);
            break;
        }
        if (info.id != id)
            continue; /* a late answer to an earlier call that timed out */
        more = info.flags & SHMIPC_RR_MORE;
        respond_nats(r, reply, r->buf, n, more);
    }
    if (n >= 0)
        COUNT(r, forwarded, 1);
    natsMsg_Destroy(msg);
}

int shmipc__bridge_reqresp_export_start(shmipc__bridge_route *r)
{
    r->cap = SHMIPC_RR_MAX_MESSAGE;
    r->buf = malloc(r->cap);
    if (!r->buf)
        return -ENOMEM;
    int err = shmipc__bridge_subscribe(r->b, &r->ns, r->info.subject, QUEUE_GROUP, on_request, r);
    if (!err)
        shmipc__bridge_log(r->b, "exporting reqresp/%s as %s (requests answered by the local server)", r->info.service,
                   r->info.subject);
    return err;
}

void shmipc__bridge_reqresp_export_stop(shmipc__bridge_route *r)
{
    shmipc__bridge_unsubscribe(&r->ns);
    shmipc_reqresp_client_close(r->cli);
    r->cli = NULL;
}

/* ---- import ------------------------------------------------------------------------------------------ */

/* The inbox callback: a reply to a forwarded request, queued for the route's server thread. */
void shmipc__bridge_reqresp_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    shmipc_bridge *b = closure;
    (void)nc;
    (void)sub;
    const char *subj = natsMsg_GetSubject(msg);
    size_t il = strlen(b->inbox);
    uint64_t route, slot, id;
    char tail[64];
    bool ok = subj && strncmp(subj, b->inbox, il) == 0 && subj[il] == '.' && strlen(subj + il + 1) < sizeof tail;
    if (ok) {
        snprintf(tail, sizeof tail, "%s", subj + il + 1);
        char *save = NULL, *t1 = strtok_r(tail, ".", &save), *t2 = strtok_r(NULL, ".", &save),
             *t3 = strtok_r(NULL, ".", &save);
        ok = t1 && t2 && t3 && !strtok_r(NULL, ".", &save) && shmipc__bridge_parse_u64(t1, b->nroutes - 1, &route) == 0 &&
             shmipc__bridge_parse_u64(t2, BRIDGE_PENDING_MAX - 1, &slot) == 0 && shmipc__bridge_parse_u64(t3, UINT64_MAX, &id) == 0;
    }
    shmipc__bridge_route *r = ok ? &b->routes[route] : NULL;
    /* acquire: the server thread set up its side before it marked the route active */
    if (!r || r->info.direction != SHMIPC_BRIDGE_IMPORT || r->info.pattern != SHMIPC_PATTERN_REQRESP ||
        !atomic_load_explicit(&r->active, memory_order_acquire)) {
        natsMsg_Destroy(msg);
        return;
    }
    shmipc__bridge_reply *rep = malloc(sizeof *rep);
    if (!rep) {
        COUNT(r, dropped, 1);
        natsMsg_Destroy(msg);
        return;
    }
    *rep = (shmipc__bridge_reply){NULL, msg, (uint32_t)slot, id};
    pthread_mutex_lock(&r->reply_mu);
    *r->replies_tail = rep;
    r->replies_tail = &rep->next;
    pthread_mutex_unlock(&r->reply_mu);
    /* this thread's own handle of the event (handles are per thread): made at its first reply */
    if (!r->reply_post && shmipc_event_open_in(r->reply_ev, sizeof r->reply_ev, NULL, &r->reply_post) != 0)
        return; /* the server thread looks at the queue every 200 ms anyway */
    shmipc_event_post(r->reply_post);
}

static void pending_free(shmipc__bridge_route *r, shmipc__bridge_pending *p)
{
    p->id = 0;
    r->npending--;
}

/* Serve the queued replies (server thread). */
static void replies_serve(shmipc__bridge_route *r)
{
    shmipc_bridge *b = r->b;
    pthread_mutex_lock(&r->reply_mu);
    shmipc__bridge_reply *list = r->replies;
    r->replies = NULL;
    r->replies_tail = &r->replies;
    pthread_mutex_unlock(&r->reply_mu);
    while (list) {
        shmipc__bridge_reply *rep = list;
        list = rep->next;
        shmipc__bridge_pending *p = &r->pending[rep->slot];
        if (p->id == rep->id) {
            natsMsg *m = rep->msg;
            if (natsMsg_IsNoResponders(m)) {
                COUNT(r, dropped, 1);
                if (!r->failing)
                    shmipc__bridge_log(b, "reqresp/%s: no server answers %s: requests go unanswered", r->info.service,
                               r->info.subject);
                r->failing = true;
                pending_free(r, p);
            } else {
                const char *more_s = NULL;
                bool more = natsMsgHeader_Get(m, BRIDGE_HDR_MORE, &more_s) == NATS_OK && more_s && !strcmp(more_s, "1");
                int len = natsMsg_GetDataLength(m);
                int err = shmipc_reqresp_server_respond(r->srv, &p->info, natsMsg_GetData(m), len > 0 ? (size_t)len : 0,
                                                        more ? SHMIPC_RR_MORE : 0, 100);
                r->failing = false;
                if (err) {
                    COUNT(r, dropped, 1);
                    if (err != -ENOTCONN)
                        COUNT(r, errors, 1);
                    pending_free(r, p);
                } else if (!more) {
                    COUNT(r, forwarded, 1);
                    pending_free(r, p);
                } else {
                    p->deadline_ns = shmipc__bridge_now_ns() + (uint64_t)b->cfg.request_timeout_ms * 1000000u;
                }
            }
        }
        natsMsg_Destroy(rep->msg);
        free(rep);
    }
}

/* Forward one request (server thread). */
static void request_forward(shmipc__bridge_route *r, const shmipc_reqresp_request_info *info, int len)
{
    shmipc_bridge *b = r->b;
    COUNT(r, received, 1);
    shmipc__bridge_pending *p = NULL;
    uint32_t slot = 0;
    if (r->npending < BRIDGE_PENDING_MAX) {
        for (uint32_t i = 0; i < BRIDGE_PENDING_MAX; i++) {
            slot = (uint32_t)((r->next_id + i) % BRIDGE_PENDING_MAX);
            if (r->pending[slot].id == 0) {
                p = &r->pending[slot];
                break;
            }
        }
    }
    if (!p) {
        COUNT(r, dropped, 1);
        return;
    }
    uint64_t id = ++r->next_id;
    char reply[sizeof b->inbox + 64];
    snprintf(reply, sizeof reply, "%s.%" PRIu32 ".%" PRIu32 ".%" PRIu64, b->inbox, r->index, slot, id);
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, r->info.subject, reply, r->buf, len) != NATS_OK || shmipc__bridge_headers(b, m) != 0) {
        natsMsg_Destroy(m);
        COUNT(r, dropped, 1);
        return;
    }
    *p = (shmipc__bridge_pending){id, shmipc__bridge_now_ns() + (uint64_t)b->cfg.request_timeout_ms * 1000000u, *info};
    r->npending++;
    shmipc__bridge_send(b, r, m, false);
}

/* Requests unanswered past their deadline are dropped; returns ms until the next deadline (<= 200). */
static int pending_sweep(shmipc__bridge_route *r)
{
    if (r->npending == 0)
        return 200;
    uint64_t now = shmipc__bridge_now_ns(), next = now + 200000000u;
    for (uint32_t i = 0; i < BRIDGE_PENDING_MAX; i++) {
        shmipc__bridge_pending *p = &r->pending[i];
        if (!p->id)
            continue;
        if (p->deadline_ns <= now) {
            COUNT(r, dropped, 1);
            pending_free(r, p);
        } else if (p->deadline_ns < next) {
            next = p->deadline_ns;
        }
    }
    return (int)((next - now) / 1000000u) + 1;
}

/* Become the local server (retried while another process serves it) and wait on it and the replies
 * event together. */
static int serve_open(shmipc__bridge_route *r)
{
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.max_request = (uint32_t)r->info.size;
    o.max_response = (uint32_t)r->info.size;
    o.depth = r->info.depth;
    int err = shmipc_reqresp_server_create(r->info.service, &o, &r->srv);
    if (err)
        return err;
    if ((err = shmipc_waitset_add_server(r->srv_ws, r->srv, SHMIPC_WAITSET_IN, 0)) != 0) {
        shmipc_reqresp_server_close(r->srv);
        r->srv = NULL;
    }
    return err;
}

static void *serve_main(void *arg)
{
    shmipc__bridge_route *r = arg;
    shmipc_bridge *b = r->b;
    bool warned = false;
    uint64_t last_sweep = 0;
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
        if (!r->srv) {
            int err = serve_open(r);
            if (err) {
                if (!warned)
                    shmipc__bridge_log(b, "reqresp/%s: cannot serve it (%s): retrying", r->info.service, shmipc_strerror(err));
                warned = true;
                shmipc__bridge_nap(b, 500);
                continue;
            }
            /* release: the inbox callback may queue replies once it sees the route active */
            atomic_store_explicit(&r->active, true, memory_order_release);
            shmipc__bridge_log(b, "importing %s as reqresp/%s (the bridge serves it)", r->info.subject, r->info.service);
            warned = false;
        }
        replies_serve(r);
        int timeout = 200;
        uint64_t now = shmipc__bridge_now_ns();
        if (r->npending && now - last_sweep > 20000000u) {
            timeout = pending_sweep(r);
            last_sweep = now;
        }
        /* requests queued, or replies (the event): no system call when either is there already */
        shmipc_waitset_ready ready[2];
        int n = shmipc_waitset_wait(r->srv_ws, timeout, ready, 2);
        if (n < 0)
            continue;
        shmipc_event_wait(r->reply_wait, 0); /* take the posts: the queue is looked at next turn */
        for (int i = 0; i < 32; i++) { /* what is queued, a bounded batch per turn */
            shmipc_reqresp_request_info info;
            int len = shmipc_reqresp_server_receive(r->srv, &info, r->buf, r->cap, 0);
            if (len >= 0) {
                request_forward(r, &info, len);
                continue;
            }
            if (len == -EBADMSG) {
                COUNT(r, errors, 1);
                continue;
            }
            if (len != -EAGAIN && len != -ETIMEDOUT && len != -EINTR) {
                COUNT(r, errors, 1);
                shmipc__bridge_log(b, "reqresp/%s: receive: %s", r->info.service, shmipc_strerror(len));
                shmipc__bridge_nap(b, 100);
            }
            break;
        }
    }
    return NULL;
}

int shmipc__bridge_reqresp_import_start(shmipc__bridge_route *r)
{
    r->cap = r->info.size ? r->info.size : 4096; /* the service's default max_request */
    if (r->cap < SHMIPC_RR_MAX_MESSAGE)
        r->cap = SHMIPC_RR_MAX_MESSAGE; /* room for whatever an existing service takes */
    r->buf = malloc(r->cap);
    r->pending = calloc(BRIDGE_PENDING_MAX, sizeof *r->pending);
    if (!r->buf || !r->pending)
        return -ENOMEM;
    int err = shmipc_event_create_in(r->reply_ev, sizeof r->reply_ev);
    if (!err)
        err = shmipc_event_open_in(r->reply_ev, sizeof r->reply_ev, NULL, &r->reply_wait);
    if (!err)
        err = shmipc_waitset_create(&r->srv_ws);
    if (!err)
        err = shmipc_waitset_add_event(r->srv_ws, r->reply_wait, SHMIPC_WAITSET_IN, 1);
    if (err)
        return err;
    if (pthread_create(&r->thread, NULL, serve_main, r) != 0)
        return -EAGAIN;
    r->thread_started = true;
    return 0;
}

void shmipc__bridge_reqresp_import_stop(shmipc__bridge_route *r)
{
    if (r->thread_started)
        pthread_join(r->thread, NULL);
    r->thread_started = false;
    atomic_store_explicit(&r->active, false, memory_order_relaxed);
    /* the inbox subscription is gone (shmipc__bridge_stop ends it first): nobody queues or posts any more */
    pthread_mutex_lock(&r->reply_mu);
    shmipc__bridge_reply *list = r->replies;
    r->replies = NULL;
    r->replies_tail = &r->replies;
    pthread_mutex_unlock(&r->reply_mu);
    while (list) {
        shmipc__bridge_reply *next = list->next;
        natsMsg_Destroy(list->msg);
        free(list);
        list = next;
    }
    shmipc_waitset_close(r->srv_ws); /* before the handles in it */
    r->srv_ws = NULL;
    shmipc_event_close(r->reply_wait);
    shmipc_event_close(r->reply_post);
    r->reply_wait = r->reply_post = NULL;
    shmipc_reqresp_server_close(r->srv);
    r->srv = NULL;
}
