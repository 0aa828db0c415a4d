/* SPDX-License-Identifier: MIT */
/*
 * service/discovery.c - finding services with no daemon: scanning /dev/shm for "shmipc.<pattern>.<name>"
 * segments, describing them read-only for tools, and gc (reclaiming dead participants and removing
 * services that no live process uses).
 */
#include "service/service_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void svc_fill_info(shmipc__svc *svc, const char *name, shmipc_service_info *info)
{
    shmipc__svc_hdr *h = svc->hdr;
    memset(info, 0, sizeof *info);
    snprintf(info->segment, sizeof info->segment, "%s", svc->segname);
    info->pattern = svc->pattern; /* validated at open; the header word may have changed since */
    if (h) {
        /* Bounded: the terminator checked at open may have been overwritten since. */
        snprintf(info->name, sizeof info->name, "%.*s", (int)sizeof h->name, h->name);
        info->type = h->type;
        info->type.name[sizeof info->type.name - 1] = '\0';
    } else {
        snprintf(info->name, sizeof info->name, "%s", name); /* an object is named by its segment */
    }
    info->max_participants = svc->nparts;
    shmipc_segment_info si;
    if (shmipc_segment_info_get(svc->seg, &si) == 0) {
        info->uid = si.uid;
        info->creator = si.creator;
        info->created_ns = si.created_ns;
    }
    for (uint32_t i = 0; i < svc->nparts; i++) {
        shmipc__participant *pt = &svc->parts[i];
        uint64_t o = atomic_load_explicit(&pt->owner, memory_order_acquire);
        if (!o)
            continue;
        int alive = shmipc__owner_alive(o);
        info->participants++;
        info->dead += !alive;
        if (info->nlisted < SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS) {
            shmipc_service_participant_info *pi = &info->participant[info->nlisted++];
            pi->proc.pid = shmipc__owner_pid(o);
            pi->proc.start_time = pt->start_time;
            pi->slot = i;
            pi->role = pt->role;
            pi->alive = alive;
        }
    }
    const shmipc__pattern_ops *ops = shmipc__pattern_lookup(info->pattern);
    if (!h) {
        uint32_t n = ops && ops->object_stats ? ops->object_stats(svc, info->stat_names, info->stats) : 0;
        info->nstats = n <= SHMIPC_SERVICE_MAX_STATS ? n : SHMIPC_SERVICE_MAX_STATS;
        if (ops && ops->describe)
            ops->describe(svc, info->options, sizeof info->options);
        return;
    }
    /* One load, then the check, then only the local: a second fetch could exceed the arrays. */
    uint32_t nstats = __atomic_load_n(&h->nstats, __ATOMIC_RELAXED);
    info->nstats = nstats <= SHMIPC_SERVICE_MAX_STATS ? nstats : 0;
    for (uint32_t i = 0; i < info->nstats; i++) {
        memcpy(info->stat_names[i], h->stat_names[i], sizeof info->stat_names[i]);
        info->stat_names[i][sizeof info->stat_names[i] - 1] = '\0';
        info->stats[i] = atomic_load_explicit(&h->stats[i], memory_order_relaxed);
    }
    if (ops && ops->derived_stats)
        ops->derived_stats(svc, info->stats, info->nstats);
    if (ops && ops->describe)
        ops->describe(svc, info->options, sizeof info->options);
}

int shmipc_service_describe(shmipc_pattern pattern, const char *name, shmipc_service_info *info)
{
    if (!info)
        return -EINVAL;
    shmipc__svc svc;
    int err = shmipc__svc_open(pattern, name, NULL, SHMIPC_SEG_RDONLY | SHMIPC_SEG_ALLOW_FOREIGN, &svc);
    if (err)
        return err;
    svc_fill_info(&svc, name, info);
    shmipc__svc_close(&svc);
    return 0;
}

/* Parse "shmipc.<pattern>.<name>" (a /dev/shm entry). Returns 0 and fills pattern/name, or -EINVAL. */
static int svc_parse_entry(const char *entry, shmipc_pattern *pattern, char *name, size_t cap)
{
    if (strncmp(entry, "shmipc.", 7) != 0)
        return -EINVAL;
    const char *p = entry + 7, *dot = strchr(p, '.');
    if (!dot)
        return -EINVAL;
    for (int pt = SHMIPC_PATTERN_PUBSUB; pt <= SHMIPC_PATTERN_EVENT; pt++) {
        const char *pn = shmipc_service_pattern_name((shmipc_pattern)pt);
        if ((size_t)(dot - p) == strlen(pn) && !strncmp(p, pn, (size_t)(dot - p))) {
            *pattern = (shmipc_pattern)pt;
            if (snprintf(name, cap, "%s", dot + 1) >= (int)cap)
                return -EINVAL;
            return shmipc_service_name_check(name);
        }
    }
    return -EINVAL;
}

/* Is the entry a named channel or queue segment ("/<entry>" of that segment type)? Returns 0 and fills
 * pattern/name, or -EINVAL. Only the segment header is read (validated by the segment layer); the channel
 * or queue header is validated when it is described. */
