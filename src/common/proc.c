/* SPDX-License-Identifier: MIT */
/*
 * common/proc.c - process identity that survives pid reuse (pid + start time from /proc/PID/stat) and
 * liveness checks that treat zombies as dead.
 */
#include "common/internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t shmipc__proc_start_time(int pid, bool *zombie)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return 0;
    /* Relative to a descriptor of /proc, not the path "/proc/PID/stat": qemu-user (cross-built tests)
     * replaces what a process reads at "/proc/self/..." and "/proc/<its own pid>/..." with invented
     * contents, whose start time differs per thread and is inherited across fork, so that a process
     * would not recognise its own identity and would take live peers for dead ones. The kernel's file is
     * the same either way. */
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0)
        return 0;
    snprintf(path, sizeof path, "%d/stat", pid);
    int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
    close(proc);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* The command name (field 2) is in parentheses and may itself contain spaces or ')': fields after
     * it are found from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    p += 2; /* field 3: state */
    if (zombie)
        *zombie = (*p == 'Z' || *p == 'X' || *p == 'x');
    /* Skip fields 3..21 to reach field 22 (starttime). */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    unsigned long long st = strtoull(p, NULL, 10);
    return st == 0 ? 1 : (uint64_t)st; /* 0 is reserved for "unknown" */
}

int shmipc__proc_alive_masked(int pid, uint64_t expect, uint64_t mask)
{
    if (pid <= 0)
        return 0;
    bool zombie = false;
    uint64_t st = shmipc__proc_start_time(pid, &zombie);
    if (st == 0)
        return kill(pid, 0) == 0 || errno == EPERM; /* exists but unreadable: cannot verify, assume alive */
    return !zombie && (st & mask) == (expect & mask);
}

int shmipc_proc_self(shmipc_proc_id *id)
{
    if (!id)
        return -EINVAL;
    id->pid = (int32_t)getpid();
    id->reserved = 0;
    id->start_time = shmipc__proc_start_time(id->pid, NULL);
    return id->start_time ? 0 : -ENOENT;
}

int shmipc_proc_alive(const shmipc_proc_id *id)
{
    if (!id || id->pid <= 0)
        return 0;
    return shmipc__proc_alive_masked(id->pid, id->start_time, id->start_time ? UINT64_MAX : 0);
}
