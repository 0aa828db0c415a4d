/* SPDX-License-Identifier: MIT */
/*
 * sync/event.c - process-shared events: a post counter in shared memory that waiters compare with the
 * count they last saw, sleeping on it as a futex through the notify protocol, so that posting costs no
 * system call while nobody sleeps. Both the caller-memory form and the named form (own segment) are here.
 */
#include "sync/sync_internal.h"
#include "segment/segment_internal.h"
#include "common/waitable.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>


struct shmipc_event {
    shmipc__event_mem *mem;
    shmipc_segment *seg; /* named form: the segment holding mem; NULL for caller memory */
    uint32_t seen;       /* post count this handle last saw */
    shmipc_wait_mode wait_mode;
    uint64_t spin_ns;    /* HYBRID budget floor (0 = the common default) */
    shmipc__wait_adapt adapt;
};

void shmipc_event_opts_init(shmipc_event_opts *opts)
{
    if (opts)
        *opts = (shmipc_event_opts){.size = sizeof *opts};
}

/* The caller's options (NULL = defaults) into *o, checked. */
static int opts_take(const shmipc_event_opts *opts, shmipc_event_opts *o)
{
    int err = SHMIPC__OPTS_TAKE(shmipc_event_opts, shmipc_event_opts_init, o, opts);
    if (err)
        return err;
    if ((unsigned)o->wait_mode > SHMIPC_WAIT_HYBRID)
        return -EINVAL;
    if (o->flags & ~SHMIPC_SEG_ALLOW_FOREIGN)
        return -EINVAL;
    return 0;
}

static bool mem_ok(const void *mem, size_t size)
{
    return mem && ((uintptr_t)mem % _Alignof(uint32_t)) == 0 && size >= SHMIPC_EVENT_SIZE;
}

int shmipc_event_create_in(void *mem, size_t size)
{
    if (!mem_ok(mem, size))
        return -EINVAL;
    shmipc__event_mem *m = mem;
    /* Relaxed stores: nothing can use the event before magic is published below. */
    atomic_store_explicit(&m->magic, 0, memory_order_relaxed);
    atomic_store_explicit(&m->version, SHMIPC_EVENT_VERSION, memory_order_relaxed);
    shmipc__notify_init(&m->notify);
    for (size_t i = 0; i < sizeof m->reserved; i++)
        m->reserved[i] = 0;
    /* Release: an attacher that loads the magic with acquire sees the zeroed count and version. */
    atomic_store_explicit(&m->magic, SHMIPC_EVENT_MAGIC, memory_order_release);
    return 0;
}

static int handle_new(shmipc__event_mem *m, const shmipc_event_opts *opts, shmipc_event **out)
{
    /* Acquire pairs with the release store of magic in shmipc_event_create_in. */
    if (atomic_load_explicit(&m->magic, memory_order_acquire) != SHMIPC_EVENT_MAGIC)
        return -EBADMSG;
    int r = shmipc__event_check(m);
    if (r)
        return r;
    shmipc_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return -ENOMEM;
    ev->mem = m;
    ev->wait_mode = (opts && opts->wait_mode) ? opts->wait_mode : SHMIPC_WAIT_HYBRID;
    ev->spin_ns = opts ? (uint64_t)opts->spin_us * 1000u : 0;
    /* Acquire, like a wait: posts before this point count as seen and their data is visible. */
    ev->seen = atomic_load_explicit(&m->notify.seq, memory_order_acquire);
    *out = ev;
    return 0;
}

int shmipc_event_open_in(void *mem, size_t size, const shmipc_event_opts *opts, shmipc_event **out)
{
    if (!out || !mem_ok(mem, size))
        return -EINVAL;
    shmipc_event_opts o;
    int r = opts_take(opts, &o);
    if (r)
        return r;
    return handle_new(mem, &o, out);
}

/* The checks and segment options create and open share; *so is filled for a segment of type EVENT. */
static int named_args(const char *name, const shmipc_event_opts *opts, shmipc_event **out,
                      shmipc_event_opts *o, shmipc_segment_opts *so)
{
    if (!name || !out)
        return -EINVAL;
    int r = opts_take(opts, o);
    if (r)
        return r;
    shmipc_segment_opts_init(so);
    so->type = SHMIPC_TYPE_EVENT;
    so->mode = o->mode;
    so->flags = o->flags;
    return 0;
}

int shmipc_event_create(const char *name, const shmipc_event_opts *opts, shmipc_event **out)
{
    shmipc_event_opts o;
    shmipc_segment_opts so;
    int r = named_args(name, opts, out, &o, &so);
    if (r)
        return r;
    so.flags = SHMIPC_SEG_DEFER_READY; /* openers wait until the event is laid out */
    shmipc_segment *seg;
    r = shmipc_segment_create(name, SHMIPC_EVENT_SIZE, &so, &seg);
    if (r)
        return r;
    void *data = shmipc_segment_data(seg);
    r = shmipc_event_create_in(data, shmipc_segment_data_size(seg));
    if (r == 0)
        r = shmipc_segment_publish(seg);
    if (r == 0)
        r = handle_new(data, &o, out);
    if (r) {
        shmipc_segment_close(seg);
        shmipc_segment_unlink(name);
        return r;
    }
    (*out)->seg = seg;
    return 0;
}

