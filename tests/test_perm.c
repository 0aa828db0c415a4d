/* SPDX-License-Identifier: MIT */
/*
 * tests/test_perm.c - who may use what, between users: private segments and services are unreadable to
 * other users, a group-shared one works for members of its group only, a name squatted by another user
 * is refused (never used), symbolic links are not followed, and gc never removes another user's service
 * nor one a live process uses. Needs root, which plays the other users in forked children that drop to
 * raw uids/gids with no passwd entry (setuid works on any uid as root); skipped otherwise.
 */
#include "helpers.h"
#include "service/service_internal.h"

#include <shmipc/blackboard.h>
#include <shmipc/reqresp.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UID_A 60001u /* the owner */
#define UID_B 60002u /* another user */
#define UID_C 60003u /* a third, outside the group */
#define GID_SHARED 60010u
#define GID_OTHER 60011u
#define PAT SHMIPC__PATTERN_TEST
#define WAIT_MS 30000

/* What a child does after dropping to a user. Returns 0 on success, else a code naming what failed. */
typedef int (*as_fn)(const char *name, int arg);

struct as_job {
    uid_t uid;
    gid_t gid;
    gid_t extra; /* a supplementary group, or 0 for none */
    as_fn fn;
    const char *name;
    int arg;
};

static int as_trampoline(void *p)
{
    struct as_job *j = p;
    gid_t groups[1] = {j->extra};
    if (setgroups(j->extra ? 1 : 0, groups) < 0 || setgid(j->gid) < 0 || setuid(j->uid) < 0)
        return 99;
    return j->fn(j->name, j->arg);
}

/* Run fn(name, arg) as uid/gid (plus group extra) in a child; returns its exit status. */
static int run_as(uid_t uid, gid_t gid, gid_t extra, as_fn fn, const char *name, int arg)
{
    struct as_job j = {uid, gid, extra, fn, name, arg};
    return test_wait(test_fork(as_trampoline, &j), WAIT_MS);
}

/* Compare a result with what is expected; the exit code says which step and which error. */
static int expect(int step, int got, int want)
{
    if (got == want)
        return 0;
    fprintf(stderr, "step %d: got %d (%s), expected %d\n", step, got, shmipc_strerror(got), want);
    return step;
}

static void svc_name(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "perm%d-%d-%s", (int)getpid(), n++, tag);
}

static int make_service(const char *name, unsigned mode, shmipc__svc *svc)
{
    shmipc__svc_params p = {.pattern = PAT, .name = name, .max_participants = 4, .pattern_size = 64, .mode = mode};
    int err = shmipc__svc_create(&p, svc);
    if (!err)
        err = shmipc__svc_publish(svc);
    return err;
}

static void svc_unlink(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    if (shmipc__svc_segname(PAT, name, NULL, seg, sizeof seg) == 0)
        shmipc_segment_unlink(seg);
}

static bool svc_exists(const char *name)
{
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    shmipc_segment_info info;
    return shmipc__svc_segname(PAT, name, NULL, seg, sizeof seg) == 0 && shmipc_segment_stat(seg, &info) == 0;
}

/* ---------------------------------------------------------------- child bodies ---- */

/* Create segment name (mode arg) holding "owner's"; a service of the same name when arg has bit 0x10000. */
static int c_create_seg(const char *name, int arg)
{
    shmipc_segment_opts o = {.size = sizeof o, .mode = (unsigned)arg & 0777};
    shmipc_segment *s;
    int err = shmipc_segment_create(name, 64, &o, &s);
    if (err)
        return expect(1, err, 0);
    strcpy(shmipc_segment_data(s), "owner's");
    shmipc_segment_close(s);
    return 0;
}

static int c_create_svc(const char *name, int mode)
{
    shmipc__svc svc;
    int err = make_service(name, (unsigned)mode, &svc);
    if (err)
        return expect(1, err, 0);
    shmipc__svc_close(&svc);
    return 0;
}

/* Open segment name as this user; arg = expected result of a plain open. With ALLOW_FOREIGN the result
 * is the same except that -EPERM (the owner check) becomes success. */
