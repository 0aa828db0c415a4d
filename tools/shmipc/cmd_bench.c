/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_bench.c - `shmipc bench`: measures latency, throughput and CPU cost of shmipc and of
 * the kernel's IPC mechanisms with one method (see bench/bench.h and docs/benchmarks.md). This file only
 * parses options and picks the output; the engine is the shmipc_bench library.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SHMIPC_HAVE_BENCH
#include "bench.h"

#define MAX_SIZES 32

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: shmipc bench [OPTIONS]\n"
            "\n"
            "Measures IPC mechanisms between two processes pinned to different cores: one-way latency\n"
            "(ping-pong round trip / 2: p50, p99, p99.9, max), one-way streaming throughput (messages/s, GB/s),\n"
            "CPU time per message, and CPU cost at a low message rate. Every payload line is written by the\n"
            "sender and read by the receiver.\n"
            "\n"
            "options:\n"
            "  --mode MODE          latency, throughput, lowrate or all (default all); a comma list works too\n"
            "  --mechanisms LIST    comma-separated mechanisms (default all; see below)\n"
            "  --sizes LIST         payload sizes, e.g. 8,64,4K,1M (default 8,64,512,4K,64K,1M,4M; min 8)\n"
            "  --iterations N       at most N measured round trips (latency) or messages (throughput) per cell\n"
            "  --duration SEC       at most SEC seconds per cell (default 1)\n"
            "  --warmup N           round trips / messages before measuring (default: a tenth, <= 10000)\n"
            "  --rate HZ            low-rate mode: round trips per second (default 1000)\n"
            "  --rate-count N       low-rate mode: round trips to measure (default 500)\n"
            "  --quick              a short run (about 20 s on 2 cores): 3 sizes, short cells\n"
            "  --json               print JSON on stdout instead of the tables\n"
            "  --csv                print CSV on stdout instead of the tables\n"
            "  --plot FILE.svg      also draw p50 latency against size with gnuplot (needs gnuplot-nox)\n"
            "  --quiet              no progress on stderr\n"
            "  --list               list the mechanisms and exit\n"
            "  -h, --help           this text\n"
            "\n"
            "mechanisms:\n");
    size_t n;
    const bench_transport *const *all = bench_transports(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-15s %s\n", all[i]->name, all[i]->description);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

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

static int parse_sizes(const char *arg, size_t *sizes, size_t *n)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int err = 0;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        err = cli_parse_size(tok, &v);
        if (!err && (v < BENCH_MIN_SIZE || v > BENCH_MAX_SIZE)) {
            fprintf(stderr, "shmipc bench: size %s out of range (%u B to %u MiB)\n", tok, BENCH_MIN_SIZE,
                    BENCH_MAX_SIZE >> 20);
            err = -ERANGE;
        }
        if (!err && *n >= MAX_SIZES)
            err = -E2BIG;
        if (!err)
            sizes[(*n)++] = (size_t)v;
    }
    free(copy);
    return err ? err : (*n ? 0 : -EINVAL);
}

static int parse_mechanisms(const char *arg, const bench_transport **out, size_t cap, size_t *n)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int err = 0;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
        const bench_transport *t = bench_transport_find(tok);
        if (!t) {
            fprintf(stderr, "shmipc bench: unknown mechanism '%s' (see --list)\n", tok);
            err = -EINVAL;
        } else if (*n >= cap) {
            err = -E2BIG;
        } else {
            out[(*n)++] = t;
        }
    }
    free(copy);
    return err ? err : (*n ? 0 : -EINVAL);
}

/* The command line as typed, for the JSON record. */
static void join_args(char *buf, size_t cap, int argc, char **argv)
{
    size_t used = (size_t)snprintf(buf, cap, "shmipc");
    for (int i = 0; i < argc && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, " %s", argv[i]);
}

enum {
    OPT_MODE = 256, OPT_MECH, OPT_SIZES, OPT_ITER, OPT_DUR, OPT_WARM, OPT_RATE, OPT_RATE_COUNT, OPT_QUICK,
    OPT_JSON, OPT_CSV, OPT_PLOT, OPT_QUIET, OPT_LIST,
};

