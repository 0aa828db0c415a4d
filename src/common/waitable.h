/* SPDX-License-Identifier: MIT */
/*
 * common/waitable.h - what a handle gives a waitset (src/waitset/): a readiness check that consumes
 * nothing, and the notify words its peers bump when that readiness may change. Each pattern implements
 * it next to its own wait condition, so the rules (which word, which memory order, when a peer counts
 * as gone) stay in one place per pattern.
 */
#ifndef SHMIPC_COMMON_WAITABLE_H
#define SHMIPC_COMMON_WAITABLE_H

#include "common/internal.h"
#include <shmipc/waitset.h>

#define SHMIPC__WAITABLE_WORDS 4u

typedef struct shmipc__waitable {
    /*
     * Returns the readiness bits of events (SHMIPC_WAITSET_IN / OUT) that hold now, with
     * SHMIPC_WAITSET_ERR added when the handle's next call will fail; 0 when nothing holds. slow: also
     * run the checks a blocking call makes between sleep slices (the peer's liveness). Runs in the
     * waitset's thread, which is the thread that uses the handle. Its loads of shared indices are
     * seq_cst: after the waitset announced itself on the words below, they are the sleeper's half of
     * each pattern's handshake (a waker either sees the announcement or we see its store).
     */
    uint32_t (*ready)(void *handle, uint32_t events, bool slow);
    shmipc__notify *words[SHMIPC__WAITABLE_WORDS]; /* bumped (and woken if announced) by the peers */
    unsigned nwords;                               /* 0: nothing wakes us, readiness is polled per slice */
} shmipc__waitable;

/* Each fills *w for handle h and events (already checked non-zero, IN and OUT only) or returns
 * -EINVAL when the handle cannot have those events. */
SHMIPC_INTERNAL int shmipc__channel_waitable(shmipc_channel *ch, uint32_t events, shmipc__waitable *w);
SHMIPC_INTERNAL int shmipc__queue_waitable(shmipc_queue *q, uint32_t events, shmipc__waitable *w);
SHMIPC_INTERNAL int shmipc__event_waitable(shmipc_event *ev, uint32_t events, shmipc__waitable *w);
SHMIPC_INTERNAL int shmipc__listener_waitable(shmipc_evsvc_listener *l, uint32_t events, shmipc__waitable *w);
SHMIPC_INTERNAL int shmipc__reqresp_server_waitable(shmipc_reqresp_server *srv, uint32_t events,
                                                   shmipc__waitable *w);
SHMIPC_INTERNAL int shmipc__reqresp_client_waitable(shmipc_reqresp_client *cli, uint32_t events,
                                                   shmipc__waitable *w);
SHMIPC_INTERNAL int shmipc__subscriber_waitable(shmipc_pubsub_subscriber *sub, uint32_t events, shmipc__waitable *w);

#endif
