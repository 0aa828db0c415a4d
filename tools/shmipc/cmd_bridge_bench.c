/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_bridge_bench.c - `shmipc bridge bench`: what the NATS bridge costs, measured next to
 * plain NATS on the same machine, in one run, against one server (a nats-server it starts on a free
 * loopback port, or --server).
 *
 * Round trips (ping-pong, one message in flight): plain NATS request/reply between two connections;
 * pub/sub through two bridges (a shmipc publisher -> bridge A -> NATS -> bridge B -> a shmipc echo that
 * publishes it back -> bridge B -> NATS -> bridge A -> a shmipc subscriber), the same two NATS hops each
 * way as plain NATS plus a shared-memory hop and a bridge at each end; request/response through the two
 * bridges (a shmipc client call -> bridge A serving it -> NATS request -> bridge B calling a shmipc
 * server -> back). One-way throughput: plain NATS publish -> subscribe, and a shmipc publisher -> bridge
 * A -> NATS -> bridge B -> a shmipc subscriber, as fast as the sender can go, with what was lost.
 * Everything runs in this process (two bridges with their own names), in a private object directory.
 */
#ifdef SHMIPC_HAVE_BRIDGE
#include "msg.h"
#include "svc.h"

#include "nats_local.h"

#include <shmipc/bridge.h>
#include <shmipc/shmipc.h>

#include <nats/nats.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int cli_cmd_bridge_bench(int argc, char **argv);

#define SUBJ "shmipc.pubsub.bench." /* under the stream's subjects, so that qos jetstream works too */

typedef struct bench_lat {
    double p50, p99, mean; /* microseconds */
    uint64_t n, lost;
} bench_lat;

typedef struct bench_tput {
    double msgs_s, mb_s;
    uint64_t sent, received;
} bench_tput;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bench_lat summarize(uint64_t *ns, uint64_t n, uint64_t lost)
{
    bench_lat l = {0, 0, 0, n, lost};
    if (n == 0)
        return l;
    qsort(ns, n, sizeof ns[0], cmp_u64);
    double sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += (double)ns[i];
    uint64_t i50 = n / 2, i99 = n * 99 / 100 < n ? n * 99 / 100 : n - 1;
    l.p50 = (double)ns[i50] / 1000.0;
    l.p99 = (double)ns[i99] / 1000.0;
    l.mean = sum / (double)n / 1000.0;
    return l;
}

/* ---- the server ------------------------------------------------------------------------------------- */

/* Connect to url, retrying for up to 5 s while the server starts (a handshake, not a fixed wait); each
 * message written at once or batched (asap), as the bridges are told. */
static natsStatus connect_retry(const char *url, bool asap, natsConnection **nc)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, url);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, asap);
    uint64_t deadline = cli_now_ns() + 5000000000u;
    if (s == NATS_OK)
        while ((s = natsConnection_Connect(nc, o)) != NATS_OK && cli_now_ns() < deadline && !svc_stop)
            nats_Sleep(20);
    natsOptions_Destroy(o);
    return s;
}

/* ---- plain NATS --------------------------------------------------------------------------------------- */

static void on_echo(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    (void)closure;
    if (natsMsg_GetReply(msg))
        natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}

typedef struct counter {
    _Atomic uint64_t n;
    _Atomic uint64_t last_ns;
} counter;

static void on_count(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    counter *c = closure;
    (void)nc;
    (void)sub;
    /* relaxed: the main thread polls these with a deadline; exact ordering is not needed */
    atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
    atomic_store_explicit(&c->last_ns, cli_now_ns(), memory_order_relaxed);
    natsMsg_Destroy(msg);
}

static bench_lat nats_rtt(natsConnection *cli, const char *payload, size_t size, uint64_t count, uint64_t *ns)
{
    uint64_t n = 0, lost = 0;
    for (uint64_t i = 0; i < count + 100 && !svc_stop; i++) {
        natsMsg *reply = NULL;
        uint64_t t0 = cli_now_ns();
        natsStatus s = natsConnection_Request(&reply, cli, "bench.echo", payload, (int)size, 2000);
        uint64_t t1 = cli_now_ns();
        natsMsg_Destroy(reply);
        if (s != NATS_OK)
            lost++;
        else if (i >= 100) /* the first 100: warm-up */
            ns[n++] = t1 - t0;
    }
    return summarize(ns, n, lost);
}

