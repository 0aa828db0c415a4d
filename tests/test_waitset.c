/* SPDX-License-Identifier: MIT */
/*
 * test_waitset.c - waiting on several handles at once: readiness of each kind of handle without
 * consuming it, round-robin reporting, blocking until a peer process sends, dead peers reported, the
 * request/response server and client ends, the event-loop descriptor (quiet when nothing is ready, readable when a peer acts), no system call when
 * something is ready, and a producer thread against a waitset thread over one mapping (TSan).
 */
#include "helpers.h"

#include <shmipc/shmipc.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fixture {
    char chname[64], evname[64], qname[64], svname[64];
    shmipc_channel *tx, *rx;
    shmipc_event *ev;
    shmipc_queue *q;
    shmipc_evsvc_notifier *nt;
    shmipc_evsvc_listener *ls;
    shmipc_waitset *ws;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    test_name(f->chname, sizeof f->chname, "wsch");
    test_name(f->evname, sizeof f->evname, "wsev");
    test_name(f->qname, sizeof f->qname, "wsq");
    snprintf(f->svname, sizeof f->svname, "wssv-%d", (int)getpid());
    assert_int_equal(shmipc_channel_create(f->chname, NULL, &f->tx), 0);
    assert_int_equal(shmipc_channel_open(f->chname, SHMIPC_CHANNEL_CONSUMER, NULL, &f->rx), 0);
    assert_int_equal(shmipc_event_create(f->evname, NULL, &f->ev), 0);
    assert_int_equal(shmipc_queue_create(f->qname, NULL, &f->q), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(f->svname, NULL, &f->nt), 0);
    assert_int_equal(shmipc_evsvc_listener_open(f->svname, NULL, &f->ls), 0);
    assert_int_equal(shmipc_waitset_create(&f->ws), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    shmipc_waitset_close(f->ws);
    shmipc_channel_close(f->tx);
    shmipc_channel_close(f->rx);
    shmipc_event_close(f->ev);
    shmipc_queue_close(f->q);
    shmipc_evsvc_listener_close(f->ls);
    shmipc_evsvc_notifier_close(f->nt);
    shmipc_channel_unlink(f->chname);
    shmipc_event_unlink(f->evname);
    shmipc_queue_unlink(f->qname);
    shmipc_evsvc_unlink(f->svname);
    free(f);
    return 0;
}

static void add_all(fixture *f)
{
    assert_int_equal(shmipc_waitset_add_channel(f->ws, f->rx, 0, 1), 0);
    assert_int_equal(shmipc_waitset_add_event(f->ws, f->ev, 0, 2), 0);
    assert_int_equal(shmipc_waitset_add_queue(f->ws, f->q, SHMIPC_WAITSET_IN, 3), 0);
    assert_int_equal(shmipc_waitset_add_listener(f->ws, f->ls, 0, 4), 0);
}

static void test_arguments_are_checked(void **state)
{
    fixture *f = *state;
    shmipc_waitset_ready r[4];
    assert_int_equal(shmipc_waitset_create(NULL), -EINVAL);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), -ENOENT); /* empty */
    assert_int_equal(shmipc_waitset_add_channel(f->ws, NULL, 0, 0), -EINVAL);
    assert_int_equal(shmipc_waitset_add_channel(f->ws, f->rx, SHMIPC_WAITSET_OUT, 0), -EINVAL);
    assert_int_equal(shmipc_waitset_add_channel(f->ws, f->tx, SHMIPC_WAITSET_IN, 0), -EINVAL);
    assert_int_equal(shmipc_waitset_add_event(f->ws, f->ev, SHMIPC_WAITSET_OUT, 0), -EINVAL);
    assert_int_equal(shmipc_waitset_add_event(f->ws, f->ev, 0x100, 0), -EINVAL);
    assert_int_equal(shmipc_waitset_add_event(f->ws, f->ev, 0, 0), 0);
    assert_int_equal(shmipc_waitset_add_event(f->ws, f->ev, 0, 0), -EEXIST);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 0), -EINVAL);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, NULL, 1), -EINVAL);
    assert_int_equal(shmipc_waitset_remove(f->ws, f->rx), -ENOENT);
    assert_int_equal(shmipc_waitset_remove(f->ws, f->ev), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), -ENOENT);
    assert_int_equal(shmipc_waitset_close(NULL), 0);
}

