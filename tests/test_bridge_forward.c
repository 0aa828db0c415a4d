/* SPDX-License-Identifier: MIT */
/*
 * tests/test_bridge_forward.c - what the NATS bridge forwards, against a real nats-server (started on a
 * free loopback port; the test skips without one): request/response calls and streams through an import
 * and an export, a call with no server anywhere, event notifications with their counts, publish/subscribe
 * exported and imported by two bridges on one subject with no sample looping back, the history replayed
 * by a restarted export dropped as duplicates far away, and a second bridge of one name refused while the
 * first runs. Two bridges with different names in this process stand for two hosts; their services
 * differ by name. Every wait is a handshake with a deadline (an answer, a sample, a figure).
 */
#include "bridge_internal.h"
#include "helpers.h"
#include "nats_local.h"

#include <shmipc/shmipc.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char url[64];
static pid_t server = -1;
static char dir[] = "/dev/shm/shmipc-test-bridge-XXXXXX";

static int server_answers(void *arg)
{
    (void)arg;
    natsConnection *nc = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, url);
    natsConnection_Destroy(nc);
    return s == NATS_OK;
}

/* ---- bridges ------------------------------------------------------------------------------------------ */

static shmipc_bridge *bridge(const char *name, const char *const *lines)
{
    shmipc_bridge_config *cfg;
    assert_int_equal(shmipc_bridge_config_new(&cfg), 0);
    char l[300];
    snprintf(l, sizeof l, "name %s", name);
    assert_int_equal(shmipc_bridge_config_directive(cfg, l), 0);
    snprintf(l, sizeof l, "server %s", url);
    assert_int_equal(shmipc_bridge_config_directive(cfg, l), 0);
    for (size_t i = 0; lines[i]; i++)
        if (shmipc_bridge_config_directive(cfg, lines[i]) != 0)
            fail_msg("'%s': %s", lines[i], shmipc_bridge_config_error(cfg));
    shmipc_bridge *b = NULL;
    int err = shmipc_bridge_start(cfg, &b);
    if (err)
        fail_msg("start %s: %s %s", name, shmipc_bridge_config_error(cfg), shmipc_strerror(err));
    shmipc_bridge_config_free(cfg);
    return b;
}

static int all_active(void *arg)
{
    shmipc_bridge *b = arg;
    shmipc_bridge_stats st;
    if (shmipc_bridge_stats_get(b, &st) || !st.connected)
        return 0;
    for (size_t i = 0; i < shmipc_bridge_routes(b); i++) {
        shmipc_bridge_route_stats rs;
        if (shmipc_bridge_route_stats_get(b, i, &rs) || !rs.active)
            return 0;
    }
    return 1;
}

static shmipc_bridge_route_stats route(shmipc_bridge *b, size_t i)
{
    shmipc_bridge_route_stats rs;
    assert_int_equal(shmipc_bridge_route_stats_get(b, i, &rs), 0);
    return rs;
}

/* ---- request/response --------------------------------------------------------------------------------- */

typedef struct rr_server {
    shmipc_reqresp_server *srv;
    atomic_bool stop;
} rr_server;

/* Echo each request; "stream N" is answered with N responses "part I", all but the last with MORE. */
static void *rr_serve(void *arg)
{
    rr_server *s = arg;
    char buf[256];
    while (!atomic_load(&s->stop)) {
        shmipc_reqresp_request_info info;
        int n = shmipc_reqresp_server_receive(s->srv, &info, buf, sizeof buf - 1, 50);
        if (n < 0)
            continue;
        buf[n] = '\0';
        int parts;
        if (sscanf(buf, "stream %d", &parts) == 1) {
            for (int i = 1; i <= parts; i++) {
                char part[32];
                int len = snprintf(part, sizeof part, "part %d", i);
                shmipc_reqresp_server_respond(s->srv, &info, part, (size_t)len, i < parts ? SHMIPC_RR_MORE : 0, 1000);
            }
        } else {
            shmipc_reqresp_server_respond(s->srv, &info, buf, (size_t)n, 0, 1000);
        }
    }
    return NULL;
}

