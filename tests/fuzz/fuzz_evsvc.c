/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_evsvc.c - the event service against hostile bytes: the input is a whole event-service
 * segment, written under the service's name. A listener and a notifier attach (reclaiming dead
 * participants), the listener drains what is pending, the notifier signals some ids, and the listener
 * waits again (alone and through wait_any), all with timeout 0; then gc. Every call must return a value
 * or an error (-EBADMSG, -EAGAIN, -EUSERS, ...), never crash, touch memory outside the segment, or wait.
 */
#include "harness.h"

#include <shmipc/evsvc.h>

#define MAX_STEPS 40

static void drain(shmipc_evsvc_listener *l)
{
    for (int i = 0; i < MAX_STEPS; i++) {
        uint32_t id;
        if (shmipc_evsvc_listener_wait(l, 0, &id) < 0)
            break;
    }
    size_t which;
    uint32_t id;
    shmipc_evsvc_listener_wait_any(&l, 1, 0, &which, &id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT || !fuzz_ready(data, size))
        return 0;
    char name[32];
    if (fuzz_service_named(SHMIPC_PATTERN_EVENT, data, size, name, sizeof name) != 0)
        return 0;
    shmipc_evsvc_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_SPIN};
    shmipc_evsvc_listener *l = NULL;
    shmipc_evsvc_notifier *n = NULL;
    if (shmipc_evsvc_listener_open(name, &o, &l) != 0)
        l = NULL;
    if (shmipc_evsvc_notifier_create(name, &o, &n) != 0)
        n = NULL;
    if (l)
        drain(l);
    if (n)
        for (uint32_t id = 0; id < 8; id++)
            shmipc_evsvc_notifier_notify(n, id * 9);
    if (l)
        drain(l);
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_listener_close(l);
    fuzz_service_drop(SHMIPC_PATTERN_EVENT, name);
    return 0;
}
