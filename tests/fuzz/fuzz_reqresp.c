/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_reqresp.c - the request/response service against hostile bytes: the input is a whole
 * reqresp segment, written under the service's name. A server takes it over (reclaiming dead clients) and
 * serves what is pending, a client connects and sends, the server receives and responds, the client
 * receives, all with timeout 0; then gc. Every call must return a value or an error (-EBADMSG, -EAGAIN,
 * -EPIPE, -ENOTCONN, -EBUSY, ...), never crash, touch memory outside the segment, or wait.
 */
#include "harness.h"

#include <shmipc/reqresp.h>

#include <errno.h>
#include <string.h>

#define MAX_STEPS 24

static uint8_t buf[1u << 16];

static void serve(shmipc_reqresp_server *s)
{
    for (int i = 0; i < MAX_STEPS; i++) {
        shmipc_reqresp_request_info info;
        int r = shmipc_reqresp_server_receive(s, &info, buf, (i & 3) == 3 ? 2 : sizeof buf, 0);
        if (r == -EAGAIN)
            break;
        if (r >= 0) {
            shmipc_reqresp_server_respond(s, &info, buf, (size_t)r / 2, SHMIPC_RR_MORE, 0);
            shmipc_reqresp_server_respond(s, &info, buf, 1, 0, 0);
        }
        /* A forged client number and generation: refused, never indexed blindly. */
        info.client += (uint32_t)i;
        shmipc_reqresp_server_respond(s, &info, buf, 0, 0, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT || !fuzz_ready(data, size))
        return 0;
    char name[32];
    if (fuzz_service_named(SHMIPC_PATTERN_REQRESP, data, size, name, sizeof name) != 0)
        return 0;
    shmipc_reqresp_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_SPIN};
    shmipc_reqresp_server *s = NULL;
    shmipc_reqresp_client *c = NULL;
    if (shmipc_reqresp_server_create(name, &o, &s) != 0)
        s = NULL;
    if (s)
        serve(s);
    if (shmipc_reqresp_client_open(name, &o, &c) != 0)
        c = NULL;
    if (c) {
        memset(buf, 0x19, 64);
        for (int i = 0; i < 4; i++)
            shmipc_reqresp_client_send(c, buf, (size_t)i * 5, NULL, 0);
    }
    if (s)
        serve(s);
    if (c) {
        for (int i = 0; i < MAX_STEPS; i++) {
            shmipc_reqresp_response_info info;
            int r = shmipc_reqresp_client_receive(c, &info, buf, (i & 3) == 3 ? 1 : sizeof buf, 0);
            if (r == -EAGAIN || r == -EPIPE)
                break;
        }
        shmipc_reqresp_client_call(c, buf, 3, buf, sizeof buf, NULL, 0);
    }
    shmipc_reqresp_client_close(c);
    shmipc_reqresp_server_close(s);
    fuzz_service_drop(SHMIPC_PATTERN_REQRESP, name);
    return 0;
}
