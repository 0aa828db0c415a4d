/* SPDX-License-Identifier: MIT */
/*
 * scripts/footprint_measure.c - shared memory per object, measured (scripts/footprint.sh builds and runs
 * it; the output is the "Shared memory" part of docs/footprint.md).
 *
 * Every object is created through the public API in a private directory (shmipc_segment_set_dir on a fresh
 * temporary directory), and its size is the sum of the sizes of the files it made there, so the numbers
 * come from the real layout code whatever it becomes. For each pattern a few options are varied over two
 * values each; the 2^k sizes determine a multilinear formula exactly (constant, one term per option and
 * one per product of options), which is then checked at a third, untouched configuration and the error
 * printed: a formula that does not hold (a layout that is not multilinear in those options, or rounding)
 * shows it there. Options not varied keep their defaults.
 */
#include <shmipc/shmipc.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXV 3

static char dir[64];

/* Bytes of all files in the directory; with remove, unlink them afterwards. */
static long long dir_bytes(int remove)
{
    DIR *d = opendir(dir);
    if (!d)
        exit(2);
    long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
            sum += st.st_size;
        if (remove)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    return sum;
}

typedef long long (*measure_fn)(const long *v);

static void die(const char *what, int err)
{
    fprintf(stderr, "footprint: %s: %s\n", what, shmipc_strerror(err));
    exit(1);
}

/* ---- one function per pattern: create with options v[], return the bytes, clean up ---- */

static long long m_channel(const long *v)
{
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = (size_t)v[0];
    shmipc_channel *c;
    int r = shmipc_channel_create("/fp-ch", &o, &c);
    if (r)
        die("channel", r);
    long long b = dir_bytes(0);
    shmipc_channel_close(c);
    dir_bytes(1);
    return b;
}

static long long m_queue(const long *v)
{
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = (uint32_t)v[0];
    o.slot_size = (uint32_t)v[1];
    o.max_participants = (uint32_t)v[2];
    shmipc_queue *q;
    int r = shmipc_queue_create("/fp-q", &o, &q);
    if (r)
        die("queue", r);
    long long b = dir_bytes(0);
    shmipc_queue_close(q);
    dir_bytes(1);
    return b;
}

static long long m_pubsub(const long *v)
{
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = (uint64_t)v[0];
    o.depth = (uint32_t)v[1];
    o.max_subscribers = (uint32_t)v[2];
    shmipc_pubsub_publisher *p;
    int r = shmipc_pubsub_publisher_create("fp-ps", &o, &p);
    if (r)
        die("pubsub", r);
    long long b = dir_bytes(0);
    shmipc_pubsub_publisher_close(p);
    dir_bytes(1);
    return b;
}

static long long m_reqresp(const long *v)
{
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.max_request = (uint32_t)v[0];
    o.depth = (uint32_t)v[1];
    o.max_clients = (uint32_t)v[2];
    shmipc_reqresp_server *s;
    int r = shmipc_reqresp_server_create("fp-rr", &o, &s);
    if (r)
        die("reqresp", r);
    long long b = dir_bytes(0);
    shmipc_reqresp_server_close(s);
    dir_bytes(1);
    return b;
}

static long long m_blackboard(const long *v)
{
    shmipc_blackboard_opts o;
    shmipc_blackboard_opts_init(&o);
    o.value_size = (uint32_t)v[0];
    o.entries = (uint32_t)v[1];
    o.max_readers = (uint32_t)v[2];
    shmipc_blackboard_writer *w;
    int r = shmipc_blackboard_writer_create("fp-bb", &o, &w);
    if (r)
        die("blackboard", r);
    long long b = dir_bytes(0);
    shmipc_blackboard_writer_close(w);
    dir_bytes(1);
    return b;
}

static long long m_evsvc(const long *v)
{
    shmipc_evsvc_opts o;
    shmipc_evsvc_opts_init(&o);
    o.max_events = (uint32_t)v[0];
    o.max_participants = (uint32_t)v[1];
    shmipc_evsvc_notifier *n;
    int r = shmipc_evsvc_notifier_create("fp-es", &o, &n);
    if (r)
        die("evsvc", r);
    long long b = dir_bytes(0);
    shmipc_evsvc_notifier_close(n);
    dir_bytes(1);
    return b;
}

static long long m_event(const long *v)
{
    (void)v;
    shmipc_event *e;
    int r = shmipc_event_create("/fp-ev", NULL, &e);
    if (r)
        die("event", r);
    long long b = dir_bytes(0);
    shmipc_event_close(e);
    dir_bytes(1);
    return b;
}

/* ---- the fit ---- */

typedef struct pattern {
    const char *title;
    measure_fn fn;
    int k;                    /* options varied */
    const char *names[MAXV];  /* their names (shmipc_*_opts fields) */
    long lo[MAXV], hi[MAXV];  /* the two values of each */
    long check[MAXV];         /* the configuration the formula is checked at */
    const char *note;
} pattern;

