/* SPDX-License-Identifier: MIT */
/*
 * service/core.c - creating, opening and validating a service's main segment, and the participant table:
 * join, leave, and the crash-safe reclaim of dead participants (protocol in service_internal.h).
 */
#include "service/service_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t pattern_seg_type(shmipc_pattern p)
{
    switch (p) {
    case SHMIPC_PATTERN_PUBSUB: return SHMIPC_TYPE_PUBSUB;
    case SHMIPC_PATTERN_REQRESP: return SHMIPC_TYPE_REQRESP;
    case SHMIPC_PATTERN_BLACKBOARD: return SHMIPC_TYPE_BLACKBOARD;
    case SHMIPC_PATTERN_EVENT: return SHMIPC_TYPE_EVSVC;
    case SHMIPC_PATTERN_CHANNEL: return SHMIPC_TYPE_CHANNEL;
    case SHMIPC_PATTERN_QUEUE: return SHMIPC_TYPE_QUEUE;
    default: return 0;
    }
}

static size_t svc_table_end(uint32_t nparts)
{
    return SHMIPC_SVC_HDR_SIZE + (size_t)nparts * sizeof(shmipc__participant);
}

/* Validate everything the core reads from the header; fill svc's derived pointers. */
static int svc_validate(shmipc__svc *svc, shmipc_pattern pattern, const char *name)
{
    shmipc__svc_hdr *h = svc->hdr;
    size_t data = shmipc_segment_data_size(svc->seg);
    if (data < SHMIPC_SVC_HDR_SIZE || h->magic != SHMIPC_SVC_MAGIC) {
        shmipc__svc_set_detail("service header: bad magic");
        return -EBADMSG;
    }
    if (h->version != SHMIPC_SVC_VERSION) {
        shmipc__svc_set_detail("service header: version %u, library knows %u", h->version, SHMIPC_SVC_VERSION);
        return -EPROTO;
    }
    if (h->pattern != (uint32_t)pattern) {
        shmipc__svc_set_detail("pattern: service is %s, caller asked %s", shmipc_service_pattern_name(h->pattern),
                               shmipc_service_pattern_name(pattern));
        return -EPROTOTYPE;
    }
    if (memchr(h->name, '\0', sizeof h->name) == NULL || (name && strcmp(h->name, name) != 0) ||
        memchr(h->type.name, '\0', sizeof h->type.name) == NULL) {
        shmipc__svc_set_detail("service header: name not terminated or not matching");
        return -EBADMSG;
    }
    uint32_t np = h->max_participants, poff = h->pattern_off, psize = h->pattern_size;
    if (np == 0 || np > SHMIPC_SVC_MAX_PARTICIPANTS || h->participants_off != SHMIPC_SVC_HDR_SIZE ||
        poff < svc_table_end(np) || poff % SHMIPC_CACHELINE || poff > data || psize > data - poff ||
        h->nstats > SHMIPC_SERVICE_MAX_STATS) {
        shmipc__svc_set_detail("service header: participant table or pattern area out of range");
        return -EBADMSG;
    }
    svc->pattern = pattern;
    svc->nparts = np;
    svc->parts = (shmipc__participant *)((char *)h + SHMIPC_SVC_HDR_SIZE);
    svc->pattern_area = (char *)h + poff;
    svc->pattern_size = psize;
    /* A copy, terminated again: a peer may rewrite the header's after this check. */
    svc->type = h->type;
    svc->type.name[sizeof svc->type.name - 1] = '\0';
    return 0;
}

int shmipc__svc_in_use(const shmipc__svc *svc)
{
    for (uint32_t i = 0; i < svc->nparts; i++) {
        uint64_t o = atomic_load_explicit(&svc->parts[i].owner, memory_order_acquire);
        if (o && shmipc__owner_alive(o))
            return 1;
    }
    return 0;
}

