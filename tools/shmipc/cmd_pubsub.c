/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_pubsub.c - `shmipc pub` and `shmipc sub`: publish lines of standard input as samples of
 * a publish/subscribe service, and print the samples that arrive, as text, hex or JSON lines. Both leave
 * the service cleanly on end of input, --count, --timeout or Ctrl-C, so that they never leave a dead
 * participant behind. Received samples are copied out of the pool with a SIGBUS guard (a hostile peer
 * may truncate it) before anything is printed.
 */
#include "svc.h"

#include <shmipc/pubsub.h>
#include <shmipc/shmipc.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum ps_format { FMT_TEXT, FMT_HEX, FMT_JSON } ps_format;

static int parse_format(const cli_spec *spec, const char *s, ps_format *out)
{
    if (!s || strcmp(s, "text") == 0)
        *out = FMT_TEXT;
    else if (strcmp(s, "hex") == 0)
        *out = FMT_HEX;
    else if (strcmp(s, "json") == 0)
        *out = FMT_JSON;
    else
        return cli_usage_error(spec, "bad format '%s' (want text, hex or json)", s);
    return 0;
}

/* The service name of a SERVICE argument: "pubsub/NAME" or "NAME" (no lookup: pub may create it). */
static int ps_name(const cli_spec *spec, const char *arg, char *name)
{
    const char *slash = strchr(arg, '/');
    if (slash && (slash - arg != 6 || strncmp(arg, "pubsub", 6) != 0))
        return cli_usage_error(spec, "'%s' is not a publish/subscribe service (want NAME or pubsub/NAME)", arg);
    const char *bare = slash ? slash + 1 : arg;
    int err = svc_check_name(spec, bare);
    if (!err)
        snprintf(name, SHMIPC_SERVICE_NAME_MAX + 1, "%s", bare);
    return err;
}

/* The common start of pub and sub: parse argv, the SERVICE argument and --format. Returns CLI_RUN or an
 * exit code. */
