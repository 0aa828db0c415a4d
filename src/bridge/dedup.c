/* SPDX-License-Identifier: MIT */
/*
 * src/bridge/dedup.c - the window an importing bridge keeps per publisher (the Shmipc-Publisher header)
 * to drop a sample it forwarded already and to count the sequences that never came. For each publisher:
 * the highest sequence forwarded and a bitmap of the BRIDGE_DEDUP_WINDOW sequences up to it. A sequence
 * above the highest moves the window (what it jumps over is counted as gaps); one inside the window is a
 * duplicate if its bit is set, else a late arrival that fills a gap; one below the window is taken for a
 * duplicate (a redelivery from long ago). The sequence numbers come from the network: any value is
 * handled, the arithmetic never overflows and every index is taken modulo the window.
 */
#include "bridge_internal.h"

#include <string.h>

uint64_t shmipc__bridge_dedup_key(const char *publisher, size_t len)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)publisher[i];
        h *= UINT64_C(1099511628211);
    }
    return h ? h : 1;
}

static shmipc__bridge_dedup_entry *find(const shmipc__bridge_dedup *d, uint64_t key)
{
    /* the entry found last first: one publisher per service is the common case, and the commit that
     * follows a publish has to be as short as can be (see import_one) */
    if (d->last < BRIDGE_DEDUP_PUBLISHERS && d->e[d->last].key == key)
        return (shmipc__bridge_dedup_entry *)&d->e[d->last];
    for (size_t i = 0; i < BRIDGE_DEDUP_PUBLISHERS; i++)
        if (d->e[i].key == key)
            return (shmipc__bridge_dedup_entry *)&d->e[i];
    return NULL;
}

static bool bit(const shmipc__bridge_dedup_entry *e, uint64_t seq)
{
    uint64_t i = seq % BRIDGE_DEDUP_WINDOW;
    return (e->bits[i / 64] >> (i % 64)) & 1u;
}

static void set_bit(shmipc__bridge_dedup_entry *e, uint64_t seq)
{
    uint64_t i = seq % BRIDGE_DEDUP_WINDOW;
    e->bits[i / 64] |= UINT64_C(1) << (i % 64);
}

static void clear_bit(shmipc__bridge_dedup_entry *e, uint64_t seq)
{
    uint64_t i = seq % BRIDGE_DEDUP_WINDOW;
    e->bits[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

shmipc__bridge_verdict shmipc__bridge_dedup_check(const shmipc__bridge_dedup *d, uint64_t key, uint64_t seq)
{
    const shmipc__bridge_dedup_entry *e = find(d, key);
    if (!e || seq > e->highest)
        return BRIDGE_NEW;
    if (e->highest - seq >= BRIDGE_DEDUP_WINDOW)
        return BRIDGE_DUP; /* older than the window: it came long ago, or is a redelivery of what did */
    return bit(e, seq) ? BRIDGE_DUP : BRIDGE_NEW;
}

int64_t shmipc__bridge_dedup_commit(shmipc__bridge_dedup *d, uint64_t key, uint64_t seq)
{
    shmipc__bridge_dedup_entry *e = find(d, key);
    if (e && seq == e->highest + 1 && e->highest != UINT64_MAX) {
        /* the common case first, the next in order: its bit is the one the window leaves behind */
        set_bit(e, seq);
        e->highest = seq;
        e->used = ++d->clock;
        return 0;
    }
    if (e)
        d->last = (uint64_t)(e - d->e);
    d->clock++;
    if (!e) {
        /* a publisher not seen (or forgotten): take the free entry, else the least recently seen one */
        e = &d->e[0];
        for (size_t i = 0; i < BRIDGE_DEDUP_PUBLISHERS; i++) {
            if (d->e[i].key == 0) {
                e = &d->e[i];
                break;
            }
            if (d->e[i].used < e->used)
                e = &d->e[i];
        }
        memset(e, 0, sizeof *e);
        d->last = (uint64_t)(e - d->e);
        e->key = key;
        e->highest = seq;
        e->used = d->clock;
        set_bit(e, seq);
        return 0; /* what came before the first sample seen is no gap of ours */
    }
    e->used = d->clock;
    if (seq > e->highest) {
        uint64_t skipped = seq - e->highest - 1;
        /* clear the bits of the sequences the window moves over (all of them if it moves a whole window),
         * a word at a time where it can: a peer sending jumps costs at most WINDOW / 64 stores each */
        if (skipped + 1 >= BRIDGE_DEDUP_WINDOW) {
            memset(e->bits, 0, sizeof e->bits);
        } else {
            uint64_t s = e->highest + 1, left = skipped + 1; /* s .. seq: counted, so seq may be UINT64_MAX */
            while (left > 0) {
                if (s % 64 == 0 && left >= 64) {
                    e->bits[(s % BRIDGE_DEDUP_WINDOW) / 64] = 0;
                    s += 64;
                    left -= 64;
                } else {
                    clear_bit(e, s++);
                    left--;
                }
            }
        }
        e->highest = seq;
        set_bit(e, seq);
        return skipped > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)skipped;
    }
    if (e->highest - seq < BRIDGE_DEDUP_WINDOW && !bit(e, seq)) {
        set_bit(e, seq);
        return -1; /* it was counted as a gap when the window moved past it */
    }
    return 0;
}
