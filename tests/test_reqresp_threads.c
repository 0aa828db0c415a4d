/* SPDX-License-Identifier: MIT */
/* tests/test_reqresp_threads.c - request/response with threads of one process whose handles share one
 * mapping (shmipc__rr_server_attach / shmipc__rr_client_attach), so that ThreadSanitizer sees both sides
 * of every connection: calls from several client threads, a client thread streaming requests (several in
 * flight) to a server thread, and streamed responses (SHMIPC_RR_MORE) through a short response ring so
 * that each side waits for the other. The streams run with spinning-then-sleeping (hybrid) and with
 * blocking waits, so the sleep and wake-up handshakes of both connections are exercised. */
#include "helpers.h"
#include "reqresp/reqresp_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_MS 20000

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "rt%d-%d-%s", (int)getpid(), n++, tag);
}

/* The shared mapping: a view of a service created (and left without a server) by the test. */
typedef struct shared_svc {
    char name[64];
    shmipc__svc view;
} shared_svc;

static void shared_open(shared_svc *sh, const char *tag, uint32_t depth)
{
    svc_name(sh->name, sizeof sh->name, tag);
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.depth = depth;
    o.max_request = 64;
    o.max_clients = 4;
    shmipc_reqresp_server *creator;
    assert_int_equal(shmipc_reqresp_server_create(sh->name, &o, &creator), 0);
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_REQRESP, sh->name, NULL, 0, &sh->view), 0);
    shmipc_reqresp_server_close(creator); /* the server thread takes the service over on the view */
}

static void shared_close(shared_svc *sh)
{
    shmipc__svc_close(&sh->view);
    assert_int_equal(shmipc_reqresp_unlink(sh->name), 0);
}

/* ---- calls from several client threads ---- */

typedef struct call_arg {
    shared_svc *sh;
    int id;
    int ok;
    int ready_fd; /* server: a byte once it serves */
} call_arg;

static void *call_server(void *p)
{
    call_arg *a = p;
    shmipc_reqresp_server *s;
    if (shmipc__rr_server_attach(&a->sh->view, SHMIPC_WAIT_DEFAULT, &s))
        return NULL;
    if (test_signal(a->ready_fd)) {
        shmipc_reqresp_server_close(s);
        return NULL;
    }
    int quits = 0;
    char buf[64];
    while (quits < 3) {
        shmipc_reqresp_request_info ri;
        int len = shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, TIMEOUT_MS);
        if (len < 0)
            break;
        if (len == 4 && !memcmp(buf, "quit", 4))
            quits++;
        if (shmipc_reqresp_server_respond(s, &ri, buf, (size_t)len, 0, TIMEOUT_MS))
            break;
    }
    a->ok = quits == 3;
    shmipc_reqresp_server_close(s);
    return NULL;
}

static void *call_client(void *p)
{
    call_arg *a = p;
    shmipc_reqresp_client *c;
    if (shmipc__rr_client_attach(&a->sh->view, SHMIPC_WAIT_DEFAULT, &c))
        return NULL;
    char req[32], resp[32];
    int good = 1;
    for (int i = 0; i < 2000 && good; i++) {
        int len = snprintf(req, sizeof req, "%d/%d", a->id, i);
        int n = shmipc_reqresp_client_call(c, req, (size_t)len, resp, sizeof resp, NULL, TIMEOUT_MS);
        good = n == len && !memcmp(req, resp, (size_t)len);
    }
    good = good && shmipc_reqresp_client_call(c, "quit", 4, resp, sizeof resp, NULL, TIMEOUT_MS) == 4;
    a->ok = good;
    shmipc_reqresp_client_close(c);
    return NULL;
}

