/* SPDX-License-Identifier: MIT */
/*
 * bench/targets.c - the performance targets of issue 9 ("one core under every pattern"), measured by
 * `shmipc bench --targets` in one run: every target is the ratio of two cells of that run (same machine,
 * same minute, same method) against a bound, so that the figure means something on any machine.
 *
 * The cells are ordinary driver cells (bench/driver.c), run side by side: with --repeat N the driver goes
 * round all of them N times and keeps each cell's median run, and the ratio is taken between medians.
 * The transports are the same ones the tables use; pub/sub and request/response are reached only through
 * their public API (bench/t_pubsub.c, bench/t_reqresp.c), so the targets keep measuring whatever those
 * layers become.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum tvalue { TV_P50, TV_MSGS_PER_S, TV_CPU } tvalue;

/* One target: value(a) / value(b) compared with bound ("at least" or "at most"). size 0: one target
 * per hybrid-versus-spin size (64 B to 1 MiB). A reference (ref) is no target: the same ratio taken
 * between the kernel's own mechanisms or floors, printed under the targets it bounds, so that a reader
 * sees in the same run how close the machine lets any IPC come to a bound. */
typedef struct tdef {
    const char *id;   /* short name: the first column and the JSON key */
    const char *what; /* what it says, in words */
    bench_mode mode;
    size_t size;
    const char *a, *b;
    tvalue value;
    bool at_least;
    double bound;
    bool ref;
} tdef;

static const tdef defs[] = {
    {"pubsub-stream", "pub/sub busy-poll 64 B streaming, msg/s of the bare ring", BENCH_THROUGHPUT, 64, "pubsub-spin",
     "ring", TV_MSGS_PER_S, true, 0.50, false},
    {"pubsub-latency", "pub/sub (hybrid) 64 B latency p50, of channel-spin's", BENCH_LATENCY, 64, "pubsub",
     "channel-spin", TV_P50, false, 1.3, false},
    {"fanout-1to8", "pub/sub 64 B fan-out, until the last of 8 subscribers has it, of 1 -> 1", BENCH_LATENCY, 64,
     "pubsub-x8", "pubsub-x1", TV_P50, false, 2.0, false},
    {"fanout-pipes", "reference: 8 pipes 64 B fan-out, until the last of 8 receivers has it, of 1 pipe",
     BENCH_LATENCY, 64, "pipe-x8", "pipe-x1", TV_P50, false, 2.0, true},
    {"reqresp-rtt", "request/response 64 B round trip p50, of channel-spin's", BENCH_LATENCY, 64, "reqresp",
     "channel-spin", TV_P50, false, 1.3, false},
    {"reqresp-stream", "request/response 64 B streaming, msg/s of the bare ring", BENCH_THROUGHPUT, 64, "reqresp",
     "ring", TV_MSGS_PER_S, true, 0.30, false},
    {"hybrid-channel", "channel default (hybrid) streaming, msg/s of channel-spin", BENCH_THROUGHPUT, 0,
     "channel-hybrid", "channel-spin", TV_MSGS_PER_S, true, 0.80, false},
    {"hybrid-pubsub", "pub/sub default (hybrid) streaming, msg/s of pubsub-spin", BENCH_THROUGHPUT, 0, "pubsub",
     "pubsub-spin", TV_MSGS_PER_S, true, 0.80, false},
    {"blocking-channel", "channel blocking 64 B round trip p50, of a pipe's", BENCH_LATENCY, 64, "channel-block",
     "pipe", TV_P50, false, 1.0, false},
    {"blocking-pubsub", "pub/sub blocking 64 B round trip p50 (pubsub-x1), of a pipe's", BENCH_LATENCY, 64,
     "pubsub-x1", "pipe", TV_P50, false, 1.0, false},
    {"lowrate-channel", "channel hybrid CPU per round trip at a low rate, of a pipe's", BENCH_LOWRATE, 0,
     "channel-hybrid", "pipe", TV_CPU, false, 1.2, false},
    {"lowrate-pubsub", "pub/sub hybrid CPU per round trip at a low rate, of a pipe's", BENCH_LOWRATE, 0, "pubsub",
     "pipe", TV_CPU, false, 1.2, false},
};
#define NDEFS (sizeof defs / sizeof defs[0])

