/* SPDX-License-Identifier: MIT */
/*
 * tests/test_event.c - process-shared events: post/wait across processes in every wait mode, several
 * waiters woken by one post, timeouts and polling, a ping-pong stress loop that would hang on a lost
 * wake-up, corrupt memory refused with -EBADMSG, the named form, and a threaded version for TSan.
 */
#include "helpers.h"

#include "sync/sync_internal.h"
#include <shmipc/event.h>
#include <shmipc/segment.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef SHMIPC_SANITIZER
#define STRESS_ROUNDS 20000
#else
#define STRESS_ROUNDS 100000
#endif

static const shmipc_wait_mode modes[] = {SHMIPC_WAIT_SPIN, SHMIPC_WAIT_BLOCK, SHMIPC_WAIT_HYBRID};

static void *shared_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static shmipc_event *attach_mode(void *mem, shmipc_wait_mode mode)
{
    shmipc_event_opts o;
    shmipc_event_opts_init(&o);
    o.wait_mode = mode;
    shmipc_event *ev = NULL;
    assert_int_equal(shmipc_event_open_in(mem, SHMIPC_EVENT_SIZE, &o, &ev), 0);
    return ev;
}

/* Wait (bounded) until n sleepers have announced themselves on the event at mem. */
static int wait_sleepers(void *mem, uint32_t n)
{
    shmipc__event_mem *m = mem;
    uint64_t end = test_now_ms() + 20000;
    while (atomic_load(&m->notify.waiters) < n) {
        if (test_now_ms() > end)
            return -1;
        usleep(1000); /* poll interval */
    }
    return 0;
}

static void basic_counting(void **state)
{
    (void)state;
    void *mem = shared_map(4096);
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    shmipc_event *a = attach_mode(mem, SHMIPC_WAIT_DEFAULT), *b = attach_mode(mem, SHMIPC_WAIT_BLOCK);
    assert_int_equal(shmipc_event_wait(a, 0), -EAGAIN);
    assert_int_equal(shmipc_event_post(a), 0);
    assert_int_equal(shmipc_event_wait(a, 0), 1);
    assert_int_equal(shmipc_event_wait(a, 0), -EAGAIN);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmipc_event_post(b), 0);
    assert_int_equal(shmipc_event_wait(a, 0), 3);
    /* b has seen nothing yet: it learns of all four posts, independently of a. */
    assert_int_equal(shmipc_event_wait(b, 1000), 4);
    uint32_t c = 0;
    assert_int_equal(shmipc_event_count(a, &c), 0);
    assert_int_equal(c, 4);
    /* A new handle starts at the current count. */
    shmipc_event *d = attach_mode(mem, SHMIPC_WAIT_SPIN);
    assert_int_equal(shmipc_event_wait(d, 0), -EAGAIN);
    shmipc_event_close(d);
    shmipc_event_close(b);
    shmipc_event_close(a);
    assert_int_equal(shmipc_event_close(NULL), 0);
    munmap(mem, 4096);
}

static void bad_arguments(void **state)
{
    (void)state;
    char *mem = shared_map(4096);
    shmipc_event *ev = NULL;
    assert_int_equal(shmipc_event_create_in(NULL, 4096), -EINVAL);
    assert_int_equal(shmipc_event_create_in(mem, SHMIPC_EVENT_SIZE - 1), -EINVAL);
    assert_int_equal(shmipc_event_create_in(mem + 2, 4000), -EINVAL);
    assert_int_equal(shmipc_event_open_in(mem, 4096, NULL, NULL), -EINVAL);
    shmipc_event_opts o = {.size = sizeof o, .wait_mode = (shmipc_wait_mode)9};
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    assert_int_equal(shmipc_event_open_in(mem, 4096, &o, &ev), -EINVAL);
    assert_int_equal(shmipc_event_post(NULL), -EINVAL);
    assert_int_equal(shmipc_event_wait(NULL, 0), -EINVAL);
    munmap(mem, 4096);
}