static void fit(const pattern *p)
{
    int n = 1 << p->k;
    double f[1 << MAXV];
    for (int m = 0; m < n; m++) {
        long v[MAXV];
        for (int i = 0; i < p->k; i++)
            v[i] = (m >> i & 1) ? p->hi[i] : p->lo[i];
        f[m] = (double)p->fn(v);
    }
    /* Multilinear in t_i = (x_i - lo_i) / (hi_i - lo_i): the Möbius transform of the grid gives the
     * coefficient of each product of t's; expanding back to x gives coefficients of products of x's. */
    double c[1 << MAXV]; /* coefficient of prod_{i in S} t_i */
    for (int s = 0; s < n; s++) {
        double sum = 0;
        for (int t = s;; t = (t - 1) & s) {
            int bits = __builtin_popcount((unsigned)(s & ~t));
            sum += (bits & 1 ? -1 : 1) * f[t];
            if (t == 0)
                break;
        }
        c[s] = sum;
    }
    /* t_i = a_i x_i + b_i; coefficient of prod_{i in U} x_i = sum over S ⊇ U of c[S] prod_{U} a_i
     * prod_{S\U} b_i. */
    double a[MAXV], b[MAXV];
    for (int i = 0; i < p->k; i++) {
        a[i] = 1.0 / (double)(p->hi[i] - p->lo[i]);
        b[i] = -(double)p->lo[i] * a[i];
    }
    printf("### %s\n\n", p->title);
    printf("`bytes = ");
    int first = 1;
    for (int u = 0; u < n; u++) {
        double coef = 0;
        for (int s = 0; s < n; s++) {
            if ((s & u) != u)
                continue;
            double prod = c[s];
            for (int i = 0; i < p->k; i++)
                if (s >> i & 1)
                    prod *= (u >> i & 1) ? a[i] : b[i];
            coef += prod;
        }
        if (coef > -0.005 && coef < 0.005)
            continue;
        double mag = first ? coef : (coef < 0 ? -coef : coef);
        long long whole = (long long)(mag + (mag < 0 ? -0.5 : 0.5));
        if (mag - (double)whole < 0.005 && mag - (double)whole > -0.005)
            printf("%s%lld", first ? "" : (coef < 0 ? " - " : " + "), whole);
        else
            printf("%s%.2f", first ? "" : (coef < 0 ? " - " : " + "), mag);
        first = 0;
        for (int i = 0; i < p->k; i++)
            if (u >> i & 1)
                printf(" × %s", p->names[i]);
    }
    if (first)
        printf("0");
    printf("`\n\n");
    /* Check at the third configuration. */
    double t[MAXV], pred = 0;
    for (int i = 0; i < p->k; i++)
        t[i] = ((double)p->check[i] - (double)p->lo[i]) * a[i];
    for (int s = 0; s < n; s++) {
        double prod = c[s];
        for (int i = 0; i < p->k; i++)
            if (s >> i & 1)
                prod *= t[i];
        pred += prod;
    }
    long long real = p->fn(p->check);
    printf("| configuration |");
    for (int i = 0; i < p->k; i++)
        printf(" %s |", p->names[i]);
    printf(" measured bytes | formula |\n|---|");
    for (int i = 0; i < p->k; i++)
        printf("---|");
    printf("---|---|\n");
    for (int m = 0; m < n; m++) {
        printf("| fit |");
        for (int i = 0; i < p->k; i++)
            printf(" %ld |", (m >> i & 1) ? p->hi[i] : p->lo[i]);
        printf(" %.0f | %.0f |\n", f[m], f[m]);
    }
    printf("| check |");
    for (int i = 0; i < p->k; i++)
        printf(" %ld |", p->check[i]);
    printf(" %lld | %.0f (%+.2f%%) |\n\n", real, pred, real ? 100.0 * (pred - (double)real) / (double)real : 0.0);
    if (p->note)
        printf("%s\n\n", p->note);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/shmipc-footprint-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    int r = shmipc_segment_set_dir(dir);
    if (r)
        die("shmipc_segment_set_dir", r);
    static const pattern pats[] = {
        {"Channel", m_channel, 1, {"capacity"}, {4096}, {65536}, {1 << 20}, NULL},
        {"Queue", m_queue, 3, {"slot_count", "slot_size", "max_participants"}, {64, 64, 8}, {1024, 512, 64},
         {256, 256, 16}, NULL},
        {"Publish/subscribe (service segment + pool)", m_pubsub, 3,
         {"payload_size", "depth", "max_subscribers"}, {256, 4, 2}, {4096, 16, 16}, {1024, 8, 8},
         "Other options at their defaults (max_publishers 4, max_loans 4, max_held 4, history 0)."},
        {"Request/response", m_reqresp, 3, {"max_request", "depth", "max_clients"}, {64, 4, 2},
         {4096, 16, 16}, {1024, 8, 8}, "max_response = max_request (its default)."},
        {"Blackboard", m_blackboard, 3, {"value_size", "entries", "max_readers"}, {64, 1, 8}, {4096, 16, 64},
         {512, 4, 16}, NULL},
        {"Event service", m_evsvc, 2, {"max_events", "max_participants"}, {16, 8}, {256, 64}, {64, 32}, NULL},
        {"Event (one named event)", m_event, 0, {NULL}, {0}, {0}, {0}, NULL},
    };
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++)
        fit(&pats[i]);
    rmdir(dir);
    return 0;
}
