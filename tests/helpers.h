/* SPDX-License-Identifier: MIT */
/* tests/helpers.h - what the test programs share: unique names, forking helpers with timeouts,
 * dropping privileges, and skip reporting. */
#ifndef SHMIPC_TEST_HELPERS_H
#define SHMIPC_TEST_HELPERS_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
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

/* Handshakes between test processes and threads (never a fixed sleep that hopes the other side got
 * there). Each returns 0 once the condition holds, or -ETIMEDOUT after timeout_ms (a generous deadline:
 * the machine may be loaded). Conditions that have no event to wait for are polled every millisecond. */

/* cond(arg) != 0. */
int test_until(int (*cond)(void *), void *arg, int timeout_ms);

/* *word >= n: e.g. a notify word's announced-sleeper count (shmipc__notify.waiters). */
int test_until_at_least(_Atomic uint32_t *word, uint32_t n, int timeout_ms);

/* Thread or process tid is asleep in a futex wait (read from /proc/TID/syscall; where that file cannot be
 * read, asleep at all, from /proc/TID/stat): the peer is blocked inside the call under test. */
int test_until_futex_wait(pid_t tid, int timeout_ms);

/* One byte through a pipe: test_signal writes it, test_await reads it (-ETIMEDOUT, or -EPIPE when the
 * writing side closed without sending). */
int test_signal(int fd);
int test_await(int fd, int timeout_ms);

/* Make every later system call of the calling thread raise SIGSYS (counted, not executed), except
 * rt_sigreturn and exit: proves that a code path makes no system call. Returns 0 or -errno (-ENOSYS on
 * an architecture it does not know). test_trapped_syscalls() says how many were trapped since. */
int test_trap_syscalls(void);
int test_trapped_syscalls(void);
/* Ends the whole process by the raw system call the seccomp filter allows (no atexit, no libc
 * exit path that could make other calls). A macro ending in __builtin_unreachable, not a _Noreturn
 * function: compilers see that control stops, and AddressSanitizer inserts no __asan_handle_no_return
 * (whose system calls the filter traps, hanging the child) before it. */
#define test_exit_group(status) (syscall(SYS_exit_group, (status)), __builtin_unreachable())
/* Ends the calling thread by the raw system call, for a thread under the filter: the C library's thread
 * exit makes system calls the filter traps, and musl's wakes the joiner by one (trapped: the joiner
 * sleeps for ever). Such a thread is never joined; whoever waits for it watches a flag it set. */
#define test_exit_thread() (syscall(SYS_exit, 0), __builtin_unreachable())

/* Can this process install that filter at all? Probed in a child (which then exits): 1 or 0. */
int test_seccomp_usable(void);

/* Fill / check a buffer with a pattern derived from seed. */
void test_fill(void *buf, size_t len, uint64_t seed);
int test_check(const void *buf, size_t len, uint64_t seed);

#endif
