/* SPDX-License-Identifier: MIT */
/*
 * tests/test_reqresp_hostile.c - no word in a request/response service's shared memory can hold a call
 * past its timeout. A scribbler process writes live owner ids (its own and the caller's), free/closed
 * markers, garbage indices and counters into the server word, the epoch, the server's notify word, the
 * participant table and, per client slot, the generation, req_base, both connections' indices, notify
 * words and first entries, while the caller's receives, sends, responds and calls with 100 ms timeouts
 * run: each must return, with any result, within the timeout plus two wait slices. A peer that refills a
 * connection with stale entries faster than they are dropped cannot hold a receive either. Then peers
 * stopped with SIGSTOP (a server that took a request, a client that stopped reading responses): the
 * other side's calls time out, and once the stopped peer is killed they fail (-EPIPE, -ENOTCONN)
 * within the same bound.
 */
#include "hostile.h"
#include "reqresp/reqresp_internal.h"

#include <shmipc/reqresp.h>

#include <sys/time.h>

#define ROUNDS 6
#define DEPTH 4

static void rr_name(char *buf, size_t cap, const char *tag)
{
    test_name(buf, cap, tag);
    memmove(buf, buf + 1, strlen(buf)); /* a service name has no leading '/' */
}

static const shmipc_reqresp_opts hostile_opts = {.size = sizeof hostile_opts, .max_request = 64, .depth = DEPTH, .max_clients = 3};

typedef struct rr_set {
    char name[96];
    shmipc_reqresp_server *s;
    shmipc_reqresp_client *idle;      /* nothing pending: its receive waits */
    shmipc_reqresp_client *full_req;  /* request connection full: its send waits */
    shmipc_reqresp_client *full_resp; /* response connection full: respond to it waits */
    shmipc_reqresp_request_info ri;   /* a request of full_resp's */
    shmipc__svc view;
    shmipc__rr_geom g;
} rr_set;

static void set_up(rr_set *t, const char *tag)
{
    rr_name(t->name, sizeof t->name, tag);
    assert_int_equal(shmipc_reqresp_server_create(t->name, &hostile_opts, &t->s), 0);
    assert_int_equal(shmipc_reqresp_client_open(t->name, NULL, &t->idle), 0);
    assert_int_equal(shmipc_reqresp_client_open(t->name, NULL, &t->full_resp), 0);
    assert_int_equal(shmipc_reqresp_client_send(t->full_resp, "r", 1, NULL, 0), 0);
    char buf[64];
    assert_int_equal(shmipc_reqresp_server_receive(t->s, &t->ri, buf, sizeof buf, 0), 1);
    for (int i = 0; i < DEPTH; i++)
        assert_int_equal(shmipc_reqresp_server_respond(t->s, &t->ri, "x", 1, SHMIPC_RR_MORE, 0), 0);
    assert_int_equal(shmipc_reqresp_server_respond(t->s, &t->ri, "x", 1, 0, 0), -EAGAIN);
    assert_int_equal(shmipc_reqresp_client_open(t->name, NULL, &t->full_req), 0);
    for (int i = 0; i < DEPTH; i++)
        assert_int_equal(shmipc_reqresp_client_send(t->full_req, "q", 1, NULL, 0), 0);
    assert_int_equal(shmipc_reqresp_client_send(t->full_req, "q", 1, NULL, 0), -EAGAIN);
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_REQRESP, t->name, NULL, 0, &t->view), 0);
    const shmipc__rr_hdr *h = t->view.pattern_area;
    assert_int_equal(shmipc__rr_geom_make(&t->g, h->depth, h->max_request, h->max_response, h->max_clients), 0);
}

static void tear_down(rr_set *t)
{
    shmipc__svc_close(&t->view);
    shmipc_reqresp_client_close(t->idle);
    shmipc_reqresp_client_close(t->full_req);
    shmipc_reqresp_client_close(t->full_resp);
    shmipc_reqresp_server_close(t->s);
    shmipc_reqresp_unlink(t->name);
}

