/* SPDX-License-Identifier: MIT */
/* tests/test_reqresp.c - the request/response service: calls, options and their mismatches, timeouts,
 * streamed responses, several client processes at once with correlation ids checked, a server killed
 * while clients wait (-EPIPE, then a restarted server takes over), clients killed with requests pending
 * (slots reclaimed), corrupt shared state (-EBADMSG). Threads: test_reqresp_threads.c. */
#include "helpers.h"
#include "reqresp/reqresp_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "t%d-%d-%s", (int)getpid(), n++, tag);
}

/* Echo server: answers each request with its payload; "quit" ends it; "stream N" answers N parts;
 * "slow" is answered only once a byte arrives on go_fd (the test says when its call has timed out). */
static int serve(shmipc_reqresp_server *s, int max_requests, int go_fd)
{
    char buf[256];
    for (int n = 0; max_requests < 0 || n < max_requests; n++) {
        shmipc_reqresp_request_info ri;
        int len = shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf - 1, 10000);
        if (len < 0)
            return len == -ETIMEDOUT ? 0 : 1;
        buf[len] = 0;
        if (!strcmp(buf, "quit")) {
            shmipc_reqresp_server_respond(s, &ri, "bye", 3, 0, 1000);
            return 0;
        }
        int parts = 0;
        if (!strcmp(buf, "slow") && (go_fd < 0 || test_await(go_fd, 30000)))
            return 4;
        if (sscanf(buf, "stream %d", &parts) == 1) {
            for (int i = 0; i < parts; i++) {
                uint32_t part = (uint32_t)i;
                if (shmipc_reqresp_server_respond(s, &ri, &part, sizeof part, i + 1 < parts ? SHMIPC_RR_MORE : 0, 5000))
                    return 2;
            }
            continue;
        }
        int err = shmipc_reqresp_server_respond(s, &ri, buf, (size_t)len, 0, 5000);
        if (err && err != -ENOTCONN)
            return 3;
    }
    return 0;
}

typedef struct srv_arg {
    const char *name;
    shmipc_reqresp_opts opts;
    int max_requests;
    int ready_fd; /* a byte once the server is created (and, for mute_server, once it took a request) */
    int go_fd;    /* see serve() */
} srv_arg;

static srv_arg srv_arg_make(const char *name)
{
    srv_arg a = {.name = name, .max_requests = -1, .ready_fd = -1, .go_fd = -1};
    shmipc_reqresp_opts_init(&a.opts);
    return a;
}

static int server_proc(void *arg)
{
    srv_arg *a = arg;
    shmipc_reqresp_server *s;
    if (shmipc_reqresp_server_create(a->name, &a->opts, &s))
        return 10;
    if (a->ready_fd >= 0 && test_signal(a->ready_fd))
        return 11;
    int r = serve(s, a->max_requests, a->go_fd);
    shmipc_reqresp_server_close(s);
    return r;
}

