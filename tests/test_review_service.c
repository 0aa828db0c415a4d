/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review_service.c - review findings in the service core's reclaim: the pattern whose reclaim
 * runs is the one validated at open (not a fresh read of a header a peer may rewrite), and a slot that
 * another thread of this process is already reclaiming is not reclaimed a second time concurrently.
 * The test substitutes its own operation tables through the core's lookup hook.
 */
#include "helpers.h"
#include "service/service_internal.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int bb_calls, ps_calls, nested_result = -100;
static bool reenter;

static int bb_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)slot, (void)role, (void)user;
    bb_calls++;
    if (reenter) {
        /* What another thread of this process would do at this moment. */
        reenter = false;
        nested_result = shmipc__svc_reclaim_dead(svc);
    }
    return 0;
}

static int ps_reclaim(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    (void)svc, (void)slot, (void)role, (void)user;
    ps_calls++;
    return 0;
}

static const shmipc__pattern_ops bb_ops = {.pattern = SHMIPC_PATTERN_BLACKBOARD,
                                           .seg_type = SHMIPC_TYPE_BLACKBOARD, .reclaim = bb_reclaim};
static const shmipc__pattern_ops ps_ops = {.pattern = SHMIPC_PATTERN_PUBSUB, .seg_type = SHMIPC_TYPE_PUBSUB,
                                           .reclaim = ps_reclaim};

static const shmipc__pattern_ops *test_lookup(shmipc_pattern pattern)
{
    return pattern == SHMIPC_PATTERN_BLACKBOARD ? &bb_ops : pattern == SHMIPC_PATTERN_PUBSUB ? &ps_ops : NULL;
}

static int make(const char *tag, shmipc__svc *svc)
{
    char name[64];
    snprintf(name, sizeof name, "rv%d-%s", (int)getpid(), tag);
    shmipc__svc_params p = {.pattern = SHMIPC_PATTERN_BLACKBOARD, .name = name, .max_participants = 4,
                            .pattern_size = 64};
    int err = shmipc__svc_create(&p, svc);
    return err ? err : shmipc__svc_publish(svc);
}

/* Put a participant whose process is gone into slot 0. */
static void plant_dead(shmipc__svc *svc)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    shmipc_proc_id id = {.pid = pid, .start_time = 12345};
    shmipc__participant *pt = &svc->parts[0];
    pt->role = SHMIPC_ROLE_READER;
    atomic_store(&pt->state, SHMIPC__PART_ACTIVE);
    atomic_store(&pt->owner, shmipc__owner_pack(&id));
    assert_false(shmipc__owner_alive(atomic_load(&pt->owner)));
}

static void reclaim_uses_validated_pattern(void **state)
{
    (void)state;
    shmipc__svc svc;
    assert_int_equal(make("pat", &svc), 0);
    plant_dead(&svc);
    bb_calls = ps_calls = 0;
    /* A peer rewrites the pattern field after we validated the service as a blackboard. */
    svc.hdr->pattern = SHMIPC_PATTERN_PUBSUB;
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    assert_int_equal(ps_calls, 0);
    assert_int_equal(bb_calls, 1);
    shmipc_segment_unlink(svc.segname);
    shmipc__svc_close(&svc);
}

static void reclaim_not_reentered_by_same_process(void **state)
{
    (void)state;
    shmipc__svc svc;
    assert_int_equal(make("nest", &svc), 0);
    plant_dead(&svc);
    bb_calls = ps_calls = 0;
    reenter = true;
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    assert_int_equal(nested_result, 0); /* the slot was ours to reclaim, not the nested caller's */
    assert_int_equal(bb_calls, 1);
    assert_int_equal(atomic_load(&svc.parts[0].owner), 0);
    assert_int_equal(atomic_load(&svc.parts[0].reclaimer), 0);
    shmipc_segment_unlink(svc.segname);
    shmipc__svc_close(&svc);
}

int main(void)
{
    shmipc__pattern_lookup_hook = test_lookup;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reclaim_uses_validated_pattern),
        cmocka_unit_test(reclaim_not_reentered_by_same_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