static void calls(rr_set *t)
{
    int last_result = 0;
    char buf[64];
    shmipc_reqresp_request_info ri;
    shmipc_reqresp_response_info info;
    for (int i = 0; i < ROUNDS; i++) {
        /* Receive drains what is pending first: a request taken is answered so the next one waits. */
        HOSTILE_CALL("server receive", shmipc_reqresp_server_receive(t->s, &ri, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        if (last_result >= 0)
            HOSTILE_CALL("server respond (taken)",
                         shmipc_reqresp_server_respond(t->s, &ri, "a", 1, 0, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("server respond (full)",
                     shmipc_reqresp_server_respond(t->s, &t->ri, "x", 1, 0, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("client receive",
                     shmipc_reqresp_client_receive(t->idle, &info, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("client send (full)", shmipc_reqresp_client_send(t->full_req, "q", 1, NULL, HOSTILE_TIMEOUT_MS));
        HOSTILE_CALL("client call",
                     shmipc_reqresp_client_call(t->idle, "c", 1, buf, sizeof buf, &info, HOSTILE_TIMEOUT_MS));
    }
}

static void scribbled(bool indices)
{
    rr_set t;
    set_up(&t, indices ? "host-rr-all" : "host-rr-own");
    size_t pa = (size_t)((char *)t.view.pattern_area - (char *)t.view.hdr);
    const char *names[] = {t.view.segname};
    hostile_word words[160];
    size_t nw = 0;
    /* Live ids only while the indices are left alone (the calls then wait for peers that seem to live:
     * the deadline is what ends them); any owner value when everything is scribbled. */
    int owner = indices ? HW_OWNER : HW_LIVE;
    words[nw++] = (hostile_word){0, pa + offsetof(shmipc__rr_hdr, server), owner, 0};
    for (uint32_t i = 0; i < t.view.nparts; i++) {
        size_t part = SHMIPC_SVC_HDR_SIZE + (size_t)i * sizeof(shmipc__participant);
        words[nw++] = (hostile_word){0, part + offsetof(shmipc__participant, owner), owner, 0};
        words[nw++] = (hostile_word){0, part + offsetof(shmipc__participant, reclaimer), owner, 0};
    }
    words[nw++] = (hostile_word){0, pa + offsetof(shmipc__rr_hdr, srv_notify), HW_INDEX, 0};
    for (uint32_t i = 0; i < t.g.nareas; i++) {
        size_t area = pa + t.g.area_off + (size_t)i * t.g.area_size;
        size_t conns[2] = {area + t.g.req_conn_off, area + t.g.resp_conn_off};
        for (unsigned k = 0; k < 2; k++) {
            words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, data), HW_INDEX, 0};
            words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, space), HW_INDEX, 0};
            words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, dropped), HW_INDEX, 0};
            if (indices) {
                words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, head), HW_INDEX, 0};
                words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, tail), HW_INDEX, 0};
                words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, ring), HW_INDEX, 0};
                words[nw++] = (hostile_word){0, conns[k] + offsetof(shmipc__conn, ring) + 8, HW_INDEX, 0};
            }
        }
        if (indices) {
            words[nw++] = (hostile_word){0, area + offsetof(shmipc__rr_ctl, gen), HW_INDEX, 0};
            words[nw++] = (hostile_word){0, area + offsetof(shmipc__rr_ctl, req_base), HW_INDEX, 0};
            words[nw++] = (hostile_word){0, pa + offsetof(shmipc__rr_hdr, epoch), HW_INDEX, 0};
        }
    }
    assert_true(nw <= SHMIPC_ARRAY_LEN(words));
    pid_t scrib = hostile_start(names, 1, words, nw);
    calls(&t);
    hostile_stop(scrib);
    tear_down(&t);
}

static void scribbled_owner_words(void **state)
{
    (void)state;
    scribbled(false);
}

static void scribbled_every_word(void **state)
{
    (void)state;
    scribbled(true);
}

/* ------------------------------------------------------------------ connections flooded with stale entries */

/*
 * The hostile peer: keeps `depth` entries ahead of its consumer stamped as published (and the head there). It runs from a signal
 * handler fired every 200 us (ITIMER_REAL) in the consumer's own thread, so it refills the connection
 * however loaded the machine is: a consumer that drained until empty in one call (65536 dropped entries
 * take longer than 200 us) would never get out. It stops after 10 s so that such a consumer still ends.
 */
static shmipc__conn *flood_conn;
static uint32_t flood_depth;
static uint64_t flood_end_ms, flood_next; /* first position not stamped yet */

