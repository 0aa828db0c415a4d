/* SPDX-License-Identifier: MIT */
/*
 * tests/test_scribbler.c - a malicious peer: one process maps live segments through their names and
 * scribbles random bytes over them (segment header; channel indices, owner slots and records; queue
 * header, participant table and slots; the service header and participant table of request/response
 * and pub/sub services, their rings, subscriber queues and chunk table; a blackboard's entries; an
 * event service's counters and listener words) while honest processes keep
 * traffic going. The honest ones may
 * get any error (-EBADMSG once a layer sees the damage, -EPIPE, -ETIMEDOUT, garbage payloads); they must
 * go on or stop cleanly, reopening by name when their handle is broken: never die of a signal, never
 * hang past their deadline. Every message handed out in place is read whole, so a length the layer
 * failed to check reads outside the mapping (a crash; under ASan also outside any heap buffer).
 */
#include "helpers.h"

#include <shmipc/blackboard.h>
#include <shmipc/channel.h>
#include <shmipc/evsvc.h>
#include <shmipc/pubsub.h>
#include <shmipc/queue.h>
#include <shmipc/reqresp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_MS 2500        /* how long the honest processes run, and the scribbler scribbles */
#define GRACE_MS 30000     /* an honest process not done this long after RUN_MS is hung */
#define CALL_TIMEOUT_MS 20

typedef struct region {
    size_t off, len;       /* a stretch of the segment file to aim at */
    unsigned weight;
    bool restore;          /* now and then put back the snapshot taken before the traffic started */
} region;

typedef struct scribble_args {
    const char *name;
    const region *regions;
    size_t nregions;
    uint64_t seed;
    const unsigned char *snap; /* the segment before any honest process touched it */
    size_t snap_size;
} scribble_args;

/* Read the segment file whole (the snapshot); NULL on failure. */
static unsigned char *snapshot(const char *seg, size_t *size)
{
    char path[160];
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size)) != NULL &&
        pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
        free(buf);
        buf = NULL;
    }
    close(fd);
    *size = buf ? (size_t)st.st_size : 0;
    return buf;
}

