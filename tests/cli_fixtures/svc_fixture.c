/* SPDX-License-Identifier: MIT */
/*
 * tests/cli_fixtures/svc_fixture.c - a service for the CLI shell tests to look at. It creates a service
 * through the internal service core (so the tests do not depend on any one pattern's API), registers
 * itself as a live publisher and N short-lived children as subscribers that die at once (dead
 * participants awaiting gc), optionally bumps its stats continuously, prints "PATTERN/NAME" on stdout when
 * ready and then waits to be killed, which leaves its own participant dead too.
 *
 * usage: svc_fixture NAME [--dead N] [--bump] [--pattern PATTERN]
 * Exit 77 when no pattern can be used (every pattern linked in refuses the core-only service).
 */
#include "service/service_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { STAT_PUBLISHED, STAT_POOL_USED, STAT_POOL_SIZE, NSTATS };
static const char *const stat_names[NSTATS] = {"published", "pool_used", "pool_size"};

/* Create name under pattern p and check that the library can describe it (a pattern whose own code is
 * linked in validates its area, which the fixture leaves zeroed). Returns 0 with svc open, or an error. */
static int try_pattern(shmipc_pattern p, const char *name, shmipc__svc *svc)
{
    const shmipc_type_info type = {.name = "fixture_sample_v1", .size = 64, .align = 8};
    const shmipc__svc_params params = {
        .pattern = p,
        .name = name,
        .type = &type,
        .max_participants = 16,
        .pattern_size = 4096,
        .nstats = NSTATS,
        .stat_names = stat_names,
    };
    int err = shmipc__svc_create(&params, svc);
    if (err)
        return err;
    if ((err = shmipc__svc_publish(svc)) == 0) {
        shmipc_service_info info;
        err = shmipc_service_describe(p, name, &info);
    }
    if (err) {
        shmipc__svc_close(svc);
        char seg[SHMIPC_SERVICE_NAME_MAX + 32];
        if (shmipc__svc_segname(p, name, NULL, seg, sizeof seg) == 0)
            shmipc_segment_unlink(seg);
    }
    return err;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: svc_fixture NAME [--dead N] [--bump] [--pattern PATTERN]\n");
        return 2;
    }
    const char *name = argv[1];
    int dead = 0, bump = 0;
    const char *only = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--dead") && i + 1 < argc)
            dead = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pattern") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--bump"))
            bump = 1;
        else {
            fprintf(stderr, "svc_fixture: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    /* Patterns without their own code linked in first: the core alone then describes them. */
    static const shmipc_pattern order[] = {SHMIPC_PATTERN_EVENT, SHMIPC_PATTERN_BLACKBOARD,
                                           SHMIPC_PATTERN_REQRESP, SHMIPC_PATTERN_PUBSUB};
    shmipc__svc svc;
    shmipc_pattern used = 0;
    int err = -ENOENT;
    for (int pass = 0; pass < 2 && !used; pass++) {
        for (size_t i = 0; i < sizeof order / sizeof order[0] && !used; i++) {
            if (only ? strcmp(only, shmipc_pattern_name(order[i])) != 0 || pass > 0
                     : (shmipc__pattern_lookup(order[i]) == NULL) != (pass == 0))
                continue;
            if ((err = try_pattern(order[i], name, &svc)) == 0)
                used = order[i];
        }
    }
    if (!used) {
        printf("SKIP: no pattern accepts a core-only service (%s)\n", shmipc_strerror(err));
        return 77;
    }
    if (shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0) < 0)
        return 1;
    for (int i = 0; i < dead; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(shmipc__svc_join(&svc, SHMIPC_ROLE_SUBSCRIBER, 0) < 0);
        if (pid < 0)
            return 1;
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 1;
    }
    atomic_store_explicit(&svc.hdr->stats[STAT_POOL_SIZE], 16, memory_order_relaxed);
    printf("%s/%s\n", shmipc_pattern_name(used), name);
    fflush(stdout);
    for (unsigned n = 0;; n++) {
        if (!bump) {
            pause();
            continue;
        }
        shmipc__svc_stat_add(&svc, STAT_PUBLISHED, 7);
        atomic_store_explicit(&svc.hdr->stats[STAT_POOL_USED], n % 17, memory_order_relaxed);
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    }
}
