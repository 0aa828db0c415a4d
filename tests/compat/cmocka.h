/* SPDX-License-Identifier: MIT */
/*
 * tests/compat/cmocka.h - the part of the cmocka API the test programs use, for toolchains without a
 * cmocka of their own (musl, cross builds without the target's libcmocka-dev). tests/CMakeLists.txt uses
 * the real cmocka whenever pkg-config finds one for the target, and this only otherwise. Same names and
 * meanings: each test runs under setjmp; a failed assertion reports file, line and values and ends the
 * test; skip() ends it as skipped; cmocka_run_group_tests returns the number of failed tests. Not
 * supported (no test here uses them): mocks, expectations, test_malloc, signal catching, XML output.
 */
#ifndef SHMIPC_COMPAT_CMOCKA_H
#define SHMIPC_COMPAT_CMOCKA_H

#include <stddef.h>
#include <stdint.h>

typedef uintmax_t LargestIntegralType;
typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup_teardown(f, setup, teardown) {#f, f, setup, teardown, NULL}
#define cmocka_run_group_tests(group, setup, teardown)                                                     \
    _cmocka_run_group_tests(#group, group, sizeof(group) / sizeof((group)[0]), setup, teardown)

int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t count,
                            CMFixtureFunction setup, CMFixtureFunction teardown);

_Noreturn void _cm_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
_Noreturn void _cm_skip(const char *file, int line);
void _cm_int(LargestIntegralType a, LargestIntegralType b, int want_equal, const char *file, int line);
void _cm_str(const char *a, const char *b, int want_equal, const char *file, int line);
void _cm_mem(const void *a, const void *b, size_t n, const char *file, int line);
void print_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define assert_true(c) ((c) ? (void)0 : _cm_fail(__FILE__, __LINE__, "%s", #c))
#define assert_false(c) (!(c) ? (void)0 : _cm_fail(__FILE__, __LINE__, "!(%s)", #c))
#define assert_non_null(p) ((p) != NULL ? (void)0 : _cm_fail(__FILE__, __LINE__, "%s is NULL", #p))
#define assert_null(p) ((p) == NULL ? (void)0 : _cm_fail(__FILE__, __LINE__, "%s is not NULL", #p))
#define assert_int_equal(a, b)                                                                              \
    _cm_int((LargestIntegralType)(a), (LargestIntegralType)(b), 1, __FILE__, __LINE__)
#define assert_int_not_equal(a, b)                                                                          \
    _cm_int((LargestIntegralType)(a), (LargestIntegralType)(b), 0, __FILE__, __LINE__)
#define assert_ptr_equal(a, b)                                                                              \
    _cm_int((LargestIntegralType)(uintptr_t)(const void *)(a), (LargestIntegralType)(uintptr_t)(const void *)(b), \
            1, __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b)                                                                          \
    _cm_int((LargestIntegralType)(uintptr_t)(const void *)(a), (LargestIntegralType)(uintptr_t)(const void *)(b), \
            0, __FILE__, __LINE__)
#define assert_string_equal(a, b) _cm_str((a), (b), 1, __FILE__, __LINE__)
#define assert_string_not_equal(a, b) _cm_str((a), (b), 0, __FILE__, __LINE__)
#define assert_memory_equal(a, b, n) _cm_mem((a), (b), (n), __FILE__, __LINE__)
#define fail() _cm_fail(__FILE__, __LINE__, "failure")
#define fail_msg(...) _cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() _cm_skip(__FILE__, __LINE__)

#endif
