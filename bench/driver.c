/* SPDX-License-Identifier: MIT */
/*
 * bench/driver.c - runs every selected (mode, transport, size) cell with one method, so that the numbers
 * of different mechanisms can be compared:
 *  - two (or 1 + N) real processes made with fork(), the parent and the first child pinned to different
 *    cores when there are two;
 *  - every message starts with its sequence number, the sender writes that number into every 64-byte line
 *    of the payload and the receiver reads and checks every line, so no buffer goes untouched (except for
 *    a transport flagged touch_first_line, named "-notouch", which isolates the mechanism's own cost);
 *  - latency: ping-pong, round trip / 2 in a log-linear histogram, after a warm-up;
 *  - throughput: one-way streaming for a fixed time or message count, timed from the sender's first
 *    measured message to the receiver's last;
 *  - low rate: ping-pong paced by the parent's sleeps, to show what waiting costs when traffic is sparse;
 *  - CPU: user+sys time of every process (getrusage) over the measured part, divided by messages.
 */
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_SEQ UINT64_MAX
/* How long past its planned duration a cell may take before its processes are declared hung. */
#define CELL_SLACK_NS (20ull * 1000000000u)

/* Results a child hands back, in a shared mapping made before fork. Each slot is written by one child
 * and read by the parent only after waitpid() returned, which orders the accesses. */
typedef struct child_report {
    int err;
    char note[128];
    uint64_t messages;
    uint64_t cpu_ns;
    uint64_t t_end_ns; /* throughput: when the stop message arrived */
    _Alignas(64) char pad[64];
} child_report;

typedef struct control {
    /* Each child adds 1 when attached and pinned; the parent polls it (acquire pairs with the release
     * increment, though only the count matters). */
    _Atomic uint32_t ready;
    /* The sequence number of the first measured message, written by the parent when its warm-up ends
     * (by count or by time) and before it sends that message; UINT64_MAX until then. Relaxed: the
     * message itself carries the ordering (a system call, or the transport's release/acquire). */
    _Atomic uint64_t first_measured;
    _Alignas(64) child_report child[BENCH_MAX_RECEIVERS];
} control;

typedef struct cell {
    const bench_config *cfg;
    const bench_machine *m;
    const bench_transport *t;
    bench_ctx ctx;
    control *ctl;
    unsigned char *buf; /* private buffer of copying transports */
    uint64_t warmup, limit, duration_ns;
} cell;

const char *bench_mode_name(bench_mode mode)
{
    switch (mode) {
    case BENCH_LATENCY: return "latency";
    case BENCH_THROUGHPUT: return "throughput";
    case BENCH_LOWRATE: return "lowrate";
    default: return "?";
    }
}

void bench_config_defaults(bench_config *cfg)
{
    static const size_t sizes[] = {8, 64, 512, 4096, 65536, 1u << 20, 4u << 20};
    memset(cfg, 0, sizeof *cfg);
    cfg->modes = BENCH_CAP_ALL;
    cfg->sizes = sizes;
    cfg->nsizes = sizeof sizes / sizeof sizes[0];
    cfg->transports = bench_transports(&cfg->ntransports);
    cfg->iterations = 200000;
    cfg->messages = 100000000;
    cfg->warmup = 0; /* 0: a tenth of the iterations, at most 10000 */
    cfg->duration_s = 1.0;
    cfg->lowrate_hz = 1000;
    cfg->lowrate_count = 500;
    cfg->lowrate_size = 64;
    cfg->repeat = 1;
}

static uint64_t cpu_ns_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static int pin_to(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) < 0 ? -errno : 0;
}

void bench_machine_probe(bench_machine *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && colon) {
                colon += strspn(colon + 1, " \t") + 1;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(m->cpu_model, sizeof m->cpu_model, "%s", colon);
                break;
            }
        }
        fclose(f);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->ncpus = n > 0 ? (unsigned)n : 1;
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%.40s %.60s %.20s", u.sysname, u.release, u.machine);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%d %H:%M UTC", &tm);
    /* The first two CPUs this process may run on. */
    cpu_set_t set;
    m->cpu_a = m->cpu_b = -1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (!CPU_ISSET(c, &set))
                continue;
            if (m->cpu_a < 0)
                m->cpu_a = c;
            else if (m->cpu_b < 0) {
                m->cpu_b = c;
                break;
            }
        }
    }
    if (m->cpu_b < 0) {
        m->cpu_b = m->cpu_a;
        m->same_core = true;
    }
}

