/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_top.c - `shmipc top`: a live view of the services on the machine, like top(1). Each
 * refresh lists the services (shmipc_service_list) and compares their live figures with the previous
 * listing: every stat's rate is its increase divided by the time between the two samples, and one stat,
 * the one that counts messages ("published", "sent", "requests", ...), is shown as the service's rate.
 * A stat "<x>_used" with its capacity in a stat "<x>_size" (or _total, ...) or in an options word such as
 * "chunks=N" is shown as a fill level.
 * The terminal's mode is left alone: Ctrl-C (SIGINT) or "q" + Enter ends the view.
 */
#include "svc.h"

#include <shmipc/shmipc.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct top_sample {
    shmipc_service_info *v;
    size_t n;
    uint64_t t_ns;    /* CLOCK_MONOTONIC when listed */
    uint64_t wall_ns; /* CLOCK_REALTIME, for the JSON timestamp */
} top_sample;

/* What one service shows, derived from two samples. */
typedef struct top_row {
    const shmipc_service_info *in;
    bool has_rate[SHMIPC_SERVICE_MAX_STATS]; /* false: new service, or the counter went backwards */
    double rate[SHMIPC_SERVICE_MAX_STATS];   /* per second */
    int main_stat;                           /* index, or -1 when the service has no stats */
    int fill_used;                           /* index of the "used" stat, or -1: no fill known */
    uint64_t fill_size;                      /* the capacity it fills */
    char fill_size_name[64];                 /* where the capacity came from (a stat or option name) */
} top_row;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int top_sample_take(top_sample *s)
{
    int err = shmipc_service_list(&s->v, &s->n);
    if (err)
        return err;
    s->t_ns = clock_ns(CLOCK_MONOTONIC);
    s->wall_ns = clock_ns(CLOCK_REALTIME);
    svc_sort(s->v, s->n);
    return 0;
}