/* Each kind of handle becomes ready when its peer acts, is reported with its user value, and stays
 * ready (nothing consumed) until its own call takes the message. */
static void test_each_handle_is_reported_without_consuming(void **state)
{
    fixture *f = *state;
    add_all(f);
    shmipc_waitset_ready r[8];
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), -EAGAIN);
    assert_int_equal(shmipc_waitset_wait(f->ws, 30, r, 8), -ETIMEDOUT);

    assert_int_equal(shmipc_channel_send(f->tx, "hi", 2, 0), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), 1);
    assert_int_equal(r[0].user, 1);
    assert_ptr_equal(r[0].handle, f->rx);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_IN);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), 1); /* still there */
    char buf[8];
    assert_int_equal(shmipc_channel_recv(f->rx, buf, sizeof buf, 0), 2);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), -EAGAIN);

    assert_int_equal(shmipc_event_post(f->ev), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, -1, r, 8), 1);
    assert_int_equal(r[0].user, 2);
    assert_int_equal(shmipc_event_wait(f->ev, 0), 1);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), -EAGAIN);

    assert_int_equal(shmipc_queue_push(f->q, "q", 1, 0), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, -1, r, 8), 1);
    assert_int_equal(r[0].user, 3);
    assert_int_equal(shmipc_queue_pop(f->q, buf, sizeof buf, 0), 1);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), -EAGAIN);

    assert_int_equal(shmipc_evsvc_notifier_notify(f->nt, 0), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, -1, r, 8), 1);
    assert_int_equal(r[0].user, 4);
    uint32_t id = 99;
    assert_int_equal(shmipc_evsvc_listener_wait(f->ls, 0, &id), 1);
    assert_int_equal(id, 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 8), -EAGAIN);
}

/* Write readiness: a blocking producer with a full ring is not ready until its consumer frees room;
 * a queue handle added for both directions reports OUT while it has a free slot. */
static void test_room_is_reported_for_producers(void **state)
{
    fixture *f = *state;
    assert_int_equal(shmipc_waitset_add_channel(f->ws, f->tx, 0, 7), 0);
    shmipc_waitset_ready r[2];
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_OUT);
    static char big[512];
    int sent = 0;
    while (shmipc_channel_send(f->tx, big, sizeof big, 0) == 0)
        sent++;
    assert_true(sent > 0);
    /* Full for 512 bytes, maybe not for one byte: fill to the last byte with small messages. */
    while (shmipc_channel_send(f->tx, big, 1, 0) == 0)
        sent++;
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), -EAGAIN);
    assert_true(shmipc_channel_recv(f->rx, big, sizeof big, 0) > 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);
    assert_int_equal(r[0].user, 7);

    assert_int_equal(shmipc_waitset_add_queue(f->ws, f->q, SHMIPC_WAITSET_IN | SHMIPC_WAITSET_OUT, 8), 0);
    assert_int_equal(shmipc_waitset_remove(f->ws, f->tx), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_OUT);
    assert_int_equal(shmipc_queue_push(f->q, "x", 1, 0), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_IN | SHMIPC_WAITSET_OUT);
}

/* With more ready than fit in the caller's array, successive waits report them in turn. */
static void test_ready_handles_are_reported_round_robin(void **state)
{
    fixture *f = *state;
    add_all(f);
    assert_int_equal(shmipc_channel_send(f->tx, "a", 1, 0), 0);
    assert_int_equal(shmipc_event_post(f->ev), 0);
    assert_int_equal(shmipc_queue_push(f->q, "b", 1, 0), 0);
    assert_int_equal(shmipc_evsvc_notifier_notify(f->nt, 1), 0);
    shmipc_waitset_ready r[1];
    unsigned seen = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 1), 1);
        seen |= 1u << r[0].user;
    }
    assert_int_equal(seen, 0x1e); /* users 1..4, each once */
    shmipc_waitset_ready all[8];
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, all, 8), 4);
}

