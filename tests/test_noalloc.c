/* SPDX-License-Identifier: MIT */
/*
 * tests/test_noalloc.c - no heap allocation after setup: 100k messages on every pattern (channel copy,
 * in-place and batch calls; queue copy and claim calls; pub/sub loan/publish/receive/release and the copy
 * calls; request/response call and serve across two threads; event post/wait; event service
 * notify/wait; blackboard write/read/wait) make no malloc, calloc, realloc, free or aligned allocation,
 * in any thread. Only public calls are used, so the test holds whatever the internals become.
 *
 * How: this program replaces the C library's allocator (an executable may define malloc and friends;
 * glibc and musl both route their own allocations through it). The replacement is a bump allocator over
 * one anonymous mapping that counts every call; free only counts. Each case snapshots the counters
 * around its message loop and requires them unchanged, printing the caller of the first allocation in
 * the window when they are not. Sanitizer builds replace malloc themselves: there the test skips.
 */
#include "helpers.h"

#include <shmipc/blackboard.h>
#include <shmipc/channel.h>
#include <shmipc/event.h>
#include <shmipc/evsvc.h>
#include <shmipc/pubsub.h>
#include <shmipc/queue.h>
#include <shmipc/reqresp.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define MESSAGES 100000

#if !defined(SHMIPC_SANITIZER)

/* ---- the counting allocator ---- */

#define ARENA_SIZE ((size_t)192 << 20) /* address space only (MAP_NORESERVE): setup needs a few MiB */
#define HDR 16u                        /* every block is preceded by its size (and 8 spare bytes) */

static char *arena;
static atomic_size_t arena_used;
/* Counts of calls, all threads: relaxed (the snapshots are taken on the thread that drives the loop,
 * after joining or handshaking with the other one, which orders the counts before them). */
static atomic_ulong n_alloc, n_free;
static void *_Atomic first_caller; /* caller of the first allocation while armed */
static atomic_int armed;

static void arena_init(void)
{
    /* Called from the first allocation, before any thread exists (the loader's first malloc). */
    void *p = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        abort();
    arena = p;
}

static int in_arena(const void *p)
{
    return arena && (const char *)p >= arena && (const char *)p < arena + ARENA_SIZE;
}

static void *bump(size_t size, size_t align, void *caller)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    if (atomic_load_explicit(&armed, memory_order_relaxed)) {
        void *none = NULL;
        atomic_compare_exchange_strong_explicit(&first_caller, &none, caller, memory_order_relaxed,
                                                memory_order_relaxed);
    }
    if (!arena)
        arena_init();
    if (align < HDR)
        align = HDR;
    if (size > ARENA_SIZE)
        return NULL;
    size_t need = size + align + HDR;
    size_t off = atomic_fetch_add_explicit(&arena_used, need, memory_order_relaxed);
    if (off + need > ARENA_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t base = (uintptr_t)arena + off + HDR;
    uintptr_t p = (base + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = size;
    return (void *)p;
}

void *malloc(size_t size);
void free(void *ptr);
void *calloc(size_t n, size_t size);
void *realloc(void *ptr, size_t size);
void *aligned_alloc(size_t align, size_t size);
int posix_memalign(void **out, size_t align, size_t size);
void *memalign(size_t align, size_t size);
void *valloc(size_t size);
void *pvalloc(size_t size);
size_t malloc_usable_size(void *ptr);

void *malloc(size_t size) { return bump(size, HDR, __builtin_return_address(0)); }

void free(void *ptr)
{
    if (!ptr)
        return;
    atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    if (atomic_load_explicit(&armed, memory_order_relaxed)) {
        void *none = NULL;
        atomic_compare_exchange_strong_explicit(&first_caller, &none, __builtin_return_address(0),
                                                memory_order_relaxed, memory_order_relaxed);
    }
    /* Memory is never reused: the program is short and its setup small. */
}

void *calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    /* The arena is fresh anonymous memory, never reused: already zero. */
    return bump(n * size, HDR, __builtin_return_address(0));
}

void *realloc(void *ptr, size_t size)
{
    void *n = bump(size, HDR, __builtin_return_address(0));
    if (ptr && n) {
        if (!in_arena(ptr))
            abort(); /* allocated before this allocator existed: never seen; fail loudly if it happens */
        size_t old = ((size_t *)ptr)[-1];
        memcpy(n, ptr, old < size ? old : size);
        atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    }
    return n;
}