static void flood_handler(int sig)
{
    (void)sig;
    if (test_now_ms() >= flood_end_ms)
        return;
    uint64_t t = atomic_load(&flood_conn->tail);
    /* Only what the consumer took since the last tick: stamping the whole ring each time would keep the
     * thread in this handler. */
    for (uint64_t p = flood_next > t ? flood_next : t; p < t + flood_depth; p++) {
        shmipc__conn_entry *e = &flood_conn->ring[p & (flood_depth - 1)];
        atomic_store(&e->a, (atomic_load(&e->a) & ~SHMIPC__CONN_STAMP) | shmipc__conn_stamp(p, flood_depth));
    }
    flood_next = t + flood_depth;
    atomic_store(&flood_conn->head, flood_next);
}

static void flood_start(shmipc__conn *c, uint32_t depth)
{
    flood_conn = c;
    flood_next = 0;
    flood_depth = depth;
    flood_end_ms = test_now_ms() + 10000;
    struct sigaction sa = {.sa_handler = flood_handler, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {.it_interval = {0, 200}, .it_value = {0, 200}};
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void flood_stop(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_IGN);
}

/* What is left of a timeout of total ms started at t0 (at least 1, so the last call still times out). */
static int remaining_ms(uint64_t t0, int total)
{
    uint64_t spent = test_now_ms() - t0;
    return spent >= (uint64_t)total ? 1 : total - (int)spent;
}

static const shmipc_reqresp_opts flood_opts = {.size = sizeof flood_opts, .max_request = 8, .depth = 65536, .max_clients = 2};

static void open_view(const char *name, shmipc__svc *svc, shmipc__rr_geom *g)
{
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_REQRESP, name, NULL, 0, svc), 0);
    assert_int_equal(shmipc__rr_geom_make(g, flood_opts.depth, flood_opts.max_request, flood_opts.max_request,
                                          flood_opts.max_clients), 0);
}

static void server_receive_bounded_under_flood(void **state)
{
    (void)state;
    char name[96], buf[64];
    rr_name(name, sizeof name, "rr-srvflood");
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, &flood_opts, &s), 0);
    shmipc__svc svc;
    shmipc__rr_geom g;
    open_view(name, &svc, &g);
    /* Slot 1 has no client: its entries are all zero, stamped with epoch 0, never the server's. */
    flood_start(shmipc__rr_req_conn(svc.pattern_area, &g, 1), g.depth);
    shmipc_reqresp_request_info ri;
    uint64_t t0 = test_now_ms();
    int r; /* the flood's signal handler ends each sleep with -EINTR (the wait's policy): go on until 200 ms */
    do
        r = shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, remaining_ms(t0, 200));
    while (r == -EINTR);
    uint64_t took = test_now_ms() - t0;
    flood_stop();
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, name, &si), 0);
    shmipc__svc_close(&svc);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_unlink(name);
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(took < 2500); /* the flood lasts 10 s: the receive did not wait for it to end */
    assert_true(si.stats[2] > 0); /* the stale entries were dropped, and counted */
}

static void client_receive_bounded_under_flood(void **state)
{
    (void)state;
    char name[96], buf[64];
    rr_name(name, sizeof name, "rr-cliflood");
    shmipc_reqresp_server *s;
    shmipc_reqresp_client *c;
    assert_int_equal(shmipc_reqresp_server_create(name, &flood_opts, &s), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, &flood_opts, &c), 0);
    shmipc__svc svc;
    shmipc__rr_geom g;
    open_view(name, &svc, &g);
    /* The client's slot: the one whose gen it bumped (not slot 0, which the server holds). */
    uint32_t slot = 0;
    for (uint32_t i = 1; i < g.nareas; i++)
        if (atomic_load(&shmipc__rr_ctl_at(svc.pattern_area, &g, i)->gen) != 0)
            slot = i;
    assert_int_not_equal(slot, 0);
    /* Entries in the ring carry gen 0: never the client's, so each is skipped. */
    flood_start(shmipc__rr_resp_conn(svc.pattern_area, &g, slot), g.depth);
    shmipc_reqresp_response_info ri;
    uint64_t t0 = test_now_ms();
    int r;
    do
        r = shmipc_reqresp_client_receive(c, &ri, buf, sizeof buf, remaining_ms(t0, 200));
    while (r == -EINTR);
    uint64_t took = test_now_ms() - t0;
    flood_stop();
    shmipc__svc_close(&svc);
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_unlink(name);
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(took < 2500);
}

/* ------------------------------------------------------------------------------- stopped peers ---- */

/* A server that takes one request and stops before answering it. */
static int ready_fd = -1; /* the child writes one byte once it is the server (its epoch is set) */