static void reqresp_calls_and_streams_cross_two_bridges(void **state)
{
    (void)state;
    rr_server s = {0};
    assert_int_equal(shmipc_reqresp_server_create("rr-back", NULL, &s.srv), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, rr_serve, &s), 0);
    const char *front[] = {"import reqresp rr-front subject t.rr", NULL};
    const char *back[] = {"export reqresp rr-back subject t.rr", NULL};
    shmipc_bridge *bf = bridge("front", front), *bb = bridge("back", back);
    assert_int_equal(test_until(all_active, bf, 10000), 0);
    shmipc_reqresp_client *cli;
    assert_int_equal(shmipc_reqresp_client_open("rr-front", NULL, &cli), 0);
    /* handshake: the first calls may go before the export's subscription reached the server */
    char resp[64];
    uint64_t deadline = test_now_ms() + 10000;
    int n;
    while ((n = shmipc_reqresp_client_call(cli, "hello", 5, resp, sizeof resp, NULL, 300)) < 0)
        if (test_now_ms() > deadline)
            fail_msg("no answer through the bridges: %s", shmipc_strerror(n));
    assert_int_equal(n, 5);
    assert_memory_equal(resp, "hello", 5);
    /* a stream: every part, in order, the last without MORE */
    shmipc_reqresp_response_info info;
    n = shmipc_reqresp_client_call(cli, "stream 4", 8, resp, sizeof resp, &info, 5000);
    assert_int_equal(n, 6);
    assert_memory_equal(resp, "part 1", 6);
    assert_true(info.flags & SHMIPC_RR_MORE);
    for (int i = 2; i <= 4; i++) {
        n = shmipc_reqresp_client_receive(cli, &info, resp, sizeof resp, 5000);
        assert_int_equal(n, 6);
        char want[8];
        snprintf(want, sizeof want, "part %d", i);
        assert_memory_equal(resp, want, 6);
        assert_int_equal(!!(info.flags & SHMIPC_RR_MORE), i < 4);
    }
    shmipc_bridge_route_stats f = route(bf, 0), k = route(bb, 0);
    assert_true(f.forwarded >= 2);
    assert_true(k.forwarded >= 2);
    shmipc_reqresp_client_close(cli);
    shmipc_bridge_stop(bf);
    shmipc_bridge_stop(bb);
    atomic_store(&s.stop, true);
    pthread_join(th, NULL);
    shmipc_reqresp_server_close(s.srv);
}

static int dropped_some(void *arg)
{
    shmipc_bridge_route_stats rs;
    return shmipc_bridge_route_stats_get(arg, 0, &rs) == 0 && rs.dropped > 0;
}

static void reqresp_with_no_server_anywhere_times_out(void **state)
{
    (void)state;
    const char *lines[] = {"import reqresp rr-none subject t.none", "request-timeout 300", NULL};
    shmipc_bridge *b = bridge("lonely", lines);
    assert_int_equal(test_until(all_active, b, 10000), 0);
    shmipc_reqresp_client *cli;
    assert_int_equal(shmipc_reqresp_client_open("rr-none", NULL, &cli), 0);
    char resp[16];
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_reqresp_client_call(cli, "x", 1, resp, sizeof resp, NULL, 1000), -ETIMEDOUT);
    assert_true(test_now_ms() - t0 >= 900); /* the client's own timeout ended it: no false answer */
    /* the bridge counted it lost ("no responders", or its request-timeout) */
    assert_int_equal(test_until(dropped_some, b, 5000), 0);
    shmipc_reqresp_client_close(cli);
    shmipc_bridge_stop(b);
}

/* ---- events ------------------------------------------------------------------------------------------- */