static int ps_parse(const cli_spec *spec, int argc, char **argv, const char *const *format_s, char *name,
                    char *what, ps_format *fmt)
{
    char **args;
    int nargs, rc = cli_parse(spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    if ((rc = ps_name(spec, args[0], name)) || (rc = parse_format(spec, *format_s, fmt)))
        return rc;
    snprintf(what, SVC_FULLNAME_MAX, "pubsub/%s", name);
    return CLI_RUN;
}

/* ---- input decoding (pub) ---------------------------------------------------------------------------- */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex digit pairs (blanks between bytes allowed) in place; returns the byte count or -1. */
static ssize_t decode_hex(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        int hi = hex_digit((unsigned char)s[i]), lo = i + 1 < len ? hex_digit((unsigned char)s[i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return -1;
        s[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    return (ssize_t)o;
}

static size_t utf8_put(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(const char *s, size_t left, uint32_t *out)
{
    if (left < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Decode one JSON string literal (the whole line, blanks around allowed) in place; UTF-8 out (never longer
 * than the escaped form). Returns the byte count or -1. */
static ssize_t decode_json(char *s, size_t len)
{
    size_t i = 0, o = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == len || s[i++] != '"')
        return -1;
    for (;;) {
        if (i >= len)
            return -1;
        unsigned char c = (unsigned char)s[i++];
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            s[o++] = (char)c;
            continue;
        }
        if (i >= len)
            return -1;
        char e = s[i++];
        uint32_t cp;
        switch (e) {
        case '"': case '\\': case '/': s[o++] = e; break;
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'u':
            if (hex4(s + i, len - i, &cp))
                return -1;
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair: the low half must follow */
                uint32_t lo;
                if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u' || hex4(s + i + 2, len - i - 2, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }
            o += utf8_put(s + o, cp); /* at most 4 bytes for >= 6 consumed */
            break;
        default:
            return -1;
        }
    }
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i == len ? (ssize_t)o : -1;
}

/* ---- pub --------------------------------------------------------------------------------------------- */

/* Open the publisher of an existing service (its settings, whatever they are), or create the service. */
static int pub_open(const char *name, uint64_t size, uint64_t depth, uint64_t history, shmipc_publisher **pub)
{
    int err = shmipc_publisher_open(name, NULL, pub);
    if (err != -ENOENT)
        return err;
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC; /* lines have any length */
    o.payload_size = size;
    o.depth = (uint32_t)depth;
    o.history = (uint32_t)history;
    return shmipc_publisher_create(name, &o, pub);
}

/* The service's payload size and whether samples may be shorter (options "payload=N" or "payload=N(dynamic)"). */
static int pub_payload(const char *name, uint64_t *max, bool *dynamic)
{
    shmipc_service_info in;
    int err = shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &in);
    if (err)
        return err;
    const char *p = strstr(in.options, "payload=");
    uint64_t v;
    char num[24];
    size_t n = p ? strspn(p + 8, "0123456789") : 0;
    if (!p || n == 0 || n >= sizeof num)
        return -EBADMSG;
    memcpy(num, p + 8, n);
    num[n] = '\0';
    if (cli_parse_uint(num, 10, SIZE_MAX, &v))
        return -EBADMSG;
    *max = v;
    *dynamic = strncmp(p + 8 + n, "(dynamic)", 9) == 0;
    return 0;
}

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000u), .tv_nsec = (long)(t_ns % 1000000000u)};
    while (!svc_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cli_cmd_pub(int argc, char **argv)
{
    const char *format_s = NULL, *rate_s = NULL, *size_s = NULL, *depth_s = NULL, *history_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "input lines are text (default: the bytes of the line), hex, or json (a JSON string)"),
        CLI_OPT_VALUE("rate", 'r', "N", &rate_s, "publish at most N samples per second (default: no limit)"),
        CLI_OPT_VALUE("size", 's', "BYTES", &size_s, "when creating: the largest sample (default 4K)"),
        CLI_OPT_VALUE("depth", 'd', "N", &depth_s, "when creating: each subscriber's queue depth (default 8)"),
        CLI_OPT_VALUE("history", 'H', "N", &history_s,
                      "when creating: samples a new subscriber gets on connecting (default 0, at most depth)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc pub",
        .args = "SERVICE",
        .summary = "Publish each line of standard input as one sample of the publish/subscribe service SERVICE\n"
                   "(NAME or pubsub/NAME), creating it (with samples of any size up to --size) if it does not "
                   "exist.",
        .details = "The newline is not part of the sample. A fixed-size service gets each sample padded with "
                   "zero\nbytes to its size; a line longer than the service's samples is an error. Ends at end "
                   "of input\nor on Ctrl-C, leaving the service (which stays: see 'shmipc gc').",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char name[SHMIPC_SERVICE_NAME_MAX + 1], what[SVC_FULLNAME_MAX];
    ps_format fmt = FMT_TEXT;
    uint64_t rate = 0, size = 4096, depth = 0, history = 0;
    int rc = ps_parse(&spec, argc, argv, &format_s, name, what, &fmt);
    if (rc != CLI_RUN)
        return rc;
    if (rate_s && cli_parse_uint(rate_s, 10, 1000000000, &rate))
        return cli_usage_error(&spec, "bad rate '%s' (want samples per second)", rate_s);
    if (size_s && (cli_parse_size(size_s, &size) || size == 0 || size > UINT32_MAX))
        return cli_usage_error(&spec, "bad size '%s' (want 1 byte to 4G, with K, M or G)", size_s);
    if (depth_s && (cli_parse_uint(depth_s, 10, UINT32_MAX, &depth) || depth == 0))
        return cli_usage_error(&spec, "bad depth '%s' (want a number, at least 1)", depth_s);
    if (history_s && cli_parse_uint(history_s, 10, UINT32_MAX, &history))
        return cli_usage_error(&spec, "bad history '%s' (want a number)", history_s);

    shmipc_publisher *pub;
    int err = pub_open(name, size, depth, history, &pub);
    if (err)
        return svc_fail(what, err);
    uint64_t max;
    bool dynamic;
    if ((err = pub_payload(name, &max, &dynamic)) != 0) {
        shmipc_publisher_close(pub);
        return svc_fail(what, err);
    }
    char *buf = malloc(max ? max : 1);
    if (!buf) {
        shmipc_publisher_close(pub);
        return cli_fail(what, -ENOMEM);
    }
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    char *line = NULL;
    size_t cap = 0;
    uint64_t lineno = 0, next = now_ns();
    rc = CLI_OK;
    for (;;) {
        errno = 0;
        ssize_t len = getline(&line, &cap, stdin);
        if (len < 0 || svc_stop) {
            if (len < 0 && errno && errno != EINTR)
                rc = cli_fail("stdin", -errno);
            break;
        }
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        ssize_t n = len;
        if (fmt == FMT_HEX)
            n = decode_hex(line, (size_t)len);
        else if (fmt == FMT_JSON)
            n = decode_json(line, (size_t)len);
        if (n < 0) {
            fprintf(stderr, "shmipc: stdin line %" PRIu64 ": not %s\n", lineno,
                    fmt == FMT_HEX ? "pairs of hex digits" : "one JSON string");
            rc = CLI_ERR;
            break;
        }
        if ((uint64_t)n > max) {
            fprintf(stderr, "shmipc: stdin line %" PRIu64 ": %zd bytes, but %s takes at most %" PRIu64 "\n",
                    lineno, n, what, max);
            rc = CLI_ERR;
            break;
        }
        memcpy(buf, line, (size_t)n);
        size_t out = (size_t)n;
        if (!dynamic) {
            memset(buf + n, 0, max - (size_t)n);
            out = max;
        }
        if (rate) {
            sleep_until(next);
            if (svc_stop)
                break;
            next += 1000000000u / rate;
        }
        err = shmipc_publisher_publish_copy(pub, buf, out);
        if (err < 0 && err != -ETIMEDOUT) { /* -ETIMEDOUT: delivered to all but a full, waiting queue */
            rc = svc_fail(what, err);
            break;
        }
    }
    free(line);
    free(buf);
    shmipc_publisher_close(pub);
    svc_signals_restore(old_sig);
    return rc;
}

/* ---- sub --------------------------------------------------------------------------------------------- */

static void print_hex(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void sub_print(ps_format fmt, const unsigned char *data, size_t size, const shmipc_sample *s)
{
    if (fmt == FMT_HEX) {
        print_hex(data, size);
        putchar('\n');
    } else if (fmt == FMT_TEXT) {
        /* Up to the first NUL: fixed-size samples published from text are padded with zeros. */
        const unsigned char *nul = memchr(data, 0, size);
        fwrite(data, 1, nul ? (size_t)(nul - data) : size, stdout);
        putchar('\n');
    } else {
        /* One JSON object per line; "text" is the payload up to its first NUL (invalid UTF-8 replaced),
         * "hex" all of it. */
        char *text = malloc(size + 1);
        printf("{\"sequence\": %" PRIu64 ", \"publisher\": %" PRIu32 ", \"size\": %zu, \"text\": ", s->sequence,
               s->publisher, size);
        if (text) {
            memcpy(text, data, size);
            text[size] = '\0';
            cli_json_write_string(stdout, text);
            free(text);
        } else {
            fputs("null", stdout);
        }
        printf(", \"hex\": \"");
        print_hex(data, size);
        printf("\"}\n");
    }
}

int cli_cmd_sub(int argc, char **argv)
{
    const char *format_s = NULL, *count_s = NULL, *timeout_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "print each sample as text (default; up to its first NUL byte), hex, or json (one "
                      "object per line)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "exit after N samples"),
        CLI_OPT_VALUE("timeout", 't', "MS", &timeout_s,
                      "give up when no sample arrives for MS milliseconds (an error if --count is not reached)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc sub",
        .args = "SERVICE",
        .summary = "Connect to the publish/subscribe service SERVICE (NAME or pubsub/NAME) and print every "
                   "sample that\narrives, one per line.",
        .details = "Runs until --count samples arrived, --timeout expired or Ctrl-C, then leaves the service "
                   "cleanly.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char name[SHMIPC_SERVICE_NAME_MAX + 1], what[SVC_FULLNAME_MAX];
    ps_format fmt = FMT_TEXT;
    uint64_t count = 0, timeout = 0;
    int rc = ps_parse(&spec, argc, argv, &format_s, name, what, &fmt);
    if (rc != CLI_RUN)
        return rc;
    if (count_s && (cli_parse_uint(count_s, 10, UINT64_MAX, &count) || count == 0))
        return cli_usage_error(&spec, "bad count '%s' (want a number, at least 1)", count_s);
    if (timeout_s && cli_parse_uint(timeout_s, 10, INT32_MAX, &timeout))
        return cli_usage_error(&spec, "bad timeout '%s' (want milliseconds)", timeout_s);

    shmipc_subscriber *sub;
    int err = shmipc_subscriber_open(name, NULL, &sub);
    if (err == -ENOENT) {
        fprintf(stderr, "shmipc: %s: no such service\n", what);
        return CLI_ERR;
    }
    if (err)
        return svc_fail(what, err);
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    unsigned char *buf = NULL;
    size_t cap = 0;
    uint64_t got = 0, idle_since = now_ns();
    rc = CLI_OK;
    while (!svc_stop && (count == 0 || got < count)) {
        /* Slices of at most 200 ms: a signal that lands while receive spins is still seen soon. */
        int slice = 200;
        if (timeout_s) {
            uint64_t waited = (now_ns() - idle_since) / 1000000u;
            if (waited >= timeout)
                slice = 0; /* still one look: --timeout 0 means "take what is there" */
            else if (timeout - waited < (uint64_t)slice)
                slice = (int)(timeout - waited);
        }
        shmipc_sample s;
        err = shmipc_subscriber_receive(sub, &s, slice);
        if (err == -ETIMEDOUT || err == -EAGAIN || err == -EINTR) {
            if (timeout_s && (now_ns() - idle_since) / 1000000u >= timeout) {
                if (count) {
                    fprintf(stderr, "shmipc: %s: timed out after %" PRIu64 " of %" PRIu64 " samples\n", what, got,
                            count);
                    rc = CLI_ERR;
                }
                break;
            }
            continue;
        }
        if (err == -EBADMSG) {
            fprintf(stderr, "shmipc: %s: a corrupt queue entry was skipped\n", what);
            continue;
        }
        if (err) {
            rc = svc_fail(what, err);
            break;
        }
        if (s.size > cap) {
            unsigned char *nb = realloc(buf, s.size);
            if (!nb) {
                shmipc_subscriber_release(sub, &s);
                rc = cli_fail(what, -ENOMEM);
                break;
            }
            buf = nb;
            cap = s.size;
        }
        err = s.size ? cli_copy_guarded(buf, s.data, s.size) : 0;
        size_t size = s.size;
        shmipc_subscriber_release(sub, &s);
        if (err) {
            rc = cli_fail(what, err);
            break;
        }
        sub_print(fmt, buf ? buf : (const unsigned char *)"", size, &s); /* no buffer yet: size 0 */
        if (fflush(stdout) != 0) {
            rc = cli_fail("stdout", -errno);
            break;
        }
        got++;
        idle_since = now_ns();
    }
    free(buf);
    shmipc_subscriber_close(sub);
    svc_signals_restore(old_sig);
    return rc;
}
