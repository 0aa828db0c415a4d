/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_service.c - `shmipc ls`, `shmipc info` and `shmipc gc`: the services on the machine as
 * the service discovery API sees them (shmipc_service_list / _describe / _gc), plus the helpers that every
 * service-level command shares (finding a service by "pattern/name" or by name alone, JSON description).
 * Everything here reads services through the library, which validates what it copies out of shared memory;
 * strings that came from a service header are still escaped before they reach a terminal.
 */
#include "svc.h"

#include <shmipc/shmipc.h>

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- shared helpers ---------------------------------------------------------------------------------- */

#define NPATTERNS 6
static const shmipc_pattern all_patterns[NPATTERNS] = {SHMIPC_PATTERN_PUBSUB,     SHMIPC_PATTERN_REQRESP,
                                                       SHMIPC_PATTERN_BLACKBOARD, SHMIPC_PATTERN_EVENT,
                                                       SHMIPC_PATTERN_CHANNEL,    SHMIPC_PATTERN_QUEUE};
#define PATTERN_WORDS "pubsub, reqresp, blackboard, event, channel or queue"

/* A channel or queue is named by its segment: any segment of that name that is not one gives -EPROTOTYPE
 * (wrong type tag), which means "no channel (queue) of that name", not an error. */
static bool pattern_is_object(shmipc_pattern p) { return p == SHMIPC_PATTERN_CHANNEL || p == SHMIPC_PATTERN_QUEUE; }

int svc_parse_pattern(const char *s, shmipc_pattern *out)
{
    for (size_t i = 0; i < NPATTERNS; i++) {
        if (strcmp(s, shmipc_service_pattern_name(all_patterns[i])) == 0) {
            *out = all_patterns[i];
            return 0;
        }
    }
    return -EINVAL;
}

void svc_fullname(const shmipc_service_info *in, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", shmipc_service_pattern_name(in->pattern), in->name);
}

void svc_printable(const char *s, char *dst, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = '\0';
}

int svc_fail(const char *what, int err)
{
    const char *detail = shmipc_service_error_detail();
    if ((err == -EPROTOTYPE || err == -EBADMSG || err == -EPROTO) && detail[0]) {
        char safe[4 * 256 + 8];
        svc_printable(detail, safe, sizeof safe);
        fprintf(stderr, "shmipc: %s: %s (%s)\n", what, shmipc_strerror(err), safe);
        return CLI_ERR;
    }
    if (err == -EPERM)
        fprintf(stderr, "shmipc: %s: %s (the service belongs to another user)\n", what, shmipc_strerror(err));
    else
        cli_fail(what, err);
    return CLI_ERR;
}

const char *svc_user(uint32_t uid, char *buf, size_t cap)
{
    const struct passwd *pw = getpwuid(uid);
    if (pw)
        snprintf(buf, cap, "%s", pw->pw_name);
    else
        snprintf(buf, cap, "%" PRIu32, uid);
    return buf;
}

int svc_check_name(const cli_spec *spec, const char *name)
{
    int err = shmipc_service_name_check(name);
    if (err == -ENAMETOOLONG)
        return cli_usage_error(spec, "bad service name: longer than %d characters", SHMIPC_SERVICE_NAME_MAX);
    if (err)
        return cli_usage_error(spec, "bad service name '%s': want letters, digits, '_', '.' and '-', starting "
                                     "with a letter or digit", name);
    return 0;
}

volatile sig_atomic_t svc_stop;

static void svc_on_signal(int sig)
{
    (void)sig;
    svc_stop = 1;
}

void svc_signals_catch(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = svc_on_signal;
    sigemptyset(&sa.sa_mask);
    svc_stop = 0;
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

void svc_signals_restore(const struct sigaction old[2])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}

