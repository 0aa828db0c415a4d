/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/msg.c - the message formats, message sources, idle timeouts, waiting for an object to
 * appear, and channel/queue names shared by pub, sub, channel and queue (see msg.h).
 */
#include "msg.h"
#include "svc.h"

#include <shmipc/common.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_fmt_parse(const cli_spec *spec, const char *s, cli_fmt *out)
{
    if (!s || strcmp(s, "text") == 0)
        *out = CLI_FMT_TEXT;
    else if (strcmp(s, "hex") == 0)
        *out = CLI_FMT_HEX;
    else if (strcmp(s, "json") == 0)
        *out = CLI_FMT_JSON;
    else
        return cli_usage_error(spec, "bad format '%s' (want text, hex or json)", s);
    return 0;
}

/* ---- input decoding ---------------------------------------------------------------------------------- */

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

ssize_t cli_fmt_decode(cli_fmt fmt, char *s, size_t len)
{
    if (fmt == CLI_FMT_HEX)
        return decode_hex(s, len);
    if (fmt == CLI_FMT_JSON)
        return decode_json(s, len);
    return (ssize_t)len;
}

const char *cli_fmt_expects(cli_fmt fmt)
{
    return fmt == CLI_FMT_HEX ? "pairs of hex digits" : fmt == CLI_FMT_JSON ? "one JSON string" : "text";
}

/* ---- output ------------------------------------------------------------------------------------------ */

