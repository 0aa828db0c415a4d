/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - the benchmark engine behind `shmipc bench`: one method for every IPC mechanism.
 *
 * Each mechanism is a "transport" (one file, bench/t_*.c) behind the small vtable below. The driver
 * (bench/driver.c) runs every selected transport the same way: real processes made with fork(), pinned to
 * different cores, payloads written by the sender and read by the receiver in every cache line, latency
 * as ping-pong round trip / 2 in a log-linear histogram, throughput as one-way streaming, CPU time of all
 * processes per message. bench/report.c prints the tables, JSON and CSV, bench/svg.c draws the plot.
 *
 * Adding a mechanism: write bench/t_NAME.c defining a `const bench_transport bench_t_NAME`, declare it
 * below and add it to the table in bench/transports.c. Nothing else changes.
 */
#ifndef SHMIPC_BENCH_H
#define SHMIPC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* Most receiver processes one transport may ask for (fan-out 1 -> N, for pub/sub). */
#define BENCH_MAX_RECEIVERS 8
/* Every message starts with its 8-byte sequence number, so this is the smallest payload. */
#define BENCH_MIN_SIZE 8u
#define BENCH_MAX_SIZE (64u << 20)
/* Most runs of one cell (--repeat). */
#define BENCH_MAX_REPEAT 15u

typedef enum bench_mode {
    BENCH_LATENCY = 0,    /* ping-pong, round trip / 2 */
    BENCH_THROUGHPUT = 1, /* one-way streaming */
    BENCH_LOWRATE = 2,    /* ping-pong paced at a low rate: CPU cost while mostly idle */
    BENCH_NMODES = 3,
} bench_mode;

/* Transport capabilities (bench_transport.caps). */
#define BENCH_CAP_LATENCY (1u << BENCH_LATENCY)
#define BENCH_CAP_THROUGHPUT (1u << BENCH_THROUGHPUT)
#define BENCH_CAP_LOWRATE (1u << BENCH_LOWRATE)
#define BENCH_CAP_ALL (BENCH_CAP_LATENCY | BENCH_CAP_THROUGHPUT | BENCH_CAP_LOWRATE)

/*
 * One run of one transport at one size in one mode: what the driver hands the transport.
 * Role 0 is the parent (the sender in throughput mode, the pinger in latency mode); roles 1..nreceivers
 * are the forked children. In latency mode the parent sends one message and receives one reply from every
 * receiver; a receiver receives one message and replies with one.
 */
typedef struct bench_ctx {
    bench_mode mode;
    size_t size;         /* payload bytes of every message */
    unsigned nreceivers; /* set by setup if the transport wants more than 1 (default 1) */
    int role;            /* 0 = parent, 1..nreceivers = child; set before attach */
    bool same_core;      /* both sides share one core: spinning must yield */
    uint64_t deadline_ns; /* CLOCK_MONOTONIC: give up waiting after this (a peer died or hung) */
    pid_t parent_pid;
    pid_t peer_pid;      /* in the parent: the child (role 1); in a child: the parent */
    void *priv;          /* the transport's state, created by setup */
    char why[128];       /* setup fills this when it returns -EMSGSIZE (size above a limit) */
} bench_ctx;

/*
 * The transport vtable. Every function returns 0 or a negative errno.
 * Order: setup (parent, before fork) -> fork -> attach (each process, with ctx->role set) ->
 * send/recv loop -> detach (each process) -> teardown (parent, after the children exited).
 *
 * A transport gives the driver either a copying interface (send/recv from a private buffer, like a pipe)
 * or a zero-copy one (send_begin/send_commit and recv_begin/recv_end, giving a pointer into shared memory
 * where the driver writes or reads the payload in place). If both are set the zero-copy one is used.
 */
typedef struct bench_transport {
    const char *name;        /* command-line name, e.g. "pipe" */
    const char *description; /* one line for --help */
    unsigned caps;           /* BENCH_CAP_* */
    bool spins;              /* burns CPU while waiting (busy-poll) */
    /* The driver writes and reads only the payload's first line (8 bytes), not every line: shows the
     * mechanism's own cost apart from touching the payload. Clearly named ("-notouch") in the tables. */
    bool touch_first_line;
    /* Fan-out transports (1 -> fanout receivers): the family they belong to ("pubsub", "pipe") and their
     * receiver count. They are not run by default, only with --fanout or by name; 0 for the others. */
    const char *family;
    unsigned fanout;

    /* Parent, before fork: create what both sides need, store it in ctx->priv. -EMSGSIZE (with ctx->why
     * filled, e.g. "limit 8 KiB: /proc/sys/fs/mqueue/msgsize_max") if ctx->size cannot be carried. */
    int (*setup)(bench_ctx *ctx);
    /* Each process after fork: keep its own ends, close the others. Optional. */
    int (*attach)(bench_ctx *ctx);
    /* Copying interface: send len bytes from buf as one message; receive one message of exactly len. */
    int (*send)(bench_ctx *ctx, const void *buf, size_t len);
    int (*recv)(bench_ctx *ctx, void *buf, size_t len);
    /* Zero-copy interface: *out = where to write the next message (len bytes), then commit it. */
    int (*send_begin)(bench_ctx *ctx, size_t len, void **out);
    int (*send_commit)(bench_ctx *ctx, size_t len);
    /* *out = the next received message (len bytes) until recv_end releases it. */
    int (*recv_begin)(bench_ctx *ctx, size_t len, const void **out);
    int (*recv_end)(bench_ctx *ctx, size_t len);
    /* Each process, after its loop: release what attach kept. Optional. */
    void (*detach)(bench_ctx *ctx);
    /* Parent, after the children exited (or setup failed half way): free everything, unlink names. */
    void (*teardown)(bench_ctx *ctx);
} bench_transport;

