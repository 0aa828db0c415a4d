// SPDX-License-Identifier: MIT
// models/conn_ring.cpp - the connection ring of src/conn/conn.c under the C++11 memory model (Relacy).
// The steps and memory orders are those of conn.c; sizes are small (capacity 1 or 2, 2 or 3 messages) so
// that the exhaustive searches cover every interleaving and every value the memory model lets a load
// return.
//
// A consumer (outside overwrite mode) learns that an entry is published from the entry itself: bit 63 of
// its a word is a lap-parity stamp (shmipc__conn_stamp: set on even laps, clear on odd ones). push writes
// b, then a with the stamp of the lap before (unpublished), both relaxed; publish rewrites each pushed
// entry's a with its own stamp (release, or seq_cst where the consumer may sleep), then stores head
// (release), then loads waiters; peek loads a (acquire) at tail and takes the entry only if the stamp is
// the one of that position.
//
// Models (see models/README.md for what each proves):
//  1. spsc: push / publish (stamp store) / peek (stamp load) / pop (tail release), batched publish and
//     more messages than capacity (so that a slot holds the previous lap's entry). Each message carries a
//     payload the producer wrote with plain stores (rl::var: Relacy reports any unordered access as a
//     data race) and two entry words that must belong to the same push.
//  2. sleep_consumer: the consumer's sleep handshake with publish (announce waiters, read seq, re-check
//     the stamp at tail as conn_rx_ready does; the producer stores the stamp, then head, reads waiters and
//     bumps seq): no lost wake-up.
//  3. handshake: the same handshake on an index: the overwrite-mode consumer sleeping on head, and the
//     producer sleeping for room against pop under SHMIPC__CONN_PRODUCER_SLEEPS (also batched, BATCH_WAKE).
//  4. overwrite: drop-oldest by CAS on tail (producer acq_rel, consumer release) with the consumer's
//     head-then-tail reload: an accepted entry is never torn, never repeated, and its payload is visible.
#include "model.hpp"

typedef unsigned long long u64;

// SHMIPC__CONN_STAMP and shmipc__conn_stamp (conn.h).
static const u64 STAMP = 1ull << 63;
static u64 stamp(u64 pos, u64 cap) { return (pos & cap) ? 0 : STAMP; }

// ---- 1. SPSC push / publish / peek / pop ----

// How the stamp is written and tested (STAMP_LAP: the library; the others are weakenings).
enum stamp_rule {
    STAMP_LAP,        // publish sets stamp(pos), push writes stamp(pos + cap); the ring starts zeroed
    STAMP_FLAG,       // no lap parity: push clears bit 63, publish sets it, peek wants it set
    STAMP_AT_PUSH,    // push already writes the entry's own stamp (relaxed), publish writes it again
    STAMP_DIRTY_INIT, // the ring is not zeroed at init: a slot holds an old entry whose stamp is set
};

template <unsigned Cap, unsigned Msgs, unsigned Batch, rl::memory_order StampMo, bool TailRelaxed,
          stamp_rule Rule = STAMP_LAP>
struct spsc : rl::test_suite<spsc<Cap, Msgs, Batch, StampMo, TailRelaxed, Rule>, 2> {
    rl::atomic<u64> tail;
    rl::atomic<u64> ea[Cap], eb[Cap];
    rl::var<int> payload[Cap]; // one payload buffer per slot, reused with the slot (as a chunk is)

    // The stamp of position pos once published (what peek wants), and the one push writes.
    static u64 fresh(u64 pos) { return Rule == STAMP_FLAG ? STAMP : stamp(pos, Cap); }
    static u64 unpublished(u64 pos)
    {
        return Rule == STAMP_FLAG ? 0 : Rule == STAMP_AT_PUSH ? stamp(pos, Cap) : stamp(pos + Cap, Cap);
    }

    void before()
    {
        tail($).store(0, rl::mo_relaxed);
        for (unsigned i = 0; i < Cap; i++) { // shmipc__conn_init
            ea[i]($).store(Rule == STAMP_DIRTY_INIT ? (STAMP | 7) : 0, rl::mo_relaxed);
            eb[i]($).store(0, rl::mo_relaxed);
        }
    }