static void top_sample_free(top_sample *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The same service in an earlier sample: same pattern, name and creation time (a service removed and
 * created again restarts its counters). */
static const shmipc_service_info *top_find(const top_sample *s, const shmipc_service_info *in)
{
    for (size_t i = 0; i < s->n; i++) {
        const shmipc_service_info *p = &s->v[i];
        if (p->pattern == in->pattern && p->created_ns == in->created_ns && strcmp(p->name, in->name) == 0)
            return p;
    }
    return NULL;
}

/* Words that name a message counter, best first. */
static const char *const main_words[] = {"published", "sent", "requests", "responses", "notif",
                                         "writes", "updates", "signals", "messages", "received"};

static int top_main_stat(const shmipc_service_info *in)
{
    for (size_t w = 0; w < sizeof main_words / sizeof main_words[0]; w++)
        for (uint32_t i = 0; i < in->nstats; i++)
            if (strstr(in->stat_names[i], main_words[w]))
                return (int)i;
    return in->nstats ? 0 : -1;
}

/* The value of the word "key=N" in a service's options, or -1. */
static int64_t option_value(const char *options, const char *key)
{
    size_t kl = strlen(key);
    for (const char *w = options; *w;) {
        if (strncmp(w, key, kl) == 0 && w[kl] == '=') {
            uint64_t v;
            char num[24];
            size_t n = strcspn(w + kl + 1, " ");
            if (n == 0 || n >= sizeof num)
                return -1;
            memcpy(num, w + kl + 1, n);
            num[n] = '\0';
            return cli_parse_uint(num, 10, INT64_MAX, &v) == 0 ? (int64_t)v : -1;
        }
        w += strcspn(w, " ");
        w += strspn(w, " ");
    }
    return -1;
}

/* The fill of a pool or buffer: a stat "<x>_used" (or "<x>_in_use") with its capacity in a stat
 * "<x>_size" (or _total, _capacity, _slots) or, failing that, in an options word of one of those names or
 * "chunks", "slots", "capacity" (pubsub says "chunks=N"). */
static void top_fill(const shmipc_service_info *in, top_row *r)
{
#define NSIZE_SFX 4
    static const char *const used_sfx[] = {"_used", "_in_use"};
    static const char *const size_sfx[NSIZE_SFX] = {"_size", "_total", "_capacity", "_slots"};
    static const char *const size_words[] = {"chunks", "slots", "capacity"};
    const size_t nkeys = NSIZE_SFX + sizeof size_words / sizeof size_words[0];
    r->fill_used = -1;
    for (uint32_t i = 0; i < in->nstats; i++) {
        const char *u = in->stat_names[i];
        size_t ul = strlen(u), plen = 0;
        for (size_t a = 0; a < 2 && !plen; a++) {
            size_t sl = strlen(used_sfx[a]);
            if (ul > sl && strcmp(u + ul - sl, used_sfx[a]) == 0)
                plen = ul - sl;
        }
        if (!plen)
            continue;
        for (uint32_t k = 0; k < in->nstats; k++) {
            const char *t = in->stat_names[k];
            if (k == i || strncmp(t, u, plen) != 0)
                continue;
            for (size_t b = 0; b < NSIZE_SFX; b++) {
                if (strcmp(t + plen, size_sfx[b]) == 0) {
                    r->fill_used = (int)i;
                    r->fill_size = in->stats[k];
                    snprintf(r->fill_size_name, sizeof r->fill_size_name, "%s", t);
                    return;
                }
            }
        }
        char key[64];
        for (size_t b = 0; b < nkeys; b++) {
            if (b < NSIZE_SFX)
                snprintf(key, sizeof key, "%.*s%s", (int)plen, u, size_sfx[b]);
            else
                snprintf(key, sizeof key, "%s", size_words[b - NSIZE_SFX]);
            int64_t v = option_value(in->options, key);
            if (v >= 0) {
                r->fill_used = (int)i;
                r->fill_size = (uint64_t)v;
                snprintf(r->fill_size_name, sizeof r->fill_size_name, "%s", key);
                return;
            }
        }
    }
}

static void top_row_make(top_row *r, const shmipc_service_info *in, const top_sample *prev, double secs)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    const shmipc_service_info *p = top_find(prev, in);
    for (uint32_t i = 0; i < in->nstats; i++) {
        /* The same stat only if the old sample has it under the same name. */
        if (!p || i >= p->nstats || strcmp(p->stat_names[i], in->stat_names[i]) != 0 || in->stats[i] < p->stats[i])
            continue;
        r->has_rate[i] = true;
        r->rate[i] = (double)(in->stats[i] - p->stats[i]) / secs;
    }
    r->main_stat = top_main_stat(in);
    top_fill(in, r);
}

static void top_json(const top_sample *cur, const top_row *rows, double secs, uint64_t interval_ms)
{
    char buf[64];
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_begin(&j, NULL, '{');
    svc_time(cur->wall_ns, buf, sizeof buf);
    cli_json_str(&j, "time", buf);
    cli_json_uint(&j, "interval_ms", interval_ms);
    cli_json_double(&j, "sampled_over_s", secs);
    cli_json_begin(&j, "services", '[');
    for (size_t i = 0; i < cur->n; i++) {
        const top_row *r = &rows[i];
        const shmipc_service_info *in = r->in;
        cli_json_begin(&j, NULL, '{');
        svc_json_members(&j, in);
        cli_json_begin(&j, "rates", '{');
        for (uint32_t k = 0; k < in->nstats; k++) {
            const char *name = svc_stat_name(in, k, buf, sizeof buf);
            if (r->has_rate[k])
                cli_json_double(&j, name, r->rate[k]);
            else
                cli_json_null(&j, name);
        }
        cli_json_end(&j, '}');
        if (r->main_stat >= 0) {
            cli_json_str(&j, "main_stat", svc_stat_name(in, (uint32_t)r->main_stat, buf, sizeof buf));
            if (r->has_rate[r->main_stat])
                cli_json_double(&j, "rate", r->rate[r->main_stat]);
            else
                cli_json_null(&j, "rate");
        } else {
            cli_json_null(&j, "main_stat");
            cli_json_null(&j, "rate");
        }
        if (r->fill_used >= 0) {
            uint64_t u = in->stats[r->fill_used], s = r->fill_size;
            cli_json_begin(&j, "fill", '{');
            cli_json_str(&j, "used_stat", in->stat_names[r->fill_used]);
            cli_json_str(&j, "size_from", r->fill_size_name);
            cli_json_uint(&j, "used", u);
            cli_json_uint(&j, "size", s);
            if (s)
                cli_json_double(&j, "ratio", (double)u / (double)s);
            else
                cli_json_null(&j, "ratio");
            cli_json_end(&j, '}');
        } else {
            cli_json_null(&j, "fill");
        }
        cli_json_end(&j, '}');
    }
    cli_json_end(&j, ']');
    cli_json_end(&j, '}');
}

