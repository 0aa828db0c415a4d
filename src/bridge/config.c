/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/config.c - the bridge's configuration: directives (one line each, from a file or the
 * command line), their checks, and the name mapping between service names and NATS subjects. Pure
 * parsing with no NATS call, so that tests/test_bridge_config.c checks it all without a server.
 */
#include "bridge_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORDS 16
#define LINE_MAX_BYTES 1023

int shmipc__bridge_config_fail(shmipc_bridge_config *cfg, const char *fmt, ...)
{
    size_t n = 0;
    if (cfg->file)
        n = (size_t)snprintf(cfg->error, sizeof cfg->error, "%s:%u: ", cfg->file, cfg->line);
    if (n >= sizeof cfg->error)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->error + n, sizeof cfg->error - n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int shmipc__bridge_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/* A size with an optional K/M suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t max, uint64_t *out)
{
    char num[24];
    size_t n = strlen(s);
    uint64_t mul = 1;
    if (n > 0 && (s[n - 1] == 'K' || s[n - 1] == 'k' || s[n - 1] == 'M' || s[n - 1] == 'm')) {
        mul = (s[n - 1] == 'K' || s[n - 1] == 'k') ? 1024u : 1024u * 1024u;
        n--;
    }
    if (n == 0 || n >= sizeof num)
        return -EINVAL;
    memcpy(num, s, n);
    num[n] = '\0';
    uint64_t v;
    int err = shmipc__bridge_parse_u64(num, max / mul, &v);
    if (!err)
        *out = v * mul;
    return err;
}

/* ---- name mapping ------------------------------------------------------------------------------------ */

/* A subject (or prefix) NATS accepts for publishing: dot-separated tokens of printable ASCII, no blanks,
 * no wildcards ('*', '>'), no empty token. */
static bool subject_ok(const char *s)
{
    if (!*s || *s == '.')
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f || c == '*' || c == '>')
            return false;
        if (c == '.' && (p[1] == '.' || p[1] == '\0'))
            return false;
    }
    return true;
}

static const char *pattern_token(shmipc_pattern p)
{
    switch (p) {
    case SHMIPC_PATTERN_PUBSUB:
    case SHMIPC_PATTERN_REQRESP:
    case SHMIPC_PATTERN_EVENT:
        return shmipc_service_pattern_name(p);
    default:
        return NULL;
    }
}

/* A service name whose dots can be subject tokens: valid, and neither ".." nor a final '.'. */
static int service_ok(const char *service)
{
    int err = shmipc_service_name_check(service);
    if (err)
        return err;
    return subject_ok(service) ? 0 : -EINVAL;
}

int shmipc_bridge_subject(const char *prefix, shmipc_pattern pattern, const char *service, char *buf, size_t cap)
{
    const char *tok = pattern_token(pattern);
    if (!prefix || !service || !buf || !tok || !subject_ok(prefix))
        return -EINVAL;
    int err = service_ok(service);
    if (err)
        return err;
    int n = snprintf(buf, cap, "%s.%s.%s", prefix, tok, service);
    if (n < 0 || (size_t)n >= cap || n > SHMIPC_BRIDGE_SUBJECT_MAX)
        return -ENAMETOOLONG;
    return 0;
}

int shmipc_bridge_service_name(const char *prefix, shmipc_pattern pattern, const char *subject, char *buf,
                               size_t cap)
{
    const char *tok = pattern_token(pattern);
    if (!prefix || !subject || !buf || !tok || !subject_ok(prefix))
        return -EINVAL;
    size_t pl = strlen(prefix), tl = strlen(tok);
    if (strncmp(subject, prefix, pl) != 0 || subject[pl] != '.' || strncmp(subject + pl + 1, tok, tl) != 0 ||
        subject[pl + 1 + tl] != '.')
        return -EINVAL;
    const char *name = subject + pl + tl + 2;
    int err = service_ok(name);
    if (err)
        return err;
    if (strlen(name) >= cap)
        return -ENAMETOOLONG;
    snprintf(buf, cap, "%s", name);
    return 0;
}

/* ---- configuration object ---------------------------------------------------------------------------- */

/* The host name with what a bridge name may not hold replaced by '-'. */
static void default_name(char *buf, size_t cap)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "%s", "bridge");
    size_t i = 0;
    for (; host[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)host[i];
        buf[i] = (char)(isalnum(c) || c == '_' || c == '-' ? c : '-');
    }
    buf[i] = '\0';
}