/* A name exists: is it a stale service nobody uses (creator dead before ready, or no live participant)? */
static int svc_is_stale(shmipc_pattern pattern, const char *segname)
{
    shmipc_segment_info info;
    int err = shmipc_segment_stat(segname, &info);
    if (err == -ENOENT)
        return 1;
    if (err && err != -EBADMSG && err != -EPROTO)
        return 0; /* not even described (-EACCES, ...): info holds nothing to judge by */
    if (info.uid != geteuid())
        return 0; /* never remove another user's object: squatting is refused by the caller */
    /* Unready: stale only if its creator is known and dead. A header with no creator yet is one being
     * written right now (the creator sizes the object before it stores its pid): never take it. */
    if (err == 0 && !info.ready)
        return info.creator.pid > 0 && !info.creator_alive;
    if (err)
        return 0; /* corrupt or foreign: leave it for a human (shmipc gc / rm) */
    shmipc__svc tmp = {0};
    shmipc_segment_opts o = {.size = sizeof o, .type = pattern_seg_type(pattern), .ready_timeout_ms = -1};
    if (shmipc_segment_open(segname, &o, &tmp.seg))
        return 0;
    tmp.hdr = shmipc_segment_data(tmp.seg);
    int stale = svc_validate(&tmp, pattern, NULL) == 0 && !shmipc__svc_in_use(&tmp) && !info.creator_alive;
    shmipc_segment_close(tmp.seg);
    return stale;
}

int shmipc__svc_create(const shmipc__svc_params *p, shmipc__svc *svc)
{
    memset(svc, 0, sizeof *svc);
    int err = shmipc__svc_segname(p->pattern, p->name, NULL, svc->segname, sizeof svc->segname);
    if (err)
        return err;
    uint32_t np = p->max_participants;
    if (np == 0 || np > SHMIPC_SVC_MAX_PARTICIPANTS || p->nstats > SHMIPC_SERVICE_MAX_STATS ||
        p->pattern_size > UINT32_MAX / 2)
        return -EINVAL;
    if (p->type && (memchr(p->type->name, '\0', sizeof p->type->name) == NULL ||
                    (p->type->align & (p->type->align - 1))))
        return -EINVAL;
    size_t poff = shmipc__align_up(svc_table_end(np), SHMIPC_CACHELINE);
    size_t total = poff + p->pattern_size;
    shmipc_segment_opts o = {.size = sizeof o, .mode = p->mode, .type = pattern_seg_type(p->pattern),
                             .flags = SHMIPC_SEG_DEFER_READY};
    for (int attempt = 0;; attempt++) {
        err = shmipc_segment_create(svc->segname, total, &o, &svc->seg);
        if (err != -EEXIST || attempt > 0)
            break;
        /* A restarted process must be able to recreate its service without manual cleanup. */
        if (!svc_is_stale(p->pattern, svc->segname))
            break;
        shmipc_segment_unlink(svc->segname);
    }
    if (err)
        return err;
    shmipc__svc_hdr *h = svc->hdr = shmipc_segment_data(svc->seg);
    h->magic = SHMIPC_SVC_MAGIC;
    h->version = SHMIPC_SVC_VERSION;
    h->pattern = (uint32_t)p->pattern;
    h->flags = p->flags;
    snprintf(h->name, sizeof h->name, "%s", p->name);
    if (p->type)
        h->type = *p->type;
    h->max_participants = np;
    h->participants_off = SHMIPC_SVC_HDR_SIZE;
    h->pattern_off = (uint32_t)poff;
    h->pattern_size = (uint32_t)p->pattern_size;
    h->nstats = p->nstats;
    for (uint32_t i = 0; i < p->nstats; i++)
        snprintf(h->stat_names[i], sizeof h->stat_names[i], "%s", p->stat_names[i]);
    err = svc_validate(svc, p->pattern, p->name);
    if (err) {
        shmipc_segment_close(svc->seg);
        shmipc_segment_unlink(svc->segname);
        svc->seg = NULL;
    }
    return err;
}

int shmipc__svc_publish(shmipc__svc *svc) { return shmipc_segment_publish(svc->seg); }

static int type_check(const shmipc_type_info *have, const shmipc_type_info *want)
{
    static const shmipc_type_info zero;
    if (!want || !memcmp(want, &zero, sizeof zero))
        return 0;
    if (strncmp(have->name, want->name, sizeof have->name) != 0) {
        shmipc__svc_set_detail("payload type: service has \"%s\", caller asked \"%s\"", have->name, want->name);
        return -EPROTOTYPE;
    }
    if (have->size != want->size) {
        shmipc__svc_set_detail("payload size: service has %llu, caller asked %llu",
                               (unsigned long long)have->size, (unsigned long long)want->size);
        return -EPROTOTYPE;
    }
    uint32_t ha = have->align ? have->align : 8, wa = want->align ? want->align : 8;
    if (ha != wa) {
        shmipc__svc_set_detail("payload alignment: service has %u, caller asked %u", ha, wa);
        return -EPROTOTYPE;
    }
    return 0;
}

