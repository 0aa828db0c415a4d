/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/bridge_internal.h - what the files of the NATS bridge (libshmipc-nats) share: the
 * configuration as parsed (config.c), the running bridge with its routes, its one outgoing buffer and its
 * threads (bridge.c), the per-publisher duplicate and gap window (dedup.c), and the forwarding of each
 * pattern (pubsub.c, reqresp.c, event.c). ARCHITECTURE.md, section "NATS bridge", draws the threads,
 * the buffers and what is copied where.
 */
#ifndef SHMIPC_BRIDGE_INTERNAL_H
#define SHMIPC_BRIDGE_INTERNAL_H

#include <shmipc/bridge.h>
#include <shmipc/evsvc.h>
#include <shmipc/event.h>
#include <shmipc/pubsub.h>
#include <shmipc/reqresp.h>
#include <shmipc/segment.h>
#include <shmipc/waitset.h>

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The headers a bridge puts on what it publishes (and reads on what it imports). */
#define BRIDGE_HDR_ORIGIN "Shmipc-Origin"       /* the publishing bridge's name */
#define BRIDGE_HDR_PUBLISHER "Shmipc-Publisher" /* ORIGIN/SERVICE/EPOCH/SLOT: one sample stream */
#define BRIDGE_HDR_SEQUENCE "Shmipc-Sequence"   /* the sample's sequence in that stream, decimal */
#define BRIDGE_HDR_MORE "Shmipc-More"           /* a response with more to follow (SHMIPC_RR_MORE): "1" */
#define BRIDGE_HDR_MSGID "Nats-Msg-Id"          /* JetStream: PUBLISHER/SEQUENCE, for the stream's dedup */

#define BRIDGE_SERVER_MAX 255 /* longest server URL */
#define BRIDGE_STREAM_MAX 63  /* longest JetStream stream name or placement tag */

/* ---- configuration (config.c) ------------------------------------------------------------------------ */

struct shmipc_bridge_config {
    char name[SHMIPC_BRIDGE_NAME_MAX + 1];
    char prefix[SHMIPC_BRIDGE_SUBJECT_MAX + 1];
    char servers[SHMIPC_BRIDGE_MAX_SERVERS][BRIDGE_SERVER_MAX + 1];
    size_t nservers; /* 0: the default server */
    shmipc_bridge_qos qos;
    char stream[BRIDGE_STREAM_MAX + 1];     /* JetStream stream name */
    char stream_tag[BRIDGE_STREAM_MAX + 1]; /* JetStream placement tag ("" none) */
    uint32_t buffer;                        /* outgoing buffer, messages */
    bool drop_newest;                       /* overflow policy: refuse the new message (else drop the oldest) */
    bool send_asap;                         /* each message written at once (else batched by libnats, <= 1 ms) */
    uint32_t reconnect_min_ms, reconnect_max_ms;
    uint32_t reconnect_buffer;   /* bytes the NATS library keeps while reconnecting */
    uint32_t request_timeout_ms; /* reqresp: a forwarded request's answer waited for so long */
    uint32_t ack_wait_ms;        /* JetStream: publish acknowledgement and consumer ack wait */
    uint32_t max_inflight;       /* JetStream: unacknowledged publishes and consumer fetch batch */
    uint64_t dedup_window_ms;    /* JetStream stream's duplicate window */
    uint64_t max_age_ms;         /* JetStream stream's retention */
    shmipc_bridge_route_info routes[SHMIPC_BRIDGE_MAX_ROUTES];
    size_t nroutes;
    bool derived[SHMIPC_BRIDGE_MAX_ROUTES]; /* the route's subject was derived from the prefix */
    bool checked;
    char error[384];
    const char *file; /* while loading: for error messages */
    unsigned line;
};

