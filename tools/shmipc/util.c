/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/util.c - the CLI's plumbing shared by every command: sub-command dispatch, option parsing
 * and --help generated from one table per command, number parsing, error messages, and a copy from shared
 * memory that turns SIGBUS (object truncated by a peer) into an error.
 */
#include "cli.h"

#include <shmipc/common.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_OPTS 32

const char *cli_errtext(int err)
{
    /* One buffer per thread is enough: the CLI prints each message before it forms the next. */
    static _Thread_local char buf[160];
    snprintf(buf, sizeof buf, "%s (-%s)", shmipc_strerror(err), shmipc_errname(err));
    return buf;
}

int cli_fail(const char *what, int err)
{
    fprintf(stderr, "shmipc: %s: %s\n", what, cli_errtext(err));
    return CLI_ERR;
}

int cli_usage_error(const cli_spec *spec, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", spec->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", spec->prog);
    return CLI_USAGE;
}

static void list_commands(FILE *f, const char *prog, const char *summary, const cli_command *cmds, size_t n)
{
    fprintf(f, "usage: %s COMMAND [ARGS...]\n\n%s\n\ncommands:\n", prog, summary);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nRun '%s COMMAND --help' for a command's arguments and options.\n", prog);
}

int cli_dispatch(const char *prog, const char *summary, const cli_command *cmds, size_t n, int argc,
                 char **argv)
{
    if (argc < 2) {
        list_commands(stderr, prog, summary, cmds, n);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    bool help = false;
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc < 3) {
            list_commands(stdout, prog, summary, cmds, n);
            return CLI_OK;
        }
        name = argv[2]; /* "help CMD" is "CMD --help" */
        help = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, cmds[i].name) != 0)
            continue;
        if (help) {
            char *hargv[] = {(char *)cmds[i].name, (char *)"--help", NULL};
            return cmds[i].run(2, hargv);
        }
        return cmds[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help' for the list of commands.\n", prog, name, prog);
    return CLI_USAGE;
}

static void print_help(const cli_spec *spec)
{
    printf("usage: %s%s%s [OPTIONS]\n\n%s\n", spec->prog, spec->args ? " " : "", spec->args ? spec->args : "",
           spec->summary);
    if (spec->details)
        printf("\n%s\n", spec->details);
    printf("\noptions:\n");
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->short_name ? "-" : "", o->short_name ? o->short_name : ' ',
                 o->short_name ? ", " : "  ", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        printf("  %-22s %s\n", o->short_name ? left : left + 2, o->help);
    }
    printf("  %-22s %s\n", "-h, --help", "show this help and exit");
}

int cli_parse(const cli_spec *spec, int argc, char **argv, char ***args, int *nargs)
{
    struct option longopts[CLI_MAX_OPTS + 2];
    char shortopts[3 * CLI_MAX_OPTS + 8] = ":h"; /* ':' first: we report a missing value ourselves */
    size_t nopt = 0, sl = strlen(shortopts);
    for (const cli_opt *o = spec->opts; o && o->name; o++, nopt++) {
        if (nopt == CLI_MAX_OPTS)
            abort(); /* a programming error in a command's table */
        /* val identifies the option: its index + 256, so short and long forms land on one entry */
        longopts[nopt] = (struct option){o->name, o->meta ? required_argument : no_argument, NULL, (int)nopt + 256};
        if (o->short_name) {
            shortopts[sl++] = o->short_name;
            if (o->meta)
                shortopts[sl++] = ':';
        }
    }
    longopts[nopt++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[nopt] = (struct option){NULL, 0, NULL, 0};
    shortopts[sl] = '\0';

    opterr = 0;
    optind = 0; /* glibc: 0 re-initialises the scanner completely */
    int c, longidx;
    while ((c = getopt_long(argc, argv, shortopts, longopts, &longidx)) != -1) {
        const cli_opt *o = NULL;
        if (c == 'h') {
            print_help(spec);
            return CLI_OK;
        }
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];
            char shortname[3] = {'-', (char)optopt, 0};
            if (c == '?' && bad[0] == '-' && isdigit((unsigned char)bad[1]))
                return cli_usage_error(spec, "'%s' looks like a negative number, which no argument accepts "
                                             "(to pass an argument that starts with '-', put '--' before it)",
                                       bad);
            if (optopt && strncmp(bad, "--", 2) != 0)
                bad = shortname;
            return cli_usage_error(spec, c == '?' ? "unknown option '%s'" : "option '%s' needs a value", bad);
        }
        if (c >= 256) {
            o = &spec->opts[c - 256];
        } else {
            for (const cli_opt *p = spec->opts; p && p->name; p++)
                if (p->short_name == c)
                    o = p;
        }
        if (!o)
            return cli_usage_error(spec, "unknown option");
        if (o->list) {
            if (o->list->n == CLI_LIST_MAX)
                return cli_usage_error(spec, "option '--%s' given more than %d times", o->name, CLI_LIST_MAX);
            o->list->v[o->list->n++] = optarg;
        } else if (o->meta)
            *o->value = optarg;
        else
            *o->flag = true;
    }
    int n = argc - optind;
    if (n < spec->min_args)
        return cli_usage_error(spec, "missing argument (expected %s)", spec->args ? spec->args : "none");
    if (n > spec->max_args)
        return cli_usage_error(spec, "too many arguments ('%s' is one too many)", argv[optind + spec->max_args]);
    *args = argv + optind;
    *nargs = n;
    return CLI_RUN;
}

int cli_parse_uint(const char *s, int base, uint64_t max, uint64_t *out)
{
    /* strtoull alone would accept leading blanks, a sign and "-1" (as a huge value). */
    if (!s || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10; /* "010" is ten, not eight */
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (end == s || (base == 16 && end == s + 2))
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (shift && end[0] == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    if (*end)
        return -EINVAL;
    if (v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = (uint64_t)v << shift;
    return 0;
}

/* The jump target of the SIGBUS handler while a guarded copy runs (the CLI is single-threaded). */
static sigjmp_buf *guard_jmp;

static void guard_on_sigbus(int sig)
{
    (void)sig;
    siglongjmp(*guard_jmp, 1);
}

int cli_copy_guarded(void *dst, const void *src, size_t n)
{
    sigjmp_buf jb;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = guard_on_sigbus;
    sigemptyset(&sa.sa_mask);
    guard_jmp = &jb;
    if (sigaction(SIGBUS, &sa, &old) < 0) {
        guard_jmp = NULL;
        return -errno;
    }
    volatile int err = 0;
    if (sigsetjmp(jb, 1) == 0)
        memcpy(dst, src, n);
    else
        err = -EFAULT;
    sigaction(SIGBUS, &old, NULL);
    guard_jmp = NULL;
    return err;
}
