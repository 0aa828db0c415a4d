/* SPDX-License-Identifier: MIT */
/*
 * tests/test_perm_truncate.c - the truncation threat (docs/security.md): a peer with write access to a
 * named segment can shrink it, after which touching the lost pages through an existing mapping raises
 * SIGBUS (POSIX has no defence for named objects but permissions); shmipc's checks turn what they can
 * see of it into errors (open, refresh and the CLI report the short object), and sealed memfd segments
 * make it impossible (ftruncate fails with EPERM, seals cannot be removed).
 */
#include "helpers.h"

#include "segment/segment_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA 8192

/* A sealed memfd segment cannot be shrunk (nor emptied) by anyone holding its descriptor, nor its seals
 * undone; growing (shmipc_segment_grow) stays possible and keeps what was there. */
static void memfd_cannot_shrink(void **state)
{
    (void)state;
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_memfd_create("trunc", DATA, NULL, &s), 0);
    int fd = shmipc_segment_fd(s);
    memset(shmipc_segment_data(s), 0x77, DATA);
    int seals = fcntl(fd, F_GET_SEALS);
    assert_true(seals & F_SEAL_SHRINK);
    assert_true(seals & F_SEAL_SEAL);
    errno = 0;
    assert_int_equal(ftruncate(fd, 4096), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(ftruncate(fd, 0), -1);
    assert_int_equal(errno, EPERM);
    /* F_SEAL_SEAL: no seal can be added or removed any more. */
    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
    assert_int_equal(errno, EPERM);
    /* A peer's own descriptor for it (as received by SCM_RIGHTS or found in /proc/PID/fd) is no better. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int fd2 = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd2 >= 0);
    assert_int_equal(ftruncate(fd2, 64), -1);
    assert_int_equal(errno, EPERM);
    close(fd2);
    /* Every byte is still there. */
    const unsigned char *p = shmipc_segment_data(s);
    for (size_t i = 0; i < DATA; i++)
        if (p[i] != 0x77)
            fail_msg("byte %zu changed", i);
    assert_int_equal(shmipc_segment_grow(s, 2 * DATA), 0);
    assert_int_equal(((const unsigned char *)shmipc_segment_data(s))[DATA - 1], 0x77);
    shmipc_segment_close(s);
}

/* An unsealed memfd offered by a peer is refused: it could be truncated under us. */
static void unsealed_memfd_refused(void **state)
{
    (void)state;
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_memfd_create("trunc", DATA, NULL, &s), 0);
    /* Copy the valid bytes into a memfd without seals. */
    int fd = memfd_create("unsealed", MFD_CLOEXEC);
    assert_true(fd >= 0);
    size_t total = SHMIPC_SEGMENT_HEADER_SIZE + DATA;
    assert_int_equal(pwrite(fd, (char *)shmipc_segment_data(s) - SHMIPC_SEGMENT_HEADER_SIZE, total, 0), (ssize_t)total);
    shmipc_segment_close(s);
    shmipc_segment *t = NULL;
    assert_int_equal(shmipc_segment_from_fd(fd, NULL, &t), -EPERM);
    close(fd);
}