/* Set cfg's error text (printf-style, prefixed with the file and line while loading); returns -EINVAL. */
int shmipc__bridge_config_fail(shmipc_bridge_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a decimal unsigned number (digits only) of at most max; 0 or -EINVAL / -ERANGE. */
int shmipc__bridge_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* ---- duplicate and gap window (dedup.c) -------------------------------------------------------------- */

/* Sequences tracked behind the highest one seen, per publisher (8 KiB of bits). It must cover what
 * arrives between a message and its redelivery: a JetStream consumer redelivers what a killed bridge
 * had not acknowledged after ack-wait, by when the publisher has gone on (2 s at 30000 samples/s). */
#define BRIDGE_DEDUP_WINDOW 65536u
/* Publishers tracked per import route; the least recently seen one is forgotten when more appear. */
#define BRIDGE_DEDUP_PUBLISHERS 64u

typedef struct shmipc__bridge_dedup_entry {
    uint64_t key;     /* hash of the publisher id; 0 = free */
    uint64_t highest; /* highest sequence forwarded */
    uint64_t used;    /* the table's clock when last seen */
    uint64_t bits[BRIDGE_DEDUP_WINDOW / 64]; /* bit (s % WINDOW): sequence s in (highest - WINDOW, highest] forwarded */
} shmipc__bridge_dedup_entry;

typedef struct shmipc__bridge_dedup {
    uint64_t clock;   /* commits so far: the age of an entry for least-recently-seen */
    uint64_t last;    /* index of the entry found last (a hint: checked, never trusted) */
    shmipc__bridge_dedup_entry e[BRIDGE_DEDUP_PUBLISHERS];
} shmipc__bridge_dedup;

/* What to do with a sample. */
typedef enum shmipc__bridge_verdict {
    BRIDGE_NEW = 0, /* forward it, then shmipc__bridge_dedup_commit */
    BRIDGE_DUP = 1, /* forwarded before (or older than the window): drop it */
} shmipc__bridge_verdict;

/* The window of one import route as it is kept in its state segment "/shmipc-bridge.NAME.HASH" (in the
 * object directory: the host's), so that a bridge killed and started again still drops what it forwarded
 * before and counts the gaps of its downtime. Written by the owning bridge alone (it holds an exclusive
 * flock on the segment while it runs); a stale or foreign content is reset. */
#define BRIDGE_STATE_MAGIC UINT64_C(0x3174617453676442) /* "BdgState1" */
#define BRIDGE_STATE_TYPE (SHMIPC_TYPE_USER + 0x4e42u)  /* segment type tag */
typedef struct shmipc__bridge_state {
    uint64_t magic;
    uint32_t version; /* 1 */
    uint32_t size;    /* sizeof(shmipc__bridge_state) */
    char service[SHMIPC_SERVICE_NAME_MAX + 1];
    shmipc__bridge_dedup dedup;
} shmipc__bridge_state;

/* The key of a publisher id string (never 0). */
uint64_t shmipc__bridge_dedup_key(const char *publisher, size_t len);

/* Whether sequence seq of publisher key was forwarded already. */
shmipc__bridge_verdict shmipc__bridge_dedup_check(const shmipc__bridge_dedup *d, uint64_t key, uint64_t seq);

/* Record that seq of key was forwarded; returns the change in the gap count: + the sequences skipped
 * over, -1 for one that fills an earlier gap, 0 otherwise. */
int64_t shmipc__bridge_dedup_commit(shmipc__bridge_dedup *d, uint64_t key, uint64_t seq);

/* ---- the running bridge (bridge.c) ------------------------------------------------------------------- */

/* An asynchronous NATS subscription whose end is waited for: after shmipc__bridge_unsubscribe returns, its
 * handler runs no more (so what the handler uses may be freed). */
typedef struct shmipc__bridge_sub {
    natsSubscription *s;
    shmipc_bridge *b;
    atomic_bool done;
} shmipc__bridge_sub;

/* A response on its way from a NATS callback to a request/response import's server thread. */
typedef struct shmipc__bridge_reply {
    struct shmipc__bridge_reply *next;
    natsMsg *msg;
    uint32_t slot; /* the pending request it answers */
    uint64_t id;   /* and its identity (a late answer to a reused slot is told apart) */
} shmipc__bridge_reply;

/* A request forwarded to NATS and not answered yet (request/response import). */
typedef struct shmipc__bridge_pending {
    uint64_t id; /* 0: free */
    uint64_t deadline_ns;
    shmipc_reqresp_request_info info;
} shmipc__bridge_pending;

#define BRIDGE_PENDING_MAX 1024u

typedef struct shmipc__bridge_route {
    /* (fields grouped by size, largest alignment first; the comment says which thread uses each) */
    _Alignas(64) unsigned char reply_ev[SHMIPC_EVENT_SIZE]; /* reqresp import: posted when a reply is queued */
    shmipc_bridge *b;
    _Atomic uint64_t received, forwarded, dropped, duplicates, gaps, missed, retried, errors;
    uint64_t retry_ns; /* owning thread: when to try opening the local service again */
    /* pubsub export (local thread) */
    shmipc_pubsub_subscriber *sub;
    size_t publisher_len;
    uint64_t missed_seen;
    int64_t loop_slot; /* our own import publisher's slot in this service, -1 none */
    /* pubsub import (one NATS callback thread, or the JetStream fetch thread) */
    shmipc_pubsub_publisher *pub;
    uint64_t payload_max;
    shmipc__bridge_dedup *dedup; /* in the state segment */
    shmipc_segment *state_seg;
    natsSubscription *pull;      /* JetStream import: the fetch thread's pull subscription */
    /* event export (local thread) / import (NATS callback) */
    shmipc_evsvc_listener *listener;
    shmipc_evsvc_notifier *notifier;
    /* reqresp export (NATS callback thread) */
    shmipc_reqresp_client *cli;
    void *buf; /* request and response buffer of the owning thread */
    size_t cap;
    /* reqresp import (server thread; replies from the inbox callback) */
    shmipc_reqresp_server *srv;
    shmipc_waitset *srv_ws;   /* server thread: the server and the replies event */
    shmipc_event *reply_wait; /* server thread's handle of the event */
    shmipc_event *reply_post; /* inbox callback thread's handle (one handle per thread) */
    shmipc__bridge_reply *replies, **replies_tail;
    shmipc__bridge_pending *pending;
    uint64_t next_id;
    pthread_t thread; /* reqresp import server, or JetStream fetch */
    shmipc__bridge_sub ns; /* core NATS subscription of an import or a reqresp export */
    pthread_mutex_t reply_mu;
    shmipc_bridge_route_info info;
    uint32_t index;
    uint32_t max_events; /* event import */
    uint32_t npending;   /* reqresp import */
    atomic_bool active;
    bool failing; /* a failure was logged: log again only when it clears (owning thread only) */
    bool dynamic; /* pubsub import: samples of any size */
    bool thread_started;
    char durable[160];  /* JetStream import's consumer */
    char publisher[SHMIPC_BRIDGE_NAME_MAX + SHMIPC_SERVICE_NAME_MAX + 32]; /* export: ORIGIN/SERVICE/EPOCH/ */
} shmipc__bridge_route;

/* One message for NATS in the outgoing buffer. */
typedef struct shmipc__bridge_out {
    natsMsg *msg;
    uint32_t route;
    bool jetstream; /* publish through the stream (else core NATS) */
} shmipc__bridge_out;

struct shmipc_bridge {
    _Alignas(64) unsigned char stop_mem[SHMIPC_EVENT_SIZE]; /* the local thread's stop event */
    shmipc_bridge_config cfg;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    _Atomic uint64_t connects, disconnects, overflow;
    /* the outgoing buffer (ring of cfg.buffer entries), and JetStream publishes to send again; under mu */
    shmipc__bridge_out *ring;
    shmipc__bridge_out *retry; /* max_inflight entries: what the stream did not acknowledge */
    uint64_t retry_after_ns;
    /* the local thread: a waitset over export subscribers and listeners, and the stop event */
    shmipc_waitset *ws;
    shmipc_event *stop_ev;
    shmipc__bridge_route *routes;
    size_t nroutes;
    pthread_t local_thread, net_thread;
    pthread_mutex_t stream_mu; /* one stream check at a time */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* something to send, connected again, or stop */
    shmipc__bridge_sub inbox_sub; /* replies to forwarded requests: INBOX.> */
    uint32_t head, count;
    uint32_t nretry;
    uint32_t inflight;
    atomic_bool stop;
    atomic_bool connected;
    atomic_bool stream_ready;
    bool local_started, net_started;
    bool closed; /* under mu: the connection's closed callback ran (its last) */
    char server[128];
    char inbox[96];
};

/* Log a line "shmipc bridge NAME: ..." where shmipc_bridge_log said. */
void shmipc__bridge_log(const shmipc_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CLOCK_MONOTONIC in ns. */
uint64_t shmipc__bridge_now_ns(void);

/* Hand msg (ownership passes) to the network thread through the outgoing buffer, dropping by the
 * overflow policy when it is full. Never waits for the network. */
void shmipc__bridge_send(shmipc_bridge *b, shmipc__bridge_route *r, natsMsg *msg, bool jetstream);

/* Add the headers every forwarded message carries (origin); 0 or -ENOMEM. */
int shmipc__bridge_headers(const shmipc_bridge *b, natsMsg *msg);

/* Whether msg came from this bridge (its origin header is our name): an import ignores it. */
bool shmipc__bridge_own(const shmipc_bridge *b, natsMsg *msg);

/* Make sure the JetStream stream exists (network or fetch thread); 0, or a negative errno to retry. */
int shmipc__bridge_stream_ensure(shmipc_bridge *b);

/* Subscribe (queue group queue, or NULL) with cb(closure); 0 or a negative errno. */
int shmipc__bridge_subscribe(shmipc_bridge *b, shmipc__bridge_sub *bs, const char *subject, const char *queue, natsMsgHandler cb,
                     void *closure);
/* Unsubscribe and wait (up to 5 s) until the handler has returned for the last time. NULL sub: no-op. */
void shmipc__bridge_unsubscribe(shmipc__bridge_sub *bs);

/* Wait on the bridge's condition variable up to ms (unless stop). */
void shmipc__bridge_nap(shmipc_bridge *b, unsigned ms);

/* Errno of a NATS status, for the API's errors. */
int shmipc__bridge_errno(natsStatus s);

/* ---- patterns ---------------------------------------------------------------------------------------- */

/* pubsub.c. Local thread: open the exported service if it exists (0, -ENOENT, or an error) and take
 * what arrived; import: open the local service at start (0 or an error) and subscribe. */
int shmipc__bridge_pubsub_export_open(shmipc__bridge_route *r);
void shmipc__bridge_pubsub_export_close(shmipc__bridge_route *r);
void shmipc__bridge_pubsub_export_drain(shmipc__bridge_route *r);
int shmipc__bridge_pubsub_import_start(shmipc__bridge_route *r);
void shmipc__bridge_pubsub_import_stop(shmipc__bridge_route *r);
/* The local publisher's slot of an import route (for the export of the same service to skip). */
int64_t shmipc__bridge_pubsub_import_slot(const shmipc__bridge_route *r);

/* event.c */
int shmipc__bridge_event_export_open(shmipc__bridge_route *r);
void shmipc__bridge_event_export_close(shmipc__bridge_route *r);
void shmipc__bridge_event_export_drain(shmipc__bridge_route *r);
int shmipc__bridge_event_import_start(shmipc__bridge_route *r);
void shmipc__bridge_event_import_stop(shmipc__bridge_route *r);

/* reqresp.c: exports subscribe and call the local server from the NATS callback; imports serve the
 * local service from their own thread. shmipc__bridge_reqresp_reply is the inbox callback. */
int shmipc__bridge_reqresp_export_start(shmipc__bridge_route *r);
void shmipc__bridge_reqresp_export_stop(shmipc__bridge_route *r);
int shmipc__bridge_reqresp_import_start(shmipc__bridge_route *r);
void shmipc__bridge_reqresp_import_stop(shmipc__bridge_route *r);
void shmipc__bridge_reqresp_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);

#endif