static void corrupt_is_ebadmsg(void **state)
{
    (void)state;
    unsigned char *mem = shared_map(4096);
    shmipc_event *ev = NULL;
    /* Never initialised (zeroes) and random garbage. */
    assert_int_equal(shmipc_event_open_in(mem, 4096, NULL, &ev), -EBADMSG);
    test_fill(mem, 4096, 7);
    assert_int_equal(shmipc_event_open_in(mem, 4096, NULL, &ev), -EBADMSG);
    /* A known magic with an unknown version. */
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    shmipc__event_mem *m = (shmipc__event_mem *)mem;
    atomic_store(&m->version, 99);
    assert_int_equal(shmipc_event_open_in(mem, 4096, NULL, &ev), -EPROTO);
    /* Overwritten after attach: every call refuses, in every mode, and no call crashes. */
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(modes); i++) {
        assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
        ev = attach_mode(mem, modes[i]);
        test_fill(mem, SHMIPC_EVENT_SIZE, 100 + i);
        assert_int_equal(shmipc_event_post(ev), -EBADMSG);
        assert_int_equal(shmipc_event_wait(ev, 0), -EBADMSG);
        assert_int_equal(shmipc_event_wait(ev, 50), -EBADMSG);
        uint32_t c;
        assert_int_equal(shmipc_event_count(ev, &c), -EBADMSG);
        shmipc_event_close(ev);
    }
    /* A peer that garbles only the counter and the waiter count cannot break the protocol: waiters are
     * woken (needlessly) and a count never underflows below zero. */
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    ev = attach_mode(mem, SHMIPC_WAIT_BLOCK);
    atomic_store(&m->notify.waiters, 0xffffffffu);
    atomic_store(&m->notify.seq, 0x12345678u);
    assert_true(shmipc_event_wait(ev, 0) > 0);
    assert_int_equal(shmipc_event_post(ev), 0);
    assert_int_equal(shmipc_event_wait(ev, 0), 1);
    atomic_store(&m->notify.waiters, 0);
    assert_int_equal(shmipc_event_wait(ev, 20), -ETIMEDOUT);
    assert_int_equal(atomic_load(&m->notify.waiters), 0);
    shmipc_event_close(ev);
    munmap(mem, 4096);
}

struct xproc {
    void *mem;
    shmipc_wait_mode mode;
    int expect;
};

/* A word of the test's own, after the event in the same shared mapping: the child's progress. */
static _Atomic uint32_t *xproc_stage(void *mem) { return (_Atomic uint32_t *)((char *)mem + 2048); }

static int child_wait_once(void *arg)
{
    struct xproc *x = arg;
    shmipc_event *ev;
    shmipc_event_opts o = {.size = sizeof o, .wait_mode = x->mode};
    if (shmipc_event_open_in(x->mem, SHMIPC_EVENT_SIZE, &o, &ev))
        return 10;
    /* Posts are counted from this handle's creation: signal readiness with a post of our own. */
    int r = shmipc_event_post(ev);
    if (r)
        return 11;
    r = shmipc_event_wait(ev, 20000); /* sees our own post first */
    if (r != 1)
        return 12;
    /* Past the first wait: the parent's post may come now (release: nothing else to order, but the
     * parent's acquire load then sees a finished first wait). */
    atomic_store_explicit(xproc_stage(x->mem), 1, memory_order_release);
    r = shmipc_event_wait(ev, 20000);
    shmipc_event_close(ev);
    return r == x->expect ? 0 : 13;
}

static void cross_process_each_mode(void **state)
{
    (void)state;
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(modes); i++) {
        void *mem = shared_map(4096);
        assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
        shmipc_event *ev = attach_mode(mem, SHMIPC_WAIT_BLOCK);
        struct xproc x = {mem, modes[i], 1};
        pid_t pid = test_fork(child_wait_once, &x);
        assert_true(pid > 0);
        assert_int_equal(shmipc_event_wait(ev, 20000), 1); /* the child is ready */
        assert_int_equal(test_until_at_least(xproc_stage(mem), 1, 20000), 0); /* past its first wait */
        if (modes[i] != SHMIPC_WAIT_SPIN) {
            /* A blocking child must be found asleep, so the post below has to wake it. */
            assert_int_equal(wait_sleepers(mem, 1), 0);
        }
        /* A spinning child announces nothing: the post is counted, so it must see it whether it lands
         * before or during its spin. */
        assert_int_equal(shmipc_event_post(ev), 0);
        assert_int_equal(test_wait(pid, 30000), 0);
        shmipc_event_close(ev);
        munmap(mem, 4096);
    }
}

static int child_waiter(void *arg)
{
    shmipc_event *ev = arg; /* inherited across fork: its seen count predates the post */
    int r = shmipc_event_wait(ev, 20000);
    return r == 1 ? 0 : 20;
}

static void several_waiters_all_woken(void **state)
{
    (void)state;
    enum { N = 4 };
    void *mem = shared_map(4096);
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    shmipc_event *ev = attach_mode(mem, SHMIPC_WAIT_BLOCK);
    pid_t pids[N];
    for (int i = 0; i < N; i++)
        assert_true((pids[i] = test_fork(child_waiter, ev)) > 0);
    assert_int_equal(wait_sleepers(mem, N), 0);
    assert_int_equal(shmipc_event_post(ev), 0); /* one post wakes all four */
    for (int i = 0; i < N; i++)
        assert_int_equal(test_wait(pids[i], 30000), 0);
    shmipc_event_close(ev);
    munmap(mem, 4096);
}

