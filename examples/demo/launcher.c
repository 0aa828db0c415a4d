/* SPDX-License-Identifier: MIT */
/*
 * examples/demo/launcher.c - shmipc-demo: starts the demo system (a configuration service, a sensor, a
 * filter and a logger, each its own program and process talking through shmipc services), supervises
 * it (restarts any component that dies, after reclaiming what it held), prints live figures every
 * second from the reports the components send through shmipc channels, kills the filter halfway with
 * SIGKILL to show the rest going on, then stops everything, prints a summary, runs
 * `shmipc bench --quick`, and checks that nothing of the demo is left in /dev/shm.
 * Usage: shmipc-demo [--bin BUILD_DIR] [--duration S] [--kill-at S] [--kill COMPONENT] [--rate N] [--window N]
 *                    [--no-bench]
 */
#include "demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS 1000000000ull
#define RESTART_DELAY_NS (1000 * 1000000ull) /* supervisor back-off before restarting a dead component */
#define MAX_RESTARTS 10
#define RECOVERY_GRACE_NS (20 * NS) /* how long past the end the run may wait for the killed one */

typedef struct comp {
    const char *prog;  /* program name in BIN/examples/demo/ */
    const char *role;  /* one line for the start-up table */
    pid_t pid;         /* 0 while down */
    int restarts;
    uint64_t restart_at;
    char rep_name[DEMO_NAME_MAX];
    shmipc_channel *rep; /* consumer end of its report channel */
    demo_report last, prev;
    int nreports;      /* reports from the current process: rates need two */
    demo_report done;  /* counters of the processes of this component that ended, added up */
    demo_report final; /* the last report of the last process that ended */
} comp;

static comp comps[DEMO_NCOMP] = {
    [DEMO_CONFIG] = {.prog = "shmipc-demo-config",
                     .role = "request/response service %s.config: sensor rate, filter window"},
    [DEMO_SENSOR] = {.prog = "shmipc-demo-sensor",
                     .role = "publishes %s.sensor (seq, timestamp, value, checksum), zero-copy"},
    [DEMO_FILTER] = {.prog = "shmipc-demo-filter",
                     .role = "%s.sensor -> moving average -> %s.filtered (window held in place)"},
    [DEMO_LOGGER] = {.prog = "shmipc-demo-logger", .role = "subscribes to both: gaps, checksums, end-to-end latency"},
};

static char tag[32];
static char bin[PATH_MAX];
static unsigned opt_rate = 1000, opt_window = 8;
static uint64_t t0;
static const struct {
    const char *what;
    shmipc_pattern pattern;
} services[] = {
    {"sensor", SHMIPC_PATTERN_PUBSUB}, {"filtered", SHMIPC_PATTERN_PUBSUB}, {"config", SHMIPC_PATTERN_REQRESP}};

static double secs(uint64_t ns)
{
    return (double)(ns - t0) / 1e9;
}

/* "42 us", "1.3 ms", "-" for none. */
static const char *fmt_ns(char *buf, size_t size, uint64_t ns)
{
    if (ns == 0)
        snprintf(buf, size, "-");
    else if (ns < 10000000)
        snprintf(buf, size, "%.0f us", (double)ns / 1e3);
    else
        snprintf(buf, size, "%.1f ms", (double)ns / 1e6);
    return buf;
}

