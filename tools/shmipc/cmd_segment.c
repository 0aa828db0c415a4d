/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_segment.c - `shmipc segment ...`: create, ls, info, read, write, grow and rm named POSIX
 * segments through the public segment API. Listing and inspecting use shmipc_segment_stat, which reads any
 * owner's header without opening the segment for use; reading maps it read-only. Every offset and length
 * is checked against the data area before the mapping is touched, and copies from the mapping survive a
 * peer truncating the object (SIGBUS becomes an error).
 */
#include "cli.h"
#include "msg.h"

#include <shmipc/shmipc.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Where named segments live: /dev/shm, or the directory of --dir / SHMIPC_DIR (shmipc_segment_get_dir). */
#define SHM_DIR shmipc_segment_get_dir()

/* SHM_DIR with a trailing '/', the prefix of the mapped files in /proc/PID/maps. */
static const char *shm_prefix(void)
{
    static char buf[SHMIPC_DIR_MAX + 2];
    snprintf(buf, sizeof buf, "%s/", SHM_DIR);
    return buf;
}
#define SEG_CHUNK (64 * 1024) /* bytes copied out of (or into) the mapping at a time */

/* A name given on the command line, with the '/' added if it was left out; one more byte than the longest
 * valid name so that an overlong one is detected rather than cut. */
typedef cli_seg_name seg_name_buf;

static const char *const type_names[] = {
    [SHMIPC_TYPE_RAW] = "raw",
    [SHMIPC_TYPE_CHANNEL] = "channel",
    [SHMIPC_TYPE_QUEUE] = "queue",
    [SHMIPC_TYPE_EVENT] = "event",
    [SHMIPC_TYPE_PUBSUB] = "pubsub",
    [SHMIPC_TYPE_PUBSUB_POOL] = "pubsub-pool",
    [SHMIPC_TYPE_REQRESP] = "reqresp",
    [SHMIPC_TYPE_BLACKBOARD] = "blackboard",
};
#define TYPE_NAMES_LEN (sizeof type_names / sizeof type_names[0])

/* The tag's name, or its number in buf. */
static const char *type_str(uint32_t type, char *buf, size_t cap)
{
    if (type < TYPE_NAMES_LEN && type_names[type])
        return type_names[type];
    snprintf(buf, cap, "%" PRIu32, type);
    return buf;
}