static void basic_call_and_options(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "basic");
    shmipc_reqresp_client *c;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), -ENOENT);
    shmipc_type_info t = {.name = "req_v1", .size = 32, .align = 8};
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.type = &t;
    o.max_response = 48;
    o.depth = 4;
    o.max_clients = 2;
    shmipc_reqresp_server *s, *s2;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &s), 0);
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &s2), -EBUSY);
    /* mismatched settings are named */
    shmipc_reqresp_opts bad = o;
    bad.depth = 8;
    assert_int_equal(shmipc_reqresp_client_open(name, &bad, &c), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "depth"));
    shmipc_type_info t2 = t;
    t2.size = 16;
    bad = o;
    bad.type = &t2;
    assert_int_equal(shmipc_reqresp_client_open(name, &bad, &c), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "payload size"));
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), 0);
    /* Opened with no options, the client learns the service's settings from its handle. */
    shmipc_reqresp_opts got;
    shmipc_reqresp_opts_init(&got);
    assert_int_equal(shmipc_reqresp_client_options(c, &got), 0);
    assert_int_equal(got.max_request, 32);
    assert_int_equal(got.max_response, 48);
    assert_int_equal(got.depth, 4);
    assert_int_equal(got.max_clients, 2);
    assert_non_null(got.type);
    assert_string_equal(got.type->name, "req_v1");
    assert_int_equal(got.type->size, 32);
    shmipc_reqresp_opts_init(&got);
    assert_int_equal(shmipc_reqresp_server_options(s, &got), 0);
    assert_int_equal(got.max_response, 48);
    got.size = 4;
    assert_int_equal(shmipc_reqresp_server_options(s, &got), -EINVAL);
    assert_int_equal(shmipc_reqresp_server_options(NULL, &got), -EINVAL);
    assert_int_equal(shmipc_reqresp_client_options(c, NULL), -EINVAL);

    shmipc_reqresp_request_info ri;
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 30), -ETIMEDOUT);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 30), -ETIMEDOUT);
    char big[64] = {0};
    assert_int_equal(shmipc_reqresp_client_send(c, big, 33, NULL, 0), -EMSGSIZE);

    uint64_t id1, id2;
    assert_int_equal(shmipc_reqresp_client_send(c, "hello", 5, &id1, 0), 0);
    assert_int_equal(shmipc_reqresp_client_send(c, "world!", 6, &id2, 0), 0);
    assert_int_not_equal(id1, id2);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, 2, 0), -EMSGSIZE); /* stays queued */
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(ri.id, id1);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, big, 49, 0, 0), -EMSGSIZE);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "HELLO", 5, 0, 0), 0);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 6);
    assert_int_equal(ri.id, id2);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "WORLD!", 6, 0, 0), 0);
    shmipc_reqresp_response_info info;
    assert_int_equal(shmipc_reqresp_client_receive(c, &info, buf, 2, 0), -EMSGSIZE);
    assert_int_equal(shmipc_reqresp_client_receive(c, &info, buf, sizeof buf, 0), 5);
    assert_int_equal(info.id, id1);
    assert_int_equal(info.flags, 0);
    assert_int_equal(shmipc_reqresp_client_receive(c, &info, buf, sizeof buf, 0), 6);
    assert_int_equal(info.id, id2);

    /* the request ring holds depth requests, then send waits / times out */
    for (int i = 0; i < 4; i++)
        assert_int_equal(shmipc_reqresp_client_send(c, "x", 1, NULL, 0), 0);
    assert_int_equal(shmipc_reqresp_client_send(c, "x", 1, NULL, 0), -EAGAIN);
    assert_int_equal(shmipc_reqresp_client_send(c, "x", 1, NULL, 20), -ETIMEDOUT);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 1);
        assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "y", 1, 0, 0), 0);
    }
    /* response ring full: respond waits / times out */
    assert_int_equal(shmipc_reqresp_client_send(c, "x", 1, NULL, 0), 0);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 1);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "y", 1, 0, 0), -EAGAIN);
    for (int i = 0; i < 4; i++)
        assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), 1);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "y", 1, 0, 0), 0);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), 1);

    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, name, &si), 0);
    assert_int_equal(si.participants, 2);
    assert_int_equal(si.nstats, 3);
    assert_string_equal(si.stat_names[0], "requests");
    assert_int_equal(si.stats[0], 7);
    assert_int_equal(si.stats[1], 7);
    assert_non_null(strstr(si.options, "depth=4"));
    assert_non_null(strstr(si.options, "server=alive"));

    /* a closed server: clients get -EPIPE */
    shmipc_reqresp_server_close(s);
    assert_int_equal(shmipc_reqresp_client_send(c, "x", 1, NULL, 0), -EPIPE);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 100), -EPIPE);
    /* max_clients clients (2) while no server runs; a third is refused; a server still gets in */
    shmipc_reqresp_client *c2, *c3;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c2), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c3), -EUSERS);
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &s), 0);
    assert_int_equal(shmipc_reqresp_client_call(c2, "again", 5, buf, sizeof buf, NULL, 0), -EAGAIN);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 5);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_client_close(c2);
    shmipc_reqresp_client_close(c);
    assert_int_equal(shmipc_reqresp_unlink(name), 0);
}

