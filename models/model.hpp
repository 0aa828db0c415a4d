// SPDX-License-Identifier: MIT
// models/model.hpp - what every model shares: run one Relacy test suite with a search and say whether
// the result is the expected one. Relacy (Debian relacy-dev) executes the model's threads under the C++11
// memory model, relaxed and acquire/release included (a load may return any store the model allows, not
// only the latest), checks every RL_ASSERT and reports data races on rl::var (plain memory) in every
// explored execution. Each model has the protocol as the library writes it (expected: no failure) and
// weakened variants (a memory order lowered, a fence removed; expected: Relacy finds the failure), which
// shows that the check can see the difference the library's orders make.
#pragma once
#include <relacy/relacy.hpp>

#include <cstdio>
#include <cstring>
#include <ostream>
#include <streambuf>

static int model_failures;

// An output stream that discards everything without allocating.
struct model_null_buf : std::streambuf {
    int overflow(int c) override { return c; }
    std::streamsize xsputn(const char *, std::streamsize n) override { return n; }
};
static model_null_buf model_null_b;
static std::ostream model_null(&model_null_b);
static const char *model_only = ""; // run only the models whose name contains this (argv[1])

template <class Suite>
static void model_run(const char *name, bool expect_ok, rl::scheduler_type_e search, unsigned iterations = 0)
{
    if (!std::strstr(name, model_only))
        return;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    rl::test_params p;
    p.search_type = search;
    if (iterations)
        p.iteration_count = iterations;
    // Relacy's report (a failing execution's history) goes to std::cout only when the result is not the
    // expected one: then the model runs again to print it. (No string stream: Relacy replaces operator
    // new while it simulates, and a stream's buffer would be allocated under it.)
    p.output_stream = &model_null;
    p.progress_stream = &model_null;
    bool ok = rl::simulate<Suite>(p);
    bool as_expected = ok == expect_ok;
    std::printf("%-64s %s: %s (%llu executions)\n", name, ok ? "holds" : "fails",
                as_expected ? (expect_ok ? "ok" : "ok (expected to fail)") : "UNEXPECTED",
                (unsigned long long)(p.stop_iteration ? p.stop_iteration : p.iteration_count));
    if (!as_expected) {
        rl::test_params again;
        again.search_type = search;
        if (iterations)
            again.iteration_count = iterations;
        rl::simulate<Suite>(again);
        model_failures++;
    }
}
