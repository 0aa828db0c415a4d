/* SPDX-License-Identifier: MIT */
/*
 * tests/test_wait_adapt.c - the hybrid spin budget of the wait primitive (src/common/wait.c) learns from
 * the waits it is taught, with no clock involved: dense traffic of any wait length up to 256 us is
 * covered by the spin (waits lengthened by wake-ups included, the regression behind issue 9's 1 MiB
 * collapse), sparse traffic falls back to the floor, one long wait among short ones keeps the budget,
 * the budget never leaves [floor, 256 us], and a corrupt state word is kept in range.
 */
#include "helpers.h"

#include "common/internal.h"

#define US 1000u
#define SPIN_MAX (256u * US)

static void teach(shmipc__wait_adapt *a, uint64_t took, unsigned times)
{
    for (unsigned i = 0; i < times; i++)
        shmipc__wait_learn(a, took);
}

static void fresh_state_spins_the_floor(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    assert_int_equal(shmipc__wait_budget_ns(&a, 0), SHMIPC__WAIT_SPIN_NS);
    assert_int_equal(shmipc__wait_budget_ns(&a, 50 * US), 50 * US);
    assert_int_equal(shmipc__wait_budget_ns(NULL, 0), SHMIPC__WAIT_SPIN_NS);
}

static void dense_waits_are_covered_twice_over(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 60 * US, 32);
    uint64_t b = shmipc__wait_budget_ns(&a, 0);
    assert_true(b >= 115 * US && b <= 120 * US);
    /* Short waits: the floor wins. */
    teach(&a, 2 * US, 32);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0), SHMIPC__WAIT_SPIN_NS);
}

static void waits_near_the_cap_keep_spinning(void **state)
{
    (void)state;
    /* Waits of 180 to 250 us (e.g. 1 MiB messages, or short ones lengthened by a futex wake-up): the
     * budget is the cap, never the floor, so the next waits spin instead of sleeping again. */
    for (uint64_t took = 90 * US; took <= SPIN_MAX; took += 20 * US) {
        shmipc__wait_adapt a = {0};
        teach(&a, took, 32);
        uint64_t want = took * 2 > SPIN_MAX ? SPIN_MAX : took * 2, b = shmipc__wait_budget_ns(&a, 0);
        assert_true(b <= want && b + 100 >= want); /* the average converges from below, in whole ns */
    }
}

static void sparse_traffic_spins_briefly(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 100 * US, 32);
    assert_true(shmipc__wait_budget_ns(&a, 0) > SHMIPC__WAIT_SPIN_NS);
    /* 1 kHz traffic: every wait about 1 ms. A handful of them is enough. */
    teach(&a, 1000 * US, 8);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0), SHMIPC__WAIT_SPIN_SPARSE_NS);
    teach(&a, 1000 * US, 1000);
    assert_int_equal(shmipc__wait_budget_ns(&a, 0), SHMIPC__WAIT_SPIN_SPARSE_NS);
    /* A floor the caller chose (a channel's spin_us) is kept in sparse traffic too. */
    assert_int_equal(shmipc__wait_budget_ns(&a, 50 * US), 50 * US);
    /* Dense again: the budget comes back within a few waits. */
    teach(&a, 100 * US, 8);
    assert_true(shmipc__wait_budget_ns(&a, 0) > SHMIPC__WAIT_SPIN_NS);
}

static void one_long_wait_does_not_reset_dense_traffic(void **state)
{
    (void)state;
    shmipc__wait_adapt a = {0};
    teach(&a, 80 * US, 32);
    uint64_t before = shmipc__wait_budget_ns(&a, 0);
    shmipc__wait_learn(&a, 50000 * US); /* the peer was preempted for 50 ms */
    assert_int_equal(shmipc__wait_budget_ns(&a, 0), before);
    /* Alternating long and short waits: still mostly short or not, the budget stays in range. */
    for (unsigned i = 0; i < 100; i++) {
        shmipc__wait_learn(&a, i % 2 ? 90 * US : 5000 * US);
        uint64_t b = shmipc__wait_budget_ns(&a, 0);
        assert_true(b == SHMIPC__WAIT_SPIN_SPARSE_NS || (b >= SHMIPC__WAIT_SPIN_NS && b <= SPIN_MAX));
    }
}

static void corrupt_state_stays_in_range(void **state)
{
    (void)state;
    static const uint64_t words[] = {UINT64_MAX, 0xffffffffu, (uint64_t)0xffffffffu << 32, 1, 12345678901234567ull};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        shmipc__wait_adapt a = {words[i]};
        uint64_t b = shmipc__wait_budget_ns(&a, 0);
        assert_true(b == SHMIPC__WAIT_SPIN_SPARSE_NS || (b >= SHMIPC__WAIT_SPIN_NS && b <= SPIN_MAX));
        shmipc__wait_learn(&a, 10 * US);
        b = shmipc__wait_budget_ns(&a, 0);
        assert_true(b == SHMIPC__WAIT_SPIN_SPARSE_NS || (b >= SHMIPC__WAIT_SPIN_NS && b <= SPIN_MAX));
        assert_true((a.state & 0xffffffffu) <= SPIN_MAX && (a.state >> 32) <= 1024);
    }
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