static int start(int id)
{
    comp *c = &comps[id];
    char path[PATH_MAX + 64], rate[16], window[16];
    snprintf(path, sizeof path, "%s/examples/demo/%s", bin, c->prog);
    snprintf(rate, sizeof rate, "%u", opt_rate);
    snprintf(window, sizeof window, "%u", opt_window);
    pid_t parent = getpid();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Own process group: a Ctrl-C reaches the launcher only, which then stops everyone in order.
         * If the launcher dies, its components get SIGTERM instead of running on. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (id == DEMO_CONFIG)
            execl(path, c->prog, tag, "--rate", rate, "--window", window, (char *)NULL);
        else
            execl(path, c->prog, tag, (char *)NULL);
        fprintf(stderr, "shmipc-demo: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->nreports = 0;
    return 0;
}

/* What a pub/sub service says of itself (shmipc_service_describe): samples published, by its own
 * counter (exact, whoever died), and its pool's chunks in use out of the total. */
typedef struct ps_figures {
    int ok;
    uint64_t t_ns, published;
    unsigned used, total;
} ps_figures;

static ps_figures describe_pubsub(const char *what)
{
    ps_figures f = {.t_ns = demo_now_ns()};
    char name[DEMO_NAME_MAX];
    demo_service_name(name, sizeof name, tag, what);
    static shmipc_service_info info; /* large */
    if (shmipc_service_describe(SHMIPC_PATTERN_PUBSUB, name, &info))
        return f;
    const char *u = strstr(info.options, "in_use="), *t = strstr(info.options, "chunks=");
    if (!u || !t || sscanf(u, "in_use=%u", &f.used) != 1 || sscanf(t, "chunks=%u", &f.total) != 1)
        return f;
    for (uint32_t i = 0; i < info.nstats && i < SHMIPC_SERVICE_MAX_STATS; i++)
        if (!strcmp(info.stat_names[i], "published"))
            f.published = info.stats[i];
    f.ok = 1;
    return f;
}

/* shmipc_service_gc on each of the demo's services: reclaim what dead participants hold, and unless
 * keep_unused remove the services no live process uses. Returns the sums of the reports. */
static shmipc_service_gc_report gc_services(int keep_unused)
{
    shmipc_service_gc_report sum = {0};
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        char name[DEMO_NAME_MAX];
        demo_service_name(name, sizeof name, tag, services[i].what);
        shmipc_service_gc_report r;
        if (shmipc_service_gc(services[i].pattern, name, keep_unused, &r) == 0) {
            sum.participants_reclaimed += r.participants_reclaimed;
            sum.services_removed += r.services_removed;
        }
    }
    return sum;
}

/* Take in every report waiting in the channels. */
static void drain_reports(void)
{
    for (int id = 0; id < DEMO_NCOMP; id++) {
        comp *c = &comps[id];
        demo_report r;
        int n;
        while ((n = shmipc_channel_recv(c->rep, &r, sizeof r, 0)) >= 0) {
            /* Shared memory a component writes: check it is a whole report of the right component. */
            if ((size_t)n != sizeof r || r.magic != DEMO_REPORT_MAGIC || r.comp != (uint32_t)id || r.pid <= 0)
                continue;
            c->prev = c->last;
            c->last = r;
            c->nreports++;
        }
    }
}