/* The message body: its sequence number in the first 8 bytes of every 64-byte line (the last line's at
 * its end if the size is not a multiple of 64). Writing it touches every line on the sender's side. */
static void payload_write(unsigned char *p, size_t len, uint64_t v)
{
    for (size_t off = 0; off < len; off += 64)
        memcpy(p + (off + 8 <= len ? off : len - 8), &v, 8);
}

/* Read every line back; -EBADMSG if any line does not carry the message's sequence number. */
static int payload_check(const unsigned char *p, size_t len, uint64_t v)
{
    uint64_t bad = 0;
    for (size_t off = 0; off < len; off += 64) {
        uint64_t w;
        memcpy(&w, p + (off + 8 <= len ? off : len - 8), 8);
        bad |= w ^ v;
    }
    return bad ? -EBADMSG : 0;
}

static int send_msg(cell *c, uint64_t v)
{
    const bench_transport *t = c->t;
    size_t len = c->ctx.size;
    if (t->send_begin) {
        void *p;
        int err = t->send_begin(&c->ctx, len, &p);
        if (err)
            return err;
        /* A stop message needs only its first word, and so does every message of a first-line-only
         * transport. */
        if (v == STOP_SEQ || t->touch_first_line)
            memcpy(p, &v, 8);
        else
            payload_write(p, len, v);
        return t->send_commit(&c->ctx, len);
    }
    if (v == STOP_SEQ || t->touch_first_line)
        memcpy(c->buf, &v, 8);
    else
        payload_write(c->buf, len, v);
    return t->send(&c->ctx, c->buf, len);
}

/* Receive one message into *v; checks every line unless it is the stop message. */
static int recv_msg(cell *c, uint64_t *v)
{
    const bench_transport *t = c->t;
    size_t len = c->ctx.size;
    const unsigned char *p;
    int err;
    if (t->recv_begin) {
        const void *q;
        err = t->recv_begin(&c->ctx, len, &q);
        if (err)
            return err;
        p = q;
    } else {
        err = t->recv(&c->ctx, c->buf, len);
        if (err)
            return err;
        p = c->buf;
    }
    memcpy(v, p, 8);
    if (*v != STOP_SEQ && !t->touch_first_line)
        err = payload_check(p, len, *v);
    if (t->recv_end) {
        int e2 = t->recv_end(&c->ctx, len);
        if (!err)
            err = e2;
    }
    return err;
}

/* A receiver: answer (ping-pong) or absorb (streaming) until the stop message. */
static void child_run(cell *c, child_report *rep)
{
    bool reply = c->ctx.mode != BENCH_THROUGHPUT, measuring = false;
    uint64_t n = 0, n0 = 0, cpu0 = cpu_ns_self();
    int err = 0;
    for (;;) {
        uint64_t v;
        err = recv_msg(c, &v);
        if (err) {
            snprintf(rep->note, sizeof rep->note, "receiver: message %llu", (unsigned long long)n + 1);
            break;
        }
        if (v == STOP_SEQ) {
            rep->t_end_ns = bench_now_ns();
            break;
        }
        if (!measuring && v >= atomic_load_explicit(&c->ctl->first_measured, memory_order_relaxed)) {
            measuring = true;
            n0 = n;
            cpu0 = cpu_ns_self();
        }
        if (v != n + 1) {
            /* Lost, duplicated or reordered: a mechanism must deliver every message once, in order. */
            err = -EBADMSG;
            snprintf(rep->note, sizeof rep->note, "receiver: got message %llu, expected %llu", (unsigned long long)v,
                     (unsigned long long)n + 1);
            break;
        }
        if (reply) {
            err = send_msg(c, v);
            if (err) {
                snprintf(rep->note, sizeof rep->note, "receiver: reply %llu", (unsigned long long)n + 1);
                break;
            }
        }
        n++;
    }
    rep->cpu_ns = measuring ? cpu_ns_self() - cpu0 : 0;
    rep->messages = measuring ? n - n0 : 0;
    rep->err = err;
}