/* A subscriber is ready when a sample was published (and stays ready until it is received), and
 * when history pinned at join is waiting; its publisher's process acting wakes a blocking wait. */
static void test_subscriber_is_reported(void **state)
{
    fixture *f = *state;
    char name[64];
    snprintf(name, sizeof name, "wsps-%d", (int)getpid());
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 16;
    o.history = 1;
    shmipc_pubsub_publisher *pub;
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    static const char first[16] = "before join";
    assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, first, sizeof first), 0); /* no subscriber yet */
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    assert_int_equal(shmipc_waitset_add_subscriber(f->ws, sub, SHMIPC_WAITSET_OUT, 9), -EINVAL);
    assert_int_equal(shmipc_waitset_add_subscriber(f->ws, sub, 0, 9), 0);
    shmipc_waitset_ready r[2];
    char buf[16];
    shmipc_pubsub_sample info;
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1); /* the history */
    assert_int_equal(r[0].user, 9);
    assert_int_equal(shmipc_pubsub_subscriber_receive_copy(sub, buf, sizeof buf, 0, &info), 16);
    assert_string_equal(buf, "before join");
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), -EAGAIN);
    assert_int_equal(shmipc_waitset_wait(f->ws, 20, r, 2), -ETIMEDOUT);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_pubsub_publisher *p2;
        int e = shmipc_pubsub_publisher_open(name, NULL, &p2);
        static const char msg[16] = "from child";
        if (!e)
            e = shmipc_pubsub_publisher_publish_copy(p2, msg, sizeof msg) == 1 ? 0 : 1;
        if (!e)
            shmipc_pubsub_publisher_close(p2);
        _exit(e ? 1 : 0);
    }
    assert_int_equal(shmipc_waitset_wait(f->ws, 10000, r, 2), 1);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1); /* nothing consumed */
    assert_int_equal(shmipc_pubsub_subscriber_receive_copy(sub, buf, sizeof buf, 0, &info), 16);
    assert_string_equal(buf, "from child");
    assert_int_equal(test_wait(pid, 10000), 0);
    assert_int_equal(shmipc_waitset_remove(f->ws, sub), 0);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, NULL);
}

/* A request/response pair through one waitset: the server is IN when a client process sent a request, the
 * client IN when the response is there and OUT while it has room; nothing is consumed by looking; a
 * server killed with a request of ours pending makes the client ERR (and its receive -EPIPE). */
static int child_requester(void *p)
{
    const char *name = p;
    shmipc_reqresp_client *c;
    if (shmipc_reqresp_client_open(name, NULL, &c))
        return 3;
    char buf[16];
    shmipc_reqresp_response_info info;
    int n = shmipc_reqresp_client_call(c, "ping", 4, buf, sizeof buf, &info, 10000);
    shmipc_reqresp_client_close(c);
    return n == 4 && memcmp(buf, "pong", 4) == 0 ? 0 : 4;
}

static int child_server(void *p)
{
    const int *fds = p; /* [0] read: the service name's length-prefixed bytes are not needed: see below */
    shmipc_reqresp_server *s;
    char name[64];
    ssize_t n = read(fds[0], name, sizeof name - 1);
    if (n <= 0)
        return 2;
    name[n] = 0;
    if (shmipc_reqresp_server_create(name, NULL, &s))
        return 3;
    if (write(fds[1], "r", 1) != 1)
        return 2;
    pause(); /* killed by the parent with a request pending */
    return 0;
}