static int obj_parse_entry(const char *entry, shmipc_pattern *pattern, char *name, size_t cap)
{
    if (shmipc_service_name_check(entry) || snprintf(name, cap, "%s", entry) >= (int)cap)
        return -EINVAL;
    char segname[SHMIPC_SERVICE_NAME_MAX + 32];
    if (shmipc__svc_segname(SHMIPC_PATTERN_CHANNEL, name, NULL, segname, sizeof segname))
        return -EINVAL;
    shmipc_segment_info si;
    memset(&si, 0, sizeof si);
    if (shmipc_segment_stat(segname, &si))
        return -EINVAL; /* unreadable, foreign or corrupt: not described (gc of a named one still sees it) */
    if (si.type == SHMIPC_TYPE_CHANNEL)
        *pattern = SHMIPC_PATTERN_CHANNEL;
    else if (si.type == SHMIPC_TYPE_QUEUE)
        *pattern = SHMIPC_PATTERN_QUEUE;
    else
        return -EINVAL;
    return 0;
}

typedef int (*svc_visit_fn)(shmipc_pattern pattern, const char *name, void *arg);

static int svc_scan(svc_visit_fn fn, void *arg)
{
    DIR *d;
    int oerr = shmipc__name_opendir(&d); /* /dev/shm, or the directory of shmipc_segment_set_dir */
    if (oerr)
        return oerr;
    struct dirent *e;
    int err = 0;
    while ((e = readdir(d)) != NULL) {
        shmipc_pattern pattern;
        char name[SHMIPC_SERVICE_NAME_MAX + 1];
        if (svc_parse_entry(e->d_name, &pattern, name, sizeof name) &&
            obj_parse_entry(e->d_name, &pattern, name, sizeof name))
            continue;
        err = fn(pattern, name, arg);
        if (err)
            break;
    }
    closedir(d);
    return err;
}

typedef struct svc_list_ctx {
    shmipc_service_info *items;
    size_t count, cap;
} svc_list_ctx;

static int svc_list_visit(shmipc_pattern pattern, const char *name, void *arg)
{
    svc_list_ctx *c = arg;
    if (c->count == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        shmipc_service_info *n = realloc(c->items, ncap * sizeof *n);
        if (!n)
            return -ENOMEM;
        c->items = n;
        c->cap = ncap;
    }
    /* Companion segments ("NAME.pool") parse as services too; describe rejects them (wrong type). */
    if (shmipc_service_describe(pattern, name, &c->items[c->count]) == 0)
        c->count++;
    return 0;
}

int shmipc_service_list(shmipc_service_info **list, size_t *count)
{
    if (!list || !count)
        return -EINVAL;
    svc_list_ctx c = {0};
    int err = svc_scan(svc_list_visit, &c);
    if (err) {
        free(c.items);
        return err;
    }
    *list = c.items;
    *count = c.count;
    return 0;
}

typedef struct svc_gc_ctx {
    int keep_unused;
    shmipc_service_gc_report rep;
} svc_gc_ctx;

static int svc_gc_one(shmipc_pattern pattern, const char *name, svc_gc_ctx *c, bool named)
{
    char segname[SHMIPC_SERVICE_NAME_MAX + 32];
    int err = shmipc__svc_segname(pattern, name, NULL, segname, sizeof segname);
    if (err)
        return err;
    shmipc_segment_info si;
    err = shmipc_segment_stat(segname, &si);
    if (err == -ENOENT)
        return named ? -ENOENT : 0;
    if (err && err != -EBADMSG && err != -EPROTO) {
        /* Not even described (another user's 0600 object gives -EACCES): si holds nothing to judge by. */
        c->rep.skipped++;
        return named ? (err == -EACCES ? -EPERM : err) : 0;
    }
    if (si.uid != geteuid()) {
        c->rep.skipped++;
        return named ? -EPERM : 0;
    }
    c->rep.services_seen++;
    if (err == 0 && !si.ready) {
        /* Creator died before finishing: nobody can ever use it. (No creator pid yet: being created now.) */
        if (si.creator.pid > 0 && !si.creator_alive && !c->keep_unused && shmipc_segment_unlink(segname) == 0) {
            c->rep.services_removed++;
            const shmipc__pattern_ops *ops = shmipc__pattern_lookup(pattern);
            if (ops && ops->unlink_companions)
                ops->unlink_companions(name); /* it may have created them before dying */
        }
        return 0;
    }
    shmipc__svc svc;
    err = shmipc__svc_open(pattern, name, NULL, 0, &svc);
    if (err) {
        c->rep.skipped++;
        return 0; /* a companion segment, another pattern's, or corrupt: never removed blindly */
    }
    int n = shmipc__svc_reclaim_dead(&svc);
    if (n > 0)
        c->rep.participants_reclaimed += (uint32_t)n;
    int in_use = shmipc__svc_in_use(&svc);
    shmipc__svc_close(&svc);
    /* A channel or queue keeps its messages while nobody has it open: it is removed only once its creator
     * is gone too (a live creator may open it again). */
    if (shmipc__pattern_is_object(pattern) && si.creator_alive)
        in_use = 1;
    if (!in_use && !c->keep_unused) {
        if (shmipc_segment_unlink(segname) == 0)
            c->rep.services_removed++;
        const shmipc__pattern_ops *ops = shmipc__pattern_lookup(pattern);
        if (ops && ops->unlink_companions)
            ops->unlink_companions(name);
    }
    return 0;
}

static int svc_gc_visit(shmipc_pattern pattern, const char *name, void *arg)
{
    svc_gc_one(pattern, name, arg, false);
    return 0;
}

int shmipc_service_gc(shmipc_pattern pattern, const char *name, int keep_unused, shmipc_service_gc_report *report)
{
    svc_gc_ctx c = {.keep_unused = keep_unused};
    int err;
    if (name)
        err = svc_gc_one(pattern, name, &c, true);
    else
        err = svc_scan(svc_gc_visit, &c);
    if (report)
        *report = c.rep;
    return err;
}
