/* SPDX-License-Identifier: MIT */
/* tests/helpers.h - what the test programs share: unique names, forking helpers with timeouts,
 * dropping privileges, and skip reporting. */
#ifndef SHMIPC_TEST_HELPERS_H
#define SHMIPC_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#define TEST_SKIP_RC 77

/* A segment name unique to this process and call ("/shmipc-test-PID-N-tag"). Static buffer per call site
 * is not needed: writes into buf (at least 64 bytes). */
const char *test_name(char *buf, size_t cap, const char *tag);

/* Fork a child that runs fn(arg) and exits with its return value (0 = success). Returns the pid. */
pid_t test_fork(int (*fn)(void *), void *arg);

/* Wait for pid at most timeout_ms; returns its exit status (0..255), 128+signal if killed by a signal,
 * or -1 on timeout (the child is then killed with SIGKILL and reaped). */
int test_wait(pid_t pid, int timeout_ms);

/* Drop to the user "nobody" (and group nogroup) in this process; returns 0 or -errno (not root). */
int test_become_nobody(void);

/* Is the process root? */
int test_is_root(void);

/* Milliseconds on the monotonic clock. */
uint64_t test_now_ms(void);

/* Make every later system call of the calling thread raise SIGSYS (counted, not executed), except
 * rt_sigreturn and exit: proves that a code path makes no system call. Returns 0 or -errno (-ENOSYS on
 * an architecture it does not know). test_trapped_syscalls() says how many were trapped since. */
int test_trap_syscalls(void);
int test_trapped_syscalls(void);

/* Fill / check a buffer with a pattern derived from seed. */
void test_fill(void *buf, size_t len, uint64_t seed);
int test_check(const void *buf, size_t len, uint64_t seed);

#endif