int svc_resolve(const cli_spec *spec, const char *arg, const char *pattern_opt, shmipc_pattern *pattern,
                char *name, shmipc_service_info *info)
{
    shmipc_pattern want = 0;
    const char *slash = strchr(arg, '/');
    const char *bare = slash ? slash + 1 : arg;
    if (pattern_opt && svc_parse_pattern(pattern_opt, &want))
        return cli_usage_error(spec, "bad pattern '%s' (want " PATTERN_WORDS ")", pattern_opt);
    if (slash) {
        char pn[16];
        shmipc_pattern p;
        size_t len = (size_t)(slash - arg);
        if (len >= sizeof pn)
            len = sizeof pn - 1; /* too long to be a pattern name: fails the parse below */
        memcpy(pn, arg, len);
        pn[len] = '\0';
        if (svc_parse_pattern(pn, &p))
            return cli_usage_error(spec, "bad service '%s': '%s' is not a pattern (want " PATTERN_WORDS
                                         " before the '/')", arg, pn);
        if (pattern_opt && p != want)
            return cli_usage_error(spec, "service '%s' and --pattern %s disagree", arg, pattern_opt);
        want = p;
    }
    int err = svc_check_name(spec, bare);
    if (err)
        return err;
    snprintf(name, SHMIPC_SERVICE_NAME_MAX + 1, "%s", bare);

    /* Candidates: the patterns under which something of that name exists (describable or not). */
    shmipc_service_info tmp;
    shmipc_pattern found[NPATTERNS];
    int errs[NPATTERNS];
    size_t n = 0;
    for (size_t i = 0; i < NPATTERNS; i++) {
        if (want && all_patterns[i] != want)
            continue;
        err = shmipc_service_describe(all_patterns[i], name, &tmp);
        if (err == -ENOENT || (err == -EPROTOTYPE && pattern_is_object(all_patterns[i])))
            continue;
        if (!err && info && n == 0)
            *info = tmp;
        found[n] = all_patterns[i];
        errs[n++] = err;
    }
    if (n == 0) {
        if (want)
            fprintf(stderr, "shmipc: %s/%s: no such service\n", shmipc_service_pattern_name(want), name);
        else
            fprintf(stderr, "shmipc: %s: no such service (in any pattern)\n", name);
        return CLI_ERR;
    }
    if (n > 1) {
        fprintf(stderr, "shmipc: %s: ambiguous, a service of that name exists in several patterns:", name);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %s/%s", shmipc_service_pattern_name(found[i]), name);
        fprintf(stderr, "\nName one as PATTERN/NAME or with --pattern.\n");
        return CLI_ERR;
    }
    *pattern = found[0];
    if (info) {
        if (errs[0]) {
            char what[SVC_FULLNAME_MAX];
            snprintf(what, sizeof what, "%s/%s", shmipc_service_pattern_name(found[0]), name);
            return svc_fail(what, errs[0]);
        }
    }
    return CLI_RUN;
}

static int svc_cmp(const void *a, const void *b)
{
    const shmipc_service_info *x = a, *y = b;
    int c = strcmp(shmipc_service_pattern_name(x->pattern), shmipc_service_pattern_name(y->pattern));
    return c ? c : strcmp(x->name, y->name);
}

void svc_sort(shmipc_service_info *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, svc_cmp);
}

void svc_time(uint64_t ns, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    char s[48];
    if (ns / 1000000000u > (uint64_t)INT32_MAX * 1000 || !gmtime_r(&secs, &tm) ||
        !strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, cap, "?");
        return;
    }
    snprintf(buf, cap, "%s.%03uZ", s, (unsigned)(ns % 1000000000u / 1000000u));
}

uint32_t svc_alive(const shmipc_service_info *in)
{
    return in->participants >= in->dead ? in->participants - in->dead : 0;
}

const char *svc_stat_name(const shmipc_service_info *in, uint32_t i, char *buf, size_t cap)
{
    if (in->stat_names[i][0])
        return in->stat_names[i];
    snprintf(buf, cap, "stat%" PRIu32, i);
    return buf;
}

/*
 * The options as a JSON object, one meaning per member: the library writes them as "key=value" words.
 * A value of digits is a number ("depth=4" -> "depth": 4); "N(word)" is the number and a flag
 * ("payload=64(dynamic)" -> "payload": 64, "dynamic": true); any other value is a string
 * ("policy=wait" -> "policy": "wait"); a word without '=' (a layout the library could not read, such as
 * "corrupt") is reported as "error": "<word>".
 */
