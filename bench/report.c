/* SPDX-License-Identifier: MIT */
/*
 * bench/report.c - what `shmipc bench` prints: readable tables (one per mode, each mechanism with its
 * ratio to a reference), JSON and CSV for scripts (the SVG plot is bench/svg.c).
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The reference each ratio is taken against: the first of these names present in the results. shmipc's
 * busy-polling channel once it exists, otherwise the floor that shared memory can reach. */
static const char *const latency_refs[] = {"channel-spin", "cacheline", "ring"};
static const char *const throughput_refs[] = {"channel-spin", "ring"};

void bench_fmt_ns(char *buf, size_t cap, double ns)
{
    static const char *const unit[] = {"ns", "us", "ms", "s"};
    int u = 0;
    while (u < 3 && ns >= 999.5) {
        ns /= 1e3;
        u++;
    }
    /* Three significant digits at most: 45 ns, 13.4 us, 506 us, 1.42 ms. */
    snprintf(buf, cap, u == 0 || ns >= 99.95 ? "%.0f %s" : ns >= 9.995 ? "%.1f %s" : "%.2f %s", ns, unit[u]);
}

static void fmt_size(char *buf, size_t cap, size_t size)
{
    if (size >= (1u << 20) && size % (1u << 20) == 0)
        snprintf(buf, cap, "%zu MiB", size >> 20);
    else if (size >= 1024 && size % 1024 == 0)
        snprintf(buf, cap, "%zu KiB", size >> 10);
    else
        snprintf(buf, cap, "%zu B", size);
}

static void fmt_rate(char *buf, size_t cap, double v)
{
    if (v >= 1e9)
        snprintf(buf, cap, "%.2f G", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, cap, "%.2f M", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, cap, "%.1f k", v / 1e3);
    else
        snprintf(buf, cap, "%.0f", v);
}

static const bench_result *find(const bench_result *r, size_t n, bench_mode mode, const char *name, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].mode == mode && r[i].size == size && r[i].status == BENCH_OK && !strcmp(r[i].transport->name, name))
            return &r[i];
    return NULL;
}

/* Name of the reference for mode (NULL if none of the candidates ran). */
static const char *reference(const bench_result *r, size_t n, bench_mode mode)
{
    const char *const *refs = mode == BENCH_THROUGHPUT ? throughput_refs : latency_refs;
    size_t nrefs = mode == BENCH_THROUGHPUT ? sizeof throughput_refs / sizeof throughput_refs[0]
                                            : sizeof latency_refs / sizeof latency_refs[0];
    for (size_t k = 0; k < nrefs; k++)
        for (size_t i = 0; i < n; i++)
            if (r[i].mode == mode && r[i].status == BENCH_OK && !strcmp(r[i].transport->name, refs[k]))
                return refs[k];
    return NULL;
}

/* Latency ratio: how many times slower than the reference (p50). Throughput: the fraction of the
 * reference's messages per second. 0 when there is nothing to compare with. */
static double ratio_of(const bench_result *r, size_t n, const bench_result *x)
{
    const char *ref = reference(r, n, x->mode);
    const bench_result *b = ref ? find(r, n, x->mode, ref, x->size) : NULL;
    if (!b || x->status != BENCH_OK)
        return 0;
    if (x->mode == BENCH_THROUGHPUT)
        return b->msgs_per_s > 0 ? x->msgs_per_s / b->msgs_per_s : 0;
    return b->p50 > 0 ? (double)x->p50 / (double)b->p50 : 0;
}

/* The j-th result of mode when the results are ordered by size first (in the order sizes were given),
 * then by mechanism; NULL when j is past them. Tables read better with all mechanisms of one size
 * together, while the driver runs one mechanism at all sizes in turn. */