static uint64_t xs(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Pacing and backoff only (the scribbler's rhythm, a retry after a refused open or a missing peer):
 * nothing here waits for another process to get somewhere; every check is on what the calls return. */
static void nap_us(unsigned us)
{
    struct timespec ts = { 0, (long)us * 1000L };
    nanosleep(&ts, NULL);
}

/* The malicious process: raw mmap of /dev/shm/NAME, random bytes into random places of the regions. */
static int scribbler(void *arg)
{
    const scribble_args *a = arg;
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", a->name);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 10;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        return 11;
    size_t size = (size_t)st.st_size;
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 12;
    unsigned total = 0;
    for (size_t i = 0; i < a->nregions; i++)
        total += a->regions[i].weight;
    /* Putting the geometry (and the broken flag, zero at the start) back now and then lets the honest
     * processes reopen and run into the next damage, instead of stopping at the first -EBADMSG. The
     * snapshot is from before the traffic: replaying a lock word taken while a live process held it
     * would be a deliberate attack that lock-based layers cannot bound (see docs/reliability.md). */
    const unsigned char *snap = a->snap;
    if (!snap || a->snap_size < size)
        return 13;
    uint64_t s = a->seed | 1;
    uint64_t end = test_now_ms() + RUN_MS;
    while (test_now_ms() < end) {
        if (xs(&s) % 32 == 0) {
            for (size_t i = 0; i < a->nregions; i++) {
                const region *r = &a->regions[i];
                if (r->restore && r->off < size)
                    memcpy(p + r->off, snap + r->off, r->len < size - r->off ? r->len : size - r->off);
            }
        }
        unsigned pick = (unsigned)(xs(&s) % total);
        const region *r = a->regions;
        while (pick >= r->weight) {
            pick -= r->weight;
            r++;
        }
        size_t len = r->len < size - r->off ? r->len : size - r->off;
        if (!len)
            continue;
        size_t off = r->off + (size_t)(xs(&s) % len);
        size_t n = 1 + (size_t)(xs(&s) % 8);
        for (size_t i = 0; i < n && off + i < size; i++) {
            uint64_t v = xs(&s);
            /* Mostly random bytes; sometimes the extremes that break range checks. */
            p[off + i] = (v & 3) == 0 ? 0xff : (v & 3) == 1 ? 0 : (unsigned char)(v >> 8);
        }
        nap_us((unsigned)(xs(&s) % 500)); /* pacing of the attack, random */
    }
    munmap(p, size);
    return 0;
}

/* ----------------------------------------------------------------------------------------- channel */

/* What an honest process saw, printed at its end: proof that traffic flowed and damage was noticed. */
typedef struct tally {
    unsigned long ok, badmsg, opens, open_fail, other;
} tally;

static void tally_add(tally *t, int err)
{
    if (err >= 0)
        t->ok++;
    else if (err == -EBADMSG)
        t->badmsg++;
    else
        t->other++;
}

static void tally_print(const char *what, int role, const tally *t)
{
    fprintf(stderr, "  %s role %d: %lu ok, %lu -EBADMSG, %lu other errors, %lu opens (%lu refused)\n", what, role,
            t->ok, t->badmsg, t->other, t->opens, t->open_fail);
}

typedef struct honest_args {
    const char *name;
    int role;     /* channel: its role; queue, request/response, pub/sub: 1 sender, 2 receiver */
    uint64_t seed;
} honest_args;

static bool chan_tolerated(int err)
{
    /* What a scribbled channel may legitimately answer. */
    return err == -EBADMSG || err == -EPIPE || err == -ETIMEDOUT || err == -EAGAIN || err == -EMSGSIZE ||
           err == -EBUSY || err == -EPROTOTYPE || err == -ENOTRECOVERABLE || err == -EINVAL ||
           err == -EPROTO || err == -ENOENT || err == -EPERM;
}

static int honest_channel(void *arg)
{
    const honest_args *a = arg;
    uint64_t s = a->seed | 1, end = test_now_ms() + RUN_MS;
    unsigned char buf[2048];
    shmipc_channel *ch = NULL;
    tally t = {0};
    while (test_now_ms() < end) {
        int err;
        if (!ch) {
            err = shmipc_channel_open(a->name, a->role, NULL, &ch);
            t.opens++;
            if (err) {
                t.open_fail++;
                if (!chan_tolerated(err)) {
                    fprintf(stderr, "channel open: unexpected %s\n", shmipc_strerror(err));
                    return 20;
                }
                ch = NULL;
                nap_us(2000); /* backoff before retrying the open */
                continue;
            }
        }
        size_t len = (size_t)(xs(&s) % sizeof buf);
        if (a->role == SHMIPC_CHANNEL_PRODUCER) {
            memset(buf, (int)(xs(&s) & 0xff), len);
            if (xs(&s) & 1) {
                err = shmipc_channel_send(ch, buf, len, CALL_TIMEOUT_MS);
            } else {
                void *p;
                err = shmipc_channel_reserve(ch, len, &p, CALL_TIMEOUT_MS);
                if (!err) {
                    memset(p, 0x5a, len);
                    err = shmipc_channel_commit(ch, len);
                }
            }
        } else if (xs(&s) & 1) {
            err = shmipc_channel_recv(ch, buf, sizeof buf, CALL_TIMEOUT_MS);
        } else {
            const void *p;
            err = shmipc_channel_peek(ch, &p, CALL_TIMEOUT_MS);
            if (err >= 0) {
                /* Read all the layer said is there: an unchecked length would read past the ring. */
                volatile unsigned char sink = 0;
                for (int i = 0; i < err; i++)
                    sink ^= ((const unsigned char *)p)[i];
                (void)sink;
                err = shmipc_channel_release(ch);
            }
        }
        tally_add(&t, err);
        if (err < 0 && !chan_tolerated(err)) {
            fprintf(stderr, "channel role %d: unexpected %s\n", a->role, shmipc_strerror(err));
            return 21;
        }
        if (err == -EBADMSG || (err == -EPIPE && (xs(&s) & 7) == 0)) {
            /* Broken for good (or a peer looks gone): drop the handle and try to reopen by name. */
            shmipc_channel_close(ch);
            ch = NULL;
        }
    }
    shmipc_channel_close(ch);
    tally_print("channel", a->role, &t);
    return 0;
}

/* Honest processes use the object name; the scribbler maps the segment seg. */
static int run_scribbled(const char *name, const char *seg, int (*honest)(void *), const int *roles, size_t nroles,
                         const region *regions, size_t nregions)
{
    pid_t pids[8];
    honest_args ha[8];
    size_t snap_size;
    unsigned char *snap = snapshot(seg, &snap_size);
    if (!snap) {
        print_error("cannot read %s\n", seg);
        return 1;
    }
    uint64_t seed = test_now_ms() ^ ((uint64_t)getpid() << 20);
    print_message("scribbler seed %llu\n", (unsigned long long)seed);
    for (size_t i = 0; i < nroles; i++) {
        ha[i] = (honest_args){ name, roles[i], seed + i * 7919 };
        pids[i] = test_fork(honest, &ha[i]);
    }
    scribble_args sa = { seg, regions, nregions, seed ^ 0xabcdef, snap, snap_size };
    pid_t mal = test_fork(scribbler, &sa);
    int failures = 0;
    int st = test_wait(mal, RUN_MS + GRACE_MS);
    if (st != 0) {
        print_error("scribbler exited with %d\n", st);
        failures++;
    }
    for (size_t i = 0; i < nroles; i++) {
        st = test_wait(pids[i], RUN_MS + GRACE_MS);
        if (st != 0) {
            /* -1: hung (killed after the bound); 128+n: died of signal n; else its own failure code. */
            print_error("honest process %zu (role %d) ended with %d\n", i, roles[i], st);
            failures++;
        }
    }
    free(snap);
    return failures;
}

static void scribble_channel(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "scrib-ch");
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = 16384;
    o.role = SHMIPC_CHANNEL_OBSERVER;
    shmipc_channel *ch;
    assert_int_equal(shmipc_channel_create(name, &o, &ch), 0);
    /* The segment file: 128-byte segment header, then the 512-byte channel header, then the ring. */
    const region regions[] = {
        { 0, 128, 1, true },         /* segment header */
        { 128, 64, 1, true },        /* channel geometry line and broken flag */
        { 128 + 64, 128, 3, false }, /* producer and consumer owner slots */
        { 128 + 192, 128, 3, true }, /* head, tail, counters */
        { 128 + 320, 128, 2, false },/* notify words */
        { 640, 16384, 3, false },    /* records */
    };
    const int roles[] = { SHMIPC_CHANNEL_PRODUCER, SHMIPC_CHANNEL_CONSUMER };
    int failures = run_scribbled(name, name, honest_channel, roles, 2, regions, sizeof regions / sizeof *regions);
    shmipc_channel_close(ch);
    shmipc_channel_unlink(name);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------------------------- queue */

static bool queue_tolerated(int err)
{
    return err == -EBADMSG || err == -ETIMEDOUT || err == -EAGAIN || err == -EMSGSIZE || err == -EUSERS ||
           err == -EPROTO || err == -EPROTOTYPE || err == -ENOTRECOVERABLE || err == -EINVAL ||
           err == -ENOENT || err == -EPERM;
}

static int honest_queue(void *arg)
{
    const honest_args *a = arg;
    uint64_t s = a->seed | 1, end = test_now_ms() + RUN_MS;
    unsigned char buf[256];
    shmipc_queue *q = NULL;
    tally t = {0};
    while (test_now_ms() < end) {
        int err;
        if (!q) {
            err = shmipc_queue_open(a->name, NULL, &q);
            t.opens++;
            if (err) {
                t.open_fail++;
                if (!queue_tolerated(err)) {
                    fprintf(stderr, "queue open: unexpected %s\n", shmipc_strerror(err));
                    return 30;
                }
                q = NULL;
                nap_us(2000); /* backoff before retrying the open */
                continue;
            }
        }
        shmipc_queue_claim c;
        if (a->role == 1) {
            size_t len = (size_t)(xs(&s) % (sizeof buf + 1));
            memset(buf, 0x33, len);
            if (xs(&s) & 1) {
                err = shmipc_queue_push(q, buf, len, CALL_TIMEOUT_MS);
            } else if ((err = shmipc_queue_push_claim(q, &c, CALL_TIMEOUT_MS)) == 0) {
                memset(c.data, 0x44, len);
                err = shmipc_queue_push_commit(q, &c, len);
            }
        } else if (xs(&s) & 1) {
            err = shmipc_queue_pop(q, buf, sizeof buf, CALL_TIMEOUT_MS);
        } else if ((err = shmipc_queue_pop_claim(q, &c, CALL_TIMEOUT_MS)) >= 0) {
            volatile unsigned char sink = 0;
            for (size_t i = 0; i < c.len; i++)
                sink ^= ((const unsigned char *)c.data)[i];
            (void)sink;
            err = shmipc_queue_pop_release(q, &c);
        }
        tally_add(&t, err);
        if (err < 0 && !queue_tolerated(err)) {
            fprintf(stderr, "queue role %d: unexpected %s\n", a->role, shmipc_strerror(err));
            return 31;
        }
        if (err == -EBADMSG) {
            shmipc_queue_close(q);
            q = NULL;
        }
    }
    shmipc_queue_close(q);
    tally_print("queue", a->role, &t);
    return 0;
}

static void scribble_queue(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "scrib-q");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 32;
    o.slot_size = 256;
    o.max_participants = 8;
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    size_t qsize = 0;
    assert_int_equal(shmipc_queue_memory_size(&o, &qsize), 0);
    /* Segment header (128), queue header (six lines), participant table (8 lines), slots. */
    const region regions[] = {
        { 0, 128, 1, true },                      /* segment header */
        { 128, 64, 1, true },                     /* geometry line and broken flag */
        { 128 + 64, 320, 3, false },              /* positions, notify words, counters */
        { 128 + 384, 8 * 64, 3, false },          /* participant table */
        { 128 + 384 + 8 * 64, qsize, 4, false },  /* slots */
    };
    const int roles[] = { 1, 1, 2, 2 };
    int failures = run_scribbled(name, name, honest_queue, roles, 4, regions, sizeof regions / sizeof *regions);
    shmipc_queue_close(q);
    shmipc_queue_unlink(name);
    assert_int_equal(failures, 0);
}

/* ----------------------------------------------------------------------------------- request/response */

static bool rr_tolerated(int err)
{
    return err == -EBADMSG || err == -ETIMEDOUT || err == -EAGAIN || err == -EMSGSIZE || err == -EUSERS ||
           err == -EPIPE || err == -ENOTCONN || err == -EBUSY || err == -EPROTO || err == -EPROTOTYPE ||
           err == -ENOTRECOVERABLE || err == -EINVAL || err == -ENOENT || err == -EPERM;
}

static int honest_reqresp(void *arg)
{
    const honest_args *a = arg;
    uint64_t s = a->seed | 1, end = test_now_ms() + RUN_MS;
    unsigned char buf[512];
    shmipc_reqresp_server *srv = NULL;
    shmipc_reqresp_client *cli = NULL;
    tally t = {0};
    while (test_now_ms() < end) {
        int err;
        if (!srv && !cli) {
            err = a->role == 1 ? shmipc_reqresp_server_create(a->name, NULL, &srv)
                               : shmipc_reqresp_client_open(a->name, NULL, &cli);
            t.opens++;
            if (err) {
                t.open_fail++;
                if (!rr_tolerated(err)) {
                    fprintf(stderr, "reqresp open: unexpected %s\n", shmipc_strerror(err));
                    return 40;
                }
                srv = NULL;
                cli = NULL;
                nap_us(2000); /* backoff before retrying the open */
                continue;
            }
        }
        if (srv) {
            shmipc_reqresp_request_info info;
            err = shmipc_reqresp_server_receive(srv, &info, buf, sizeof buf, CALL_TIMEOUT_MS);
            if (err >= 0)
                err = shmipc_reqresp_server_respond(srv, &info, buf, (size_t)err, (xs(&s) & 3) ? 0 : SHMIPC_RR_MORE,
                                            CALL_TIMEOUT_MS);
        } else if (xs(&s) & 1) {
            err = shmipc_reqresp_client_call(cli, buf, (size_t)(xs(&s) % 256), buf, sizeof buf, NULL, CALL_TIMEOUT_MS);
        } else {
            err = shmipc_reqresp_client_send(cli, buf, (size_t)(xs(&s) % 256), NULL, CALL_TIMEOUT_MS);
            if (err >= 0)
                err = shmipc_reqresp_client_receive(cli, NULL, buf, sizeof buf, CALL_TIMEOUT_MS);
        }
        tally_add(&t, err);
        if (err < 0 && !rr_tolerated(err)) {
            fprintf(stderr, "reqresp role %d: unexpected %s\n", a->role, shmipc_strerror(err));
            return 41;
        }
        if (err == -EPIPE)
            nap_us(1000); /* no live server (the honest one may be locked out): do not spin */
        if (err == -EBADMSG && (xs(&s) & 3) == 0) {
            shmipc_reqresp_server_close(srv);
            shmipc_reqresp_client_close(cli);
            srv = NULL;
            cli = NULL;
        }
    }
    shmipc_reqresp_server_close(srv);
    shmipc_reqresp_client_close(cli);
    tally_print("reqresp", a->role, &t);
    return 0;
}

static void scribble_reqresp(void **state)
{
    (void)state;
    char name[96], seg[128];
    /* A service name has no leading '/'; its main segment is /shmipc.reqresp.NAME. */
    test_name(name, sizeof name, "scrib-rr");
    memmove(name, name + 1, strlen(name));
    snprintf(seg, sizeof seg, "/shmipc.reqresp.%s", name);
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.max_request = 256;
    o.max_clients = 4;
    shmipc_reqresp_server *srv;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &srv), 0);
    shmipc_reqresp_client *keep; /* keeps the service in use while the honest server comes and goes */
    assert_int_equal(shmipc_reqresp_client_open(name, &o, &keep), 0);
    shmipc_reqresp_server_close(srv);
    struct stat st;
    char path[160];
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    assert_int_equal(stat(path, &st), 0);
    /* Segment header, service header (512 bytes), then participant table, pattern header and rings. */
    const region regions[] = {
        { 0, 128, 1, true },
        { 128, 512, 2, true },
        { 640, 4096, 5, false },
        { 640 + 4096, (size_t)st.st_size, 3, false },
    };
    const int roles[] = { 1, 2, 2 };
    int failures = run_scribbled(name, seg, honest_reqresp, roles, 3, regions, sizeof regions / sizeof *regions);
    shmipc_reqresp_client_close(keep);
    shmipc_reqresp_unlink(name);
    assert_int_equal(failures, 0);
}

