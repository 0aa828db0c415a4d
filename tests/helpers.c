/* SPDX-License-Identifier: MIT */
/* tests/helpers.c - shared test helpers (see helpers.h). */
#include "helpers.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *test_name(char *buf, size_t cap, const char *tag)
{
    static unsigned counter;
    snprintf(buf, cap, "/shmipc-test-%d-%u-%s", (int)getpid(), counter++, tag ? tag : "x");
    return buf;
}

pid_t test_fork(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg) & 0xff);
    return pid;
}

uint64_t test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll interval of the conditions below (no event to wait for): not a synchronisation by itself. */
static void poll_pause(void) { nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); }

int test_until(int (*cond)(void *), void *arg, int timeout_ms)
{
    uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (cond(arg))
            return 0;
        if (test_now_ms() > end)
            return -ETIMEDOUT;
        poll_pause();
    }
}

int test_until_at_least(_Atomic uint32_t *word, uint32_t n, int timeout_ms)
{
    uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
    /* Relaxed: only the value is awaited; what the caller then does synchronises through the library. */
    while (atomic_load_explicit(word, memory_order_relaxed) < n) {
        if (test_now_ms() > end)
            return -ETIMEDOUT;
        poll_pause();
    }
    return 0;
}

/* 1: tid sleeps in futex / futex_waitv; 0: it does not; -1: /proc/TID/syscall unreadable. */
static int in_futex_wait(pid_t tid)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (f) {
        long nr = -1;
        int ok = fgets(buf, sizeof buf, f) != NULL && sscanf(buf, "%ld", &nr) == 1;
        fclose(f);
        if (ok) {
#ifdef SYS_futex_waitv
            if (nr == SYS_futex_waitv)
                return 1;
#endif
            return nr == SYS_futex;
        }
    }
    /* No syscall file (kernel without it, or no ptrace access): asleep at all is the best we can see. */
    snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    char state = 0;
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    const char *rp = ok ? strrchr(buf, ')') : NULL; /* the command name may hold spaces and ')' */
    if (rp && rp[1] == ' ')
        state = rp[2];
    return state == 'S';
}

int test_until_futex_wait(pid_t tid, int timeout_ms)
{
    uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int r = in_futex_wait(tid);
        if (r > 0)
            return 0;
        if (r < 0 || test_now_ms() > end)
            return -ETIMEDOUT;
        poll_pause();
    }
}

int test_signal(int fd)
{
    char c = 's';
    ssize_t n;
    do
        n = write(fd, &c, 1);
    while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -errno;
}

int test_await(int fd, int timeout_ms)
{
    uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = test_now_ms();
        int left = now >= end ? 0 : (int)(end - now);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1)
            return 0;
        if (n == 0)
            return -EPIPE;
        if (errno != EINTR)
            return -errno;
    }
}

int test_wait(pid_t pid, int timeout_ms)
{
    uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
            return -1;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (test_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        poll_pause(); /* waitpid has no timeout: poll the exit with a deadline */
    }
}

int test_is_root(void) { return geteuid() == 0; }

int test_become_nobody(void)
{
    if (geteuid() != 0)
        return -EPERM;
    struct passwd *pw = getpwnam("nobody");
    uid_t uid = pw ? pw->pw_uid : 65534;
    gid_t gid = pw ? pw->pw_gid : 65534;
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return -errno;
    return 0;
}

void test_fill(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

int test_check(const void *buf, size_t len, uint64_t seed)
{
    const unsigned char *p = buf;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (p[i] != (unsigned char)x)
            return -1;
    }
    return 0;
}

#if defined(__x86_64__)
#define TEST_NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__)
#define TEST_NATIVE_ARCH AUDIT_ARCH_ARM
#endif

static volatile sig_atomic_t test_trapped;
static void test_on_sigsys(int sig)
{
    (void)sig;
    test_trapped++;
}

int test_trapped_syscalls(void) { return (int)test_trapped; }

int test_seccomp_usable(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        test_exit_group(test_trap_syscalls() == 0 ? 0 : 1);
    return pid > 0 && test_wait(pid, 10000) == 0;
}

int test_trap_syscalls(void)
{
#ifdef TEST_NATIVE_ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_NATIVE_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = test_on_sigsys;
    if (sigaction(SIGSYS, &sa, NULL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -errno;
    return 0;
#else
    return -ENOSYS;
#endif
}