/* The parent's ping-pong: latency and low-rate modes. */
static int parent_pingpong(cell *c, bench_result *r, bench_hist *h, uint64_t *cpu)
{
    uint64_t period = c->ctx.mode == BENCH_LOWRATE ? 1000000000u / (c->cfg->lowrate_hz ? c->cfg->lowrate_hz : 1) : 0;
    uint64_t start = bench_now_ns(), measured_from = start, cpu0 = cpu_ns_self();
    uint64_t next = start, i, warm = c->warmup, warm_until = start + c->duration_ns / 2;
    int err = 0;
    for (i = 1; i <= warm + c->limit; i++) {
        if (period) {
            next += period;
            struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u), .tv_nsec = (long)(next % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
        }
        uint64_t t0 = bench_now_ns();
        err = send_msg(c, i);
        for (unsigned k = 0; !err && k < c->ctx.nreceivers; k++) {
            uint64_t v;
            err = recv_msg(c, &v);
            if (!err && v != i)
                err = -EBADMSG;
        }
        uint64_t t1 = bench_now_ns();
        if (err)
            break;
        if (i < warm && t1 >= warm_until)
            warm = i; /* warm-up gets at most half the cell's time (slow wake-ups on a busy machine) */
        if (i == warm) {
            measured_from = t1;
            cpu0 = cpu_ns_self();
            atomic_store_explicit(&c->ctl->first_measured, i + 1, memory_order_relaxed);
        } else if (i > warm) {
            bench_hist_record(h, (t1 - t0) / 2);
            if (!period && t1 - measured_from >= c->duration_ns)
                break;
        }
    }
    *cpu = cpu_ns_self() - cpu0;
    r->elapsed_s = (double)(bench_now_ns() - measured_from) / 1e9;
    if (err) {
        snprintf(r->note, sizeof r->note, "sender: round trip %llu", (unsigned long long)i);
        return err;
    }
    return send_msg(c, STOP_SEQ);
}

/* The parent's streaming: throughput mode. Returns the start time through *t_start. */
static int parent_stream(cell *c, bench_result *r, uint64_t *t_start, uint64_t *cpu)
{
    uint64_t i, cpu0 = cpu_ns_self(), warm = c->warmup;
    int err = 0;
    *t_start = bench_now_ns();
    uint64_t warm_until = *t_start + c->duration_ns / 2;
    for (i = 1; i <= warm + c->limit; i++) {
        err = send_msg(c, i);
        if (err)
            break;
        if (i < warm && (i & 255) == 0 && bench_now_ns() >= warm_until)
            warm = i; /* warm-up gets at most half the cell's time */
        if (i == warm) {
            *t_start = bench_now_ns();
            cpu0 = cpu_ns_self();
            atomic_store_explicit(&c->ctl->first_measured, i + 1, memory_order_relaxed);
        } else if (i > warm && (i & 255) == 0 && bench_now_ns() - *t_start >= c->duration_ns) {
            break;
        }
    }
    if (!err)
        err = send_msg(c, STOP_SEQ);
    *cpu = cpu_ns_self() - cpu0;
    if (err)
        snprintf(r->note, sizeof r->note, "sender: message %llu", (unsigned long long)i);
    return err;
}

/* Wait for pid until the deadline, then kill it. Returns its wait status, or -1 if it had to be killed. */
static int reap(pid_t pid, uint64_t deadline)
{
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return st;
        if (w < 0 && errno != EINTR)
            return -1;
        if (bench_now_ns() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(1000);
    }
}

