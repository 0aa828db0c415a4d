/* SPDX-License-Identifier: MIT */
/*
 * tests/cli_fixtures/svc_fixture.c - a service for the CLI shell tests to look at, made through the public
 * API: a blackboard (or, with --pattern, an event service or a fixed-size publish/subscribe service) whose
 * writer (notifier, publisher) is this process, with N readers (listeners, subscribers) in short-lived
 * children that die at once, leaving dead participants awaiting gc. With --bump it writes (notifies,
 * publishes) continuously so that its stats move. It prints "PATTERN/NAME" on
 * stdout when ready and then waits to be killed, which leaves its own participant dead too.
 *
 * usage: svc_fixture NAME [--dead N] [--bump] [--pattern blackboard|event|pubsub]
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

typedef enum fixture_kind { KIND_BLACKBOARD, KIND_EVENT, KIND_PUBSUB } fixture_kind;

/* Fork a child that attaches a reader (listener, subscriber) and exits without closing: a dead
 * participant. */
static int make_dead(const char *name, fixture_kind kind)
{
    pid_t pid = fork();
    if (pid == 0) {
        int err;
        if (kind == KIND_EVENT) {
            shmipc_listener *l;
            err = shmipc_listener_open(name, NULL, &l);
        } else if (kind == KIND_PUBSUB) {
            shmipc_subscriber *s;
            err = shmipc_subscriber_open(name, NULL, &s);
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
        fprintf(stderr, "usage: svc_fixture NAME [--dead N] [--bump] [--pattern blackboard|event|pubsub]\n");
        return 2;
    }
    const char *name = argv[1];
    int dead = 0;
    bool bump = false;
    fixture_kind kind = KIND_BLACKBOARD;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dead") == 0 && i + 1 < argc) {
            dead = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pattern") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "event") == 0) {
                kind = KIND_EVENT;
            } else if (strcmp(argv[i], "pubsub") == 0) {
                kind = KIND_PUBSUB;
            } else if (strcmp(argv[i], "blackboard") != 0) {
                fprintf(stderr, "svc_fixture: pattern must be blackboard, event or pubsub\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--bump") == 0) {
            bump = true;
        } else {
            fprintf(stderr, "svc_fixture: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    shmipc_notifier *n = NULL;
    shmipc_bb_writer *w = NULL;
    shmipc_publisher *p = NULL;
    int err;
    if (kind == KIND_PUBSUB) {
        shmipc_pubsub_opts o;
        shmipc_pubsub_opts_init(&o);
        o.type = fixture_type; /* fixed-size samples of 64 bytes */
        err = shmipc_publisher_create(name, &o, &p);
    } else if (kind == KIND_EVENT) {
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
        if (make_dead(name, kind)) {
            fprintf(stderr, "svc_fixture: could not make a dead participant\n");
            return 1;
        }
    }
    static const char *const pattern_names[] = {"blackboard", "event", "pubsub"};
    printf("%s/%s\n", pattern_names[kind], name);
    fflush(stdout);
    char value[64] = {0};
    for (unsigned k = 0;; k++) {
        if (!bump) {
            pause();
            continue;
        }
        memcpy(value, &k, sizeof k);
        if (kind == KIND_PUBSUB)
            shmipc_publisher_publish_copy(p, value, sizeof value);
        else if (kind == KIND_EVENT)
            shmipc_notifier_notify(n, 0);
        else
            shmipc_blackboard_write(w, 0, value, sizeof value);
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL); /* pacing of the busy writer, not a wait */
    }
}