/* A rate between two readings of a counter; "-" without two readings, "down" for a dead component. */
static const char *fmt_rate(char *buf, size_t size, bool up, bool ok, uint64_t n0, uint64_t n1, uint64_t t0_ns,
                            uint64_t t1_ns)
{
    if (!up)
        snprintf(buf, size, "down");
    else if (!ok || t1_ns <= t0_ns || n1 < n0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.0f", (double)(n1 - n0) * 1e9 / (double)(t1_ns - t0_ns));
    return buf;
}

static void print_header(void)
{
    printf("  %36s  %21s  %21s\n", "", "sensor -> logger", "via the filter");
    printf("  %6s %8s %10s %9s  %10s %10s  %10s %10s %9s %11s %8s\n", "time", "sensor/s", "filtered/s",
           "logged/s", "p50", "p99", "p50", "p99", "lost s/f", "sensor pool", "restarts");
}

/* One row: rates from the services' own counters and the logger's, latency over the logger's last second. */
static ps_figures prev_s, prev_f; /* the previous readings, for rates */

static void print_row(uint64_t now)
{
    ps_figures fs = describe_pubsub("sensor"), ff = describe_pubsub("filtered");
    char a[16], b[16], l[16], p1[16], p2[16], p3[16], p4[16], lost[48], pool[32];
    const comp *lg = &comps[DEMO_LOGGER];
    const demo_report *r = &lg->last;
    bool have = lg->nreports > 0;
    int restarts = 0;
    for (int i = 0; i < DEMO_NCOMP; i++)
        restarts += comps[i].restarts;
    if (fs.ok)
        snprintf(pool, sizeof pool, "%u/%u", fs.used, fs.total);
    else
        snprintf(pool, sizeof pool, "-");
    snprintf(lost, sizeof lost, "%llu/%llu", (unsigned long long)r->lost[0], (unsigned long long)r->lost[1]);
    printf("  %5.1fs %8s %10s %9s  %10s %10s  %10s %10s %9s %11s %8d\n", secs(now),
           fmt_rate(a, sizeof a, comps[DEMO_SENSOR].pid > 0, fs.ok && prev_s.ok, prev_s.published, fs.published,
                    prev_s.t_ns, fs.t_ns),
           fmt_rate(b, sizeof b, comps[DEMO_FILTER].pid > 0, ff.ok && prev_f.ok, prev_f.published, ff.published,
                    prev_f.t_ns, ff.t_ns),
           fmt_rate(l, sizeof l, lg->pid > 0, lg->nreports > 1, lg->prev.received[0] + lg->prev.received[1],
                    r->received[0] + r->received[1], lg->prev.t_ns, r->t_ns),
           fmt_ns(p1, sizeof p1, have ? r->lat_p50[0] : 0), fmt_ns(p2, sizeof p2, have ? r->lat_p99[0] : 0),
           fmt_ns(p3, sizeof p3, have ? r->lat_p50[1] : 0), fmt_ns(p4, sizeof p4, have ? r->lat_p99[1] : 0),
           have ? lost : "-", pool, restarts);
    prev_s = fs;
    prev_f = ff;
}

/* Is the killed component back: restarted, reporting, and (for the filter) its stream seen again by the
 * logger after the gap? gaps_at_kill: the logger's count of filtered-stream gaps when it was killed. */
static bool recovered(int victim, uint64_t gaps_at_kill)
{
    const comp *c = &comps[victim];
    if (c->restarts == 0 || c->pid == 0 || c->nreports == 0)
        return false;
    if (victim == DEMO_FILTER)
        return comps[DEMO_LOGGER].nreports > 0 && comps[DEMO_LOGGER].last.gaps[1] > gaps_at_kill;
    return true;
}

static int comp_of(pid_t pid)
{
    for (int i = 0; i < DEMO_NCOMP; i++)
        if (comps[i].pid == pid)
            return i;
    return -1;
}

/* Reap children; schedule restarts of those that died while the demo runs. */
static void reap(uint64_t now, bool stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int id = comp_of(pid);
        if (id < 0)
            continue;
        comp *c = &comps[id];
        c->pid = 0;
        /* Its last reports are in the channel: take them, then bank its counters. */
        drain_reports();
        if (c->nreports > 0) {
            c->done.cfg_requests += c->last.cfg_requests;
            c->done.overflow[0] += c->last.overflow[0];
            c->final = c->last;
        }
        c->nreports = 0;
        if (stopping)
            continue;
        char how[64];
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            snprintf(how, sizeof how, "killed by SIGKILL");
        else if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        printf("  %5.1fs %s (pid %d) %s\n", secs(now), demo_comp_name(id), (int)pid, how);
        if (c->restarts >= MAX_RESTARTS) {
            printf("         %s died %d times: not restarting it\n", demo_comp_name(id), c->restarts + 1);
            continue;
        }
        c->restart_at = now + RESTART_DELAY_NS;
    }
}

static void restart_due(uint64_t now)
{
    for (int id = 0; id < DEMO_NCOMP; id++) {
        comp *c = &comps[id];
        if (c->pid != 0 || c->restart_at == 0 || now < c->restart_at)
            continue;
        c->restart_at = 0;
        /* Before restarting, give back what the dead process held: its subscriber queue and held samples
         * in the sensor pool, its loans in the filtered pool, its config client slot. */
        ps_figures before = describe_pubsub("sensor");
        unsigned n = gc_services(1).participants_reclaimed; /* the services stay for the new process */
        ps_figures after = describe_pubsub("sensor");
        if (before.ok && after.ok)
            printf("  %5.1fs supervisor: shmipc_service_gc reclaimed %u dead participant(s): sensor pool %u -> %u of "
                   "%u chunks in use\n", secs(now), n, before.used, after.used, after.total);
        else
            printf("  %5.1fs supervisor: shmipc_service_gc reclaimed %u dead participant(s)\n", secs(now), n);
        if (start(id) == 0) {
            c->restarts++;
            printf("  %5.1fs supervisor: %s restarted as pid %d\n", secs(now), demo_comp_name(id), (int)c->pid);
        } else {
            printf("  %5.1fs supervisor: cannot restart %s\n", secs(now), demo_comp_name(id));
        }
    }
}