int shmipc_bridge_config_new(shmipc_bridge_config **out)
{
    if (!out)
        return -EINVAL;
    shmipc_bridge_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return -ENOMEM;
    default_name(cfg->name, sizeof cfg->name);
    snprintf(cfg->prefix, sizeof cfg->prefix, "%s", "shmipc");
    snprintf(cfg->stream, sizeof cfg->stream, "%s", "SHMIPC");
    cfg->qos = SHMIPC_BRIDGE_QOS_CORE;
    cfg->buffer = 4096;
    cfg->send_asap = true;
    cfg->reconnect_min_ms = 100;
    cfg->reconnect_max_ms = 2000;
    cfg->reconnect_buffer = 1u << 20;
    cfg->request_timeout_ms = 5000;
    cfg->ack_wait_ms = 2000;
    cfg->max_inflight = 256;
    cfg->dedup_window_ms = 120000;
    cfg->max_age_ms = 3600000;
    *out = cfg;
    return 0;
}

void shmipc_bridge_config_free(shmipc_bridge_config *cfg)
{
    free(cfg);
}

const char *shmipc_bridge_config_error(const shmipc_bridge_config *cfg)
{
    return cfg ? cfg->error : "";
}

size_t shmipc_bridge_config_routes(const shmipc_bridge_config *cfg)
{
    return cfg ? cfg->nroutes : 0;
}

int shmipc_bridge_config_route(const shmipc_bridge_config *cfg, size_t i, shmipc_bridge_route_info *out)
{
    if (!cfg || !out)
        return -EINVAL;
    if (i >= cfg->nroutes)
        return -ERANGE;
    *out = cfg->routes[i];
    return 0;
}

/* ---- directives -------------------------------------------------------------------------------------- */

typedef struct words {
    char *w[MAX_WORDS];
    int n;
} words;

static int directive_name(shmipc_bridge_config *cfg, const words *a)
{
    const char *s = a->w[1];
    size_t n = strlen(s);
    if (n > SHMIPC_BRIDGE_NAME_MAX)
        return shmipc__bridge_config_fail(cfg, "name '%.80s' is longer than %d characters", s, SHMIPC_BRIDGE_NAME_MAX);
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return shmipc__bridge_config_fail(cfg, "name '%s': only letters, digits, '_' and '-'", s);
    snprintf(cfg->name, sizeof cfg->name, "%s", s);
    return 0;
}

static int directive_server(shmipc_bridge_config *cfg, const words *a)
{
    for (int i = 1; i < a->n; i++) {
        char *save = NULL;
        for (char *u = strtok_r(a->w[i], ",", &save); u; u = strtok_r(NULL, ",", &save)) {
            if (cfg->nservers == SHMIPC_BRIDGE_MAX_SERVERS)
                return shmipc__bridge_config_fail(cfg, "more than %d servers", SHMIPC_BRIDGE_MAX_SERVERS);
            if (strlen(u) > BRIDGE_SERVER_MAX)
                return shmipc__bridge_config_fail(cfg, "server URL longer than %d bytes", BRIDGE_SERVER_MAX);
            /* libnats takes "nats://host:port", "tls://...", or "host:port" */
            for (const char *p = u; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                    return shmipc__bridge_config_fail(cfg, "server URL '%.80s' holds a blank or a control character", u);
            snprintf(cfg->servers[cfg->nservers], sizeof cfg->servers[0], "%s", u);
            cfg->nservers++;
        }
    }
    return 0;
}

static int directive_prefix(shmipc_bridge_config *cfg, const words *a)
{
    const char *s = a->w[1];
    if (strlen(s) > 64)
        return shmipc__bridge_config_fail(cfg, "prefix longer than 64 bytes");
    if (!subject_ok(s))
        return shmipc__bridge_config_fail(cfg, "prefix '%s' is no subject (tokens between dots, no blank, '*' or '>')", s);
    snprintf(cfg->prefix, sizeof cfg->prefix, "%s", s);
    return 0;
}

static int directive_qos(shmipc_bridge_config *cfg, const words *a)
{
    if (!strcmp(a->w[1], "core"))
        cfg->qos = SHMIPC_BRIDGE_QOS_CORE;
    else if (!strcmp(a->w[1], "jetstream"))
        cfg->qos = SHMIPC_BRIDGE_QOS_JETSTREAM;
    else
        return shmipc__bridge_config_fail(cfg, "qos '%s': want core or jetstream", a->w[1]);
    return 0;
}

/* A JetStream name: stream names and tags may not hold blanks, '.', '*', '>', path separators. */
static int js_name(shmipc_bridge_config *cfg, const char *what, const char *s, char *dst)
{
    if (strlen(s) > BRIDGE_STREAM_MAX)
        return shmipc__bridge_config_fail(cfg, "%s longer than %d characters", what, BRIDGE_STREAM_MAX);
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != ':')
            return shmipc__bridge_config_fail(cfg, "%s '%s': only letters, digits, '_', '-' and ':'", what, s);
    snprintf(dst, BRIDGE_STREAM_MAX + 1, "%s", s); /* dst: a BRIDGE_STREAM_MAX + 1 array */
    return 0;
}

