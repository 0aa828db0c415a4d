/* SPDX-License-Identifier: MIT */
/* service/patterns.c - finds each pattern's operations. The references are strong on purpose: a program
 * linked with the static library that only calls shmipc_service_gc (the CLI, a supervisor) must still pull
 * in every pattern's reclaim, or gc would free slots without releasing what dead participants held. */
#include "service/service_internal.h"

extern const shmipc__pattern_ops shmipc__pubsub_ops;
extern const shmipc__pattern_ops shmipc__reqresp_ops;
extern const shmipc__pattern_ops shmipc__blackboard_ops;
extern const shmipc__pattern_ops shmipc__event_ops;
extern const shmipc__pattern_ops shmipc__channel_ops;
extern const shmipc__pattern_ops shmipc__queue_ops;

const shmipc__pattern_ops *(*shmipc__pattern_lookup_hook)(shmipc_pattern pattern);

const shmipc__pattern_ops *shmipc__pattern_lookup(shmipc_pattern pattern)
{
    if (SHMIPC_UNLIKELY(shmipc__pattern_lookup_hook != NULL))
        return shmipc__pattern_lookup_hook(pattern);
    /* A pattern left out of the build (CMake SHMIPC_PUBSUB=OFF and the like) is an unknown pattern. */
    switch (pattern) {
#ifndef SHMIPC_NO_PUBSUB
    case SHMIPC_PATTERN_PUBSUB: return &shmipc__pubsub_ops;
#endif
#ifndef SHMIPC_NO_REQRESP
    case SHMIPC_PATTERN_REQRESP: return &shmipc__reqresp_ops;
#endif
#ifndef SHMIPC_NO_BLACKBOARD
    case SHMIPC_PATTERN_BLACKBOARD: return &shmipc__blackboard_ops;
#endif
#ifndef SHMIPC_NO_EVSVC
    case SHMIPC_PATTERN_EVENT: return &shmipc__event_ops;
#endif
    case SHMIPC_PATTERN_CHANNEL: return &shmipc__channel_ops;
    case SHMIPC_PATTERN_QUEUE: return &shmipc__queue_ops;
    default: return NULL;
    }
}
