/* SPDX-License-Identifier: MIT */
/*
 * bench/hist.c - the log-linear latency histogram. A fixed array of counters, so recording is a few
 * instructions and never allocates inside the measured loop; precision is relative (1/64 of the value),
 * which is what percentiles of latencies spanning 50 ns to seconds need.
 */
#include "bench.h"

#include <string.h>

/* Values below 2^(SUB_BITS+1) get one bucket each; above, each power of two is split into 2^SUB_BITS. */
#define LINEAR_LIMIT (2u << BENCH_HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
    if (v < LINEAR_LIMIT)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= SUB_BITS + 1 */
    if (e >= BENCH_HIST_MAX_EXP)
        return BENCH_HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - BENCH_HIST_SUB_BITS)) & ((1u << BENCH_HIST_SUB_BITS) - 1);
    return LINEAR_LIMIT + (e - BENCH_HIST_SUB_BITS - 1) * (1u << BENCH_HIST_SUB_BITS) + sub;
}

/* Lowest value and width of bucket b. */
static void bucket_range(unsigned b, uint64_t *lo, uint64_t *width)
{
    if (b < LINEAR_LIMIT) {
        *lo = b;
        *width = 1;
        return;
    }
    unsigned i = b - LINEAR_LIMIT;
    unsigned e = i / (1u << BENCH_HIST_SUB_BITS) + BENCH_HIST_SUB_BITS + 1;
    uint64_t sub = i % (1u << BENCH_HIST_SUB_BITS);
    *width = 1ull << (e - BENCH_HIST_SUB_BITS);
    *lo = (1ull << e) + sub * *width;
}

void bench_hist_reset(bench_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void bench_hist_record(bench_hist *h, uint64_t ns)
{
    h->buckets[bucket_of(ns)]++;
    h->count++;
    h->sum += (double)ns;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

uint64_t bench_hist_quantile(const bench_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    /* The rank of the wanted sample, 1-based: the smallest value with at least q of the samples at or
     * below it. */
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t lo, width;
            bucket_range(b, &lo, &width);
            uint64_t v = lo + width / 2;
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}
