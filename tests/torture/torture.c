/* SPDX-License-Identifier: MIT */
/*
 * tests/torture/torture.c - the crash torture harness: producers and consumers of each messaging kind
 * (channel, queue, pub/sub, request/response, blackboard) run as real processes with traffic flowing; a
 * randomly chosen one is SIGKILLed at a random moment (or dies by itself at a kill point, armed through
 * a layer's internal test hook or at the API boundary) and is restarted to take over its endpoint, over
 * and over. A shared scoreboard records what every sender attempted and committed and what every
 * receiver got; the harness and the receivers check the invariants of docs/reliability.md after each
 * kill and at the end of each round (when traffic is stopped and drained):
 *   - no live worker goes without progress for longer than a bound while traffic should flow;
 *   - every message received is intact (checksum) and in order (per-sender sequence strictly increasing,
 *     gaps only for sequence numbers never committed);
 *   - every message committed is delivered exactly once to each receiver attached (except what a layer
 *     documents: the message a dead channel consumer held is delivered again, a dead queue consumer's
 *     is lost, requests pending at a server's or client's death are dropped; those are counted);
 *   - occupancy returns to baseline: rings empty, the dead's participant entries reclaimable, no chunk
 *     in use, nothing marked broken.
 * Exit status 0 if no invariant was violated, 1 otherwise, 2 on a setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmipc/blackboard.h>
#include <shmipc/channel.h>
#include <shmipc/evsvc.h>
#include <shmipc/pubsub.h>
#include <shmipc/queue.h>
#include <shmipc/reqresp.h>
#include "blackboard/blackboard_internal.h"
#include "pubsub/pubsub_internal.h"
#include "queue/queue_internal.h"

/* ------------------------------------------------------------------------------------------ scoreboard */

#define MAX_WORKERS 28
#define MAX_STREAMS 12
#define BB_STREAM 8                /* the blackboard writer's: no bitmaps, only attempt and committed_max */
#define EV_STREAM 10               /* 10, 11: the event notifiers' (event ids 0, 1); counts, no bitmaps */
/* Receiver groups, each with its own delivered bitmap per stream: 0 the channel consumer, 1 the queue's
 * consumers together, 2-4 one per subscriber, 5 the request/response server (requests), 6 the clients
 * (responses), 7 requests excused (pending when the server or the client died). */
#define MAX_GROUPS 8
#define G_RR_SERVER 5
#define G_RR_ANSWERED 6
#define G_RR_EXCUSED 7
#define SEQ_LIMIT (1u << 21)       /* sequence numbers per stream and round (bitmap size) */
#define BITMAP_WORDS (SEQ_LIMIT / 64)
#define MSG_MAGIC 0x54524f54u      /* "TORT" */
#define MAX_PAYLOAD 200u
#define OP_TIMEOUT_MS 100
#define PS_MAX_PUBS 4              /* the pub/sub service's max_publishers */
#define INC_MAX 128                /* publisher incarnations tracked per stream and round */

enum violation {
    V_CHECKSUM,    /* a received message failed its checksum or framing */
    V_ORDER,       /* a sender's sequence went backwards at a receiver */
    V_DUPLICATE,   /* a message delivered twice to the same receiver group */
    V_LOST,        /* a committed message skipped over by a later one */
    V_PHANTOM,     /* a message whose sequence was never attempted */
    V_UNDELIVERED, /* committed, not delivered once traffic drained */
    V_STALL,       /* a live worker without progress beyond the bound */
    V_CRASH,       /* a worker died of a signal other than our SIGKILL */
    V_ERROR,       /* a call failed with an error that a crash must not cause */
    V_HANG,        /* a worker did not exit when asked to */
    V_OCCUPANCY,   /* rings, slots or participant entries not back to baseline */
    V_MISMATCH,    /* a response that does not answer the request outstanding */
    V_COUNT
};
static const char *const viol_name[V_COUNT] = {
    "checksum", "order", "duplicate", "lost", "phantom", "undelivered",
    "stall", "crash", "error", "hang", "occupancy", "mismatch",
};

enum role { R_CHAN_PROD, R_CHAN_CONS, R_QUEUE_PROD, R_QUEUE_CONS, R_PS_PUB, R_PS_SUB, R_PS_GC, R_RR_SERVER,
            R_RR_CLIENT, R_BB_WRITER, R_BB_READER, R_EV_NOTIFIER, R_EV_LISTENER, R_COUNT };
static const char *const role_name[] = { "channel-producer", "channel-consumer", "queue-producer",
                                         "queue-consumer", "publisher", "subscriber", "pubsub-gc",
                                         "server", "client", "bb-writer", "bb-reader",
                                         "notifier", "listener" };

static bool is_sender(enum role r)
{
    return r == R_CHAN_PROD || r == R_QUEUE_PROD || r == R_PS_PUB || r == R_RR_CLIENT || r == R_BB_WRITER ||
           r == R_EV_NOTIFIER;
}

static bool is_receiver(enum role r)
{
    return r == R_CHAN_CONS || r == R_QUEUE_CONS || r == R_PS_SUB || r == R_RR_SERVER;
}

static enum role sender_of(enum role receiver)
{
    return receiver == R_CHAN_CONS ? R_CHAN_PROD : receiver == R_QUEUE_CONS ? R_QUEUE_PROD :
           receiver == R_PS_SUB ? R_PS_PUB : R_RR_CLIENT;
}

/* What a worker is doing, for the harness to judge a death (written by the worker, read after it died). */
enum phase { PH_IDLE, PH_SENDING, PH_HOLDING, PH_RELEASING, PH_POPPING };

/* Per worker slot: survives the worker's deaths, so that a successor can read its predecessor's state. */
typedef struct sb_worker {
    _Atomic uint64_t progress;          /* messages moved by this slot's processes */
    _Atomic uint32_t phase;             /* enum phase */
    _Atomic uint32_t pad0;
    _Atomic uint64_t held_seq;          /* channel consumer: message held while PH_HOLDING/RELEASING */
    _Atomic uint32_t held_stream;
    _Atomic uint32_t pad1;
    _Atomic uint64_t last[MAX_STREAMS]; /* receivers: last sequence seen from each stream */
    _Atomic uint64_t attach[MAX_STREAMS]; /* subscribers, listeners: each stream's attempt when connected */
    _Atomic uint64_t floor[MAX_STREAMS];  /* listeners: each notifier's committed count before connecting */
    _Atomic uint64_t got[MAX_STREAMS];    /* listeners: notifications received (coalesced counts summed) */
    _Atomic uint64_t slot_last[MAX_STREAMS][PS_MAX_PUBS]; /* subscribers: last sequence per publisher slot */
    uint8_t pad[64];
} sb_worker;

/* A publisher's incarnation: from which sequence on it sends, and from which publisher slot. Order is
 * promised per publisher slot only: a restarted publisher that lands in another slot than its dead
 * predecessor may have its samples received before the predecessor's last ones. */
typedef struct sb_inc {
    _Atomic uint64_t start;
    _Atomic uint32_t slot;
    _Atomic uint32_t pad;
} sb_inc;

typedef struct sb_stream {
    _Atomic uint64_t attempt;           /* highest sequence a sender started to send (before the call) */
    _Atomic uint32_t ninc;              /* publishers: incarnations registered in inc[] (INC_MAX + 1: lost) */
    _Atomic uint32_t pad;
    sb_inc inc[INC_MAX];
    _Atomic uint64_t committed_max;     /* highest sequence whose send call returned success */
    _Atomic uint64_t committed_bits[BITMAP_WORDS]; /* set once the send call returned success */
    _Atomic uint64_t delivered_bits[MAX_GROUPS][BITMAP_WORDS]; /* set by each receiver group */
} sb_stream;

typedef struct scoreboard {
    _Atomic uint32_t stop_prod, stop_cons;
    _Atomic uint64_t viol[V_COUNT];
    _Atomic uint64_t redelivered;       /* channel: the message a dead consumer held, delivered again */
    _Atomic uint64_t gaps;              /* sequence numbers never committed (sender died mid-send) */
    _Atomic uint64_t bb_reads;          /* blackboard snapshots checked */
    _Atomic uint64_t late;              /* requests of a dead client's connection served after its successor's */
    _Atomic uint64_t ps_late;           /* samples of a dead publisher received after its successor's */
    _Atomic uint64_t delivered;
    _Atomic uint64_t injected, peeks;   /* --inject counters: shared, so restarts do not reset them */
    sb_worker w[MAX_WORKERS];
    /* The bitmaps: cleared between rounds only up to what was used. */
    sb_stream s[MAX_STREAMS];
} scoreboard;

/* Test bookkeeping, not a shmipc structure: every access is seq_cst (the default) for simplicity; the
 * only ordering that matters is that a sender records an attempt before the call and a commit after. */
static scoreboard *sb;