/* Wait until c counted want messages, or nothing came for 1 s. */
static void wait_count(counter *c, uint64_t want)
{
    uint64_t last_n = 0, since = cli_now_ns();
    for (;;) {
        uint64_t n = atomic_load_explicit(&c->n, memory_order_relaxed);
        if (n >= want || svc_stop)
            return;
        if (n != last_n) {
            last_n = n;
            since = cli_now_ns();
        } else if (cli_now_ns() - since > 1000000000u) {
            return;
        }
        nats_Sleep(1);
    }
}

static bench_tput nats_tput(natsConnection *pub, counter *c, const char *payload, size_t size, uint64_t count)
{
    atomic_store(&c->n, 0);
    uint64_t t0 = cli_now_ns();
    for (uint64_t i = 0; i < count && !svc_stop; i++)
        natsConnection_Publish(pub, "bench.tpn", payload, (int)size);
    natsConnection_Flush(pub);
    wait_count(c, count);
    uint64_t got = atomic_load(&c->n), t1 = atomic_load(&c->last_ns);
    double sec = t1 > t0 ? (double)(t1 - t0) / 1e9 : 1e-9;
    return (bench_tput){(double)got / sec, (double)got * (double)size / sec / 1e6, count, got};
}

/* ---- through the bridges ---------------------------------------------------------------------------------- */

typedef struct bench_run {
    const char *url, *qos;
    bool asap;
    size_t size;
    uint64_t count, tput_count;
    bench_lat nats, ps, rr;
    bench_tput tnats, tbridge;
    shmipc_bridge_route_stats tp_export;
} bench_run;

typedef struct bench_env {
    size_t size;
    atomic_bool stop;
    /* echo: ping-b -> pong; reqresp server echo-srv; tp-b counter */
    shmipc_pubsub_subscriber *echo_sub;
    shmipc_pubsub_publisher *echo_pub;
    shmipc_reqresp_server *srv;
    shmipc_pubsub_subscriber *tp_sub;
    shmipc_pubsub_publisher *tp_pub; /* held open so that tp-b exists with our options */
    counter tp;
} bench_env;

static void *echo_main(void *arg)
{
    bench_env *e = arg;
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        shmipc_pubsub_sample s;
        if (shmipc_pubsub_subscriber_receive(e->echo_sub, &s, 100) != 0)
            continue;
        shmipc_pubsub_publisher_publish_copy(e->echo_pub, s.data, s.size);
        shmipc_pubsub_subscriber_release(e->echo_sub, &s);
    }
    return NULL;
}

static void *server_main(void *arg)
{
    bench_env *e = arg;
    char *buf = malloc(SHMIPC_RR_MAX_MESSAGE);
    while (buf && !atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        shmipc_reqresp_request_info info;
        int n = shmipc_reqresp_server_receive(e->srv, &info, buf, SHMIPC_RR_MAX_MESSAGE, 100);
        if (n >= 0)
            shmipc_reqresp_server_respond(e->srv, &info, buf, (size_t)n, 0, 1000);
    }
    free(buf);
    return NULL;
}

static void *tp_main(void *arg)
{
    bench_env *e = arg;
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        shmipc_pubsub_sample s;
        if (shmipc_pubsub_subscriber_receive(e->tp_sub, &s, 100) != 0)
            continue;
        shmipc_pubsub_subscriber_release(e->tp_sub, &s);
        atomic_fetch_add_explicit(&e->tp.n, 1, memory_order_relaxed);
        atomic_store_explicit(&e->tp.last_ns, cli_now_ns(), memory_order_relaxed);
    }
    return NULL;
}