static void streamed_response_and_call(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "stream");
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    srv_arg a = srv_arg_make(name);
    a.ready_fd = ready[1];
    a.go_fd = go[0];
    a.opts.depth = 2; /* a stream longer than the ring: the server waits for the client */
    shmipc_reqresp_server *probe;
    assert_int_equal(shmipc_reqresp_server_create(name, &a.opts, &probe), 0); /* create it, then hand it over */
    shmipc_reqresp_client *c;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), 0); /* keeps the service in use */
    shmipc_reqresp_server_close(probe);
    pid_t srv = test_fork(server_proc, &a);
    assert_int_equal(test_await(ready[0], 30000), 0); /* the child is the server now */
    shmipc_reqresp_response_info info;
    assert_int_equal(shmipc_reqresp_client_call(c, "ping", 4, buf, sizeof buf, &info, 5000), 4);
    assert_memory_equal(buf, "ping", 4);
    uint64_t id;
    assert_int_equal(shmipc_reqresp_client_send(c, "stream 10", 9, &id, 1000), 0);
    for (uint32_t i = 0; i < 10; i++) {
        uint32_t part;
        assert_int_equal(shmipc_reqresp_client_receive(c, &info, &part, sizeof part, 5000), 4);
        assert_int_equal(info.id, id);
        assert_int_equal(part, i);
        assert_int_equal(info.flags, i < 9 ? SHMIPC_RR_MORE : 0);
    }
    /* a call that times out (the server answers only after that); its late answer is discarded by the
     * next call */
    assert_int_equal(shmipc_reqresp_client_call(c, "slow", 4, buf, sizeof buf, NULL, 50), -ETIMEDOUT);
    assert_int_equal(test_signal(go[1]), 0);
    assert_int_equal(shmipc_reqresp_client_call(c, "fast", 4, buf, sizeof buf, &info, 5000), 4);
    assert_memory_equal(buf, "fast", 4);
    assert_int_equal(shmipc_reqresp_client_call(c, "quit", 4, buf, sizeof buf, NULL, 5000), 3);
    assert_int_equal(test_wait(srv, 10000), 0);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(go[i]);
    }
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_unlink(name);
}

static int idle_member(void *arg)
{
    const char *name = *(const char **)arg;
    int server = ((const char **)arg)[1] != NULL;
    shmipc_reqresp_server *s = NULL;
    shmipc_reqresp_client *c = NULL;
    if (server ? shmipc_reqresp_server_create(name, NULL, &s) : shmipc_reqresp_client_open(name, NULL, &c))
        return 1;
    if (c)
        shmipc_reqresp_client_send(c, "left behind", 11, NULL, 0);
    pause();
    return 0;
}

typedef struct participants_arg {
    const char *name;
    uint32_t n;
} participants_arg;

static int has_participants(void *arg)
{
    const participants_arg *a = arg;
    shmipc_service_info si;
    return shmipc_service_describe(SHMIPC_PATTERN_REQRESP, a->name, &si) == 0 && si.participants >= a->n;
}

/* Wait (bounded) until the service lists at least n participants: forked members join asynchronously. */
static void wait_participants(const char *name, uint32_t n)
{
    participants_arg a = {name, n};
    if (test_until(has_participants, &a, 30000))
        fail_msg("service %s never reached %u participants", name, n);
}

static void gc_after_everyone_died(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "gc");
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, NULL, &s), 0);
    shmipc_reqresp_client *keep;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &keep), 0);
    shmipc_reqresp_server_close(s);
    const char *as_server[2] = {name, "server"}, *as_client[2] = {name, NULL};
    pid_t ps = test_fork(idle_member, as_server);
    wait_participants(name, 2); /* keep + the new server */
    pid_t pc = test_fork(idle_member, as_client);
    wait_participants(name, 3);
    shmipc_reqresp_client_close(keep);
    kill(ps, SIGKILL);
    kill(pc, SIGKILL);
    waitpid(ps, NULL, 0);
    waitpid(pc, NULL, 0);
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, name, &si), 0);
    assert_int_equal(si.dead, 2);
    assert_non_null(strstr(si.options, "server=dead"));
    shmipc_service_gc_report rep;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_REQRESP, name, 0, &rep), 0);
    assert_int_equal(rep.participants_reclaimed, 2);
    assert_int_equal(rep.services_removed, 1);
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, name, &si), -ENOENT);
}