    void producer()
    {
        u64 h = 0, published = 0, tail_cache = 0;
        for (unsigned k = 0; k < Msgs; k++) {
            // push: while full, reload tail (acquire) - bounded here, the real caller waits
            int tries = 0;
            while (h - tail_cache >= Cap) {
                tail_cache = tail($).load(rl::mo_acquire);
                if (h - tail_cache >= Cap && ++tries > 1)
                    return;
            }
            payload[h % Cap]($) = 100 + (int)k; // the slot's payload buffer, rewritten only after tail moved
            eb[h % Cap]($).store(~(u64)k, rl::mo_relaxed);
            ea[h % Cap]($).store((u64)k | unpublished(h), rl::mo_relaxed);
            h++;
            if (h - published < Batch && k + 1 < Msgs)
                continue;
            // publish: each pushed entry's own stamp (conn.c reloads a relaxed: only we write it, so the
            // load returns our push's store, written here from what we pushed). The head store after the
            // stamps is left out: only successors, recoverers and tools read it.
            for (u64 pos = published; pos != h; pos++)
                ea[pos % Cap]($).store(pos | fresh(pos), StampMo);
            published = h;
        }
    }

    void consumer()
    {
        u64 t = 0;
        for (unsigned k = 0; k < Msgs; k++) {
            // peek: the stamp at tail (acquire), bounded polling here
            u64 x;
            int tries = 0;
            for (;;) {
                x = ea[t % Cap]($).load(rl::mo_acquire);
                if ((x & STAMP) == fresh(t))
                    break;
                if (++tries > 1)
                    return;
            }
            u64 a = x & ~STAMP;
            u64 b = eb[t % Cap]($).load(rl::mo_relaxed);
            RL_ASSERT(a == t);  // the entry pushed at this position: not the previous lap's, not a later one
            RL_ASSERT(b == ~a); // never torn between two pushes
            RL_ASSERT(payload[t % Cap]($) == 100 + (int)a); // visible, and not yet reused (no race)
            t++;
            tail($).store(t, TailRelaxed ? rl::mo_relaxed : rl::mo_release); // pop
        }
    }

    void thread(unsigned idx) { idx == 0 ? producer() : consumer(); }
};

// ---- 2. the consumer's sleep handshake with publish, on the stamp ----
//
// The sleeper (the pattern's wait loop with shmipc__conn_rx_ready as its condition): waiters += 1
// (seq_cst); seen = seq (seq_cst); load the stamp at tail (seq_cst); if it is not fresh it sleeps in
// futex_wait(seq, seen), which returns at once unless seq == seen and otherwise only when a waker bumps
// seq. The waker (push, then publish): the stamp store (seq_cst), the head store (release), waiters
// (seq_cst); if not 0, seq += 1 (seq_cst) and futex_wake. A lost wake-up is a sleeper that found no fresh
// stamp and whose seq was never bumped afterwards: after() checks that this never happens.
template <rl::memory_order StampMo, rl::memory_order HeadMo, rl::memory_order ReadyMo, bool NotifyAcqRel = false>
struct sleep_consumer : rl::test_suite<sleep_consumer<StampMo, HeadMo, ReadyMo, NotifyAcqRel>, 2> {
    rl::atomic<u64> head, ea, eb; // capacity 1: the entry at position 0
    rl::atomic<unsigned> waiters, seq;
    rl::var<int> slept;           // the sleeper went to sleep ...
    rl::var<unsigned> slept_seen; // ... on this seq value
    rl::var<int> payload;

    void before()
    {
        head($).store(0, rl::mo_relaxed);
        ea($).store(0, rl::mo_relaxed);
        eb($).store(0, rl::mo_relaxed);
        waiters($).store(0, rl::mo_relaxed);
        seq($).store(0, rl::mo_relaxed);
        slept($) = 0;
        slept_seen($) = 0;
        payload($) = 0;
    }

    void sleeper()
    {
        waiters($).fetch_add(1, NotifyAcqRel ? rl::mo_acq_rel : rl::mo_seq_cst);
        unsigned seen = seq($).load(NotifyAcqRel ? rl::mo_acquire : rl::mo_seq_cst);
        u64 x = ea($).load(ReadyMo); // conn_rx_ready
        if ((x & STAMP) != stamp(0, 1)) {
            slept($) = 1;
            slept_seen($) = seen;
            return; // in futex_wait: still announced; it retracts only once woken (after() checks that)
        }
        RL_ASSERT(eb($).load(rl::mo_relaxed) == 5); // the entry, and what was written before it, is visible
        RL_ASSERT(payload($) == 42);
        waiters($).fetch_sub(1, rl::mo_relaxed); // shmipc__notify_cancel
    }