static int start_bridge(const char *name, const bench_run *r, const char *const *routes, shmipc_bridge **out)
{
    shmipc_bridge_config *cfg;
    int err = shmipc_bridge_config_new(&cfg);
    if (err)
        return err;
    char line[512];
    snprintf(line, sizeof line, "name %s", name);
    err = shmipc_bridge_config_directive(cfg, line);
    snprintf(line, sizeof line, "server %s", r->url);
    if (!err)
        err = shmipc_bridge_config_directive(cfg, line);
    snprintf(line, sizeof line, "qos %s", r->qos);
    if (!err)
        err = shmipc_bridge_config_directive(cfg, line);
    if (!err)
        err = shmipc_bridge_config_directive(cfg, r->asap ? "send-asap on" : "send-asap off");
    for (size_t i = 0; routes[i] && !err; i++)
        err = shmipc_bridge_config_directive(cfg, routes[i]);
    if (!err)
        err = shmipc_bridge_start(cfg, out);
    if (err)
        fprintf(stderr, "shmipc bridge bench: bridge %s: %s %s\n", name, shmipc_bridge_config_error(cfg),
                cli_errtext(err));
    shmipc_bridge_config_free(cfg);
    return err;
}

/* Open what a bridge creates (an import), retrying for up to 5 s. */
static int sub_retry(const char *name, shmipc_pubsub_subscriber **out)
{
    uint64_t deadline = cli_now_ns() + 5000000000u;
    int err;
    while ((err = shmipc_pubsub_subscriber_open(name, NULL, out)) == -ENOENT && cli_now_ns() < deadline)
        nats_Sleep(10);
    return err;
}

static int client_retry(const char *name, shmipc_reqresp_client **out)
{
    uint64_t deadline = cli_now_ns() + 5000000000u;
    int err;
    while ((err = shmipc_reqresp_client_open(name, NULL, out)) == -ENOENT && cli_now_ns() < deadline)
        nats_Sleep(10);
    return err;
}

/* One pub/sub round trip: publish payload on pub, wait up to timeout_ms for its echo on sub. */
static int ps_round(shmipc_pubsub_publisher *pub, shmipc_pubsub_subscriber *sub, const char *payload, size_t size,
                    uint64_t tag, int timeout_ms)
{
    void *p;
    int err = shmipc_pubsub_publisher_loan(pub, size, &p);
    if (err)
        return err;
    memcpy(p, payload, size);
    memcpy(p, &tag, sizeof tag);
    if ((err = shmipc_pubsub_publisher_publish(pub, p, size)) < 0)
        return err;
    uint64_t deadline = cli_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = cli_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        shmipc_pubsub_sample s;
        err = shmipc_pubsub_subscriber_receive(sub, &s, (int)((deadline - now) / 1000000u) + 1);
        if (err == -ETIMEDOUT || err == -EINTR)
            continue;
        if (err)
            return err;
        uint64_t got = 0;
        if (s.size >= sizeof got)
            memcpy(&got, s.data, sizeof got);
        shmipc_pubsub_subscriber_release(sub, &s);
        if (got == tag)
            return 0; /* else a late echo of an earlier round that timed out */
    }
}

static void print_lat(const char *what, const bench_lat *l, const bench_lat *base)
{
    printf("  %-40s %9.1f us %9.1f us %9.1f us", what, l->p50, l->p99, l->mean);
    if (base && base->p50 > 0)
        printf("   %+8.1f us (%.1fx)", l->p50 - base->p50, l->p50 / base->p50);
    if (l->lost)
        printf("   %" PRIu64 " lost", l->lost);
    printf("\n");
}

static void print_tput(const char *what, const bench_tput *t, const bench_tput *base)
{
    printf("  %-40s %12.0f %9.1f %9" PRIu64 "", what, t->msgs_s, t->mb_s, t->sent - t->received);
    if (base && base->msgs_s > 0)
        printf("   %.2fx", t->msgs_s / base->msgs_s);
    printf("\n");
}

static void json_lat(cli_json *j, const char *key, const bench_lat *l)
{
    cli_json_begin(j, key, '{');
    cli_json_double(j, "p50_us", l->p50);
    cli_json_double(j, "p99_us", l->p99);
    cli_json_double(j, "mean_us", l->mean);
    cli_json_uint(j, "rounds", l->n);
    cli_json_uint(j, "lost", l->lost);
    cli_json_end(j, '}');
}