static int c_open_seg(const char *name, int want)
{
    shmipc_segment_opts o = {.size = sizeof o};
    shmipc_segment *s = NULL;
    int r, err = shmipc_segment_open(name, &o, &s);
    if ((r = expect(2, err, want)))
        return r;
    shmipc_segment_close(s);
    o.flags = SHMIPC_SEG_ALLOW_FOREIGN;
    s = NULL;
    err = shmipc_segment_open(name, &o, &s);
    if ((r = expect(3, err, want == -EPERM ? 0 : want)))
        return r;
    if (s && strcmp(shmipc_segment_data(s), "owner's") != 0)
        return 4;
    shmipc_segment_close(s);
    /* What tools do: stat reads any segment the user may read. */
    shmipc_segment_info info;
    err = shmipc_segment_stat(name, &info);
    return expect(5, err, want == -EACCES ? -EACCES : 0);
}

/* Open service name as this user; want = expected result of an open that accepts a foreign owner. */
static int c_open_svc(const char *name, int want)
{
    shmipc__svc svc;
    int r, err = shmipc__svc_open(PAT, name, NULL, SHMIPC_SEG_ALLOW_FOREIGN, &svc);
    if ((r = expect(2, err, want)))
        return r;
    if (!err) {
        int slot = shmipc__svc_join(&svc, SHMIPC_ROLE_SUBSCRIBER, 0);
        if (slot < 0)
            return expect(3, slot, 0);
        shmipc__svc_leave(&svc, (uint32_t)slot);
        shmipc__svc_close(&svc);
    }
    shmipc_service_info *info = malloc(sizeof *info);
    if (!info)
        return 4;
    err = shmipc_service_describe(PAT, name, info);
    free(info);
    if ((r = expect(5, err, want)))
        return r;
    /* Without ALLOW_FOREIGN a readable service of another user is still refused. */
    err = shmipc__svc_open(PAT, name, NULL, 0, &svc);
    if (!err)
        shmipc__svc_close(&svc);
    return expect(6, err, want == 0 ? -EPERM : want);
}

/* The squatted name: open_or_create and service creation must both refuse it. */
static int c_squat_victim(const char *name, int unused)
{
    (void)unused;
    shmipc_segment *s = NULL;
    int r, err = shmipc_segment_open_or_create(name, 64, NULL, &s);
    if ((r = expect(2, err, -EPERM)))
        return r;
    if (s)
        return 3;
    return 0;
}

static int c_squat_victim_svc(const char *name, int unused)
{
    (void)unused;
    shmipc__svc svc;
    int err = make_service(name, 0, &svc);
    if (err == 0) {
        shmipc__svc_close(&svc);
        return 2; /* it used (or replaced) the squatter's object */
    }
    return err == -EEXIST || err == -EACCES || err == -EPERM ? 0 : expect(3, err, -EEXIST);
}

/* A service with a dead participant: join, then exit without leaving. */
static int c_stale_svc(const char *name, int pattern)
{
    shmipc__svc_params p = {.pattern = (shmipc_pattern)pattern, .name = name, .max_participants = 4,
                            .pattern_size = 64};
    shmipc__svc svc;
    int err = shmipc__svc_create(&p, &svc);
    if (!err)
        err = shmipc__svc_publish(&svc);
    if (err)
        return expect(1, err, 0);
    int slot = shmipc__svc_join(&svc, SHMIPC_ROLE_PUBLISHER, 0);
    return slot < 0 ? expect(2, slot, 0) : 0;
}

static int c_gc_named(const char *name, int want)
{
    shmipc_service_gc_report rep;
    int r, err = shmipc_service_gc(PAT, name, 0, &rep);
    if ((r = expect(2, err, want)))
        return r;
    return rep.services_removed == (want == 0 ? 1u : 0u) ? 0 : 3;
}

static int c_gc_all(const char *name, int unused)
{
    (void)name;
    (void)unused;
    shmipc_service_gc_report rep;
    int err = shmipc_service_gc(0, NULL, 0, &rep);
    return expect(2, err, 0);
}


/* The public pattern APIs: a blackboard of this user with the given mode. */
static int c_bb_writer(const char *name, int mode)
{
    shmipc_blackboard_opts o = {.size = sizeof o, .value_size = 8, .mode = (unsigned)mode};
    shmipc_blackboard_writer *w;
    int err = shmipc_blackboard_writer_create(name, &o, &w);
    if (err)
        return expect(1, err, 0);
    uint64_t v = 42;
    err = shmipc_blackboard_write(w, 0, &v, sizeof v);
    shmipc_blackboard_writer_close(w);
    return expect(2, err, 0);
}