void svc_json_options(cli_json *j, const char *options)
{
    cli_json_begin(j, "options", '{');
    char buf[sizeof ((shmipc_service_info *)0)->options];
    snprintf(buf, sizeof buf, "%s", options);
    char *save = NULL;
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w) {
            cli_json_str(j, "error", w);
            continue;
        }
        *eq = '\0';
        const char *v = eq + 1;
        size_t nd = strspn(v, "0123456789");
        uint64_t num;
        char digits[24];
        if (nd > 0 && nd < sizeof digits) {
            memcpy(digits, v, nd);
            digits[nd] = '\0';
            size_t fl = strlen(v + nd);
            if (cli_parse_uint(digits, 10, UINT64_MAX, &num) == 0 &&
                (v[nd] == '\0' || (v[nd] == '(' && fl > 2 && v[nd + fl - 1] == ')'))) {
                cli_json_uint(j, w, num);
                if (v[nd] == '(') {
                    char flag[64];
                    snprintf(flag, sizeof flag, "%.*s", (int)(fl - 2), v + nd + 1);
                    cli_json_bool(j, flag, true);
                }
                continue;
            }
        }
        cli_json_str(j, w, v);
    }
    cli_json_end(j, '}');
}

void svc_json_members(cli_json *j, const shmipc_service_info *in)
{
    char buf[SVC_FULLNAME_MAX];
    svc_fullname(in, buf, sizeof buf);
    cli_json_str(j, "service", buf);
    cli_json_str(j, "name", in->name);
    cli_json_str(j, "pattern", shmipc_service_pattern_name(in->pattern));
    cli_json_str(j, "segment", in->segment);
    cli_json_begin(j, "type", '{');
    cli_json_str(j, "name", in->type.name);
    cli_json_uint(j, "size", in->type.size);
    cli_json_uint(j, "align", in->type.align ? in->type.align : 8);
    cli_json_end(j, '}');
    svc_json_options(j, in->options);
    cli_json_uint(j, "uid", in->uid);
    cli_json_str(j, "owner", svc_user(in->uid, buf, sizeof buf));
    cli_json_int(j, "creator_pid", in->creator.pid);
    svc_time(in->created_ns, buf, sizeof buf);
    cli_json_str(j, "created", buf);
    cli_json_uint(j, "max_participants", in->max_participants);
    cli_json_uint(j, "participants", in->participants);
    cli_json_uint(j, "alive", svc_alive(in));
    cli_json_uint(j, "dead", in->dead);
    cli_json_begin(j, "participant_list", '[');
    for (uint32_t i = 0; i < in->nlisted && i < SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS; i++) {
        const shmipc_service_participant_info *p = &in->participant[i];
        cli_json_begin(j, NULL, '{');
        cli_json_int(j, "pid", p->proc.pid);
        cli_json_uint(j, "slot", p->slot);
        cli_json_str(j, "role", shmipc_service_role_name(p->role));
        cli_json_bool(j, "alive", p->alive != 0);
        cli_json_end(j, '}');
    }
    cli_json_end(j, ']');
    cli_json_bool(j, "participant_list_truncated", in->nlisted < in->participants);
    cli_json_begin(j, "stats", '{');
    for (uint32_t i = 0; i < in->nstats && i < SHMIPC_SERVICE_MAX_STATS; i++)
        cli_json_uint(j, svc_stat_name(in, i, buf, sizeof buf), in->stats[i]);
    cli_json_end(j, '}');
}

/* ---- ls ---------------------------------------------------------------------------------------------- */

/* "published=12 pool_used=3" (escaped) into buf. */
static void stats_line(const shmipc_service_info *in, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < in->nstats && i < SHMIPC_SERVICE_MAX_STATS && o < cap; i++) {
        char nb[16], safe[4 * 24 + 8];
        svc_printable(svc_stat_name(in, i, nb, sizeof nb), safe, sizeof safe);
        o += (size_t)snprintf(buf + o, cap - o, "%s%s=%" PRIu64, i ? " " : "", safe, in->stats[i]);
    }
}

/* "1234 publisher, 1240 subscriber (dead)" into buf. */
static void participants_line(const shmipc_service_info *in, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < in->nlisted && i < SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS && o < cap; i++) {
        const shmipc_service_participant_info *p = &in->participant[i];
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId32 " %s%s", i ? ", " : "", p->proc.pid,
                              shmipc_service_role_name(p->role), p->alive ? "" : " (dead)");
    }
    if (o < cap && in->nlisted < in->participants)
        snprintf(buf + o, cap - o, ", ... (%" PRIu32 " more)", in->participants - in->nlisted);
}

