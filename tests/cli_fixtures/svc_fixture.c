/* SPDX-License-Identifier: MIT */
/*
 * tests/cli_fixtures/svc_fixture.c - a service for the CLI shell tests to look at, made through the public
 * API: a blackboard (or, with --pattern, an event service or a fixed-size publish/subscribe service) whose
 * writer (notifier, publisher) is this process, with N readers (listeners, subscribers) in short-lived
 * children that die at once, leaving dead participants awaiting gc. With --bump it writes (notifies,
 * publishes) continuously so that its stats move. With --pattern channel (queue) it creates the channel
 * (queue) "/NAME" as its producer, sends three messages, and opens the consumer end in a child that stays
 * alive (killed with this process, PR_SET_PDEATHSIG) or, with --dead 1, exits without closing. It prints
 * "PATTERN/NAME" on stdout when ready (after its children have answered through a pipe) and then waits to
 * be killed, which leaves its own participant dead too.
 *
 * usage: svc_fixture NAME [--dead N] [--bump] [--pattern blackboard|event|pubsub|channel|queue]
 */
#include <shmipc/shmipc.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const shmipc_type_info fixture_type = {.name = "fixture_sample_v1", .size = 64, .align = 8};

typedef enum fixture_kind { KIND_BLACKBOARD, KIND_EVENT, KIND_PUBSUB, KIND_CHANNEL, KIND_QUEUE } fixture_kind;

/* The consumer end of a channel or queue in a child: it opens it, answers on a pipe ('1' opened, '0'
 * failed), then exits without closing (dead) or waits to die with its parent (alive). */
static int make_consumer(const char *name, fixture_kind kind, bool dead)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (!dead && (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent))
            _exit(1);
        int err;
        if (kind == KIND_CHANNEL) {
            shmipc_channel *c;
            err = shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &c);
        } else {
            shmipc_queue_opts o;
            shmipc_queue_opts_init(&o);
            o.flags = SHMIPC_QUEUE_CONSUMER;
            shmipc_queue *q;
            err = shmipc_queue_open(name, &o, &q);
        }
        char c = err ? '0' : '1';
        if (write(fd[1], &c, 1) != 1 || err)
            _exit(1);
        if (dead)
            _exit(0);
        for (;;)
            pause();
    }
    close(fd[1]);
    char c = 0;
    ssize_t n = pid > 0 ? read(fd[0], &c, 1) : -1;
    close(fd[0]);
    if (n != 1 || c != '1')
        return -1;
    if (dead) {
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return -1;
    }
    return 0;
}

/* Fork a child that attaches a reader (listener, subscriber) and exits without closing: a dead
 * participant. */
static int make_dead(const char *name, fixture_kind kind)
{
    pid_t pid = fork();
    if (pid == 0) {
        int err;
        if (kind == KIND_EVENT) {
            shmipc_evsvc_listener *l;
            err = shmipc_evsvc_listener_open(name, NULL, &l);
        } else if (kind == KIND_PUBSUB) {
            shmipc_pubsub_subscriber *s;
            err = shmipc_pubsub_subscriber_open(name, NULL, &s);
        } else {
            shmipc_blackboard_reader *r;
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
            } else if (strcmp(argv[i], "channel") == 0) {
                kind = KIND_CHANNEL;
            } else if (strcmp(argv[i], "queue") == 0) {
                kind = KIND_QUEUE;
            } else if (strcmp(argv[i], "blackboard") != 0) {
                fprintf(stderr, "svc_fixture: pattern must be blackboard, event, pubsub, channel or queue\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--bump") == 0) {
            bump = true;
        } else {
            fprintf(stderr, "svc_fixture: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    shmipc_evsvc_notifier *n = NULL;
    shmipc_blackboard_writer *w = NULL;
    shmipc_pubsub_publisher *p = NULL;
    shmipc_channel *ch = NULL;
    shmipc_queue *qu = NULL;
    int err;
    if (kind == KIND_CHANNEL || kind == KIND_QUEUE) {
        char seg[160];
        snprintf(seg, sizeof seg, "/%s", name);
        if (kind == KIND_CHANNEL) {
            shmipc_channel_opts o;
            shmipc_channel_opts_init(&o);
            o.capacity = 4096;
            err = shmipc_channel_create(seg, &o, &ch);
        } else {
            shmipc_queue_opts o;
            shmipc_queue_opts_init(&o);
            o.slot_count = 16;
            o.slot_size = 64;
            o.max_participants = 4;
            o.flags = SHMIPC_QUEUE_PRODUCER;
            err = shmipc_queue_create(seg, &o, &qu);
        }
        for (int i = 0; !err && i < 3; i++)
            err = ch ? shmipc_channel_send(ch, "hello", 5, 0) : shmipc_queue_push(qu, "hello", 5, 0);
        if (!err && make_consumer(seg, kind, dead > 0)) {
            fprintf(stderr, "svc_fixture: the consumer child failed\n");
            return 1;
        }
        dead = 0;
    } else if (kind == KIND_PUBSUB) {
        shmipc_pubsub_opts o;
        shmipc_pubsub_opts_init(&o);
        o.type = fixture_type; /* fixed-size samples of 64 bytes */
        err = shmipc_pubsub_publisher_create(name, &o, &p);
    } else if (kind == KIND_EVENT) {
        shmipc_evsvc_opts o;
        shmipc_evsvc_opts_init(&o);
        o.max_participants = 16;
        err = shmipc_evsvc_notifier_create(name, &o, &n);
    } else {
        shmipc_blackboard_opts o;
        shmipc_blackboard_opts_init(&o);
        o.type = &fixture_type;
        o.max_readers = 16;
        err = shmipc_blackboard_writer_create(name, &o, &w);
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
    static const char *const pattern_names[] = {"blackboard", "event", "pubsub", "channel", "queue"};
    printf("%s/%s\n", pattern_names[kind], name);
    fflush(stdout);
    char value[64] = {0};
    for (unsigned k = 0;; k++) {
        if (!bump) {
            pause();
            continue;
        }
        memcpy(value, &k, sizeof k);
        if (kind == KIND_CHANNEL)
            shmipc_channel_send(ch, value, sizeof value, 0);
        else if (kind == KIND_QUEUE)
            shmipc_queue_push(qu, value, sizeof value, 0);
        else if (kind == KIND_PUBSUB)
            shmipc_pubsub_publisher_publish_copy(p, value, sizeof value);
        else if (kind == KIND_EVENT)
            shmipc_evsvc_notifier_notify(n, 0);
        else
            shmipc_blackboard_write(w, 0, value, sizeof value);
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL); /* pacing of the busy writer, not a wait */
    }
}