static const bench_result *by_size(const bench_result *r, size_t n, bench_mode mode, size_t j)
{
    size_t k = 0;
    for (size_t a = 0; a < n; a++) {
        if (r[a].mode != mode)
            continue;
        /* Is r[a].size the first occurrence of its size in this mode? */
        bool first = true;
        for (size_t b = 0; b < a && first; b++)
            first = !(r[b].mode == mode && r[b].size == r[a].size);
        if (!first)
            continue;
        for (size_t b = a; b < n; b++)
            if (r[b].mode == mode && r[b].size == r[a].size && k++ == j)
                return &r[b];
    }
    return NULL;
}

static void not_ok(FILE *f, const bench_result *x)
{
    if (x->status == BENCH_NA)
        fprintf(f, "n/a (%s)\n", x->note);
    else
        fprintf(f, "error: %s: %s\n", x->note, strerror(x->err < 0 ? -x->err : x->err));
}

/* A ratio in its 7-character column: two decimals, "<0.01" below that, "-" if there is none. */
static void print_ratio(FILE *f, double q)
{
    if (q <= 0)
        fprintf(f, "%7s ", "-");
    else if (q < 0.005)
        fprintf(f, "%7s ", "<0.01");
    else if (q >= 9999.5)
        fprintf(f, "%7.1e ", q);
    else
        fprintf(f, "%7.2f ", q);
}

/* Start row j of a table (NULL past the last): the size when it changes (*last holds the previous
 * row's), the mechanism, and for a cell that did not run normally the whole rest of the row. */
static const bench_result *row_start(FILE *f, const bench_result *r, size_t n, bench_mode mode, size_t j,
                                     size_t *last)
{
    const bench_result *x = by_size(r, n, mode, j);
    if (!x)
        return NULL;
    char sz[32] = "";
    if (j == 0 || x->size != *last)
        fmt_size(sz, sizeof sz, x->size);
    *last = x->size;
    fprintf(f, "%-8s %-15s ", sz, x->transport->name);
    if (x->status != BENCH_OK)
        not_ok(f, x);
    return x;
}

static void table_latency(FILE *f, const bench_config *cfg, const bench_result *r, size_t n, bench_mode mode)
{
    const char *ref = reference(r, n, mode);
    if (mode == BENCH_LATENCY)
        fprintf(f, "\nLatency, one way (= round trip / 2), at most %llu round trips or %.2f s per cell after warm-up\n",
                (unsigned long long)cfg->iterations, cfg->duration_s);
    else
        fprintf(f, "\nLow rate: %llu round trips/s of %zu B (%llu of them); CPU of all processes while mostly idle\n",
                (unsigned long long)cfg->lowrate_hz, cfg->lowrate_size, (unsigned long long)cfg->lowrate_count);
    if (ref)
        fprintf(f, "ratio = p50 / p50 of %s at the same size (2.00 = twice as slow)\n", ref);
    fprintf(f, "%-8s %-15s %9s %9s %9s %9s %7s %9s%s\n", "size", "mechanism", "p50", "p99", "p99.9", "max", "ratio",
            "cpu/rt", mode == BENCH_LOWRATE ? "  cpu/core" : "");
    const bench_result *x;
    for (size_t j = 0, last = 0; (x = row_start(f, r, n, mode, j, &last)) != NULL; j++) {
        if (x->status != BENCH_OK)
            continue;
        char a[24], b[24], c[24], d[24], e[24];
        bench_fmt_ns(a, sizeof a, (double)x->p50);
        bench_fmt_ns(b, sizeof b, (double)x->p99);
        bench_fmt_ns(c, sizeof c, (double)x->p999);
        bench_fmt_ns(d, sizeof d, (double)x->max);
        bench_fmt_ns(e, sizeof e, x->cpu_ns_per_msg);
        fprintf(f, "%9s %9s %9s %9s ", a, b, c, d);
        print_ratio(f, ratio_of(r, n, x));
        fprintf(f, "%9s", e);
        if (mode == BENCH_LOWRATE)
            fprintf(f, "  %7.1f %%", x->cpu_ns_per_msg * (double)cfg->lowrate_hz / 1e7);
        fputc('\n', f);
    }
}