static int directive_stream(shmipc_bridge_config *cfg, const words *a)
{
    return js_name(cfg, "stream", a->w[1], cfg->stream);
}

static int directive_stream_tag(shmipc_bridge_config *cfg, const words *a)
{
    return js_name(cfg, "stream-tag", a->w[1], cfg->stream_tag);
}

/* A number directive: the word, its field, its range, what it counts. */
typedef struct num_directive {
    const char *name;
    size_t offset; /* of a uint32_t or uint64_t field */
    bool wide;
    uint64_t min, max;
    const char *unit;
} num_directive;

static const num_directive numbers[] = {
    {"buffer", offsetof(shmipc_bridge_config, buffer), false, 1, 1u << 20, "messages"},
    {"reconnect-buffer", offsetof(shmipc_bridge_config, reconnect_buffer), false, 4096, 1u << 30, "bytes"},
    {"request-timeout", offsetof(shmipc_bridge_config, request_timeout_ms), false, 1, 3600000, "ms"},
    {"ack-wait", offsetof(shmipc_bridge_config, ack_wait_ms), false, 10, 600000, "ms"},
    {"max-inflight", offsetof(shmipc_bridge_config, max_inflight), false, 1, 65536, "messages"},
    {"dedup-window", offsetof(shmipc_bridge_config, dedup_window_ms), true, 1000, 86400000, "ms"},
    {"max-age", offsetof(shmipc_bridge_config, max_age_ms), true, 1000, UINT64_C(31536000000), "ms"},
};

static int directive_number(shmipc_bridge_config *cfg, const num_directive *d, const words *a)
{
    uint64_t v;
    int err = !strcmp(d->unit, "bytes") ? parse_size(a->w[1], d->max, &v) : shmipc__bridge_parse_u64(a->w[1], d->max, &v);
    if (err || v < d->min)
        return shmipc__bridge_config_fail(cfg, "%s '%s': want %llu to %llu %s", d->name, a->w[1], (unsigned long long)d->min,
                                  (unsigned long long)d->max, d->unit);
    char *field = (char *)cfg + d->offset;
    if (d->wide)
        memcpy(field, &v, sizeof v);
    else {
        uint32_t v32 = (uint32_t)v;
        memcpy(field, &v32, sizeof v32);
    }
    return 0;
}

static int directive_overflow(shmipc_bridge_config *cfg, const words *a)
{
    if (!strcmp(a->w[1], "drop-oldest"))
        cfg->drop_newest = false;
    else if (!strcmp(a->w[1], "drop-newest"))
        cfg->drop_newest = true;
    else
        return shmipc__bridge_config_fail(cfg, "overflow '%s': want drop-oldest or drop-newest", a->w[1]);
    return 0;
}

static int directive_send_asap(shmipc_bridge_config *cfg, const words *a)
{
    if (!strcmp(a->w[1], "on"))
        cfg->send_asap = true;
    else if (!strcmp(a->w[1], "off"))
        cfg->send_asap = false;
    else
        return shmipc__bridge_config_fail(cfg, "send-asap '%s': want on or off", a->w[1]);
    return 0;
}

static int directive_reconnect_wait(shmipc_bridge_config *cfg, const words *a)
{
    uint64_t lo, hi = 0;
    if (shmipc__bridge_parse_u64(a->w[1], 600000, &lo) || lo == 0 || (a->n == 3 && shmipc__bridge_parse_u64(a->w[2], 600000, &hi)))
        return shmipc__bridge_config_fail(cfg, "reconnect-wait: want MIN_MS [MAX_MS], 1 to 600000 ms");
    if (a->n == 2)
        hi = lo > cfg->reconnect_max_ms ? lo : cfg->reconnect_max_ms;
    if (hi < lo)
        return shmipc__bridge_config_fail(cfg, "reconnect-wait: the maximum %llu is below the minimum %llu",
                                  (unsigned long long)hi, (unsigned long long)lo);
    cfg->reconnect_min_ms = (uint32_t)lo;
    cfg->reconnect_max_ms = (uint32_t)hi;
    return 0;
}