static void test_reqresp_ends_are_reported(void **state)
{
    fixture *f = *state;
    char name[64];
    snprintf(name, sizeof name, "wsrr-%d", (int)getpid());
    shmipc_reqresp_server *srv;
    shmipc_reqresp_client *cli;
    assert_int_equal(shmipc_reqresp_server_create(name, NULL, &srv), 0);
    assert_int_equal(shmipc_waitset_add_server(f->ws, srv, SHMIPC_WAITSET_OUT, 1), -EINVAL);
    assert_int_equal(shmipc_waitset_add_server(f->ws, srv, 0, 1), 0);
    shmipc_waitset_ready r[2];
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), -EAGAIN);
    pid_t pid = test_fork(child_requester, name);
    assert_true(pid > 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 10000, r, 2), 1); /* the child's request */
    assert_int_equal(r[0].user, 1);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);     /* nothing consumed */
    char buf[16];
    shmipc_reqresp_request_info ri;
    assert_int_equal(shmipc_reqresp_server_receive(srv, &ri, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(shmipc_reqresp_server_respond(srv, &ri, "pong", 4, 0, 1000), 0);
    assert_int_equal(test_wait(pid, 10000), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), -EAGAIN);

    /* The client side, in this process: OUT at once, IN once the server answered. */
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &cli), 0);
    assert_int_equal(shmipc_waitset_add_client(f->ws, cli, SHMIPC_WAITSET_IN | SHMIPC_WAITSET_OUT, 2), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);
    assert_int_equal(r[0].user, 2);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_OUT);
    assert_int_equal(shmipc_waitset_remove(f->ws, cli), 0);
    assert_int_equal(shmipc_waitset_add_client(f->ws, cli, 0, 2), 0); /* IN only */
    assert_int_equal(shmipc_reqresp_client_send(cli, "q", 1, NULL, 0), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 10000, r, 2), 1); /* the server has it */
    assert_int_equal(r[0].user, 1);
    assert_int_equal(shmipc_reqresp_server_receive(srv, &ri, buf, sizeof buf, 0), 1);
    assert_int_equal(shmipc_reqresp_server_respond(srv, &ri, "a", 1, 0, 1000), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), 1);
    assert_int_equal(r[0].user, 2);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_IN);
    shmipc_reqresp_response_info info;
    assert_int_equal(shmipc_reqresp_client_receive(cli, &info, buf, sizeof buf, 0), 1);
    assert_int_equal(shmipc_waitset_remove(f->ws, srv), 0);
    shmipc_reqresp_server_close(srv);

    /* A server process killed with our request pending: ERR, and receive says -EPIPE. */
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    int fds[2] = {to_child[0], from_child[1]};
    pid = test_fork(child_server, fds);
    assert_int_equal(write(to_child[1], name, strlen(name)), (ssize_t)strlen(name));
    char c;
    assert_int_equal(read(from_child[0], &c, 1), 1); /* the child serves the service now */
    assert_int_equal(shmipc_reqresp_client_send(cli, "q", 1, NULL, 1000), 0);
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 2), -EAGAIN);
    kill(pid, SIGKILL);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(shmipc_waitset_wait(f->ws, 10000, r, 2), 1);
    assert_true(r[0].events & SHMIPC_WAITSET_ERR);
    assert_int_equal(shmipc_reqresp_client_receive(cli, &info, buf, sizeof buf, 0), -EPIPE);
    assert_int_equal(shmipc_waitset_remove(f->ws, cli), 0);
    shmipc_reqresp_client_close(cli);
    shmipc_reqresp_unlink(name);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
}

/* A child process that waits for our go (a pipe), then sends: the parent's blocking wait wakes. */
typedef struct child_arg {
    const char *chname;
    int go;     /* read end: one byte means "send now" */
    int ready;  /* write end: one byte means "opened" */
    bool die;   /* instead of sending, take the producer role and wait to be killed */
} child_arg;

static int child_sender(void *p)
{
    child_arg *a = p;
    shmipc_channel *tx;
    if (shmipc_channel_open(a->chname, SHMIPC_CHANNEL_PRODUCER, NULL, &tx))
        return 3;
    if (write(a->ready, "r", 1) != 1)
        return 2;
    if (a->die) {
        pause();
        return 0;
    }
    char c;
    if (read(a->go, &c, 1) != 1)
        return 2;
    int r = shmipc_channel_send(tx, "from child", 10, -1);
    shmipc_channel_close(tx);
    return r ? 4 : 0;
}