int cli_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, OPT_MODE},
        {"mechanisms", required_argument, NULL, OPT_MECH},
        {"sizes", required_argument, NULL, OPT_SIZES},
        {"iterations", required_argument, NULL, OPT_ITER},
        {"duration", required_argument, NULL, OPT_DUR},
        {"warmup", required_argument, NULL, OPT_WARM},
        {"rate", required_argument, NULL, OPT_RATE},
        {"rate-count", required_argument, NULL, OPT_RATE_COUNT},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"json", no_argument, NULL, OPT_JSON},
        {"csv", no_argument, NULL, OPT_CSV},
        {"plot", required_argument, NULL, OPT_PLOT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"list", no_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const size_t quick_sizes[] = {64, 4096, 1u << 20};
    bench_config cfg;
    bench_config_defaults(&cfg);
    size_t sizes[MAX_SIZES], nsizes = 0;
    size_t ntrans_all;
    bench_transports(&ntrans_all);
    const bench_transport *mechs[64];
    size_t nmechs = 0;
    bool quick = false, json = false, csv = false;
    const char *plot = NULL;
    uint64_t iterations = 0, warmup = 0, rate = 0, rate_count = 0;
    double duration = 0;
    char cmdline[1024];
    join_args(cmdline, sizeof cmdline, argc, argv);

    optind = 1;
    int c, err;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_MODE:
            if (parse_modes(optarg, &cfg.modes)) {
                fprintf(stderr, "shmipc bench: --mode takes latency, throughput, lowrate or all\n");
                return CLI_USAGE;
            }
            break;
        case OPT_MECH:
            if (parse_mechanisms(optarg, mechs, sizeof mechs / sizeof mechs[0], &nmechs))
                return CLI_USAGE;
            break;
        case OPT_SIZES:
            if (parse_sizes(optarg, sizes, &nsizes)) {
                fprintf(stderr, "shmipc bench: bad --sizes '%s'\n", optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_ITER:
        case OPT_WARM:
        case OPT_RATE:
        case OPT_RATE_COUNT: {
            uint64_t v;
            if (parse_u64(optarg, &v)) {
                fprintf(stderr, "shmipc bench: bad number '%s'\n", optarg);
                return CLI_USAGE;
            }
            *(c == OPT_ITER ? &iterations : c == OPT_WARM ? &warmup : c == OPT_RATE ? &rate : &rate_count) = v;
            break;
        }
        case OPT_DUR: {
            char *end;
            duration = strtod(optarg, &end);
            if (*end || !(duration > 0 && duration <= 3600)) {
                fprintf(stderr, "shmipc bench: bad --duration '%s' (seconds, up to 3600)\n", optarg);
                return CLI_USAGE;
            }
            break;
        }
        case OPT_QUICK: quick = true; break;
        case OPT_JSON: json = true; break;
        case OPT_CSV: csv = true; break;
        case OPT_PLOT: plot = optarg; break;
        case OPT_QUIET: cfg.quiet = true; break;
        case OPT_LIST: {
            size_t n;
            const bench_transport *const *all = bench_transports(&n);
            for (size_t i = 0; i < n; i++)
                printf("%-15s %s\n", all[i]->name, all[i]->description);
            return CLI_OK;
        }
        case 'h': bench_usage(stdout); return CLI_OK;
        default: bench_usage(stderr); return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shmipc bench: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    if (json && csv) {
        fprintf(stderr, "shmipc bench: choose one of --json and --csv\n");
        return CLI_USAGE;
    }
    if (plot && !bench_have_gnuplot()) {
        fprintf(stderr, "shmipc bench: gnuplot not found: install gnuplot-nox to draw plots\n");
        return CLI_ERR;
    }
    if (quick) {
        cfg.sizes = quick_sizes;
        cfg.nsizes = sizeof quick_sizes / sizeof quick_sizes[0];
        cfg.iterations = 20000;
        cfg.warmup = 1000;
        cfg.duration_s = 0.2;
        cfg.lowrate_count = 200;
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
    if (rate) {
        if (rate > 100000) {
            fprintf(stderr, "shmipc bench: --rate at most 100000 round trips per second\n");
            return CLI_USAGE;
        }
        cfg.lowrate_hz = rate;
    }
    if (rate_count)
        cfg.lowrate_count = rate_count;
    cfg.progress_tty = isatty(STDERR_FILENO);

    bench_machine m;
    bench_machine_probe(&m);
    bench_result *res;
    size_t nres;
    err = bench_run(&cfg, &m, &res, &nres);
    if (err)
        return cli_fail("bench", err);
    if (json)
        bench_report_json(stdout, &cfg, &m, cmdline, res, nres);
    else if (csv)
        bench_report_csv(stdout, res, nres);
    else
        bench_report_table(stdout, &cfg, &m, res, nres);
    int rc = CLI_OK;
    for (size_t i = 0; i < nres; i++)
        if (res[i].status == BENCH_ERROR)
            rc = CLI_ERR;
    if (plot) {
        err = bench_plot_svg(plot, &m, res, nres);
        if (err == -ENOENT) {
            fprintf(stderr, "shmipc bench: gnuplot not found: install gnuplot-nox to draw plots\n");
            rc = CLI_ERR;
        } else if (err) {
            rc = cli_fail("gnuplot", err);
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