/* Helpers for transports. */
uint64_t bench_now_ns(void);
/* Call in every busy-wait loop with a counter: pauses the CPU, yields when both sides share a core, and
 * every few thousand spins checks ctx->deadline_ns and the peer. Returns 0, or -ETIMEDOUT / -EPIPE. */
int bench_spin(bench_ctx *ctx, uint64_t *spins);
/* Milliseconds left to ctx->deadline_ns (at least 1), for a library call's timeout. Compute it once per
 * cell (at attach): reading the clock on every call would add its cost to every message. */
int bench_timeout_ms(const bench_ctx *ctx);
/* Absolute CLOCK_REALTIME timespec for ctx->deadline_ns (for mq_timedsend and friends). */
void bench_deadline_realtime(const bench_ctx *ctx, struct timespec *ts);
/* Write / read exactly len bytes on a stream descriptor; -EPIPE at end of stream. */
int bench_write_full(int fd, const void *buf, size_t len);
int bench_read_full(int fd, void *buf, size_t len);
/* Map len bytes of anonymous shared memory (inherited across fork), pre-faulted so that page faults do
 * not land in the measurement; NULL on failure. */
void *bench_map_shared(size_t len);

/*
 * Descriptor-based transports (pipe, sockets): a channel per side. side 0 is the parent, side 1 the child;
 * rd[i] / wr[i] are what side i reads from and writes to (the same descriptor for a socket). Setup fills
 * them; attach, detach and teardown below are shared by all such transports.
 */
typedef struct bench_fds {
    int rd[2], wr[2];
} bench_fds;
bench_fds *bench_fds_new(void); /* all -1; NULL on ENOMEM */
int bench_fds_attach(bench_ctx *ctx);
void bench_fds_detach(bench_ctx *ctx);
void bench_fds_teardown(bench_ctx *ctx);
int bench_fds_send_stream(bench_ctx *ctx, const void *buf, size_t len);
int bench_fds_recv_stream(bench_ctx *ctx, void *buf, size_t len);

/* The transports, one per file. */
extern const bench_transport bench_t_cacheline;
extern const bench_transport bench_t_ring;
extern const bench_transport bench_t_pipe;
extern const bench_transport bench_t_unix_stream;
extern const bench_transport bench_t_unix_dgram;
extern const bench_transport bench_t_mq;
extern const bench_transport bench_t_tcp;
extern const bench_transport bench_t_channel_spin;
extern const bench_transport bench_t_channel_block;
extern const bench_transport bench_t_channel_hybrid;
extern const bench_transport bench_t_queue_spin;
extern const bench_transport bench_t_queue_hybrid;
extern const bench_transport bench_t_pubsub;
extern const bench_transport bench_t_pubsub_spin;
extern const bench_transport bench_t_pubsub_notouch;
extern const bench_transport bench_t_reqresp;
extern const bench_transport bench_t_pubsub_x1;
extern const bench_transport bench_t_pubsub_x2;
extern const bench_transport bench_t_pubsub_x4;
extern const bench_transport bench_t_pubsub_x8;
extern const bench_transport bench_t_pipe_x1;
extern const bench_transport bench_t_pipe_x2;
extern const bench_transport bench_t_pipe_x4;
extern const bench_transport bench_t_pipe_x8;

/* The transports run by default, in table order (bench/transports.c); *count receives their number. */
const bench_transport *const *bench_transports(size_t *count);
/* The fan-out transports (bench_transport.fanout > 0), by family then receiver count. */
const bench_transport *const *bench_fanout_transports(size_t *count);
/* Any transport, default or fan-out, by name; NULL if none. */
const bench_transport *bench_transport_find(const char *name);

/*
 * Log-linear latency histogram (HDR style): exact below 128 ns, then 64 sub-buckets per power of two, so
 * every recorded value is kept within 1/64 (1.6 %) up to 2^40 ns (18 minutes).
 */
#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_MAX_EXP 40
#define BENCH_HIST_BUCKETS ((2u << BENCH_HIST_SUB_BITS) + (BENCH_HIST_MAX_EXP - BENCH_HIST_SUB_BITS) * (1u << BENCH_HIST_SUB_BITS))

typedef struct bench_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t buckets[BENCH_HIST_BUCKETS];
} bench_hist;

void bench_hist_reset(bench_hist *h);
void bench_hist_record(bench_hist *h, uint64_t ns);
/* The value at quantile q (0..1): the middle of the bucket holding it, clamped to [min, max]. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

/* One cell: a transport in a mode at a size (low-rate cells: the config's lowrate_size). */
typedef struct bench_cell {
    const bench_transport *transport;
    bench_mode mode;
    size_t size;
} bench_cell;

