/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_bench.c - `shmipc bench`: measures latency, throughput and CPU cost of shmipc and of
 * the kernel's IPC mechanisms with one method (see bench/bench.h and docs/benchmarks.md). This file only
 * parses options and picks the output; the engine is the shmipc_bench library.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SHMIPC_HAVE_BENCH
#include "bench.h"

#define MAX_SIZES 32

static int parse_modes(const char *arg, unsigned *modes)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    *modes = 0;
    int err = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "all"))
            *modes |= BENCH_CAP_ALL;
        else if (!strcmp(tok, "latency"))
            *modes |= BENCH_CAP_LATENCY;
        else if (!strcmp(tok, "throughput"))
            *modes |= BENCH_CAP_THROUGHPUT;
        else if (!strcmp(tok, "lowrate"))
            *modes |= BENCH_CAP_LOWRATE;
        else
            err = -EINVAL;
    }
    free(copy);
    return err ? err : (*modes ? 0 : -EINVAL);
}

/* Comma-separated sizes into sizes[] (at most MAX_SIZES); a message on stderr says what is wrong. */
static int parse_sizes(const cli_spec *spec, const char *arg, size_t *sizes, size_t *n)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (cli_parse_size(tok, &v) || v < BENCH_MIN_SIZE || v > BENCH_MAX_SIZE)
            rc = cli_usage_error(spec, "bad size '%s' (%u B to %u MiB; K and M suffixes)", tok, BENCH_MIN_SIZE,
                                 BENCH_MAX_SIZE >> 20);
        else if (*n >= MAX_SIZES)
            rc = cli_usage_error(spec, "at most %d sizes", MAX_SIZES);
        else
            sizes[(*n)++] = (size_t)v;
    }
    free(copy);
    if (!rc && *n == 0)
        rc = cli_usage_error(spec, "--sizes needs at least one size");
    return rc;
}

static int parse_mechanisms(const cli_spec *spec, const char *arg, const bench_transport **out, size_t cap, size_t *n)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        const bench_transport *t = bench_transport_find(tok);
        if (!t)
            rc = cli_usage_error(spec, "unknown mechanism '%s' (see --list)", tok);
        else if (*n >= cap)
            rc = cli_usage_error(spec, "too many mechanisms");
        else
            out[(*n)++] = t;
    }
    free(copy);
    if (!rc && *n == 0)
        rc = cli_usage_error(spec, "--mechanisms needs at least one mechanism");
    return rc;
}

/* --fanout N,N,...: append the fan-out transports (every family) with those receiver counts to out. */
static int parse_fanout(const cli_spec *spec, const char *arg, const bench_transport **out, size_t cap, size_t *n)
{
    size_t nfan;
    const bench_transport *const *fan = bench_fanout_transports(&nfan);
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    size_t before = *n;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        bool found = false;
        if (cli_parse_uint(tok, 10, BENCH_MAX_RECEIVERS, &v) == 0)
            for (size_t i = 0; i < nfan && !rc; i++) {
                if (fan[i]->fanout != v)
                    continue;
                found = true;
                if (*n >= cap)
                    rc = cli_usage_error(spec, "too many mechanisms");
                else
                    out[(*n)++] = fan[i];
            }
        if (!found && !rc)
            rc = cli_usage_error(spec, "bad --fanout '%s' (receiver counts among 1, 2, 4, 8)", tok);
    }
    free(copy);
    if (!rc && *n == before)
        rc = cli_usage_error(spec, "--fanout needs at least one receiver count");
    return rc;
}

/* A positive count option, or a usage error. */
static int opt_count(const cli_spec *spec, const char *what, const char *s, uint64_t max, uint64_t *out)
{
    if (!s)
        return 0;
    if (cli_parse_uint(s, 10, max, out) || *out == 0)
        return cli_usage_error(spec, "bad %s '%s' (1 to %llu)", what, s, (unsigned long long)max);
    return 0;
}

/* The command line as typed, for the JSON record. */
static void join_args(char *buf, size_t cap, int argc, char **argv)
{
    size_t used = (size_t)snprintf(buf, cap, "shmipc");
    for (int i = 0; i < argc && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, " %s", argv[i]);
}

