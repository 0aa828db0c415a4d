/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review2_reqresp.c - review findings on the request/response service: a hostile peer that
 * keeps its ring full of stale messages (which are dropped, so there is always "one more") must not keep
 * a server's or a client's receive past its timeout.
 */
#include "helpers.h"
#include "reqresp/reqresp_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "r2-%d-%d-%s", (int)getpid(), n++, tag);
}

/*
 * The hostile peer: keeps the head of a ring `depth` ahead of its consumer. It runs from a signal handler
 * fired every 200 us (ITIMER_REAL, a high-resolution timer) in the consumer's own thread, so it refills
 * the ring however loaded the machine is: a consumer that drains until empty in one call (65536 dropped
 * messages take longer than 200 us) never gets out. It stops after 10 s so that such a consumer still
 * ends.
 */
static _Atomic uint32_t *flood_head, *flood_tail;
static uint32_t flood_depth;
static uint64_t flood_end_ms;

static void flood_handler(int sig)
{
    (void)sig;
    if (test_now_ms() < flood_end_ms)
        atomic_store(flood_head, atomic_load(flood_tail) + flood_depth);
}

static void flood_start(_Atomic uint32_t *head, _Atomic uint32_t *tail, uint32_t depth)
{
    flood_head = head;
    flood_tail = tail;
    flood_depth = depth;
    flood_end_ms = test_now_ms() + 10000;
    struct sigaction sa = {.sa_handler = flood_handler, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {.it_interval = {0, 200}, .it_value = {0, 200}};
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

/* What is left of a timeout of total ms started at t0 (at least 1, so the last call still times out). */
static int remaining_ms(uint64_t t0, int total)
{
    uint64_t spent = test_now_ms() - t0;
    return spent >= (uint64_t)total ? 1 : total - (int)spent;
}

static void flood_stop(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_IGN);
}

static void open_geom(const char *name, shmipc__svc *svc, shmipc__rr_geom *g, const shmipc_reqresp_opts *o)
{
    assert_int_equal(shmipc__svc_open(SHMIPC_PATTERN_REQRESP, name, NULL, 0, svc), 0);
    assert_int_equal(shmipc__rr_geom_make(g, o->depth, o->max_request, o->max_request, o->max_clients), 0);
}

static void server_receive_bounded_under_flood(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "srvflood");
    shmipc_reqresp_opts o = {.max_request = 8, .depth = 65536, .max_clients = 2};
    shmipc_server *s;
    assert_int_equal(shmipc_server_open(name, &o, &s), 0);
    shmipc__svc svc;
    shmipc__rr_geom g;
    open_geom(name, &svc, &g, &o);
    shmipc__rr_area *a = shmipc__rr_area_at(svc.pattern_area, &g, 1); /* no client: gen 0, every slot stale */
    flood_start(&a->req_head, &a->req_tail, g.depth);
    shmipc_request_info ri;
    uint64_t t0 = test_now_ms();
    int r; /* the flood's signal handler ends each sleep with -EINTR (the wait's policy): go on until 200 ms */
    do
        r = shmipc_server_receive(s, &ri, buf, sizeof buf, remaining_ms(t0, 200));
    while (r == -EINTR);
    uint64_t took = test_now_ms() - t0;
    flood_stop();
    shmipc__svc_close(&svc);
    shmipc_server_close(s);
    shmipc_reqresp_unlink(name);
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(took < 2500); /* the flood lasts 10 s: the receive did not wait for it to end */
}

static void client_receive_bounded_under_flood(void **state)
{
    (void)state;
    char name[64], buf[64];
    svc_name(name, sizeof name, "cliflood");
    shmipc_reqresp_opts o = {.max_request = 8, .depth = 65536, .max_clients = 2};
    shmipc_server *s;
    shmipc_client *c;
    assert_int_equal(shmipc_server_open(name, &o, &s), 0);
    assert_int_equal(shmipc_client_open(name, &o, &c), 0);
    shmipc__svc svc;
    shmipc__rr_geom g;
    open_geom(name, &svc, &g, &o);
    /* The client's area: the one whose gen it bumped (not slot 0, which the server holds). */
    shmipc__rr_area *a = NULL;
    for (uint32_t i = 1; i < g.nareas; i++)
        if (atomic_load(&shmipc__rr_area_at(svc.pattern_area, &g, i)->gen) != 0)
            a = shmipc__rr_area_at(svc.pattern_area, &g, i);
    assert_non_null(a);
    /* Responses in the slots carry gen 0: never the client's, so each is skipped. */
    flood_start(&a->resp_head, &a->resp_tail, g.depth);
    shmipc_response_info ri;
    uint64_t t0 = test_now_ms();
    int r;
    do
        r = shmipc_client_receive(c, &ri, buf, sizeof buf, remaining_ms(t0, 200));
    while (r == -EINTR);
    uint64_t took = test_now_ms() - t0;
    flood_stop();
    shmipc__svc_close(&svc);
    shmipc_client_close(c);
    shmipc_server_close(s);
    shmipc_reqresp_unlink(name);
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(took < 2500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_receive_bounded_under_flood),
        cmocka_unit_test(client_receive_bounded_under_flood),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
