/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/json.c - a small streaming JSON writer for the CLI's --json output. Names found in
 * /dev/shm may hold any byte but '/' and NUL, so strings are escaped completely and bytes that are not
 * valid UTF-8 are replaced by U+FFFD: the output stays valid JSON whatever the input.
 */
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void cli_json_init(cli_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    unsigned cp = c & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    return n;
}

void cli_json_write_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            s++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            s++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            s++;
        } else {
            size_t n = utf8_len(s);
            if (n) {
                fwrite(s, 1, n, f);
                s += n;
            } else {
                fputs("\\ufffd", f);
                s++;
            }
        }
    }
    fputc('"', f);
}

/* Separator, indentation and key before a value. */
static void json_prefix(cli_json *j, const char *key)
{
    if (j->depth > 0) {
        fputs(j->first[j->depth] ? "\n" : ",\n", j->f);
        fprintf(j->f, "%*s", 2 * j->depth, "");
    }
    j->first[j->depth] = false;
    if (key) {
        cli_json_write_string(j->f, key);
        fputs(": ", j->f);
    }
}

void cli_json_begin(cli_json *j, const char *key, char bracket)
{
    json_prefix(j, key);
    fputc(bracket, j->f);
    if (j->depth + 1 < CLI_JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

void cli_json_end(cli_json *j, char bracket)
{
    bool empty = j->first[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (!empty)
        fprintf(j->f, "\n%*s", 2 * j->depth, "");
    fputc(bracket, j->f);
    if (j->depth == 0)
        fputc('\n', j->f);
}

void cli_json_str(cli_json *j, const char *key, const char *s)
{
    json_prefix(j, key);
    cli_json_write_string(j->f, s);
}

void cli_json_uint(cli_json *j, const char *key, uint64_t v)
{
    json_prefix(j, key);
    fprintf(j->f, "%" PRIu64, v);
}

void cli_json_int(cli_json *j, const char *key, int64_t v)
{
    json_prefix(j, key);
    fprintf(j->f, "%" PRId64, v);
}

void cli_json_bool(cli_json *j, const char *key, bool v)
{
    json_prefix(j, key);
    fputs(v ? "true" : "false", j->f);
}

void cli_json_null(cli_json *j, const char *key)
{
    json_prefix(j, key);
    fputs("null", j->f);
}

void cli_json_double(cli_json *j, const char *key, double v)
{
    json_prefix(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.3f", v);
    else
        fputs("null", j->f);
}