static void events_cross_with_their_counts(void **state)
{
    (void)state;
    shmipc_evsvc_notifier *nt;
    assert_int_equal(shmipc_evsvc_notifier_create("ev-src", NULL, &nt), 0);
    const char *out[] = {"export event ev-src subject t.ev", NULL};
    const char *in[] = {"import event ev-dst subject t.ev events 16", NULL};
    shmipc_bridge *bo = bridge("ev-out", out), *bi = bridge("ev-in", in);
    assert_int_equal(test_until(all_active, bo, 10000), 0);
    assert_int_equal(test_until(all_active, bi, 10000), 0);
    shmipc_evsvc_listener *l;
    assert_int_equal(shmipc_evsvc_listener_open("ev-dst", NULL, &l), 0);
    /* handshake: notify event 3 until the far listener sees it */
    uint64_t deadline = test_now_ms() + 10000;
    uint32_t id = 0;
    int n;
    do {
        if (test_now_ms() > deadline)
            fail_msg("no event through the bridges");
        shmipc_evsvc_notifier_notify(nt, 3);
        n = shmipc_evsvc_listener_wait(l, 100, &id);
    } while (n <= 0);
    assert_int_equal(id, 3);
    while (shmipc_evsvc_listener_wait(l, 200, &id) > 0) /* late handshake notifications */
        assert_int_equal(id, 3);
    /* seven notifications of event 5 arrive as seven, whatever the coalescing on the way */
    for (int i = 0; i < 7; i++)
        assert_int_equal(shmipc_evsvc_notifier_notify(nt, 5), 0);
    int total = 0;
    deadline = test_now_ms() + 5000;
    while (total < 7 && test_now_ms() < deadline) {
        n = shmipc_evsvc_listener_wait(l, 200, &id);
        if (n > 0) {
            assert_int_equal(id, 5);
            total += n;
        }
    }
    assert_int_equal(total, 7);
    assert_int_equal(shmipc_evsvc_listener_wait(l, 200, &id), -ETIMEDOUT);
    /* an id the far service does not have (16 events) is dropped there and counted */
    assert_int_equal(shmipc_evsvc_notifier_notify(nt, 40), 0);
    assert_int_equal(test_until(dropped_some, bi, 5000), 0);
    assert_true(route(bi, 0).errors >= 1);
    shmipc_evsvc_listener_close(l);
    shmipc_bridge_stop(bo);
    shmipc_bridge_stop(bi);
    shmipc_evsvc_notifier_close(nt);
}

/* ---- publish/subscribe -------------------------------------------------------------------------------- */

/* Take every sample that comes within ms of the last (for 10 s at most); mark its number ("X:N") in
 * seen[side][N], count duplicates. Returns whether marker was seen (and stops there). */
static int drain(shmipc_pubsub_subscriber *sub, int ms, int seen[2][64], int *dups, const char *marker)
{
    int found = 0;
    shmipc_pubsub_sample s;
    uint64_t deadline = test_now_ms() + 10000; /* an echo loop would never let it rest */
    while (test_now_ms() < deadline && shmipc_pubsub_subscriber_receive(sub, &s, ms) == 0) {
        char text[32] = "";
        memcpy(text, s.data, s.size < sizeof text - 1 ? s.size : sizeof text - 1);
        shmipc_pubsub_subscriber_release(sub, &s);
        char side;
        int num;
        if (marker && !strcmp(text, marker))
            found = 1;
        else if (sscanf(text, "%c:%d", &side, &num) == 2 && (side == 'a' || side == 'b') && num >= 0 && num < 64) {
            if (seen[side - 'a'][num]++)
                (*dups)++;
        }
        if (found)
            break;
    }
    return found;
}

static void publish(shmipc_pubsub_publisher *p, const char *text)
{
    assert_true(shmipc_pubsub_publisher_publish_copy(p, text, strlen(text)) >= 0);
}