/* What the driver runs. Zero fields mean defaults. */
typedef struct bench_config {
    unsigned modes;           /* BENCH_CAP_* bits of the modes to run */
    const size_t *sizes;      /* payload sizes */
    size_t nsizes;
    const bench_transport *const *transports;
    size_t ntransports;
    /* If ncells > 0: run exactly these cells, in this order, instead of every (mode, transport, size)
     * of the fields above (--targets). Repetitions and medians work the same way. */
    const bench_cell *cells;
    size_t ncells;
    uint64_t iterations;      /* latency: measured round trips per cell (upper bound) */
    uint64_t messages;        /* throughput: measured messages per cell (upper bound) */
    uint64_t warmup;          /* round trips / messages before measuring */
    double duration_s;        /* time per cell (upper bound) */
    uint64_t lowrate_hz;      /* low-rate mode: messages per second */
    uint64_t lowrate_count;   /* low-rate mode: messages per cell */
    size_t lowrate_size;      /* low-rate mode: payload size */
    unsigned repeat;          /* runs of every cell; the median run is kept (1 to BENCH_MAX_REPEAT) */
    bool progress_tty;        /* progress as one updating line (stderr is a terminal) */
    bool quiet;               /* no progress at all */
} bench_config;

typedef enum bench_status {
    BENCH_OK = 0,
    BENCH_NA = 1,    /* the mechanism cannot carry this size: see note */
    BENCH_ERROR = 2, /* it failed: err and note */
} bench_status;

typedef struct bench_result {
    const bench_transport *transport;
    bench_mode mode;
    size_t size;
    bench_status status;
    int err;
    char note[128];
    uint64_t messages;     /* measured round trips (latency) or messages (throughput) */
    double elapsed_s;
    /* latency and low-rate modes: one-way latency = round trip / 2, in ns */
    uint64_t p50, p90, p99, p999, max, min;
    double mean;
    /* throughput mode */
    double msgs_per_s, bytes_per_s;
    /* all modes: user+sys CPU of every process, per message (per round trip in latency modes) */
    double cpu_ns_per_msg;
} bench_result;

typedef struct bench_machine {
    char cpu_model[128];
    unsigned ncpus;
    int cpu_a, cpu_b; /* where the parent and the (first) child were pinned */
    bool same_core;
    char kernel[128];
    char date[64];
} bench_machine;

void bench_config_defaults(bench_config *cfg);
void bench_machine_probe(bench_machine *m);
/* Run every selected (transport, mode, size). *results receives a malloc'ed array, *nresults its
 * length. Returns 0 or -ENOMEM; per-cell failures are reported in the results, not here. */
int bench_run(const bench_config *cfg, const bench_machine *m, bench_result **results, size_t *nresults);

/* Output (bench/report.c). cmdline is the command as run, for the record. */
void bench_report_table(FILE *f, const bench_config *cfg, const bench_machine *m, const bench_result *r, size_t n);
void bench_report_json(FILE *f, const bench_config *cfg, const bench_machine *m, const char *cmdline,
                       const bench_result *r, size_t n);
void bench_report_csv(FILE *f, const bench_result *r, size_t n);
/* Draw p50 latency against payload size (log-log), one line per mechanism, with axes and a legend, into
 * svg_path (bench/svg.c: written directly, no external tool). Returns 0 or a negative errno. */
int bench_plot_svg(const char *svg_path, const bench_machine *m, const bench_result *r, size_t n);
const char *bench_mode_name(bench_mode mode);
/* Pieces of the JSON record that other reports reuse: the "machine", "command" and "config" members
 * (each followed by a comma and a newline) and the "results" member (no comma after it). */
void bench_json_head(FILE *f, const bench_config *cfg, const bench_machine *m, const char *cmdline);
void bench_json_results(FILE *f, const bench_result *r, size_t n);
void bench_json_str(FILE *f, const char *s);

/*
 * The performance targets of issue 9 (bench/targets.c), all measured in one run (`shmipc bench
 * --targets`): each is a ratio of two cells of that run against a bound.
 * bench_targets_cells: the cells every target needs, for the hybrid-versus-spin sizes given (64 B to
 * 1 MiB); *cells receives a malloc'ed array. Returns 0 or -ENOMEM.
 * bench_targets_report / _json: one line (one object) per target: measured ratio, bound, met / not met.
 * Both return the number of targets that could not be computed (a cell failed).
 */
int bench_targets_cells(const size_t *sizes, size_t nsizes, bench_cell **cells, size_t *ncells);
size_t bench_targets_report(FILE *f, const bench_config *cfg, const bench_machine *m, const bench_result *r, size_t n);
size_t bench_targets_json(FILE *f, const bench_config *cfg, const bench_machine *m, const char *cmdline,
                          const bench_result *r, size_t n);
/* "812 ns", "45.2 us", "1.20 ms" */
void bench_fmt_ns(char *buf, size_t cap, double ns);

#endif
