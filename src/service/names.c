/* SPDX-License-Identifier: MIT */
/* service/names.c - service names, segment names derived from them, pattern and role names, and the
 * thread-local error detail that says what differed when a service could not be opened. */
#include "service/service_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char svc_detail[256];

void shmipc__svc_set_detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(svc_detail, sizeof svc_detail, fmt, ap);
    va_end(ap);
}

const char *shmipc_service_error_detail(void) { return svc_detail; }

int shmipc_service_name_check(const char *name)
{
    if (!name || !*name)
        return -EINVAL;
    size_t len = strnlen(name, SHMIPC_SERVICE_NAME_MAX + 1);
    if (len > SHMIPC_SERVICE_NAME_MAX)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return -EINVAL;
    }
    return 0;
}

static const char *const pattern_names[] = {
    [SHMIPC_PATTERN_PUBSUB] = "pubsub",
    [SHMIPC_PATTERN_REQRESP] = "reqresp",
    [SHMIPC_PATTERN_BLACKBOARD] = "blackboard",
    [SHMIPC_PATTERN_EVENT] = "event",
    [SHMIPC_PATTERN_CHANNEL] = "channel",
    [SHMIPC_PATTERN_QUEUE] = "queue",
    [15] = "test", /* SHMIPC__PATTERN_TEST */
};

const char *shmipc_service_pattern_name(shmipc_pattern p)
{
    if ((unsigned)p < SHMIPC_ARRAY_LEN(pattern_names) && pattern_names[p])
        return pattern_names[p];
    return "unknown";
}

const char *shmipc_service_role_name(uint32_t role)
{
    static const char *const names[] = {"unknown", "publisher", "subscriber", "server", "client",
                                        "writer", "reader", "notifier", "listener",
                                        "producer", "consumer", "peer"};
    return role < SHMIPC_ARRAY_LEN(names) ? names[role] : "unknown";
}

int shmipc__svc_segname(shmipc_pattern pattern, const char *name, const char *suffix, char *buf, size_t cap)
{
    int err = shmipc_service_name_check(name);
    if (err)
        return err;
    const char *pn = shmipc_service_pattern_name(pattern);
    if (!strcmp(pn, "unknown"))
        return -EINVAL;
    if (shmipc__pattern_is_object(pattern)) {
        /* A channel or queue is named by its segment: "/<name>", no companions. */
        if (suffix)
            return -EINVAL;
        int n = snprintf(buf, cap, "/%s", name);
        if (n < 0 || (size_t)n >= cap || n > SHMIPC_NAME_MAX)
            return -ENAMETOOLONG;
        return 0;
    }
    int n = snprintf(buf, cap, "/shmipc.%s.%s%s%s", pn, name, suffix ? "." : "", suffix ? suffix : "");
    if (n < 0 || (size_t)n >= cap || n > SHMIPC_NAME_MAX)
        return -ENAMETOOLONG;
    return 0;
}
