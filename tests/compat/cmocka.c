/* SPDX-License-Identifier: MIT */
/* tests/compat/cmocka.c - the runner behind tests/compat/cmocka.h (see there). */
#include "cmocka.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static jmp_buf cm_jump;
static int cm_running; /* a test body is on the stack: cm_jump is valid */

enum { CM_FAILED = 1, CM_SKIPPED = 2 };

static void cm_vreport(const char *file, int line, const char *fmt, va_list ap)
{
    fprintf(stderr, "[  ERROR   ] --- ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n[   LINE   ] --- %s:%d: error: Failure!\n", file, line);
}

_Noreturn void _cm_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cm_vreport(file, line, fmt, ap);
    va_end(ap);
    fflush(NULL);
    if (cm_running)
        longjmp(cm_jump, CM_FAILED);
    _Exit(1); /* an assertion outside a test body (a fixture's helper): nothing to return to */
}

_Noreturn void _cm_skip(const char *file, int line)
{
    (void)file;
    (void)line;
    if (cm_running)
        longjmp(cm_jump, CM_SKIPPED);
    _Exit(77);
}

void _cm_int(LargestIntegralType a, LargestIntegralType b, int want_equal, const char *file, int line)
{
    if ((a == b) != (want_equal != 0))
        _cm_fail(file, line, "%#jx %s %#jx", a, want_equal ? "!=" : "==", b);
}

void _cm_str(const char *a, const char *b, int want_equal, const char *file, int line)
{
    int eq = a && b ? strcmp(a, b) == 0 : a == b;
    if (eq != (want_equal != 0))
        _cm_fail(file, line, "\"%s\" %s \"%s\"", a ? a : "(null)", want_equal ? "!=" : "==", b ? b : "(null)");
}

void _cm_mem(const void *a, const void *b, size_t n, const char *file, int line)
{
    if (!a || !b)
        _cm_fail(file, line, "memory compare with NULL");
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            _cm_fail(file, line, "difference at offset %zu: 0x%02x != 0x%02x (%zu bytes compared)", i, x[i],
                     y[i], n);
}

void print_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

void print_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Run fn(state) under the jump; returns 0, CM_FAILED or CM_SKIPPED. */
static int cm_call(CMUnitTestFunction fn, CMFixtureFunction fix, void **state)
{
    volatile int r = 0;
    int j = setjmp(cm_jump);
    if (j == 0) {
        cm_running = 1;
        if (fn)
            fn(state);
        else if (fix(state) != 0)
            r = CM_FAILED;
    } else {
        r = j;
    }
    cm_running = 0;
    return r;
}

int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t count,
                            CMFixtureFunction setup, CMFixtureFunction teardown)
{
    (void)group_name;
    void *group_state = NULL;
    printf("[==========] Running %zu test(s).\n", count);
    if (setup && cm_call(NULL, setup, &group_state) != 0) {
        printf("[  ERROR   ] group setup failed\n");
        return (int)count;
    }
    size_t passed = 0, failed = 0, skipped = 0;
    const char *failed_names[256];
    for (size_t i = 0; i < count; i++) {
        const struct CMUnitTest *t = &tests[i];
        void *state = t->initial_state ? t->initial_state : group_state;
        printf("[ RUN      ] %s\n", t->name);
        fflush(stdout);
        int r = t->setup_func ? cm_call(NULL, t->setup_func, &state) : 0;
        if (r == 0)
            r = cm_call(t->test_func, NULL, &state);
        if (t->teardown_func && cm_call(NULL, t->teardown_func, &state) == CM_FAILED)
            r = CM_FAILED;
        fflush(NULL);
        if (r == 0) {
            passed++;
            printf("[       OK ] %s\n", t->name);
        } else if (r == CM_SKIPPED) {
            skipped++;
            printf("[  SKIPPED ] %s\n", t->name);
        } else {
            if (failed < 256)
                failed_names[failed] = t->name;
            failed++;
            printf("[  FAILED  ] %s\n", t->name);
        }
    }
    if (teardown)
        cm_call(NULL, teardown, &group_state);
    printf("[==========] %zu test(s) run.\n[  PASSED  ] %zu test(s).\n", count, passed);
    if (skipped)
        printf("[  SKIPPED ] %zu test(s).\n", skipped);
    if (failed) {
        printf("[  FAILED  ] %zu test(s), listed below:\n", failed);
        for (size_t i = 0; i < failed && i < 256; i++)
            printf("[  FAILED  ] %s\n", failed_names[i]);
    }
    fflush(stdout);
    return (int)failed;
}
