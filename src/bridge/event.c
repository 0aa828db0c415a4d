/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/event.c - event services through the bridge. Export: the bridge is a listener of the local
 * service; each (event id, count) the listener reports is published on SUBJECT.ID with the count as
 * decimal text. Import: the bridge is a notifier; a message on SUBJECT.ID notifies event ID COUNT times
 * (the local listeners see the counts add up, as if the notifier were local). What comes from the
 * network is checked: an id that is no number or not below the service's max_events, or a count that is
 * no number, is counted as an error and dropped; a count is capped at 65536 notifications per message.
 */
#include "bridge_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(r, field, n) atomic_fetch_add_explicit(&(r)->field, (uint64_t)(n), memory_order_relaxed)
#define MAX_COUNT 65536u

int shmipc__bridge_event_export_open(shmipc__bridge_route *r)
{
    shmipc_service_info *in = malloc(sizeof *in);
    if (!in)
        return -ENOMEM;
    /* only an existing service: the listener call would create one */
    int err = shmipc_service_describe(SHMIPC_PATTERN_EVENT, r->info.service, in);
    free(in);
    if (err)
        return err;
    return shmipc_evsvc_listener_open(r->info.service, NULL, &r->listener); /* its settings, whatever they are */
}

void shmipc__bridge_event_export_close(shmipc__bridge_route *r)
{
    shmipc_evsvc_listener_close(r->listener);
    r->listener = NULL;
    atomic_store_explicit(&r->active, false, memory_order_relaxed);
}

void shmipc__bridge_event_export_drain(shmipc__bridge_route *r)
{
    for (int i = 0; i < 256; i++) {
        uint32_t id;
        int n = shmipc_evsvc_listener_wait(r->listener, 0, &id);
        if (n == -EAGAIN || n == -ETIMEDOUT || n == -EINTR)
            break;
        if (n < 0) { /* -EBADMSG: a counter went backwards; reported once, then followed */
            COUNT(r, errors, 1);
            continue;
        }
        COUNT(r, received, 1);
        char subj[SHMIPC_BRIDGE_SUBJECT_MAX + 16], count[16];
        snprintf(subj, sizeof subj, "%s.%" PRIu32, r->info.subject, id);
        int len = snprintf(count, sizeof count, "%d", n);
        natsMsg *m = NULL;
        if (natsMsg_Create(&m, subj, NULL, count, len) != NATS_OK || shmipc__bridge_headers(r->b, m) != 0) {
            natsMsg_Destroy(m);
            COUNT(r, dropped, 1);
            continue;
        }
        shmipc__bridge_send(r->b, r, m, false);
    }
}

static void on_event(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    shmipc__bridge_route *r = closure;
    (void)nc;
    (void)sub;
    if (shmipc__bridge_own(r->b, msg)) {
        natsMsg_Destroy(msg);
        return;
    }
    COUNT(r, received, 1);
    const char *subj = natsMsg_GetSubject(msg);
    size_t sl = strlen(r->info.subject);
    uint64_t id, count = 1;
    char text[24];
    int len = natsMsg_GetDataLength(msg);
    bool ok = subj && strncmp(subj, r->info.subject, sl) == 0 && subj[sl] == '.' &&
              shmipc__bridge_parse_u64(subj + sl + 1, UINT32_MAX, &id) == 0 && id < r->max_events;
    if (ok && len > 0) {
        ok = (size_t)len < sizeof text;
        if (ok) {
            memcpy(text, natsMsg_GetData(msg), (size_t)len);
            text[len] = '\0';
            ok = shmipc__bridge_parse_u64(text, UINT64_MAX, &count) == 0 && count > 0;
        }
    }
    natsMsg_Destroy(msg);
    if (!ok) {
        COUNT(r, errors, 1);
        COUNT(r, dropped, 1);
        return;
    }
    if (count > MAX_COUNT)
        count = MAX_COUNT;
    for (uint64_t i = 0; i < count; i++)
        if (shmipc_evsvc_notifier_notify(r->notifier, (uint32_t)id) != 0) {
            COUNT(r, errors, 1);
            break;
        }
    COUNT(r, forwarded, 1);
}

int shmipc__bridge_event_import_start(shmipc__bridge_route *r)
{
    shmipc_evsvc_opts o;
    shmipc_evsvc_opts_init(&o);
    o.max_events = r->info.events; /* 0: the service's (or the default when creating) */
    int err = shmipc_evsvc_notifier_create(r->info.service, &o, &r->notifier);
    if (err)
        return err;
    /* the service's max_events, from its options ("events=N") */
    shmipc_service_info *in = malloc(sizeof *in);
    r->max_events = 64;
    if (in && shmipc_service_describe(SHMIPC_PATTERN_EVENT, r->info.service, in) == 0) {
        const char *p = strstr(in->options, "events=");
        if (p)
            r->max_events = (uint32_t)strtoul(p + 7, NULL, 10);
    }
    free(in);
    if (r->max_events == 0 || r->max_events > SHMIPC_EVSVC_MAX_EVENTS)
        r->max_events = SHMIPC_EVSVC_MAX_EVENTS;
    char wild[SHMIPC_BRIDGE_SUBJECT_MAX + 8];
    snprintf(wild, sizeof wild, "%s.*", r->info.subject);
    if ((err = shmipc__bridge_subscribe(r->b, &r->ns, wild, NULL, on_event, r)) != 0)
        return err;
    atomic_store_explicit(&r->active, true, memory_order_relaxed);
    shmipc__bridge_log(r->b, "importing %s.* into event/%s", r->info.subject, r->info.service);
    return 0;
}

void shmipc__bridge_event_import_stop(shmipc__bridge_route *r)
{
    shmipc__bridge_unsubscribe(&r->ns);
    shmipc_evsvc_notifier_close(r->notifier);
    r->notifier = NULL;
    atomic_store_explicit(&r->active, false, memory_order_relaxed);
}