int shmipc_event_open(const char *name, const shmipc_event_opts *opts, shmipc_event **out)
{
    shmipc_event_opts o;
    shmipc_segment_opts so;
    int r = named_args(name, opts, out, &o, &so);
    if (r)
        return r;
    shmipc_segment *seg;
    r = shmipc_segment_open(name, &so, &seg);
    if (r)
        return r;
    void *data = shmipc_segment_data(seg);
    if (!mem_ok(data, shmipc_segment_data_size(seg)))
        r = -EBADMSG;
    else
        r = handle_new(data, &o, out);
    if (r) {
        shmipc_segment_close(seg);
        return r;
    }
    (*out)->seg = seg;
    return 0;
}

int shmipc_event_close(shmipc_event *ev)
{
    if (!ev)
        return 0;
    shmipc_segment_close(ev->seg);
    free(ev);
    return 0;
}

int shmipc_event_unlink(const char *name) { return shmipc_segment_unlink(name); }

/* A header that changed after attach is corruption, whatever the field: one error for both. */
static int event_valid(const shmipc__event_mem *m) { return shmipc__event_check(m) ? -EBADMSG : 0; }

int shmipc_event_post(shmipc_event *ev)
{
    if (!ev)
        return -EINVAL;
    shmipc__event_mem *m = ev->mem;
    int r = event_valid(m);
    if (r)
        return r;
    /* The seq_cst bump inside is also the release that publishes what the poster wrote before. */
    shmipc__notify_wake(&m->notify, INT32_MAX);
    return 0;
}

static int take(shmipc_event *ev, uint32_t cur)
{
    uint32_t n = cur - ev->seen; /* modulo 2^32 by design */
    ev->seen = cur;
    return n > INT_MAX ? INT_MAX : (int)n;
}

typedef struct event_wait {
    shmipc_event *ev;
    int count; /* what the wait returns once the count moved */
} event_wait;

static int event_cond(void *arg, bool slow)
{
    event_wait *w = arg;
    shmipc__event_mem *m = w->ev->mem;
    /* seq_cst: after an announcement on the notify word (shmipc__wait's sleep), the waiter's half of the
     * handshake with the poster's seq_cst bump; also the acquire that makes the poster's data visible. */
    uint32_t cur = atomic_load_explicit(&m->notify.seq, memory_order_seq_cst);
    if (cur != w->ev->seen) {
        w->count = take(w->ev, cur);
        return 1;
    }
    /* A header rewritten under us is corruption; checked between slices, and every call checks on entry. */
    return slow && event_valid(m) ? -EBADMSG : 0;
}

int shmipc_event_wait(shmipc_event *ev, int timeout_ms)
{
    if (!ev)
        return -EINVAL;
    shmipc__event_mem *m = ev->mem;
    int r = event_valid(m);
    if (r)
        return r;
    event_wait w = {.ev = ev};
    shmipc__wait_spec spec = {.notify = &m->notify, .mode = ev->wait_mode, .spin_ns = ev->spin_ns,
                              .timeout_ms = timeout_ms, .relative = true, .adapt = &ev->adapt};
    r = shmipc__wait(&spec, event_cond, &w);
    return r ? r : w.count;
}

int shmipc_event_count(const shmipc_event *ev, uint32_t *count)
{
    if (!ev || !count)
        return -EINVAL;
    int r = event_valid(ev->mem);
    if (r)
        return r;
    /* Relaxed: a snapshot for information; it orders nothing. */
    *count = atomic_load_explicit(&ev->mem->notify.seq, memory_order_relaxed);
    return 0;
}

/* The waitset's readiness check (common/waitable.h): posted since this handle last looked, as
 * event_cond decides, without taking the count. */
static uint32_t event_ready(void *p, uint32_t events, bool slow)
{
    shmipc_event *ev = p;
    /* seq_cst: after the waitset's announcement, the sleeper's half of the poster's handshake. */
    if (atomic_load_explicit(&ev->mem->notify.seq, memory_order_seq_cst) != ev->seen)
        return events;
    return slow && event_valid(ev->mem) ? events | SHMIPC_WAITSET_ERR : 0;
}

int shmipc__event_waitable(shmipc_event *ev, uint32_t events, shmipc__waitable *w)
{
    if (events != SHMIPC_WAITSET_IN)
        return -EINVAL;
    w->ready = event_ready;
    w->words[0] = &ev->mem->notify;
    w->nwords = 1;
    return 0;
}