static int parse_type(const char *s, uint32_t *out)
{
    for (size_t i = 0; i < TYPE_NAMES_LEN; i++) {
        if (type_names[i] && !strcmp(s, type_names[i])) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    uint64_t v;
    int err = cli_parse_uint(s, 0, UINT32_MAX, &v);
    if (err == 0)
        *out = (uint32_t)v;
    return err;
}

/* cli_parse for a command whose first argument is NAME, normalised to "/NAME" and validated by msg.c's
 * cli_parse_named (shared with the channel and queue commands). */
static int seg_parse(const cli_spec *spec, int argc, char **argv, char ***args, seg_name_buf name)
{
    int nargs;
    return cli_parse_named(spec, argc, argv, args, &nargs, name);
}

/* Parse a size-like option value (N with K/M/G suffix); returns 0 or (after saying why) CLI_USAGE. */
static int opt_size(const cli_spec *spec, const char *what, const char *s, uint64_t *out)
{
    int err = cli_parse_size(s, out);
    if (err == -ERANGE)
        return cli_usage_error(spec, "%s '%s' is too large", what, s);
    if (err)
        return cli_usage_error(spec, "bad %s '%s' (want a number of bytes, optionally with K, M or G)", what, s);
    return 0;
}

static const char *user_name(uint32_t uid, char *buf, size_t cap)
{
    const struct passwd *pw = getpwuid(uid);
    if (pw)
        return pw->pw_name;
    snprintf(buf, cap, "%" PRIu32, uid);
    return buf;
}

static const char *group_name(uint32_t gid, char *buf, size_t cap)
{
    const struct group *gr = getgrgid(gid);
    if (gr)
        return gr->gr_name;
    snprintf(buf, cap, "%" PRIu32, gid);
    return buf;
}

/* The pids (other than ours) that map /dev/shm/<name without '/'> now, as a malloc'ed array. */
static size_t attached_pids(const cli_procmaps *pm, const char *name, pid_t **out)
{
    const char *path = name[0] == '/' ? name + 1 : name;
    size_t n = cli_procmaps_pids(pm, path, false, NULL, 0);
    *out = n ? calloc(n, sizeof **out) : NULL;
    if (!*out)
        return 0;
    return cli_procmaps_pids(pm, path, false, *out, n);
}

/* Copy s into dst (cap bytes) with bytes that are not printable ASCII written as \xNN, so that a hostile
 * file name cannot inject terminal escapes into a listing. */
static void escape_name(const char *s, char *dst, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 0x20 && c < 0x7f && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = '\0';
}

/* The library opens names with shm_open, which blocks forever on a FIFO that someone placed in /dev/shm;
 * refuse anything but a regular file first (-EBADMSG, as for any other object that is not a segment).
 * A FIFO swapped in after this check still blocks: the library itself should open with O_NONBLOCK. */
static int seg_check_file(const char *name)
{
    char path[SHMIPC_DIR_MAX + sizeof(seg_name_buf)];
    snprintf(path, sizeof path, "%s%s", SHM_DIR, name);
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? -ENOENT : 0; /* let the library report anything else its own way */
    return S_ISREG(st.st_mode) ? 0 : -EBADMSG;
}

static int seg_stat(const char *name, shmipc_segment_info *info)
{
    int err = seg_check_file(name);
    return err ? err : shmipc_segment_stat(name, info);
}

/* Open name for read or write; on failure, say why (with more context than the errno text where it helps)
 * and return CLI_ERR. */
static int seg_open(const char *name, const shmipc_segment_opts *opts, shmipc_segment **out)
{
    int err = seg_check_file(name);
    if (!err)
        err = shmipc_segment_open(name, opts, out);
    if (err == -EPERM)
        fprintf(stderr, "shmipc: %s: %s (the segment belongs to another user)\n", name, cli_errtext(err));
    else if (err == -ETIMEDOUT)
        fprintf(stderr, "shmipc: %s: still being initialised by its creator (timed out waiting)\n", name);
    else if (err)
        cli_fail(name, err);
    return err ? CLI_ERR : CLI_OK;
}

/* ---- create ------------------------------------------------------------------------------------------ */

static int seg_create(int argc, char **argv)
{
    const char *mode_s = NULL, *type_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("mode", 'm', "MODE", &mode_s, "permission bits in octal, set exactly (default 0600)"),
        CLI_OPT_VALUE("type", 't', "TYPE", &type_s,
                      "type tag: raw (default), channel, queue, event, pubsub, pubsub-pool, reqresp, "
                      "blackboard, or a number"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc segment create",
        .args = "NAME SIZE",
        .summary = "Create the segment NAME with SIZE bytes of zero-filled data (K, M, G suffixes: powers of "
                   "1024).\nThe name must not exist yet; the memory is reserved now, so a full /dev/shm fails "
                   "here.",
        .opts = opts,
        .min_args = 2,
        .max_args = 2,
    };
    char **args;
    seg_name_buf name;
    uint64_t size;
    int rc = seg_parse(&spec, argc, argv, &args, name);
    if (rc != CLI_RUN)
        return rc;
    if ((rc = opt_size(&spec, "size", args[1], &size)))
        return rc;
    if (size == 0)
        return cli_usage_error(&spec, "size must be at least 1 byte");
    if (size > SIZE_MAX)
        return cli_fail(name, -EFBIG);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    if (mode_s) {
        uint64_t mode;
        if (cli_parse_uint(mode_s, 8, 07777, &mode) || mode == 0)
            return cli_usage_error(&spec, "bad mode '%s' (want octal permission bits such as 0600 or 644)", mode_s);
        o.mode = (unsigned)mode;
    }
    if (type_s && parse_type(type_s, &o.type))
        return cli_usage_error(&spec, "bad type '%s' (want a type name or a number below 2^32)", type_s);
    shmipc_segment *seg;
    int err = shmipc_segment_create(name, (size_t)size, &o, &seg);
    if (err)
        return cli_fail(name, err);
    shmipc_segment_close(seg);
    return CLI_OK;
}

/* ---- ls ---------------------------------------------------------------------------------------------- */

typedef enum seg_kind { KIND_SHMIPC, KIND_FOREIGN, KIND_UNREADABLE } seg_kind;

typedef struct seg_entry {
    char name[NAME_MAX + 2]; /* "/" + the /dev/shm entry */
    seg_kind kind;
    shmipc_segment_info info; /* complete for KIND_SHMIPC; file_size, mode, uid, gid only otherwise */
} seg_entry;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const seg_entry *)a)->name, ((const seg_entry *)b)->name);
}