int shmipc__svc_open(shmipc_pattern pattern, const char *name, const shmipc_type_info *type, unsigned seg_flags,
                     shmipc__svc *svc)
{
    memset(svc, 0, sizeof *svc);
    shmipc__svc_set_detail("%s", "");
    int err = shmipc__svc_segname(pattern, name, NULL, svc->segname, sizeof svc->segname);
    if (err)
        return err;
    shmipc_segment_opts o = {.size = sizeof o, .type = pattern_seg_type(pattern), .flags = seg_flags};
    err = shmipc_segment_open(svc->segname, &o, &svc->seg);
    if (err)
        return err;
    if (shmipc__pattern_is_object(pattern)) {
        /* A channel or queue: its own header carries the endpoint table; no service header. */
        const shmipc__pattern_ops *ops = shmipc__pattern_lookup(pattern);
        svc->pattern = pattern;
        err = ops && ops->open_object ? ops->open_object(svc) : -EPROTOTYPE;
        if (err) {
            shmipc_segment_close(svc->seg);
            svc->seg = NULL;
        }
        return err;
    }
    svc->hdr = shmipc_segment_data(svc->seg);
    err = svc_validate(svc, pattern, name);
    if (!err)
        err = type_check(&svc->type, type);
    const shmipc__pattern_ops *ops = shmipc__pattern_lookup(pattern);
    if (!err && ops && ops->validate)
        err = ops->validate(svc);
    if (err) {
        shmipc_segment_close(svc->seg);
        svc->seg = NULL;
    }
    return err;
}

void shmipc__svc_close(shmipc__svc *svc)
{
    if (svc && svc->seg) {
        shmipc_segment_close(svc->seg);
        svc->seg = NULL;
    }
}

/* Claim slot pt for me (CAS from free); fill its fields. Returns true if claimed. */
static bool part_claim(shmipc__participant *pt, uint64_t me, const shmipc_proc_id *self, uint32_t role,
                       uint32_t user)
{
    uint64_t expect = 0;
    /* acq_rel: acquire pairs with the release that freed the slot (its previous owner's or reclaimer's
     * writes are complete); release is not needed for the claim itself. */
    if (atomic_load_explicit(&pt->owner, memory_order_relaxed) != 0 ||
        !atomic_compare_exchange_strong_explicit(&pt->owner, &expect, me, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    atomic_store_explicit(&pt->state, SHMIPC__PART_CLAIMED, memory_order_relaxed);
    pt->role = role;
    pt->user = user;
    pt->pid = self->pid;
    pt->start_time = self->start_time;
    /* release: role/user/pid are complete before anyone sees ACTIVE. */
    atomic_store_explicit(&pt->state, SHMIPC__PART_ACTIVE, memory_order_release);
    return true;
}

int shmipc__svc_join(shmipc__svc *svc, uint32_t role, uint32_t user)
{
    uint64_t me = shmipc__owner_self();
    if (!me)
        return -ESRCH;
    shmipc_proc_id self;
    shmipc_proc_self(&self);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < svc->nparts; i++)
            if (part_claim(&svc->parts[i], me, &self, role, user))
                return (int)i;
        if (pass == 0 && shmipc__svc_reclaim_dead(svc) <= 0)
            break;
    }
    return -EUSERS;
}

static int svc_reclaim_slot(shmipc__svc *svc, uint32_t i, uint64_t owner);

int shmipc__svc_join_slot(shmipc__svc *svc, uint32_t slot, uint32_t role, uint32_t user)
{
    if (slot >= svc->nparts)
        return -EINVAL;
    uint64_t me = shmipc__owner_self();
    if (!me)
        return -ESRCH;
    shmipc_proc_id self;
    shmipc_proc_self(&self);
    shmipc__participant *pt = &svc->parts[slot];
    for (int pass = 0; pass < 2; pass++) {
        if (part_claim(pt, me, &self, role, user))
            return (int)slot;
        /* acquire: a dead owner's id is judged (and its slot reclaimed) with its writes visible. */
        uint64_t cur = atomic_load_explicit(&pt->owner, memory_order_acquire);
        if (cur != 0 && (cur == me || shmipc__owner_alive(cur)))
            return -EBUSY;
        /* Dead (or freed meanwhile: the claim is simply tried again): the one reclaim path. */
        if (cur != 0 && pass == 0)
            svc_reclaim_slot(svc, slot, cur);
    }
    return -EBUSY; /* a live process is reclaiming it, or another claimer won the freed slot */
}