static void top_text(const top_sample *cur, const top_row *rows, uint64_t interval_ms, bool clear, bool live)
{
    uint32_t dead = 0, dead_svcs = 0;
    int wname = 4, wstat = 4;
    for (size_t i = 0; i < cur->n; i++) {
        dead += cur->v[i].dead;
        dead_svcs += cur->v[i].dead != 0;
        int l = (int)strlen(cur->v[i].name);
        if (l > wname)
            wname = l;
        if (rows[i].main_stat >= 0 && (l = (int)strlen(cur->v[i].stat_names[rows[i].main_stat])) > wstat)
            wstat = l > 23 ? 23 : l;
    }
    char tbuf[64];
    time_t now = (time_t)(cur->wall_ns / 1000000000u);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(tbuf, sizeof tbuf, "%H:%M:%S", &tm))
        snprintf(tbuf, sizeof tbuf, "?");
    if (clear)
        fputs("\033[H\033[2J", stdout);
    printf("shmipc top - %s, %zu service%s, %" PRIu32 " dead participant%s awaiting gc in %" PRIu32
           " service%s, every %" PRIu64 " ms%s\n\n",
           tbuf, cur->n, cur->n == 1 ? "" : "s", dead, dead == 1 ? "" : "s", dead_svcs, dead_svcs == 1 ? "" : "s",
           interval_ms, live ? " (q+Enter or Ctrl-C quits)" : "");
    printf("%-10s %-*s %5s %5s %12s %-*s %14s  %s\n", "PATTERN", wname, "NAME", "ALIVE", "DEAD", "RATE/s", wstat,
           "STAT", "TOTAL", "FILL");
    for (size_t i = 0; i < cur->n; i++) {
        const top_row *r = &rows[i];
        const shmipc_service_info *in = r->in;
        char rate[32] = "-", stat[4 * 24 + 8] = "-", total[24] = "-", fill[64] = "-";
        if (r->main_stat >= 0) {
            char nb[16];
            svc_printable(svc_stat_name(in, (uint32_t)r->main_stat, nb, sizeof nb), stat, sizeof stat);
            snprintf(total, sizeof total, "%" PRIu64, in->stats[r->main_stat]);
            if (r->has_rate[r->main_stat])
                snprintf(rate, sizeof rate, "%.1f", r->rate[r->main_stat]);
        }
        if (r->fill_used >= 0) {
            uint64_t u = in->stats[r->fill_used], s = r->fill_size;
            if (s)
                snprintf(fill, sizeof fill, "%" PRIu64 "/%" PRIu64 " (%.0f%%)", u, s, 100.0 * (double)u / (double)s);
            else
                snprintf(fill, sizeof fill, "%" PRIu64 "/0", u);
        }
        printf("%-10s %-*s %5" PRIu32 " %5" PRIu32 " %12s %-*s %14s  %s\n", shmipc_service_pattern_name(in->pattern),
               wname, in->name, svc_alive(in), in->dead, rate, wstat, stat, total, fill);
    }
    if (!cur->n)
        printf("(no services)\n");
    fflush(stdout);
}

