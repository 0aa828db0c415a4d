/* SPDX-License-Identifier: MIT */
/*
 * tests/test_nosyscall.c - proof that waking through the notify protocol, and posting an event, make no
 * system call while nobody sleeps, and do make one when a waiter sleeps. The program re-runs itself in a
 * helper mode (--child-posts N [--with-waiter]) under `strace -f`; the helper brackets its hot loop
 * with two marker system calls (a write to descriptor -1) and the test counts what the marking thread
 * called between them. No ptrace code of our own: strace does the tracing; if it is missing or may not
 * trace (ptrace refused, e.g. by Yama or a container), the test skips with the reason.
 *
 * The strace runner (syscount_run / syscount_between) is self-contained so that other tests (channels,
 * queues) can copy it or, if it is moved to tests/helpers.c, call it.
 */
#include "helpers.h"

#include "sync/sync_internal.h"
#include <shmipc/event.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARK_PREFIX "shmipc-mark:"

/* ---- the reusable strace runner ---- */

/* Emit a marker the trace can find: write(-1, "shmipc-mark:LABEL:WHAT", n), which fails with EBADF. */
static void syscount_mark(const char *label, const char *what)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, MARK_PREFIX "%s:%s", label, what);
    long r = syscall(SYS_write, -1, buf, (size_t)n);
    (void)r;
}

/*
 * Run argv (argv[0] a path) under `strace -f -o trace_path`, its own output to log_path.
 * Returns the program's exit status (0..255) when it was traced, or -1 with a reason in why when strace
 * is missing or could not trace (the caller should skip). A LeakSanitizer run is switched off in the
 * traced program: it needs ptrace itself, which a traced process cannot have.
 */
static int syscount_run(char *const argv[], const char *trace_path, const char *log_path, char *why,
                        size_t cap)
{
    static const char *const dirs[] = {"/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"};
    const char *strace = NULL;
    for (size_t i = 0; i < SHMIPC_ARRAY_LEN(dirs) && !strace; i++)
        if (access(dirs[i], X_OK) == 0)
            strace = dirs[i];
    if (!strace) {
        snprintf(why, cap, "strace not installed (scripts/install-deps.sh installs it)");
        return -1;
    }
    char *args[64];
    int n = 0;
    args[n++] = (char *)strace;
    args[n++] = "-f";
    args[n++] = "-qq";
    args[n++] = "-o";
    args[n++] = (char *)trace_path;
    for (int i = 0; argv[i] && n < 63; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, cap, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        execv(strace, args);
        _exit(126);
    }
    int st = test_wait(pid, 120000);
    /* strace passes the program's status through; a trace without our markers means it never ran. */
    FILE *f = fopen(trace_path, "r");
    bool marked = false;
    char line[4096];
    while (f && !marked && fgets(line, sizeof line, f))
        marked = strstr(line, MARK_PREFIX) != NULL;
    if (f)
        fclose(f);
    if (!marked) {
        char msg[256] = "";
        FILE *lf = fopen(log_path, "r");
        if (lf) {
            if (!fgets(msg, sizeof msg, lf))
                msg[0] = '\0';
            fclose(lf);
        }
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(why, cap, "strace could not trace (status %d): %s", st, msg[0] ? msg : "no output");
        return -1;
    }
    return st;
}

/*
 * In a trace written by syscount_run, find the thread that wrote marker LABEL:begin and count the system
 * calls it made before LABEL:end: all of them in *total, and those named `name` (e.g. "futex") in
 * *named. Returns 0, or -1 if either marker is missing.
 */
static int syscount_between(const char *trace_path, const char *label, const char *name, long *total,
                            long *named)
{
    char begin[128], end[128];
    snprintf(begin, sizeof begin, "\"" MARK_PREFIX "%s:begin\"", label);
    snprintf(end, sizeof end, "\"" MARK_PREFIX "%s:end\"", label);
    size_t name_len = strlen(name);
    FILE *f = fopen(trace_path, "r");
    if (!f)
        return -1;
    long tid = -1;
    bool done = false;
    *total = *named = 0;
    char line[4096];
    while (!done && fgets(line, sizeof line, f)) {
        char *rest;
        long id = strtol(line, &rest, 10);
        while (*rest == ' ')
            rest++;
        if (tid < 0) {
            if (strstr(rest, begin))
                tid = id;
            continue;
        }
        if (id != tid)
            continue;
        if (strstr(rest, end)) {
            done = true;
            continue;
        }
        /* Signals ("---"), exits ("+++") and the second half of an interrupted call ("<...") are not
         * new system calls. */
        if (!strncmp(rest, "---", 3) || !strncmp(rest, "+++", 3) || !strncmp(rest, "<...", 4))
            continue;
        ++*total;
        if (!strncmp(rest, name, name_len) && rest[name_len] == '(')
            ++*named;
    }
    fclose(f);
    return done ? 0 : -1;
}