static int parse_pattern(const char *s, shmipc_pattern *p)
{
    if (!strcmp(s, "pubsub"))
        *p = SHMIPC_PATTERN_PUBSUB;
    else if (!strcmp(s, "reqresp"))
        *p = SHMIPC_PATTERN_REQRESP;
    else if (!strcmp(s, "event"))
        *p = SHMIPC_PATTERN_EVENT;
    else
        return -EINVAL;
    return 0;
}

/* export|import PATTERN NAME [subject SUBJECT] [size BYTES] [depth N] [history N] [policy P] [events N] */
static int directive_route(shmipc_bridge_config *cfg, const words *a)
{
    bool import = !strcmp(a->w[0], "import");
    if (cfg->nroutes == SHMIPC_BRIDGE_MAX_ROUTES)
        return shmipc__bridge_config_fail(cfg, "more than %d routes", SHMIPC_BRIDGE_MAX_ROUTES);
    shmipc_bridge_route_info r;
    memset(&r, 0, sizeof r);
    r.direction = import ? SHMIPC_BRIDGE_IMPORT : SHMIPC_BRIDGE_EXPORT;
    if (parse_pattern(a->w[1], &r.pattern))
        return shmipc__bridge_config_fail(cfg, "%s '%s': the pattern is pubsub, reqresp or event", a->w[0], a->w[1]);
    const char *name = a->w[2];
    int err = shmipc_service_name_check(name);
    if (err == -ENAMETOOLONG)
        return shmipc__bridge_config_fail(cfg, "service name longer than %d characters", SHMIPC_SERVICE_NAME_MAX);
    if (err)
        return shmipc__bridge_config_fail(cfg, "'%.80s' is no service name ([A-Za-z0-9_.-], starting with a letter or digit)",
                                  name);
    snprintf(r.service, sizeof r.service, "%s", name);
    if ((a->n - 3) % 2)
        return shmipc__bridge_config_fail(cfg, "%s %s %s: options come in pairs (subject S, size N, ...), '%s' has no value",
                                  a->w[0], a->w[1], name, a->w[a->n - 1]);
    for (int i = 3; i < a->n; i += 2) {
        const char *k = a->w[i], *v = a->w[i + 1];
        uint64_t n;
        if (!strcmp(k, "subject")) {
            if (strlen(v) > SHMIPC_BRIDGE_SUBJECT_MAX)
                return shmipc__bridge_config_fail(cfg, "subject longer than %d bytes", SHMIPC_BRIDGE_SUBJECT_MAX);
            if (!subject_ok(v))
                return shmipc__bridge_config_fail(cfg, "subject '%.80s' is not one NATS takes for publishing (tokens "
                                               "between dots, no blank, '*' or '>')", v);
            snprintf(r.subject, sizeof r.subject, "%s", v);
            continue;
        }
        if (!import)
            return shmipc__bridge_config_fail(cfg, "export: '%s' is an import option (an export takes only subject)", k);
        if (!strcmp(k, "size") && r.pattern != SHMIPC_PATTERN_EVENT) {
            if (parse_size(v, SHMIPC_RR_MAX_MESSAGE * UINT64_C(64), &n) || n == 0 ||
                (r.pattern == SHMIPC_PATTERN_REQRESP && n > SHMIPC_RR_MAX_MESSAGE))
                return shmipc__bridge_config_fail(cfg, "size '%s': want 1 byte to %s", v,
                                          r.pattern == SHMIPC_PATTERN_REQRESP ? "1M" : "64M");
            r.size = n;
        } else if (!strcmp(k, "depth") && r.pattern != SHMIPC_PATTERN_EVENT) {
            if (shmipc__bridge_parse_u64(v, 65536, &n) || n == 0)
                return shmipc__bridge_config_fail(cfg, "depth '%s': want 1 to 65536", v);
            if (r.pattern == SHMIPC_PATTERN_REQRESP && (n & (n - 1)))
                return shmipc__bridge_config_fail(cfg, "depth '%s': a request/response depth is a power of two", v);
            r.depth = (uint32_t)n;
        } else if (!strcmp(k, "history") && r.pattern == SHMIPC_PATTERN_PUBSUB) {
            if (shmipc__bridge_parse_u64(v, 65536, &n))
                return shmipc__bridge_config_fail(cfg, "history '%s': want 0 to 65536", v);
            r.history = (uint32_t)n;
        } else if (!strcmp(k, "policy") && r.pattern == SHMIPC_PATTERN_PUBSUB) {
            if (!strcmp(v, "wait"))
                r.policy = SHMIPC_PUBSUB_WAIT;
            else if (!strcmp(v, "drop-oldest"))
                r.policy = SHMIPC_PUBSUB_DROP_OLDEST;
            else
                return shmipc__bridge_config_fail(cfg, "policy '%s': want drop-oldest or wait", v);
        } else if (!strcmp(k, "events") && r.pattern == SHMIPC_PATTERN_EVENT) {
            if (shmipc__bridge_parse_u64(v, SHMIPC_EVSVC_MAX_EVENTS, &n) || n == 0)
                return shmipc__bridge_config_fail(cfg, "events '%s': want 1 to %u", v, SHMIPC_EVSVC_MAX_EVENTS);
            r.events = (uint32_t)n;
        } else {
            return shmipc__bridge_config_fail(cfg, "import %s: unknown option '%s' (%s)", a->w[1], k,
                                      r.pattern == SHMIPC_PATTERN_PUBSUB    ? "subject, size, depth, history, policy"
                                      : r.pattern == SHMIPC_PATTERN_REQRESP ? "subject, size, depth"
                                                                            : "subject, events");
        }
    }
    if (r.pattern == SHMIPC_PATTERN_PUBSUB && r.history > (r.depth ? r.depth : 8))
        return shmipc__bridge_config_fail(cfg, "history %u is more than the depth %u", r.history, r.depth ? r.depth : 8);
    cfg->routes[cfg->nroutes++] = r;
    cfg->checked = false;
    return 0;
}