typedef struct cli_arg {
    const char *name;
    int calls;
    shmipc_wait_mode mode;
} cli_arg;

/* A client process: many calls, each payload naming the process and call, checked on return. Also
 * pipelines a few requests and matches the responses by correlation id. */
static int client_proc(void *arg)
{
    cli_arg *a = arg;
    shmipc_reqresp_opts o = {.size = sizeof o, .wait_mode = a->mode};
    shmipc_reqresp_client *c;
    if (shmipc_reqresp_client_open(a->name, &o, &c))
        return 20;
    char req[64], resp[64];
    for (int i = 0; i < a->calls; i++) {
        int len = snprintf(req, sizeof req, "%d:%d", (int)getpid(), i);
        shmipc_reqresp_response_info info;
        int n = shmipc_reqresp_client_call(c, req, (size_t)len, resp, sizeof resp, &info, 10000);
        if (n != len || memcmp(req, resp, (size_t)len))
            return 21;
    }
    uint64_t ids[3];
    for (int i = 0; i < 3; i++) {
        int len = snprintf(req, sizeof req, "p%d", i);
        if (shmipc_reqresp_client_send(c, req, (size_t)len, &ids[i], 10000))
            return 22;
    }
    for (int i = 0; i < 3; i++) {
        shmipc_reqresp_response_info info;
        int n = shmipc_reqresp_client_receive(c, &info, resp, sizeof resp, 10000);
        int k = -1;
        for (int j = 0; j < 3; j++)
            k = ids[j] == info.id ? j : k;
        if (n != 2 || k < 0 || resp[1] != '0' + k)
            return 23;
    }
    shmipc_reqresp_client_close(c);
    return 0;
}

static void concurrent_clients(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "multi");
    shmipc_reqresp_opts o = {.size = sizeof o, .max_clients = 8, .depth = 4, .max_request = 64};
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &s), 0);
    const shmipc_wait_mode modes[] = {SHMIPC_WAIT_BLOCK, SHMIPC_WAIT_HYBRID, SHMIPC_WAIT_SPIN, SHMIPC_WAIT_DEFAULT};
    cli_arg a[4];
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (cli_arg){.name = name, .calls = 300, .mode = modes[i]};
        pids[i] = test_fork(client_proc, &a[i]);
    }
    int done = 0, served = 0, st;
    char buf[64];
    while (done < 4) {
        shmipc_reqresp_request_info ri;
        int len = shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 50);
        if (len >= 0) {
            assert_int_equal(shmipc_reqresp_server_respond(s, &ri, buf, (size_t)len, 0, 5000), 0);
            served++;
            continue;
        }
        assert_int_equal(len, -ETIMEDOUT);
        for (int i = 0; i < 4; i++) {
            if (pids[i] <= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i])
                continue;
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
            pids[i] = 0;
            done++;
        }
    }
    assert_int_equal(served, 4 * (300 + 3));
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, name, &si), 0);
    assert_int_equal(si.stats[0], 4 * 303);
    assert_int_equal(si.stats[1], 4 * 303);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_unlink(name);
}

/* A server that takes a request and never answers: it is killed while the client waits. It says so on
 * ready_fd once created and once it has taken the request. */
static int mute_server(void *arg)
{
    const srv_arg *a = arg;
    shmipc_reqresp_server *s;
    if (shmipc_reqresp_server_create(a->name, NULL, &s) || test_signal(a->ready_fd))
        return 1;
    char buf[64];
    shmipc_reqresp_request_info ri;
    if (shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 30000) < 0 || test_signal(a->ready_fd))
        return 2;
    pause();
    return 0;
}

