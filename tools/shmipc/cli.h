/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cli.h - what the command files of the shmipc CLI share: the command table and dispatcher,
 * a declarative option parser (so a command file holds only its own logic), number parsing, error
 * reporting, a small JSON writer, a SIGBUS-guarded copy for reading shared memory a peer may truncate, and
 * the /proc/PID/maps scanner that finds which processes map a segment.
 */
#ifndef SHMIPC_CLI_H
#define SHMIPC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 a --timeout expired before the command did what it
 * was asked (sub, channel and queue send/recv; see shmipc(1)). */
#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2
#define CLI_TIMEOUT 3
/* Returned by cli_parse when the command should go on and run (never an exit code). */
#define CLI_RUN (-1)

/* ---- commands ---------------------------------------------------------------------------------------- */

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns an exit code */
} cli_command;

/*
 * Run the command argv[1] of the table cmds (n entries) for a command group called prog ("shmipc" or
 * "shmipc segment"). Handles "--help", "-h", "help" and "help CMD" (runs "CMD --help"); an unknown or
 * missing command is a usage error. Returns the exit code.
 */
int cli_dispatch(const char *prog, const char *summary, const cli_command *cmds, size_t n, int argc,
                 char **argv);

/* Command groups and commands, one file each; their line in the table of main.c is all they need. */
int cli_cmd_segment(int argc, char **argv);
int cli_cmd_ls(int argc, char **argv);   /* cmd_service.c */
int cli_cmd_info(int argc, char **argv); /* cmd_service.c */
int cli_cmd_gc(int argc, char **argv);   /* cmd_service.c */
int cli_cmd_top(int argc, char **argv);  /* cmd_top.c */
int cli_cmd_pub(int argc, char **argv);  /* cmd_pubsub.c */
int cli_cmd_sub(int argc, char **argv);  /* cmd_pubsub.c */
int cli_cmd_channel(int argc, char **argv);
int cli_cmd_queue(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_bridge(int argc, char **argv); /* cmd_bridge.c: only when the NATS bridge is built */

/* ---- options ----------------------------------------------------------------------------------------- */

/* The values of an option that may be given several times (CLI_OPT_LIST), in command-line order. */
#define CLI_LIST_MAX 64
typedef struct cli_list {
    const char *v[CLI_LIST_MAX];
    size_t n;
} cli_list;

/* One option of a command. An option with a metavariable takes a value, stored (unparsed) in *value, or
 * appended to *list for a repeatable one; one without is a flag and sets *flag. Build them with
 * CLI_OPT_VALUE / CLI_OPT_LIST / CLI_OPT_FLAG; end the list with CLI_OPT_END. -h/--help is added to
 * every command. */
typedef struct cli_opt {
    const char *name;  /* long name, without "--" */
    char short_name;   /* one-letter form, or 0 */
    const char *meta;  /* metavariable ("N") for an option with a value, NULL for a flag */
    const char *help;
    const char **value;
    bool *flag;
    cli_list *list;
} cli_opt;

#define CLI_OPT_VALUE(name, ch, meta, var, help) {name, ch, meta, help, var, NULL, NULL}
#define CLI_OPT_LIST(name, ch, meta, list, help) {name, ch, meta, help, NULL, NULL, list}
#define CLI_OPT_FLAG(name, ch, var, help) {name, ch, NULL, help, NULL, var, NULL}
#define CLI_OPT_END {NULL, 0, NULL, NULL, NULL, NULL, NULL}

/* What a command accepts: used both to parse and to print its --help. */
typedef struct cli_spec {
    const char *prog;    /* full command, e.g. "shmipc segment read" */
    const char *args;    /* positional arguments for the usage line, e.g. "NAME" */
    const char *summary; /* one line: what it does */
    const char *details; /* more help text, or NULL */
    const cli_opt *opts; /* may be NULL */
    int min_args, max_args;
} cli_spec;

/*
 * Parse argv (argv[0] is the command name) against spec with getopt_long; options and positional arguments
 * may come in any order, "--" ends the options. On success stores the positional arguments in *args and
 * their count in *nargs and returns CLI_RUN. Otherwise returns the exit code for the command to return at
 * once: CLI_OK after printing --help, CLI_USAGE after printing what was wrong.
 */
int cli_parse(const cli_spec *spec, int argc, char **argv, char ***args, int *nargs);

/* Print "PROG: message" and a pointer to --help to stderr; returns CLI_USAGE. */
int cli_usage_error(const cli_spec *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- numbers and errors ------------------------------------------------------------------------------ */

/* "text (-ENAME)" for an error code, as every CLI message prints it (the man pages name errors so). */
const char *cli_errtext(int err);
/* Print "shmipc: WHAT: error text (-ENAME)" to stderr and return CLI_ERR. err is a negative errno. */
int cli_fail(const char *what, int err);

/* Parse a decimal (or 0x hexadecimal) size with an optional K/M/G suffix (powers of 1024), optionally
 * followed by "B" or "iB" ("4K", "4KiB", "1M", "4096", "512B"). Returns 0, -EINVAL (syntax) or -ERANGE. */
int cli_parse_size(const char *s, uint64_t *out);

/* Parse an unsigned integer in base (0 = C rules: 0x hex, leading 0 octal), the whole string, at most max.
 * Returns 0, -EINVAL or -ERANGE. */
int cli_parse_uint(const char *s, int base, uint64_t max, uint64_t *out);

/* ---- shared memory access ---------------------------------------------------------------------------- */

/* memcpy that survives SIGBUS: a peer that truncates a shared object makes access past its new end fault.
 * Returns 0, or -EFAULT if the copy faulted (dst then holds an unknown prefix). Not thread-safe. */
int cli_copy_guarded(void *dst, const void *src, size_t n);

/* ---- JSON output ------------------------------------------------------------------------------------- */

/* A streaming JSON writer producing indented, valid JSON. Inside an object every value needs a key;
 * inside an array the key must be NULL. Strings are escaped; invalid UTF-8 bytes become U+FFFD. */
#define CLI_JSON_MAX_DEPTH 16
typedef struct cli_json {
    FILE *f;
    int depth;
    bool first[CLI_JSON_MAX_DEPTH];
} cli_json;

void cli_json_init(cli_json *j, FILE *f);
void cli_json_begin(cli_json *j, const char *key, char bracket); /* '{' or '[' */
void cli_json_end(cli_json *j, char bracket);                    /* '}' or ']'; newline at depth 0 */
void cli_json_str(cli_json *j, const char *key, const char *s);
void cli_json_uint(cli_json *j, const char *key, uint64_t v);
void cli_json_int(cli_json *j, const char *key, int64_t v);
void cli_json_bool(cli_json *j, const char *key, bool v);
void cli_json_null(cli_json *j, const char *key);
/* A number with up to 3 decimals; NaN and infinities (not JSON numbers) become null. */
void cli_json_double(cli_json *j, const char *key, double v);
/* Write s as a quoted, escaped JSON string (exposed for callers printing JSON by hand). */
void cli_json_write_string(FILE *f, const char *s);

/* ---- which processes map what (/proc/PID/maps) ------------------------------------------------------- */

typedef struct cli_mapping {
    pid_t pid;
    bool deleted; /* the mapped file was unlinked (" (deleted)" in maps) */
    char *path;   /* the path with the scan's prefix removed */
} cli_mapping;

typedef struct cli_procmaps {
    cli_mapping *v; /* sorted by path, deleted, pid; one entry per (pid, path, deleted) */
    size_t n, cap;
    unsigned unreadable; /* processes whose maps we may not read (other users' unless root) */
} cli_procmaps;

/*
 * Scan /proc/PID/maps of every process but the caller for file mappings whose path starts with prefix
 * (e.g. "/dev/shm/" for POSIX segments, "/memfd:" for memfd segments). Processes that exit during the
 * scan or whose maps are not readable are skipped (the latter counted in pm->unreadable). Returns 0 or
 * -ENOMEM / an errno of opening /proc; free with cli_procmaps_free either way.
 */
int cli_procmaps_scan(cli_procmaps *pm, const char *prefix);

/* The pids mapping path (without the prefix) with the given deleted state, ascending, stored in out (up to
 * cap); returns how many there are in all. */
size_t cli_procmaps_pids(const cli_procmaps *pm, const char *path, bool deleted, pid_t *out, size_t cap);

void cli_procmaps_free(cli_procmaps *pm);

#endif