/* Stop every running component: SIGTERM, then SIGKILL after 3 s. */
static void stop_all(void)
{
    for (int i = 0; i < DEMO_NCOMP; i++)
        if (comps[i].pid > 0)
            kill(comps[i].pid, SIGTERM);
    uint64_t deadline = demo_now_ns() + 3 * NS;
    for (;;) {
        reap(demo_now_ns(), true);
        int left = 0;
        for (int i = 0; i < DEMO_NCOMP; i++)
            left += comps[i].pid > 0;
        if (!left)
            break;
        if (demo_now_ns() > deadline) {
            for (int i = 0; i < DEMO_NCOMP; i++)
                if (comps[i].pid > 0) {
                    printf("  %s (pid %d) did not stop: SIGKILL\n", demo_comp_name(i), (int)comps[i].pid);
                    kill(comps[i].pid, SIGKILL);
                }
            deadline = UINT64_MAX;
        }
        demo_sleep_ms(20);
    }
}

/* Names in /dev/shm that belong to this run. */
static int leftovers(bool remove)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int n = 0;
    char mark[sizeof tag + 1];
    snprintf(mark, sizeof mark, "%s.", tag); /* demo123 must not match demo1234's names */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, mark))
            continue;
        n++;
        if (remove) {
            char p[300];
            snprintf(p, sizeof p, "/%s", e->d_name);
            printf("  left behind: /dev/shm/%s (removing it)\n", e->d_name);
            shm_unlink(p);
        }
    }
    closedir(d);
    return n;
}