    void waker()
    {
        payload($) = 42;
        eb($).store(5, rl::mo_relaxed); // push: b, then a with the lap before's stamp
        ea($).store(0 | stamp(1, 1), rl::mo_relaxed);
        u64 x = ea($).load(rl::mo_relaxed); // publish: the stamp, head, waiters
        ea($).store((x & ~STAMP) | stamp(0, 1), StampMo);
        head($).store(1, HeadMo);
        if (waiters($).load(NotifyAcqRel ? rl::mo_acquire : rl::mo_seq_cst) != 0)
            seq($).fetch_add(1, NotifyAcqRel ? rl::mo_acq_rel : rl::mo_seq_cst); // shmipc__notify_wake
    }

    void thread(unsigned idx) { idx == 0 ? sleeper() : waker(); }

    void after()
    {
        if (slept($))
            RL_ASSERT(seq($).load(rl::mo_relaxed) != slept_seen($));
    }
};

// ---- 3. the sleep handshake on an index (src/common/futex.c notify words, conn.c publish / pop) ----
//
// As in 2., with an index as the sleeper's condition: head for the overwrite-mode consumer
// (conn_rx_ready loads head seq_cst; publish under SHMIPC__CONN_OVERWRITE stores head seq_cst, after
// stamps stored with release, which play no part in it), tail for the producer sleeping for room
// (conn_tx_room's seq_cst reload of tail; pop's seq_cst tail store and waiters load).
//
// Batched (SHMIPC__CONN_BATCH_WAKE, conn.c pop + shmipc__conn_rx_settle): the consumer stores tail with
// release, and its handshake is a read-modify-write of waiters (fetch_add 0, seq_cst): either it reads
// the sleeper's announcement, or the announcement reads from it and so sees the tail stored before it.
// WAKE_RMW_RELAXED (that RMW relaxed) and WAKE_LOAD (a plain relaxed load instead) are the weakenings
// that must fail. (A seq_cst fence and a relaxed load is correct by the C11 fence rules too, but Relacy
// does not order a fence against another thread's seq_cst RMW, so the library uses the RMW.)
enum wake_kind { WAKE_SEQ_CST, WAKE_RMW, WAKE_RMW_RELAXED, WAKE_LOAD };

template <bool AcqRel, bool ProducerSleeps, wake_kind Wake = WAKE_SEQ_CST>
struct handshake : rl::test_suite<handshake<AcqRel, ProducerSleeps, Wake>, 2> {
    rl::atomic<u64> index;        // head (overwrite consumer sleeps) or tail (producer sleeps)
    rl::atomic<unsigned> waiters, seq;
    rl::var<int> slept;           // the sleeper went to sleep ...
    rl::var<unsigned> slept_seen; // ... on this seq value
    rl::var<int> payload;

    void before()
    {
        index($).store(0, rl::mo_relaxed);
        waiters($).store(0, rl::mo_relaxed);
        seq($).store(0, rl::mo_relaxed);
        slept($) = 0;
        slept_seen($) = 0;
        payload($) = 0;
    }

    void sleeper()
    {
        waiters($).fetch_add(1, AcqRel ? rl::mo_acq_rel : rl::mo_seq_cst);
        unsigned seen = seq($).load(AcqRel ? rl::mo_acquire : rl::mo_seq_cst);
        u64 i = index($).load(AcqRel ? rl::mo_acquire : rl::mo_seq_cst); // rx_ready / tx_room
        if (i == 0) {
            slept($) = 1;
            slept_seen($) = seen;
            return; // in futex_wait: still announced; it retracts only once woken (after() checks that)
        }
        if (!ProducerSleeps)
            RL_ASSERT(payload($) == 42); // what was published before head is visible
        waiters($).fetch_sub(1, rl::mo_relaxed); // shmipc__notify_cancel
    }

    void waker()
    {
        if (!ProducerSleeps)
            payload($) = 42;
        unsigned w;
        if (Wake == WAKE_SEQ_CST) {
            index($).store(1, AcqRel ? rl::mo_release : rl::mo_seq_cst); // publish's head / pop's tail
            w = waiters($).load(AcqRel ? rl::mo_acquire : rl::mo_seq_cst);
        } else {
            index($).store(1, rl::mo_release); // batched pop's tail
            if (Wake == WAKE_LOAD) // shmipc__conn_rx_settle
                w = waiters($).load(rl::mo_relaxed);
            else
                w = waiters($).fetch_add(0, Wake == WAKE_RMW ? rl::mo_seq_cst : rl::mo_relaxed);
        }
        if (w != 0) {
            // shmipc__notify_wake: bump seq (seq_cst), then futex_wake
            seq($).fetch_add(1, AcqRel ? rl::mo_acq_rel : rl::mo_seq_cst);
        }
    }

    void thread(unsigned idx) { idx == 0 ? sleeper() : waker(); }