static void table_throughput(FILE *f, const bench_config *cfg, const bench_result *r, size_t n)
{
    const char *ref = reference(r, n, BENCH_THROUGHPUT);
    fprintf(f, "\nThroughput, one-way streaming, at most %.2f s per cell after warm-up\n", cfg->duration_s);
    if (ref)
        fprintf(f, "ratio = messages/s / messages/s of %s at the same size (0.50 = half as many)\n", ref);
    fprintf(f, "%-8s %-15s %11s %10s %7s %9s\n", "size", "mechanism", "msgs/s", "GB/s", "ratio", "cpu/msg");
    const bench_result *x;
    for (size_t j = 0, last = 0; (x = row_start(f, r, n, BENCH_THROUGHPUT, j, &last)) != NULL; j++) {
        if (x->status != BENCH_OK)
            continue;
        char a[24], e[24];
        fmt_rate(a, sizeof a, x->msgs_per_s);
        bench_fmt_ns(e, sizeof e, x->cpu_ns_per_msg);
        fprintf(f, "%11s %10.3f ", a, x->bytes_per_s / 1e9);
        print_ratio(f, ratio_of(r, n, x));
        fprintf(f, "%9s\n", e);
    }
}

/* The fan-out result of family fam with n receivers at size in mode; NULL if it did not run. */
static const bench_result *find_fan(const bench_result *r, size_t n, bench_mode mode, const char *fam,
                                    unsigned nrecv, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].mode == mode && r[i].size == size && r[i].transport->fanout == nrecv && r[i].transport->family &&
            !strcmp(r[i].transport->family, fam))
            return &r[i];
    return NULL;
}

/* One family's two cells of a fan-out row: p50 latency and messages/s ("-" where not run or failed). */
static void fan_cells(FILE *f, const bench_result *lat, const bench_result *thr)
{
    char a[24] = "-", b[24] = "-";
    if (lat && lat->status == BENCH_OK)
        bench_fmt_ns(a, sizeof a, (double)lat->p50);
    else if (lat)
        snprintf(a, sizeof a, "%s", lat->status == BENCH_NA ? "n/a" : "error");
    if (thr && thr->status == BENCH_OK)
        fmt_rate(b, sizeof b, thr->msgs_per_s);
    else if (thr)
        snprintf(b, sizeof b, "%s", thr->status == BENCH_NA ? "n/a" : "error");
    fprintf(f, " %10s %10s", a, b);
}

/*
 * The fan-out table: for each size and receiver count N, every family's p50 latency until the last
 * receiver has the message and its streaming rate (messages/s the sender publishes, each delivered to all
 * N). The first family (pubsub) is the reference of the ratio columns. Printed when fan-out cells ran.
 */