static void run_cell(cell *c, bench_result *r)
{
    const bench_config *cfg = c->cfg;
    bench_ctx *ctx = &c->ctx;
    pid_t pids[BENCH_MAX_RECEIVERS] = {0};
    unsigned nforked = 0;
    int err;
    bench_hist *h = NULL;
    uint64_t parent_cpu = 0, t_start = 0;

    c->duration_ns = (uint64_t)(cfg->duration_s * 1e9);
    if (ctx->mode == BENCH_LOWRATE) {
        c->limit = cfg->lowrate_count;
        c->warmup = 10;
        c->duration_ns = c->limit * (1000000000u / cfg->lowrate_hz);
    } else {
        c->limit = ctx->mode == BENCH_LATENCY ? cfg->iterations : cfg->messages;
        /* By default a tenth of the messages, at most 10000; always at most 64 MiB of payload, so that
         * warming up large messages does not take longer than measuring them. */
        uint64_t by_bytes = (64u << 20) / ctx->size;
        c->warmup = cfg->warmup ? cfg->warmup : c->limit / 10;
        if (!cfg->warmup && c->warmup > 10000)
            c->warmup = 10000;
        if (c->warmup > by_bytes)
            c->warmup = by_bytes;
        if (c->warmup < 2)
            c->warmup = 2;
    }
    ctx->deadline_ns = bench_now_ns() + 2 * c->duration_ns + CELL_SLACK_NS;
    memset(c->ctl, 0, sizeof *c->ctl);
    atomic_store_explicit(&c->ctl->first_measured, UINT64_MAX, memory_order_relaxed);

    err = c->t->setup(ctx);
    if (err == -EMSGSIZE && ctx->why[0]) {
        r->status = BENCH_NA;
        snprintf(r->note, sizeof r->note, "%s", ctx->why);
        goto out;
    }
    if (err) {
        snprintf(r->note, sizeof r->note, "setup%s%.100s", ctx->why[0] ? ": " : "", ctx->why);
        goto fail;
    }
    if (ctx->nreceivers < 1 || ctx->nreceivers > BENCH_MAX_RECEIVERS) {
        err = -EINVAL;
        snprintf(r->note, sizeof r->note, "transport asked for %u receivers", ctx->nreceivers);
        goto fail;
    }
    if (!c->t->send_begin || !c->t->recv_begin) {
        c->buf = malloc(ctx->size);
        if (!c->buf) {
            err = -ENOMEM;
            goto fail;
        }
        memset(c->buf, 0, ctx->size);
    }
    fflush(NULL);
    for (unsigned k = 1; k <= ctx->nreceivers; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = -errno;
            snprintf(r->note, sizeof r->note, "fork");
            break;
        }
        if (pid == 0) {
            child_report *rep = &c->ctl->child[k - 1];
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            ctx->role = (int)k;
            ctx->peer_pid = ctx->parent_pid;
            int cpu = k == 1 ? c->m->cpu_b : (int)((unsigned)c->m->cpu_a + k) % (int)c->m->ncpus;
            rep->err = pin_to(cpu);
            if (!rep->err && c->t->attach)
                rep->err = c->t->attach(ctx);
            atomic_fetch_add_explicit(&c->ctl->ready, 1, memory_order_release);
            if (!rep->err)
                child_run(c, rep);
            else
                snprintf(rep->note, sizeof rep->note, "receiver: pin or attach");
            if (c->t->detach)
                c->t->detach(ctx);
            _exit(rep->err ? 1 : 0);
        }
        pids[nforked++] = pid;
    }
    if (err)
        goto kill;
    ctx->role = 0;
    ctx->peer_pid = pids[0];
    if (c->t->attach && (err = c->t->attach(ctx)) != 0) {
        snprintf(r->note, sizeof r->note, "attach");
        goto kill;
    }
    while (atomic_load_explicit(&c->ctl->ready, memory_order_acquire) < nforked) {
        if (bench_now_ns() > ctx->deadline_ns) {
            err = -ETIMEDOUT;
            snprintf(r->note, sizeof r->note, "receivers did not start");
            goto kill;
        }
        usleep(100);
    }
    if (ctx->mode == BENCH_THROUGHPUT) {
        err = parent_stream(c, r, &t_start, &parent_cpu);
    } else {
        h = malloc(sizeof *h);
        if (!h) {
            err = -ENOMEM;
            goto kill;
        }
        bench_hist_reset(h);
        err = parent_pingpong(c, r, h, &parent_cpu);
    }
    if (c->t->detach)
        c->t->detach(ctx);