    void after()
    {
        // futex_wait(seq, seen) sleeps for ever exactly when seq still equals seen once the waker is done
        if (slept($))
            RL_ASSERT(seq($).load(rl::mo_relaxed) != slept_seen($));
    }
};

// ---- 4. overwrite: drop-oldest by CAS; the consumer reads head and tail, not stamps ----

enum { OW_CAP = 1, OW_MSGS = 3 };

template <bool PopCasRelaxed, bool DropCasRelaxed, bool HeadRelaxed>
struct overwrite : rl::test_suite<overwrite<PopCasRelaxed, DropCasRelaxed, HeadRelaxed>, 2> {
    rl::atomic<u64> head, tail;
    rl::atomic<u64> ea[OW_CAP], eb[OW_CAP];
    rl::var<int> payload[OW_MSGS];

    void before()
    {
        head($).store(0, rl::mo_relaxed);
        tail($).store(0, rl::mo_relaxed);
        for (int i = 0; i < OW_CAP; i++) {
            ea[i]($).store(0, rl::mo_relaxed);
            eb[i]($).store(0, rl::mo_relaxed);
        }
    }

    void producer()
    {
        u64 h = 0, tail_cache = 0;
        for (int k = 0; k < OW_MSGS; k++) {
            while (h - tail_cache >= OW_CAP) {
                tail_cache = tail($).load(rl::mo_acquire); // tx_reload
                if (h - tail_cache < OW_CAP)
                    break;
                // full: drop the oldest (it is published: every push here is published at once)
                u64 t = tail_cache;
                if (tail($).compare_exchange_strong(t, t + 1, DropCasRelaxed ? rl::mo_relaxed : rl::mo_acq_rel,
                                                    DropCasRelaxed ? rl::mo_relaxed : rl::mo_acquire))
                    tail_cache = t + 1;
                else
                    tail_cache = t;
            }
            payload[k]($) = 200 + k;
            eb[h % OW_CAP]($).store(~(u64)k, rl::mo_relaxed); // push: b, then a with the lap before's stamp
            ea[h % OW_CAP]($).store((u64)k | stamp(h + OW_CAP, OW_CAP), rl::mo_relaxed);
            // publish: the stamp (release under overwrite), then head (seq_cst: what this consumer reads)
            u64 x = ea[h % OW_CAP]($).load(rl::mo_relaxed);
            ea[h % OW_CAP]($).store((x & ~STAMP) | stamp(h, OW_CAP), rl::mo_release);
            h++;
            head($).store(h, HeadRelaxed ? rl::mo_relaxed : rl::mo_seq_cst);
        }
    }

    void consumer()
    {
        u64 my_tail = 0;
        long last = -1;
        for (int round = 0; round < 2; round++) {
            // rx_reload_overwrite: head (acquire), then tail (acquire), bounded retries
            u64 h = 0, t = 0;
            bool have = false;
            for (int tries = 0; tries < 2 && !have; tries++) {
                h = head($).load(rl::mo_acquire);
                t = tail($).load(rl::mo_acquire);
                RL_ASSERT(t >= my_tail); // tail never moves backwards
                if (t > h)
                    continue;
                RL_ASSERT(h - t <= OW_CAP);
                my_tail = t;
                have = h != t;
            }
            if (!have)
                continue;
            u64 x = ea[t % OW_CAP]($).load(rl::mo_relaxed); // peek: the stamp masked off
            u64 a = x & ~STAMP;
            u64 b = eb[t % OW_CAP]($).load(rl::mo_relaxed);
            u64 expect = t;
            // pop: CAS tail t -> t+1 (release); a failure means the producer dropped it while we read
            if (!tail($).compare_exchange_strong(expect, t + 1, PopCasRelaxed ? rl::mo_relaxed : rl::mo_release,
                                                 rl::mo_relaxed)) {
                my_tail = expect;
                continue;
            }
            my_tail = t + 1;
            RL_ASSERT(b == ~a);                           // not torn
            RL_ASSERT(a == t);                            // the entry of position t, not a later rewrite of its slot
            RL_ASSERT((x & STAMP) == stamp(t, OW_CAP));   // published (head covered it), so its stamp is set
            RL_ASSERT((long)a > last);                    // never repeated, in order
            last = (long)a;
            RL_ASSERT(payload[a]($) == 200 + (int)a);
        }
    }

    void thread(unsigned idx) { idx == 0 ? producer() : consumer(); }
};