/* Sleep until deadline (CLOCK_MONOTONIC ns), returning early on a signal or a "q" line on stdin. */
static void top_wait(uint64_t deadline, bool watch_stdin)
{
    while (!svc_stop) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now >= deadline)
            return;
        uint64_t ms = (deadline - now + 999999u) / 1000000u;
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&pfd, watch_stdin ? 1 : 0, ms > 60000 ? 60000 : (int)ms);
        if (r > 0) {
            char line[64];
            ssize_t n = read(STDIN_FILENO, line, sizeof line);
            if (n <= 0 || line[0] == 'q' || line[0] == 'Q')
                svc_stop = 1; /* also on end of input: nobody could quit otherwise */
        }
    }
}

int cli_cmd_top(int argc, char **argv)
{
    bool once = false, json = false;
    const char *interval_s = NULL, *count_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("once", '1', &once, "print one snapshot and exit (still samples twice, INTERVAL apart)"),
        CLI_OPT_FLAG("json", 'j', &json, "print one snapshot as a JSON object (with the rates) and exit"),
        CLI_OPT_VALUE("interval", 'i', "MS", &interval_s, "time between samples in milliseconds (default 1000)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "stop after N refreshes (default: until q or Ctrl-C)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc top",
        .summary = "Live view of the services on this machine: per service its pattern, live and dead "
                   "participants,\nmessage rate, the counter it comes from, and the fill of its pool or buffer "
                   "where its figures say.",
        .details = "Rates are the increase of a counter between two samples divided by the time between them; "
                   "the\nrate shown is that of the counter of messages (published, sent, requests, ...), --json "
                   "gives\nall of them. On a terminal the screen is redrawn every interval; otherwise frames "
                   "follow each\nother. Ctrl-C, or q and Enter, quits.",
        .opts = opts,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    uint64_t interval_ms = 1000, count = 0;
    if (interval_s && (cli_parse_uint(interval_s, 10, 3600000, &interval_ms) || interval_ms == 0))
        return cli_usage_error(&spec, "bad interval '%s' (want milliseconds, 1 to 3600000)", interval_s);
    if (count_s && (cli_parse_uint(count_s, 10, UINT32_MAX, &count) || count == 0))
        return cli_usage_error(&spec, "bad count '%s' (want a number of refreshes, at least 1)", count_s);
    if (once || json)
        count = 1;
    bool tty = isatty(STDOUT_FILENO) == 1;
    bool watch_stdin = count != 1 && isatty(STDIN_FILENO) == 1;

    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);

    top_sample prev = {0}, cur = {0};
    top_row *rows = NULL;
    int err = top_sample_take(&prev);
    for (uint64_t frames = 0; !err && !svc_stop && (count == 0 || frames < count); frames++) {
        top_wait(prev.t_ns + interval_ms * 1000000u, watch_stdin);
        if (svc_stop)
            break;
        if ((err = top_sample_take(&cur)) != 0)
            break;
        free(rows);
        rows = calloc(cur.n ? cur.n : 1, sizeof *rows);
        if (!rows) {
            err = -ENOMEM;
            break;
        }
        double secs = (double)(cur.t_ns - prev.t_ns) / 1e9;
        if (secs <= 0)
            secs = 1e-9;
        for (size_t i = 0; i < cur.n; i++)
            top_row_make(&rows[i], &cur.v[i], &prev, secs);
        if (json)
            top_json(&cur, rows, secs, interval_ms);
        else
            top_text(&cur, rows, interval_ms, tty && count != 1, count != 1);
        if (!tty && !json && count != 1)
            putchar('\n'); /* frames in a pipe or file: a blank line between them */
        top_sample_free(&prev);
        prev = cur;
        cur = (top_sample){0};
    }
    free(rows);
    top_sample_free(&prev);
    top_sample_free(&cur);
    svc_signals_restore(old_sig);
    if (err)
        return cli_fail(shmipc_segment_get_dir(), err);
    if (fflush(stdout) != 0)
        return cli_fail("stdout", -errno);
    return CLI_OK;
}