static void timeouts_and_poll(void **state)
{
    (void)state;
    void *mem = shared_map(4096);
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(modes); i++) {
        shmipc_event *ev = attach_mode(mem, modes[i]);
        assert_int_equal(shmipc_event_wait(ev, 0), -EAGAIN);
        uint64_t t0 = test_now_ms();
        assert_int_equal(shmipc_event_wait(ev, 100), -ETIMEDOUT);
        uint64_t dt = test_now_ms() - t0;
        assert_true(dt >= 99);
        assert_true(dt < 10000); /* generous: the machine may be loaded */
        shmipc_event_close(ev);
    }
    shmipc__event_mem *m = mem;
    assert_int_equal(atomic_load(&m->notify.waiters), 0); /* every sleeper retracted */
    munmap(mem, 4096);
}

/* The pong side's handles are made before the fork or thread start: a handle counts posts from its
 * creation, so one made later could take the first ping as already seen. */
struct pingpong {
    shmipc_event *in, *out;
    int rounds;
};

static int pong_side(void *arg)
{
    struct pingpong *p = arg;
    shmipc_event *in = p->in, *out = p->out;
    int bad = 0;
    for (int i = 0; i < p->rounds; i++) {
        int r = shmipc_event_wait(in, 30000);
        if (r != 1) {
            bad = 30;
            break;
        }
        shmipc_event_post(out);
    }
    shmipc_event_close(in);
    shmipc_event_close(out);
    return bad;
}

static void pingpong_run(shmipc_wait_mode mode, int rounds)
{
    void *mem = shared_map(4096);
    void *ping = mem, *pong = (char *)mem + 64;
    assert_int_equal(shmipc_event_create_in(ping, 64), 0);
    assert_int_equal(shmipc_event_create_in(pong, 64), 0);
    shmipc_event *out = attach_mode(ping, mode), *in = attach_mode(pong, mode);
    struct pingpong p = {attach_mode(ping, mode), attach_mode(pong, mode), rounds};
    pid_t pid = test_fork(pong_side, &p);
    assert_true(pid > 0);
    uint64_t t0 = test_now_ms();
    int i;
    for (i = 0; i < rounds; i++) {
        assert_int_equal(shmipc_event_post(out), 0);
        /* Strict alternation: exactly one post per wait. A lost wake-up would time out here. */
        int r = shmipc_event_wait(in, 30000);
        if (r != 1)
            break;
    }
    uint64_t dt = test_now_ms() - t0;
    assert_int_equal(test_wait(pid, 30000), 0);
    assert_int_equal(i, rounds);
    print_message("ping-pong mode %d: %d round trips in %llu ms\n", (int)mode, rounds, (unsigned long long)dt);
    shmipc_event_close(p.in);
    shmipc_event_close(p.out);
    shmipc_event_close(out);
    shmipc_event_close(in);
    munmap(mem, 4096);
}

static void stress_pingpong(void **state)
{
    (void)state;
    pingpong_run(SHMIPC_WAIT_HYBRID, STRESS_ROUNDS);
    pingpong_run(SHMIPC_WAIT_BLOCK, STRESS_ROUNDS / 4);
    pingpong_run(SHMIPC_WAIT_SPIN, STRESS_ROUNDS / 10);
}