static void shrink_named(const char *name, off_t size)
{
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

/* Run the CLI on name; it must exit normally (no signal) with status 1 and say something. */
static void cli_reports(const char *cmd, const char *name)
{
    const char *cli = getenv("SHMIPC_CLI");
    if (!cli || access(cli, X_OK) != 0) {
        printf("note: SHMIPC_CLI not set, CLI not checked\n");
        return;
    }
    char out[] = "/tmp/shmipc-trunc-XXXXXX";
    int ofd = mkstemp(out);
    assert_true(ofd >= 0);
    close(ofd);
    char line[512];
    snprintf(line, sizeof line, "timeout 20 '%s' segment %s '%s' >'%s' 2>&1", cli, cmd, name, out);
    int st = system(line);
    assert_true(WIFEXITED(st));
    char msg[256] = "";
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    size_t n = fread(msg, 1, sizeof msg - 1, f);
    msg[n] = '\0';
    fclose(f);
    unlink(out);
    if (WEXITSTATUS(st) != 1 || n == 0)
        fail_msg("shmipc segment %s on a truncated segment: status %d, output \"%s\"", cmd, WEXITSTATUS(st), msg);
}

/* A named segment shrunk below what its header claims: opening, stat and the CLI report it. */
static void named_truncated_reported(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "trunc");
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_create(name, DATA, NULL, &s), 0);
    shmipc_segment_close(s);
    shmipc_segment_opts o = {.size = sizeof o, .ready_timeout_ms = -1};
    shmipc_segment_info info;
    /* Shorter than the header claims, then shorter than the header itself. */
    static const off_t sizes[] = {SHMIPC_SEGMENT_HEADER_SIZE + DATA / 2, 100};
    for (size_t i = 0; i < 2; i++) {
        shrink_named(name, sizes[i]);
        assert_int_equal(shmipc_segment_open(name, &o, &s), -EBADMSG);
        assert_int_equal(shmipc_segment_stat(name, &info), -EBADMSG);
        cli_reports("info", name);
        cli_reports("read", name);
    }
    shmipc_segment_unlink(name);
}

static const char *child_name;

#define SIGBUS_EXIT 42

static void on_sigbus(int sig)
{
    (void)sig;
    _exit(SIGBUS_EXIT);
}

/* Child: map the segment, let the parent shrink it, check refresh reports it, then touch the lost
 * pages: that is the SIGBUS no library can prevent for a named object. */
static int mapped_child(void *arg)
{
    int *pipes = arg;
    shmipc_segment *s;
    if (shmipc_segment_open(child_name, NULL, &s))
        return 1;
    char c = 'm';
    if (write(pipes[1], &c, 1) != 1 || read(pipes[2], &c, 1) != 1)
        return 2;
    /* The peer bumped nothing: refresh has no reason to look, and reports no change. */
    if (shmipc_segment_refresh(s) != 0)
        return 3;
    /* A handler that exits with a known code: sanitizers would otherwise report the fault their way. */
    signal(SIGBUS, on_sigbus);
    volatile unsigned char *p = shmipc_segment_data(s);
    p[DATA - 1] = 1; /* beyond the new end: SIGBUS */
    return 4;
}

static void mapped_then_truncated(void **state)
{
    (void)state;
    char name[64];
    child_name = test_name(name, sizeof name, "trmap");
    shmipc_segment *s;
    assert_int_equal(shmipc_segment_create(name, DATA, NULL, &s), 0);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    int pipes[3] = {up[0], up[1], down[0]};
    pid_t pid = test_fork(mapped_child, pipes);
    char c;
    assert_int_equal(read(up[0], &c, 1), 1);
    shrink_named(name, SHMIPC_SEGMENT_HEADER_SIZE + 4096);
    assert_int_equal(write(down[1], "t", 1), 1);
    int st = test_wait(pid, 30000);
    if (st != SIGBUS_EXIT && st != 128 + SIGBUS)
        fail_msg("the child touching truncated pages ended with %d, expected SIGBUS", st);
    /* A process that learns of a resize through the generation counter checks the object's real size:
     * a forged generation bump with the old size is refused. */
    atomic_fetch_add_explicit(&shmipc__seg_hdr_of(s)->generation, 1, memory_order_release);
    assert_int_equal(shmipc_segment_refresh(s), -EBADMSG);
    shmipc_segment_close(s);
    shmipc_segment_unlink(name);
    for (int i = 0; i < 2; i++) {
        close(up[i]);
        close(down[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memfd_cannot_shrink),
        cmocka_unit_test(unsealed_memfd_refused),
        cmocka_unit_test(named_truncated_reported),
        cmocka_unit_test(mapped_then_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