static void server_killed_then_restarted(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "srvkill");
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, NULL, &s), 0);
    shmipc_reqresp_client *c;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), 0);
    shmipc_reqresp_server_close(s); /* leave the service to the child */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    srv_arg m = srv_arg_make(name);
    m.ready_fd = ready[1];
    pid_t srv = test_fork(mute_server, &m);
    assert_int_equal(test_await(ready[0], 30000), 0); /* the child is the server */
    assert_int_equal(shmipc_reqresp_client_send(c, "hi", 2, NULL, 1000), 0);
    assert_int_equal(test_await(ready[0], 30000), 0); /* the server has taken it */
    uint64_t t0 = test_now_ms();
    kill(srv, SIGKILL);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 20000), -EPIPE);
    assert_true(test_now_ms() - t0 < 5000); /* bounded: ~50 ms slices (generous for a loaded machine) */
    waitpid(srv, NULL, 0);
    /* a send to the dead server fails too (while its claim is still there, after liveness is checked) */
    /* a restarted server takes over and serves new requests */
    srv_arg a = srv_arg_make(name);
    a.ready_fd = ready[1];
    pid_t srv2 = test_fork(server_proc, &a);
    assert_int_equal(test_await(ready[0], 30000), 0); /* taken over: claimed and its epoch bumped */
    assert_int_equal(shmipc_reqresp_client_call(c, "again", 5, buf, sizeof buf, NULL, 5000), 5);
    assert_memory_equal(buf, "again", 5);
    assert_int_equal(shmipc_reqresp_client_call(c, "quit", 4, buf, sizeof buf, NULL, 5000), 3);
    assert_int_equal(test_wait(srv2, 10000), 0);
    close(ready[0]);
    close(ready[1]);
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_unlink(name);
}

static void killed_clients_reclaimed(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "clikill");
    shmipc_reqresp_opts o = {.size = sizeof o, .max_clients = 4, .depth = 4};
    shmipc_reqresp_server *s;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &s), 0);
    shmipc_reqresp_client *keep;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &keep), 0);
    for (int i = 0; i < 10; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t c = fork();
        if (c == 0) {
            close(p[0]);
            shmipc_reqresp_client *cc;
            int err = shmipc_reqresp_client_open(name, NULL, &cc);
            char r = err ? 'f' : 'j';
            if (!err)
                for (int k = 0; k < 3; k++)
                    shmipc_reqresp_client_send(cc, "pending", 7, NULL, 0);
            if (write(p[1], &r, 1) != 1)
                _exit(2);
            pause();
            _exit(0);
        }
        close(p[1]);
        char r = 0;
        assert_int_equal(read(p[0], &r, 1), 1);
        close(p[0]);
        assert_int_equal(r, 'j');
        /* the server serves one of them now and then, so some requests are pending at the kill, some not */
        shmipc_reqresp_request_info ri;
        if (i % 2 && shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0) >= 0)
            shmipc_reqresp_server_respond(s, &ri, buf, 7, 0, 0);
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
    }
    /* the server goes on: the dead clients' requests are dropped, the kept client is served */
    assert_int_equal(shmipc_reqresp_client_send(keep, "live", 4, NULL, 0), 0);
    shmipc_reqresp_request_info ri;
    int len;
    while ((len = shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 500)) >= 0) {
        int err = shmipc_reqresp_server_respond(s, &ri, buf, (size_t)len, 0, 0);
        /* a dead client's request not yet reclaimed may still be answered (into its ring) or refused */
        assert_true(err == 0 || (len != 4 && err == -ENOTCONN));
    }
    assert_int_equal(len, -ETIMEDOUT);
    assert_int_equal(shmipc_reqresp_client_receive(keep, NULL, buf, sizeof buf, 1000), 4);
    /* the table is not exhausted: 3 more clients connect */
    shmipc_reqresp_client *more[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmipc_reqresp_client_open(name, NULL, &more[i]), 0);
    shmipc_service_info si;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_REQRESP, name, &si), 0);
    assert_int_equal(si.dead, 0);
    assert_true(si.stats[2] > 0); /* dropped */
    for (int i = 0; i < 3; i++)
        shmipc_reqresp_client_close(more[i]);
    shmipc_reqresp_client_close(keep);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_unlink(name);
}