static void violation(enum violation v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(enum violation v, const char *fmt, ...)
{
    atomic_fetch_add(&sb->viol[v], 1);
    if (atomic_load(&sb->viol[v]) > 20)
        return; /* counted; do not flood the log */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "torture[%d]: VIOLATION %s: ", (int)getpid(), viol_name[v]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static bool bit_test(_Atomic uint64_t *bits, uint64_t i)
{
    return (atomic_load(&bits[i / 64]) >> (i % 64)) & 1u;
}

static bool bit_set(_Atomic uint64_t *bits, uint64_t i) /* returns the old value */
{
    uint64_t m = UINT64_C(1) << (i % 64);
    return (atomic_fetch_or(&bits[i / 64], m) & m) != 0;
}

/* ------------------------------------------------------------------------------------------- messages */

typedef struct tmsg {
    uint32_t magic;
    uint16_t stream;
    uint16_t len;    /* payload bytes */
    uint64_t seq;
    uint64_t sum;    /* FNV-1a over the fields above and the payload */
    uint8_t payload[];
} tmsg;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t msg_sum(const tmsg *m, size_t len)
{
    uint64_t h = fnv(UINT64_C(0xcbf29ce484222325), m, offsetof(tmsg, sum));
    return fnv(h, m->payload, len);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Build message seq of a stream into buf; returns its total size. */
static size_t msg_build(void *buf, unsigned stream, uint64_t seq)
{
    tmsg *m = buf;
    uint64_t r = seq * UINT64_C(0x9e3779b97f4a7c15) + stream + 1;
    size_t len = (size_t)(rng_next(&r) % (MAX_PAYLOAD + 1));
    m->magic = MSG_MAGIC;
    m->stream = (uint16_t)stream;
    m->len = (uint16_t)len;
    m->seq = seq;
    for (size_t i = 0; i < len; i++)
        m->payload[i] = (uint8_t)rng_next(&r);
    m->sum = msg_sum(m, len);
    return sizeof *m + len;
}

/* Validate a received message of n bytes (a copy: shared memory is read once into the copy). */
static int msg_check(const tmsg *m, size_t n)
{
    if (n < sizeof *m || m->magic != MSG_MAGIC || m->stream >= MAX_STREAMS || sizeof *m + m->len != n ||
        m->seq == 0 || (m->seq >= SEQ_LIMIT && m->stream != BB_STREAM) || m->sum != msg_sum(m, m->len))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- workers */

typedef struct wspec {
    enum role role;
    unsigned stream;   /* senders: the stream they own */
    unsigned group;    /* receivers: their receiver group (see MAX_GROUPS) */
} wspec;

typedef struct config {
    char chan_name[64], queue_name[64], ps_name[64], rr_name[64], bb_name[64], ev_name[64];
    unsigned nworkers;
    wspec spec[MAX_WORKERS];
} config;

static config cfg;
static int hook_point, hook_countdown;

/* Kill points: 1-4 are the queue layer's own (SHMIPC__QUEUE_HOOK_*), called from inside push and pop;
 * 9-14 the pub/sub layer's (PS_HOOK_*), 17 the blackboard's. The channel has no internal hook, so its
 * workers die at the API boundaries inside a zero-copy operation: between reserve and commit (half the
 * message written), right after commit, between peek and release before and after recording the
 * message; a publisher likewise with half its loan written, a subscriber holding a sample. */
enum {
    KP_CH_RESERVED = 5, KP_CH_COMMITTED = 6, KP_CH_PEEKED = 7, KP_CH_RECORDED = 8,
    KP_PS_BASE = 8, /* 9..14: the pub/sub layer's PS_HOOK_* 1..6 */
    KP_PS_LOANED = 15, KP_PS_HELD = 16,
    KP_BB_MID_WRITE = 17, /* the blackboard's shmipc__bb_kill_point: half the value written */
    KP_COUNT = 18
};
static const char *const point_name[KP_COUNT] = {
    "", "queue-push-claimed", "queue-push-written", "queue-pop-claimed", "queue-pop-copied",
    "channel-reserved", "channel-committed", "channel-peeked", "channel-recorded",
    "pubsub-after-loan", "pubsub-mid-delivery", "pubsub-after-first", "pubsub-after-publish",
    "pubsub-mid-reclaim", "pubsub-mid-drop", "pubsub-half-written", "pubsub-sample-held", "blackboard-mid-write",
};
static unsigned long inject; /* --inject N: receivers mishandle every Nth message (checks the checker) */

static void hook_kill(int point)
{
    if (point == hook_point && --hook_countdown <= 0)
        raise(SIGKILL);
}

static void ps_hook_kill(int point)
{
    hook_kill(KP_PS_BASE + point);
}

static void bb_hook_kill(void)
{
    hook_kill(KP_BB_MID_WRITE);
}

static bool transient(int err)
{
    return err == -ETIMEDOUT || err == -EAGAIN || err == -EPIPE;
}

/* Pacing, backoff and poll intervals only: retry loops that poll a condition under a bound (a role freed
 * once its dead holder is reclaimed: 200 tries; a worker's exit: a deadline), backoff while a peer is
 * missing, idling once a stream's sequence space is used up, the pacing of the notifier and of the gc
 * worker, the supervisor's watch period. Nothing waits here hoping another process got somewhere: every
 * outcome is checked on the scoreboard. Each call says which of these it is. */
static void nap_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The publisher slot that sent sequence seq of a stream, or -1 if that is not known. */
static int inc_slot(sb_stream *st, uint64_t seq)
{
    uint32_t n = atomic_load(&st->ninc);
    if (n > INC_MAX)
        return -1;
    for (uint32_t i = n; i-- > 0;)
        if (atomic_load(&st->inc[i].start) <= seq)
            return (int)atomic_load(&st->inc[i].slot);
    return -1;
}

/* A publisher incarnation registers its slot before its first attempt. */
static void inc_register(unsigned stream, uint32_t slot)
{
    sb_stream *st = &sb->s[stream];
    uint32_t n = atomic_load(&st->ninc);
    if (n >= INC_MAX) {
        atomic_store(&st->ninc, INC_MAX + 1); /* too many: gaps are no longer judged for this stream */
        return;
    }
    atomic_store(&st->inc[n].start, atomic_load(&st->attempt) + 1);
    atomic_store(&st->inc[n].slot, slot);
    atomic_store(&st->ninc, n + 1);
}

/*
 * A receiver records message m (already validated). allow_again: the one sequence a takeover may repeat.
 * src: the publisher slot a subscriber got it from (-1 elsewhere): order and gaps are then judged within
 * that slot, among the sequences the stream's incarnations sent through it.
 */
static void record(sb_worker *w, unsigned group, const tmsg *m, uint64_t *allow_again, int src)
{
    sb_stream *st = &sb->s[m->stream];
    uint64_t seq = m->seq;
    if (inject && (atomic_fetch_add(&sb->injected, 1) + 1) % inject == 0)
        return; /* as if the layer had lost it */
    if (seq > atomic_load(&st->attempt))
        violation(V_PHANTOM, "stream %u seq %" PRIu64 " never attempted", m->stream, seq);
    _Atomic uint64_t *delivered = st->delivered_bits[group];
    if (*allow_again && seq == *allow_again) {
        *allow_again = 0;
        atomic_fetch_add(&sb->redelivered, 1);
        bit_set(delivered, seq);
        if (seq > atomic_load(&w->last[m->stream]))
            atomic_store(&w->last[m->stream], seq);
        return;
    }
    bool by_slot = src >= 0 && src < PS_MAX_PUBS;
    _Atomic uint64_t *lastp = by_slot ? &w->slot_last[m->stream][src] : &w->last[m->stream];
    uint64_t last = atomic_load(lastp);
    if (seq <= last) {
        violation(V_ORDER, "stream %u seq %" PRIu64 " after %" PRIu64 "%s", m->stream, seq, last,
                  by_slot ? " from the same publisher slot" : "");
        return;
    }
    /* The channel's single consumer gets everything; a subscriber everything published after it
     * connected (attach). A queue consumer shares the stream with the other consumers, and a server
     * drops the requests pending at its predecessor's death: gaps are normal there. */
    if (group != 1 && group != G_RR_SERVER) {
        uint64_t from = last + 1, attach = atomic_load(&w->attach[m->stream]);
        if (group >= 2 && from <= attach)
            from = attach + 1;
        for (uint64_t s = from; s < seq; s++) {
            if (by_slot && inc_slot(st, s) != src)
                continue; /* sent through another slot (or not known): judged there, or at drain */
            if (bit_test(st->committed_bits, s))
                violation(V_LOST, "stream %u seq %" PRIu64 " committed, skipped (got %" PRIu64 ")",
                          m->stream, s, seq);
            else
                atomic_fetch_add(&sb->gaps, 1);
        }
    }
    if (bit_set(delivered, seq))
        violation(V_DUPLICATE, "stream %u seq %" PRIu64, m->stream, seq);
    atomic_store(lastp, seq);
    if (seq > atomic_load(&w->last[m->stream]))
        atomic_store(&w->last[m->stream], seq);
    else if (by_slot)
        atomic_fetch_add(&sb->ps_late, 1);
    atomic_fetch_add(&sb->delivered, 1);
}

static void open_failed(const char *what, int err)
{
    violation(V_ERROR, "%s open: %s", what, shmipc_strerror(err));
    _exit(3);
}

/*
 * One send attempt of a message of a sender's stream (buf, n bytes, sequence seq) through handle h.
 * Returns 0 (committed), SEND_RETRY (not sent: try the same sequence again), SEND_LATER (not sent, and
 * the peer is away: wait a moment first), or a negative error that no crash may cause.
 */
#define SEND_RETRY 1
#define SEND_LATER 2
typedef int (*send_fn)(void *h, const uint8_t *buf, size_t n, uint64_t seq);

/* The loop every message sender runs: each sequence is attempted (recorded before the call) until it is
 * committed (recorded after), then the next. A restarted sender continues after the last attempted. */
static void sender_loop(unsigned idx, send_fn send, void *h, const char *what)
{
    sb_worker *w = &sb->w[idx];
    unsigned stream = cfg.spec[idx].stream;
    sb_stream *st = &sb->s[stream];
    _Alignas(8) uint8_t buf[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t seq = atomic_load(&st->attempt) + 1;
    while (!atomic_load(&sb->stop_prod)) {
        if (seq >= SEQ_LIMIT) {
            nap_ms(5); /* idle: sequence space used up */
            continue;
        }
        size_t n = msg_build(buf, stream, seq);
        atomic_store(&st->attempt, seq);
        atomic_store(&w->phase, PH_SENDING);
        int r = send(h, buf, n, seq);
        if (r < 0) {
            violation(V_ERROR, "%s: %s", what, shmipc_strerror(r));
            _exit(3);
        }
        if (r == 0) {
            bit_set(st->committed_bits, seq);
            atomic_store(&st->committed_max, seq);
            atomic_fetch_add(&w->progress, 1);
            seq++;
        } else if (r == SEND_LATER) {
            nap_ms(1); /* backoff: no peer */
        }
        atomic_store(&w->phase, PH_IDLE);
    }
}

static int chan_send(void *h, const uint8_t *buf, size_t n, uint64_t seq)
{
    shmipc_channel *ch = h;
    int err;
    if (seq & 1) {
        err = shmipc_channel_send(ch, buf, n, OP_TIMEOUT_MS);
    } else {
        void *p;
        err = shmipc_channel_reserve(ch, n, &p, OP_TIMEOUT_MS);
        if (!err) {
            memcpy(p, buf, n / 2);
            hook_kill(KP_CH_RESERVED);
            memcpy((uint8_t *)p + n / 2, buf + n / 2, n - n / 2);
            err = shmipc_channel_commit(ch, n);
            if (!err)
                hook_kill(KP_CH_COMMITTED);
        }
    }
    return err == -EPIPE ? SEND_LATER : transient(err) ? SEND_RETRY : err;
}

static int run_chan_prod(unsigned idx)
{
    shmipc_channel *ch = NULL;
    int err;
    for (int tries = 0; (err = shmipc_channel_open(cfg.chan_name, SHMIPC_CHANNEL_PRODUCER, NULL, &ch)) == -EBUSY &&
                        tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("channel producer", err);
    sender_loop(idx, chan_send, ch, "channel send");
    shmipc_channel_close(ch);
    return 0;
}

static int run_chan_cons(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    /* The predecessor died holding a message (recorded, not released): it will be delivered again. */
    uint32_t ph = atomic_load(&w->phase);
    uint64_t allow_again = (ph == PH_HOLDING || ph == PH_RELEASING) ? atomic_load(&w->held_seq) : 0;
    /* The phase stays as it is until the next peek: a successor killed before the message came again
     * must hand the same allowance to its own successor (else the repeat looks like an order error). */
    if (!allow_again)
        atomic_store(&w->phase, PH_IDLE);
    shmipc_channel *ch = NULL;
    int err;
    for (int tries = 0; (err = shmipc_channel_open(cfg.chan_name, SHMIPC_CHANNEL_CONSUMER, NULL, &ch)) == -EBUSY &&
                        tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("channel consumer", err);
    _Alignas(8) uint8_t copy[sizeof(tmsg) + MAX_PAYLOAD];
    while (!atomic_load(&sb->stop_cons)) {
        const void *p;
        int n = shmipc_channel_peek(ch, &p, OP_TIMEOUT_MS);
        if (n < 0) {
            if (!transient(n)) {
                violation(V_ERROR, "channel peek: %s", shmipc_strerror(n));
                _exit(3);
            }
            if (n == -EPIPE)
                nap_ms(1); /* backoff: no peer / nothing written yet */
            continue;
        }
        if ((size_t)n > sizeof copy) {
            violation(V_CHECKSUM, "channel message of %d bytes", n);
        } else {
            memcpy(copy, p, (size_t)n);
            hook_kill(KP_CH_PEEKED);
            if (inject && n > 20 && (atomic_fetch_add(&sb->peeks, 1) + 1) % inject == inject / 2)
                copy[20] ^= 1; /* as if the layer had corrupted it */
            const tmsg *m = (const tmsg *)copy;
            if (msg_check(m, (size_t)n) != 0) {
                violation(V_CHECKSUM, "channel message of %d bytes", n);
            } else {
                atomic_store(&w->held_seq, m->seq);
                atomic_store(&w->held_stream, m->stream);
                atomic_store(&w->phase, PH_HOLDING);
                record(w, 0, m, &allow_again, -1);
                hook_kill(KP_CH_RECORDED);
            }
        }
        atomic_store(&w->phase, PH_RELEASING);
        err = shmipc_channel_release(ch);
        if (err) {
            violation(V_ERROR, "channel release: %s", shmipc_strerror(err));
            _exit(3);
        }
        atomic_store(&w->phase, PH_IDLE);
        atomic_fetch_add(&w->progress, 1);
    }
    shmipc_channel_close(ch);
    return 0;
}

static shmipc_queue *queue_open_retry(void)
{
    shmipc_queue *q = NULL;
    int err;
    for (int tries = 0; (err = shmipc_queue_open(cfg.queue_name, NULL, &q)) == -EUSERS && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("queue", err);
    return q;
}

static int queue_send(void *h, const uint8_t *buf, size_t n, uint64_t seq)
{
    shmipc_queue *q = h;
    int err;
    if (seq & 1) {
        err = shmipc_queue_push(q, buf, n, OP_TIMEOUT_MS);
    } else {
        shmipc_queue_claim c;
        err = shmipc_queue_push_claim(q, &c, OP_TIMEOUT_MS);
        if (!err) {
            memcpy(c.data, buf, n);
            err = shmipc_queue_push_commit(q, &c, n);
        }
    }
    return transient(err) ? SEND_RETRY : err;
}

static int run_queue_prod(unsigned idx)
{
    shmipc_queue *q = queue_open_retry();
    sender_loop(idx, queue_send, q, "queue push");
    shmipc_queue_close(q);
    return 0;
}

static int run_queue_cons(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    atomic_store(&w->phase, PH_IDLE);
    shmipc_queue *q = queue_open_retry();
    _Alignas(8) uint8_t copy[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t allow_none = 0;
    uint64_t round = 0;
    while (!atomic_load(&sb->stop_cons)) {
        shmipc_queue_claim c;
        int n;
        bool claimed = (++round & 1) != 0;
        /* PH_POPPING: a death from here until the message is recorded may lose it (by the queue's policy,
         * the slot of a dead consumer is freed, its message counted as lost). */
        atomic_store(&w->phase, PH_POPPING);
        if (claimed) {
            n = shmipc_queue_pop_claim(q, &c, OP_TIMEOUT_MS);
            if (n >= 0 && (size_t)n <= sizeof copy)
                memcpy(copy, c.data, (size_t)n);
        } else {
            n = shmipc_queue_pop(q, copy, sizeof copy, OP_TIMEOUT_MS);
        }
        if (n < 0) {
            atomic_store(&w->phase, PH_IDLE);
            if (!transient(n)) {
                violation(V_ERROR, "queue pop: %s", shmipc_strerror(n));
                _exit(3);
            }
            continue;
        }
        const tmsg *m = (const tmsg *)copy;
        if ((size_t)n > sizeof copy || msg_check(m, (size_t)n) != 0)
            violation(V_CHECKSUM, "queue message of %d bytes", n);
        else
            record(w, 1, m, &allow_none, -1);
        if (claimed && (n = shmipc_queue_pop_release(q, &c)) != 0) {
            violation(V_ERROR, "queue release: %s", shmipc_strerror(n));
            _exit(3);
        }
        atomic_store(&w->phase, PH_IDLE);
        atomic_fetch_add(&w->progress, 1);
    }
    shmipc_queue_close(q);
    return 0;
}

/* Both ends use the same options: dynamic-size samples, publishers wait for room (a dead subscriber is
 * reclaimed, not waited for), no history (a new subscriber owes nothing from before it connected). */
static void ps_opts(shmipc_pubsub_opts *o)
{
    shmipc_pubsub_opts_init(o);
    o->payload_size = sizeof(tmsg) + MAX_PAYLOAD;
    o->flags = SHMIPC_PUBSUB_DYNAMIC;
    o->max_publishers = PS_MAX_PUBS;
    o->max_subscribers = 8;
    o->depth = 8;
    o->policy = SHMIPC_PUBSUB_WAIT;
    o->publish_timeout_ms = 5000;
    o->max_held = 2;
}

static int ps_send(void *h, const uint8_t *buf, size_t n, uint64_t seq)
{
    shmipc_pubsub_publisher *pub = h;
    int err;
    if (seq & 1) {
        void *p;
        err = shmipc_pubsub_publisher_loan(pub, n, &p);
        if (!err) {
            memcpy(p, buf, n / 2);
            hook_kill(KP_PS_LOANED);
            memcpy((uint8_t *)p + n / 2, buf + n / 2, n - n / 2);
            err = shmipc_pubsub_publisher_publish(pub, p, n);
        }
    } else {
        err = shmipc_pubsub_publisher_publish_copy(pub, buf, n);
    }
    /* -ENOBUFS: the pool is held by the dead until they are reclaimed. -ETIMEDOUT: some subscriber made
     * no room for 5 s; not committed, and the stall check reports that subscriber. */
    return err >= 0 ? 0 : err == -ENOBUFS ? SEND_LATER : err == -ETIMEDOUT ? SEND_RETRY : err;
}

static int run_ps_pub(unsigned idx)
{
    shmipc_pubsub_opts o;
    ps_opts(&o);
    shmipc_pubsub_publisher *pub = NULL;
    int err;
    for (int tries = 0; (err = shmipc_pubsub_publisher_open(cfg.ps_name, &o, &pub)) == -EUSERS && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("publisher", err);
    inc_register(cfg.spec[idx].stream, shmipc_pubsub_publisher_id(pub));
    sender_loop(idx, ps_send, pub, "publish");
    shmipc_pubsub_publisher_close(pub);
    return 0;
}

static int run_ps_sub(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    unsigned group = cfg.spec[idx].group;
    /* A new subscriber: what it receives is checked afresh, from the moment it connected. */
    for (unsigned i = 0; i < cfg.nworkers; i++) {
        if (cfg.spec[i].role != R_PS_PUB)
            continue;
        unsigned s = cfg.spec[i].stream;
        memset((void *)sb->s[s].delivered_bits[group], 0, sizeof sb->s[s].delivered_bits[group]);
        atomic_store(&w->last[s], 0);
        for (unsigned k = 0; k < PS_MAX_PUBS; k++)
            atomic_store(&w->slot_last[s][k], 0);
        atomic_store(&w->attach[s], UINT64_MAX);
    }
    shmipc_pubsub_opts o;
    ps_opts(&o);
    shmipc_pubsub_subscriber *sub = NULL;
    int err;
    for (int tries = 0; (err = shmipc_pubsub_subscriber_open(cfg.ps_name, &o, &sub)) == -EUSERS && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("subscriber", err);
    for (unsigned i = 0; i < cfg.nworkers; i++)
        if (cfg.spec[i].role == R_PS_PUB)
            atomic_store(&w->attach[cfg.spec[i].stream], atomic_load(&sb->s[cfg.spec[i].stream].attempt));
    _Alignas(8) uint8_t copy[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t allow_none = 0, round = 0;
    while (!atomic_load(&sb->stop_cons)) {
        shmipc_pubsub_sample smp;
        int n;
        bool held = (++round & 1) != 0;
        if (held) {
            n = shmipc_pubsub_subscriber_receive(sub, &smp, OP_TIMEOUT_MS);
            if (n == 0) {
                n = smp.size <= sizeof copy ? (int)smp.size : -EMSGSIZE;
                if (n > 0)
                    memcpy(copy, smp.data, (size_t)n);
                hook_kill(KP_PS_HELD);
            }
        } else {
            n = shmipc_pubsub_subscriber_receive_copy(sub, copy, sizeof copy, OP_TIMEOUT_MS, &smp);
        }
        if (n < 0 && (n == -ETIMEDOUT || n == -EAGAIN))
            continue;
        if (n < 0 && !(held && n == -EMSGSIZE)) {
            violation(V_ERROR, "receive: %s", shmipc_strerror(n));
            _exit(3);
        }
        const tmsg *m = (const tmsg *)copy;
        if (n < 0 || msg_check(m, (size_t)n) != 0)
            violation(V_CHECKSUM, "sample of %d bytes", n);
        else
            record(w, group, m, &allow_none, (int)smp.publisher);
        if (held && (n = shmipc_pubsub_subscriber_release(sub, &smp)) != 0) {
            violation(V_ERROR, "release: %s", shmipc_strerror(n));
            _exit(3);
        }
        atomic_fetch_add(&w->progress, 1);
    }
    shmipc_pubsub_subscriber_close(sub);
    return 0;
}

/* A garbage collector reclaiming what the dead hold, racing the participants' own reclaims; armed, it
 * dies halfway through a reclaim, which the next reclaimer must finish. */
static int run_ps_gc(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    uint64_t r = (uint64_t)getpid() * 2654435761u + 1;
    while (!atomic_load(&sb->stop_cons)) {
        int err = shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, cfg.ps_name, 1, NULL);
        if (err) {
            violation(V_ERROR, "gc: %s", shmipc_strerror(err));
            _exit(3);
        }
        atomic_fetch_add(&w->progress, 1);
        nap_ms(1 + (unsigned)(rng_next(&r) % 20)); /* pacing: the gc worker's random rhythm */
    }
    return 0;
}

/* Request/response: clients send numbered requests one at a time; the server echoes each back, now and
 * then as a stream of two responses. */
static void rr_opts(shmipc_reqresp_opts *o)
{
    shmipc_reqresp_opts_init(o);
    o->max_request = sizeof(tmsg) + MAX_PAYLOAD;
    o->depth = 8;
    o->max_clients = 8;
}

static int run_rr_server(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    shmipc_reqresp_opts o;
    rr_opts(&o);
    shmipc_reqresp_server *srv = NULL;
    int err;
    for (int tries = 0; (err = shmipc_reqresp_server_create(cfg.rr_name, &o, &srv)) == -EBUSY && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("server", err);
    _Alignas(8) uint8_t req[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t allow_none = 0, r = (uint64_t)getpid() * 2654435761u + 1;
    uint64_t conn[MAX_STREAMS] = {0}; /* the connection each stream's last request came from */
    while (!atomic_load(&sb->stop_cons)) {
        shmipc_reqresp_request_info info;
        int n = shmipc_reqresp_server_receive(srv, &info, req, sizeof req, OP_TIMEOUT_MS);
        if (n == -ETIMEDOUT || n == -EAGAIN)
            continue;
        if (n < 0) {
            violation(V_ERROR, "server receive: %s", shmipc_strerror(n));
            _exit(3);
        }
        const tmsg *m = (const tmsg *)req;
        if (msg_check(m, (size_t)n) != 0) {
            violation(V_CHECKSUM, "request of %d bytes", n);
            continue;
        }
        /* Order holds per client connection. A client that died with a request pending and was replaced
         * (same stream, next sequence) may still have that request served before its slot is reclaimed:
         * late, from an older connection, delivered at most once like any other. */
        uint64_t key = (uint64_t)info.client << 32 | info.gen;
        if (key != conn[m->stream] && m->seq <= atomic_load(&w->last[m->stream])) {
            if (bit_set(sb->s[m->stream].delivered_bits[G_RR_SERVER], m->seq))
                violation(V_DUPLICATE, "stream %u seq %" PRIu64 " (late request)", m->stream, m->seq);
            atomic_fetch_add(&sb->late, 1);
        } else {
            conn[m->stream] = key;
            record(w, G_RR_SERVER, m, &allow_none, -1);
        }
        unsigned parts = rng_next(&r) % 4 == 0 ? 2 : 1;
        for (unsigned part = 0; part < parts; part++) {
            uint32_t flags = part + 1 < parts ? SHMIPC_RR_MORE : 0;
            while ((err = shmipc_reqresp_server_respond(srv, &info, req, (size_t)n, flags, OP_TIMEOUT_MS)) ==
                       -ETIMEDOUT &&
                   !atomic_load(&sb->stop_cons))
                ;
            if (err == -ENOTCONN)
                break; /* the client died: the response is discarded */
            if (err && err != -ETIMEDOUT) {
                violation(V_ERROR, "server respond: %s", shmipc_strerror(err));
                _exit(3);
            }
        }
        atomic_fetch_add(&w->progress, 1);
    }
    shmipc_reqresp_server_close(srv);
    return 0;
}

static int run_rr_client(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    unsigned stream = cfg.spec[idx].stream;
    sb_stream *st = &sb->s[stream];
    shmipc_reqresp_opts o;
    rr_opts(&o);
    shmipc_reqresp_client *cli = NULL;
    int err;
    for (int tries = 0; (err = shmipc_reqresp_client_open(cfg.rr_name, &o, &cli)) == -EUSERS && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("client", err);
    _Alignas(8) uint8_t req[sizeof(tmsg) + MAX_PAYLOAD], resp[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t seq = atomic_load(&st->attempt) + 1;
    while (!atomic_load(&sb->stop_prod)) {
        if (seq >= SEQ_LIMIT) {
            nap_ms(5); /* idle: sequence space used up */
            continue;
        }
        size_t n = msg_build(req, stream, seq);
        atomic_store(&st->attempt, seq);
        atomic_store(&w->held_seq, seq);
        atomic_store(&w->phase, PH_SENDING); /* a death from here on excuses this request */
        uint64_t id;
        err = shmipc_reqresp_client_send(cli, req, n, &id, OP_TIMEOUT_MS);
        if (err == -EPIPE || err == -ETIMEDOUT || err == -EAGAIN) {
            atomic_store(&w->phase, PH_IDLE);
            nap_ms(1); /* no live server (yet): send it again */
            continue;
        }
        if (err) {
            violation(V_ERROR, "client send: %s", shmipc_strerror(err));
            _exit(3);
        }
        bit_set(st->committed_bits, seq);
        atomic_store(&w->phase, PH_HOLDING);
        for (;;) {
            shmipc_reqresp_response_info info;
            int r = shmipc_reqresp_client_receive(cli, &info, resp, sizeof resp, OP_TIMEOUT_MS);
            if (r == -ETIMEDOUT || r == -EAGAIN) {
                if (atomic_load(&sb->stop_prod) && atomic_load(&sb->stop_cons))
                    break;
                continue;
            }
            if (r == -EPIPE) { /* the server died or was replaced with our request pending: dropped */
                bit_set(st->delivered_bits[G_RR_EXCUSED], seq);
                break;
            }
            if (r < 0) {
                violation(V_ERROR, "client receive: %s", shmipc_strerror(r));
                _exit(3);
            }
            const tmsg *m = (const tmsg *)resp;
            if (msg_check(m, (size_t)r) != 0) {
                violation(V_CHECKSUM, "response of %d bytes", r);
            } else if (info.id != id || m->stream != stream || m->seq != seq || (size_t)r != n) {
                violation(V_MISMATCH, "client %u: response id %" PRIu64 " seq %" PRIu64 " for request id %"
                          PRIu64 " seq %" PRIu64, stream, info.id, m->seq, id, seq);
                continue; /* not ours: wait on for the answer */
            }
            if (info.flags & SHMIPC_RR_MORE)
                continue;
            if (bit_set(st->delivered_bits[G_RR_ANSWERED], seq))
                violation(V_DUPLICATE, "client %u: request %" PRIu64 " answered twice", stream, seq);
            atomic_fetch_add(&w->progress, 1);
            atomic_fetch_add(&sb->delivered, 1);
            break;
        }
        atomic_store(&w->phase, PH_IDLE);
        seq++;
    }
    shmipc_reqresp_client_close(cli);
    return 0;
}

/* Blackboard: one writer keeps a value (a message of BB_STREAM, padded to the value size) up to date;
 * readers check every snapshot: intact, never older than the last value committed before the read
 * began (a value written by a writer that died since stays readable), never going backwards. */
static void bb_opts(shmipc_blackboard_opts *o)
{
    shmipc_blackboard_opts_init(o);
    o->value_size = sizeof(tmsg) + MAX_PAYLOAD;
    o->entries = 1;
    o->max_readers = 8;
}

static int run_bb_writer(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    sb_stream *st = &sb->s[BB_STREAM];
    shmipc_blackboard_opts o;
    bb_opts(&o);
    shmipc_blackboard_writer *wr = NULL;
    int err;
    for (int tries = 0; (err = shmipc_blackboard_writer_create(cfg.bb_name, &o, &wr)) == -EBUSY && tries < 200;
         tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("blackboard writer", err);
    _Alignas(8) uint8_t buf[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t seq = atomic_load(&st->attempt) + 1;
    while (!atomic_load(&sb->stop_prod)) {
        memset(buf, 0, sizeof buf);
        msg_build(buf, BB_STREAM, seq);
        atomic_store(&st->attempt, seq);
        err = shmipc_blackboard_write(wr, 0, buf, sizeof buf);
        if (err) {
            violation(V_ERROR, "blackboard write: %s", shmipc_strerror(err));
            _exit(3);
        }
        atomic_store(&st->committed_max, seq);
        atomic_fetch_add(&w->progress, 1);
        if (++seq % 64 == 0)
            sched_yield(); /* the writer never blocks: leave the cores to the others now and then */
    }
    shmipc_blackboard_writer_close(wr);
    return 0;
}

static int run_bb_reader(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    sb_stream *st = &sb->s[BB_STREAM];
    shmipc_blackboard_opts o;
    bb_opts(&o);
    shmipc_blackboard_reader *rd = NULL;
    int err;
    for (int tries = 0; (err = shmipc_blackboard_reader_open(cfg.bb_name, &o, &rd)) == -EUSERS && tries < 200;
         tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("blackboard reader", err);
    _Alignas(8) uint8_t buf[sizeof(tmsg) + MAX_PAYLOAD];
    uint64_t last_seq = 0, last_version = 0, n = 0;
    while (!atomic_load(&sb->stop_cons)) {
        uint64_t floor = atomic_load(&st->committed_max), version;
        int r = shmipc_blackboard_read(rd, 0, buf, sizeof buf, &version);
        if (r == -ENODATA && floor == 0) {
            nap_ms(1); /* backoff: no peer / nothing written yet */
            continue;
        }
        if (r < 0) {
            violation(V_ERROR, "blackboard read: %s (value %" PRIu64 " committed)", shmipc_strerror(r), floor);
            _exit(3);
        }
        const tmsg *m = (const tmsg *)buf;
        if ((size_t)r != sizeof buf || m->len > MAX_PAYLOAD || msg_check(m, sizeof *m + m->len) != 0 ||
            m->stream != BB_STREAM) {
            violation(V_CHECKSUM, "blackboard value (%d bytes)", r);
        } else {
            uint64_t a = atomic_load(&st->attempt);
            if (m->seq < floor)
                violation(V_LOST, "blackboard: value %" PRIu64 " read after %" PRIu64 " was committed", m->seq,
                          floor);
            if (m->seq < last_seq || version < last_version)
                violation(V_ORDER, "blackboard: value %" PRIu64 " (version %" PRIu64 ") after %" PRIu64
                          " (version %" PRIu64 ")", m->seq, version, last_seq, last_version);
            if (m->seq > a)
                violation(V_PHANTOM, "blackboard: value %" PRIu64 " never written", m->seq);
            last_seq = m->seq;
            last_version = version;
            atomic_fetch_add(&sb->bb_reads, 1);
        }
        atomic_fetch_add(&w->progress, 1);
        if (++n % 16 == 0) {
            /* Sleep for the next change now and then: -EPIPE when the writer dies meanwhile. */
            r = shmipc_blackboard_wait(rd, 0, last_version, OP_TIMEOUT_MS);
            if (r && r != -ETIMEDOUT && r != -EPIPE) {
                violation(V_ERROR, "blackboard wait: %s", shmipc_strerror(r));
                _exit(3);
            }
        }
    }
    shmipc_blackboard_reader_close(rd);
    return 0;
}

/* Event service: each notifier signals its own event id and counts its calls (attempt before, committed
 * after); a listener sums the coalesced counts it gets. Never lost: once drained, a listener has at least
 * every notification committed after it connected; never invented: at most those attempted after the
 * last one committed before it connected. */
static void ev_opts(shmipc_evsvc_opts *o)
{
    shmipc_evsvc_opts_init(o);
    o->max_events = 2;
    o->max_participants = 8;
}

static int run_ev_notifier(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    unsigned stream = cfg.spec[idx].stream;
    sb_stream *st = &sb->s[stream];
    shmipc_evsvc_opts o;
    ev_opts(&o);
    shmipc_evsvc_notifier *n = NULL;
    int err;
    for (int tries = 0; (err = shmipc_evsvc_notifier_create(cfg.ev_name, &o, &n)) == -EUSERS && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("notifier", err);
    uint64_t count = atomic_load(&st->attempt);
    while (!atomic_load(&sb->stop_prod)) {
        atomic_store(&st->attempt, count + 1);
        if ((err = shmipc_evsvc_notifier_notify(n, stream - EV_STREAM)) != 0) {
            violation(V_ERROR, "notify: %s", shmipc_strerror(err));
            _exit(3);
        }
        atomic_store(&st->committed_max, ++count);
        atomic_fetch_add(&w->progress, 1);
        if (count % 32 == 0)
            nap_ms(1); /* pacing: listeners keep up */
    }
    shmipc_evsvc_notifier_close(n);
    return 0;
}

static int run_ev_listener(unsigned idx)
{
    sb_worker *w = &sb->w[idx];
    for (unsigned s = EV_STREAM; s < EV_STREAM + 2; s++) {
        atomic_store(&w->got[s], 0);
        atomic_store(&w->attach[s], UINT64_MAX); /* owes nothing until connected */
        atomic_store(&w->floor[s], atomic_load(&sb->s[s].committed_max));
    }
    shmipc_evsvc_opts o;
    ev_opts(&o);
    shmipc_evsvc_listener *l = NULL;
    int err;
    for (int tries = 0; (err = shmipc_evsvc_listener_open(cfg.ev_name, &o, &l)) == -EUSERS && tries < 200; tries++)
        nap_ms(10); /* poll: role freed once the dead holder is reclaimed (200 tries) */
    if (err)
        open_failed("listener", err);
    for (unsigned s = EV_STREAM; s < EV_STREAM + 2; s++)
        atomic_store(&w->attach[s], atomic_load(&sb->s[s].attempt));
    while (!atomic_load(&sb->stop_cons)) {
        uint32_t id;
        int r = shmipc_evsvc_listener_wait(l, OP_TIMEOUT_MS, &id);
        if (r == -ETIMEDOUT || r == -EAGAIN)
            continue;
        if (r < 0 || id >= 2) {
            violation(V_ERROR, "listener wait: %s (event %u)", shmipc_strerror(r < 0 ? r : 0), id);
            _exit(3);
        }
        atomic_fetch_add(&w->got[EV_STREAM + id], (uint64_t)r);
        atomic_fetch_add(&w->progress, 1);
    }
    shmipc_evsvc_listener_close(l);
    return 0;
}

/* Notifications a listener is still owed (report: and check it got no more than could exist). */
static uint64_t ev_owed(bool report)
{
    uint64_t owed = 0;
    for (unsigned j = 0; j < cfg.nworkers; j++) {
        if (cfg.spec[j].role != R_EV_LISTENER)
            continue;
        sb_worker *w = &sb->w[j];
        for (unsigned s = EV_STREAM; s < EV_STREAM + 2; s++) {
            uint64_t a = atomic_load(&w->attach[s]), got = atomic_load(&w->got[s]);
            uint64_t committed = atomic_load(&sb->s[s].committed_max), attempt = atomic_load(&sb->s[s].attempt);
            if (a == UINT64_MAX)
                continue;
            if (committed > a && got < committed - a) {
                owed += committed - a - got;
                if (report)
                    violation(V_UNDELIVERED, "listener %u: event %u: %" PRIu64 " of at least %" PRIu64, j,
                              s - EV_STREAM, got, committed - a);
            }
            if (report && got > attempt - atomic_load(&w->floor[s]))
                violation(V_DUPLICATE, "listener %u: event %u: %" PRIu64 " notifications, at most %" PRIu64
                          " possible", j, s - EV_STREAM, got, attempt - atomic_load(&w->floor[s]));
        }
    }
    return owed;
}

static int worker_main(unsigned idx)
{
    switch (cfg.spec[idx].role) {
    case R_CHAN_PROD: return run_chan_prod(idx);
    case R_CHAN_CONS: return run_chan_cons(idx);
    case R_QUEUE_PROD: return run_queue_prod(idx);
    case R_QUEUE_CONS: return run_queue_cons(idx);
    case R_RR_SERVER: return run_rr_server(idx);
    case R_RR_CLIENT: return run_rr_client(idx);
    case R_BB_WRITER: return run_bb_writer(idx);
    case R_BB_READER: return run_bb_reader(idx);
    case R_EV_NOTIFIER: return run_ev_notifier(idx);
    case R_EV_LISTENER: return run_ev_listener(idx);
    case R_COUNT: break;
    case R_PS_PUB: return run_ps_pub(idx);
    case R_PS_SUB: return run_ps_sub(idx);
    case R_PS_GC: return run_ps_gc(idx);
    }
    return 2;
}

/* ---------------------------------------------------------------------------------------------- harness */

typedef struct wstate {
    pid_t pid;          /* 0: not running */
    int hook;           /* armed to die at this kill point (0: not armed) */
    uint64_t seen;      /* progress value last seen */
    uint64_t seen_ms;   /* when it last changed (or the worker started) */
} wstate;

static wstate ws[MAX_WORKERS];
static uint64_t rng;
static struct {
    uint64_t kills, random_kills, hook_kills, restarts, rounds, inflight_losses, missing_allowed, excused;
    uint64_t notifications;
    uint64_t hook_by_point[KP_COUNT];
} tally;
static unsigned stall_ms = 10000;
static bool verbose;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void start_worker(unsigned idx, bool may_hook)
{
    int point = 0, count = 0;
    enum role r = cfg.spec[idx].role;
    /* The kill points each role can die at (0-terminated). A reclaim point fires only in a process
     * that happens to reclaim a dead peer; armed elsewhere, the worker just lives on. */
    static const int points[R_COUNT][7] = {
        [R_CHAN_PROD] = { KP_CH_RESERVED, KP_CH_COMMITTED },
        [R_CHAN_CONS] = { KP_CH_PEEKED, KP_CH_RECORDED },
        [R_QUEUE_PROD] = { SHMIPC__QUEUE_HOOK_PUSH_CLAIMED, SHMIPC__QUEUE_HOOK_PUSH_WRITTEN },
        [R_QUEUE_CONS] = { SHMIPC__QUEUE_HOOK_POP_CLAIMED, SHMIPC__QUEUE_HOOK_POP_COPIED },
        [R_PS_PUB] = { KP_PS_BASE + 1, KP_PS_BASE + 2, KP_PS_BASE + 3, KP_PS_BASE + 4, KP_PS_BASE + 5,
                       KP_PS_LOANED },
        [R_PS_SUB] = { KP_PS_BASE + 5, KP_PS_HELD },
        [R_PS_GC] = { KP_PS_BASE + 5 },
        [R_BB_WRITER] = { KP_BB_MID_WRITE },
    };
    if (may_hook && rng_next(&rng) % 3 == 0) {
        unsigned n = 0;
        while (n < 7 && points[r][n])
            n++;
        if (n) {
            point = points[r][rng_next(&rng) % n];
            count = 1 + (int)(rng_next(&rng) % (r == R_PS_GC ? 3 : r == R_BB_WRITER ? 20000 : 500));
        }
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("torture: fork");
        exit(2);
    }
    if (pid == 0) {
        if (point) {
            hook_point = point;
            hook_countdown = count;
            shmipc__queue_test_hook = hook_kill;
            shmipc__pubsub_test_hook = ps_hook_kill;
            shmipc__bb_kill_point = bb_hook_kill;
        }
        _exit(worker_main(idx));
    }
    ws[idx].pid = pid;
    ws[idx].hook = point;
    ws[idx].seen = atomic_load(&sb->w[idx].progress);
    ws[idx].seen_ms = now_ms();
}

/* Account for the end of worker idx (status from waitpid). expected: we asked it to stop. */
static void reaped(unsigned idx, int status, bool expected, bool we_killed)
{
    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (killed && (we_killed || ws[idx].hook)) {
        tally.kills++;
        if (we_killed) {
            tally.random_kills++;
        } else {
            tally.hook_kills++;
            tally.hook_by_point[ws[idx].hook]++;
        }
        uint32_t ph = atomic_load(&sb->w[idx].phase);
        if (cfg.spec[idx].role == R_QUEUE_CONS && ph == PH_POPPING)
            tally.inflight_losses++;
        if (cfg.spec[idx].role == R_RR_CLIENT && ph != PH_IDLE) /* died waiting: its request is excused */
            bit_set(sb->s[cfg.spec[idx].stream].delivered_bits[G_RR_EXCUSED], atomic_load(&sb->w[idx].held_seq));
    } else if (WIFSIGNALED(status)) {
        violation(V_CRASH, "%s (worker %u) died of signal %d", role_name[cfg.spec[idx].role], idx,
                  WTERMSIG(status));
    } else if (!expected || WEXITSTATUS(status) != 0) {
        if (WEXITSTATUS(status) != 3) /* 3: the worker reported its violation itself */
            violation(V_ERROR, "%s (worker %u) exited with %d", role_name[cfg.spec[idx].role], idx,
                      WEXITSTATUS(status));
    }
    ws[idx].pid = 0;
}

/* Reap workers that ended by themselves (kill points); restart them if restart. Check for stalls. */
static void poll_workers(bool restart, bool check_stall)
{
    for (unsigned i = 0; i < cfg.nworkers; i++) {
        if (!ws[i].pid)
            continue;
        int status;
        pid_t p = waitpid(ws[i].pid, &status, WNOHANG);
        if (p == ws[i].pid) {
            reaped(i, status, false, false);
            if (restart) {
                start_worker(i, true);
                tally.restarts++;
            }
            continue;
        }
        uint64_t prog = atomic_load(&sb->w[i].progress), t = now_ms();
        if (prog != ws[i].seen) {
            ws[i].seen = prog;
            ws[i].seen_ms = t;
        } else if (check_stall && t - ws[i].seen_ms > stall_ms) {
            violation(V_STALL, "%s (worker %u, pid %d) no progress for %" PRIu64 " ms",
                      role_name[cfg.spec[i].role], i, (int)ws[i].pid, t - ws[i].seen_ms);
            ws[i].seen_ms = t;
        }
    }
}

/* Sleep ms while watching the workers. */
static void watch(unsigned ms, bool restart, bool check_stall)
{
    uint64_t end = now_ms() + ms;
    do {
        poll_workers(restart, check_stall);
        uint64_t t = now_ms();
        nap_ms(end > t ? (unsigned)(end - t < 5 ? end - t : 5) : 0); /* the watch period */
    } while (now_ms() < end);
}

/* Ask a class of workers to stop (flag already set) and wait for them, at most ms. */
static void join_workers(bool senders, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (unsigned i = 0; i < cfg.nworkers; i++) {
        enum role r = cfg.spec[i].role;
        if (is_sender(r) != senders)
            continue;
        while (ws[i].pid) {
            int status;
            pid_t p = waitpid(ws[i].pid, &status, WNOHANG);
            if (p == ws[i].pid) {
                reaped(i, status, true, false);
                break;
            }
            if (now_ms() > end) {
                violation(V_HANG, "%s (worker %u) did not stop", role_name[r], i);
                kill(ws[i].pid, SIGKILL);
                waitpid(ws[i].pid, &status, 0);
                ws[i].pid = 0;
                break;
            }
            nap_ms(2); /* poll the exit, deadline end */
        }
    }
}

/* Committed messages not delivered (yet): to the channel consumer, to the queue's consumers (together),
 * and to each subscriber of what was published after it connected. */
typedef struct owed { uint64_t channel, queue, pubsub, reqresp; } owed;

static owed owed_now(bool report)
{
    owed o = {0, 0, 0, 0};
    bool group_seen[MAX_GROUPS] = {false};
    for (unsigned j = 0; j < cfg.nworkers; j++) {
        enum role rr = cfg.spec[j].role;
        unsigned g = cfg.spec[j].group;
        if (!is_receiver(rr) || group_seen[g])
            continue;
        group_seen[g] = true;
        for (unsigned i = 0; i < cfg.nworkers; i++) {
            if (cfg.spec[i].role != sender_of(rr))
                continue;
            unsigned sidx = cfg.spec[i].stream;
            sb_stream *st = &sb->s[sidx];
            uint64_t top = atomic_load(&st->attempt), from = 1;
            if (rr == R_PS_SUB) {
                uint64_t a = atomic_load(&sb->w[j].attach[sidx]);
                from = a == UINT64_MAX ? top + 1 : a + 1;
            }
            if (top >= SEQ_LIMIT)
                top = SEQ_LIMIT - 1;
            for (uint64_t wd = from / 64; from <= top && wd <= top / 64; wd++) {
                uint64_t miss = atomic_load(&st->committed_bits[wd]);
                if (rr == R_RR_SERVER) /* a request is owed an answer unless a death excused it */
                    miss &= ~atomic_load(&st->delivered_bits[G_RR_ANSWERED][wd]) &
                            ~atomic_load(&st->delivered_bits[G_RR_EXCUSED][wd]);
                else
                    miss &= ~atomic_load(&st->delivered_bits[g][wd]);
                if (wd == from / 64)
                    miss &= ~UINT64_C(0) << (from % 64);
                if (wd == top / 64 && top % 64 != 63)
                    miss &= (UINT64_C(1) << (top % 64 + 1)) - 1;
                if (!miss)
                    continue;
                uint64_t n = (uint64_t)__builtin_popcountll(miss);
                if (rr == R_QUEUE_CONS) {
                    o.queue += n;
                    continue;
                }
                if (rr == R_CHAN_CONS)
                    o.channel += n;
                else if (rr == R_PS_SUB)
                    o.pubsub += n;
                else
                    o.reqresp += n;
                if (report)
                    violation(V_UNDELIVERED, "%s (group %u): stream %u seq %" PRIu64 " and %" PRIu64
                              " more of the word (of %" PRIu64 ")", role_name[rr], g, sidx,
                              wd * 64 + (uint64_t)__builtin_ctzll(miss), n - 1, top);
            }
        }
    }
    if (report) {
        if (o.queue > tally.inflight_losses)
            violation(V_UNDELIVERED, "queue: %" PRIu64 " committed messages missing, only %" PRIu64
                      " consumers died holding one", o.queue, tally.inflight_losses);
        tally.missing_allowed += o.queue;
    }
    return o;
}

typedef struct objects {
    shmipc_channel *chan;   /* observer */
    shmipc_queue *queue;    /* observer */
    unsigned qworkers;
    shmipc_reqresp_client *client;  /* the harness's own idle client keeps the request/response service in use */
    shmipc_blackboard_reader *bb;   /* the harness's own reader, likewise */
    shmipc_evsvc_listener *ev;    /* the harness's own listener: attached all along, owed every notification */
    shmipc_pubsub_publisher *pub;  /* the harness's own idle publisher keeps the service alive between workers */
} objects;

static bool drained(const objects *ob)
{
    shmipc_channel_stats cs;
    shmipc_queue_stats qs;
    if (ob->chan && (shmipc_channel_stats_get(ob->chan, &cs) != 0 || cs.head != cs.tail))
        return false;
    /* A consumer that claimed the last message records it before it looks at stop_cons. */
    if (ob->queue && (shmipc_queue_stats_get(ob->queue, &qs) != 0 || qs.depth != 0))
        return false;
    owed o = owed_now(false);
    return o.pubsub == 0 && o.reqresp == 0 && ev_owed(false) == 0;
}

static unsigned layers = ~0u; /* bit per layer */
#define L_CHANNEL 1u
#define L_QUEUE 2u
#define L_PUBSUB 4u
#define L_REQRESP 8u
#define L_BLACKBOARD 16u
#define L_EVENT 32u

static int objects_create(objects *ob)
{
    static unsigned counter;
    unsigned id = counter++;
    int err;
    memset(ob, 0, sizeof *ob);
    snprintf(cfg.chan_name, sizeof cfg.chan_name, "/shmipc-torture-%d-%u-ch", (int)getpid(), id);
    snprintf(cfg.queue_name, sizeof cfg.queue_name, "/shmipc-torture-%d-%u-q", (int)getpid(), id);
    snprintf(cfg.ps_name, sizeof cfg.ps_name, "torture-%d-%u-ps", (int)getpid(), id);
    snprintf(cfg.rr_name, sizeof cfg.rr_name, "torture-%d-%u-rr", (int)getpid(), id);
    snprintf(cfg.bb_name, sizeof cfg.bb_name, "torture-%d-%u-bb", (int)getpid(), id);
    snprintf(cfg.ev_name, sizeof cfg.ev_name, "torture-%d-%u-ev", (int)getpid(), id);
    if (layers & L_CHANNEL) {
        shmipc_channel_opts co;
        shmipc_channel_opts_init(&co);
        co.capacity = 8192;
        co.role = SHMIPC_CHANNEL_OBSERVER;
        if ((err = shmipc_channel_create(cfg.chan_name, &co, &ob->chan)) != 0) {
            fprintf(stderr, "torture: channel create: %s\n", shmipc_strerror(err));
            return -1;
        }
    }
    if (layers & L_QUEUE) {
        shmipc_queue_opts qo;
        shmipc_queue_opts_init(&qo);
        qo.slot_count = 64;
        qo.slot_size = sizeof(tmsg) + MAX_PAYLOAD;
        for (unsigned i = 0; i < cfg.nworkers; i++)
            ob->qworkers += cfg.spec[i].role == R_QUEUE_PROD || cfg.spec[i].role == R_QUEUE_CONS;
        qo.max_participants = ob->qworkers;
        shmipc_queue *creator = NULL;
        err = shmipc_queue_create(cfg.queue_name, &qo, &creator);
        if (!err) {
            shmipc_queue_close(creator); /* frees its entry: the table is exactly the workers' */
            qo.flags = SHMIPC_QUEUE_OBSERVE;
            err = shmipc_queue_open(cfg.queue_name, &qo, &ob->queue);
        }
        if (err) {
            fprintf(stderr, "torture: queue create: %s\n", shmipc_strerror(err));
            return -1;
        }
    }
    if (layers & L_EVENT) {
        shmipc_evsvc_opts eo;
        ev_opts(&eo);
        if ((err = shmipc_evsvc_listener_open(cfg.ev_name, &eo, &ob->ev)) != 0) {
            fprintf(stderr, "torture: event service create: %s\n", shmipc_strerror(err));
            return -1;
        }
    }
    if (layers & L_BLACKBOARD) {
        shmipc_blackboard_opts bo;
        bb_opts(&bo);
        shmipc_blackboard_writer *wr = NULL;
        err = shmipc_blackboard_writer_create(cfg.bb_name, &bo, &wr);
        if (!err) {
            err = shmipc_blackboard_reader_open(cfg.bb_name, &bo, &ob->bb);
            shmipc_blackboard_writer_close(wr); /* the writer worker takes over */
        }
        if (err) {
            fprintf(stderr, "torture: blackboard create: %s\n", shmipc_strerror(err));
            return -1;
        }
    }
    if (layers & L_REQRESP) {
        shmipc_reqresp_opts ro;
        rr_opts(&ro);
        shmipc_reqresp_server *srv = NULL;
        err = shmipc_reqresp_server_create(cfg.rr_name, &ro, &srv);
        if (!err) {
            err = shmipc_reqresp_client_open(cfg.rr_name, &ro, &ob->client);
            shmipc_reqresp_server_close(srv); /* the server worker takes over */
        }
        if (err) {
            fprintf(stderr, "torture: request/response create: %s\n", shmipc_strerror(err));
            return -1;
        }
    }
    if (layers & L_PUBSUB) {
        shmipc_pubsub_opts po;
        ps_opts(&po);
        if ((err = shmipc_pubsub_publisher_create(cfg.ps_name, &po, &ob->pub)) != 0) {
            fprintf(stderr, "torture: pub/sub create: %s\n", shmipc_strerror(err));
            return -1;
        }
    }
    return 0;
}

/* A service's participants once its dead are reclaimed: the harness's own handle only. */
static void service_baseline(shmipc_pattern pattern, const char *name, const char *what)
{
    shmipc_service_info info;
    int err = shmipc_service_gc(pattern, name, 1, NULL);
    if (err)
        violation(V_OCCUPANCY, "%s gc: %s", what, shmipc_strerror(err));
    if ((err = shmipc_service_describe(pattern, name, &info)) != 0)
        violation(V_OCCUPANCY, "%s describe: %s", what, shmipc_strerror(err));
    else if (info.participants != 1 || info.dead != 0)
        violation(V_OCCUPANCY, "%s: %u participants (%u dead), expected the harness's only", what,
                  info.participants, info.dead);
}

/* Occupancy back to baseline once every worker left or died and the dead are reclaimed; then remove. */
static void objects_check_destroy(objects *ob, uint64_t kills)
{
    int err;
    if (ob->chan) {
        shmipc_channel_stats cs;
        if (shmipc_channel_stats_get(ob->chan, &cs) == 0 && (cs.head != cs.tail || cs.broken))
            violation(V_OCCUPANCY, "channel: head %" PRIu64 " tail %" PRIu64 " broken %d", cs.head, cs.tail,
                      cs.broken);
        shmipc_channel_close(ob->chan);
        shmipc_channel_unlink(cfg.chan_name);
    }
    if (ob->queue) {
        shmipc_queue_stats qs;
        shmipc_queue_stats_get(ob->queue, &qs);
        if (qs.depth != 0 || qs.broken)
            violation(V_OCCUPANCY, "queue: depth %" PRIu64 " broken %d", qs.depth, qs.broken);
        if (qs.lost > kills)
            violation(V_OCCUPANCY, "queue: %" PRIu64 " slots lost for %" PRIu64 " kills", qs.lost, kills);
        /* Every entry the dead left must be taken again (reclaimed) by a new opener. */
        shmipc_queue *h[MAX_WORKERS] = {0};
        for (unsigned i = 0; i < ob->qworkers; i++)
            if ((err = shmipc_queue_open(cfg.queue_name, NULL, &h[i])) != 0)
                violation(V_OCCUPANCY, "queue: participant %u of %u not reclaimable: %s", i, ob->qworkers,
                          shmipc_strerror(err));
        for (unsigned i = 0; i < ob->qworkers; i++)
            shmipc_queue_close(h[i]);
        shmipc_queue_stats_get(ob->queue, &qs);
        if (qs.participants != 0)
            violation(V_OCCUPANCY, "queue: %u participants registered after all closed", qs.participants);
        shmipc_queue_close(ob->queue);
        shmipc_queue_unlink(cfg.queue_name);
    }
    if (ob->ev) {
        /* The harness's listener was there from the start: it gets every notification committed, counted
         * once (coalesced), and none that was never attempted. */
        uint64_t got[2] = {0, 0};
        uint32_t id;
        int r;
        while ((r = shmipc_evsvc_listener_wait(ob->ev, 0, &id)) > 0 && id < 2)
            got[id] += (uint64_t)r;
        if (r != -EAGAIN)
            violation(V_ERROR, "harness listener: %s", shmipc_strerror(r < 0 ? r : 0));
        for (unsigned e = 0; e < 2; e++) {
            const sb_stream *st = &sb->s[EV_STREAM + e];
            tally.notifications += got[e];
            if (got[e] < atomic_load(&st->committed_max) || got[e] > atomic_load(&st->attempt))
                violation(V_UNDELIVERED, "event %u: the harness got %" PRIu64 " notifications of %" PRIu64
                          " committed, %" PRIu64 " attempted", e, got[e], atomic_load(&st->committed_max),
                          atomic_load(&st->attempt));
        }
        service_baseline(SHMIPC_PATTERN_EVENT, cfg.ev_name, "event service");
        shmipc_evsvc_listener_close(ob->ev);
        shmipc_evsvc_unlink(cfg.ev_name);
    }
    if (ob->bb) {
        service_baseline(SHMIPC_PATTERN_BLACKBOARD, cfg.bb_name, "blackboard");
        /* The last value committed survives every writer's death. */
        _Alignas(8) uint8_t buf[sizeof(tmsg) + MAX_PAYLOAD];
        uint64_t version;
        const tmsg *m = (const tmsg *)buf;
        uint64_t cm = atomic_load(&sb->s[BB_STREAM].committed_max);
        int r = shmipc_blackboard_read(ob->bb, 0, buf, sizeof buf, &version);
        if (cm && (r != (int)sizeof buf || msg_check(m, sizeof *m + (m->len <= MAX_PAYLOAD ? m->len : 0)) != 0 ||
                   m->seq < cm))
            violation(V_LOST, "blackboard: final value (%d) is not the last committed %" PRIu64, r, cm);
        shmipc_blackboard_reader_close(ob->bb);
        shmipc_blackboard_unlink(cfg.bb_name);
    }
    if (ob->client) {
        /* Reclaim the dead; then only the harness's client is left. */
        service_baseline(SHMIPC_PATTERN_REQRESP, cfg.rr_name, "request/response");
        shmipc_reqresp_client_close(ob->client);
        shmipc_reqresp_unlink(cfg.rr_name);
    }
    if (ob->pub) {
        /* Reclaim what the dead hold; then only the harness's publisher is left, and no chunk in use. */
        shmipc_service_info info;
        if ((err = shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, cfg.ps_name, 1, NULL)) != 0)
            violation(V_OCCUPANCY, "pub/sub gc: %s", shmipc_strerror(err));
        if ((err = shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, cfg.ps_name, &info)) != 0) {
            violation(V_OCCUPANCY, "pub/sub describe: %s", shmipc_strerror(err));
        } else {
            const char *u = strstr(info.options, "in_use=");
            unsigned in_use = u ? (unsigned)strtoul(u + 7, NULL, 10) : ~0u;
            if (info.participants != 1 || info.dead != 0 || in_use != 0)
                violation(V_OCCUPANCY, "pub/sub: %u participants (%u dead), %u chunks in use (%s)",
                          info.participants, info.dead, in_use, info.options);
        }
        shmipc_pubsub_publisher_close(ob->pub);
        shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, cfg.ps_name, 0, NULL);
    }
}

/* Clear the scoreboard for a round: the small part wholly, the bitmaps as far as they were used. */
static void scoreboard_reset(void)
{
    for (unsigned i = 0; i < MAX_STREAMS; i++) {
        sb_stream *st = &sb->s[i];
        uint64_t top = atomic_load(&st->attempt);
        size_t words = top >= SEQ_LIMIT ? BITMAP_WORDS : (size_t)(top / 64 + 1);
        memset((void *)st->committed_bits, 0, words * 8);
        for (unsigned g = 0; g < MAX_GROUPS; g++)
            memset((void *)st->delivered_bits[g], 0, words * 8);
        atomic_store(&st->attempt, 0);
        atomic_store(&st->committed_max, 0);
        atomic_store(&st->ninc, 0);
    }
    memset(sb, 0, offsetof(scoreboard, s));
}

static int round_run(unsigned kills_this_round, unsigned mean_delay_ms)
{
    objects ob;
    scoreboard_reset();
    tally.inflight_losses = 0;
    if (objects_create(&ob) != 0) {
        objects_check_destroy(&ob, 0);
        return -1;
    }
    for (unsigned i = 0; i < cfg.nworkers; i++)
        start_worker(i, true);

    uint64_t start_kills = tally.kills;
    while (tally.kills - start_kills < kills_this_round) {
        unsigned delay = (unsigned)(rng_next(&rng) % (2u * mean_delay_ms + 1));
        if (rng_next(&rng) % 16 == 0)
            delay += 200; /* now and then let traffic settle in between */
        watch(delay, true, true);
        if (tally.kills - start_kills >= kills_this_round)
            break;
        bool full = false; /* the round's sequence space is nearly used up: end it early */
        for (unsigned i = 0; i < MAX_STREAMS; i++)
            full |= i < BB_STREAM && atomic_load(&sb->s[i].attempt) > SEQ_LIMIT / 4 * 3; /* bitmap streams */
        if (full)
            break;
        unsigned live[MAX_WORKERS], nlive = 0;
        for (unsigned i = 0; i < cfg.nworkers; i++)
            if (ws[i].pid)
                live[nlive++] = i;
        if (!nlive)
            continue;
        unsigned v = live[rng_next(&rng) % nlive];
        int status;
        kill(ws[v].pid, SIGKILL);
        waitpid(ws[v].pid, &status, 0);
        reaped(v, status, false, true);
        if (verbose)
            fprintf(stderr, "torture: killed %s (worker %u)\n", role_name[cfg.spec[v].role], v);
        start_worker(v, true);
        tally.restarts++;
    }

    /* Stop the senders, let the receivers drain (restarting those a kill point takes), then stop them. */
    atomic_store(&sb->stop_prod, 1);
    join_workers(true, 20000);
    for (unsigned i = 0; i < cfg.nworkers; i++)
        if (!ws[i].pid && !is_sender(cfg.spec[i].role)) {
            start_worker(i, false);
            tally.restarts++;
        }
    uint64_t end = now_ms() + 20000;
    while (!drained(&ob)) {
        if (now_ms() > end) {
            violation(V_HANG, "traffic did not drain in 20 s");
            break;
        }
        watch(5, true, false);
    }
    atomic_store(&sb->stop_cons, 1);
    join_workers(false, 20000);
    owed_now(true);
    ev_owed(true);
    for (unsigned i = 0; i < cfg.nworkers; i++) {
        if (cfg.spec[i].role != R_RR_CLIENT)
            continue;
        sb_stream *st = &sb->s[cfg.spec[i].stream];
        uint64_t top = atomic_load(&st->attempt);
        for (uint64_t wd = 0; wd <= top / 64 && wd < BITMAP_WORDS; wd++)
            tally.excused += (uint64_t)__builtin_popcountll(atomic_load(&st->delivered_bits[G_RR_EXCUSED][wd]));
    }
    objects_check_destroy(&ob, tally.kills - start_kills + 1);
    tally.rounds++;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: torture [--kills N] [--seed S] [--per-round N] [--delay-ms MS] [--stall-ms MS]\n"
                    "               [--layers channel,queue,pubsub,reqresp,blackboard,event]\n"
                    "               [--inject N (mishandle every Nth message: the run must fail)] [-v]\n");
}

int main(int argc, char **argv)
{
    unsigned long kills = 200, per_round = 25, delay_ms = 15;
    uint64_t seed = 0;
    bool have_seed = false;
    static const struct option lo[] = {
        { "kills", required_argument, NULL, 'k' },  { "seed", required_argument, NULL, 's' },
        { "per-round", required_argument, NULL, 'r' }, { "delay-ms", required_argument, NULL, 'd' },
        { "stall-ms", required_argument, NULL, 't' }, { "inject", required_argument, NULL, 'i' },
        { "layers", required_argument, NULL, 'l' }, { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "k:s:r:d:t:vi:l:", lo, NULL)) != -1) {
        switch (c) {
        case 'k': kills = strtoul(optarg, NULL, 0); break;
        case 's': seed = strtoull(optarg, NULL, 0); have_seed = true; break;
        case 'r': per_round = strtoul(optarg, NULL, 0); break;
        case 'd': delay_ms = strtoul(optarg, NULL, 0); break;
        case 't': stall_ms = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'v': verbose = true; break;
        case 'i': inject = strtoul(optarg, NULL, 0); break;
        case 'l':
            layers = (strstr(optarg, "channel") ? L_CHANNEL : 0) | (strstr(optarg, "queue") ? L_QUEUE : 0) |
                     (strstr(optarg, "pubsub") ? L_PUBSUB : 0) | (strstr(optarg, "reqresp") ? L_REQRESP : 0) |
                     (strstr(optarg, "blackboard") ? L_BLACKBOARD : 0) | (strstr(optarg, "event") ? L_EVENT : 0);
            break;
        default: usage(); return 2;
        }
    }
    if (!per_round || !delay_ms || delay_ms > 10000) {
        usage();
        return 2;
    }
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    }
    rng = seed | 1;
    printf("torture: seed %" PRIu64 " (replay with --seed %" PRIu64 "), target %lu kills\n", seed, seed, kills);
    fflush(stdout);

    sb = mmap(NULL, sizeof *sb, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED) {
        perror("torture: mmap");
        return 2;
    }
    /* The workers: a channel's producer and consumer; a queue's two producers and two consumers;
     * two publishers and three subscribers of a pub/sub service. */
    if (layers & L_CHANNEL) {
        cfg.spec[cfg.nworkers++] = (wspec){ R_CHAN_PROD, 0, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_CHAN_CONS, 0, 0 };
    }
    if (layers & L_QUEUE) {
        cfg.spec[cfg.nworkers++] = (wspec){ R_QUEUE_PROD, 1, 1 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_QUEUE_PROD, 2, 1 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_QUEUE_CONS, 0, 1 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_QUEUE_CONS, 0, 1 };
    }
    if (layers & L_PUBSUB) {
        cfg.spec[cfg.nworkers++] = (wspec){ R_PS_PUB, 3, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_PS_PUB, 4, 0 };
        for (unsigned g = 2; g < 5; g++)
            cfg.spec[cfg.nworkers++] = (wspec){ R_PS_SUB, 0, g };
        cfg.spec[cfg.nworkers++] = (wspec){ R_PS_GC, 0, 0 };
    }
    if (layers & L_REQRESP) {
        cfg.spec[cfg.nworkers++] = (wspec){ R_RR_SERVER, 0, G_RR_SERVER };
        for (unsigned k = 5; k < 8; k++)
            cfg.spec[cfg.nworkers++] = (wspec){ R_RR_CLIENT, k, 0 };
    }
    if (layers & L_BLACKBOARD) {
        cfg.spec[cfg.nworkers++] = (wspec){ R_BB_WRITER, BB_STREAM, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_BB_READER, 0, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_BB_READER, 0, 0 };
    }
    if (layers & L_EVENT) {
        cfg.spec[cfg.nworkers++] = (wspec){ R_EV_NOTIFIER, EV_STREAM, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_EV_NOTIFIER, EV_STREAM + 1, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_EV_LISTENER, 0, 0 };
        cfg.spec[cfg.nworkers++] = (wspec){ R_EV_LISTENER, 0, 0 };
    }
    if (!cfg.nworkers) {
        usage();
        return 2;
    }
    printf("torture: layers%s%s%s%s%s%s\n", layers & L_CHANNEL ? " channel" : "", layers & L_QUEUE ? " queue" : "",
           layers & L_PUBSUB ? " pubsub" : "", layers & L_REQRESP ? " reqresp" : "",
           layers & L_BLACKBOARD ? " blackboard" : "", layers & L_EVENT ? " event" : "");

    uint64_t t0 = now_ms(), messages = 0, redelivered = 0, gaps = 0, late = 0, ps_late = 0, bb_reads = 0,
             viol[V_COUNT] = {0};
    uint64_t last_report = t0;
    while (tally.kills < kills) {
        unsigned long n = kills - tally.kills < per_round ? kills - tally.kills : per_round;
        if (round_run((unsigned)n, (unsigned)delay_ms) != 0)
            return 2;
        messages += atomic_load(&sb->delivered);
        redelivered += atomic_load(&sb->redelivered);
        gaps += atomic_load(&sb->gaps);
        late += atomic_load(&sb->late);
        ps_late += atomic_load(&sb->ps_late);
        bb_reads += atomic_load(&sb->bb_reads);
        for (int v = 0; v < V_COUNT; v++)
            viol[v] += atomic_load(&sb->viol[v]);
        if (now_ms() - last_report > 10000) {
            last_report = now_ms();
            printf("torture: %" PRIu64 " kills, %" PRIu64 " messages, %.0f s\n", tally.kills, messages,
                   (double)(last_report - t0) / 1000.0);
            fflush(stdout);
        }
    }
    uint64_t total_viol = 0;
    for (int v = 0; v < V_COUNT; v++)
        total_viol += viol[v];
    printf("torture: seed %" PRIu64 "\n", seed);
    printf("torture: kills %" PRIu64 " (at random moments %" PRIu64 ", at kill points %" PRIu64 "%s",
           tally.kills, tally.random_kills, tally.hook_kills, tally.hook_kills ? ":" : "");
    for (int k = 1; k < KP_COUNT; k++)
        if (tally.hook_by_point[k])
            printf(" %s %" PRIu64, point_name[k], tally.hook_by_point[k]);
    printf(")\n");
    printf("torture: restarts %" PRIu64 ", rounds %" PRIu64 ", %.1f s\n", tally.restarts, tally.rounds,
           (double)(now_ms() - t0) / 1000.0);
    printf("torture: messages delivered %" PRIu64 ", redelivered after consumer takeover %" PRIu64
           ", never committed (sender died mid-send) %" PRIu64 ", lost with a dying queue consumer %" PRIu64 "\n",
           messages, redelivered, gaps, tally.missing_allowed);
    if (layers & L_PUBSUB)
        printf("torture: samples of a dead publisher received after its successor's (another slot) %" PRIu64 "\n",
               ps_late);
    if (layers & L_BLACKBOARD)
        printf("torture: blackboard snapshots checked %" PRIu64 "\n", bb_reads);
    if (layers & L_EVENT)
        printf("torture: event notifications accounted for %" PRIu64 "\n", tally.notifications);
    if (layers & L_REQRESP)
        printf("torture: requests dropped with a dying server or client %" PRIu64 ", served late from a dead"
               " client's connection %" PRIu64 "\n", tally.excused, late);
    printf("torture: violations %" PRIu64, total_viol);
    for (int v = 0; v < V_COUNT; v++)
        if (viol[v])
            printf(" %s=%" PRIu64, viol_name[v], viol[v]);
    printf("\n");
    return total_viol ? 1 : 0;
}