static void print_hex(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

void cli_fmt_print(cli_fmt fmt, const unsigned char *data, size_t size, const char *json_members)
{
    if (fmt == CLI_FMT_HEX) {
        print_hex(data, size);
        putchar('\n');
    } else if (fmt == CLI_FMT_TEXT) {
        /* Up to the first NUL: fixed-size samples published from text are padded with zeros. */
        const unsigned char *nul = memchr(data, 0, size);
        fwrite(data, 1, nul ? (size_t)(nul - data) : size, stdout);
        putchar('\n');
    } else {
        /* One JSON object per line; "text" is the payload up to its first NUL (invalid UTF-8 replaced),
         * "hex" all of it. */
        char *text = malloc(size + 1);
        printf("{%s\"size\": %zu, \"text\": ", json_members ? json_members : "", size);
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

int cli_fmt_emit(cli_fmt fmt, const unsigned char *data, size_t size, const char *json_members)
{
    cli_fmt_print(fmt, data, size, json_members);
    return fflush(stdout) != 0 ? cli_fail("stdout", -errno) : 0;
}

int cli_msg_opts_parse(const cli_spec *spec, const char *count_s, const char *timeout_s, const char *format_s,
                       uint64_t *count, uint64_t *timeout, cli_fmt *fmt)
{
    if (count_s && (cli_parse_uint(count_s, 10, UINT64_MAX, count) || *count == 0))
        return cli_usage_error(spec, "bad count '%s' (want a number, at least 1)", count_s);
    if (timeout_s && cli_parse_uint(timeout_s, 10, INT32_MAX, timeout))
        return cli_usage_error(spec, "bad timeout '%s' (want milliseconds)", timeout_s);
    return cli_fmt_parse(spec, format_s, fmt);
}

/* ---- messages to send -------------------------------------------------------------------------------- */

int cli_msg_src_init(cli_msg_src *src, const cli_spec *spec, cli_fmt fmt, const char *arg, uint64_t count)
{
    *src = (cli_msg_src){.fmt = fmt, .arg = arg, .count = count};
    if (!arg)
        return 0;
    size_t len = strlen(arg);
    src->line = malloc(len + 1);
    if (!src->line)
        return cli_fail("message", -ENOMEM);
    memcpy(src->line, arg, len + 1);
    ssize_t n = cli_fmt_decode(fmt, src->line, len);
    if (n < 0)
        return cli_usage_error(spec, "the message is not %s", cli_fmt_expects(fmt));
    src->arg_len = (size_t)n;
    if (!src->count)
        src->count = 1;
    return 0;
}

int cli_msg_next(cli_msg_src *src, const char **data, size_t *len)
{
    if (svc_stop || (src->count && src->done >= src->count))
        return 0;
    if (src->arg) {
        *data = src->line;
        *len = src->arg_len;
        src->done++;
        return 1;
    }
    errno = 0;
    ssize_t n = getline(&src->line, &src->cap, stdin);
    if (n < 0) {
        if (errno && errno != EINTR) {
            cli_fail("stdin", -errno);
            return -1;
        }
        return 0;
    }
    if (svc_stop)
        return 0;
    if (n > 0 && src->line[n - 1] == '\n')
        src->line[--n] = '\0';
    ssize_t m = cli_fmt_decode(src->fmt, src->line, (size_t)n);
    if (m < 0) {
        fprintf(stderr, "shmipc: stdin line %" PRIu64 ": not %s\n", src->done + 1, cli_fmt_expects(src->fmt));
        return -1;
    }
    src->done++;
    *data = src->line;
    *len = (size_t)m;
    return 1;
}

void cli_msg_src_free(cli_msg_src *src)
{
    free(src->line);
    src->line = NULL;
}

/* ---- time ------------------------------------------------------------------------------------------ */

uint64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000u), .tv_nsec = (long)(t_ns % 1000000000u)};
    while (!svc_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void cli_idle_start(cli_idle *t, bool set, uint64_t ms)
{
    *t = (cli_idle){.set = set, .ms = ms, .since_ns = cli_now_ns()};
}

static uint64_t idle_waited_ms(const cli_idle *t)
{
    return (cli_now_ns() - t->since_ns) / 1000000u;
}

int cli_idle_slice(const cli_idle *t)
{
    int slice = 200;
    if (t->set) {
        uint64_t waited = idle_waited_ms(t);
        if (waited >= t->ms)
            slice = 0;
        else if (t->ms - waited < (uint64_t)slice)
            slice = (int)(t->ms - waited);
    }
    return slice;
}

bool cli_idle_expired(const cli_idle *t)
{
    return t->set && idle_waited_ms(t) >= t->ms;
}

void cli_idle_reset(cli_idle *t)
{
    t->since_ns = cli_now_ns();
}

int cli_recv_status(const char *what, const char *noun, uint64_t got, uint64_t count, bool timed_out,
                    const cli_idle *t)
{
    if (!timed_out)
        return CLI_OK;
    if (count) {
        fprintf(stderr, "shmipc: %s: timed out after %" PRIu64 " of %" PRIu64 " %s\n", what, got, count, noun);
        return CLI_TIMEOUT;
    }
    if (got == 0) {
        fprintf(stderr, "shmipc: %s: timed out: no %s in %" PRIu64 " ms\n", what, noun, t->ms);
        return CLI_TIMEOUT;
    }
    return CLI_OK;
}

bool cli_wait_retry(const cli_idle *t)
{
    if (svc_stop || cli_idle_expired(t))
        return false;
    int slice = cli_idle_slice(t);
    cli_sleep_until(cli_now_ns() + (uint64_t)(slice < 20 ? slice : 20) * 1000000u);
    return !svc_stop;
}

/* ---- channel and queue names --------------------------------------------------------------------------- */

int cli_seg_name_parse(const cli_spec *spec, const char *arg, cli_seg_name buf)
{
    int n = snprintf(buf, sizeof(cli_seg_name), "%s%s", arg[0] == '/' ? "" : "/", arg);
    int err = (n < 0 || (size_t)n >= sizeof(cli_seg_name)) ? -ENAMETOOLONG : shmipc_segment_name_check(buf);
    if (err == -ENAMETOOLONG)
        return cli_usage_error(spec, "bad segment name: longer than %d characters", SHMIPC_NAME_MAX - 1);
    if (err)
        return cli_usage_error(spec, "bad segment name '%s': want printable ASCII without blanks or '/' "
                                     "after an optional leading '/', and not '.' or '..'", arg);
    return 0;
}

int cli_parse_named(const cli_spec *spec, int argc, char **argv, char ***args, int *nargs, cli_seg_name name)
{
    int rc = cli_parse(spec, argc, argv, args, nargs);
    if (rc != CLI_RUN)
        return rc;
    rc = cli_seg_name_parse(spec, (*args)[0], name);
    return rc ? rc : CLI_RUN;
}

int cli_mode_parse(const cli_spec *spec, const char *s, unsigned *out)
{
    uint64_t mode;
    if (cli_parse_uint(s, 8, 07777, &mode) || mode == 0)
        return cli_usage_error(spec, "bad mode '%s' (want octal permission bits such as 0600 or 644)", s);
    *out = (unsigned)mode;
    return 0;
}

int cli_unlink_typed(const char *name, uint32_t type, const char *kind, int (*unlink_fn)(const char *))
{
    shmipc_segment_info in;
    int err = shmipc_segment_stat(name, &in);
    if (err)
        return cli_fail(name, err);
    if (in.type != type) {
        fprintf(stderr, "shmipc: %s: not a %s (type tag %" PRIu32 "): %s; see 'shmipc segment rm'\n", name, kind,
                in.type, cli_errtext(-EPROTOTYPE));
        return CLI_ERR;
    }
    err = unlink_fn(name);
    return err ? cli_fail(name, err) : CLI_OK;
}