int cli_cmd_bench(int argc, char **argv)
{
    static const size_t quick_sizes[] = {64, 4096, 1u << 20};
    /* --targets: the sizes of the hybrid-versus-spin targets, 64 B to 1 MiB. */
    static const size_t target_sizes[] = {64, 512, 4096, 65536, 1u << 20};
    const char *mode_s = NULL, *mech_s = NULL, *sizes_s = NULL, *iter_s = NULL, *dur_s = NULL, *warm_s = NULL,
               *rate_s = NULL, *rate_count_s = NULL, *repeat_s = NULL, *plot = NULL,
               *fanout_s = NULL;
    bool quick = false, json = false, csv = false, quiet = false, list = false, targets = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("mode", 'm', "MODE", &mode_s, "latency, throughput, lowrate or all (default), or a comma list"),
        CLI_OPT_VALUE("mechanisms", 'M', "LIST", &mech_s, "comma-separated mechanisms (default all; see --list)"),
        CLI_OPT_VALUE("sizes", 's', "LIST", &sizes_s, "payload sizes, e.g. 8,64,4K,1M (default 8,64,512,4K,64K,1M,4M)"),
        CLI_OPT_VALUE("iterations", 'n', "N", &iter_s, "at most N measured round trips / messages per cell"),
        CLI_OPT_VALUE("duration", 'd', "SEC", &dur_s, "at most SEC seconds per cell (default 1)"),
        CLI_OPT_VALUE("warmup", 'w', "N", &warm_s, "round trips / messages before measuring (default: a tenth)"),
        CLI_OPT_VALUE("rate", 'r', "HZ", &rate_s, "low-rate mode: round trips per second (default 1000)"),
        CLI_OPT_VALUE("rate-count", 'R', "N", &rate_count_s, "low-rate mode: round trips measured (default 500)"),
        CLI_OPT_VALUE("repeat", 'N', "N", &repeat_s, "run every cell N times and keep the median run (1 to 15)"),
        CLI_OPT_VALUE("fanout", 'F', "LIST", &fanout_s,
                      "fan-out 1 -> N table for these N (1,2,4,8): pubsub vs N pipes; latency and throughput"),
        CLI_OPT_FLAG("targets", 'T', &targets,
                     "measure issue 9's targets side by side: one line each, ratio, bound, met / not met"),
        CLI_OPT_FLAG("quick", 'q', &quick, "a short run (under 30 s on 2 cores): 64 B, 4 KiB, 1 MiB, short cells"),
        CLI_OPT_FLAG("json", 'j', &json, "print JSON on stdout instead of the tables"),
        CLI_OPT_FLAG("csv", 'c', &csv, "print CSV on stdout instead of the tables"),
        CLI_OPT_VALUE("plot", 'p', "FILE.svg", &plot, "also draw p50 latency against size (log-log SVG)"),
        CLI_OPT_FLAG("quiet", 'Q', &quiet, "no progress on stderr"),
        CLI_OPT_FLAG("list", 'l', &list, "list the mechanisms and exit"),
        CLI_OPT_END,
    };
    /* The details name every mechanism, so they are built from the table. */
    static char details[6144];
    size_t used = (size_t)snprintf(details, sizeof details,
        "Every cell forks real processes pinned to different cores; the sender writes every 64-byte line of\n"
        "each payload and the receiver reads it back. Latency is ping-pong round trip / 2 (p50, p99, p99.9,\n"
        "max from a log-linear histogram); throughput is one-way streaming; CPU is user+sys of all processes\n"
        "per message; low rate shows the CPU cost of waiting when messages are sparse. See docs/benchmarks.md.\n"
        "\nmechanisms:");
    size_t ntrans;
    const bench_transport *const *all = bench_transports(&ntrans);
    size_t nfan;
    const bench_transport *const *fan = bench_fanout_transports(&nfan);
    for (size_t i = 0; i < ntrans && used < sizeof details; i++)
        used += (size_t)snprintf(details + used, sizeof details - used, "\n  %-15s %s", all[i]->name,
                                 all[i]->description);
    if (used < sizeof details)
        used += (size_t)snprintf(details + used, sizeof details - used,
                                 "\n\nfan-out mechanisms (with --fanout, or by name with --mechanisms):");
    for (size_t i = 0; i < nfan && used < sizeof details; i++)
        used += (size_t)snprintf(details + used, sizeof details - used, "\n  %-15s %s", fan[i]->name,
                                 fan[i]->description);
    const cli_spec spec = {
        .prog = "shmipc bench",
        .summary = "Measure latency, throughput and CPU cost of shmipc and of the kernel's IPC mechanisms.",
        .details = details,
        .opts = opts,
    };
    char cmdline[1024];
    join_args(cmdline, sizeof cmdline, argc, argv);
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    if (list) {
        for (size_t i = 0; i < ntrans; i++)
            printf("%-15s %s\n", all[i]->name, all[i]->description);
        for (size_t i = 0; i < nfan; i++)
            printf("%-15s %s\n", fan[i]->name, fan[i]->description);
        return CLI_OK;
    }

    bench_config cfg;
    bench_config_defaults(&cfg);
    size_t sizes[MAX_SIZES], nsizes = 0;
    const bench_transport *mechs[64];
    size_t nmechs = 0;
    uint64_t iterations = 0, warmup = 0, rate = 0, rate_count = 0, repeat = 0;
    double duration = 0;
    if (mode_s && parse_modes(mode_s, &cfg.modes))
        return cli_usage_error(&spec, "bad --mode '%s' (latency, throughput, lowrate, all)", mode_s);
    if (mech_s && (rc = parse_mechanisms(&spec, mech_s, mechs, sizeof mechs / sizeof mechs[0], &nmechs)))
        return rc;
    if (fanout_s && (rc = parse_fanout(&spec, fanout_s, mechs, sizeof mechs / sizeof mechs[0], &nmechs)))
        return rc;
    /* A fan-out run measures latency and throughput (the fan-out table's columns) unless told otherwise. */
    if (fanout_s && !mode_s)
        cfg.modes = BENCH_CAP_LATENCY | BENCH_CAP_THROUGHPUT;
    if (sizes_s && (rc = parse_sizes(&spec, sizes_s, sizes, &nsizes)))
        return rc;
    if ((rc = opt_count(&spec, "--iterations", iter_s, UINT64_MAX / 2, &iterations)) ||
        (rc = opt_count(&spec, "--warmup", warm_s, UINT64_MAX / 2, &warmup)) ||
        (rc = opt_count(&spec, "--rate", rate_s, 100000, &rate)) ||
        (rc = opt_count(&spec, "--rate-count", rate_count_s, UINT64_MAX / 2, &rate_count)) ||
        (rc = opt_count(&spec, "--repeat", repeat_s, BENCH_MAX_REPEAT, &repeat)))
        return rc;
    if (dur_s) {
        char *end;
        duration = strtod(dur_s, &end);
        if (*end || !(duration > 0 && duration <= 3600))
            return cli_usage_error(&spec, "bad --duration '%s' (seconds, up to 3600)", dur_s);
    }
    if (json && csv)
        return cli_usage_error(&spec, "choose one of --json and --csv");
    if (targets && (mode_s || mech_s || fanout_s || csv || plot))
        return cli_usage_error(&spec, "--targets picks its own cells: no --mode, --mechanisms, --fanout, --csv or --plot");
    if (quick) {
        cfg.sizes = quick_sizes;
        cfg.nsizes = sizeof quick_sizes / sizeof quick_sizes[0];
        cfg.iterations = 20000;
        cfg.warmup = 1000;
        cfg.duration_s = 0.2;
        cfg.lowrate_count = 200;
    }
    if (targets && !nsizes) {
        cfg.sizes = quick ? quick_sizes : target_sizes;
        cfg.nsizes = quick ? sizeof quick_sizes / sizeof quick_sizes[0] : sizeof target_sizes / sizeof target_sizes[0];
    }
    if (nsizes) {
        cfg.sizes = sizes;
        cfg.nsizes = nsizes;
    }
    if (nmechs) {
        cfg.transports = mechs;
        cfg.ntransports = nmechs;
    }
    if (iterations) {
        cfg.iterations = iterations;
        cfg.messages = iterations;
        if (!rate_count)
            cfg.lowrate_count = iterations;
    }
    if (warmup)
        cfg.warmup = warmup;
    if (duration > 0)
        cfg.duration_s = duration;
    if (rate)
        cfg.lowrate_hz = rate;
    if (rate_count)
        cfg.lowrate_count = rate_count;
    if (repeat)
        cfg.repeat = (unsigned)repeat;
    cfg.quiet = quiet;
    cfg.progress_tty = isatty(STDERR_FILENO);

    bench_cell *cells = NULL;
    if (targets) {
        int e = bench_targets_cells(cfg.sizes, cfg.nsizes, &cells, &cfg.ncells);
        if (e)
            return cli_fail("bench --targets", e);
        cfg.cells = cells;
    }
    bench_machine m;
    bench_machine_probe(&m);
    bench_result *res;
    size_t nres;
    int err = bench_run(&cfg, &m, &res, &nres);
    free(cells);
    if (err)
        return cli_fail("bench", err);
    if (targets) {
        size_t bad = json ? bench_targets_json(stdout, &cfg, &m, cmdline, res, nres)
                          : bench_targets_report(stdout, &cfg, &m, res, nres);
        free(res);
        /* Targets not met are a finding, not a failure; a cell that could not be measured is. */
        return bad ? CLI_ERR : CLI_OK;
    }
    if (json)
        bench_report_json(stdout, &cfg, &m, cmdline, res, nres);
    else if (csv)
        bench_report_csv(stdout, res, nres);
    else
        bench_report_table(stdout, &cfg, &m, res, nres);
    rc = CLI_OK;
    for (size_t i = 0; i < nres; i++)
        if (res[i].status == BENCH_ERROR)
            rc = CLI_ERR;
    if (plot) {
        err = bench_plot_svg(plot, &m, res, nres);
        if (err) {
            rc = cli_fail(plot, err);
        } else if (!cfg.quiet) {
            fprintf(stderr, "shmipc bench: plot written to %s\n", plot);
        }
    }
    free(res);
    return rc;
}

#else /* !SHMIPC_HAVE_BENCH */

int cli_cmd_bench(int argc, char **argv)
{
    fprintf(stderr, "shmipc bench: this shmipc was built without benchmarks (SHMIPC_BUILD_BENCH=OFF)\n");
    return CLI_ERR;
}

#endif
