/* SPDX-License-Identifier: MIT */
/*
 * tests/test_chanq_table.c - channel ends and queue handles are participants of the service core's one
 * table: they are listed by discovery (pattern, pid, role, alive), a SIGKILLed end's slot is reclaimed by
 * the core's reclaim (from the next opener or from gc, which then repairs what it held), and gc removes a
 * channel or queue only once its creator and every end are dead. Children hand-shake through a pipe and
 * are killed with SIGKILL; nothing sleeps.
 */
#include "helpers.h"

#include "channel/channel_internal.h"
#include "queue/queue_internal.h"
#include "service/service_internal.h"
#include <shmipc/shmipc.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a child does once forked: open something in name, then report through the pipe. */
typedef enum child_job {
    JOB_CHAN_CONSUMER,   /* open the consumer end */
    JOB_CHAN_PRODUCER,   /* open the producer end and send one message */
    JOB_CHAN_CREATE,     /* create the channel (producer) and open its consumer too */
    JOB_QUEUE_CONSUMER,  /* attach with SHMIPC_QUEUE_CONSUMER and hold a pop claim */
    JOB_QUEUE_CREATE,    /* create the queue and push one message */
} child_job;

/* Fork a child that does job on name, writes '1' (or '0' on failure) to a pipe and waits to be killed.
 * Returns its pid once it has answered '1'. */
static pid_t spawn(child_job job, const char *name)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        int err = 0;
        shmipc_channel *a, *b;
        shmipc_queue *q;
        shmipc_queue_opts qo;
        shmipc_queue_opts_init(&qo);
        shmipc_queue_claim c;
        switch (job) {
        case JOB_CHAN_CONSUMER: err = shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &a); break;
        case JOB_CHAN_PRODUCER:
            err = shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &a);
            if (!err)
                err = shmipc_channel_send(a, "x", 1, 0);
            break;
        case JOB_CHAN_CREATE:
            err = shmipc_channel_create(name, NULL, &a);
            if (!err)
                err = shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &b);
            break;
        case JOB_QUEUE_CONSUMER:
            qo.flags = SHMIPC_QUEUE_CONSUMER;
            err = shmipc_queue_open(name, &qo, &q);
            if (!err) {
                int got = shmipc_queue_pop_claim(q, &c, 0);
                err = got < 0 ? got : 0;
            }
            break;
        case JOB_QUEUE_CREATE:
            qo.slot_count = 8;
            qo.slot_size = 32;
            qo.max_participants = 4;
            err = shmipc_queue_create(name, &qo, &q);
            if (!err)
                err = shmipc_queue_push(q, "x", 1, 0);
            break;
        }
        char r = err ? '0' : '1';
        if (write(fd[1], &r, 1) != 1 || err)
            _exit(1); /* never left paused behind a failed parent assertion */
        for (;;)
            pause();
    }
    close(fd[1]);
    char r = 0;
    assert_int_equal(read(fd[0], &r, 1), 1);
    close(fd[0]);
    assert_int_equal(r, '1');
    return pid;
}

static void kill_child(pid_t pid)
{
    int st;
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
}

/* The listed participant in slot, or NULL. */
static const shmipc_service_participant_info *listed(const shmipc_service_info *in, uint32_t slot)
{
    for (uint32_t i = 0; i < in->nlisted; i++)
        if (in->participant[i].slot == slot)
            return &in->participant[i];
    return NULL;
}

static void channel_ends_are_listed_with_pid_role_and_liveness(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-ch-list");
    shmipc_channel *p;
    assert_int_equal(shmipc_channel_create(name, NULL, &p), 0);
    pid_t kid = spawn(JOB_CHAN_CONSUMER, name);

    shmipc_service_info in;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_CHANNEL, name + 1, &in), 0);
    assert_int_equal(in.pattern, SHMIPC_PATTERN_CHANNEL);
    assert_string_equal(in.segment, name);
    assert_int_equal(in.max_participants, 2);
    assert_int_equal(in.participants, 2);
    assert_int_equal(in.dead, 0);
    const shmipc_service_participant_info *pp = listed(&in, CHAN_SLOT_PRODUCER), *pc = listed(&in, CHAN_SLOT_CONSUMER);
    assert_non_null(pp);
    assert_non_null(pc);
    assert_int_equal(pp->proc.pid, getpid());
    assert_int_equal(pp->role, SHMIPC_ROLE_PRODUCER);
    assert_int_equal(pc->proc.pid, kid);
    assert_int_equal(pc->role, SHMIPC_ROLE_CONSUMER);
    assert_true(pp->alive && pc->alive);

    /* The whole listing has it too, under its pattern. */
    shmipc_service_info *v;
    size_t n;
    int found = 0;
    assert_int_equal(shmipc_service_list(&v, &n), 0);
    for (size_t i = 0; i < n; i++)
        found += v[i].pattern == SHMIPC_PATTERN_CHANNEL && strcmp(v[i].name, name + 1) == 0;
    free(v);
    assert_int_equal(found, 1);

    kill_child(kid);
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_CHANNEL, name + 1, &in), 0);
    assert_int_equal(in.participants, 2);
    assert_int_equal(in.dead, 1);
    assert_false(listed(&in, CHAN_SLOT_CONSUMER)->alive);
    shmipc_channel_close(p);
    shmipc_channel_unlink(name);
}