static void table_fanout(FILE *f, const bench_result *r, size_t n)
{
    const char *fams[4];
    size_t nfams = 0;
    unsigned ns[BENCH_MAX_RECEIVERS];
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        const bench_transport *t = r[i].transport;
        if (!t->fanout || !t->family)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nfams; k++)
            seen |= !strcmp(fams[k], t->family);
        if (!seen && nfams < sizeof fams / sizeof fams[0])
            fams[nfams++] = t->family;
        seen = false;
        for (size_t k = 0; k < nn; k++)
            seen |= ns[k] == t->fanout;
        if (!seen && nn < BENCH_MAX_RECEIVERS)
            ns[nn++] = t->fanout;
    }
    if (!nfams)
        return;
    for (size_t a = 1; a < nn; a++) /* receiver counts ascending */
        for (size_t b = a; b > 0 && ns[b - 1] > ns[b]; b--) {
            unsigned t = ns[b];
            ns[b] = ns[b - 1];
            ns[b - 1] = t;
        }
    fprintf(f, "\nFan-out 1 -> N: p50 latency until the last of N receivers has the message (round trip / 2),\n"
               "and messages/s streamed to all N; ratio = %s's figure / %s's (latency: >1 = slower)\n",
            nfams > 1 ? fams[1] : fams[0], fams[0]);
    fprintf(f, "%-8s %3s", "size", "N");
    for (size_t k = 0; k < nfams; k++) {
        char h1[40], h2[40];
        snprintf(h1, sizeof h1, "%.20s p50", fams[k]);
        snprintf(h2, sizeof h2, "%.20s msg/s", fams[k]);
        fprintf(f, " %10s %10s", h1, h2);
    }
    if (nfams > 1)
        fprintf(f, " %7s %7s", "lat x", "rate x");
    fputc('\n', f);
    for (size_t a = 0; a < n; a++) {
        if (!r[a].transport->fanout)
            continue;
        bool first = true; /* the first fan-out result of its size: the size's rows start here */
        for (size_t b = 0; b < a && first; b++)
            first = !(r[b].transport->fanout && r[b].size == r[a].size);
        if (!first)
            continue;
        for (size_t k = 0; k < nn; k++) {
            char sz[32] = "";
            if (k == 0)
                fmt_size(sz, sizeof sz, r[a].size);
            fprintf(f, "%-8s %3u", sz, ns[k]);
            const bench_result *lat0 = NULL, *thr0 = NULL, *lat1 = NULL, *thr1 = NULL;
            for (size_t q = 0; q < nfams; q++) {
                const bench_result *lat = find_fan(r, n, BENCH_LATENCY, fams[q], ns[k], r[a].size);
                const bench_result *thr = find_fan(r, n, BENCH_THROUGHPUT, fams[q], ns[k], r[a].size);
                fan_cells(f, lat, thr);
                if (q == 0) {
                    lat0 = lat;
                    thr0 = thr;
                } else if (q == 1) {
                    lat1 = lat;
                    thr1 = thr;
                }
            }
            if (nfams > 1) {
                bool lok = lat0 && lat1 && lat0->status == BENCH_OK && lat1->status == BENCH_OK && lat0->p50;
                bool tok = thr0 && thr1 && thr0->status == BENCH_OK && thr1->status == BENCH_OK && thr0->msgs_per_s > 0;
                fputc(' ', f);
                print_ratio(f, lok ? (double)lat1->p50 / (double)lat0->p50 : 0);
                print_ratio(f, tok ? thr1->msgs_per_s / thr0->msgs_per_s : 0);
            }
            fputc('\n', f);
        }
    }
}

/*
 * Issue 3's targets for the channel, checked when both sides of a comparison ran: each compares a value
 * of mechanism a with one of b (same mode and size) and passes when a <= b * factor ("at most") or
 * a >= b * factor ("at least").
 */
typedef enum target_value { T_P50, T_MSGS_PER_S, T_CPU } target_value;
typedef struct target {
    const char *what;
    bench_mode mode;
    size_t size;
    const char *a, *b;
    target_value value;
    bool at_least;
    double factor;
} target;

static const target targets[] = {
    {"busy-poll 64 B latency within 1.5x of the bare cache line", BENCH_LATENCY, 64, "channel-spin", "cacheline",
     T_P50, false, 1.5},
    {"busy-poll 64 B streaming at least half of a bare ring", BENCH_THROUGHPUT, 64, "channel-spin", "ring",
     T_MSGS_PER_S, true, 0.5},
    {"blocking 64 B latency no slower than a pipe", BENCH_LATENCY, 64, "channel-block", "pipe", T_P50, false, 1.0},
    {"spin-then-sleep 64 B latency as fast as busy-poll (within 1.2x) when dense", BENCH_LATENCY, 64,
     "channel-hybrid", "channel-spin", T_P50, false, 1.2},
    {"spin-then-sleep CPU per message as low as blocking (within 1.5x) at a low rate", BENCH_LOWRATE, 0,
     "channel-hybrid", "channel-block", T_CPU, false, 1.5},
};

static double target_get(const bench_result *x, target_value v)
{
    return v == T_P50 ? (double)x->p50 : v == T_MSGS_PER_S ? x->msgs_per_s : x->cpu_ns_per_msg;
}