/* Open blackboard name as reader and as writer: both give want. */
static int c_pattern_open(const char *name, int want)
{
    shmipc_blackboard_reader *r = NULL;
    int res, err = shmipc_blackboard_reader_open(name, NULL, &r);
    shmipc_blackboard_reader_close(r);
    if ((res = expect(2, err, want)))
        return res;
    shmipc_blackboard_writer *w = NULL;
    err = shmipc_blackboard_writer_create(name, NULL, &w);
    shmipc_blackboard_writer_close(w);
    return expect(3, err, want);
}

/* Become the server of reqresp name, expecting want (the name is squatted). */
static int c_rr_server(const char *name, int want)
{
    shmipc_reqresp_server *srv = NULL;
    int err = shmipc_reqresp_server_create(name, NULL, &srv);
    shmipc_reqresp_server_close(srv);
    return err == 0 ? 2 : (want == 0 || err == want ? 0 : expect(3, err, want));
}

/* ---------------------------------------------------------------- tests ---- */

/* A default (0600) segment and service of A: B gets -EACCES however it asks. */
static void private_to_owner(void **state)
{
    (void)state;
    char name[64], svc[64];
    test_name(name, sizeof name, "priv");
    svc_name(svc, sizeof svc, "priv");
    assert_int_equal(run_as(UID_A, UID_A, 0, c_create_seg, name, 0), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_create_svc, svc, 0), 0);
    assert_int_equal(run_as(UID_B, UID_B, GID_SHARED, c_open_seg, name, -EACCES), 0);
    assert_int_equal(run_as(UID_B, UID_B, 0, c_open_svc, svc, -EACCES), 0);
    /* The owner itself: its own segment opens without ALLOW_FOREIGN. */
    assert_int_equal(run_as(UID_A, UID_A, 0, c_open_seg, name, 0), 0);
    shmipc_segment_unlink(name);
    svc_unlink(svc);
}

/* A's segment and service with mode 0660 and group G: B in G uses them (accepting a foreign owner);
 * C outside G gets -EACCES. */
static void group_shared(void **state)
{
    (void)state;
    char name[64], svc[64];
    test_name(name, sizeof name, "grp");
    svc_name(svc, sizeof svc, "grp");
    assert_int_equal(run_as(UID_A, GID_SHARED, 0, c_create_seg, name, 0660), 0);
    assert_int_equal(run_as(UID_A, GID_SHARED, 0, c_create_svc, svc, 0660), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(name, &info), 0);
    assert_int_equal(info.uid, UID_A);
    assert_int_equal(info.gid, GID_SHARED);
    assert_int_equal(info.mode & 0777, 0660);
    /* B as a supplementary member, and as primary group. */
    assert_int_equal(run_as(UID_B, UID_B, GID_SHARED, c_open_seg, name, -EPERM), 0);
    assert_int_equal(run_as(UID_B, GID_SHARED, 0, c_open_seg, name, -EPERM), 0);
    assert_int_equal(run_as(UID_B, UID_B, GID_SHARED, c_open_svc, svc, 0), 0);
    /* C is in another group only. */
    assert_int_equal(run_as(UID_C, GID_OTHER, 0, c_open_seg, name, -EACCES), 0);
    assert_int_equal(run_as(UID_C, GID_OTHER, 0, c_open_svc, svc, -EACCES), 0);
    shmipc_segment_unlink(name);
    svc_unlink(svc);
}

