/* SPDX-License-Identifier: MIT */
/*
 * tests/test_wait_adapt.c - the hybrid spin budget of the wait primitive (src/common/wait.c) learns from
 * the waits it is taught, with no clock involved: dense traffic of any wait length up to 256 us is
 * covered by the spin (waits lengthened by wake-ups included, the regression behind issue 9's 1 MiB
 * collapse), sparse traffic falls back to the floor, one long wait among short ones keeps the budget,
 * the budget never leaves [floor, 256 us], a wait that begins long after the last one ended (a caller
 * paced by something else) spins briefly, and a corrupt state word is kept in range. The tests keep their
 * own clock: each wait taught ends 1 us after the previous one (dense traffic) unless a test moves it.
 */
#include "helpers.h"

#include "common/internal.h"

#define US 1000u
#define SPIN_MAX (256u * US)

/* The test's clock: the end of the last wait taught. */
static uint64_t clock_ns = 1000000000u;

static void learn(shmipc__wait_adapt *a, uint64_t took)
{
    clock_ns += US + took;
    shmipc__wait_learn(a, took, clock_ns);
}

static void teach(shmipc__wait_adapt *a, uint64_t took, unsigned times)
{
    for (unsigned i = 0; i < times; i++)
        learn(a, took);
}

/* The budget of a wait that begins 1 us after the last one ended. */
static uint64_t budget(const shmipc__wait_adapt *a, uint64_t floor_ns)
{
    return shmipc__wait_budget_ns(a, floor_ns, clock_ns + US, false);
}

static void fresh_state_spins_the_floor(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    assert_int_equal(budget(&a, 0), SHMIPC__WAIT_SPIN_NS);
    assert_int_equal(budget(&a, 50 * US), 50 * US);
    assert_int_equal(budget(NULL, 0), SHMIPC__WAIT_SPIN_NS);
}

static void dense_waits_are_covered_twice_over(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 60 * US, 32);
    uint64_t b = budget(&a, 0);
    assert_true(b >= 115 * US && b <= 120 * US);
    /* Short waits: the floor wins. */
    teach(&a, 2 * US, 32);
    assert_int_equal(budget(&a, 0), SHMIPC__WAIT_SPIN_NS);
}

static void waits_near_the_cap_keep_spinning(void **state)
{
    (void)state;
    /* Waits of 180 to 250 us (e.g. 1 MiB messages, or short ones lengthened by a futex wake-up): the
     * budget is the cap, never the floor, so the next waits spin instead of sleeping again. */
    for (uint64_t took = 90 * US; took <= SPIN_MAX; took += 20 * US) {
        shmipc__wait_adapt a = {0};
        teach(&a, took, 32);
        uint64_t want = took * 2 > SPIN_MAX ? SPIN_MAX : took * 2, b = budget(&a, 0);
        assert_true(b <= want && b + 100 >= want); /* the average converges from below, in whole ns */
    }
}

static void sparse_traffic_spins_briefly(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 100 * US, 32);
    assert_true(budget(&a, 0) > SHMIPC__WAIT_SPIN_NS);
    /* 1 kHz traffic: every wait about 1 ms. A handful of them is enough. */
    teach(&a, 1000 * US, 8);
    assert_int_equal(budget(&a, 0), SHMIPC__WAIT_SPIN_SPARSE_NS);
    teach(&a, 1000 * US, 1000);
    assert_int_equal(budget(&a, 0), SHMIPC__WAIT_SPIN_SPARSE_NS);
    /* A floor the caller chose (a channel's spin_us) is kept in sparse traffic too. */
    assert_int_equal(budget(&a, 50 * US), 50 * US);
    /* Dense again: the budget comes back within a few waits. */
    teach(&a, 100 * US, 8);
    assert_true(budget(&a, 0) > SHMIPC__WAIT_SPIN_NS);
}

static void one_long_wait_does_not_reset_dense_traffic(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 80 * US, 32);
    uint64_t before = budget(&a, 0);
    learn(&a, 50000 * US); /* the peer was preempted for 50 ms */
    assert_int_equal(budget(&a, 0), before);
    /* Alternating long and short waits: still mostly short or not, the budget stays in range. */
    for (unsigned i = 0; i < 100; i++) {
        learn(&a, i % 2 ? 90 * US : 5000 * US);
        uint64_t b = budget(&a, 0);
        assert_true(b == SHMIPC__WAIT_SPIN_SPARSE_NS || (b >= SHMIPC__WAIT_SPIN_NS && b <= SPIN_MAX));
    }
}

static void corrupt_state_stays_in_range(void **state)
{
    (void)state;
    static const uint64_t words[] = {UINT64_MAX, 0xffffffffu, (uint64_t)0xffffffffu << 32, 1, 12345678901234567ull};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        shmipc__wait_adapt a = {words[i]};
        uint64_t b = budget(&a, 0);
        assert_true(b == SHMIPC__WAIT_SPIN_SPARSE_NS || (b >= SHMIPC__WAIT_SPIN_NS && b <= SPIN_MAX));
        learn(&a, 10 * US);
        b = budget(&a, 0);
        assert_true(b == SHMIPC__WAIT_SPIN_SPARSE_NS || (b >= SHMIPC__WAIT_SPIN_NS && b <= SPIN_MAX));
        assert_true((a.state & ((1u << 18) - 1)) <= SPIN_MAX && ((a.state >> 18) & 2047) <= 1024);
    }
}