typedef struct directive {
    const char *name;
    int min_args, max_args; /* words after the name */
    int (*apply)(shmipc_bridge_config *cfg, const words *a);
    const char *usage;
} directive;

static const directive directives[] = {
    {"name", 1, 1, directive_name, "name NAME"},
    {"server", 1, MAX_WORDS - 1, directive_server, "server URL[,URL...]"},
    {"prefix", 1, 1, directive_prefix, "prefix SUBJECT-PREFIX"},
    {"qos", 1, 1, directive_qos, "qos core|jetstream"},
    {"stream", 1, 1, directive_stream, "stream NAME"},
    {"stream-tag", 1, 1, directive_stream_tag, "stream-tag TAG"},
    {"overflow", 1, 1, directive_overflow, "overflow drop-oldest|drop-newest"},
    {"send-asap", 1, 1, directive_send_asap, "send-asap on|off"},
    {"reconnect-wait", 1, 2, directive_reconnect_wait, "reconnect-wait MIN_MS [MAX_MS]"},
    {"export", 2, MAX_WORDS - 1, directive_route, "export PATTERN NAME [subject SUBJECT]"},
    {"import", 2, MAX_WORDS - 1, directive_route,
     "import PATTERN NAME [subject SUBJECT] [size BYTES] [depth N] [history N] [policy P] [events N]"},
};

int shmipc_bridge_config_directive(shmipc_bridge_config *cfg, const char *line)
{
    if (!cfg || !line)
        return -EINVAL;
    cfg->error[0] = '\0';
    size_t len = strlen(line);
    if (len > LINE_MAX_BYTES)
        return shmipc__bridge_config_fail(cfg, "line longer than %d bytes", LINE_MAX_BYTES);
    char buf[LINE_MAX_BYTES + 1];
    memcpy(buf, line, len + 1);
    char *hash = strchr(buf, '#');
    if (hash)
        *hash = '\0';
    words a = {.n = 0};
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (a.n == MAX_WORDS)
            return shmipc__bridge_config_fail(cfg, "more than %d words", MAX_WORDS);
        a.w[a.n++] = w;
    }
    if (a.n == 0)
        return 0;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (!strcmp(a.w[0], numbers[i].name)) {
            if (a.n != 2)
                return shmipc__bridge_config_fail(cfg, "usage: %s N (%s)", numbers[i].name, numbers[i].unit);
            return directive_number(cfg, &numbers[i], &a);
        }
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
        const directive *d = &directives[i];
        if (strcmp(a.w[0], d->name) != 0)
            continue;
        if (a.n - 1 < d->min_args || a.n - 1 > d->max_args)
            return shmipc__bridge_config_fail(cfg, "usage: %s", d->usage);
        return d->apply(cfg, &a);
    }
    return shmipc__bridge_config_fail(cfg, "unknown directive '%.40s'", a.w[0]);
}