/* ---------------------------------------------------------------------------------------------- pub/sub */

static bool ps_tolerated(int err)
{
    return err == -EBADMSG || err == -ETIMEDOUT || err == -EAGAIN || err == -EMSGSIZE || err == -EUSERS ||
           err == -EPIPE || err == -ENOBUFS || err == -EPROTO || err == -EPROTOTYPE || err == -ENOTRECOVERABLE ||
           err == -EINVAL || err == -ENOENT || err == -EPERM || err == -EBUSY;
}

static int honest_pubsub(void *arg)
{
    const honest_args *a = arg;
    uint64_t s = a->seed | 1, end = test_now_ms() + RUN_MS;
    unsigned char buf[512];
    shmipc_pubsub_publisher *pub = NULL;
    shmipc_pubsub_subscriber *sub = NULL;
    tally t = {0};
    while (test_now_ms() < end) {
        int err;
        if (!pub && !sub) {
            err = a->role == 1 ? shmipc_pubsub_publisher_open(a->name, NULL, &pub)
                               : shmipc_pubsub_subscriber_open(a->name, NULL, &sub);
            t.opens++;
            if (err) {
                t.open_fail++;
                if (!ps_tolerated(err)) {
                    fprintf(stderr, "pubsub open: unexpected %s\n", shmipc_strerror(err));
                    return 50;
                }
                pub = NULL;
                sub = NULL;
                nap_us(2000); /* backoff before retrying the open */
                continue;
            }
        }
        size_t len = (size_t)(xs(&s) % 256);
        if (pub && (xs(&s) & 1)) {
            memset(buf, 0x21, len);
            err = shmipc_pubsub_publisher_publish_copy(pub, buf, len);
        } else if (pub) {
            void *p;
            if ((err = shmipc_pubsub_publisher_loan(pub, len, &p)) == 0) {
                memset(p, 0x12, len);
                err = (xs(&s) & 7) ? shmipc_pubsub_publisher_publish(pub, p, len)
                                   : shmipc_pubsub_publisher_discard(pub, p);
            }
        } else if (xs(&s) & 1) {
            err = shmipc_pubsub_subscriber_receive_copy(sub, buf, sizeof buf, CALL_TIMEOUT_MS, NULL);
        } else {
            shmipc_pubsub_sample smp;
            if ((err = shmipc_pubsub_subscriber_receive(sub, &smp, CALL_TIMEOUT_MS)) == 0) {
                volatile unsigned char sink = 0;
                for (size_t i = 0; i < smp.size; i++)
                    sink ^= ((const unsigned char *)smp.data)[i];
                (void)sink;
                err = shmipc_pubsub_subscriber_release(sub, &smp);
            }
        }
        tally_add(&t, err);
        if (err < 0 && !ps_tolerated(err)) {
            fprintf(stderr, "pubsub role %d: unexpected %s\n", a->role, shmipc_strerror(err));
            return 51;
        }
        if (err == -ENOBUFS || err == -EPIPE)
            nap_us(1000); /* backoff: no room or no live publisher now (nothing waits on it) */
        if ((err == -EBADMSG && (xs(&s) & 3) == 0) || err == -EPIPE) {
            shmipc_pubsub_publisher_close(pub);
            shmipc_pubsub_subscriber_close(sub);
            pub = NULL;
            sub = NULL;
        }
    }
    shmipc_pubsub_publisher_close(pub);
    shmipc_pubsub_subscriber_close(sub);
    tally_print("pubsub", a->role, &t);
    return 0;
}