static void corrupt_state(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "corrupt");
    shmipc_reqresp_server *s;
    shmipc_reqresp_client *c, *c2;
    assert_int_equal(shmipc_reqresp_server_create(name, NULL, &s), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c2), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_REQRESP, name, NULL, 0, &view), 0);
    shmipc__rr_hdr *hd = view.pattern_area;
    shmipc__rr_geom g;
    assert_int_equal(shmipc__rr_geom_make(&g, hd->depth, hd->max_request, hd->max_response, hd->max_clients), 0);
    /* slot 0: server, 1: c, 2: c2 */
    shmipc__conn *rq = shmipc__rr_req_conn(hd, &g, 1), *rs = shmipc__rr_resp_conn(hd, &g, 1);
    shmipc_reqresp_request_info ri;
    /* request connection head far ahead of the tail: the server reads entries' stamps, never that head,
     * and takes nothing */
    uint64_t h = atomic_load(&rq->head);
    atomic_store(&rq->head, h + 1000);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 20), -ETIMEDOUT);
    /* the other client is still served */
    assert_int_equal(shmipc_reqresp_client_send(c2, "ok", 2, NULL, 0), 0);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 2);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "ok", 2, 0, 0), 0);
    assert_int_equal(shmipc_reqresp_client_receive(c2, NULL, buf, sizeof buf, 0), 2);
    atomic_store(&rq->head, h);
    /* a request whose length is beyond the maximum */
    assert_int_equal(shmipc_reqresp_client_send(c, "abc", 3, NULL, 0), 0);
    shmipc__conn_entry *e = &rq->ring[h & (g.depth - 1)];
    atomic_store(&e->b, SHMIPC__RR_REQ_ENTRY(0x7fffffff, atomic_load(&e->b) >> 32));
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), -EBADMSG);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), -EAGAIN); /* skipped */
    /* a response connection head forged by a hostile server: not read, nothing taken */
    uint64_t rh = atomic_load(&rs->head);
    atomic_store(&rs->head, atomic_load(&rs->tail) + 999);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), -EAGAIN);
    atomic_store(&rs->head, rh);
    /* a tail forged by a hostile client (read past the head): the server refuses it once it needs room */
    assert_int_equal(shmipc_reqresp_client_send(c, "abc", 3, NULL, 0), 0);
    assert_int_equal(shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0), 3);
    for (uint32_t i = 0; i < g.depth; i++)
        assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "abc", 3, SHMIPC_RR_MORE, 0), 0);
    uint64_t rt = atomic_load(&rs->tail);
    atomic_store(&rs->tail, atomic_load(&rs->head) + 5);
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "abc", 3, 0, 0), -EBADMSG);
    atomic_store(&rs->tail, rt);
    /* a response with a bad length */
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), 3);
    shmipc__conn_entry *re = &rs->ring[atomic_load(&rs->tail) & (g.depth - 1)];
    atomic_store(&re->b, SHMIPC__RR_RESP_ENTRY(1u << 23, 0, atomic_load(&re->b) >> 32));
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), -EBADMSG);
    /* unknown flags */
    re = &rs->ring[atomic_load(&rs->tail) & (g.depth - 1)];
    atomic_store(&re->b, SHMIPC__RR_RESP_ENTRY(3, 0x80, atomic_load(&re->b) >> 32));
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), -EBADMSG);
    assert_int_equal(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0), 3); /* the rest are intact */
    /* header geometry: opening fails cleanly */
    uint32_t depth = hd->depth;
    hd->depth = 3;
    shmipc_reqresp_client *c3;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c3), -EBADMSG);
    hd->depth = depth;
    hd->area_size += 64;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c3), -EBADMSG);
    hd->area_size -= 64;
    hd->magic = 0;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c3), -EBADMSG);
    hd->magic = SHMIPC_RR_MAGIC;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c3), 0);
    shmipc_reqresp_client_close(c3);
    /* invalid arguments */
    assert_int_equal(shmipc_reqresp_client_send(NULL, "x", 1, NULL, 0), -EINVAL);
    ri.client = 9999;
    assert_int_equal(shmipc_reqresp_server_respond(s, &ri, "x", 1, 0, 0), -EINVAL);
    shmipc_reqresp_opts bad = {.size = sizeof bad, .wait_mode = (shmipc_wait_mode)9};
    assert_int_equal(shmipc_reqresp_client_open(name, &bad, &c3), -EINVAL);
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_client_close(c2);
    shmipc_reqresp_server_close(s);
    shmipc__svc_close(&view);
    shmipc_reqresp_unlink(name);
    bad = (shmipc_reqresp_opts){.size = sizeof(shmipc_reqresp_opts), .depth = 3};
    assert_int_equal(shmipc_reqresp_server_create(name, &bad, &s), -EINVAL);
    bad = (shmipc_reqresp_opts){.size = sizeof(shmipc_reqresp_opts), .max_request = SHMIPC_RR_MAX_MESSAGE + 1};
    assert_int_equal(shmipc_reqresp_server_create(name, &bad, &s), -EINVAL);
}