static void test_blocking_wait_wakes_when_a_process_sends(void **state)
{
    fixture *f = *state;
    shmipc_channel_close(f->tx); /* the child becomes the producer */
    f->tx = NULL;
    add_all(f);
    int go[2], rd[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(rd), 0);
    child_arg a = {.chname = f->chname, .go = go[0], .ready = rd[1]};
    pid_t pid = test_fork(child_sender, &a);
    assert_true(pid > 0);
    char c;
    assert_int_equal(read(rd[0], &c, 1), 1); /* the child holds the producer end */
    shmipc_waitset_ready r[4];
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), -EAGAIN);
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(shmipc_waitset_wait(f->ws, 10000, r, 4), 1);
    assert_int_equal(r[0].user, 1);
    char buf[16];
    assert_int_equal(shmipc_channel_recv(f->rx, buf, sizeof buf, 0), 10);
    assert_memory_equal(buf, "from child", 10);
    assert_int_equal(test_wait(pid, 10000), 0);
    close(go[0]);
    close(go[1]);
    close(rd[0]);
    close(rd[1]);
}

/* A producer killed by SIGKILL: the consumer end is reported with ERR within a slice or so, and its
 * own call then says -EPIPE. */
static void test_dead_peer_is_reported(void **state)
{
    fixture *f = *state;
    shmipc_channel_close(f->tx);
    f->tx = NULL;
    int rd[2];
    assert_int_equal(pipe(rd), 0);
    child_arg a = {.chname = f->chname, .ready = rd[1], .die = true};
    pid_t pid = test_fork(child_sender, &a);
    char c;
    assert_int_equal(read(rd[0], &c, 1), 1);
    assert_int_equal(shmipc_waitset_add_channel(f->ws, f->rx, 0, 1), 0);
    shmipc_waitset_ready r[1];
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 1), -EAGAIN);
    kill(pid, SIGKILL);
    assert_int_equal(test_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(shmipc_waitset_wait(f->ws, 10000, r, 1), 1);
    assert_true(r[0].events & SHMIPC_WAITSET_ERR);
    char buf[8];
    assert_int_equal(shmipc_channel_recv(f->rx, buf, sizeof buf, 0), -EPIPE);
    close(rd[0]);
    close(rd[1]);
}

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* The descriptor: readable at first; quiet after a wait that found nothing (unless a slice passed and
 * the watcher's liveness tick made it readable); readable when a peer process acts; and readable again
 * after a wait that reported something (level-triggered). */
static void test_descriptor_follows_readiness(void **state)
{
    fixture *f = *state;
    shmipc_channel_close(f->tx);
    f->tx = NULL;
    add_all(f);
    int go[2], rd[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(rd), 0);
    child_arg a = {.chname = f->chname, .go = go[0], .ready = rd[1]};
    pid_t pid = test_fork(child_sender, &a);
    char c;
    assert_int_equal(read(rd[0], &c, 1), 1); /* the child holds the producer end */
    int fd = shmipc_waitset_fd(f->ws);
    assert_true(fd >= 0);
    assert_int_equal(shmipc_waitset_fd(f->ws), fd);
    assert_true(fd_readable(fd, 0));
    shmipc_waitset_ready r[4];
    uint64_t t0 = test_now_ms();
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), -EAGAIN);
    bool readable = fd_readable(fd, 0);
    if (test_now_ms() - t0 < 10)
        assert_false(readable); /* armed, and no liveness tick can have come yet */

    assert_int_equal(write(go[1], "g", 1), 1);
    /* Ticks (every slice) make the descriptor readable with nothing ready: serve until the message. */
    int got = 0;
    uint64_t deadline = test_now_ms() + 10000;
    while (!got && test_now_ms() < deadline) {
        assert_true(fd_readable(fd, 10000));
        int n = shmipc_waitset_wait(f->ws, 0, r, 4);
        if (n == -EAGAIN)
            continue;
        assert_int_equal(n, 1);
        assert_int_equal(r[0].user, 1);
        got = 1;
    }
    assert_true(got);
    assert_true(fd_readable(fd, 0)); /* level: something was reported, so come back */
    char buf[16];
    assert_int_equal(shmipc_channel_recv(f->rx, buf, sizeof buf, 0), 10);
    assert_int_equal(test_wait(pid, 10000), 0);
    /* The child closed its end: reported with ERR (its next call says -EPIPE). */
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), 1);
    assert_int_equal(r[0].events, SHMIPC_WAITSET_IN | SHMIPC_WAITSET_ERR);
    assert_int_equal(shmipc_waitset_remove(f->ws, f->rx), 0);
    /* Removing a handle while armed wakes the watcher off its words first, and the loop comes back. */
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), -EAGAIN);
    assert_int_equal(shmipc_waitset_remove(f->ws, f->ev), 0);
    assert_true(fd_readable(fd, 10000));
    assert_int_equal(shmipc_waitset_wait(f->ws, 0, r, 4), -EAGAIN);
    close(go[0]);
    close(go[1]);
    close(rd[0]);
    close(rd[1]);
}