static const bench_result *find_any_size(const bench_result *r, size_t n, bench_mode mode, const char *name,
                                         size_t size)
{
    if (size)
        return find(r, n, mode, name, size);
    for (size_t i = 0; i < n; i++)
        if (r[i].mode == mode && r[i].status == BENCH_OK && !strcmp(r[i].transport->name, name))
            return &r[i];
    return NULL;
}

static void report_targets(FILE *f, const bench_result *r, size_t n)
{
    bool header = false;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const target *t = &targets[i];
        const bench_result *a = find_any_size(r, n, t->mode, t->a, t->size);
        const bench_result *b = find_any_size(r, n, t->mode, t->b, t->size);
        if (!a || !b)
            continue;
        if (!header) {
            fprintf(f, "\nTargets (issue 3), from this run:\n");
            header = true;
        }
        double va = target_get(a, t->value), vb = target_get(b, t->value);
        bool met = t->at_least ? va >= vb * t->factor : va <= vb * t->factor;
        fprintf(f, "  %-6s %s: %s / %s = %.2f\n", met ? "met" : "MISSED", t->what, t->a, t->b, vb > 0 ? va / vb : 0);
    }
}

void bench_report_table(FILE *f, const bench_config *cfg, const bench_machine *m, const bench_result *r, size_t n)
{
    fprintf(f, "shmipc bench: %s, %u CPUs, %s, %s\n", m->cpu_model, m->ncpus, m->kernel, m->date);
    if (m->same_core)
        fprintf(f, "only one CPU available: both processes run on CPU %d (busy-waiting yields)\n", m->cpu_a);
    else
        fprintf(f, "sender pinned to CPU %d, receiver to CPU %d\n", m->cpu_a, m->cpu_b);
    if (cfg->repeat > 1)
        fprintf(f, "every cell was run %u times; each row is its median run\n", cfg->repeat);
    for (int mode = 0; mode < BENCH_NMODES; mode++) {
        bool any = false;
        for (size_t i = 0; i < n; i++)
            any |= r[i].mode == (bench_mode)mode;
        if (!any)
            continue;
        if (mode == BENCH_THROUGHPUT)
            table_throughput(f, cfg, r, n);
        else
            table_latency(f, cfg, r, n, (bench_mode)mode);
    }
    table_fanout(f, r, n);
    report_targets(f, r, n);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static const char *status_name(bench_status s)
{
    return s == BENCH_OK ? "ok" : s == BENCH_NA ? "n/a" : "error";
}

void bench_json_head(FILE *f, const bench_config *cfg, const bench_machine *m, const char *cmdline)
{
    fprintf(f, "  \"machine\": {\"cpu\": ");
    json_str(f, m->cpu_model);
    fprintf(f, ", \"ncpus\": %u, \"kernel\": ", m->ncpus);
    json_str(f, m->kernel);
    fprintf(f, ", \"date\": ");
    json_str(f, m->date);
    fprintf(f, ", \"sender_cpu\": %d, \"receiver_cpu\": %d, \"same_core\": %s},\n", m->cpu_a, m->cpu_b,
            m->same_core ? "true" : "false");
    fprintf(f, "  \"command\": ");
    json_str(f, cmdline);
    fprintf(f, ",\n  \"config\": {\"iterations\": %llu, \"messages\": %llu, \"duration_s\": %g, "
               "\"lowrate_hz\": %llu, \"lowrate_count\": %llu, \"lowrate_size\": %zu, \"repeat\": %u},\n",
            (unsigned long long)cfg->iterations, (unsigned long long)cfg->messages, cfg->duration_s,
            (unsigned long long)cfg->lowrate_hz, (unsigned long long)cfg->lowrate_count, cfg->lowrate_size, cfg->repeat);
}

void bench_json_str(FILE *f, const char *s) { json_str(f, s); }

void bench_json_results(FILE *f, const bench_result *r, size_t n)
{
    fprintf(f, "  \"results\": [");
    for (size_t i = 0; i < n; i++) {
        const bench_result *x = &r[i];
        const char *ref = reference(r, n, x->mode);
        fprintf(f, "%s\n    {\"mode\": \"%s\", \"mechanism\": ", i ? "," : "", bench_mode_name(x->mode));
        json_str(f, x->transport->name);
        fprintf(f, ", \"busy_wait\": %s, \"size\": %zu, \"status\": \"%s\"", x->transport->spins ? "true" : "false",
                x->size, status_name(x->status));
        if (x->transport->fanout) {
            fprintf(f, ", \"family\": ");
            json_str(f, x->transport->family);
            fprintf(f, ", \"receivers\": %u", x->transport->fanout);
        }
        if (x->status != BENCH_OK) {
            fprintf(f, ", \"note\": ");
            json_str(f, x->note);
            if (x->status == BENCH_ERROR)
                fprintf(f, ", \"error\": %d", x->err);
            fputc('}', f);
            continue;
        }
        fprintf(f, ", \"messages\": %llu, \"elapsed_s\": %.6f, \"cpu_ns_per_msg\": %.1f", (unsigned long long)x->messages,
                x->elapsed_s, x->cpu_ns_per_msg);
        if (x->mode == BENCH_THROUGHPUT)
            fprintf(f, ", \"msgs_per_s\": %.1f, \"bytes_per_s\": %.1f", x->msgs_per_s, x->bytes_per_s);
        else
            fprintf(f, ", \"p50_ns\": %llu, \"p90_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, \"max_ns\": %llu, "
                       "\"min_ns\": %llu, \"mean_ns\": %.1f",
                    (unsigned long long)x->p50, (unsigned long long)x->p90, (unsigned long long)x->p99,
                    (unsigned long long)x->p999, (unsigned long long)x->max, (unsigned long long)x->min, x->mean);
        double q = ratio_of(r, n, x);
        if (q > 0) {
            fprintf(f, ", \"ratio\": %.4f, \"reference\": ", q);
            json_str(f, ref);
        }
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n");
}

void bench_report_json(FILE *f, const bench_config *cfg, const bench_machine *m, const char *cmdline,
                       const bench_result *r, size_t n)
{
    fprintf(f, "{\n");
    bench_json_head(f, cfg, m, cmdline);
    bench_json_results(f, r, n);
    fprintf(f, "}\n");
}

void bench_report_csv(FILE *f, const bench_result *r, size_t n)
{
    fprintf(f, "mode,mechanism,size,status,messages,p50_ns,p99_ns,p999_ns,max_ns,mean_ns,msgs_per_s,bytes_per_s,"
               "cpu_ns_per_msg,ratio,note\n");
    for (size_t i = 0; i < n; i++) {
        const bench_result *x = &r[i];
        fprintf(f, "%s,%s,%zu,%s,", bench_mode_name(x->mode), x->transport->name, x->size, status_name(x->status));
        if (x->status == BENCH_OK) {
            fprintf(f, "%llu,", (unsigned long long)x->messages);
            if (x->mode == BENCH_THROUGHPUT)
                fprintf(f, ",,,,,%.1f,%.1f,", x->msgs_per_s, x->bytes_per_s);
            else
                fprintf(f, "%llu,%llu,%llu,%llu,%.1f,,,", (unsigned long long)x->p50, (unsigned long long)x->p99,
                        (unsigned long long)x->p999, (unsigned long long)x->max, x->mean);
            double q = ratio_of(r, n, x);
            fprintf(f, "%.1f,", x->cpu_ns_per_msg);
            if (q > 0)
                fprintf(f, "%.4f", q);
            fprintf(f, ",\n");
        } else {
            /* Notes never contain commas or quotes we did not write; quote them anyway. */
            fprintf(f, ",,,,,,,,,,\"");
            for (const char *s = x->note; *s; s++) {
                if (*s == '"')
                    fputc('"', f);
                fputc(*s, f);
            }
            fprintf(f, "\"\n");
        }
    }
}