/* Read /dev/shm into a sorted, malloc'ed array of entries; foreign and unreadable ones only if all. */
static int list_shm(bool all, seg_entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(SHM_DIR);
    if (!d)
        return -errno;
    seg_entry *v = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue; /* removed meanwhile, or not a file that shm_open could give */
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 32;
            seg_entry *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                err = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        seg_entry *s = &v[n];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "/%s", e->d_name);
        int r = shmipc_segment_name_check(s->name);
        if (r == 0)
            r = shmipc_segment_stat(s->name, &s->info);
        if (r == -ENOENT)
            continue;
        if (r == 0) {
            s->kind = KIND_SHMIPC;
        } else {
            s->kind = r == -EACCES ? KIND_UNREADABLE : KIND_FOREIGN;
            memset(&s->info, 0, sizeof s->info);
            s->info.file_size = (uint64_t)st.st_size;
            s->info.mode = st.st_mode & 07777;
            s->info.uid = st.st_uid;
            s->info.gid = st.st_gid;
        }
        if (s->kind == KIND_SHMIPC || all)
            n++;
    }
    closedir(d);
    if (err) {
        free(v);
        return err;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, entry_cmp);
    *out = v;
    *count = n;
    return 0;
}

static void json_pids(cli_json *j, const char *key, const pid_t *pids, size_t n)
{
    cli_json_begin(j, key, '[');
    for (size_t i = 0; i < n; i++)
        cli_json_int(j, NULL, pids[i]);
    cli_json_end(j, ']');
}

static void ls_json_entry(cli_json *j, const seg_entry *s, const pid_t *pids, size_t npids)
{
    char buf[32];
    const shmipc_segment_info *in = &s->info;
    bool ours = s->kind == KIND_SHMIPC;
    cli_json_begin(j, NULL, '{');
    cli_json_str(j, "name", s->name);
    cli_json_str(j, "kind", ours ? "shmipc" : s->kind == KIND_FOREIGN ? "foreign" : "unreadable");
    /* One meaning per member, the same in `segment info`: data_size (the data area), total_size
     * (header + data), file_size (the file); the first two are null for a file that is not a segment. */
    if (ours) {
        cli_json_uint(j, "data_size", in->data_size);
        cli_json_uint(j, "total_size", in->size);
    } else {
        cli_json_null(j, "data_size");
        cli_json_null(j, "total_size");
    }
    cli_json_uint(j, "file_size", in->file_size);
    snprintf(buf, sizeof buf, "%04" PRIo32, in->mode);
    cli_json_str(j, "mode", buf);
    cli_json_uint(j, "uid", in->uid);
    cli_json_str(j, "owner", user_name(in->uid, buf, sizeof buf));
    if (ours) {
        cli_json_str(j, "type", type_str(in->type, buf, sizeof buf));
        cli_json_uint(j, "type_id", in->type);
        cli_json_int(j, "creator_pid", in->creator.pid);
        cli_json_bool(j, "creator_alive", in->creator_alive == 1);
        cli_json_bool(j, "ready", in->ready == 1);
    } else {
        cli_json_null(j, "type");
        cli_json_null(j, "type_id");
        cli_json_null(j, "creator_pid");
        cli_json_null(j, "creator_alive");
        cli_json_null(j, "ready");
    }
    json_pids(j, "pids", pids, npids);
    cli_json_end(j, '}');
}

