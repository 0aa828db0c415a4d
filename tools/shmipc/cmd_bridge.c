/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_bridge.c - `shmipc bridge`: run a NATS bridge (libshmipc-nats, shmipc/bridge.h) from
 * a configuration file and command-line options until Ctrl-C or SIGTERM, writing its figures to a file
 * or stderr as it goes and, with --json, on standard output at the end. `shmipc bridge bench` is in
 * cmd_bridge_bench.c. Compiled only when the bridge library is built.
 */
#ifdef SHMIPC_HAVE_BRIDGE
#include "msg.h"
#include "svc.h"

#include <shmipc/bridge.h>
#include <shmipc/shmipc.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "PATTERN/NAME[=SUBJECT]" of --export and --import into a directive line. */
static int route_directive(const cli_spec *spec, const char *verb, const char *arg, char *line, size_t cap)
{
    const char *slash = strchr(arg, '/');
    if (!slash || slash == arg)
        return cli_usage_error(spec, "--%s '%s': want PATTERN/NAME[=SUBJECT] (PATTERN pubsub, reqresp or event)",
                               verb, arg);
    const char *eq = strchr(slash, '=');
    int plen = (int)(slash - arg), nlen = eq ? (int)(eq - slash - 1) : (int)strlen(slash + 1);
    int n = eq ? snprintf(line, cap, "%s %.*s %.*s subject %s", verb, plen, arg, nlen, slash + 1, eq + 1)
               : snprintf(line, cap, "%s %.*s %.*s", verb, plen, arg, nlen, slash + 1);
    if (n < 0 || (size_t)n >= cap)
        return cli_usage_error(spec, "--%s '%.60s...': too long", verb, arg);
    return 0;
}

static int apply(const cli_spec *spec, shmipc_bridge_config *cfg, const char *line)
{
    int err = shmipc_bridge_config_directive(cfg, line);
    if (err)
        return cli_usage_error(spec, "'%s': %s", line, shmipc_bridge_config_error(cfg));
    return 0;
}

/* What the command line says about the configuration. */
typedef struct bridge_cli_opts {
    const char *config, *name, *prefix, *qos;
    cli_list servers, exports, imports, sets;
} bridge_cli_opts;

/* Build cfg from the file, then the options, then --set; 0 or the exit code after saying why. */
static int bridge_cli_config(const cli_spec *spec, shmipc_bridge_config *cfg, const bridge_cli_opts *o)
{
    char line[1024];
    int rc;
    if (o->config) {
        int err = shmipc_bridge_config_load(cfg, o->config);
        if (err) {
            fprintf(stderr, "shmipc bridge: %s\n", shmipc_bridge_config_error(cfg));
            return err == -EINVAL ? CLI_USAGE : CLI_ERR;
        }
    }
    for (size_t i = 0; i < o->servers.n; i++) {
        snprintf(line, sizeof line, "server %s", o->servers.v[i]);
        if ((rc = apply(spec, cfg, line)) != 0)
            return rc;
    }
    const struct {
        const char *word, *value;
    } singles[] = {{"name", o->name}, {"prefix", o->prefix}, {"qos", o->qos}};
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
        if (!singles[i].value)
            continue;
        snprintf(line, sizeof line, "%s %s", singles[i].word, singles[i].value);
        if ((rc = apply(spec, cfg, line)) != 0)
            return rc;
    }
    for (size_t i = 0; i < o->exports.n; i++)
        if ((rc = route_directive(spec, "export", o->exports.v[i], line, sizeof line)) != 0 ||
            (rc = apply(spec, cfg, line)) != 0)
            return rc;
    for (size_t i = 0; i < o->imports.n; i++)
        if ((rc = route_directive(spec, "import", o->imports.v[i], line, sizeof line)) != 0 ||
            (rc = apply(spec, cfg, line)) != 0)
            return rc;
    for (size_t i = 0; i < o->sets.n; i++)
        if ((rc = apply(spec, cfg, o->sets.v[i])) != 0)
            return rc;
    if (shmipc_bridge_config_check(cfg) != 0) {
        fprintf(stderr, "shmipc bridge: %s\n", shmipc_bridge_config_error(cfg));
        return CLI_USAGE;
    }
    return 0;
}

static const char *dir_name(shmipc_bridge_direction d)
{
    return d == SHMIPC_BRIDGE_IMPORT ? "import" : "export";
}