static bool def_per_size(const tdef *d) { return d->mode != BENCH_LOWRATE && d->size == 0; }

static int add_cell(bench_cell *cells, size_t *n, const char *name, bench_mode mode, size_t size)
{
    const bench_transport *t = bench_transport_find(name);
    if (!t)
        return -ENOENT;
    for (size_t i = 0; i < *n; i++)
        if (cells[i].transport == t && cells[i].mode == mode && (mode == BENCH_LOWRATE || cells[i].size == size))
            return 0;
    cells[(*n)++] = (bench_cell){.transport = t, .mode = mode, .size = size};
    return 0;
}

int bench_targets_cells(const size_t *sizes, size_t nsizes, bench_cell **cells, size_t *ncells)
{
    /* At most two cells per (def, size), fewer once shared. */
    size_t cap = 2 * NDEFS * (nsizes + 1);
    bench_cell *c = calloc(cap, sizeof *c);
    if (!c)
        return -ENOMEM;
    size_t n = 0;
    int err = 0;
    /* Grouped by mode, then by definition: cells of one comparison run next to each other. */
    for (int mode = 0; mode < BENCH_NMODES && !err; mode++)
        for (size_t i = 0; i < NDEFS && !err; i++) {
            const tdef *d = &defs[i];
            if (d->mode != (bench_mode)mode)
                continue;
            if (!def_per_size(d)) {
                if (!(err = add_cell(c, &n, d->a, d->mode, d->size)))
                    err = add_cell(c, &n, d->b, d->mode, d->size);
                continue;
            }
            for (size_t s = 0; s < nsizes && !err; s++)
                if (!(err = add_cell(c, &n, d->a, d->mode, sizes[s])))
                    err = add_cell(c, &n, d->b, d->mode, sizes[s]);
        }
    if (err) {
        free(c);
        return err;
    }
    *cells = c;
    *ncells = n;
    return 0;
}

static const bench_result *cell_of(const bench_result *r, size_t n, const char *name, bench_mode mode, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].mode == mode && (mode == BENCH_LOWRATE || r[i].size == size) && !strcmp(r[i].transport->name, name))
            return &r[i];
    return NULL;
}

static double value_of(const bench_result *x, tvalue v)
{
    return v == TV_P50 ? (double)x->p50 : v == TV_MSGS_PER_S ? x->msgs_per_s : x->cpu_ns_per_msg;
}

/* One evaluated target. */
typedef struct tres {
    const tdef *d;
    size_t size;
    const bench_result *a, *b; /* NULL if that cell did not run */
    double va, vb, ratio;
    bool ok;  /* both cells measured, ratio computed */
    bool met;
} tres;

/* Evaluate every target at every size present in the results; *out is malloc'ed (NULL on ENOMEM). */
static size_t evaluate(const bench_result *r, size_t n, tres **out)
{
    /* The sizes of the per-size targets: those of the throughput cells, in the order they ran. */
    size_t *sizes = calloc(n ? n : 1, sizeof *sizes), nsizes = 0;
    tres *t = calloc(NDEFS * (n + 1), sizeof *t);
    *out = NULL;
    if (!sizes || !t) {
        free(sizes);
        free(t);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].mode != BENCH_THROUGHPUT)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nsizes; k++)
            seen |= sizes[k] == r[i].size;
        if (!seen)
            sizes[nsizes++] = r[i].size;
    }
    size_t nt = 0;
    for (size_t i = 0; i < NDEFS; i++) {
        const tdef *d = &defs[i];
        size_t ns = def_per_size(d) ? nsizes : 1;
        for (size_t s = 0; s < ns; s++) {
            size_t size = def_per_size(d) ? sizes[s] : d->size;
            tres *x = &t[nt];
            x->d = d;
            x->size = size;
            x->a = cell_of(r, n, d->a, d->mode, size);
            x->b = cell_of(r, n, d->b, d->mode, size);
            if (!x->a || !x->b)
                continue; /* not part of this run */
            nt++;
            if (x->a->status != BENCH_OK || x->b->status != BENCH_OK)
                continue;
            x->va = value_of(x->a, d->value);
            x->vb = value_of(x->b, d->value);
            if (!(x->vb > 0))
                continue;
            x->ok = true;
            x->ratio = x->va / x->vb;
            x->met = d->at_least ? x->ratio >= d->bound : x->ratio <= d->bound;
        }
    }
    free(sizes);
    *out = t;
    return nt;
}