static void type_line(const shmipc_service_info *in, char *buf, size_t cap)
{
    char safe[4 * (SHMIPC_TYPE_NAME_MAX + 1) + 8];
    svc_printable(in->type.name, safe, sizeof safe);
    if (!safe[0] && in->type.size == 0)
        snprintf(buf, cap, "untyped");
    else
        snprintf(buf, cap, "%s (%" PRIu64 " bytes)", safe[0] ? safe : "-", in->type.size);
}

int cli_cmd_ls(int argc, char **argv)
{
    bool json = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("json", 'j', &json, "print a JSON array of objects instead of a table"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc ls",
        .summary = "List the services on this machine: pattern/name, payload type, owner, live and dead "
                   "participants,\nthen per service its options, participants (pid, role, dead ones marked) "
                   "and live figures.",
        .details = "A dead participant is a registered process that no longer runs; 'shmipc gc' reclaims it.\n"
                   "Services of other users are listed when their segments are readable by you.",
        .opts = opts,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    shmipc_service_info *v;
    size_t n;
    int err = shmipc_service_list(&v, &n);
    if (err)
        return cli_fail(shmipc_segment_get_dir(), err);
    svc_sort(v, n);
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '[');
        for (size_t i = 0; i < n; i++) {
            cli_json_begin(&j, NULL, '{');
            svc_json_members(&j, &v[i]);
            cli_json_end(&j, '}');
        }
        cli_json_end(&j, ']');
    } else {
        int w[4] = {7, 4, 5, 5}; /* SERVICE TYPE OWNER: widths */
        char full[SVC_FULLNAME_MAX], type[4 * 64 + 32], user[64];
        for (size_t i = 0; i < n; i++) {
            svc_fullname(&v[i], full, sizeof full);
            type_line(&v[i], type, sizeof type);
            svc_user(v[i].uid, user, sizeof user);
            const char *cols[3] = {full, type, user};
            for (int c = 0; c < 3; c++)
                if ((int)strlen(cols[c]) > w[c])
                    w[c] = (int)strlen(cols[c]);
        }
        printf("%-*s %-*s %-*s %5s %5s\n", w[0], "SERVICE", w[1], "TYPE", w[2], "OWNER", "ALIVE", "DEAD");
        for (size_t i = 0; i < n; i++) {
            char line[2048];
            svc_fullname(&v[i], full, sizeof full);
            type_line(&v[i], type, sizeof type);
            printf("%-*s %-*s %-*s %5" PRIu32 " %5" PRIu32 "\n", w[0], full, w[1], type, w[2],
                   svc_user(v[i].uid, user, sizeof user), svc_alive(&v[i]), v[i].dead);
            if (v[i].options[0]) {
                svc_printable(v[i].options, line, sizeof line);
                printf("    options:      %s\n", line);
            }
            if (v[i].nlisted) {
                participants_line(&v[i], line, sizeof line);
                printf("    participants: %s\n", line);
            }
            if (v[i].nstats) {
                stats_line(&v[i], line, sizeof line);
                printf("    stats:        %s\n", line);
            }
        }
    }
    free(v);
    if (fflush(stdout) != 0)
        return cli_fail("stdout", -errno);
    return CLI_OK;
}

/* ---- info -------------------------------------------------------------------------------------------- */