/* B creates A's names first, world-writable: A refuses them, and they stay B's, unchanged. */
static void squatted_names(void **state)
{
    (void)state;
    char name[64], svc[64], seg[SHMIPC_SERVICE_NAME_MAX + 32];
    test_name(name, sizeof name, "squat");
    svc_name(svc, sizeof svc, "squat");
    assert_int_equal(shmipc__svc_segname(PAT, svc, NULL, seg, sizeof seg), 0);
    assert_int_equal(run_as(UID_B, UID_B, 0, c_create_seg, name, 0666), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_squat_victim, name, 0), 0);
    /* A squatted service name: as a plain segment, and as a stale-looking service of B's. */
    assert_int_equal(run_as(UID_B, UID_B, 0, c_create_seg, seg, 0666), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_squat_victim_svc, svc, 0), 0);
    shmipc_segment_unlink(seg);
    assert_int_equal(run_as(UID_B, UID_B, 0, c_stale_svc, svc, PAT), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_squat_victim_svc, svc, 0), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(seg, &info), 0);
    assert_int_equal(info.uid, UID_B);
    assert_int_equal(shmipc_segment_stat(name, &info), 0);
    assert_int_equal(info.uid, UID_B);
    shmipc_segment_unlink(name);
    shmipc_segment_unlink(seg);
}

/* File-backed segments: a symbolic link at the path is refused (-ELOOP), dangling or not, and the file it
 * points to is neither created nor changed. Named segments: a link planted in /dev/shm likewise. */
static void symlinks_not_followed(void **state)
{
    (void)state;
    char dir[] = "/tmp/shmipc-perm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char target[128], link[128], dangling[128], missing[128];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(dangling, sizeof dangling, "%s/dangling", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_file_create(target, 64, NULL, &s), 0);
    strcpy(shmipc_segment_data(s), "target");
    shmipc_segment_close(s);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(symlink(missing, dangling), 0);
    assert_int_equal(shmipc_segment_file_open(link, NULL, &s), -ELOOP);
    assert_int_equal(shmipc_segment_file_create(link, 64, NULL, &s), -ELOOP);
    assert_int_equal(shmipc_segment_file_create(dangling, 64, NULL, &s), -ELOOP);
    assert_int_equal(shmipc_segment_file_open(dangling, NULL, &s), -ELOOP);
    assert_int_equal(access(missing, F_OK), -1); /* not created through the link */
    assert_int_equal(shmipc_segment_file_open(target, NULL, &s), 0);
    assert_string_equal(shmipc_segment_data(s), "target"); /* not changed through the link */
    shmipc_segment_close(s);

    /* /dev/shm is where another user could plant a link to a file of ours. */
    char name[64], shmpath[128], victim[64], vpath[128];
    test_name(name, sizeof name, "link");
    test_name(victim, sizeof victim, "victim");
    snprintf(shmpath, sizeof shmpath, "/dev/shm%s", name);
    snprintf(vpath, sizeof vpath, "/dev/shm%s", victim);
    assert_int_equal(shmipc_segment_create(victim, 64, NULL, &s), 0);
    shmipc_segment_close(s);
    assert_int_equal(symlink(vpath, shmpath), 0);
    assert_int_equal(shmipc_segment_open(name, NULL, &s), -ELOOP);
    int r = shmipc_segment_create(name, 64, NULL, &s); /* exclusive creation: the link's name is taken */
    assert_true(r == -EEXIST || r == -ELOOP);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(victim, &info), 0); /* the link's target is untouched */
    assert_int_equal(info.data_size, 64);
    assert_int_not_equal(shmipc_segment_stat(name, &info), 0);
    unlink(shmpath);
    shmipc_segment_unlink(victim);
    unlink(link);
    unlink(dangling);
    unlink(target);
    rmdir(dir);
}

/* gc never removes another user's service, even a stale one; the owner's own gc does. */
static void gc_spares_foreign(void **state)
{
    (void)state;
    char svc[64];
    svc_name(svc, sizeof svc, "gcf");
    assert_int_equal(run_as(UID_A, UID_A, 0, c_stale_svc, svc, PAT), 0);
    assert_true(svc_exists(svc));
    shmipc_service_gc_report rep;
    assert_int_equal(shmipc_service_gc(PAT, svc, 0, &rep), -EPERM); /* root: still not its service */
    assert_int_equal(rep.services_removed, 0);
    assert_int_equal(run_as(UID_B, UID_B, 0, c_gc_named, svc, -EPERM), 0);
    assert_true(svc_exists(svc));
    /* A stale service of a pattern gc scans for: B's scan of all services passes it over. */
    char seg[SHMIPC_SERVICE_NAME_MAX + 32];
    assert_int_equal(shmipc__svc_segname(SHMIPC_PATTERN_EVENT, svc, NULL, seg, sizeof seg), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_stale_svc, svc, SHMIPC_PATTERN_EVENT), 0);
    assert_int_equal(run_as(UID_B, UID_B, 0, c_gc_all, NULL, 0), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(seg, &info), 0);
    shmipc_segment_unlink(seg);
    /* The owner's gc removes the stale test-pattern service: the setup really was stale. */
    assert_int_equal(run_as(UID_A, UID_A, 0, c_gc_named, svc, 0), 0);
    assert_false(svc_exists(svc));
}