static void calls_from_three_client_threads(void **state)
{
    (void)state;
    shared_svc sh;
    shared_open(&sh, "calls", 8);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    call_arg sa = {.sh = &sh, .ready_fd = ready[1]}, ca[3];
    pthread_t st, ct[3];
    assert_int_equal(pthread_create(&st, NULL, call_server, &sa), 0);
    assert_int_equal(test_await(ready[0], 30000), 0); /* the thread is the server */
    for (int i = 0; i < 3; i++) {
        ca[i] = (call_arg){.sh = &sh, .id = i};
        assert_int_equal(pthread_create(&ct[i], NULL, call_client, &ca[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(ct[i], NULL);
        assert_true(ca[i].ok);
    }
    pthread_join(st, NULL);
    assert_true(sa.ok);
    close(ready[0]);
    close(ready[1]);
    shared_close(&sh);
}

/* ---- streams: requests in flight, responses in parts ---- */

#define STREAM_N 3000
#define IN_FLIGHT 3 /* requests the client keeps outstanding in the stream of parts */

typedef struct stream_arg {
    shared_svc *sh;
    shmipc_wait_mode mode;
    int parts_max; /* request i asks for 1 + i % parts_max responses */
    uint32_t window; /* requests the client keeps in flight */
    int ready_fd;
    int err; /* 0, or where it went wrong */
} stream_arg;

/* A request: its number i and how many parts it wants; the payload is a pattern from i. */
typedef struct stream_req {
    uint32_t i, parts;
    unsigned char fill[56];
} stream_req;

/* A response part: the request's number, the part's index, the pattern again. */
typedef struct stream_resp {
    uint32_t i, part;
    unsigned char fill[56];
} stream_resp;

static void *stream_server(void *p)
{
    stream_arg *a = p;
    shmipc_reqresp_server *s;
    if (shmipc__rr_server_attach(&a->sh->view, a->mode, &s)) {
        a->err = 1;
        return NULL;
    }
    if (test_signal(a->ready_fd))
        a->err = 2;
    for (uint32_t n = 0; n < STREAM_N && !a->err; n++) {
        stream_req rq;
        shmipc_reqresp_request_info ri;
        int len = shmipc_reqresp_server_receive(s, &ri, &rq, sizeof rq, TIMEOUT_MS);
        if (len != (int)sizeof rq || rq.i != n || test_check(rq.fill, sizeof rq.fill, n)) {
            a->err = 3;
            break;
        }
        for (uint32_t k = 0; k < rq.parts && !a->err; k++) {
            stream_resp rs = {.i = n, .part = k};
            test_fill(rs.fill, sizeof rs.fill, (uint64_t)n << 8 | k);
            uint32_t flags = k + 1 < rq.parts ? SHMIPC_RR_MORE : 0;
            if (shmipc_reqresp_server_respond(s, &ri, &rs, sizeof rs, flags, TIMEOUT_MS))
                a->err = 4;
        }
    }
    shmipc_reqresp_server_close(s);
    return NULL;
}

/* Keeps up to `window` requests in flight and checks every response: the oldest outstanding request's
 * parts, in order, MORE on all but the last. A window beyond the ring's depth makes send wait for the
 * server to take requests (no deadlock: with the response ring full, the request ring has room). */
static void *stream_client(void *p)
{
    stream_arg *a = p;
    shmipc_reqresp_client *c;
    if (shmipc__rr_client_attach(&a->sh->view, a->mode, &c)) {
        a->err = 10;
        return NULL;
    }
    uint32_t window = a->window;
    uint32_t sent = 0, answered = 0, part = 0;
    uint64_t first_id = 0;
    while (answered < STREAM_N && !a->err) {
        while (sent < STREAM_N && sent - answered < window) {
            stream_req rq = {.i = sent, .parts = 1 + sent % (uint32_t)a->parts_max};
            test_fill(rq.fill, sizeof rq.fill, sent);
            uint64_t id;
            int r = shmipc_reqresp_client_send(c, &rq, sizeof rq, &id, TIMEOUT_MS);
            if (r) {
                a->err = 11;
                break;
            }
            if (sent == 0)
                first_id = id;
            if (id != first_id + sent) {
                a->err = 12;
                break;
            }
            sent++;
        }
        stream_resp rs;
        shmipc_reqresp_response_info info;
        int len = shmipc_reqresp_client_receive(c, &info, &rs, sizeof rs, TIMEOUT_MS);
        uint32_t parts = 1 + answered % (uint32_t)a->parts_max;
        uint32_t want_flags = part + 1 < parts ? SHMIPC_RR_MORE : 0;
        if (len != (int)sizeof rs || info.id != first_id + answered || rs.i != answered || rs.part != part ||
            info.flags != want_flags || test_check(rs.fill, sizeof rs.fill, (uint64_t)answered << 8 | part)) {
            if (!a->err)
                a->err = len < 0 ? 13 : 14;
            break;
        }
        if (++part == parts) {
            part = 0;
            answered++;
        }
    }
    shmipc_reqresp_client_close(c);
    return NULL;
}

static void run_stream(const char *tag, uint32_t depth, int parts_max, shmipc_wait_mode mode)
{
    shared_svc sh;
    shared_open(&sh, tag, depth);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    stream_arg sa = {.sh = &sh, .mode = mode, .parts_max = parts_max, .ready_fd = ready[1],
                     .window = parts_max > 1 ? IN_FLIGHT : depth + 2};
    stream_arg ca = sa;
    pthread_t st, ct;
    assert_int_equal(pthread_create(&st, NULL, stream_server, &sa), 0);
    assert_int_equal(test_await(ready[0], 30000), 0); /* the thread is the server */
    assert_int_equal(pthread_create(&ct, NULL, stream_client, &ca), 0);
    pthread_join(ct, NULL);
    pthread_join(st, NULL);
    if (sa.err || ca.err)
        print_message("%s: server error %d, client error %d\n", tag, sa.err, ca.err);
    assert_int_equal(ca.err, 0);
    assert_int_equal(sa.err, 0);
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, sh.name, &si), 0);
    assert_int_equal(si.stats[0], STREAM_N); /* requests */
    assert_int_equal(si.stats[2], 0);        /* dropped */
    close(ready[0]);
    close(ready[1]);
    shared_close(&sh);
}

/* A client thread streams requests (more in flight than the request ring holds), a server thread answers
 * each. */
static void streamed_requests(void **state)
{
    (void)state;
    run_stream("req-hybrid", 16, 1, SHMIPC_WAIT_DEFAULT);
    run_stream("req-block", 16, 1, SHMIPC_WAIT_BLOCK);
}

/* Each request is answered by 1..5 responses, all but the last with SHMIPC_RR_MORE, through a response
 * ring of 4: the server waits for room while the client takes parts, the client waits for parts. */
static void streamed_responses(void **state)
{
    (void)state;
    run_stream("more-hybrid", 4, 5, SHMIPC_WAIT_DEFAULT);
    run_stream("more-block", 4, 5, SHMIPC_WAIT_BLOCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_from_three_client_threads),
        cmocka_unit_test(streamed_requests),
        cmocka_unit_test(streamed_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
