/* SPDX-License-Identifier: MIT */
/*
 * waitset/waitset.c - waiting for any of several handles (shmipc/waitset.h). Readiness comes from each
 * pattern's waitable (common/waitable.h); the wait itself is the common wait primitive over all the
 * handles' notify words at once. The event-loop descriptor is an eventfd written by one watcher thread
 * that only sleeps on those words: the handles themselves are touched by the user's thread alone.
 */
#include "common/waitable.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define WS_MAX_WORDS SHMIPC__FUTEX_WAITV_MAX

typedef struct ws_entry {
    void *handle;
    uint64_t user;
    uint32_t events;
    shmipc__waitable w;
} ws_entry;

struct shmipc_waitset {
    ws_entry e[SHMIPC_WAITSET_MAX];
    unsigned n;
    unsigned next;       /* round-robin: the entry the next scan starts at */
    unsigned nwords;     /* sum of the entries' words */
    uint64_t next_slow;  /* when a try-once wait next runs the between-slices checks */
    shmipc__wait_adapt adapt;
    /* The descriptor (efd >= 0 once shmipc_waitset_fd was called) and its watcher thread. mu guards
     * armed, stop and the armed word list; the watcher sleeps on that list while armed. */
    int efd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool armed, stop;
    shmipc__notify kick; /* private word: bumped to wake the watcher (stop, add, remove); always slept on */
    shmipc__notify *armed_words[WS_MAX_WORDS];
    uint32_t armed_seen[WS_MAX_WORDS];
    unsigned armed_n;
};

int shmipc_waitset_create(shmipc_waitset **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    shmipc_waitset *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -ENOMEM;
    ws->efd = -1;
    shmipc__notify_init(&ws->kick);
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
    *out = ws;
    return 0;
}

/* Wake the watcher out of its sleep and wait until it has retracted from every word (it no longer
 * touches the handles' memory); it then writes the descriptor, so the loop comes back and re-arms. */
static void ws_disarm(shmipc_waitset *ws)
{
    if (ws->efd < 0)
        return;
    pthread_mutex_lock(&ws->mu);
    while (ws->armed) {
        shmipc__notify_wake(&ws->kick, 1);
        pthread_cond_wait(&ws->cv, &ws->mu);
    }
    pthread_mutex_unlock(&ws->mu);
}

int shmipc_waitset_close(shmipc_waitset *ws)
{
    if (!ws)
        return 0;
    if (ws->efd >= 0) {
        pthread_mutex_lock(&ws->mu);
        ws->stop = true;
        pthread_cond_signal(&ws->cv);
        pthread_mutex_unlock(&ws->mu);
        shmipc__notify_wake(&ws->kick, 1);
        pthread_join(ws->thread, NULL);
        close(ws->efd);
    }
    pthread_cond_destroy(&ws->cv);
    pthread_mutex_destroy(&ws->mu);
    free(ws);
    return 0;
}

static int ws_find(const shmipc_waitset *ws, const void *handle)
{
    for (unsigned i = 0; i < ws->n; i++)
        if (ws->e[i].handle == handle)
            return (int)i;
    return -1;
}

typedef int (*ws_waitable_fn)(void *handle, uint32_t events, shmipc__waitable *w);

static int ws_add(shmipc_waitset *ws, void *handle, uint32_t events, uint64_t user, uint32_t natural,
                  ws_waitable_fn fn)
{
    if (!ws || !handle || (events & ~(SHMIPC_WAITSET_IN | SHMIPC_WAITSET_OUT)))
        return -EINVAL;
    if (ws_find(ws, handle) >= 0)
        return -EEXIST;
    if (ws->n == SHMIPC_WAITSET_MAX)
        return -ENOSPC;
    ws_entry e = {.handle = handle, .user = user, .events = events ? events : natural};
    int r = fn(handle, e.events, &e.w);
    if (r)
        return r;
    if (ws->nwords + e.w.nwords + 1 > WS_MAX_WORDS) /* + 1: the kick word */
        return -ENOSPC;
    ws_disarm(ws); /* the watcher's word list lacks the new handle: let the loop re-arm */
    ws->e[ws->n++] = e;
    ws->nwords += e.w.nwords;
    return 0;
}

/* The adapters between the public handle types and their waitables. */
static int ws_channel(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__channel_waitable(h, ev, w); }
static int ws_queue(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__queue_waitable(h, ev, w); }
static int ws_event(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__event_waitable(h, ev, w); }
static int ws_listener(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__listener_waitable(h, ev, w); }
static int ws_subscriber(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__subscriber_waitable(h, ev, w); }
static int ws_server(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__reqresp_server_waitable(h, ev, w); }
static int ws_client(void *h, uint32_t ev, shmipc__waitable *w) { return shmipc__reqresp_client_waitable(h, ev, w); }