/* Something ready: the wait is loads only, no system call (seccomp trap in a child). */
static void test_ready_wait_makes_no_system_call(void **state)
{
    fixture *f = *state;
    add_all(f);
    assert_int_equal(shmipc_event_post(f->ev), 0);
    _Atomic int *out = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(out != MAP_FAILED);
    atomic_store(&out[0], -1);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_waitset_ready r[4];
        if (test_trap_syscalls() != 0)
            test_exit_group(2);
        int n = 0;
        for (int i = 0; i < 1000; i++)
            n += shmipc_waitset_wait(f->ws, -1, r, 4);
        atomic_store(&out[1], n);
        atomic_store(&out[0], test_trapped_syscalls());
        test_exit_group(0);
    }
    int st = test_wait(pid, 20000);
    if (st == 2) {
        print_message("seccomp filters unavailable here: skipped\n");
        skip();
    }
    assert_int_equal(st, 0);
    assert_int_equal(atomic_load(&out[0]), 0);
    assert_int_equal(atomic_load(&out[1]), 1000);
    munmap(out, 4096);
}

/* Two threads over one mapping (what TSan can check): a producer thread sends N messages; the consumer
 * thread waits through the descriptor (poll) and a waitset, and receives all of them in order. */
typedef struct thr_arg {
    shmipc_channel *tx;
    unsigned n;
    int result;
} thr_arg;

static void *producer_thread(void *p)
{
    thr_arg *a = p;
    for (unsigned i = 0; i < a->n; i++) {
        if (shmipc_channel_send(a->tx, &i, sizeof i, -1) != 0) {
            a->result = -1;
            return NULL;
        }
    }
    return NULL;
}

static void test_thread_sender_and_waitset_receiver(void **state)
{
    fixture *f = *state;
    assert_int_equal(shmipc_waitset_add_channel(f->ws, f->rx, 0, 1), 0);
    int fd = shmipc_waitset_fd(f->ws);
    assert_true(fd >= 0);
    thr_arg a = {.tx = f->tx, .n = 20000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer_thread, &a), 0);
    unsigned next = 0;
    uint64_t deadline = test_now_ms() + 60000;
    while (next < a.n && test_now_ms() < deadline) {
        if (!fd_readable(fd, 10000))
            break;
        shmipc_waitset_ready r[1];
        int n = shmipc_waitset_wait(f->ws, 0, r, 1);
        if (n == -EAGAIN)
            continue;
        assert_int_equal(n, 1);
        unsigned v;
        while (shmipc_channel_recv(f->rx, &v, sizeof v, 0) == (int)sizeof v) {
            assert_int_equal(v, next);
            next++;
        }
    }
    pthread_join(t, NULL);
    assert_int_equal(a.result, 0);
    assert_int_equal(next, a.n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arguments_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_handle_is_reported_without_consuming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_is_reported_for_producers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_handles_are_reported_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reqresp_ends_are_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_wait_wakes_when_a_process_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_peer_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_follows_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_wait_makes_no_system_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_sender_and_waitset_receiver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
