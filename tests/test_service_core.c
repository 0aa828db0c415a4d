/* SPDX-License-Identifier: MIT */
/* tests/test_service_core.c - the service core: create/open/validate, participants joining and dying,
 * crash-safe reclaim (the pattern whose reclaim runs is the one validated at open, a slot this process is
 * already reclaiming is not reclaimed again by a nested call), stale services recreated, type mismatch
 * details, gc. Uses a test-only pattern so no real pattern's rules interfere, and substitutes its own
 * operation tables through the core's lookup hook where the reclaim dispatch is checked. */
#include "helpers.h"
#include "service/service_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAT SHMIPC__PATTERN_TEST

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "t%d-%d-%s", (int)getpid(), n++, tag);
}

static int make(const char *name, uint32_t nparts, const shmipc_type_info *type, shmipc__svc *svc)
{
    shmipc__svc_params p = {.pattern = PAT, .name = name, .type = type, .max_participants = nparts,
                            .pattern_size = 64};
    int err = shmipc__svc_create(&p, svc);
    if (!err)
        err = shmipc__svc_publish(svc);
    return err;
}

static void drop(shmipc__svc *svc)
{
    shmipc_segment_unlink(svc->segname);
    shmipc__svc_close(svc);
}

/* Child: open, join, then wait to be killed (or exit when told). */
static pid_t spawn_member(const char *name, int pipefd)
{
    pid_t pid = fork();
    if (pid == 0) {
        shmipc__svc s;
        if (shmipc__svc_open(PAT, name, NULL, 0, &s))
            _exit(1);
        int slot = shmipc__svc_join(&s, SHMIPC_ROLE_SUBSCRIBER, 0);
        char c = slot >= 0 ? 'j' : 'f';
        if (write(pipefd, &c, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    return pid;
}

static void join_die_reclaim(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "jdr");
    shmipc__svc svc;
    assert_int_equal(make(name, 4, NULL, &svc), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t a = spawn_member(name, p[1]), b = spawn_member(name, p[1]);
    char c1, c2;
    assert_int_equal(read(p[0], &c1, 1), 1);
    assert_int_equal(read(p[0], &c2, 1), 1);
    assert_int_equal(c1, 'j');
    assert_int_equal(c2, 'j');
    assert_true(shmipc__svc_in_use(&svc));
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    /* pid reuse cannot fool us: liveness is pid + start time, and a zombie already counts as dead */
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 0); /* never twice */
    assert_true(shmipc__svc_in_use(&svc));
    kill(b, SIGKILL); /* not reaped yet: a zombie */
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)b, &si, WEXITED | WNOWAIT), 0); /* dead, left unreaped */
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    waitpid(b, NULL, 0);
    assert_false(shmipc__svc_in_use(&svc));
    close(p[0]);
    close(p[1]);
    drop(&svc);
}

static void table_full_then_reclaimed(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "full");
    shmipc__svc svc;
    assert_int_equal(make(name, 2, NULL, &svc), 0);
    assert_int_equal(shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t a = spawn_member(name, p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'j');
    assert_int_equal(shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0), -EUSERS);
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    assert_int_equal(shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0), 1); /* dead one reclaimed */
    shmipc__svc_leave(&svc, 0);
    shmipc__svc_leave(&svc, 1);
    assert_false(shmipc__svc_in_use(&svc));
    close(p[0]);
    close(p[1]);
    drop(&svc);
}

static void reclaimer_takeover(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "take");
    shmipc__svc svc;
    assert_int_equal(make(name, 2, NULL, &svc), 0);
    /* A dead process's identity: a child that exited. */
    pid_t d = fork();
    if (d == 0)
        _exit(0);
    shmipc_proc_id dead = {.pid = d, .start_time = shmipc__proc_start_time(d, NULL)};
    waitpid(d, NULL, 0);
    uint64_t dead_owner = shmipc__owner_pack(&dead) | 1; /* non-zero start bits */
    atomic_store(&svc.parts[0].owner, dead_owner);
    /* A live reclaimer (another live process: our parent test runner is alive, use pid 1) holds it. */
    shmipc_proc_id init = {.pid = 1, .start_time = shmipc__proc_start_time(1, NULL)};
    if (init.start_time == 0)
        skip();
    atomic_store(&svc.parts[0].reclaimer, shmipc__owner_pack(&init));
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 0); /* someone alive is on it */
    /* The reclaimer died halfway: we take over and finish. */
    atomic_store(&svc.parts[0].reclaimer, dead_owner);
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    assert_int_equal(atomic_load(&svc.parts[0].owner), 0);
    assert_int_equal(atomic_load(&svc.parts[0].reclaimer), 0);
    drop(&svc);
}

/* Reclaim dispatch: operation tables of our own for two real patterns, installed through the core's lookup
 * hook for the tests that use them (setup / teardown). */
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

static int hook_install(void **state)
{
    (void)state;
    shmipc__pattern_lookup_hook = test_lookup;
    bb_calls = ps_calls = 0;
    nested_result = -100;
    reenter = false;
    return 0;
}

static int hook_remove(void **state)
{
    (void)state;
    shmipc__pattern_lookup_hook = NULL;
    return 0;
}