static void named_event(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "event");
    shmipc_event *ev = NULL, *ev2 = NULL;
    assert_int_equal(shmipc_event_create(name, NULL, &ev), 0);
    assert_int_equal(shmipc_event_create(name, NULL, &ev2), -EEXIST);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc_event *c;
        if (shmipc_event_open(name, NULL, &c))
            _exit(1);
        int r = shmipc_event_post(c); /* tell the parent we are attached */
        r = r ? r : shmipc_event_wait(c, 20000);
        r = r >= 1 ? shmipc_event_wait(c, 20000) : r;
        shmipc_event_close(c);
        _exit(r == 1 ? 0 : 2);
    }
    assert_true(pid > 0);
    assert_int_equal(shmipc_event_wait(ev, 20000), 1);
    /* The child is asleep in its second wait (after the hybrid spin) before the post that wakes it. */
    assert_int_equal(test_until_futex_wait(pid, 20000), 0);
    assert_int_equal(shmipc_event_post(ev), 0);
    assert_int_equal(test_wait(pid, 30000), 0);
    shmipc_event_close(ev);
    assert_int_equal(shmipc_event_unlink(name), 0);
    assert_int_equal(shmipc_event_open(name, NULL, &ev), -ENOENT);
    assert_int_equal(shmipc_event_unlink(name), -ENOENT);

    /* A segment of another type is refused; one of the right type but garbled is -EBADMSG. */
    shmipc_segment *seg;
    assert_int_equal(shmipc_segment_create(name, 4096, NULL, &seg), 0);
    assert_int_equal(shmipc_event_open(name, NULL, &ev), -EPROTOTYPE);
    shmipc_segment_close(seg);
    shmipc_segment_unlink(name);
    shmipc_segment_opts so = {.size = sizeof so, .type = SHMIPC_TYPE_EVENT};
    assert_int_equal(shmipc_segment_create(name, 4096, &so, &seg), 0);
    test_fill(shmipc_segment_data(seg), 64, 3);
    assert_int_equal(shmipc_event_open(name, NULL, &ev), -EBADMSG);
    shmipc_segment_close(seg);
    shmipc_segment_unlink(name);
    shmipc_event_opts bad = {.size = sizeof bad, .flags = 1u << 30};
    assert_int_equal(shmipc_event_create(name, &bad, &ev), -EINVAL);
    assert_int_equal(shmipc_event_create("no-slash", NULL, &ev), -EINVAL);
}

/* ---- threads over one mapping (TSan sees only one process's threads) ---- */

struct tpp {
    shmipc_event *in, *out; /* the pong thread's handles */
    long payload;           /* plain data published by post, read after wait: TSan checks the ordering */
    int rounds;
};

static void *thread_pong(void *arg)
{
    struct tpp *p = arg;
    shmipc_event *in = p->in, *out = p->out;
    long bad = 0;
    for (int i = 0; i < p->rounds; i++) {
        if (shmipc_event_wait(in, 30000) != 1 || p->payload != i) {
            bad = 1;
            break;
        }
        p->payload = -i;
        shmipc_event_post(out);
    }
    shmipc_event_close(in);
    shmipc_event_close(out);
    return (void *)bad;
}

static void threads_pingpong(void **state)
{
    (void)state;
    for (size_t m = 0; m < SHMIPC_ARRAY_LEN(modes); m++) {
        char *mem = shared_map(4096);
        assert_int_equal(shmipc_event_create_in(mem, 64), 0);
        assert_int_equal(shmipc_event_create_in(mem + 64, 64), 0);
        struct tpp p = {attach_mode(mem, modes[m]), attach_mode(mem + 64, modes[m]), 0, 5000};
        shmipc_event *out = attach_mode(mem, modes[m]), *in = attach_mode(mem + 64, modes[m]);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, thread_pong, &p), 0);
        for (int i = 0; i < p.rounds; i++) {
            p.payload = i;
            assert_int_equal(shmipc_event_post(out), 0);
            assert_int_equal(shmipc_event_wait(in, 30000), 1);
            assert_int_equal(p.payload, -i);
        }
        void *ret;
        assert_int_equal(pthread_join(t, &ret), 0);
        assert_null(ret);
        shmipc_event_close(out);
        shmipc_event_close(in);
        munmap(mem, 4096);
    }
}

static void *thread_waiter(void *arg)
{
    shmipc_event *ev = arg;
    return (void *)(long)shmipc_event_wait(ev, 20000);
}

static void threads_several_waiters(void **state)
{
    (void)state;
    enum { N = 4 };
    void *mem = shared_map(4096);
    assert_int_equal(shmipc_event_create_in(mem, 4096), 0);
    shmipc_event *evs[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        evs[i] = attach_mode(mem, SHMIPC_WAIT_BLOCK);
        assert_int_equal(pthread_create(&t[i], NULL, thread_waiter, evs[i]), 0);
    }
    assert_int_equal(wait_sleepers(mem, N), 0);
    shmipc_event *poster = attach_mode(mem, SHMIPC_WAIT_BLOCK);
    assert_int_equal(shmipc_event_post(poster), 0);
    for (int i = 0; i < N; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_int_equal((long)ret, 1);
        shmipc_event_close(evs[i]);
    }
    shmipc_event_close(poster);
    munmap(mem, 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_counting),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(corrupt_is_ebadmsg),
        cmocka_unit_test(cross_process_each_mode),
        cmocka_unit_test(several_waiters_all_woken),
        cmocka_unit_test(timeouts_and_poll),
        cmocka_unit_test(stress_pingpong),
        cmocka_unit_test(named_event),
        cmocka_unit_test(threads_pingpong),
        cmocka_unit_test(threads_several_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