static void scribble_pubsub(void **state)
{
    (void)state;
    char name[96], seg[128], path[160];
    test_name(name, sizeof name, "scrib-ps");
    memmove(name, name + 1, strlen(name));
    snprintf(seg, sizeof seg, "/shmipc.pubsub.%s", name);
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 256;
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.history = 2;
    shmipc_pubsub_publisher *keep; /* keeps the service in use */
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &keep), 0);
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    assert_int_equal(stat(path, &st), 0);
    /* Segment header, service header, then participant table, subscriber and publisher slots (with
     * histories and chunk descriptors), deliver and return connections. Putting all of it back now and then (as it was
     * with only our publisher registered) also unregisters the honest ones behind their back. */
    const region regions[] = {
        { 0, 128, 1, true },
        { 128, 512, 2, true },
        { 640, (size_t)st.st_size, 8, true },
    };
    const int roles[] = { 1, 2, 2 };
    int failures = run_scribbled(name, seg, honest_pubsub, roles, 3, regions, sizeof regions / sizeof *regions);
    shmipc_pubsub_publisher_close(keep);
    /* gc skips a service it finds corrupt: remove the two segments by name. */
    shmipc_segment_unlink(seg);
    strncat(seg, ".pool", sizeof seg - strlen(seg) - 1);
    shmipc_segment_unlink(seg);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------------ blackboard and events */