kill:
    if (err)
        for (unsigned k = 0; k < nforked; k++)
            kill(pids[k], SIGKILL);
    for (unsigned k = 0; k < nforked; k++) {
        int st = reap(pids[k], ctx->deadline_ns);
        child_report *rep = &c->ctl->child[k];
        if (!err && rep->err) {
            err = rep->err;
            snprintf(r->note, sizeof r->note, "%s", rep->note);
        } else if (!err && (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
            err = -ECHILD;
            snprintf(r->note, sizeof r->note, "receiver %u %s", k + 1,
                     st < 0 ? "did not finish before the cell's deadline" : "died");
        }
    }
    if (err)
        goto fail;

    uint64_t cpu = parent_cpu, msgs = 0, t_end = 0;
    for (unsigned k = 0; k < nforked; k++) {
        cpu += c->ctl->child[k].cpu_ns;
        if (c->ctl->child[k].t_end_ns > t_end)
            t_end = c->ctl->child[k].t_end_ns;
        msgs = c->ctl->child[k].messages; /* the same for every receiver */
    }
    r->messages = msgs;
    r->cpu_ns_per_msg = msgs ? (double)cpu / (double)msgs : 0;
    if (ctx->mode == BENCH_THROUGHPUT) {
        r->elapsed_s = t_end > t_start ? (double)(t_end - t_start) / 1e9 : 0;
        if (r->elapsed_s > 0) {
            r->msgs_per_s = (double)msgs / r->elapsed_s;
            r->bytes_per_s = r->msgs_per_s * (double)ctx->size;
        }
    } else if (h) {
        r->messages = h->count;
        r->cpu_ns_per_msg = h->count ? (double)cpu / (double)h->count : 0;
        r->p50 = bench_hist_quantile(h, 0.50);
        r->p90 = bench_hist_quantile(h, 0.90);
        r->p99 = bench_hist_quantile(h, 0.99);
        r->p999 = bench_hist_quantile(h, 0.999);
        r->max = h->max;
        r->min = h->count ? h->min : 0;
        r->mean = h->count ? h->sum / (double)h->count : 0;
    }
    r->status = BENCH_OK;
    goto out;
fail:
    r->status = BENCH_ERROR;
    r->err = err;
out:
    free(h);
    free(c->buf);
    c->buf = NULL;
    if (c->t->teardown)
        c->t->teardown(ctx);
}

/* The figure a repetition is ranked by: what its table leads with. */
static double rank_of(const bench_result *r)
{
    if (r->mode == BENCH_THROUGHPUT)
        return r->msgs_per_s;
    if (r->mode == BENCH_LOWRATE)
        return r->cpu_ns_per_msg;
    return (double)r->p50;
}

/* Run one cell into *r (whose transport, mode and size are set). */
static void run_one(const bench_config *cfg, const bench_machine *m, control *ctl, bench_result *r)
{
    cell c = {.cfg = cfg, .m = m, .t = r->transport, .ctl = ctl};
    c.ctx.mode = r->mode;
    c.ctx.size = r->size;
    c.ctx.nreceivers = 1;
    c.ctx.same_core = m->same_core;
    c.ctx.parent_pid = getpid();
    run_cell(&c, r);
}

/* The result of a cell's runs: the first that failed, else the median by rank_of. Sorts runs. */
static bench_result median_run(bench_result *runs, unsigned nrep)
{
    for (unsigned i = 0; i < nrep; i++)
        if (runs[i].status != BENCH_OK)
            return runs[i];
    /* Insertion sort by rank: at most BENCH_MAX_REPEAT entries. */
    for (unsigned i = 1; i < nrep; i++)
        for (unsigned j = i; j > 0 && rank_of(&runs[j - 1]) > rank_of(&runs[j]); j--) {
            bench_result t = runs[j];
            runs[j] = runs[j - 1];
            runs[j - 1] = t;
        }
    return runs[nrep / 2];
}