void *aligned_alloc(size_t align, size_t size) { return bump(size, align, __builtin_return_address(0)); }
void *memalign(size_t align, size_t size) { return bump(size, align, __builtin_return_address(0)); }
void *valloc(size_t size) { return bump(size, 4096, __builtin_return_address(0)); }
void *pvalloc(size_t size) { return bump((size + 4095) & ~(size_t)4095, 4096, __builtin_return_address(0)); }

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = bump(size, align, __builtin_return_address(0));
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

size_t malloc_usable_size(void *ptr) { return ptr && in_arena(ptr) ? ((size_t *)ptr)[-1] : 0; }

/* ---- the window ---- */

extern char __executable_start; /* linker-defined: the first byte of this executable's image */

typedef struct window {
    unsigned long alloc, free;
} window;

static void window_open(window *w)
{
    atomic_store_explicit(&first_caller, NULL, memory_order_relaxed);
    atomic_store_explicit(&armed, 1, memory_order_relaxed);
    w->alloc = atomic_load_explicit(&n_alloc, memory_order_relaxed);
    w->free = atomic_load_explicit(&n_free, memory_order_relaxed);
}

/* Close the window and fail the test if anything was allocated or freed in it. */
static void window_close(const window *w, const char *what)
{
    unsigned long a = atomic_load_explicit(&n_alloc, memory_order_relaxed) - w->alloc;
    unsigned long f = atomic_load_explicit(&n_free, memory_order_relaxed) - w->free;
    atomic_store_explicit(&armed, 0, memory_order_relaxed);
    if (a || f) {
        /* The caller as an offset in this executable (the library is linked in statically), for
         * `addr2line -f -e test_noalloc OFFSET`; a caller inside the C library shows a large offset. */
        uintptr_t caller = (uintptr_t)atomic_load(&first_caller);
        fprintf(stderr, "%s: %lu allocations and %lu frees during %d messages; first from offset 0x%lx\n",
                what, a, f, MESSAGES, (unsigned long)(caller - (uintptr_t)&__executable_start));
        fail_msg("%s allocated on the data path", what);
    }
    fprintf(stderr, "%s: %d messages, 0 allocations, 0 frees\n", what, MESSAGES);
}

/* The allocator really counts (else every case below would pass for nothing). */
static void allocator_counts(void **state)
{
    (void)state;
    window w;
    window_open(&w);
    void *volatile p = malloc(24);
    free(p);
    unsigned long a = atomic_load(&n_alloc) - w.alloc, f = atomic_load(&n_free) - w.free;
    atomic_store(&armed, 0);
    assert_int_equal(a, 1);
    assert_int_equal(f, 1);
    char *volatile d = strdup("through the C library");
    assert_non_null(d);
    assert_true(in_arena(d));
    /* And the library's own allocations (setup) are seen. */
    char name[96];
    test_name(name, sizeof name, "na-setup");
    shmipc_channel *ch = NULL;
    window_open(&w);
    assert_int_equal(shmipc_channel_create(name, NULL, &ch), 0);
    shmipc_channel_close(ch);
    shmipc_channel_unlink(name);
    a = atomic_load(&n_alloc) - w.alloc;
    f = atomic_load(&n_free) - w.free;
    atomic_store(&armed, 0);
    assert_true(a >= 1);
    assert_true(f >= 1);
}

/* ---- channel ---- */

