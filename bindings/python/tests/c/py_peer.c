/* SPDX-License-Identifier: MIT */
/*
 * bindings/python/tests/c/py_peer.c - the C side of the Python binding's tests, built against the shared
 * library like a user's program: each mode plays one role of a service, prints "ready" once it is
 * registered (the handshake the tests wait for) and reports what it saw on stdout, one line per item.
 *
 *   py_peer rr-server NAME          serve: answer each request with its bytes reversed; "quit" ends it
 *   py_peer rr-client NAME MSG...   call with each MSG, print each response; "error ENAME" on failure
 *   py_peer bb-writer NAME SIZE     write each line of stdin as the value of key 0 (zero-padded), print "ok"
 *   py_peer bb-reader NAME          wait for a value above version 0, print "VERSION TEXT"
 *   py_peer ev-listen NAME N        print "event ID COUNT" until N notifications were counted
 *   py_peer ev-notify NAME ID N     notify ID N times
 *   py_peer ps-pub NAME N SUBS      fixed-size service of 16 uint32: once SUBS subscribers are connected,
 *                                   publish N samples by loan, sample i holding i*16 .. i*16+15
 *   py_peer ps-sub NAME N           receive N samples zero-copy, print "SEQ FIRST LAST SIZE" for each
 * Exit status: 0 done, 1 a call failed (its error name printed), 2 usage.
 */
#include <shmipc/shmipc.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *what, int rc)
{
    printf("error %s %s\n", shmipc_errname(rc), what);
    fflush(stdout);
    return 1;
}

static void ready(void)
{
    printf("ready\n");
    fflush(stdout);
}

static int rr_server(const char *name)
{
    shmipc_reqresp_server *srv;
    int rc = shmipc_reqresp_server_create(name, NULL, &srv);
    if (rc)
        return fail("server_create", rc);
    ready();
    char buf[4096], out[4096];
    for (;;) {
        shmipc_reqresp_request_info info;
        int n = shmipc_reqresp_server_receive(srv, &info, buf, sizeof buf, -1);
        if (n < 0) {
            shmipc_reqresp_server_close(srv);
            return fail("server_receive", n);
        }
        int quit = n == 4 && !memcmp(buf, "quit", 4);
        for (int i = 0; i < n; i++)
            out[i] = buf[n - 1 - i];
        rc = shmipc_reqresp_server_respond(srv, &info, quit ? "bye" : out, quit ? 3 : (size_t)n, 0, -1);
        if (rc && rc != -ENOTCONN) {
            shmipc_reqresp_server_close(srv);
            return fail("server_respond", rc);
        }
        if (quit)
            break;
    }
    shmipc_reqresp_server_close(srv);
    return 0;
}

static int rr_client(const char *name, int argc, char **argv)
{
    shmipc_reqresp_client *cli;
    int rc = shmipc_reqresp_client_open(name, NULL, &cli);
    if (rc)
        return fail("client_open", rc);
    ready();
    char buf[4096];
    for (int i = 0; i < argc; i++) {
        int n = shmipc_reqresp_client_call(cli, argv[i], strlen(argv[i]), buf, sizeof buf - 1, NULL, 30000);
        if (n < 0) {
            shmipc_reqresp_client_close(cli);
            return fail("client_call", n);
        }
        printf("%.*s\n", n, buf);
        fflush(stdout);
    }
    shmipc_reqresp_client_close(cli);
    return 0;
}

static int bb_writer(const char *name, unsigned size)
{
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = size;
    shmipc_blackboard_writer *w;
    int rc = shmipc_blackboard_writer_create(name, &o, &w);
    if (rc)
        return fail("writer_create", rc);
    ready();
    char line[4096], *val = calloc(1, size);
    while (val && fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\n");
        memset(val, 0, size);
        memcpy(val, line, n < size ? n : size);
        rc = shmipc_blackboard_write(w, 0, val, size);
        if (rc)
            break;
        printf("ok\n");
        fflush(stdout);
    }
    free(val);
    shmipc_blackboard_writer_close(w);
    return rc ? fail("write", rc) : 0;
}

static int bb_reader(const char *name)
{
    shmipc_blackboard_reader *r;
    int rc = shmipc_blackboard_reader_open(name, NULL, &r);
    if (rc)
        return fail("reader_open", rc);
    ready();
    char buf[4096] = {0};
    uint64_t ver = 0;
    rc = shmipc_blackboard_wait(r, 0, 0, 30000);
    int n = rc ? rc : shmipc_blackboard_read(r, 0, buf, sizeof buf - 1, &ver);
    shmipc_blackboard_reader_close(r);
    if (n < 0)
        return fail("read", n);
    printf("%llu %s\n", (unsigned long long)ver, buf);
    return 0;
}