/* One row of the text table, formatted before the column widths are known. */
typedef struct ls_row {
    char name[4 * (NAME_MAX + 2)];
    char size[24], mode[8], owner[64], type[32], cpid[16], alive[8];
    char *pids;
} ls_row;

static void ls_format_row(ls_row *r, const seg_entry *s, const pid_t *pids, size_t npids)
{
    char buf[32];
    const shmipc_segment_info *in = &s->info;
    bool ours = s->kind == KIND_SHMIPC;
    escape_name(s->name, r->name, sizeof r->name);
    snprintf(r->size, sizeof r->size, "%" PRIu64, ours ? in->data_size : in->file_size);
    snprintf(r->mode, sizeof r->mode, "%04" PRIo32, in->mode & 07777);
    snprintf(r->owner, sizeof r->owner, "%s", user_name(in->uid, buf, sizeof buf));
    snprintf(r->type, sizeof r->type, "%s",
             ours ? type_str(in->type, buf, sizeof buf) : s->kind == KIND_FOREIGN ? "foreign" : "?");
    if (ours) {
        snprintf(r->cpid, sizeof r->cpid, "%" PRId32, in->creator.pid);
        snprintf(r->alive, sizeof r->alive, "%s", in->creator_alive == 1 ? "yes" : "no");
    } else {
        snprintf(r->cpid, sizeof r->cpid, "-");
        snprintf(r->alive, sizeof r->alive, "-");
    }
    size_t cap = npids * 12 + 2;
    r->pids = malloc(cap);
    if (!r->pids)
        return;
    size_t o = 0;
    for (size_t i = 0; i < npids; i++)
        o += (size_t)snprintf(r->pids + o, cap - o, "%s%d", i ? "," : "", (int)pids[i]);
    if (npids == 0)
        snprintf(r->pids, cap, "-");
}

static int seg_ls(int argc, char **argv)
{
    bool all = false, json = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("all", 'a', &all, "also list /dev/shm files that are not shmipc segments"),
        CLI_OPT_FLAG("json", 'j', &json, "print a JSON array of objects instead of a table"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc segment ls",
        .summary = "List the shmipc segments in /dev/shm: name, data size in bytes, mode, owner, type, creator "
                   "pid, whether\nthe creator still runs, and the pids that map the segment now.",
        .details = "Attached pids come from /proc/PID/maps; processes of other users are seen only by root.\n"
                   "With --all, other files are listed too, with type 'foreign' (not a shmipc segment) or '?'\n"
                   "(not readable by you).",
        .opts = opts,
    };
    char **args;
    int nargs, rc = cli_parse(&spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    seg_entry *v;
    size_t n;
    int err = list_shm(all, &v, &n);
    if (err)
        return cli_fail(SHM_DIR, err);
    cli_procmaps pm;
    err = cli_procmaps_scan(&pm, shm_prefix());
    if (err) {
        cli_procmaps_free(&pm);
        free(v);
        return cli_fail("/proc", err);
    }
    ls_row *rows = json ? NULL : calloc(n ? n : 1, sizeof *rows);
    if (!json && !rows) {
        cli_procmaps_free(&pm);
        free(v);
        return cli_fail("ls", -ENOMEM);
    }
    cli_json j;
    if (json) {
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '[');
    }
    int w[6] = {4, 4, 4, 5, 4, 4}; /* widths of NAME SIZE MODE OWNER TYPE CPID */
    for (size_t i = 0; i < n; i++) {
        pid_t *pids;
        size_t npids = attached_pids(&pm, v[i].name, &pids);
        if (json) {
            ls_json_entry(&j, &v[i], pids, npids);
        } else {
            ls_row *r = &rows[i];
            ls_format_row(r, &v[i], pids, npids);
            const char *cols[6] = {r->name, r->size, r->mode, r->owner, r->type, r->cpid};
            for (int c = 0; c < 6; c++)
                if ((int)strlen(cols[c]) > w[c])
                    w[c] = (int)strlen(cols[c]);
        }
        free(pids);
    }
    if (json) {
        cli_json_end(&j, ']');
    } else {
        printf("%-*s %*s %-*s %-*s %-*s %*s %-5s %s\n", w[0], "NAME", w[1], "SIZE", w[2], "MODE", w[3], "OWNER",
               w[4], "TYPE", w[5], "CPID", "ALIVE", "PIDS");
        for (size_t i = 0; i < n; i++) {
            const ls_row *r = &rows[i];
            printf("%-*s %*s %-*s %-*s %-*s %*s %-5s %s\n", w[0], r->name, w[1], r->size, w[2], r->mode, w[3],
                   r->owner, w[4], r->type, w[5], r->cpid, r->alive, r->pids ? r->pids : "?");
            free(r->pids);
        }
    }
    free(rows);
    cli_procmaps_free(&pm);
    free(v);
    if (fflush(stdout) != 0)
        return cli_fail("stdout", -errno);
    return CLI_OK;
}