static int stop_after_taking(void *arg)
{
    shmipc_reqresp_server *s;
    if (shmipc_reqresp_server_create(arg, &hostile_opts, &s))
        return 10;
    if (write(ready_fd, "r", 1) != 1)
        return 12;
    char buf[64];
    shmipc_reqresp_request_info ri;
    if (shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 10000) < 0)
        return 11;
    hostile_freeze();
    shmipc_reqresp_server_respond(s, &ri, buf, 1, 0, 0);
    return 0;
}

static void stopped_server(void **state)
{
    (void)state;
    char name[96], buf[64];
    rr_name(name, sizeof name, "host-rr-sts");
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, &hostile_opts, &s), 0);
    shmipc_reqresp_client *c;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), 0);
    shmipc_reqresp_server_close(s); /* the child takes the service over */
    /* The request must go to the child's epoch: each -EPIPE means the child is not the server yet (the
     * send is the handshake; the child then stops, which waitpid(WUNTRACED) sees). */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    ready_fd = pfd[1];
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(stop_after_taking(name));
    /* A request sent while the child is between claiming the server word and bumping the epoch would
     * carry the old epoch and be dropped: send only once the child says it is the server. */
    char rb;
    assert_int_equal(read(pfd[0], &rb, 1), 1);
    close(pfd[0]);
    close(pfd[1]);
    int err = shmipc_reqresp_client_send(c, "stop", 4, NULL, 1000);
    assert_int_equal(err, 0);
    int st;
    pid_t r;
    while ((r = waitpid(child, &st, WUNTRACED)) < 0 && errno == EINTR) {
    }
    assert_int_equal(r, child);
    assert_true(WIFSTOPPED(st));
    int last_result = 0;
    shmipc_reqresp_response_info info;
    for (int i = 0; i < 3; i++) {
        HOSTILE_CALL("receive from a stopped server",
                     shmipc_reqresp_client_receive(c, &info, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
        HOSTILE_CALL("call to a stopped server",
                     shmipc_reqresp_client_call(c, "x", 1, buf, sizeof buf, &info, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
    }
    hostile_end_child(child);
    /* Dead now: the next wait sees it within a slice. */
    HOSTILE_CALL("receive from a killed server",
                 shmipc_reqresp_client_receive(c, &info, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
    assert_int_equal(last_result, -EPIPE);
    HOSTILE_CALL("call to a killed server",
                 shmipc_reqresp_client_call(c, "x", 1, buf, sizeof buf, &info, HOSTILE_TIMEOUT_MS));
    assert_int_equal(last_result, -EPIPE);
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_unlink(name);
}

/* A client that sends one request and stops without reading the answers. */
static int stop_after_sending(void *arg)
{
    shmipc_reqresp_client *c;
    if (shmipc_reqresp_client_open(arg, NULL, &c))
        return 10;
    if (shmipc_reqresp_client_send(c, "r", 1, NULL, 0))
        return 11;
    hostile_freeze();
    return 0;
}

static void stopped_client(void **state)
{
    (void)state;
    char name[96], buf[64];
    rr_name(name, sizeof name, "host-rr-stc");
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, &hostile_opts, &s), 0);
    pid_t child = hostile_frozen_child(stop_after_sending, name);
    shmipc_reqresp_request_info ri;
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 1);
    for (int i = 0; i < DEPTH; i++)
        assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "x", 1, SHMIPC_RR_MORE, 0), 0);
    int last_result = 0;
    for (int i = 0; i < 3; i++) {
        HOSTILE_CALL("respond to a stopped client",
                     shmipc_reqresp_server_respond(s, &ri, "x", 1, 0, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
        HOSTILE_CALL("receive beside a stopped client",
                     shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, HOSTILE_TIMEOUT_MS));
        assert_int_equal(last_result, -ETIMEDOUT);
    }
    hostile_end_child(child);
    /* Dead now: its connections are reclaimed as a whole within a slice, and the response refused. */
    HOSTILE_CALL("respond to a killed client", shmipc_reqresp_server_respond(s, &ri, "x", 1, 0, HOSTILE_TIMEOUT_MS));
    assert_int_equal(last_result, -ENOTCONN);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scribbled_owner_words),
        cmocka_unit_test(scribbled_every_word),
        cmocka_unit_test(server_receive_bounded_under_flood),
        cmocka_unit_test(client_receive_bounded_under_flood),
        cmocka_unit_test(stopped_server),
        cmocka_unit_test(stopped_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
