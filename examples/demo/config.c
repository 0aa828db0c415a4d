/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/config.c - shmipc-demo-config: the configuration service of the demo, a request/response
 * server ("TAG.config") answering the other components' questions (the sensor's rate, the filter's
 * window). They ask at start and every few seconds, and keep their last value while it is unreachable.
 * Usage: shmipc-demo-config TAG [--rate N] [--window N]
 */
#include "demo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    unsigned rate = 1000, window = 8;
    demo_arg args[] = {{"rate", &rate}, {"window", &window}};
    const char *tag;
    demo_reporter rep;
    int status = demo_component_init(argc, argv, DEMO_CONFIG, args, sizeof args / sizeof args[0], &tag, &rep);
    if (status)
        return status;
    char name[DEMO_NAME_MAX];
    demo_service_name(name, sizeof name, tag, "config");
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.max_request = sizeof(demo_cfg_request);
    o.max_response = sizeof(demo_cfg_response);
    o.max_clients = 8;
    shmipc_reqresp_server *srv;
    int err = shmipc_reqresp_server_create(name, &o, &srv);
    if (err) {
        fprintf(stderr, "config: cannot serve %s: %s\n", name, shmipc_strerror(err));
        demo_reporter_close(&rep);
        return 1;
    }

    demo_report r;
    memset(&r, 0, sizeof r);
    r.param = rate;
    uint64_t next_report = demo_now_ns();
    while (!demo_stop) {
        demo_cfg_request req;
        shmipc_reqresp_request_info info;
        int n = shmipc_reqresp_server_receive(srv, &info, &req, sizeof req, 100);
        if (n >= 0) {
            demo_cfg_response resp = {.magic = DEMO_CFG_MAGIC, .status = 0};
            if ((size_t)n != sizeof req || req.magic != DEMO_CFG_MAGIC)
                resp.status = -EBADMSG;
            else if (req.key == DEMO_CFG_SENSOR_RATE)
                resp.value = rate;
            else if (req.key == DEMO_CFG_FILTER_WINDOW)
                resp.value = window;
            else
                resp.status = -EINVAL;
            resp.key = (size_t)n == sizeof req ? req.key : 0;
            /* A client that died meanwhile gives -ENOTCONN: nothing to do, it is reclaimed. */
            if (shmipc_reqresp_server_respond(srv, &info, &resp, sizeof resp, 0, 100) == 0)
                r.cfg_requests++;
            else
                r.errors++;
        } else if (n != -ETIMEDOUT && n != -EINTR && n != -EAGAIN) {
            r.errors++;
            demo_sleep_ms(10); /* a corrupt client ring is skipped; do not spin on it */
        }
        uint64_t now = demo_now_ns();
        if (now >= next_report) {
            demo_reporter_send(&rep, &r);
            next_report = now + 1000000000u;
        }
    }
    demo_reporter_send(&rep, &r); /* the final figures */
    shmipc_reqresp_server_close(srv);
    demo_reporter_close(&rep);
    return 0;
}