void shmipc__svc_leave(shmipc__svc *svc, uint32_t slot)
{
    if (slot >= svc->nparts)
        return;
    shmipc__participant *pt = &svc->parts[slot];
    uint64_t me = shmipc__owner_self();
    if (atomic_load_explicit(&pt->owner, memory_order_relaxed) != me)
        return; /* not ours any more (reclaimed while we were judged dead): leave it alone */
    /* release: the pattern's cleanup (and, for a channel end, its last index stores) is visible to whoever
     * sees VACATED with an acquire load. */
    atomic_store_explicit(&pt->state, SHMIPC__PART_VACATED, memory_order_release);
    /* release: the pattern's cleanup is visible before the slot can be claimed again. CAS so that a
     * slot somebody else owns (after a reclaim we did not expect) is never freed by us. */
    atomic_compare_exchange_strong_explicit(&pt->owner, &me, 0, memory_order_release, memory_order_relaxed);
}

/* Reclaim slot i whose owner (dead) is 'owner'. Returns 1 if this call reclaimed it, 0 if skipped. */
static int svc_reclaim_slot(shmipc__svc *svc, uint32_t i, uint64_t owner)
{
    shmipc__participant *pt = &svc->parts[i];
    uint64_t me = shmipc__owner_self();
    uint64_t r = atomic_load_explicit(&pt->reclaimer, memory_order_acquire);
    /* A live process is reclaiming it; that may be another thread of ours (r == me), which must not be
     * joined: it could free the slot and a newcomer claim it while we still run the pattern reclaim. */
    if (r != 0 && (r == me || shmipc__owner_alive(r)))
        return 0;
    /* Take the reclaimer word: from 0, or from a reclaimer that died halfway (we then finish its job). */
    if (!atomic_compare_exchange_strong_explicit(&pt->reclaimer, &r, me, memory_order_acq_rel, memory_order_relaxed))
        return 0;
    /* The slot may have been reclaimed and claimed again since we looked: only reclaim that same owner. */
    if (atomic_load_explicit(&pt->owner, memory_order_acquire) != owner) {
        atomic_compare_exchange_strong_explicit(&pt->reclaimer, &me, 0, memory_order_release, memory_order_relaxed);
        return 0;
    }
    /* The pattern validated at open, not the header's word: a peer could point us at another pattern's
     * reclaim, which would read an area validated for this one as its own. */
    const shmipc__pattern_ops *ops = shmipc__pattern_lookup(svc->pattern);
    if (ops && ops->reclaim)
        ops->reclaim(svc, i, pt->role, pt->user);
    /* release: what the pattern reclaim wrote is visible to whoever sees VACATED with acquire. */
    atomic_store_explicit(&pt->state, SHMIPC__PART_VACATED, memory_order_release);
    /* Order: owner freed (CAS, release), then the reclaimer word. The other order let a second reclaimer
     * take the word, still find the dead owner and run the pattern reclaim again after we freed the slot
     * and a newcomer claimed it, reclaiming the newcomer's resources. Dying before the owner CAS leaves
     * the dead owner and a dead reclaimer: the next reclaimer redoes the (idempotent) pattern reclaim.
     * Dying between the two leaves only a dead reclaimer word, which the next reclaim takes over. */
    int won = atomic_compare_exchange_strong_explicit(&pt->owner, &owner, 0, memory_order_release,
                                                      memory_order_relaxed);
    atomic_compare_exchange_strong_explicit(&pt->reclaimer, &me, 0, memory_order_release, memory_order_relaxed);
    return won;
}

int shmipc__svc_reclaim_dead(shmipc__svc *svc)
{
    int n = 0;
    for (uint32_t i = 0; i < svc->nparts; i++) {
        uint64_t o = atomic_load_explicit(&svc->parts[i].owner, memory_order_acquire);
        if (o && !shmipc__owner_alive(o))
            n += svc_reclaim_slot(svc, i, o);
    }
    return n;
}