static void dead_channel_end_slot_is_reclaimed_by_gc(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-ch-gc");
    shmipc_channel *p;
    assert_int_equal(shmipc_channel_create(name, NULL, &p), 0);
    kill_child(spawn(JOB_CHAN_CONSUMER, name));
    shmipc__chan_hdr *h = shmipc_segment_data(shmipc_channel_segment(p));
    assert_int_not_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].owner), 0);

    /* The producer's send still sees the dead end (room left: it succeeds; -EPIPE once it must wait). */
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_CHANNEL, name + 1, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 1);
    assert_int_equal(r.services_removed, 0);
    /* Freed by the core's reclaim: owner 0, VACATED (the producer reads that as "consumer gone"). */
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].owner), 0);
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].state), SHMIPC__PART_VACATED);
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].reclaimer), 0);
    shmipc_service_info in;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_CHANNEL, name + 1, &in), 0);
    assert_int_equal(in.participants, 1);
    assert_int_equal(in.dead, 0);
    /* A second gc finds nothing more to do: nothing is reclaimed twice. */
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_CHANNEL, name + 1, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 0);
    /* The slot is usable again. */
    shmipc_channel *c;
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &c), 0);
    assert_int_equal(shmipc_channel_send(p, "y", 1, 0), 0);
    char buf[8];
    assert_int_equal(shmipc_channel_recv(c, buf, sizeof buf, 0), 1);
    shmipc_channel_close(c);
    shmipc_channel_close(p);
    shmipc_channel_unlink(name);
}

static void dead_producer_is_reclaimed_by_the_next_opener(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-ch-take");
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.role = SHMIPC_CHANNEL_CONSUMER;
    shmipc_channel *c, *p;
    assert_int_equal(shmipc_channel_create(name, &o, &c), 0);
    pid_t kid = spawn(JOB_CHAN_PRODUCER, name);
    /* A live producer: refused. */
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &p), -EBUSY);
    kill_child(kid);
    /* Dead: the join reclaims the slot (the core's reclaim, reclaimer word taken and released) and claims it. */
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &p), 0);
    shmipc__chan_hdr *h = shmipc_segment_data(shmipc_channel_segment(p));
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_PRODUCER].owner), shmipc__owner_self());
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_PRODUCER].reclaimer), 0);
    assert_int_equal(h->ends[CHAN_SLOT_PRODUCER].role, SHMIPC_ROLE_PRODUCER);
    /* The dead producer's message is still delivered, then the new one's. */
    char buf[8];
    assert_int_equal(shmipc_channel_send(p, "z", 1, 0), 0);
    assert_int_equal(shmipc_channel_recv(c, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'x');
    assert_int_equal(shmipc_channel_recv(c, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'z');
    /* A clean close is seen by the peer as gone: -EPIPE on an empty ring. */
    shmipc_channel_close(p);
    assert_int_equal(shmipc_channel_recv(c, buf, sizeof buf, 0), -EPIPE);
    shmipc_channel_close(c);
    shmipc_channel_unlink(name);
}

static void gc_removes_a_channel_whose_creator_and_ends_died(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-ch-rm");
    pid_t kid = spawn(JOB_CHAN_CREATE, name);
    shmipc_service_info in;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_CHANNEL, name + 1, &in), 0);
    assert_int_equal(in.participants, 2);
    assert_int_equal(in.creator.pid, kid);
    /* A live creator keeps it (keep_unused is not set): nothing happens. */
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_CHANNEL, name + 1, 0, &r), 0);
    assert_int_equal(r.services_removed, 0);
    kill_child(kid);
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_CHANNEL, name + 1, 0, &r), 0);
    assert_int_equal(r.participants_reclaimed, 2);
    assert_int_equal(r.services_removed, 1);
    shmipc_channel *c;
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &c), -ENOENT);
}

static void unused_channel_of_a_live_creator_is_kept(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-ch-keep");
    shmipc_channel *p;
    assert_int_equal(shmipc_channel_create(name, NULL, &p), 0);
    shmipc_channel_close(p);
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_CHANNEL, name + 1, 0, &r), 0);
    assert_int_equal(r.services_removed, 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &p), 0);
    shmipc_channel_close(p);
    shmipc_channel_unlink(name);
}