int main(int argc, char **argv)
{
    model_only = argc > 1 ? argv[1] : "";
    // spsc <capacity, messages, publish batch, stamp store order, tail relaxed, stamp rule>. The stamp is
    // stored with release, the weakest order publish uses (CONSUMER_POLLS and overwrite; seq_cst, where
    // the consumer may sleep, is stronger and is checked by the sleep handshake below). More messages than
    // capacity: a slot holds the previous lap's entry when the consumer comes to it.
    model_run<spsc<1, 2, 1, rl::mo_release, false>>("ring spsc: cap 1, 2 msgs, as in conn.c", true, rl::sched_full);
    model_run<spsc<1, 3, 1, rl::mo_release, false>>("ring spsc: cap 1, 3 msgs (laps 0-2), as in conn.c", true,
                                                    rl::sched_full);
    model_run<spsc<2, 3, 2, rl::mo_release, false>>("ring spsc: cap 2, 3 msgs, batches of 2, as in conn.c", true,
                                                    rl::sched_full);
    model_run<spsc<1, 2, 1, rl::mo_relaxed, false>>("ring spsc: stamp stored relaxed", false, rl::sched_full);
    model_run<spsc<1, 2, 1, rl::mo_release, true>>("ring spsc: tail stored relaxed", false, rl::sched_full);
    model_run<spsc<1, 2, 1, rl::mo_release, false, STAMP_FLAG>>("ring spsc: a published flag, no lap parity",
                                                                 false, rl::sched_full);
    model_run<spsc<2, 3, 2, rl::mo_release, false, STAMP_FLAG>>("ring spsc: cap 2, a published flag, no lap parity",
                                                                 false, rl::sched_full);
    model_run<spsc<1, 2, 1, rl::mo_release, false, STAMP_AT_PUSH>>("ring spsc: push writes the entry's own stamp",
                                                                    false, rl::sched_full);
    model_run<spsc<1, 2, 1, rl::mo_release, false, STAMP_DIRTY_INIT>>("ring spsc: ring not zeroed at init", false,
                                                                       rl::sched_full);
    // sleep_consumer <stamp store, head store, rx_ready load, notify words acquire/release>
    model_run<sleep_consumer<rl::mo_seq_cst, rl::mo_release, rl::mo_seq_cst>>(
        "sleep handshake, consumer sleeps on the stamp (seq_cst)", true, rl::sched_full);
    model_run<sleep_consumer<rl::mo_release, rl::mo_release, rl::mo_seq_cst>>(
        "sleep handshake, consumer sleeps, stamp stored release", false, rl::sched_full);
    model_run<sleep_consumer<rl::mo_release, rl::mo_seq_cst, rl::mo_seq_cst>>(
        "sleep handshake, consumer sleeps, stamp release + head seq_cst", false, rl::sched_full);
    model_run<sleep_consumer<rl::mo_seq_cst, rl::mo_release, rl::mo_acquire>>(
        "sleep handshake, consumer sleeps, rx_ready acquire", false, rl::sched_full);
    model_run<sleep_consumer<rl::mo_release, rl::mo_release, rl::mo_acquire, true>>(
        "sleep handshake, consumer sleeps, acquire/release only", false, rl::sched_full);
    model_run<handshake<false, false>>("sleep handshake, overwrite consumer sleeps on head (seq_cst)", true,
                                       rl::sched_full);
    model_run<handshake<true, false>>("sleep handshake, overwrite consumer, acquire/release only", false,
                                      rl::sched_full);
    model_run<handshake<false, true>>("sleep handshake, producer sleeps for room (seq_cst)", true, rl::sched_full);
    model_run<handshake<true, true>>("sleep handshake, producer sleeps, acquire/release only", false,
                                     rl::sched_full);
    model_run<handshake<false, true, WAKE_RMW>>("sleep handshake, producer sleeps, batched pop + settle RMW", true,
                                               rl::sched_full);
    model_run<handshake<false, true, WAKE_RMW_RELAXED>>("sleep handshake, batched, settle RMW relaxed", false,
                                                       rl::sched_full);
    model_run<handshake<false, true, WAKE_LOAD>>("sleep handshake, batched, settle by a plain load", false,
                                                rl::sched_full);
    model_run<overwrite<false, false, false>>("overwrite: drop-oldest CAS as in conn.c", true, rl::sched_random, 2000000);
    // Not run as weakenings: the consumer's CAS relaxed, the producer's CAS relaxed. What those orders
    // prevent is a load returning a store that comes later (load buffering), which Relacy does not
    // simulate, so both variants "hold" here without proving anything (see models/README.md).
    model_run<overwrite<false, false, true>>("overwrite: head stored relaxed", false, rl::sched_random, 100000);
    return model_failures ? 1 : 0;
}