static void progress(const bench_config *cfg, size_t k, size_t n, const bench_result *r)
{
    if (cfg->quiet)
        return;
    if (cfg->progress_tty)
        fprintf(stderr, "\r\033[K[%zu/%zu] %s %s %zu B", k, n, bench_mode_name(r->mode), r->transport->name, r->size);
    else
        fprintf(stderr, "shmipc bench: [%zu/%zu] %s %s %zu B\n", k, n, bench_mode_name(r->mode),
                r->transport->name, r->size);
    fflush(stderr);
}

int bench_run(const bench_config *cfg, const bench_machine *m, bench_result **results, size_t *nresults)
{
    /* Count the cells first, so progress can say how far along the run is. */
    size_t n = cfg->ncells;
    for (int mode = 0; mode < BENCH_NMODES && !cfg->ncells; mode++) {
        if (!(cfg->modes & (1u << mode)))
            continue;
        for (size_t t = 0; t < cfg->ntransports; t++)
            if (cfg->transports[t]->caps & (1u << mode))
                n += mode == BENCH_LOWRATE ? 1 : cfg->nsizes;
    }
    unsigned nrep = cfg->repeat < 1 ? 1 : cfg->repeat > BENCH_MAX_REPEAT ? BENCH_MAX_REPEAT : cfg->repeat;
    bench_result *res = calloc(n ? n : 1, sizeof *res);
    bench_result *runs = calloc(n ? n * nrep : 1, sizeof *runs);
    control *ctl = bench_map_shared(sizeof(control));
    if (!res || !runs || !ctl) {
        free(res);
        free(runs);
        if (ctl)
            munmap(ctl, sizeof(control));
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < cfg->ncells; i++) {
        res[i].transport = cfg->cells[i].transport;
        res[i].mode = cfg->cells[i].mode;
        res[i].size = cfg->cells[i].mode == BENCH_LOWRATE ? cfg->lowrate_size : cfg->cells[i].size;
    }
    for (int mode = 0; mode < BENCH_NMODES && !cfg->ncells; mode++) {
        if (!(cfg->modes & (1u << mode)))
            continue;
        for (size_t t = 0; t < cfg->ntransports; t++) {
            if (!(cfg->transports[t]->caps & (1u << mode)))
                continue;
            size_t ns = mode == BENCH_LOWRATE ? 1 : cfg->nsizes;
            for (size_t s = 0; s < ns; s++, k++) {
                res[k].transport = cfg->transports[t];
                res[k].mode = (bench_mode)mode;
                res[k].size = mode == BENCH_LOWRATE ? cfg->lowrate_size : cfg->sizes[s];
            }
        }
    }
    /* A peer that dies must surface as an error, not kill the benchmark with SIGPIPE. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigaction(SIGPIPE, &ign, &old_pipe);
    cpu_set_t old_mask;
    bool have_mask = sched_getaffinity(0, sizeof old_mask, &old_mask) == 0;
    pin_to(m->cpu_a);

    /* Repetitions go round all cells in turn rather than back to back, so that a slow spell of the
     * machine (other load, the hypervisor moving a vCPU) falls on several mechanisms' runs alike and
     * the medians stay comparable. A cell that failed or is n/a is not run again. */
    for (unsigned rep = 0; rep < nrep; rep++)
        for (k = 0; k < n; k++) {
            bench_result *r = &runs[k * nrep + rep];
            if (rep > 0 && runs[k * nrep].status != BENCH_OK) {
                *r = runs[k * nrep];
                continue;
            }
            *r = res[k];
            progress(cfg, rep * n + k + 1, n * nrep, r);
            run_one(cfg, m, ctl, r);
        }
    for (k = 0; k < n; k++)
        res[k] = median_run(&runs[k * nrep], nrep);
    free(runs);
    if (!cfg->quiet && cfg->progress_tty)
        fprintf(stderr, "\r\033[K");
    if (have_mask)
        sched_setaffinity(0, sizeof old_mask, &old_mask);
    sigaction(SIGPIPE, &old_pipe, NULL);
    munmap(ctl, sizeof(control));
    *results = res;
    *nresults = n;
    return 0;
}