/* The bridge's figures as one JSON object. */
static void stats_json(FILE *f, shmipc_bridge *b, const char *name, uint64_t uptime_ms)
{
    shmipc_bridge_stats st;
    shmipc_bridge_stats_get(b, &st);
    cli_json j;
    cli_json_init(&j, f);
    cli_json_begin(&j, NULL, '{');
    cli_json_str(&j, "name", name);
    cli_json_str(&j, "qos", st.jetstream ? "jetstream" : "core");
    cli_json_bool(&j, "connected", st.connected);
    cli_json_str(&j, "server", st.server);
    cli_json_uint(&j, "connects", st.connects);
    cli_json_uint(&j, "disconnects", st.disconnects);
    cli_json_uint(&j, "buffered", st.buffered);
    cli_json_uint(&j, "buffer", st.buffer_cap);
    cli_json_uint(&j, "overflow", st.overflow);
    cli_json_uint(&j, "uptime_ms", uptime_ms);
    cli_json_begin(&j, "routes", '[');
    for (size_t i = 0; i < shmipc_bridge_routes(b); i++) {
        shmipc_bridge_route_stats rs;
        if (shmipc_bridge_route_stats_get(b, i, &rs) != 0)
            continue;
        cli_json_begin(&j, NULL, '{');
        cli_json_str(&j, "direction", dir_name(rs.route.direction));
        cli_json_str(&j, "pattern", shmipc_service_pattern_name(rs.route.pattern));
        cli_json_str(&j, "service", rs.route.service);
        cli_json_str(&j, "subject", rs.route.subject);
        cli_json_bool(&j, "active", rs.active);
        cli_json_uint(&j, "received", rs.received);
        cli_json_uint(&j, "forwarded", rs.forwarded);
        cli_json_uint(&j, "dropped", rs.dropped);
        cli_json_uint(&j, "duplicates", rs.duplicates);
        cli_json_uint(&j, "gaps", rs.gaps);
        cli_json_uint(&j, "missed", rs.missed);
        cli_json_uint(&j, "retried", rs.retried);
        cli_json_uint(&j, "errors", rs.errors);
        cli_json_end(&j, '}');
    }
    cli_json_end(&j, ']');
    cli_json_end(&j, '}');
}

/* One line per route on stderr. */
static void stats_text(shmipc_bridge *b, const char *name)
{
    shmipc_bridge_stats st;
    shmipc_bridge_stats_get(b, &st);
    fprintf(stderr, "shmipc bridge %s: %s%s, buffered %" PRIu32 "/%" PRIu32 ", overflow %" PRIu64 "\n", name,
            st.connected ? "connected to " : "not connected", st.server, st.buffered, st.buffer_cap, st.overflow);
    for (size_t i = 0; i < shmipc_bridge_routes(b); i++) {
        shmipc_bridge_route_stats rs;
        if (shmipc_bridge_route_stats_get(b, i, &rs) != 0)
            continue;
        fprintf(stderr,
                "  %s %s/%s %s%s: received %" PRIu64 " forwarded %" PRIu64 " dropped %" PRIu64 " duplicates %" PRIu64
                " gaps %" PRIu64 " missed %" PRIu64 " retried %" PRIu64 " errors %" PRIu64 "\n",
                dir_name(rs.route.direction), shmipc_service_pattern_name(rs.route.pattern), rs.route.service,
                rs.route.subject, rs.active ? "" : " (waiting)", rs.received, rs.forwarded, rs.dropped, rs.duplicates,
                rs.gaps, rs.missed, rs.retried, rs.errors);
    }
}

/* Write the JSON figures to path through a temporary file and rename: a reader sees a whole file. */
static void stats_file(const char *path, shmipc_bridge *b, const char *name, uint64_t uptime_ms)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return;
    FILE *f = fopen(tmp, "we");
    if (!f)
        return;
    stats_json(f, b, name, uptime_ms);
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

static int check_print(shmipc_bridge_config *cfg)
{
    for (size_t i = 0; i < shmipc_bridge_config_routes(cfg); i++) {
        shmipc_bridge_route_info r;
        shmipc_bridge_config_route(cfg, i, &r);
        printf("%s %s/%s %s %s\n", dir_name(r.direction), shmipc_service_pattern_name(r.pattern), r.service,
               r.direction == SHMIPC_BRIDGE_IMPORT ? "<-" : "->", r.subject);
    }
    return CLI_OK;
}

int cli_cmd_bridge_bench(int argc, char **argv); /* cmd_bridge_bench.c */

