/* SPDX-License-Identifier: MIT */
/* service/patterns.c - finds each pattern's operations. Weak references keep the core independent of
 * which patterns are linked in: a pattern that is absent simply has no reclaim or description. */
#include "service/service_internal.h"

extern const shmipc__pattern_ops shmipc__pubsub_ops __attribute__((weak));
extern const shmipc__pattern_ops shmipc__reqresp_ops __attribute__((weak));
extern const shmipc__pattern_ops shmipc__blackboard_ops __attribute__((weak));
extern const shmipc__pattern_ops shmipc__event_ops __attribute__((weak));

const shmipc__pattern_ops *shmipc__pattern_lookup(shmipc_pattern pattern)
{
    switch (pattern) {
    case SHMIPC_PATTERN_PUBSUB: return &shmipc__pubsub_ops;
    case SHMIPC_PATTERN_REQRESP: return &shmipc__reqresp_ops;
    case SHMIPC_PATTERN_BLACKBOARD: return &shmipc__blackboard_ops;
    case SHMIPC_PATTERN_EVENT: return &shmipc__event_ops;
    default: return NULL;
    }
}