static int ev_listen(const char *name, long want)
{
    shmipc_evsvc_listener *l;
    int rc = shmipc_evsvc_listener_open(name, NULL, &l);
    if (rc)
        return fail("listener_open", rc);
    ready();
    for (long got = 0; got < want;) {
        uint32_t id;
        int n = shmipc_evsvc_listener_wait(l, 30000, &id);
        if (n < 0) {
            shmipc_evsvc_listener_close(l);
            return fail("listener_wait", n);
        }
        got += n;
        printf("event %u %d\n", id, n);
        fflush(stdout);
    }
    shmipc_evsvc_listener_close(l);
    return 0;
}

static int ev_notify(const char *name, unsigned id, long count)
{
    shmipc_evsvc_notifier *n;
    int rc = shmipc_evsvc_notifier_create(name, NULL, &n);
    if (rc)
        return fail("notifier_create", rc);
    for (long i = 0; i < count && !rc; i++)
        rc = shmipc_evsvc_notifier_notify(n, id);
    shmipc_evsvc_notifier_close(n);
    return rc ? fail("notify", rc) : 0;
}

static const shmipc_type_info peer_type = {.name = "py_peer_u32x16", .size = 64, .align = 4};

static int ps_pub(const char *name, long count, unsigned subs)
{
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.type = peer_type;
    o.policy = SHMIPC_PUBSUB_WAIT;
    o.depth = 4;
    shmipc_pubsub_publisher *pub;
    int rc = shmipc_pubsub_publisher_create(name, &o, &pub);
    if (rc)
        return fail("publisher_create", rc);
    ready();
    /* Handshake: the service's live participants are this publisher and SUBS subscribers. */
    static shmipc_service_info info;
    for (int tries = 0;; tries++) {
        rc = shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &info);
        if (rc == 0 && info.participants - info.dead >= 1 + subs)
            break;
        if (tries > 30000) {
            shmipc_pubsub_publisher_close(pub);
            return fail("subscribers never came", -ETIMEDOUT);
        }
        struct timespec pause = {0, 1000000}; /* poll interval of the condition, 1 ms */
        nanosleep(&pause, NULL);
    }
    for (long i = 0; i < count; i++) {
        void *p;
        rc = shmipc_pubsub_publisher_loan(pub, 0, &p);
        if (rc)
            break;
        uint32_t *v = p;
        for (uint32_t k = 0; k < 16; k++)
            v[k] = (uint32_t)i * 16u + k;
        rc = shmipc_pubsub_publisher_publish(pub, p, 0);
        if (rc < 0)
            break;
        rc = 0;
    }
    shmipc_pubsub_publisher_close(pub);
    return rc ? fail("publish", rc) : 0;
}

static int ps_sub(const char *name, long count)
{
    shmipc_pubsub_subscriber *sub;
    int rc = shmipc_pubsub_subscriber_open(name, NULL, &sub);
    if (rc)
        return fail("subscriber_open", rc);
    ready();
    for (long i = 0; i < count; i++) {
        shmipc_pubsub_sample s;
        rc = shmipc_pubsub_subscriber_receive(sub, &s, 30000);
        if (rc)
            break;
        const unsigned char *b = s.data;
        printf("%llu %u %u %zu\n", (unsigned long long)s.sequence, s.size ? b[0] : 0u,
               s.size ? b[s.size - 1] : 0u, s.size);
        fflush(stdout);
        shmipc_pubsub_subscriber_release(sub, &s);
    }
    shmipc_pubsub_subscriber_close(sub);
    return rc ? fail("receive", rc) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1], *name = argv[2];
    if (!strcmp(mode, "rr-server"))
        return rr_server(name);
    if (!strcmp(mode, "rr-client"))
        return rr_client(name, argc - 3, argv + 3);
    if (!strcmp(mode, "bb-writer") && argc == 4)
        return bb_writer(name, (unsigned)strtoul(argv[3], NULL, 10));
    if (!strcmp(mode, "bb-reader"))
        return bb_reader(name);
    if (!strcmp(mode, "ev-listen") && argc == 4)
        return ev_listen(name, strtol(argv[3], NULL, 10));
    if (!strcmp(mode, "ev-notify") && argc == 5)
        return ev_notify(name, (unsigned)strtoul(argv[3], NULL, 10), strtol(argv[4], NULL, 10));
    if (!strcmp(mode, "ps-pub") && argc == 5)
        return ps_pub(name, strtol(argv[3], NULL, 10), (unsigned)strtoul(argv[4], NULL, 10));
    if (!strcmp(mode, "ps-sub") && argc == 4)
        return ps_sub(name, strtol(argv[3], NULL, 10));
    return 2;
}