static void channel_calls(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "na-ch");
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.capacity = 4096;
    shmipc_channel *tx = NULL, *rx = NULL;
    assert_int_equal(shmipc_channel_create(name, &o, &tx), 0);
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_CONSUMER, NULL, &rx), 0);
    char msg[64], got[64];
    struct iovec out[4], in[4];
    char bo[4][32], bi[4][32];

    window w;
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        memcpy(msg, &i, sizeof i);
        switch (i % 3) {
        case 0: /* copy */
            assert_int_equal(shmipc_channel_send(tx, msg, sizeof msg, 0), 0);
            assert_int_equal(shmipc_channel_recv(rx, got, sizeof got, 0), (int)sizeof msg);
            assert_memory_equal(got, &i, sizeof i);
            break;
        case 1: { /* in place */
            void *p;
            const void *q;
            assert_int_equal(shmipc_channel_reserve(tx, 32, &p, 0), 0);
            memcpy(p, &i, sizeof i);
            assert_int_equal(shmipc_channel_commit(tx, 32), 0);
            assert_int_equal(shmipc_channel_peek(rx, &q, 0), 32);
            assert_memory_equal(q, &i, sizeof i);
            assert_int_equal(shmipc_channel_release(rx), 0);
            break;
        }
        default: /* batches */
            for (int k = 0; k < 4; k++) {
                memcpy(bo[k], &i, sizeof i);
                out[k].iov_base = bo[k];
                out[k].iov_len = sizeof bo[k];
                in[k].iov_base = bi[k];
                in[k].iov_len = sizeof bi[k];
            }
            assert_int_equal(shmipc_channel_send_batch(tx, out, 4, 0), 4);
            assert_int_equal(shmipc_channel_recv_batch(rx, in, 4, 0), 4);
            assert_memory_equal(bi[3], &i, sizeof i);
        }
    }
    window_close(&w, "channel send/recv, reserve/commit/peek/release, batches");

    /* Overwrite mode: the consumer's peek copies into the handle's buffer (allocated at open). */
    char name2[96];
    test_name(name2, sizeof name2, "na-chow");
    o.full_policy = SHMIPC_CHANNEL_FULL_OVERWRITE;
    shmipc_channel *otx = NULL, *orx = NULL;
    assert_int_equal(shmipc_channel_create(name2, &o, &otx), 0);
    assert_int_equal(shmipc_channel_open(name2, SHMIPC_CHANNEL_CONSUMER, NULL, &orx), 0);
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        const void *q;
        for (int k = 0; k < 3; k++) /* more than fits now and then: the oldest are dropped */
            assert_int_equal(shmipc_channel_send(otx, &i, sizeof i, 0), 0);
        assert_int_equal(shmipc_channel_peek(orx, &q, 0), (int)sizeof i);
        assert_int_equal(shmipc_channel_release(orx), 0);
        while (shmipc_channel_recv(orx, got, sizeof got, 0) >= 0) {
        }
    }
    window_close(&w, "channel overwrite send/peek/recv");

    shmipc_channel_close(otx);
    shmipc_channel_close(orx);
    shmipc_channel_unlink(name2);
    shmipc_channel_close(tx);
    shmipc_channel_close(rx);
    shmipc_channel_unlink(name);
}

/* ---- queue ---- */

static void queue_calls(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "na-q");
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_count = 16;
    o.slot_size = 64;
    shmipc_queue *p = NULL, *c = NULL;
    assert_int_equal(shmipc_queue_create(name, &o, &p), 0);
    assert_int_equal(shmipc_queue_open(name, NULL, &c), 0);
    char got[64];
    window w;
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        if (i & 1) {
            assert_int_equal(shmipc_queue_push(p, &i, sizeof i, 0), 0);
            assert_int_equal(shmipc_queue_pop(c, got, sizeof got, 0), (int)sizeof i);
        } else {
            shmipc_queue_claim cl;
            assert_int_equal(shmipc_queue_push_claim(p, &cl, 0), 0);
            memcpy(cl.data, &i, sizeof i);
            assert_int_equal(shmipc_queue_push_commit(p, &cl, sizeof i), 0);
            assert_int_equal(shmipc_queue_pop_claim(c, &cl, 0), (int)sizeof i);
            assert_int_equal(cl.len, sizeof i);
            memcpy(got, cl.data, sizeof i);
            assert_int_equal(shmipc_queue_pop_release(c, &cl), 0);
        }
        assert_memory_equal(got, &i, sizeof i);
    }
    window_close(&w, "queue push/pop and claims");
    shmipc_queue_close(p);
    shmipc_queue_close(c);
    shmipc_queue_unlink(name);
}

/* ---- pub/sub ---- */

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "na%d-%d-%s", (int)getpid(), n++, tag);
}