/* "pubsub-stream" or, for a per-size target, "hybrid-channel@64K". */
static void target_name(char *buf, size_t cap, const tres *x)
{
    if (!def_per_size(x->d)) {
        snprintf(buf, cap, "%s", x->d->id);
        return;
    }
    size_t s = x->size;
    if (s >= (1u << 20) && s % (1u << 20) == 0)
        snprintf(buf, cap, "%s@%zuM", x->d->id, s >> 20);
    else if (s >= 1024 && s % 1024 == 0)
        snprintf(buf, cap, "%s@%zuK", x->d->id, s >> 10);
    else
        snprintf(buf, cap, "%s@%zu", x->d->id, s);
}

static void fmt_value(char *buf, size_t cap, tvalue v, double x)
{
    if (v == TV_MSGS_PER_S) {
        if (x >= 1e6)
            snprintf(buf, cap, "%.2f M/s", x / 1e6);
        else if (x >= 1e3)
            snprintf(buf, cap, "%.1f k/s", x / 1e3);
        else
            snprintf(buf, cap, "%.0f /s", x);
    } else {
        bench_fmt_ns(buf, cap, x);
    }
}

static const char *verdict(const tres *x)
{
    return !x->ok ? "error" : x->d->ref ? "ref" : x->met ? "met" : "not met";
}

/* Why a target could not be computed: the first failed cell's note. */
static const bench_result *failed_cell(const tres *x)
{
    return x->a->status != BENCH_OK ? x->a : x->b->status != BENCH_OK ? x->b : NULL;
}

size_t bench_targets_report(FILE *f, const bench_config *cfg, const bench_machine *m, const bench_result *r, size_t n)
{
    tres *t;
    size_t nt = evaluate(r, n, &t), bad = 0, nmet = 0;
    fprintf(f, "shmipc bench --targets: %s, %u CPUs, %s, %s\n", m->cpu_model, m->ncpus, m->kernel, m->date);
    if (m->same_core)
        fprintf(f, "only one CPU available: both processes run on CPU %d (busy-waiting yields)\n", m->cpu_a);
    else
        fprintf(f, "sender pinned to CPU %d, receiver to CPU %d\n", m->cpu_a, m->cpu_b);
    unsigned rep = cfg->repeat < 1 ? 1 : cfg->repeat;
    fprintf(f, "%zu cells in one run, at most %.2f s each; low rate: %llu round trips/s of %zu B\n", n,
            cfg->duration_s, (unsigned long long)cfg->lowrate_hz, cfg->lowrate_size);
    if (rep > 1)
        fprintf(f, "every cell run %u times, round all cells in turn; each figure is the cell's median run\n", rep);
    else
        fprintf(f, "every cell run once (--repeat N for the median of N runs)\n");
    fprintf(f, "ratio = a / b of the two cells named; met when ratio >= or <= the bound as shown;\n"
               "ref: the same ratio between the kernel's own mechanisms, the reach of the bound above it\n\n");
    fprintf(f, "%-22s %7s %9s  %-8s %-44s %s\n", "target", "ratio", "bound", "result", "a / b", "what");
    for (size_t i = 0; i < nt; i++) {
        const tres *x = &t[i];
        char name[48], bound[16], ab[96], va[24], vb[24];
        target_name(name, sizeof name, x);
        snprintf(bound, sizeof bound, "%s %.2f", x->d->at_least ? ">=" : "<=", x->d->bound);
        if (x->ok) {
            fmt_value(va, sizeof va, x->d->value, x->va);
            fmt_value(vb, sizeof vb, x->d->value, x->vb);
            snprintf(ab, sizeof ab, "%s %s / %s %s", x->d->a, va, x->d->b, vb);
            fprintf(f, "%-22s %7.2f %9s  %-8s %-44s %s\n", name, x->ratio, x->d->ref ? "-" : bound, verdict(x), ab,
                    x->d->what);
            nmet += x->met && !x->d->ref;
        } else {
            const bench_result *fc = failed_cell(x);
            fprintf(f, "%-22s %7s %9s  %-8s %s %s: %s\n", name, "-", bound, verdict(x), fc ? fc->transport->name : "?",
                    fc && fc->status == BENCH_NA ? "n/a" : "failed", fc ? fc->note : "no value");
            bad++;
        }
    }
    size_t nref = 0;
    for (size_t i = 0; i < nt; i++)
        nref += t[i].d->ref;
    fprintf(f, "\n%zu of %zu targets met", nmet, nt - nref);
    if (bad)
        fprintf(f, ", %zu could not be measured", bad);
    fprintf(f, "\n");
    free(t);
    return bad;
}