int shmipc_waitset_add_channel(shmipc_waitset *ws, shmipc_channel *ch, uint32_t events, uint64_t user)
{
    uint32_t natural = 0;
    if (ch && events == 0) {
        /* 0: the end's natural direction, which the waitable derives from the role. */
        shmipc__waitable probe;
        natural = shmipc__channel_waitable(ch, SHMIPC_WAITSET_IN, &probe) == 0 ? SHMIPC_WAITSET_IN : SHMIPC_WAITSET_OUT;
    }
    return ws_add(ws, ch, events, user, natural, ws_channel);
}

int shmipc_waitset_add_queue(shmipc_waitset *ws, shmipc_queue *q, uint32_t events, uint64_t user)
{
    return ws_add(ws, q, events, user, SHMIPC_WAITSET_IN, ws_queue);
}

int shmipc_waitset_add_event(shmipc_waitset *ws, shmipc_event *ev, uint32_t events, uint64_t user)
{
    return ws_add(ws, ev, events, user, SHMIPC_WAITSET_IN, ws_event);
}

int shmipc_waitset_add_listener(shmipc_waitset *ws, shmipc_evsvc_listener *l, uint32_t events, uint64_t user)
{
    return ws_add(ws, l, events, user, SHMIPC_WAITSET_IN, ws_listener);
}

int shmipc_waitset_add_subscriber(shmipc_waitset *ws, shmipc_pubsub_subscriber *sub, uint32_t events, uint64_t user)
{
    return ws_add(ws, sub, events, user, SHMIPC_WAITSET_IN, ws_subscriber);
}

int shmipc_waitset_add_server(shmipc_waitset *ws, shmipc_reqresp_server *srv, uint32_t events, uint64_t user)
{
    return ws_add(ws, srv, events, user, SHMIPC_WAITSET_IN, ws_server);
}

int shmipc_waitset_add_client(shmipc_waitset *ws, shmipc_reqresp_client *cli, uint32_t events, uint64_t user)
{
    return ws_add(ws, cli, events, user, SHMIPC_WAITSET_IN, ws_client);
}

int shmipc_waitset_remove(shmipc_waitset *ws, const void *handle)
{
    if (!ws || !handle)
        return -EINVAL;
    int i = ws_find(ws, handle);
    if (i < 0)
        return -ENOENT;
    ws_disarm(ws); /* the watcher must stop touching the handle's words before it can be closed */
    ws->nwords -= ws->e[i].w.nwords;
    memmove(&ws->e[i], &ws->e[i + 1], (ws->n - (unsigned)i - 1) * sizeof ws->e[0]);
    ws->n--;
    if (ws->next >= ws->n)
        ws->next = 0;
    return 0;
}

/* What a scan fills: the caller's array. */
typedef struct ws_scan {
    shmipc_waitset *ws;
    shmipc_waitset_ready *out;
    size_t cap, k;
} ws_scan;

/* Visit every entry once from the round-robin start; record up to cap ready ones. */
static size_t ws_scan_all(ws_scan *s, bool slow)
{
    shmipc_waitset *ws = s->ws;
    s->k = 0;
    unsigned last = ws->next;
    for (unsigned v = 0; v < ws->n && s->k < s->cap; v++) {
        unsigned i = (ws->next + v) % ws->n;
        ws_entry *e = &ws->e[i];
        uint32_t got = e->w.ready(e->handle, e->events, slow);
        if (got) {
            s->out[s->k++] = (shmipc_waitset_ready){.handle = e->handle, .user = e->user, .events = got};
            last = i + 1;
        }
    }
    if (s->k)
        ws->next = last % ws->n;
    return s->k;
}

static int ws_cond(void *arg, bool slow) { return ws_scan_all(arg, slow) ? 1 : 0; }

static unsigned ws_words(const shmipc_waitset *ws, shmipc__notify **words)
{
    unsigned k = 0;
    for (unsigned i = 0; i < ws->n; i++)
        for (unsigned j = 0; j < ws->e[i].w.nwords; j++)
            words[k++] = ws->e[i].w.words[j];
    words[k++] = (shmipc__notify *)&ws->kick; /* nobody else bumps it: a set with no words sleeps too */
    return k;
}

static void ws_signal(shmipc_waitset *ws)
{
    uint64_t one = 1;
    /* Cannot fail but by overflow of the counter (2^64 - 1 writes without a read). */
    ssize_t r = write(ws->efd, &one, sizeof one);
    (void)r;
}