static void info_text(const shmipc_service_info *in)
{
    char buf[2048], user[64];
    svc_fullname(in, buf, sizeof buf);
    printf("service:       %s\n", buf);
    printf("segment:       %s\n", in->segment);
    printf("pattern:       %s\n", shmipc_service_pattern_name(in->pattern));
    type_line(in, buf, sizeof buf);
    printf("type:          %s, align %" PRIu32 "\n", buf, in->type.align ? in->type.align : 8);
    svc_printable(in->options, buf, sizeof buf);
    printf("options:       %s\n", buf[0] ? buf : "-");
    printf("owner:         %s (uid %" PRIu32 ")\n", svc_user(in->uid, user, sizeof user), in->uid);
    printf("creator pid:   %" PRId32 "\n", in->creator.pid);
    svc_time(in->created_ns, buf, sizeof buf);
    printf("created:       %s\n", buf);
    printf("participants:  %" PRIu32 " of at most %" PRIu32 ": %" PRIu32 " alive, %" PRIu32
           " dead (awaiting gc)\n", in->participants, in->max_participants, svc_alive(in), in->dead);
    if (in->nlisted) {
        printf("  %6s %8s %-11s %s\n", "SLOT", "PID", "ROLE", "STATE");
        for (uint32_t i = 0; i < in->nlisted && i < SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS; i++) {
            const shmipc_service_participant_info *p = &in->participant[i];
            printf("  %6" PRIu32 " %8" PRId32 " %-11s %s\n", p->slot, p->proc.pid, shmipc_service_role_name(p->role),
                   p->alive ? "alive" : "dead");
        }
        if (in->nlisted < in->participants)
            printf("  ... %" PRIu32 " more not listed\n", in->participants - in->nlisted);
    }
    printf("stats:%s\n", in->nstats ? "" : "         -");
    for (uint32_t i = 0; i < in->nstats && i < SHMIPC_SERVICE_MAX_STATS; i++) {
        char nb[16];
        svc_printable(svc_stat_name(in, i, nb, sizeof nb), buf, sizeof buf);
        printf("  %-22s %" PRIu64 "\n", buf, in->stats[i]);
    }
}

int cli_cmd_info(int argc, char **argv)
{
    bool json = false;
    const char *pattern_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("pattern", 'p', "PATTERN", &pattern_s,
                      "look for NAME only in this pattern (pubsub, reqresp, blackboard, event, channel, "
                      "queue)"),
        CLI_OPT_FLAG("json", 'j', &json, "print a JSON object"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc info",
        .args = "SERVICE",
        .summary = "Show one service in full: segment, pattern, payload type, options, owner, creation time, "
                   "every\nparticipant (slot, pid, role, alive or dead) and its live figures.",
        .details = "SERVICE is PATTERN/NAME (e.g. pubsub/camera) or just NAME, which is then looked up in every\n"
                   "pattern; a name found in several patterns is an error that lists them.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    shmipc_pattern pattern;
    char name[SHMIPC_SERVICE_NAME_MAX + 1];
    shmipc_service_info in;
    rc = svc_resolve(&spec, args[0], pattern_s, &pattern, name, &in);
    if (rc != CLI_RUN)
        return rc;
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        svc_json_members(&j, &in);
        cli_json_end(&j, '}');
    } else {
        info_text(&in);
    }
    if (fflush(stdout) != 0)
        return cli_fail("stdout", -errno);
    return CLI_OK;
}

/* ---- gc ---------------------------------------------------------------------------------------------- */

/* The report's counts as members of the JSON object begun by the caller. */
static void gc_report_json(cli_json *j, const shmipc_service_gc_report *r)
{
    cli_json_uint(j, "services_seen", r->services_seen);
    cli_json_uint(j, "participants_reclaimed", r->participants_reclaimed);
    cli_json_uint(j, "services_removed", r->services_removed);
    cli_json_uint(j, "skipped", r->skipped);
}

/* What gc would do, from a listing: dead participants of the caller's services, and the caller's services
 * without a live participant. The library decides again when gc really runs, so this is a forecast. */