/* Publish probes on p until sub has seen one (the path is up), within 10 s. */
static void probe(shmipc_pubsub_publisher *p, shmipc_pubsub_subscriber *sub, const char *what)
{
    uint64_t deadline = test_now_ms() + 10000;
    shmipc_pubsub_sample s;
    for (;;) {
        publish(p, what);
        if (shmipc_pubsub_subscriber_receive(sub, &s, 100) == 0) {
            shmipc_pubsub_subscriber_release(sub, &s);
            break;
        }
        if (test_now_ms() > deadline)
            fail_msg("no %s through the bridges", what);
    }
}

static void pubsub_both_ways_without_echo(void **state)
{
    (void)state;
    /* chat-a and chat-b stand for one service "chat" on two hosts: each bridge exports and imports its
     * host's copy on one subject */
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.payload_size = 64;
    o.depth = 64;
    shmipc_pubsub_publisher *pa, *pb;
    assert_int_equal(shmipc_pubsub_publisher_create("chat-a", &o, &pa), 0);
    assert_int_equal(shmipc_pubsub_publisher_create("chat-b", &o, &pb), 0);
    shmipc_pubsub_subscriber *sa, *sb;
    assert_int_equal(shmipc_pubsub_subscriber_open("chat-a", NULL, &sa), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open("chat-b", NULL, &sb), 0);
    const char *la[] = {"export pubsub chat-a subject t.chat", "import pubsub chat-a subject t.chat", NULL};
    const char *lb[] = {"export pubsub chat-b subject t.chat", "import pubsub chat-b subject t.chat", NULL};
    shmipc_bridge *ba = bridge("host-a", la), *bb = bridge("host-b", lb);
    assert_int_equal(test_until(all_active, ba, 10000), 0);
    assert_int_equal(test_until(all_active, bb, 10000), 0);
    probe(pa, sb, "probe-a");
    probe(pb, sa, "probe-b");
    /* what the probes left (their local copies, late ones): drained until a fence from each side */
    int seen_a[2][64] = {{0}}, seen_b[2][64] = {{0}}, dups_a = 0, dups_b = 0;
    publish(pa, "fence-a0");
    publish(pb, "fence-b0");
    assert_true(drain(sa, 5000, seen_a, &dups_a, "fence-b0"));
    assert_true(drain(sb, 5000, seen_b, &dups_b, "fence-a0"));
    for (int i = 0; i < 20; i++) {
        char t[16];
        snprintf(t, sizeof t, "a:%d", i);
        publish(pa, t);
        snprintf(t, sizeof t, "b:%d", i);
        publish(pb, t);
    }
    /* a last fence from each side: anything echoed back would come before it on the same path */
    publish(pa, "fence-a1");
    publish(pb, "fence-b1");
    assert_true(drain(sa, 5000, seen_a, &dups_a, "fence-b1"));
    assert_true(drain(sb, 5000, seen_b, &dups_b, "fence-a1"));
    drain(sa, 300, seen_a, &dups_a, NULL);
    drain(sb, 300, seen_b, &dups_b, NULL);
    assert_int_equal(dups_a, 0);
    assert_int_equal(dups_b, 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(seen_a[0][i], 1); /* a's own, locally */
        assert_int_equal(seen_a[1][i], 1); /* b's, through the bridges */
        assert_int_equal(seen_b[0][i], 1);
        assert_int_equal(seen_b[1][i], 1);
    }
    shmipc_bridge_stop(ba);
    shmipc_bridge_stop(bb);
    shmipc_pubsub_subscriber_close(sa);
    shmipc_pubsub_subscriber_close(sb);
    shmipc_pubsub_publisher_close(pa);
    shmipc_pubsub_publisher_close(pb);
}

static int four_duplicates(void *arg)
{
    shmipc_bridge_route_stats rs;
    return shmipc_bridge_route_stats_get(arg, 0, &rs) == 0 && rs.duplicates >= 4;
}