static void pubsub_calls(void **state)
{
    (void)state;
    char name[96];
    svc_name(name, sizeof name, "ps");
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 256;
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    shmipc_pubsub_publisher *pub = NULL;
    shmipc_pubsub_subscriber *s1 = NULL, *s2 = NULL;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &s1), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &s2), 0);
    char got[256];
    window w;
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        void *ptr;
        shmipc_pubsub_sample a, b;
        assert_int_equal(shmipc_pubsub_publisher_loan(pub, 128, &ptr), 0);
        memcpy(ptr, &i, sizeof i);
        assert_int_equal(shmipc_pubsub_publisher_publish(pub, ptr, 128), 2);
        assert_int_equal(shmipc_pubsub_subscriber_receive(s1, &a, 0), 0);
        assert_int_equal(shmipc_pubsub_subscriber_receive(s2, &b, 0), 0);
        assert_memory_equal(a.data, &i, sizeof i);
        assert_memory_equal(b.data, &i, sizeof i); /* the same chunk, mapped at its own address */
        assert_int_equal(shmipc_pubsub_subscriber_release(s1, &a), 0);
        assert_int_equal(shmipc_pubsub_subscriber_release(s2, &b), 0);
    }
    window_close(&w, "pub/sub loan/publish/receive/release");
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, &i, sizeof i), 2);
        assert_int_equal(shmipc_pubsub_subscriber_receive_copy(s1, got, sizeof got, 0, NULL), (int)sizeof i);
        assert_memory_equal(got, &i, sizeof i);
        assert_int_equal(shmipc_pubsub_subscriber_receive_copy(s2, got, sizeof got, 0, NULL), (int)sizeof i);
    }
    window_close(&w, "pub/sub publish_copy/receive_copy");
    shmipc_pubsub_subscriber_close(s1);
    shmipc_pubsub_subscriber_close(s2);
    shmipc_pubsub_publisher_close(pub);
    shmipc_service_gc_report r;
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, &r);
}

/* ---- request/response: the server serves in a second thread ---- */

typedef struct server_arg {
    shmipc_reqresp_server *srv;
    int ready[2]; /* server -> main: serving */
    int quit[2];  /* main -> server: the window is closed, exit */
    int served;
    int err;
} server_arg;

static void *server_main(void *p)
{
    server_arg *a = p;
    char c = 'r', buf[128];
    if (write(a->ready[1], &c, 1) != 1)
        a->err = -EIO;
    while (!a->err && a->served < MESSAGES) {
        shmipc_reqresp_request_info info;
        int n = shmipc_reqresp_server_receive(a->srv, &info, buf, sizeof buf, 10000);
        if (n < 0) {
            a->err = n;
            break;
        }
        buf[0] ^= 0x55;
        int r = shmipc_reqresp_server_respond(a->srv, &info, buf, (size_t)n, 0, 10000);
        if (r < 0)
            a->err = r;
        a->served++;
    }
    /* Stay alive (no thread exit in the window) until main has closed it. */
    if (read(a->quit[0], &c, 1) != 1)
        a->err = a->err ? a->err : -EIO;
    return NULL;
}

static void reqresp_calls(void **state)
{
    (void)state;
    char name[96];
    svc_name(name, sizeof name, "rr");
    shmipc_reqresp_opts o;
    shmipc_reqresp_opts_init(&o);
    o.max_request = 128;
    server_arg a = {0};
    assert_int_equal(shmipc_reqresp_server_create(name, &o, &a.srv), 0);
    shmipc_reqresp_client *cli = NULL;
    assert_int_equal(shmipc_reqresp_client_open(name, NULL, &cli), 0);
    assert_int_equal(pipe(a.ready), 0);
    assert_int_equal(pipe(a.quit), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, server_main, &a), 0);
    char c;
    assert_int_equal(read(a.ready[0], &c, 1), 1);

    char req[64], resp[128];
    window w;
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        memset(req, i & 0xff, sizeof req);
        int n = shmipc_reqresp_client_call(cli, req, sizeof req, resp, sizeof resp, NULL, 10000);
        assert_int_equal(n, (int)sizeof req);
        assert_int_equal((unsigned char)resp[0], (unsigned char)((i & 0xff) ^ 0x55));
    }
    window_close(&w, "request/response call/serve (two threads)");
    assert_int_equal(write(a.quit[1], "q", 1), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.err, 0);
    assert_int_equal(a.served, MESSAGES);
    close(a.ready[0]);
    close(a.ready[1]);
    close(a.quit[0]);
    close(a.quit[1]);
    shmipc_reqresp_client_close(cli);
    shmipc_reqresp_server_close(a.srv);
    shmipc_reqresp_unlink(name);
}

/* ---- events ---- */