int shmipc_bridge_config_load(shmipc_bridge_config *cfg, const char *path)
{
    if (!cfg || !path)
        return -EINVAL;
    FILE *f = fopen(path, "re");
    if (!f) {
        int err = -errno;
        snprintf(cfg->error, sizeof cfg->error, "%s: %s", path, strerror(-err));
        return err;
    }
    char line[LINE_MAX_BYTES + 2];
    int err = 0;
    cfg->file = path;
    cfg->line = 0;
    while (!err && fgets(line, sizeof line, f)) {
        cfg->line++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            err = shmipc__bridge_config_fail(cfg, "line longer than %d bytes", LINE_MAX_BYTES);
            break;
        }
        err = shmipc_bridge_config_directive(cfg, line);
    }
    if (!err && ferror(f)) {
        err = -EIO;
        snprintf(cfg->error, sizeof cfg->error, "%s: read error", path);
    }
    cfg->file = NULL;
    fclose(f);
    return err;
}

static const char *dir_word(shmipc_bridge_direction d)
{
    return d == SHMIPC_BRIDGE_IMPORT ? "import" : "export";
}

int shmipc_bridge_config_check(shmipc_bridge_config *cfg)
{
    if (!cfg)
        return -EINVAL;
    cfg->error[0] = '\0';
    if (cfg->nroutes == 0)
        return shmipc__bridge_config_fail(cfg, "nothing to bridge: no export and no import");
    for (size_t i = 0; i < cfg->nroutes; i++) {
        shmipc_bridge_route_info *r = &cfg->routes[i];
        const char *pat = shmipc_service_pattern_name(r->pattern);
        /* A subject derived by an earlier check is derived again: the prefix may have changed since. */
        if (!r->subject[0] || cfg->derived[i]) {
            int err = shmipc_bridge_subject(cfg->prefix, r->pattern, r->service, r->subject, sizeof r->subject);
            if (err)
                return shmipc__bridge_config_fail(cfg,
                                          "%s %s %s: the service name gives no subject (%s); name one with 'subject'",
                                          dir_word(r->direction), pat, r->service,
                                          err == -ENAMETOOLONG ? "too long" : "an empty token: '..' or a final '.'");
            cfg->derived[i] = true;
        }
        if (cfg->qos == SHMIPC_BRIDGE_QOS_JETSTREAM && r->pattern == SHMIPC_PATTERN_PUBSUB) {
            /* the stream holds PREFIX.pubsub.>: a sample elsewhere would not be kept */
            char svc[SHMIPC_SERVICE_NAME_MAX + 1];
            if (shmipc_bridge_service_name(cfg->prefix, r->pattern, r->subject, svc, sizeof svc) != 0)
                return shmipc__bridge_config_fail(cfg, "%s pubsub %s: with qos jetstream the subject must be under %s.pubsub. "
                                               "(the stream's subjects), not %s",
                                          dir_word(r->direction), r->service, cfg->prefix, r->subject);
        }
        if (r->pattern == SHMIPC_PATTERN_EVENT && strlen(r->subject) + 6 > SHMIPC_BRIDGE_SUBJECT_MAX)
            return shmipc__bridge_config_fail(cfg, "event %s: subject too long for the event id token", r->service);
        for (size_t j = 0; j < i; j++) {
            const shmipc_bridge_route_info *o = &cfg->routes[j];
            if (o->pattern != r->pattern)
                continue;
            bool same_service = !strcmp(o->service, r->service);
            if (same_service && o->direction == r->direction)
                return shmipc__bridge_config_fail(cfg, "%s %s/%s is given twice", dir_word(r->direction), pat, r->service);
            if (same_service && r->pattern != SHMIPC_PATTERN_PUBSUB)
                return shmipc__bridge_config_fail(cfg,
                                          "%s/%s is both exported and imported: a %s service would loop through "
                                          "the bridge (publish/subscribe services may, request/response and event "
                                          "services may not)",
                                          pat, r->service, pat);
            if (o->direction == SHMIPC_BRIDGE_IMPORT && r->direction == SHMIPC_BRIDGE_IMPORT &&
                !strcmp(o->subject, r->subject))
                return shmipc__bridge_config_fail(cfg, "subject %s is imported twice (%s and %s)", r->subject, o->service,
                                          r->service);
        }
    }
    cfg->checked = true;
    return 0;
}