/* gc never removes a service a live process uses; once that process is dead, it reclaims and removes. */
static void gc_spares_live(void **state)
{
    (void)state;
    char svc[64];
    svc_name(svc, sizeof svc, "gcl");
    shmipc__svc s;
    assert_int_equal(make_service(svc, 0, &s), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        shmipc__svc c;
        char ok = shmipc__svc_open(PAT, svc, NULL, 0, &c) == 0 && shmipc__svc_join(&c, SHMIPC_ROLE_SUBSCRIBER, 0) >= 0;
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    assert_true(ok);
    shmipc__svc_close(&s);
    shmipc_service_gc_report rep;
    assert_int_equal(shmipc_service_gc(PAT, svc, 0, &rep), 0);
    assert_int_equal(rep.services_removed, 0);
    assert_int_equal(rep.participants_reclaimed, 0);
    assert_true(svc_exists(svc));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(shmipc_service_gc(PAT, svc, 0, &rep), 0);
    assert_int_equal(rep.participants_reclaimed, 1);
    assert_int_equal(rep.services_removed, 1);
    assert_false(svc_exists(svc));
    close(p[0]);
    close(p[1]);
}

/* The pattern APIs open services with the owner check on and offer no way to accept a foreign owner:
 * a group-readable blackboard of A is -EPERM to B in its group, -EACCES to C outside it.
 * A name of theirs squatted by B (world-writable) is refused by A's writer and server, and stays B's. */
static void pattern_services(void **state)
{
    (void)state;
    char name[64], seg[SHMIPC_SERVICE_NAME_MAX + 32];
    svc_name(name, sizeof name, "pat");
    assert_int_equal(run_as(UID_A, GID_SHARED, 0, c_bb_writer, name, 0660), 0);
    assert_int_equal(run_as(UID_B, UID_B, GID_SHARED, c_pattern_open, name, -EPERM), 0);
    assert_int_equal(run_as(UID_C, GID_OTHER, 0, c_pattern_open, name, -EACCES), 0);
    assert_int_equal(shmipc__svc_segname(SHMIPC_PATTERN_BLACKBOARD, name, NULL, seg, sizeof seg), 0);
    shmipc_segment_unlink(seg);

    /* Squatting, through the public creation paths. */
    assert_int_equal(run_as(UID_B, UID_B, 0, c_create_seg, seg, 0666), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_bb_writer, name, 0), 1); /* step 1: writer_open failed */
    char rr[SHMIPC_SERVICE_NAME_MAX + 32];
    assert_int_equal(shmipc__svc_segname(SHMIPC_PATTERN_REQRESP, name, NULL, rr, sizeof rr), 0);
    assert_int_equal(run_as(UID_B, UID_B, 0, c_create_seg, rr, 0666), 0);
    assert_int_equal(run_as(UID_A, UID_A, 0, c_rr_server, name, 0), 0);
    shmipc_segment_info info;
    assert_int_equal(shmipc_segment_stat(seg, &info), 0);
    assert_int_equal(info.uid, UID_B);
    assert_int_equal(shmipc_segment_stat(rr, &info), 0);
    assert_int_equal(info.uid, UID_B);
    shmipc_segment_unlink(seg);
    shmipc_segment_unlink(rr);
}

int main(void)
{
    if (!test_is_root()) {
        printf("skip: test_perm needs root to act as several users\n");
        return TEST_SKIP_RC;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(private_to_owner),
        cmocka_unit_test(group_shared),
        cmocka_unit_test(squatted_names),
        cmocka_unit_test(symlinks_not_followed),
        cmocka_unit_test(gc_spares_foreign),
        cmocka_unit_test(gc_spares_live),
        cmocka_unit_test(pattern_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