static int run_bench(void)
{
    char cli[PATH_MAX + 32];
    snprintf(cli, sizeof cli, "%s/tools/shmipc/shmipc", bin);
    /* Is the bench command there? `shmipc bench --help` succeeds only if it is. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(cli, "shmipc", "bench", "--help", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("  `shmipc bench` is not in this build (%s): skipped\n", cli);
        return 0;
    }
    pid = fork();
    if (pid == 0) {
        execl(cli, "shmipc", "bench", "--quick", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("  shmipc bench --quick failed\n");
        return 1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shmipc-demo [--bin BUILD_DIR] [--duration S] [--kill-at S] [--kill COMPONENT] [--rate N]\n"
               "                   [--window N] [--no-bench]\n"
               "Runs the demo system: a config service, a sensor, a filter and a logger, one process each, for\n"
               "S seconds (default 16), kills COMPONENT (config, sensor, filter (default) or logger) with SIGKILL\n"
               "at --kill-at (default halfway), then runs `shmipc bench --quick` unless --no-bench.\n"
               "--rate: sensor samples/s (default 1000); --window: filter window (default 8, at most 16);\n"
               "--bin: the build directory (default: found from this program's path).\n");
}

int main(int argc, char **argv)
{
    double duration = 16, kill_at = -1;
    int victim = DEMO_FILTER;
    bool bench = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-bench")) {
            bench = false;
            continue;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--kill")) {
            for (victim = 0; victim < DEMO_NCOMP && strcmp(v, demo_comp_name(victim)); victim++)
                ;
            if (victim == DEMO_NCOMP) {
                usage(stderr);
                return 2;
            }
            continue;
        }
        if (!strcmp(a, "--bin")) {
            snprintf(bin, sizeof bin, "%s", v);
            continue;
        }
        double x = strtod(v, &end);
        if (!end || *end || end == v || x <= 0 || x > 1e6) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--duration"))
            duration = x;
        else if (!strcmp(a, "--kill-at"))
            kill_at = x;
        else if (!strcmp(a, "--rate"))
            opt_rate = (unsigned)x;
        else if (!strcmp(a, "--window"))
            opt_window = (unsigned)x;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (duration < 4)
        duration = 4;
    if (kill_at < 0 || kill_at >= duration)
        kill_at = duration / 2;
    if (!bin[0]) { /* BIN/examples/demo/shmipc-demo */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            usage(stderr);
            return 2;
        }
        self[n] = '\0';
        snprintf(bin, sizeof bin, "%s", dirname(dirname(dirname(self))));
    }
    snprintf(tag, sizeof tag, "demo%d", (int)getpid());
    demo_on_stop();
    setvbuf(stdout, NULL, _IOLBF, 0);
    t0 = demo_now_ns();

    printf("shmipc demo: a small system of %d processes talking through shared memory; %g s, the %s is "
           "killed at %g s\n\n", DEMO_NCOMP, duration, demo_comp_name(victim), kill_at);
    printf("Phase 1: start the components, one process each, supervised by this launcher (pid %d)\n", (int)getpid());
    int rc = 0;
    for (int id = 0; id < DEMO_NCOMP && !rc; id++) {
        comp *c = &comps[id];
        demo_report_name(c->rep_name, sizeof c->rep_name, tag, id);
        shmipc_channel_opts o;
        shmipc_channel_opts_init(&o);
        o.role = SHMIPC_CHANNEL_CONSUMER;
        o.full_policy = SHMIPC_CHANNEL_FULL_OVERWRITE; /* a component never waits for the launcher */
        o.capacity = 16 * 1024;
        int err = shmipc_channel_create(c->rep_name, &o, &c->rep);
        if (err) {
            fprintf(stderr, "shmipc-demo: cannot create %s: %s\n", c->rep_name, shmipc_strerror(err));
            rc = 1;
            break;
        }
        err = start(id);
        if (err) {
            fprintf(stderr, "shmipc-demo: cannot start %s: %s\n", c->prog, shmipc_strerror(err));
            rc = 1;
            break;
        }
        char role[160];
        snprintf(role, sizeof role, c->role, tag, tag);
        printf("  %-7s pid %-7d %s\n", demo_comp_name(id), (int)c->pid, role);
        if (id == DEMO_SENSOR)
            demo_sleep_ms(100); /* let it create its service: fewer retries in the filter and logger */
    }

    if (!rc)
        printf("  (to watch the services from another terminal: %s/tools/shmipc/shmipc top)\n", bin);
    if (!rc) {
        printf("\nPhase 2: live figures, one row a second (rates: the services' own counters; latency: from the\n"
               "  sensor's timestamp to the logger, over the last second; lost: samples missing from each stream)\n");
        print_header();
    }
    uint64_t next_row = t0 + NS, kill_ns = t0 + (uint64_t)(kill_at * 1e9), end = t0 + (uint64_t)(duration * 1e9);
    bool killed = false, primed = false;
    uint64_t kill_gaps = 0;
    uint64_t filt_gaps = 0;
    while (!rc && !demo_stop) {
        uint64_t now = demo_now_ns();
        /* The run ends on time, unless the killed component is not back yet (a machine so busy that the
         * kill, the restart or the first report took seconds): then wait for it, within reason. */
        if (now >= end && (!killed || recovered(victim, kill_gaps) || now >= end + RECOVERY_GRACE_NS))
            break;
        drain_reports();
        reap(now, false);
        restart_due(now);
        const demo_report *lr = &comps[DEMO_LOGGER].last;
        if (comps[DEMO_LOGGER].nreports > 0 && lr->gaps[1] > filt_gaps) {
            printf("  %5.1fs logger: filtered stream back after a gap of %llu samples; sensor stream: %llu lost\n",
                   secs(now), (unsigned long long)lr->last_gap[1], (unsigned long long)lr->lost[0]);
            filt_gaps = lr->gaps[1];
        }
        if (!killed && now >= kill_ns) {
            killed = true;
            comp *f = &comps[victim];
            kill_gaps = comps[DEMO_LOGGER].last.gaps[1];
            ps_figures pf = describe_pubsub("sensor");
            printf("\nPhase 3: SIGKILL the %s (pid %d) at %.1f s: the others go on, the supervisor restarts it\n",
                   demo_comp_name(victim), (int)f->pid, secs(now));
            if (victim == DEMO_FILTER)
                printf("  sensor pool before: %u of %u chunks in use (the filter holds its window of %u samples in "
                       "place)\n", pf.used, pf.total, f->last.param);
            else
                printf("  sensor pool before: %u of %u chunks in use\n", pf.used, pf.total);
            if (f->pid > 0)
                kill(f->pid, SIGKILL);
        }
        if (!primed && now >= t0 + NS / 2) { /* a first reading, so that the first row has rates */
            prev_s = describe_pubsub("sensor");
            prev_f = describe_pubsub("filtered");
            primed = true;
        }
        if (now >= next_row) {
            print_row(now);
            while (next_row <= now) /* after a stall, skip the rows missed rather than print them at once */
                next_row += NS;
        }
        demo_sleep_ms(50);
    }

    if (demo_stop) {
        printf("\n(interrupted)\n");
        rc = 130;
    }
    printf("\nPhase 4: stop the components (SIGTERM) and sum up\n");
    stop_all();
    drain_reports();
    const demo_report *lg = &comps[DEMO_LOGGER].final;
    const comp *fc = &comps[DEMO_FILTER];
    uint64_t published[2] = {describe_pubsub("sensor").published, describe_pubsub("filtered").published};
    printf("  %-9s %9s %8s %6s %5s %12s %14s %10s %10s %10s\n", "stream", "published", "logged", "lost", "gaps",
           "queue drops", "bad checksums", "p50", "p99", "max");
    for (int i = 0; i < 2; i++) {
        char a[16], b[16], c[16];
        printf("  %-9s %9llu %8llu %6llu %5llu %12llu %14llu %10s %10s %10s\n", i == 0 ? "sensor" : "filtered",
               (unsigned long long)published[i], (unsigned long long)lg->received[i],
               (unsigned long long)lg->lost[i], (unsigned long long)lg->gaps[i],
               (unsigned long long)lg->overflow[i], (unsigned long long)lg->bad_checksum[i],
               fmt_ns(a, sizeof a, lg->tot_p50[i]), fmt_ns(b, sizeof b, lg->tot_p99[i]),
               fmt_ns(c, sizeof c, lg->tot_max[i]));
    }
    printf("  (logged, lost, gaps, drops and checksums as the logger counted them; latency from the sensor's\n"
           "  timestamp to the logger over the whole run, via the filter for the filtered stream)\n");
    int restarts = 0;
    for (int i = 0; i < DEMO_NCOMP; i++)
        restarts += comps[i].restarts;
    printf("  filter: %d process(es), window %u, its queue dropped %llu; sensor: %u samples/s; restarts: %d\n",
           fc->restarts + 1, fc->final.param, (unsigned long long)fc->done.overflow[0],
           comps[DEMO_SENSOR].final.param, restarts);
    printf("  config: %llu requests answered (the sensor and filter ask at start and every 2 s)\n",
           (unsigned long long)comps[DEMO_CONFIG].done.cfg_requests);

    /* Clean up: the report channels, then the services (no live participant is left: gc removes them). */
    for (int id = 0; id < DEMO_NCOMP; id++) {
        shmipc_channel_close(comps[id].rep);
        shmipc_channel_unlink(comps[id].rep_name);
    }
    unsigned removed = gc_services(0).services_removed;
    printf("  cleanup: %d report channels unlinked, %u services removed by shmipc_service_gc\n", DEMO_NCOMP,
           removed);

    if (bench && !demo_stop) {
        printf("\nPhase 5: shmipc against the kernel's IPC (`shmipc bench --quick`)\n");
        rc |= run_bench();
    }
    int left = leftovers(true);
    if (left) {
        printf("\nshmipc demo: %d name(s) of this run were left in /dev/shm (removed now)\n", left);
        rc = 1;
    } else {
        printf("\nshmipc demo: done in %.0f s; nothing named *%s* left in /dev/shm\n", secs(demo_now_ns()), tag);
    }
    return rc;
}