static int gc_dry_run(bool json, bool keep_unused, const char *only, shmipc_pattern only_pattern)
{
    shmipc_service_info *v;
    size_t n;
    int err = shmipc_service_list(&v, &n);
    if (err)
        return cli_fail(shmipc_segment_get_dir(), err);
    svc_sort(v, n);
    uid_t me = geteuid();
    shmipc_service_gc_report r = {0};
    cli_json j;
    char full[SVC_FULLNAME_MAX];
    for (size_t i = 0; only && i < n; i++) {
        if (v[i].pattern == only_pattern && strcmp(v[i].name, only) == 0 && v[i].uid != me) {
            svc_fullname(&v[i], full, sizeof full);
            free(v);
            return svc_fail(full, -EPERM); /* what gc itself would say */
        }
    }
    if (json) {
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        cli_json_bool(&j, "dry_run", true);
        cli_json_begin(&j, "services", '[');
    }
    for (size_t i = 0; i < n; i++) {
        const shmipc_service_info *in = &v[i];
        if (only && (in->pattern != only_pattern || strcmp(in->name, only) != 0))
            continue;
        if (in->uid != me) {
            r.skipped++;
            continue;
        }
        r.services_seen++;
        /* A channel or queue is removed only once its creator is gone too (it keeps its messages). */
        bool remove = !keep_unused && svc_alive(in) == 0 &&
                      !(pattern_is_object(in->pattern) && in->creator.pid > 0 && shmipc_proc_alive(&in->creator) == 1);
        r.participants_reclaimed += in->dead;
        r.services_removed += remove;
        svc_fullname(in, full, sizeof full);
        if (json) {
            cli_json_begin(&j, NULL, '{');
            cli_json_str(&j, "service", full);
            cli_json_uint(&j, "dead", in->dead);
            cli_json_bool(&j, "remove", remove);
            cli_json_end(&j, '}');
        } else if (in->dead || remove) {
            printf("%s: would reclaim %" PRIu32 " dead participant%s%s\n", full, in->dead, in->dead == 1 ? "" : "s",
                   remove ? " and remove the service" : "");
        }
    }
    free(v);
    if (json) {
        cli_json_end(&j, ']');
        gc_report_json(&j, &r);
        cli_json_end(&j, '}');
    } else {
        printf("dry run: %" PRIu32 " of your services seen, %" PRIu32 " dead participants to reclaim, %" PRIu32
               " services to remove, %" PRIu32 " of other users skipped\n",
               r.services_seen, r.participants_reclaimed, r.services_removed, r.skipped);
    }
    return CLI_OK;
}

int cli_cmd_gc(int argc, char **argv)
{
    bool json = false, keep = false, dry = false;
    const char *pattern_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("pattern", 'p', "PATTERN", &pattern_s,
                      "look for SERVICE only in this pattern (pubsub, reqresp, blackboard, event, channel, "
                      "queue)"),
        CLI_OPT_FLAG("keep-unused", 'k', &keep, "reclaim dead participants but keep services nobody uses"),
        CLI_OPT_FLAG("dry-run", 'n', &dry, "only say what would be done (from a listing; changes nothing)"),
        CLI_OPT_FLAG("json", 'j', &json, "print the report as a JSON object"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc gc",
        .args = "[SERVICE]",
        .summary = "Reclaim what dead participants hold in your services (or only in SERVICE), and remove "
                   "services\nthat no live process uses any more (unless --keep-unused).",
        .details = "Only services you own are touched, even when run as root: another user's are counted as "
                   "skipped\n(and naming one is an error). A participant in use by a live process is never "
                   "touched.\nSERVICE is PATTERN/NAME or a NAME looked up in every pattern.",
        .opts = opts,
        .max_args = 1,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    shmipc_pattern pattern = 0;
    char name[SHMIPC_SERVICE_NAME_MAX + 1];
    if (nargs == 0 && pattern_s)
        return cli_usage_error(&spec, "--pattern needs a SERVICE");
    if (nargs == 1) {
        rc = svc_resolve(&spec, args[0], pattern_s, &pattern, name, NULL);
        if (rc != CLI_RUN)
            return rc;
    }
    if (dry)
        return gc_dry_run(json, keep, nargs ? name : NULL, pattern);
    shmipc_service_gc_report r;
    int err = shmipc_service_gc(pattern, nargs ? name : NULL, keep, &r);
    if (err) {
        char what[SVC_FULLNAME_MAX];
        snprintf(what, sizeof what, "%s%s%s", nargs ? shmipc_service_pattern_name(pattern) : "", nargs ? "/" : "",
                 nargs ? name : "gc");
        return svc_fail(what, err);
    }
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        cli_json_bool(&j, "dry_run", false);
        gc_report_json(&j, &r);
        cli_json_end(&j, '}');
    } else {
        printf("services seen:          %" PRIu32 "\n", r.services_seen);
        printf("participants reclaimed: %" PRIu32 "\n", r.participants_reclaimed);
        printf("services removed:       %" PRIu32 "\n", r.services_removed);
        printf("skipped:                %" PRIu32 " (other users', corrupt, or being reclaimed)\n", r.skipped);
    }
    if (fflush(stdout) != 0)
        return cli_fail("stdout", -errno);
    return CLI_OK;
}