size_t bench_targets_json(FILE *f, const bench_config *cfg, const bench_machine *m, const char *cmdline,
                          const bench_result *r, size_t n)
{
    tres *t;
    size_t nt = evaluate(r, n, &t), bad = 0;
    fprintf(f, "{\n");
    bench_json_head(f, cfg, m, cmdline);
    fprintf(f, "  \"statistic\": \"%s\",\n  \"targets\": [", (cfg->repeat > 1) ? "median" : "single run");
    for (size_t i = 0; i < nt; i++) {
        const tres *x = &t[i];
        char name[48];
        target_name(name, sizeof name, x);
        fprintf(f, "%s\n    {\"target\": ", i ? "," : "");
        bench_json_str(f, name);
        fprintf(f, ", \"what\": ");
        bench_json_str(f, x->d->what);
        fprintf(f, ", \"mode\": \"%s\", \"size\": %zu, \"a\": ", bench_mode_name(x->d->mode), x->a->size);
        bench_json_str(f, x->d->a);
        fprintf(f, ", \"b\": ");
        bench_json_str(f, x->d->b);
        fprintf(f, ", \"value\": \"%s\", \"op\": \"%s\", \"bound\": %.2f",
                x->d->value == TV_P50 ? "p50_ns" : x->d->value == TV_MSGS_PER_S ? "msgs_per_s" : "cpu_ns_per_msg",
                x->d->at_least ? ">=" : "<=", x->d->bound);
        fprintf(f, ", \"reference\": %s", x->d->ref ? "true" : "false");
        if (x->ok && x->d->ref)
            fprintf(f, ", \"a_value\": %.1f, \"b_value\": %.1f, \"ratio\": %.4f, \"met\": null, \"result\": \"%s\"}",
                    x->va, x->vb, x->ratio, verdict(x));
        else if (x->ok)
            fprintf(f, ", \"a_value\": %.1f, \"b_value\": %.1f, \"ratio\": %.4f, \"met\": %s, \"result\": \"%s\"}",
                    x->va, x->vb, x->ratio, x->met ? "true" : "false", verdict(x));
        else {
            bad++;
            fprintf(f, ", \"ratio\": null, \"met\": null, \"result\": \"error\"}");
        }
    }
    fprintf(f, "\n  ],\n");
    bench_json_results(f, r, n);
    fprintf(f, "}\n");
    free(t);
    return bad;
}