static bool svc_tolerated(int err)
{
    return err == -EBADMSG || err == -ETIMEDOUT || err == -EAGAIN || err == -EUSERS || err == -EPIPE ||
           err == -EBUSY || err == -ENODATA || err == -EPROTO || err == -EPROTOTYPE || err == -ENOTRECOVERABLE ||
           err == -EINVAL || err == -ENOENT || err == -EPERM;
}

/* role 1: blackboard writer, 2: blackboard reader, 3: notifier, 4: listener. */
static int honest_small(void *arg)
{
    const honest_args *a = arg;
    uint64_t s = a->seed | 1, end = test_now_ms() + RUN_MS;
    unsigned char buf[64];
    shmipc_blackboard_writer *wr = NULL;
    shmipc_blackboard_reader *rd = NULL;
    shmipc_evsvc_notifier *nt = NULL;
    shmipc_evsvc_listener *ls = NULL;
    tally t = {0};
    while (test_now_ms() < end) {
        int err;
        if (!wr && !rd && !nt && !ls) {
            err = a->role == 1   ? shmipc_blackboard_writer_create(a->name, NULL, &wr)
                  : a->role == 2 ? shmipc_blackboard_reader_open(a->name, NULL, &rd)
                  : a->role == 3 ? shmipc_evsvc_notifier_create(a->name, NULL, &nt)
                                 : shmipc_evsvc_listener_open(a->name, NULL, &ls);
            t.opens++;
            if (err) {
                t.open_fail++;
                if (!svc_tolerated(err)) {
                    fprintf(stderr, "role %d open: unexpected %s\n", a->role, shmipc_strerror(err));
                    return 60;
                }
                wr = NULL;
                rd = NULL;
                nt = NULL;
                ls = NULL;
                nap_us(2000); /* backoff before retrying the open */
                continue;
            }
        }
        uint32_t key = (uint32_t)(xs(&s) % 4);
        uint64_t version = 0;
        if (wr) {
            memset(buf, (int)key, sizeof buf);
            err = shmipc_blackboard_write(wr, key, buf, sizeof buf);
        } else if (rd) {
            err = shmipc_blackboard_read(rd, key, buf, sizeof buf, &version);
            if ((xs(&s) & 15) == 0)
                err = shmipc_blackboard_wait(rd, key, version, CALL_TIMEOUT_MS);
        } else if (nt) {
            err = shmipc_evsvc_notifier_notify(nt, key);
            nap_us(100); /* pacing: listeners keep up */
        } else {
            uint32_t id;
            err = shmipc_evsvc_listener_wait(ls, CALL_TIMEOUT_MS, &id);
        }
        tally_add(&t, err);
        if (err < 0 && !svc_tolerated(err)) {
            fprintf(stderr, "role %d: unexpected %s\n", a->role, shmipc_strerror(err));
            return 61;
        }
        if (err == -EPIPE || err == -ENODATA)
            nap_us(1000); /* backoff: no peer (yet) */
        if (err == -EBADMSG && (xs(&s) & 3) == 0) {
            shmipc_blackboard_writer_close(wr);
            shmipc_blackboard_reader_close(rd);
            shmipc_evsvc_notifier_close(nt);
            shmipc_evsvc_listener_close(ls);
            wr = NULL;
            rd = NULL;
            nt = NULL;
            ls = NULL;
        }
    }
    shmipc_blackboard_writer_close(wr);
    shmipc_blackboard_reader_close(rd);
    shmipc_evsvc_notifier_close(nt);
    shmipc_evsvc_listener_close(ls);
    tally_print(a->role <= 2 ? "blackboard" : "event", a->role, &t);
    return 0;
}