static void paced_caller_spins_briefly(void **state)
{
    (void)state;
    /* Waits of 40 us (a reply that takes a sleeping server's wake-up), each begun 1 ms after the last one
     * ended (the caller sends at 1 kHz): the short average alone would spin 80 us a wait. */
    shmipc__wait_adapt a = {0};
    teach(&a, 40 * US, 32);
    assert_true(budget(&a, 0) >= 75 * US);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0, clock_ns + 1000 * US, true), 0);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0, clock_ns + 262 * US, true), 0);
    /* Without a wake just made the gap alone says nothing (a busy handle that rarely waits). */
    assert_true(shmipc__wait_budget_ns(&a, 0, clock_ns + 1000 * US, false) >= 75 * US);
    /* The caller's own floor is kept, as in sparse traffic. */
    assert_int_equal(shmipc__wait_budget_ns(&a, 50 * US, clock_ns + 1000 * US, true), 50 * US);
    /* Up to 256 us after the last wait the traffic still counts as dense. */
    assert_true(shmipc__wait_budget_ns(&a, 0, clock_ns + 250 * US, true) >= 75 * US);
    /* The gap decides each wait on its own: learning the paced waits does not change the dense budget. */
    for (unsigned i = 0; i < 32; i++) {
        clock_ns += 1000 * US;
        assert_int_equal(shmipc__wait_budget_ns(&a, 0, clock_ns, true), 0);
        learn(&a, 40 * US);
    }
    assert_true(budget(&a, 0) >= 75 * US);
}

static void just_woken_peer_is_not_spun_for(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 1000 * US, 32); /* sparse */
    assert_int_equal(shmipc__wait_budget_ns(&a, 0, clock_ns + US, false), SHMIPC__WAIT_SPIN_SPARSE_NS);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0, clock_ns + US, true), 0);
    /* A caller's floor is kept; dense traffic keeps its budget (a consumer woken mid-stream is awake
     * long before the next wait). */
    assert_int_equal(shmipc__wait_budget_ns(&a, 50 * US, clock_ns + US, true), 50 * US);
    teach(&a, 40 * US, 32);
    assert_true(shmipc__wait_budget_ns(&a, 0, clock_ns + US, true) >= 75 * US);
    /* A paced caller that has just woken its peer does not spin either. */
    assert_int_equal(shmipc__wait_budget_ns(&a, 0, clock_ns + 1000 * US, true), 0);
}

static void a_wake_is_remembered(void **state)
{
    (void)state;
    /* shmipc__notify_wake records the time of a wake it had to make (a sleeper announced), and only then. */
    shmipc__notify n;
    shmipc__notify_init(&n);
    uint64_t before = shmipc__notify_woke_at();
    shmipc__notify_wake(&n, 1);
    assert_true(shmipc__notify_woke_at() == before);
    (void)shmipc__notify_prepare(&n);
    uint64_t t0 = shmipc__now_ns();
    shmipc__notify_wake(&n, 1);
    uint64_t at = shmipc__notify_woke_at();
    assert_true(at >= t0 && at <= shmipc__now_ns());
    shmipc__notify_cancel(&n);
}

static void end_times_wrap(void **state)
{
    (void)state;
    /* The end time is kept modulo 2^32 units of 1024 ns (about 73 minutes): a gap across the wrap is
     * still measured right. */
    shmipc__wait_adapt a = {0};
    uint64_t wrap = (uint64_t)1 << 42;
    for (unsigned i = 0; i < 32; i++)
        shmipc__wait_learn(&a, 40 * US, wrap - 10 * US);
    assert_true(shmipc__wait_budget_ns(&a, 0, wrap + 10 * US, true) >= 75 * US);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0, wrap + 1000 * US, true), 0);
    /* A fresh state knows no last wait: the floor, whenever the wait begins. */
    shmipc__wait_adapt f = {0};
    assert_int_equal(shmipc__wait_budget_ns(&f, 0, wrap + 1000 * US, false), SHMIPC__WAIT_SPIN_NS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_state_spins_the_floor),
        cmocka_unit_test(dense_waits_are_covered_twice_over),
        cmocka_unit_test(waits_near_the_cap_keep_spinning),
        cmocka_unit_test(sparse_traffic_spins_briefly),
        cmocka_unit_test(one_long_wait_does_not_reset_dense_traffic),
        cmocka_unit_test(corrupt_state_stays_in_range),
        cmocka_unit_test(paced_caller_spins_briefly),
        cmocka_unit_test(just_woken_peer_is_not_spun_for),
        cmocka_unit_test(a_wake_is_remembered),
        cmocka_unit_test(end_times_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