int cli_cmd_bridge(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "bench"))
        return cli_cmd_bridge_bench(argc - 1, argv + 1);
    bridge_cli_opts o;
    memset(&o, 0, sizeof o);
    const char *stats_file_s = NULL, *interval_s = NULL;
    bool check = false, json = false, quiet = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("config", 'c', "FILE", &o.config, "read directives from FILE (one per line, see shmipc-bridge(1))"),
        CLI_OPT_LIST("server", 's', "URL", &o.servers,
                     "NATS server(s), nats://HOST:PORT, comma-separated or repeated (default nats://127.0.0.1:4222)"),
        CLI_OPT_VALUE("name", 'n', "NAME", &o.name, "this bridge's name, its origin id (default: the host name)"),
        CLI_OPT_VALUE("prefix", 'p', "PREFIX", &o.prefix, "subject prefix of the name mapping (default shmipc)"),
        CLI_OPT_VALUE("qos", 'q', "QOS", &o.qos, "core (at most once, default) or jetstream (at least once, deduplicated)"),
        CLI_OPT_LIST("export", 'e', "PAT/NAME[=SUBJ]", &o.exports,
                     "export a local service (pubsub/NAME, reqresp/NAME, event/NAME); repeatable"),
        CLI_OPT_LIST("import", 'i', "PAT/NAME[=SUBJ]", &o.imports, "import a subject as a local service; repeatable"),
        CLI_OPT_LIST("set", 'o', "DIRECTIVE", &o.sets, "any directive, e.g. 'buffer 8192'; repeatable, applied last"),
        CLI_OPT_FLAG("check", 0, &check, "check the configuration, print the routes and their subjects, exit"),
        CLI_OPT_VALUE("stats-file", 0, "FILE", &stats_file_s, "write the figures as JSON to FILE every interval"),
        CLI_OPT_VALUE("stats-interval", 0, "MS", &interval_s,
                      "how often to write the figures (default 1000; without --stats-file: to stderr)"),
        CLI_OPT_FLAG("json", 'j', &json, "print the figures as JSON on standard output when it ends"),
        CLI_OPT_FLAG("quiet", 0, &quiet, "do not log connections and services on stderr"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc bridge",
        .args = NULL,
        .summary = "Bridge local services to other hosts over NATS: export local publish/subscribe, request/response\n"
                   "and event services to NATS subjects, import subjects as local services. Runs until Ctrl-C.",
        .details = "Subjects: PREFIX.PATTERN.NAME (events: PREFIX.event.NAME.ID) unless a route names one.\n"
                   "'shmipc bridge bench --help': the bridge's latency and throughput next to plain NATS.\n"
                   "Exit status: 0 stopped by a signal, 1 error, 2 usage or configuration error.",
        .opts = opts,
        .min_args = 0,
        .max_args = 0,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    uint64_t interval = 1000;
    if (interval_s && (cli_parse_uint(interval_s, 10, 3600000, &interval) || interval < 10))
        return cli_usage_error(&spec, "bad --stats-interval '%s' (want 10 to 3600000 ms)", interval_s);
    shmipc_bridge_config *cfg;
    int err = shmipc_bridge_config_new(&cfg);
    if (err)
        return cli_fail("bridge", err);
    if ((rc = bridge_cli_config(&spec, cfg, &o)) != 0) {
        shmipc_bridge_config_free(cfg);
        return rc;
    }
    if (check) {
        rc = check_print(cfg);
        shmipc_bridge_config_free(cfg);
        return rc;
    }
    if (quiet)
        shmipc_bridge_log(NULL);
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    shmipc_bridge *b;
    err = shmipc_bridge_start(cfg, &b);
    if (err) {
        fprintf(stderr, "shmipc bridge: %s%s%s\n", shmipc_bridge_config_error(cfg),
                shmipc_bridge_config_error(cfg)[0] ? ": " : "", cli_errtext(err));
        shmipc_bridge_config_free(cfg);
        svc_signals_restore(old_sig);
        return CLI_ERR;
    }
    shmipc_bridge_config_free(cfg);
    shmipc_bridge_stats st;
    shmipc_bridge_stats_get(b, &st);
    char name[SHMIPC_BRIDGE_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", st.name);
    uint64_t start = cli_now_ns(), next = start;
    while (!svc_stop) {
        next += interval * 1000000u;
        if (stats_file_s)
            stats_file(stats_file_s, b, name, (cli_now_ns() - start) / 1000000u);
        else if (interval_s)
            stats_text(b, name);
        cli_sleep_until(next);
    }
    if (stats_file_s)
        stats_file(stats_file_s, b, name, (cli_now_ns() - start) / 1000000u);
    if (json)
        stats_json(stdout, b, name, (cli_now_ns() - start) / 1000000u);
    else if (!quiet)
        stats_text(b, name);
    shmipc_bridge_stop(b);
    svc_signals_restore(old_sig);
    return CLI_OK;
}
#endif
