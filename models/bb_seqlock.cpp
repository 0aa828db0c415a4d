// SPDX-License-Identifier: MIT
// models/bb_seqlock.cpp - the blackboard's double-buffered seqlock (src/blackboard/blackboard.c,
// shmipc_blackboard_write and bb_load) under the C++11 memory model (Relacy).
//
// One entry, two buffers, each with its own seq; `active` says which buffer readers follow. Values are
// WORDS words (a value written as version v has every word equal to v * 1000 + i) plus the version, so a
// snapshot mixing two writes is seen. The writer makes WRITES writes; each reader makes one read with a
// bounded number of retries. A read that is accepted (s1 even and unchanged after the copy) must be one
// whole write. Separate runs check that the versions one reader gets never go back: they could before
// bb_load kept a floor (models/README.md, "Findings"); with it they cannot.
//
// Writer (blackboard.c): cur = active (relaxed); b = other buffer; odd = b.seq | 1 (relaxed store);
//   release fence; data and version stores (relaxed); b.seq = odd + 1 (release); active = other (release).
// Reader: idx = active (acquire); s1 = b.seq (acquire); if even: copy data and version (relaxed);
//   acquire fence; s2 = b.seq (relaxed); accepted if s1 == s2. With the floor (Floor): an accepted
//   version below the last one returned sends the reader to the other buffer, copied the same way; both
//   accepted and below the floor would be bb_load's -EBADMSG, which must never happen here.
#include "model.hpp"

enum { WORDS = 2, READS = 2 };

typedef unsigned long long u64;

template <bool NoWriterFence, bool NoReaderFence, bool ActiveRelaxed, bool CheckMonotonic = false, int WRITES = 2,
          bool Floor = true>
struct seqlock
    : rl::test_suite<seqlock<NoWriterFence, NoReaderFence, ActiveRelaxed, CheckMonotonic, WRITES, Floor>, 2> {
    rl::atomic<unsigned> active;
    rl::atomic<unsigned> seq[2];
    rl::atomic<u64> data[2][WORDS];
    rl::atomic<u64> version[2];

    void before()
    {
        active($).store(0, rl::mo_relaxed);
        for (int b = 0; b < 2; b++) {
            seq[b]($).store(0, rl::mo_relaxed);
            version[b]($).store(0, rl::mo_relaxed);
            for (int i = 0; i < WORDS; i++)
                data[b][i]($).store(0, rl::mo_relaxed);
        }
    }

    void writer()
    {
        for (u64 v = 1; v <= WRITES; v++) {
            unsigned cur = active($).load(rl::mo_relaxed) & 1;
            unsigned nb = cur ^ 1;
            unsigned odd = seq[nb]($).load(rl::mo_relaxed) | 1;
            seq[nb]($).store(odd, rl::mo_relaxed);
            if (!NoWriterFence)
                rl::atomic_thread_fence(rl::mo_release, $);
            for (int i = 0; i < WORDS; i++)
                data[nb][i]($).store(v * 1000 + (u64)i, rl::mo_relaxed);
            version[nb]($).store(v, rl::mo_relaxed);
            seq[nb]($).store(odd + 1, rl::mo_release);
            active($).store(nb, ActiveRelaxed ? rl::mo_relaxed : rl::mo_release);
        }
    }

    // One buffer's copy: true (and its version) if accepted, which must then be one whole write.
    bool copy(unsigned b, u64 &v)
    {
        unsigned s1 = seq[b]($).load(rl::mo_acquire);
        if (s1 & 1)
            return false;
        u64 w[WORDS];
        for (int i = 0; i < WORDS; i++)
            w[i] = data[b][i]($).load(rl::mo_relaxed);
        v = version[b]($).load(rl::mo_relaxed);
        if (!NoReaderFence)
            rl::atomic_thread_fence(rl::mo_acquire, $);
        if (seq[b]($).load(rl::mo_relaxed) != s1)
            return false;
        for (int i = 0; i < WORDS; i++) // one whole write (or the initial zeros)
            RL_ASSERT(v == 0 ? w[i] == 0 : w[i] == v * 1000 + (u64)i);
        return true;
    }

    void reader()
    {
        u64 last = 0;
        for (int r = 0; r < READS; r++) {
            for (int tries = 0; tries < 2; tries++) {
                unsigned idx = active($).load(ActiveRelaxed ? rl::mo_relaxed : rl::mo_acquire);
                RL_ASSERT(idx <= 1);
                u64 v;
                if (!copy(idx, v))
                    continue;
                if (Floor && v < last) {
                    u64 w;
                    if (!copy(idx ^ 1, w))
                        continue;
                    RL_ASSERT(w >= last); // else bb_load's -EBADMSG: impossible with an honest writer
                    v = w;
                }
                if (CheckMonotonic)
                    RL_ASSERT(v >= last);
                last = v;
                break;
            }
        }
    }

    void thread(unsigned idx) { idx == 0 ? writer() : reader(); }
};

int main(int argc, char **argv)
{
    model_only = argc > 1 ? argv[1] : "";
    model_run<seqlock<false, false, false>>("blackboard seqlock as in blackboard.c", true, rl::sched_random, 2000000);
    model_run<seqlock<true, false, false>>("blackboard seqlock: writer's release fence removed", false,
                                           rl::sched_random, 100000);
    model_run<seqlock<false, true, false>>("blackboard seqlock: reader's acquire fence removed", false,
                                           rl::sched_random, 100000);
    // Without the floor, two reads by one reader may return version 3, then version 2 (the first read
    // followed an old index to a buffer already rewritten by write 3; the second follows write 2's index
    // while write 3's is not yet visible): the finding bb_load's floor fixes.
    model_run<seqlock<false, false, false, true, 3, false>>("blackboard: versions go back without the floor",
                                                            false, rl::sched_random, 200000);
    model_run<seqlock<false, false, false, true, 3>>("blackboard: one reader's versions never go back", true,
                                                     rl::sched_random, 1000000);
    return model_failures ? 1 : 0;
}
