/* SPDX-License-Identifier: MIT */
/*
 * tests/cli_fixtures/svc_fixture.c - a service for the CLI shell tests to look at, made through the public
 * API: a blackboard (or, with --pattern event, an event service) whose writer (notifier) is this process,
 * with N readers (listeners) in short-lived children that die at once, leaving dead participants awaiting
 * gc. With --bump it writes (notifies) continuously so that its stats move. It prints "PATTERN/NAME" on
 * stdout when ready and then waits to be killed, which leaves its own participant dead too.
 *
 * usage: svc_fixture NAME [--dead N] [--bump] [--pattern blackboard|event]
 */
#include <shmipc/shmipc.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const shmipc_type_info fixture_type = {.name = "fixture_sample_v1", .size = 64, .align = 8};

/* Fork a child that attaches a reader (listener) and exits without closing: a dead participant. */
static int make_dead(const char *name, bool event)
{
    pid_t pid = fork();
    if (pid == 0) {
        int err;
        if (event) {
            shmipc_listener *l;
            err = shmipc_listener_open(name, NULL, &l);
        } else {
            shmipc_bb_reader *r;
            err = shmipc_blackboard_reader_open(name, NULL, &r);
        }
        _exit(err ? 1 : 0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: svc_fixture NAME [--dead N] [--bump] [--pattern blackboard|event]\n");
        return 2;
    }
    const char *name = argv[1];
    int dead = 0;
    bool bump = false, event = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dead") == 0 && i + 1 < argc) {
            dead = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pattern") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "event") != 0 && strcmp(argv[i], "blackboard") != 0) {
                fprintf(stderr, "svc_fixture: pattern must be blackboard or event\n");
                return 2;
            }
            event = strcmp(argv[i], "event") == 0;
        } else if (strcmp(argv[i], "--bump") == 0) {
            bump = true;
        } else {
            fprintf(stderr, "svc_fixture: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    shmipc_notifier *n = NULL;
    shmipc_bb_writer *w = NULL;
    int err;
    if (event) {
        shmipc_evsvc_opts o;
        shmipc_evsvc_opts_init(&o);
        o.max_participants = 16;
        err = shmipc_notifier_open(name, &o, &n);
    } else {
        shmipc_blackboard_opts o;
        shmipc_blackboard_opts_init(&o);
        o.type = &fixture_type;
        o.max_readers = 16;
        err = shmipc_blackboard_writer_open(name, &o, &w);
    }
    if (err) {
        fprintf(stderr, "svc_fixture: %s: %s\n", name, shmipc_strerror(err));
        return 1;
    }
    for (int i = 0; i < dead; i++) {
        if (make_dead(name, event)) {
            fprintf(stderr, "svc_fixture: could not make a dead participant\n");
            return 1;
        }
    }
    printf("%s/%s\n", event ? "event" : "blackboard", name);
    fflush(stdout);
    char value[64] = {0};
    for (unsigned k = 0;; k++) {
        if (!bump) {
            pause();
            continue;
        }
        memcpy(value, &k, sizeof k);
        if (event)
            shmipc_notifier_notify(n, 0);
        else
            shmipc_blackboard_write(w, 0, value, sizeof value);
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
    }
}
