/* SPDX-License-Identifier: MIT */
/*
 * bench/t_reqresp.c - transport: shmipc's request/response service (include/shmipc/reqresp.h). The
 * parent is the client, the child the server. In latency mode the round trip is one
 * shmipc_reqresp_client_call() (the driver's send only hands over the request; its receive makes the call), the
 * server answering with shmipc_reqresp_server_receive() + shmipc_reqresp_server_respond(); latency = call time / 2 (the
 * driver's stop message, which gets no answer, is sent at detach with shmipc_reqresp_client_send()). In
 * throughput mode the client streams requests with shmipc_reqresp_client_send() and the server only receives.
 * Request/response copies the payload into and out of its rings (it is a copying API), so this is the
 * copying interface of the driver.
 */
#include "bench.h"

#include <shmipc/reqresp.h>
#include <shmipc/service.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct rr_state {
    char name[64];
    shmipc_reqresp_server *srv;       /* the child's */
    shmipc_reqresp_client *cli;       /* the parent's */
    shmipc_reqresp_request_info info; /* server: the request being answered */
    const void *req;          /* client, latency: the request handed over by send, made by recv */
    size_t req_len;
    int timeout;
} rr_state;

static void rr_opts(const bench_ctx *ctx, shmipc_reqresp_opts *o)
{
    shmipc_reqresp_opts_init(o);
    o->max_request = (uint32_t)ctx->size;
    o->max_response = (uint32_t)ctx->size;
    o->max_clients = 1;
    o->depth = ctx->size >= (256u << 10) ? 4 : 16;
}

static void rr_teardown(bench_ctx *ctx)
{
    rr_state *s = ctx->priv;
    if (!s)
        return;
    shmipc_reqresp_client_close(s->cli);
    if (s->name[0])
        shmipc_reqresp_unlink(s->name);
    free(s);
    ctx->priv = NULL;
}

static int rr_setup(bench_ctx *ctx)
{
    if (ctx->size > SHMIPC_RR_MAX_MESSAGE) {
        snprintf(ctx->why, sizeof ctx->why, "limit %u KiB: SHMIPC_RR_MAX_MESSAGE", SHMIPC_RR_MAX_MESSAGE >> 10);
        return -EMSGSIZE;
    }
    rr_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    snprintf(s->name, sizeof s->name, "shmipc-bench-rr-%d", (int)getpid());
    shmipc_reqresp_unlink(s->name);
    /* The service is created by its server: a short-lived one here, so that the client can connect
     * before fork and the child takes the service over (shmipc_reqresp_server_create on a service whose server
     * closed), as a restarted server would. */
    shmipc_reqresp_opts o;
    rr_opts(ctx, &o);
    shmipc_reqresp_server *tmp;
    int err = shmipc_reqresp_server_create(s->name, &o, &tmp);
    if (err) {
        s->name[0] = '\0';
        return err;
    }
    shmipc_reqresp_server_close(tmp);
    return 0;
}

static int rr_attach(bench_ctx *ctx)
{
    rr_state *s = ctx->priv;
    s->timeout = bench_timeout_ms(ctx);
    shmipc_reqresp_opts o;
    rr_opts(ctx, &o);
    if (ctx->role != 0)
        return shmipc_reqresp_server_create(s->name, &o, &s->srv);
    /* A call before the server is up would fail with -EPIPE, but the driver sends the first request
     * only once the child has attached (opened its server). */
    return shmipc_reqresp_client_open(s->name, &o, &s->cli);
}

static int rr_send(bench_ctx *ctx, const void *buf, size_t len)
{
    rr_state *s = ctx->priv;
    if (ctx->role != 0)
        return shmipc_reqresp_server_respond(s->srv, &s->info, buf, len, 0, s->timeout);
    if (ctx->mode == BENCH_THROUGHPUT)
        return shmipc_reqresp_client_send(s->cli, buf, len, NULL, s->timeout);
    s->req = buf;
    s->req_len = len;
    return 0;
}

static int rr_recv(bench_ctx *ctx, void *buf, size_t len)
{
    rr_state *s = ctx->priv;
    int n;
    if (ctx->role != 0)
        n = shmipc_reqresp_server_receive(s->srv, &s->info, buf, len, s->timeout);
    else {
        n = shmipc_reqresp_client_call(s->cli, s->req, s->req_len, buf, len, NULL, s->timeout);
        s->req = NULL;
    }
    if (n < 0)
        return n;
    return (size_t)n == len ? 0 : -EBADMSG;
}

static void rr_detach(bench_ctx *ctx)
{
    rr_state *s = ctx->priv;
    if (ctx->role != 0) {
        shmipc_reqresp_server_close(s->srv);
        s->srv = NULL;
    } else if (s->req) {
        /* The stop message is handed over but never answered: send it as a plain request. */
        (void)shmipc_reqresp_client_send(s->cli, s->req, s->req_len, NULL, s->timeout);
        s->req = NULL;
    }
}

const bench_transport bench_t_reqresp = {
    .name = "reqresp",
    .description = "shmipc request/response: shmipc_reqresp_client_call round trip (copies in and out of its rings)",
    .caps = BENCH_CAP_ALL,
    .setup = rr_setup,
    .attach = rr_attach,
    .send = rr_send,
    .recv = rr_recv,
    .detach = rr_detach,
    .teardown = rr_teardown,
};