/* Nothing was ready: announce on every word, look once more, and hand the words to the watcher. The
 * announcement before the look is the sleeper's half of every pattern's handshake, so a change after
 * the look wakes the watcher. Returns what the look found (then nothing is armed). */
static size_t ws_arm(shmipc_waitset *ws, ws_scan *s)
{
    pthread_mutex_lock(&ws->mu);
    if (ws->armed) {
        pthread_mutex_unlock(&ws->mu);
        return 0;
    }
    unsigned n = ws_words(ws, ws->armed_words);
    for (unsigned i = 0; i < n; i++)
        ws->armed_seen[i] = shmipc__notify_prepare(ws->armed_words[i]);
    size_t k = ws_scan_all(s, false);
    if (k) {
        for (unsigned i = 0; i < n; i++)
            shmipc__notify_cancel(ws->armed_words[i]);
    } else {
        ws->armed_n = n;
        ws->armed = true;
        pthread_cond_signal(&ws->cv);
    }
    pthread_mutex_unlock(&ws->mu);
    return k;
}

int shmipc_waitset_wait(shmipc_waitset *ws, int timeout_ms, shmipc_waitset_ready *ready, size_t cap)
{
    if (!ws || !ready || cap == 0)
        return -EINVAL;
    if (ws->n == 0)
        return -ENOENT;
    if (ws->efd >= 0) {
        uint64_t v;
        ssize_t r = read(ws->efd, &v, sizeof v); /* drain; -EAGAIN when it was quiet */
        (void)r;
    }
    ws_scan s = {.ws = ws, .out = ready, .cap = cap};
    int r = ws_scan_all(&s, false) ? 0 : -EAGAIN;
    if (r) {
        /* Nothing ready: a try-once wait (the event loop's) still runs the between-slices checks (dead
         * peers) once per slice. Only now, so that a wait with something ready makes no system call. */
        uint64_t now = shmipc__now_ns();
        if (now >= ws->next_slow) {
            ws->next_slow = now + SHMIPC__WAIT_SLICE_NS;
            r = ws_scan_all(&s, true) ? 0 : -EAGAIN;
        }
    }
    if (r && timeout_ms != 0) {
        shmipc__notify *words[WS_MAX_WORDS];
        shmipc__wait_spec spec = {.notifies = words,
                                  .nnotify = ws_words(ws, words),
                                  .mode = SHMIPC_WAIT_HYBRID,
                                  .timeout_ms = timeout_ms, .relative = true,
                                  .adapt = &ws->adapt};
        r = shmipc__wait(&spec, ws_cond, &s);
    }
    if (ws->efd >= 0) {
        if (r == 0)
            ws_signal(ws); /* level-triggered: come back while something may be left */
        else if (ws_arm(ws, &s))
            r = 0, ws_signal(ws);
    }
    return r ? r : (int)s.k;
}

/* The watcher: sleeps on the armed words (and the kick word), then writes the descriptor. It touches
 * only the notify words, which stay mapped while armed (remove and close disarm first). */
static void *ws_watch(void *arg)
{
    shmipc_waitset *ws = arg;
    pthread_mutex_lock(&ws->mu);
    for (;;) {
        while (!ws->armed && !ws->stop)
            pthread_cond_wait(&ws->cv, &ws->mu);
        if (ws->stop)
            break;
        unsigned n = ws->armed_n;
        pthread_mutex_unlock(&ws->mu);
        /* Until a word moves, or one slice: an idle loop then looks for dead peers (slow checks). The
         * sleep retracts the announcements. */
        shmipc__notify_sleep_many(ws->armed_words, ws->armed_seen, n, shmipc__now_ns() + SHMIPC__WAIT_SLICE_NS);
        pthread_mutex_lock(&ws->mu);
        ws->armed = false;
        pthread_cond_broadcast(&ws->cv);
        ws_signal(ws);
    }
    if (ws->armed) { /* stopped while armed and never slept: retract */
        for (unsigned i = 0; i < ws->armed_n; i++)
            shmipc__notify_cancel(ws->armed_words[i]);
        ws->armed = false;
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

int shmipc_waitset_fd(shmipc_waitset *ws)
{
    if (!ws)
        return -EINVAL;
    if (ws->efd >= 0)
        return ws->efd;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    ws->efd = fd;
    /* The watcher takes no signals: they belong to the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&ws->thread, NULL, ws_watch, ws);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        close(fd);
        ws->efd = -1;
        return -r;
    }
    ws_signal(ws); /* readable at first: the loop's first wait arms the set */
    return fd;
}