/* A blackboard-typed service (dispatched to bb_ops) with a participant whose process is gone in slot 0. */
static void make_bb_with_dead(const char *tag, shmipc__svc *svc)
{
    char name[64];
    svc_name(name, sizeof name, tag);
    shmipc__svc_params p = {.pattern = SHMIPC_PATTERN_BLACKBOARD, .name = name, .max_participants = 4,
                            .pattern_size = 64};
    assert_int_equal(shmipc__svc_create(&p, svc), 0);
    assert_int_equal(shmipc__svc_publish(svc), 0);
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

/* The pattern whose reclaim runs is the one validated at open, not a fresh read of a header a peer may
 * rewrite. */
static void reclaim_runs_pattern_validated_at_open(void **state)
{
    (void)state;
    shmipc__svc svc;
    make_bb_with_dead("rpat", &svc);
    /* A peer rewrites the pattern field after we validated the service as a blackboard. */
    svc.hdr->pattern = SHMIPC_PATTERN_PUBSUB;
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    assert_int_equal(ps_calls, 0);
    assert_int_equal(bb_calls, 1);
    drop(&svc);
}

/* A slot another thread of this process is already reclaiming is not reclaimed a second time: the nested
 * call finds nothing to do, the outer one finishes and clears owner and reclaimer. */
static void reclaim_not_reentered_by_same_process(void **state)
{
    (void)state;
    shmipc__svc svc;
    make_bb_with_dead("rnest", &svc);
    reenter = true;
    assert_int_equal(shmipc__svc_reclaim_dead(&svc), 1);
    assert_int_equal(nested_result, 0); /* the slot was ours to reclaim, not the nested caller's */
    assert_int_equal(bb_calls, 1);
    assert_int_equal(atomic_load(&svc.parts[0].owner), 0);
    assert_int_equal(atomic_load(&svc.parts[0].reclaimer), 0);
    drop(&svc);
}

static void stale_recreated_live_refused(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "stale");
    pid_t c = fork();
    if (c == 0) {
        shmipc__svc s;
        _exit(make(name, 4, NULL, &s) ? 1 : 0); /* dies holding nothing */
    }
    assert_int_equal(test_wait(c, 10000), 0);
    shmipc__svc svc, again;
    assert_int_equal(make(name, 4, NULL, &svc), 0); /* stale one replaced */
    assert_int_equal(shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0), 0);
    assert_int_equal(make(name, 4, NULL, &again), -EEXIST); /* live: refused */
    drop(&svc);
}

static void type_mismatch_detail(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "type");
    shmipc_type_info t = {.name = "sample_v1", .size = 64, .align = 8};
    shmipc__svc svc, o;
    assert_int_equal(make(name, 4, &t, &svc), 0);
    shmipc_type_info u = t;
    u.size = 32;
    assert_int_equal(shmipc__svc_open(PAT, name, &u, 0, &o), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "payload size"));
    snprintf(u.name, sizeof u.name, "other");
    assert_int_equal(shmipc__svc_open(PAT, name, &u, 0, &o), -EPROTOTYPE);
    assert_non_null(strstr(shmipc_service_error_detail(), "payload type"));
    assert_int_equal(shmipc__svc_open(PAT, name, &t, 0, &o), 0);
    shmipc__svc_close(&o);
    assert_int_equal(shmipc__svc_open(PAT, name, NULL, 0, &o), 0); /* untyped: accept */
    shmipc__svc_close(&o);
    drop(&svc);
}

static void corrupt_header(void **state)
{
    (void)state;
    char name[64];
    svc_name(name, sizeof name, "bad");
    shmipc__svc svc, o;
    assert_int_equal(make(name, 4, NULL, &svc), 0);
    svc.hdr->max_participants = 1u << 30;
    assert_int_equal(shmipc__svc_open(PAT, name, NULL, 0, &o), -EBADMSG);
    svc.hdr->max_participants = 4;
    svc.hdr->pattern_size = 1u << 30;
    assert_int_equal(shmipc__svc_open(PAT, name, NULL, 0, &o), -EBADMSG);
    svc.hdr->pattern_size = 64;
    memset(svc.hdr->name, 'x', sizeof svc.hdr->name);
    assert_int_equal(shmipc__svc_open(PAT, name, NULL, 0, &o), -EBADMSG);
    drop(&svc);
}

static void names(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(shmipc_service_name_check("sensor.temp-1_a"), 0);
    assert_int_equal(shmipc_service_name_check(".x"), -EINVAL);
    assert_int_equal(shmipc_service_name_check("a/b"), -EINVAL);
    assert_int_equal(shmipc_service_name_check(""), -EINVAL);
    memset(buf, 'a', 200);
    buf[200] = 0;
    assert_int_equal(shmipc_service_name_check(buf), -ENAMETOOLONG);
    assert_int_equal(shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, "x", "pool", buf, sizeof buf), 0);
    assert_string_equal(buf, "/shmipc.pubsub.x.pool");
    assert_string_equal(shmipc_service_role_name(SHMIPC_ROLE_SERVER), "server");
    assert_string_equal(shmipc_service_role_name(999), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(join_die_reclaim),
        cmocka_unit_test(table_full_then_reclaimed),
        cmocka_unit_test(reclaimer_takeover),
        cmocka_unit_test_setup_teardown(reclaim_runs_pattern_validated_at_open, hook_install, hook_remove),
        cmocka_unit_test_setup_teardown(reclaim_not_reentered_by_same_process, hook_install, hook_remove),
        cmocka_unit_test(stale_recreated_live_refused),
        cmocka_unit_test(type_mismatch_detail),
        cmocka_unit_test(corrupt_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