/* ---- info -------------------------------------------------------------------------------------------- */

static const char *backing_str(shmipc_backing b)
{
    switch (b) {
    case SHMIPC_BACKING_POSIX: return "posix";
    case SHMIPC_BACKING_FILE: return "file";
    case SHMIPC_BACKING_MEMFD: return "memfd";
    default: return "unknown";
    }
}

/* The creation time (from the header: any value) as text; utc picks ISO 8601 UTC for JSON. */
static void format_time(uint64_t ns, bool utc, char *buf, size_t cap)
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (ns / 1000000000u > (uint64_t)INT32_MAX * 1000 || !(utc ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm))) {
        snprintf(buf, cap, "?");
        return;
    }
    char sec[48], zone[16] = "Z";
    strftime(sec, sizeof sec, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    if (!utc)
        strftime(zone, sizeof zone, " %z", &tm);
    snprintf(buf, cap, "%s.%03u%s", sec, (unsigned)(ns % 1000000000u / 1000000u), zone);
}

static int seg_info(int argc, char **argv)
{
    bool json = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("json", 'j', &json, "print a JSON object"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc segment info",
        .args = "NAME",
        .summary = "Show everything the header of segment NAME says, the object's size, mode and owner, and the "
                   "pids\nthat map it now. Works on any owner's segment that you may read.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    seg_name_buf name;
    int rc = seg_parse(&spec, argc, argv, &args, name);
    if (rc != CLI_RUN)
        return rc;
    shmipc_segment_info in;
    int err = seg_stat(name, &in);
    if (err)
        return cli_fail(name, err);
    cli_procmaps pm;
    err = cli_procmaps_scan(&pm, shm_prefix());
    if (err) {
        cli_procmaps_free(&pm);
        return cli_fail("/proc", err);
    }
    pid_t *pids;
    size_t npids = attached_pids(&pm, name, &pids);
    cli_procmaps_free(&pm);

    char tbuf[32], ubuf[32], gbuf[32], when[96], mode[8];
    const char *type = type_str(in.type, tbuf, sizeof tbuf);
    const char *owner = user_name(in.uid, ubuf, sizeof ubuf);
    const char *group = group_name(in.gid, gbuf, sizeof gbuf);
    snprintf(mode, sizeof mode, "%04" PRIo32, in.mode & 07777);
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        cli_json_str(&j, "name", in.name);
        cli_json_str(&j, "backing", backing_str(in.backing));
        cli_json_uint(&j, "version", in.version);
        cli_json_str(&j, "type", type);
        cli_json_uint(&j, "type_id", in.type);
        cli_json_bool(&j, "ready", in.ready == 1);
        cli_json_uint(&j, "data_size", in.data_size);
        cli_json_uint(&j, "total_size", in.size);
        cli_json_uint(&j, "file_size", in.file_size);
        cli_json_str(&j, "mode", mode);
        cli_json_uint(&j, "uid", in.uid);
        cli_json_str(&j, "owner", owner);
        cli_json_uint(&j, "gid", in.gid);
        cli_json_str(&j, "group", group);
        cli_json_int(&j, "creator_pid", in.creator.pid);
        cli_json_uint(&j, "creator_start_time", in.creator.start_time);
        cli_json_bool(&j, "creator_alive", in.creator_alive == 1);
        cli_json_uint(&j, "generation", in.generation);
        cli_json_uint(&j, "created_ns", in.created_ns);
        format_time(in.created_ns, true, when, sizeof when);
        cli_json_str(&j, "created", when);
        json_pids(&j, "pids", pids, npids);
        cli_json_end(&j, '}');
    } else {
        char esc[4 * sizeof in.name];
        escape_name(in.name, esc, sizeof esc);
        format_time(in.created_ns, false, when, sizeof when);
        printf("name:        %s\n", esc);
        printf("backing:     %s\n", backing_str(in.backing));
        printf("type:        %s (%" PRIu32 ")\n", type, in.type);
        printf("version:     %" PRIu32 "\n", in.version);
        printf("ready:       %s\n", in.ready == 1 ? "yes" : "no (still being initialised, or its creator died)");
        printf("data size:   %" PRIu64 " bytes\n", in.data_size);
        printf("total size:  %" PRIu64 " bytes (header included)\n", in.size);
        printf("file size:   %" PRIu64 " bytes\n", in.file_size);
        printf("mode:        %s\n", mode);
        printf("owner:       %s (uid %" PRIu32 ")\n", owner, in.uid);
        printf("group:       %s (gid %" PRIu32 ")\n", group, in.gid);
        printf("creator:     pid %" PRId32 ", start time %" PRIu64 ", %s\n", in.creator.pid, in.creator.start_time,
               in.creator_alive == 1 ? "alive" : "gone");
        printf("created:     %s\n", when);
        printf("generation:  %" PRIu32 " (times grown)\n", in.generation);
        printf("pids:        ");
        for (size_t i = 0; i < npids; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        printf("%s\n", npids ? "" : "-");
    }
    free(pids);
    if (fflush(stdout) != 0)
        return cli_fail("stdout", -errno);
    return CLI_OK;
}

/* ---- read -------------------------------------------------------------------------------------------- */

/* One xxd-style line: offset, 16 bytes in groups of two, the printable ones as text. */
static void hex_line(uint64_t off, const unsigned char *p, size_t n)
{
    char line[96];
    size_t o = (size_t)snprintf(line, sizeof line, "%08" PRIx64 ": ", off);
    for (size_t i = 0; i < 16; i++) {
        if (i < n)
            o += (size_t)snprintf(line + o, sizeof line - o, "%02x", p[i]);
        else
            o += (size_t)snprintf(line + o, sizeof line - o, "  ");
        if (i & 1)
            line[o++] = ' ';
    }
    line[o++] = ' ';
    for (size_t i = 0; i < n; i++)
        line[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
    line[o++] = '\n';
    fwrite(line, 1, o, stdout);
}

/* Check [offset, offset + length) against a data area of size bytes without overflow. */
static int check_range(const char *name, uint64_t off, uint64_t len, uint64_t size)
{
    if (off > size || len > size - off) {
        fprintf(stderr,
                "shmipc: %s: offset %" PRIu64 " + length %" PRIu64 " is out of range: the data area has %" PRIu64
                " bytes\n",
                name, off, len, size);
        return CLI_ERR;
    }
    return CLI_OK;
}

static int seg_read(int argc, char **argv)
{
    const char *off_s = NULL, *len_s = NULL;
    bool hex = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("offset", 'o', "N", &off_s, "first byte of the data area to read (default 0)"),
        CLI_OPT_VALUE("length", 'l', "N", &len_s, "bytes to read (default: up to the end of the data area)"),
        CLI_OPT_FLAG("hex", 'x', &hex, "print an xxd-style hex dump instead of the raw bytes"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc segment read",
        .args = "NAME",
        .summary = "Copy bytes of the data area of segment NAME to standard output (the segment is mapped "
                   "read-only;\nany owner's segment that you may read). N takes K, M, G suffixes.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    seg_name_buf name;
    uint64_t off = 0, len = 0;
    int rc = seg_parse(&spec, argc, argv, &args, name);
    if (rc != CLI_RUN)
        return rc;
    if ((off_s && (rc = opt_size(&spec, "offset", off_s, &off))) ||
        (len_s && (rc = opt_size(&spec, "length", len_s, &len))))
        return rc;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_RDONLY | SHMIPC_SEG_ANY_TYPE | SHMIPC_SEG_ALLOW_FOREIGN;
    shmipc_segment *seg;
    if (seg_open(name, &o, &seg))
        return CLI_ERR;
    const unsigned char *data = shmipc_segment_data(seg);
    uint64_t size = shmipc_segment_data_size(seg);
    if (!len_s && off <= size)
        len = size - off; /* default: to the end (an offset past it is refused just below) */
    if ((rc = check_range(name, off, len, size))) {
        shmipc_segment_close(seg);
        return rc;
    }
    unsigned char *buf = malloc(SEG_CHUNK);
    if (!buf) {
        shmipc_segment_close(seg);
        return cli_fail(name, -ENOMEM);
    }
    for (uint64_t done = 0; done < len && rc == CLI_OK;) {
        size_t n = len - done < SEG_CHUNK ? (size_t)(len - done) : SEG_CHUNK;
        if (cli_copy_guarded(buf, data + off + done, n)) {
            fflush(stdout);
            fprintf(stderr, "shmipc: %s: the segment was truncated while being read (bus error)\n", name);
            rc = CLI_ERR;
            break;
        }
        if (hex) {
            for (size_t i = 0; i < n; i += 16)
                hex_line(off + done + i, buf + i, n - i < 16 ? n - i : 16);
        } else if (fwrite(buf, 1, n, stdout) != n) {
            break; /* reported below by fflush/ferror */
        }
        done += n;
    }
    free(buf);
    shmipc_segment_close(seg);
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK)
        return cli_fail("stdout", errno ? -errno : -EIO);
    return rc;
}

/* ---- write ------------------------------------------------------------------------------------------- */

/* Read all of stdin, at most max bytes; *n > max (with max + 1 bytes read) means there was more. */
static int read_stdin(uint64_t max, unsigned char **out, size_t *n)
{
    size_t cap = 0, len = 0;
    unsigned char *buf = NULL;
    uint64_t limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX;
    for (;;) {
        if (len == cap) {
            if (len >= limit)
                break;
            size_t ncap = cap ? 2 * cap : SEG_CHUNK;
            if (ncap > limit)
                ncap = (size_t)limit;
            unsigned char *nb = realloc(buf, ncap ? ncap : 1);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(STDIN_FILENO, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = -errno;
            free(buf);
            return err;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    *out = buf;
    *n = len;
    return 0;
}

static int seg_write(int argc, char **argv)
{
    const char *off_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("offset", 'o', "N", &off_s, "where in the data area to start writing (default 0)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc segment write",
        .args = "NAME",
        .summary = "Copy standard input into the data area of segment NAME (yours only). Input that would run "
                   "past\nthe end of the data area is refused before anything is written.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    seg_name_buf name;
    uint64_t off = 0;
    int rc = seg_parse(&spec, argc, argv, &args, name);
    if (rc != CLI_RUN)
        return rc;
    if (off_s && (rc = opt_size(&spec, "offset", off_s, &off)))
        return rc;
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_ANY_TYPE;
    shmipc_segment *seg;
    if (seg_open(name, &o, &seg))
        return CLI_ERR;
    unsigned char *data = shmipc_segment_data(seg);
    uint64_t size = shmipc_segment_data_size(seg);
    unsigned char *in = NULL;
    size_t n = 0;
    if ((rc = check_range(name, off, 0, size)) == CLI_OK) {
        int err = read_stdin(size - off, &in, &n);
        if (err)
            rc = cli_fail("stdin", err);
        else if (n > size - off)
            rc = check_range(name, off, n, size); /* says why; nothing was written */
        else if (cli_copy_guarded(data + off, in, n)) {
            fprintf(stderr, "shmipc: %s: the segment was truncated while being written (bus error)\n", name);
            rc = CLI_ERR;
        }
    }
    free(in);
    shmipc_segment_close(seg);
    return rc;
}

/* ---- grow -------------------------------------------------------------------------------------------- */

static int seg_grow(int argc, char **argv)
{
    const cli_spec spec = {
        .prog = "shmipc segment grow",
        .args = "NAME SIZE",
        .summary = "Enlarge the data area of segment NAME (yours only) to SIZE bytes for every process; the new "
                   "bytes are\nzero-filled. Shrinking is refused.",
        .min_args = 2,
        .max_args = 2,
    };
    char **args;
    seg_name_buf name;
    uint64_t size;
    int rc = seg_parse(&spec, argc, argv, &args, name);
    if (rc != CLI_RUN)
        return rc;
    if ((rc = opt_size(&spec, "size", args[1], &size)))
        return rc;
    if (size > SIZE_MAX)
        return cli_fail(name, -EFBIG);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_ANY_TYPE;
    shmipc_segment *seg;
    if (seg_open(name, &o, &seg))
        return CLI_ERR;
    size_t cur = shmipc_segment_data_size(seg);
    int err;
    if (size < cur) {
        fprintf(stderr, "shmipc: %s: cannot shrink: the data area already has %zu bytes\n", name, cur);
        rc = CLI_ERR;
    } else if ((err = shmipc_segment_grow(seg, (size_t)size))) {
        rc = cli_fail(name, err);
    }
    shmipc_segment_close(seg);
    return rc;
}

/* ---- rm ---------------------------------------------------------------------------------------------- */

static int seg_rm(int argc, char **argv)
{
    bool force = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("force", 'f', &force, "remove the name even if it is not a shmipc segment"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc segment rm",
        .args = "NAME",
        .summary = "Remove the name of segment NAME. Processes that map it keep their view; the memory is freed "
                   "when\nthe last one unmaps it.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    seg_name_buf name;
    int rc = seg_parse(&spec, argc, argv, &args, name);
    if (rc != CLI_RUN)
        return rc;
    shmipc_segment_info in;
    int err = seg_stat(name, &in);
    if ((err == -EBADMSG || err == -EPROTO) && !force) {
        fprintf(stderr, "shmipc: %s: not a shmipc segment (%s); use --force to remove it anyway\n", name,
                cli_errtext(err));
        return CLI_ERR;
    }
    if (err == -ENOENT)
        return cli_fail(name, err);
    err = shmipc_segment_unlink(name);
    if (err)
        return cli_fail(name, err);
    return CLI_OK;
}

/* ---- the group --------------------------------------------------------------------------------------- */

static const cli_command segment_commands[] = {
    {"create", "create a segment", seg_create},
    {"ls", "list segments, with the pids that map them", seg_ls},
    {"info", "show all about one segment", seg_info},
    {"read", "copy data out of a segment (raw or hex dump)", seg_read},
    {"write", "copy standard input into a segment", seg_write},
    {"grow", "enlarge a segment's data area", seg_grow},
    {"rm", "remove a segment's name", seg_rm},
};

int cli_cmd_segment(int argc, char **argv)
{
    return cli_dispatch("shmipc segment", "Create, list, inspect, read, write, grow and remove named segments.",
                        segment_commands, sizeof segment_commands / sizeof segment_commands[0], argc, argv);
}