/* Scribble over the whole service segment of pattern pn (headers restored now and then). */
static int scribble_service(const char *name, const char *pn, const int *roles, size_t nroles)
{
    char seg[160], path[200];
    snprintf(seg, sizeof seg, "/shmipc.%s.%s", pn, name);
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    struct stat st;
    if (stat(path, &st) != 0)
        return 1;
    const region regions[] = {
        { 0, 128, 1, true },
        { 128, 512, 2, true },
        { 640, (size_t)st.st_size, 8, true },
    };
    int failures = run_scribbled(name, seg, honest_small, roles, nroles, regions, sizeof regions / sizeof *regions);
    shmipc_segment_unlink(seg); /* the service may be too damaged for its own unlink */
    return failures;
}

static void scribble_blackboard(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "scrib-bb");
    memmove(name, name + 1, strlen(name));
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = 64;
    o.entries = 4;
    shmipc_blackboard_reader *keep;
    shmipc_blackboard_writer *wr;
    assert_int_equal(shmipc_blackboard_writer_create(name, &o, &wr), 0);
    assert_int_equal(shmipc_blackboard_reader_open(name, &o, &keep), 0);
    shmipc_blackboard_writer_close(wr);
    const int roles[] = { 1, 2, 2 };
    int failures = scribble_service(name, "blackboard", roles, 3);
    shmipc_blackboard_reader_close(keep);
    assert_int_equal(failures, 0);
}

static void scribble_event(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "scrib-ev");
    memmove(name, name + 1, strlen(name));
    shmipc_evsvc_opts o;
    shmipc_evsvc_opts_init(&o);
    o.max_events = 4;
    shmipc_evsvc_listener *keep;
    assert_int_equal(shmipc_evsvc_listener_open(name, &o, &keep), 0);
    const int roles[] = { 3, 3, 4, 4 };
    int failures = scribble_service(name, "event", roles, 4);
    shmipc_evsvc_listener_close(keep);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scribble_channel),
        cmocka_unit_test(scribble_queue),
        cmocka_unit_test(scribble_reqresp),
        cmocka_unit_test(scribble_pubsub),
        cmocka_unit_test(scribble_blackboard),
        cmocka_unit_test(scribble_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