static void json_tput(cli_json *j, const char *key, const bench_tput *t)
{
    cli_json_begin(j, key, '{');
    cli_json_double(j, "msgs_per_s", t->msgs_s);
    cli_json_double(j, "mb_per_s", t->mb_s);
    cli_json_uint(j, "sent", t->sent);
    cli_json_uint(j, "received", t->received);
    cli_json_end(j, '}');
}

/* Remove the private object directory and what is in it. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}


static int run(bench_run *r)
{
    int rc = CLI_ERR;
    char *payload = calloc(1, r->size);
    uint64_t *ns = calloc(r->count + 1, sizeof *ns);
    natsConnection *n1 = NULL, *n2 = NULL;
    natsSubscription *echo = NULL, *tpn = NULL;
    counter ctp = {0};
    bench_env e;
    memset(&e, 0, sizeof e);
    e.size = r->size;
    shmipc_bridge *ba = NULL, *bb = NULL;
    shmipc_pubsub_publisher *ping = NULL, *tp = NULL;
    shmipc_pubsub_subscriber *pong = NULL;
    shmipc_reqresp_client *cli = NULL;
    pthread_t th[3];
    int nth = 0;
    if (!payload || !ns)
        goto out;
    memset(payload, 'x', r->size);

    /* plain NATS: a requester and a responder, a publisher and a subscriber */
    if (connect_retry(r->url, r->asap, &n1) != NATS_OK || connect_retry(r->url, r->asap, &n2) != NATS_OK) {
        fprintf(stderr, "shmipc bridge bench: cannot connect to %s\n", r->url);
        goto out;
    }
    if (natsConnection_Subscribe(&echo, n2, "bench.echo", on_echo, NULL) != NATS_OK ||
        natsConnection_Subscribe(&tpn, n2, "bench.tpn", on_count, &ctp) != NATS_OK ||
        natsSubscription_SetPendingLimits(tpn, -1, -1) != NATS_OK || natsConnection_Flush(n2) != NATS_OK)
        goto out;
    r->nats = nats_rtt(n1, payload, r->size, r->count, ns);
    r->tnats = nats_tput(n1, &ctp, payload, r->size, r->tput_count);

    /* through two bridges */
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.payload_size = r->size;
    o.depth = 64;
    int err = shmipc_pubsub_publisher_create("ping", &o, &ping);
    if (!err)
        err = shmipc_pubsub_publisher_create("pong", &o, &e.echo_pub);
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.payload_size = r->size;
    o.depth = 256;
    o.policy = SHMIPC_PUBSUB_WAIT; /* the sender goes at the pace the bridge drains it */
    if (!err)
        err = shmipc_pubsub_publisher_create("tp", &o, &tp);
    /* the far side's service, made before bridge B imports it: WAIT too, so that a slow subscriber holds
     * bridge B's delivery thread (the NATS library's pending buffer takes up the slack) */
    if (!err)
        err = shmipc_pubsub_publisher_create("tp-b", &o, &e.tp_pub);
    shmipc_reqresp_opts ro;
    shmipc_reqresp_opts_init(&ro);
    ro.max_request = (uint32_t)r->size;
    if (!err)
        err = shmipc_reqresp_server_create("echo-srv", &ro, &e.srv);
    if (err) {
        cli_fail("local services", err);
        goto out;
    }
    char size_s[32];
    snprintf(size_s, sizeof size_s, "%zu", r->size);
    char imp_pong[128], imp_ping[128], imp_tp[128], imp_rr[128];
    snprintf(imp_pong, sizeof imp_pong, "import pubsub pong-a subject " SUBJ "pong size %s depth 64", size_s);
    snprintf(imp_ping, sizeof imp_ping, "import pubsub ping-b subject " SUBJ "ping size %s depth 64", size_s);
    snprintf(imp_tp, sizeof imp_tp, "import pubsub tp-b subject " SUBJ "tp size %s depth 256", size_s);
    snprintf(imp_rr, sizeof imp_rr, "import reqresp echo subject bench.rr size %s", size_s);
    static const char exp_ping[] = "export pubsub ping subject " SUBJ "ping",
                      exp_tp[] = "export pubsub tp subject " SUBJ "tp",
                      exp_pong[] = "export pubsub pong subject " SUBJ "pong";
    /* a buffer that holds a whole throughput run: what is measured is how fast it drains, not the
     * overflow policy (which drops what a slower network cannot take: see the stats line) */
    char buffer[32];
    snprintf(buffer, sizeof buffer, "buffer %" PRIu64, r->tput_count + 1024 < (1u << 20) ? r->tput_count + 1024 : 1u << 20);
    const char *routes_a[] = {exp_ping, imp_pong, imp_rr, exp_tp, buffer, NULL};
    const char *routes_b[] = {imp_ping, exp_pong, "export reqresp echo-srv subject bench.rr", imp_tp, buffer, NULL};
    shmipc_bridge_log(NULL);
    if (start_bridge("bench-a", r, routes_a, &ba) || start_bridge("bench-b", r, routes_b, &bb))
        goto out;
    if ((err = sub_retry("pong-a", &pong)) || (err = sub_retry("ping-b", &e.echo_sub)) ||
        (err = sub_retry("tp-b", &e.tp_sub)) || (err = client_retry("echo", &cli))) {
        cli_fail("services of the bridges", err);
        goto out;
    }
    if (pthread_create(&th[nth], NULL, echo_main, &e) == 0)
        nth++;
    if (pthread_create(&th[nth], NULL, server_main, &e) == 0)
        nth++;
    if (pthread_create(&th[nth], NULL, tp_main, &e) == 0)
        nth++;
    if (nth != 3)
        goto out;
    /* handshake: rounds until one comes back (the subscriptions have reached the server), at most 10 s */
    uint64_t deadline = cli_now_ns() + 10000000000u, tag = 1;
    while (ps_round(ping, pong, payload, r->size, tag++, 200) != 0)
        if (cli_now_ns() > deadline || svc_stop) {
            fprintf(stderr, "shmipc bridge bench: no echo through the bridges within 10 s\n");
            goto out;
        }
    char *rbuf = malloc(r->size);
    if (!rbuf)
        goto out;
    while (shmipc_reqresp_client_call(cli, payload, r->size, rbuf, r->size, NULL, 500) < 0)
        if (cli_now_ns() > deadline || svc_stop) {
            fprintf(stderr, "shmipc bridge bench: no answer through the bridges within 10 s\n");
            free(rbuf);
            goto out;
        }

    uint64_t n = 0, lost = 0;
    for (uint64_t i = 0; i < r->count + 100 && !svc_stop; i++) {
        uint64_t t0 = cli_now_ns();
        int e2 = ps_round(ping, pong, payload, r->size, ++tag, 2000);
        uint64_t t1 = cli_now_ns();
        if (e2)
            lost++;
        else if (i >= 100)
            ns[n++] = t1 - t0;
    }
    r->ps = summarize(ns, n, lost);
    n = lost = 0;
    for (uint64_t i = 0; i < r->count + 100 && !svc_stop; i++) {
        uint64_t t0 = cli_now_ns();
        int e2 = shmipc_reqresp_client_call(cli, payload, r->size, rbuf, r->size, NULL, 2000);
        uint64_t t1 = cli_now_ns();
        if (e2 < 0)
            lost++;
        else if (i >= 100)
            ns[n++] = t1 - t0;
    }
    free(rbuf);
    r->rr = summarize(ns, n, lost);

    uint64_t t0 = cli_now_ns();
    for (uint64_t i = 0; i < r->tput_count && !svc_stop; i++)
        shmipc_pubsub_publisher_publish_copy(tp, payload, r->size);
    wait_count(&e.tp, r->tput_count);
    uint64_t got = atomic_load(&e.tp.n), t1 = atomic_load(&e.tp.last_ns);
    double sec = t1 > t0 ? (double)(t1 - t0) / 1e9 : 1e-9;
    r->tbridge = (bench_tput){(double)got / sec, (double)got * (double)r->size / sec / 1e6, r->tput_count, got};
    for (size_t i = 0; i < shmipc_bridge_routes(ba); i++) {
        shmipc_bridge_route_stats st;
        if (shmipc_bridge_route_stats_get(ba, i, &st) == 0 && !strcmp(st.route.service, "tp"))
            r->tp_export = st;
    }
    rc = svc_stop ? CLI_ERR : CLI_OK;