/* ---- helper mode: the process being traced ---- */

static int child_posts(long n, bool with_waiter)
{
    char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 10;
    shmipc__notify *nt = (shmipc__notify *)mem;
    shmipc__notify_init(nt);
    void *evmem = mem + 64;
    shmipc_event *ev, *wev;
    shmipc_event_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_BLOCK};
    if (shmipc_event_create_in(evmem, 64) || shmipc_event_open_in(evmem, 64, &o, &ev) ||
        shmipc_event_open_in(evmem, 64, &o, &wev))
        return 11;
    pid_t waiter = -1;
    if (with_waiter) {
        waiter = fork();
        if (waiter == 0) {
            long seen = 0;
            while (seen < n) {
                int r = shmipc_event_wait(wev, 30000);
                if (r < 0)
                    _exit(20);
                seen += r;
            }
            _exit(0);
        }
        /* Start only once the waiter sleeps, so that the first post has someone to wake. */
        shmipc__event_mem *m = evmem;
        uint64_t end = test_now_ms() + 30000;
        while (atomic_load(&m->notify.waiters) == 0 && test_now_ms() < end)
            usleep(1000);
    } else {
        syscount_mark("notify", "begin");
        for (long i = 0; i < n; i++)
            shmipc__notify_wake(nt, INT32_MAX);
        syscount_mark("notify", "end");
    }
    syscount_mark("event", "begin");
    for (long i = 0; i < n; i++)
        if (shmipc_event_post(ev))
            return 12;
    syscount_mark("event", "end");
    int rc = 0;
    if (waiter > 0)
        rc = test_wait(waiter, 30000) == 0 ? 0 : 13;
    shmipc_event_close(ev);
    shmipc_event_close(wev);
    munmap(mem, 4096);
    return rc;
}

/* ---- the tests ---- */

struct traced {
    char trace[128], log[128];
};

static int run_helper(struct traced *t, const char *posts, bool with_waiter, char *why, size_t cap)
{
    snprintf(t->trace, sizeof t->trace, "/tmp/shmipc-nosyscall-%d.trace", (int)getpid());
    snprintf(t->log, sizeof t->log, "/tmp/shmipc-nosyscall-%d.log", (int)getpid());
    char *argv[] = {"/proc/self/exe", "--child-posts", (char *)posts, with_waiter ? "--with-waiter" : NULL,
                    NULL};
    /* /proc/self/exe would name strace once exec'd: resolve it here. */
    static char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        snprintf(why, cap, "cannot resolve /proc/self/exe");
        return -1;
    }
    self[len] = '\0';
    argv[0] = self;
    return syscount_run(argv, t->trace, t->log, why, cap);
}

static void traced_cleanup(struct traced *t)
{
    unlink(t->trace);
    unlink(t->log);
}

/* Run the helper traced; skip the test (with the reason) when strace cannot trace. */
static void run_or_skip(struct traced *t, const char *posts, bool with_waiter)
{
    char why[512];
    int st = run_helper(t, posts, with_waiter, why, sizeof why);
    if (st < 0) {
        traced_cleanup(t);
        print_message("skipped: %s\n", why);
        skip();
    }
    assert_int_equal(st, 0);
}

static void no_syscall_without_sleeper(void **state)
{
    (void)state;
    struct traced t;
    run_or_skip(&t, "100000", false);
    long total, futex;
    assert_int_equal(syscount_between(t.trace, "notify", "futex", &total, &futex), 0);
    print_message("100000 notify wakes, no sleeper: %ld system calls (%ld futex)\n", total, futex);
    assert_int_equal(total, 0);
    assert_int_equal(syscount_between(t.trace, "event", "futex", &total, &futex), 0);
    print_message("100000 event posts, no sleeper: %ld system calls (%ld futex)\n", total, futex);
    assert_int_equal(total, 0);
    traced_cleanup(&t);
}

static void syscall_with_sleeper(void **state)
{
    (void)state;
    struct traced t;
    run_or_skip(&t, "1000", true);
    long total, futex;
    assert_int_equal(syscount_between(t.trace, "event", "futex", &total, &futex), 0);
    print_message("1000 event posts, one sleeper: %ld system calls (%ld futex)\n", total, futex);
    assert_true(futex > 0);
    traced_cleanup(&t);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--child-posts") == 0) {
        long n = strtol(argv[2], NULL, 10);
        return child_posts(n > 0 ? n : 1, argc >= 4 && strcmp(argv[3], "--with-waiter") == 0);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_syscall_without_sleeper),
        cmocka_unit_test(syscall_with_sleeper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
