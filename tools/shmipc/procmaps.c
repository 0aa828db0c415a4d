/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/procmaps.c - which processes map which shared objects, found by reading every
 * /proc/PID/maps. The kernel keeps no list of a shared-memory object's users that another process can
 * query, so this scan is how `segment ls`, `segment info` (and later `gc` and `top`) name the attached pids.
 * Only processes whose maps we may read are seen (all of them for root, our own user's otherwise).
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DELETED_SUFFIX " (deleted)"

static int add_mapping(cli_procmaps *pm, pid_t pid, const char *path, size_t len, bool deleted)
{
    /* A process maps one object in several areas (header and data, guard pages): keep one entry. */
    for (size_t i = pm->n; i > 0; i--) {
        const cli_mapping *m = &pm->v[i - 1];
        if (m->pid != pid)
            break; /* entries of this pid are the last ones added */
        if (m->deleted == deleted && strlen(m->path) == len && !memcmp(m->path, path, len))
            return 0;
    }
    if (pm->n == pm->cap) {
        size_t cap = pm->cap ? 2 * pm->cap : 64;
        cli_mapping *v = realloc(pm->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        pm->v = v;
        pm->cap = cap;
    }
    char *copy = strndup(path, len);
    if (!copy)
        return -ENOMEM;
    pm->v[pm->n++] = (cli_mapping){.pid = pid, .deleted = deleted, .path = copy};
    return 0;
}

static int scan_pid(cli_procmaps *pm, pid_t pid, const char *prefix)
{
    char file[64];
    snprintf(file, sizeof file, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(file, "re");
    if (!f) {
        if (errno == EACCES || errno == EPERM)
            pm->unreadable++;
        return 0; /* gone already, or not ours to read */
    }
    size_t plen = strlen(prefix);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int err = 0;
    while (!err && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        /* address perms offset dev inode, then blanks, then the path (which may itself hold blanks) */
        int start = -1;
        if (sscanf(line, "%*s %*s %*s %*s %*s %n", &start) < 0 || start < 0 || start >= len)
            continue;
        const char *path = line + start;
        size_t n = (size_t)len - (size_t)start;
        if (n <= plen || memcmp(path, prefix, plen) != 0)
            continue;
        bool deleted = false;
        size_t dl = strlen(DELETED_SUFFIX);
        if (n > plen + dl && !memcmp(path + n - dl, DELETED_SUFFIX, dl)) {
            deleted = true;
            n -= dl;
        }
        err = add_mapping(pm, pid, path + plen, n - plen, deleted);
    }
    /* Reading maps of another user's process can also fail here rather than at open. */
    if (ferror(f) && (errno == EACCES || errno == EPERM))
        pm->unreadable++;
    free(line);
    fclose(f);
    return err;
}

static int mapping_cmp(const void *a, const void *b)
{
    const cli_mapping *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c)
        return c;
    if (x->deleted != y->deleted)
        return x->deleted ? 1 : -1;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

int cli_procmaps_scan(cli_procmaps *pm, const char *prefix)
{
    memset(pm, 0, sizeof *pm);
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    pid_t self = getpid();
    int err = 0;
    struct dirent *e;
    while (!err && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 0 || pid == self)
            continue; /* our own mappings are the tool's, not users of the object */
        err = scan_pid(pm, (pid_t)pid, prefix);
    }
    closedir(d);
    if (pm->n > 1)
        qsort(pm->v, pm->n, sizeof *pm->v, mapping_cmp);
    return err;
}

size_t cli_procmaps_pids(const cli_procmaps *pm, const char *path, bool deleted, pid_t *out, size_t cap)
{
    size_t count = 0;
    for (size_t i = 0; i < pm->n; i++) {
        const cli_mapping *m = &pm->v[i];
        if (m->deleted != deleted || strcmp(m->path, path) != 0)
            continue;
        if (count < cap)
            out[count] = m->pid;
        count++;
    }
    return count;
}

void cli_procmaps_free(cli_procmaps *pm)
{
    for (size_t i = 0; i < pm->n; i++)
        free(pm->v[i].path);
    free(pm->v);
    memset(pm, 0, sizeof *pm);
}