static void dead_queue_consumer_is_reclaimed_and_its_claim_repaired(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-q");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 8;
    o.slot_size = 32;
    o.max_participants = 4;
    o.flags = SHMIPC_QUEUE_PRODUCER;
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_create(name, &o, &q), 0);
    assert_int_equal(shmipc_queue_push(q, "a", 1, 0), 0);
    pid_t kid = spawn(JOB_QUEUE_CONSUMER, name); /* holds a pop claim on "a" */

    shmipc_service_info in;
    assert_int_equal(shmipc_service_describe(SHMIPC_PATTERN_QUEUE, name + 1, &in), 0);
    assert_int_equal(in.pattern, SHMIPC_PATTERN_QUEUE);
    assert_int_equal(in.max_participants, 4);
    assert_int_equal(in.participants, 2);
    assert_int_equal(in.nlisted, 2);
    assert_int_equal(in.participant[0].role, SHMIPC_ROLE_PRODUCER);
    assert_int_equal(in.participant[0].proc.pid, getpid());
    assert_int_equal(in.participant[1].role, SHMIPC_ROLE_CONSUMER);
    assert_int_equal(in.participant[1].proc.pid, kid);
    uint32_t slot = in.participant[1].slot;
    kill_child(kid);

    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_QUEUE, name + 1, 1, &r), 0);
    assert_int_equal(r.participants_reclaimed, 1);
    shmipc__queue_hdr *h = shmipc_segment_data(q->seg);
    shmipc__participant *e = (shmipc__participant *)((char *)h + h->table_offset) + slot;
    assert_int_equal(atomic_load(&e->owner), 0);
    assert_int_equal(atomic_load(&e->state), SHMIPC__PART_VACATED);
    /* The queue's reclaim ran under the core's: the slot the dead consumer held is repaired (lost). */
    shmipc_queue_stats st;
    assert_int_equal(shmipc_queue_stats_get(q, &st), 0);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.participants, 1);
    assert_int_equal(shmipc_queue_push(q, "b", 1, 0), 0);
    char buf[8];
    assert_int_equal(shmipc_queue_pop(q, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'b');
    shmipc_queue_close(q);
    shmipc_queue_unlink(name);
}

static void gc_removes_a_queue_whose_creator_died(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "tbl-q-rm");
    kill_child(spawn(JOB_QUEUE_CREATE, name));
    shmipc_service_gc_report r;
    assert_int_equal(shmipc_service_gc(SHMIPC_PATTERN_QUEUE, name + 1, 0, &r), 0);
    assert_int_equal(r.participants_reclaimed, 1);
    assert_int_equal(r.services_removed, 1);
    shmipc_queue *q;
    assert_int_equal(shmipc_queue_open(name, NULL, &q), -ENOENT);
}

static void channel_in_caller_memory_uses_the_same_table(void **state)
{
    (void)state;
    /* No name: the table lives in the provided memory and the ends are joined and left through it. */
    shmipc_segment *seg;
    shmipc_segment_opts so = {.size = sizeof so};
    assert_int_equal(shmipc_segment_memfd_create("tbl", shmipc_channel_size(4096), &so, &seg), 0);
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = 4096;
    shmipc_channel *p, *c;
    assert_int_equal(shmipc_channel_create_in(seg, &o, &p), 0);
    assert_int_equal(shmipc_channel_open_in(seg, SHMIPC_CHANNEL_CONSUMER, NULL, &c), 0);
    shmipc__chan_hdr *h = shmipc_segment_data(seg);
    assert_int_equal(h->ends[CHAN_SLOT_PRODUCER].role, SHMIPC_ROLE_PRODUCER);
    assert_int_equal(h->ends[CHAN_SLOT_CONSUMER].role, SHMIPC_ROLE_CONSUMER);
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].state), SHMIPC__PART_ACTIVE);
    shmipc_channel_close(c);
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].owner), 0);
    assert_int_equal(atomic_load(&h->ends[CHAN_SLOT_CONSUMER].state), SHMIPC__PART_VACATED);
    shmipc_channel_close(p);
    shmipc_segment_close(seg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_ends_are_listed_with_pid_role_and_liveness),
        cmocka_unit_test(dead_channel_end_slot_is_reclaimed_by_gc),
        cmocka_unit_test(dead_producer_is_reclaimed_by_the_next_opener),
        cmocka_unit_test(gc_removes_a_channel_whose_creator_and_ends_died),
        cmocka_unit_test(unused_channel_of_a_live_creator_is_kept),
        cmocka_unit_test(dead_queue_consumer_is_reclaimed_and_its_claim_repaired),
        cmocka_unit_test(gc_removes_a_queue_whose_creator_died),
        cmocka_unit_test(channel_in_caller_memory_uses_the_same_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