out:
    atomic_store(&e.stop, true);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    shmipc_bridge_stop(ba);
    shmipc_bridge_stop(bb);
    shmipc_reqresp_client_close(cli);
    shmipc_reqresp_server_close(e.srv);
    shmipc_pubsub_subscriber_close(pong);
    shmipc_pubsub_subscriber_close(e.echo_sub);
    shmipc_pubsub_subscriber_close(e.tp_sub);
    shmipc_pubsub_publisher_close(ping);
    shmipc_pubsub_publisher_close(tp);
    shmipc_pubsub_publisher_close(e.echo_pub);
    shmipc_pubsub_publisher_close(e.tp_pub);
    natsSubscription_Destroy(echo);
    natsSubscription_Destroy(tpn);
    natsConnection_Destroy(n1);
    natsConnection_Destroy(n2);
    free(payload);
    free(ns);
    return rc;
}

int cli_cmd_bridge_bench(int argc, char **argv)
{
    const char *server_s = NULL, *count_s = NULL, *size_s = NULL, *tput_s = NULL, *qos_s = NULL;
    bool json = false, batched = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("server", 's', "URL", &server_s,
                      "use this NATS server (default: start nats-server on a free loopback port)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "round trips per measurement (default 2000, plus 100 warm-up)"),
        CLI_OPT_VALUE("size", 'S', "BYTES", &size_s, "payload size (default 64, 8 to 65536)"),
        CLI_OPT_VALUE("messages", 'm', "N", &tput_s, "messages per throughput measurement (default 100000)"),
        CLI_OPT_VALUE("qos", 'q', "QOS", &qos_s, "the bridges' pub/sub: core (default) or jetstream"),
        CLI_OPT_FLAG("batched", 'b', &batched,
                     "let libnats batch writes (send-asap off) in the bridges and the plain NATS clients alike"),
        CLI_OPT_FLAG("json", 'j', &json, "print the figures as JSON"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc bridge bench",
        .summary = "Measure what the NATS bridge adds: round-trip latency and one-way throughput through two bridges\n"
                   "next to plain NATS request/reply and publish/subscribe, in one run, against one server.",
        .details = "Everything runs in this process: two bridges (bench-a, bench-b) with shmipc publishers,\n"
                   "subscribers, a client and a server on both sides, in a private object directory. Without\n"
                   "--server it starts nats-server (from PATH) on a free 127.0.0.1 port and stops it at the end.",
        .opts = opts,
        .min_args = 0,
        .max_args = 0,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    bench_run r = {.qos = "core", .size = 64, .count = 2000, .tput_count = 100000, .asap = !batched};
    uint64_t v;
    if (count_s) {
        if (cli_parse_uint(count_s, 10, 10000000, &v) || v == 0)
            return cli_usage_error(&spec, "bad --count '%s'", count_s);
        r.count = v;
    }
    if (tput_s) {
        if (cli_parse_uint(tput_s, 10, 100000000, &v) || v == 0)
            return cli_usage_error(&spec, "bad --messages '%s'", tput_s);
        r.tput_count = v;
    }
    if (size_s) {
        if (cli_parse_size(size_s, &v) || v < 8 || v > 65536)
            return cli_usage_error(&spec, "bad --size '%s' (8 to 65536 bytes)", size_s);
        r.size = (size_t)v;
    }
    if (qos_s) {
        if (strcmp(qos_s, "core") != 0 && strcmp(qos_s, "jetstream") != 0)
            return cli_usage_error(&spec, "bad --qos '%s' (core or jetstream)", qos_s);
        r.qos = qos_s;
    }
    char dir[] = "/dev/shm/shmipc-bridge-bench-XXXXXX", jsdir[] = "/tmp/shmipc-bridge-bench-js-XXXXXX";
    if (!mkdtemp(dir) && (strcpy(dir, "/tmp/shmipc-bridge-bench-XXXXXX"), !mkdtemp(dir)))
        return cli_fail("mkdtemp", -errno);
    int err = shmipc_segment_set_dir(dir);
    if (err) {
        rmdir(dir);
        return cli_fail(dir, err);
    }
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    char url[64];
    pid_t server = -1;
    bool js = !strcmp(r.qos, "jetstream");
    if (server_s) {
        snprintf(url, sizeof url, "%.60s", server_s);
    } else {
        int port = shmipc__nats_free_port();
        if (js && !mkdtemp(jsdir))
            js = false;
        server = port > 0 ? shmipc__nats_local_start(port, js ? jsdir : NULL) : -1;
        if (server < 0) {
            fprintf(stderr, "shmipc bridge bench: cannot start nats-server\n");
            rm_dir(dir);
            svc_signals_restore(old_sig);
            return CLI_ERR;
        }
        snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    }
    r.url = url;
    rc = run(&r);
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        if (js) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", jsdir);
            if (system(cmd) != 0)
                fprintf(stderr, "shmipc bridge bench: could not remove %s\n", jsdir);
        }
    }
    rm_dir(dir);
    svc_signals_restore(old_sig);
    if (rc != CLI_OK)
        return rc;
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        cli_json_str(&j, "server", server_s ? server_s : "spawned");
        cli_json_str(&j, "qos", r.qos);
        cli_json_uint(&j, "size", r.size);
        cli_json_bool(&j, "send_asap", r.asap);
        cli_json_begin(&j, "round_trip", '{');
        json_lat(&j, "nats_request_reply", &r.nats);
        json_lat(&j, "bridge_pubsub", &r.ps);
        json_lat(&j, "bridge_reqresp", &r.rr);
        cli_json_end(&j, '}');
        cli_json_begin(&j, "throughput", '{');
        json_tput(&j, "nats_pub_sub", &r.tnats);
        json_tput(&j, "bridge_pubsub", &r.tbridge);
        cli_json_end(&j, '}');
        cli_json_end(&j, '}');
        return CLI_OK;
    }
    printf("shmipc bridge bench: %s, qos %s, %zu-byte payloads, %" PRIu64 " round trips, %" PRIu64
           " messages, writes %s\n\n",
           server_s ? server_s : "nats-server started on 127.0.0.1", r.qos, r.size, r.count, r.tput_count,
           r.asap ? "at once (send-asap)" : "batched by libnats");
    printf("  %-40s %12s %12s %12s   %s\n", "round trip", "p50", "p99", "mean", "p50 vs NATS");
    print_lat("plain NATS request/reply", &r.nats, NULL);
    print_lat("pub/sub through two bridges", &r.ps, &r.nats);
    print_lat("request/response through two bridges", &r.rr, &r.nats);
    printf("\n  added by the bridges (p50, per round trip, each crossing bridge A and B once each way):\n"
           "    pub/sub %.1f us, request/response %.1f us; %.1f us and %.1f us per bridge crossing\n\n",
           r.ps.p50 - r.nats.p50, r.rr.p50 - r.nats.p50, (r.ps.p50 - r.nats.p50) / 4, (r.rr.p50 - r.nats.p50) / 4);
    printf("  %-40s %12s %9s %9s   %s\n", "one-way throughput", "msgs/s", "MB/s", "lost", "vs NATS");
    print_tput("plain NATS publish -> subscribe", &r.tnats, NULL);
    print_tput("shmipc -> bridge -> NATS -> bridge -> shmipc", &r.tbridge, &r.tnats);
    printf("    (bridge A's export: %" PRIu64 " received, %" PRIu64 " forwarded, %" PRIu64 " dropped by its buffer)\n",
           r.tp_export.received, r.tp_export.forwarded, r.tp_export.dropped);
    return CLI_OK;
}
#endif