static void history_replayed_by_a_restarted_export_is_dropped_far_away(void **state)
{
    (void)state;
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.payload_size = 64;
    o.depth = 8;
    o.history = 4;
    shmipc_pubsub_publisher *p;
    assert_int_equal(shmipc_pubsub_publisher_create("hist", &o, &p), 0);
    const char *le[] = {"export pubsub hist subject t.hist", NULL};
    const char *li[] = {"import pubsub hist-far subject t.hist", NULL};
    shmipc_bridge *bi = bridge("hist-in", li), *be = bridge("hist-out", le);
    assert_int_equal(test_until(all_active, bi, 10000), 0);
    assert_int_equal(test_until(all_active, be, 10000), 0);
    shmipc_pubsub_subscriber *far;
    assert_int_equal(shmipc_pubsub_subscriber_open("hist-far", NULL, &far), 0);
    probe(p, far, "probe");
    int seen[2][64] = {{0}}, dups = 0;
    publish(p, "a:0");
    publish(p, "a:1");
    publish(p, "a:2");
    publish(p, "fence");
    assert_true(drain(far, 5000, seen, &dups, "fence"));
    uint64_t dup0 = route(bi, 0).duplicates;
    /* the export restarts: its new subscriber gets the last 4 samples again and exports them again */
    shmipc_bridge_stop(be);
    be = bridge("hist-out", le);
    assert_int_equal(test_until(four_duplicates, bi, 10000), 0);
    assert_int_equal(route(bi, 0).duplicates - dup0, 4);
    publish(p, "a:3");
    publish(p, "fence2");
    assert_true(drain(far, 5000, seen, &dups, "fence2"));
    assert_int_equal(dups, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen[0][i], 1);
    shmipc_bridge_stop(be);
    shmipc_bridge_stop(bi);
    shmipc_pubsub_subscriber_close(far);
    shmipc_pubsub_publisher_close(p);
}

static void a_second_bridge_of_one_name_is_refused(void **state)
{
    (void)state;
    const char *lines[] = {"import pubsub only-one subject t.one", NULL};
    shmipc_bridge *b = bridge("twin", lines);
    shmipc_bridge_config *cfg;
    assert_int_equal(shmipc_bridge_config_new(&cfg), 0);
    char l[128];
    snprintf(l, sizeof l, "server %s", url);
    assert_int_equal(shmipc_bridge_config_directive(cfg, l), 0);
    assert_int_equal(shmipc_bridge_config_directive(cfg, "name twin"), 0);
    assert_int_equal(shmipc_bridge_config_directive(cfg, lines[0]), 0);
    shmipc_bridge *twin = NULL;
    assert_int_equal(shmipc_bridge_start(cfg, &twin), -EBUSY);
    assert_null(twin);
    shmipc_bridge_stop(b);
    /* once the first has gone, the name is free again (its state is kept for it) */
    assert_int_equal(shmipc_bridge_start(cfg, &twin), 0);
    shmipc_bridge_stop(twin);
    shmipc_bridge_config_free(cfg);
}

/* ---- the server --------------------------------------------------------------------------------------- */

static int have_nats_server(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/usr/sbin");
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char f[4200];
        snprintf(f, sizeof f, "%s/nats-server", d);
        if (access(f, X_OK) == 0)
            return 1;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    int port = shmipc__nats_free_port();
    if (port <= 0 || !mkdtemp(dir) || shmipc_segment_set_dir(dir) != 0)
        return -1;
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    server = shmipc__nats_local_start(port, NULL);
    shmipc_bridge_log(getenv("SHMIPC_TEST_VERBOSE") ? stderr : NULL);
    return server > 0 && test_until(server_answers, NULL, 10000) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    if (!have_nats_server()) {
        printf("SKIP: no nats-server in PATH (Debian: apt-get install nats-server)\n");
        return TEST_SKIP_RC;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reqresp_calls_and_streams_cross_two_bridges),
        cmocka_unit_test(reqresp_with_no_server_anywhere_times_out),
        cmocka_unit_test(events_cross_with_their_counts),
        cmocka_unit_test(pubsub_both_ways_without_echo),
        cmocka_unit_test(history_replayed_by_a_restarted_export_is_dropped_far_away),
        cmocka_unit_test(a_second_bridge_of_one_name_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