static void event_calls(void **state)
{
    (void)state;
    char name[96];
    test_name(name, sizeof name, "na-ev");
    shmipc_event *ev = NULL, *ev2 = NULL;
    assert_int_equal(shmipc_event_create(name, NULL, &ev), 0);
    assert_int_equal(shmipc_event_open(name, NULL, &ev2), 0);
    window w;
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        assert_int_equal(shmipc_event_post(ev), 0);
        assert_int_equal(shmipc_event_wait(ev2, 0), 1);
    }
    window_close(&w, "event post/wait");
    shmipc_event_close(ev);
    shmipc_event_close(ev2);
    shmipc_event_unlink(name);

    char sname[96];
    svc_name(sname, sizeof sname, "es");
    shmipc_evsvc_notifier *n = NULL;
    shmipc_evsvc_listener *l = NULL;
    assert_int_equal(shmipc_evsvc_listener_open(sname, NULL, &l), 0);
    assert_int_equal(shmipc_evsvc_notifier_create(sname, NULL, &n), 0);
    window_open(&w);
    for (int i = 0; i < MESSAGES; i++) {
        uint32_t id = 99;
        assert_int_equal(shmipc_evsvc_notifier_notify(n, (uint32_t)i % 8), 0);
        assert_int_equal(shmipc_evsvc_listener_wait(l, 0, &id), 1);
        assert_int_equal(id, (uint32_t)i % 8);
        if (i % 64 == 0) {
            shmipc_evsvc_listener *const ls[1] = {l};
            size_t which = 9;
            assert_int_equal(shmipc_evsvc_notifier_notify(n, 3), 0);
            assert_int_equal(shmipc_evsvc_listener_wait_any(ls, 1, 0, &which, &id), 1);
            assert_int_equal(which, 0);
        }
    }
    window_close(&w, "event service notify/wait/wait_any");
    shmipc_evsvc_notifier_close(n);
    shmipc_evsvc_listener_close(l);
    shmipc_evsvc_unlink(sname);
}

/* ---- blackboard: a small value and one over 512 bytes (the reader's snapshot buffer) ---- */

static void blackboard_calls(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {32, 2048};
    for (size_t s = 0; s < 2; s++) {
        char name[96];
        svc_name(name, sizeof name, "bb");
        shmipc_blackboard_opts o;
        shmipc_blackboard_opts_init(&o);
        o.value_size = sizes[s];
        o.entries = 4;
        shmipc_blackboard_writer *wr = NULL;
        shmipc_blackboard_reader *rd = NULL;
        assert_int_equal(shmipc_blackboard_writer_create(name, &o, &wr), 0);
        assert_int_equal(shmipc_blackboard_reader_open(name, NULL, &rd), 0);
        char val[2048], got[2048];
        memset(val, 0, sizeof val);
        uint64_t seen[4] = {0};
        window w;
        window_open(&w);
        for (int i = 0; i < MESSAGES; i++) {
            uint32_t key = (uint32_t)i % 4;
            uint64_t ver = 0;
            memcpy(val, &i, sizeof i);
            assert_int_equal(shmipc_blackboard_write(wr, key, val, sizes[s]), 0);
            assert_int_equal(shmipc_blackboard_wait(rd, key, seen[key], 0), 0);
            assert_int_equal(shmipc_blackboard_read(rd, key, got, sizeof got, &ver), (int)sizes[s]);
            assert_true(ver > seen[key]);
            seen[key] = ver;
            assert_memory_equal(got, &i, sizeof i);
        }
        window_close(&w, sizes[s] > 512 ? "blackboard write/wait/read (2 KiB values)"
                                         : "blackboard write/wait/read (32-byte values)");
        shmipc_blackboard_reader_close(rd);
        shmipc_blackboard_writer_close(wr);
        shmipc_blackboard_unlink(name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocator_counts), cmocka_unit_test(channel_calls), cmocka_unit_test(queue_calls),
        cmocka_unit_test(pubsub_calls),     cmocka_unit_test(reqresp_calls), cmocka_unit_test(event_calls),
        cmocka_unit_test(blackboard_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* SHMIPC_SANITIZER */

int main(void)
{
    printf("skipped: the sanitizer runtime replaces malloc itself; the plain build runs this test\n");
    return TEST_SKIP_RC;
}

#endif