static int rr_allowed(int r)
{
    return r >= 0 || r == -EAGAIN || r == -EBADMSG || r == -EPIPE || r == -EMSGSIZE || r == -ENOTCONN ||
           r == -EUSERS;
}

/* Random words scribbled over the pattern area (header, indices, slots) between calls: every call
 * returns a documented error or succeeds; nothing crashes or reads out of bounds (run under ASan). */
static void random_garbage(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "garbage");
    shmipc_reqresp_opts o = {.size = sizeof o, .depth = 4, .max_request = 48, .max_clients = 3};
    shmipc_reqresp_server *s;
    shmipc_reqresp_client *c, *c2;
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &s), 0);
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &c), 0);
    shmipc__svc view;
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_REQRESP, name, NULL, 0, &view), 0);
    size_t size = view.pattern_size;
    uint32_t *words = view.pattern_area;
    static uint32_t saved[1 << 16];
    assert_true(size <= sizeof saved);
    memcpy(saved, words, size);
    srand(12345);
    for (int it = 0; it < 2000; it++) {
        for (int k = 0; k < 1 + it % 8; k++)
            words[(size_t)rand() % (size / 4)] = it % 3 ? (uint32_t)rand() : (uint32_t)rand() % 16;
        shmipc_reqresp_request_info ri;
        assert_true(rr_allowed(shmipc_reqresp_client_send(c, "garbage", 7, NULL, 0)));
        int n = shmipc_reqresp_server_receive(s, &ri, buf, sizeof buf, 0);
        assert_true(rr_allowed(n));
        if (n >= 0)
            assert_true(rr_allowed(shmipc_reqresp_server_respond(s, &ri, buf, (size_t)n, 0, 0)));
        assert_true(rr_allowed(shmipc_reqresp_client_receive(c, NULL, buf, sizeof buf, 0)));
        int e = shmipc_reqresp_client_open(name, NULL, &c2);
        assert_true(e == 0 || e == -EBADMSG || e == -EUSERS);
        if (!e)
            shmipc_reqresp_client_close(c2);
        if (it % 16 == 15)
            memcpy(words, saved, size);
    }
    shmipc__svc_close(&view);
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_server_close(s);
    shmipc_reqresp_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_call_and_options),
        cmocka_unit_test(streamed_response_and_call),
        cmocka_unit_test(concurrent_clients),
        cmocka_unit_test(server_killed_then_restarted),
        cmocka_unit_test(killed_clients_reclaimed),
        cmocka_unit_test(gc_after_everyone_died),
        cmocka_unit_test(corrupt_state),
        cmocka_unit_test(random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
