/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/svc.h - what the service-level commands (ls, info, gc, top, pub, sub) share: finding a
 * service from a command-line argument ("pattern/name", or a name looked up in every pattern), making
 * strings read from a service header safe to print, and writing a service description as JSON.
 */
#ifndef SHMIPC_CLI_SVC_H
#define SHMIPC_CLI_SVC_H

#include "cli.h"

#include <shmipc/service.h>

#include <signal.h>

/* "pattern/name": the longest pattern name, '/', a service name, NUL. */
#define SVC_FULLNAME_MAX (16 + SHMIPC_SERVICE_NAME_MAX + 2)

/* Parse a pattern name ("pubsub", "reqresp", "blackboard", "event"); 0 or -EINVAL. */
int svc_parse_pattern(const char *s, shmipc_pattern *out);

/*
 * Find the service that argument arg names: "pattern/name", or a bare name with pattern_opt (the value of
 * --pattern, may be NULL) or, without one, searched among all patterns. On success stores the pattern and
 * the name (SHMIPC_SERVICE_NAME_MAX + 1 bytes) and returns CLI_RUN; if info is not NULL it also describes
 * the service into it and a service that cannot be described is an error. Otherwise prints why (a bad
 * argument, no such service, or the candidates when the bare name exists under several patterns) and
 * returns the exit code: CLI_USAGE or CLI_ERR.
 */
int svc_resolve(const cli_spec *spec, const char *arg, const char *pattern_opt, shmipc_pattern *pattern,
                char *name, shmipc_service_info *info);

/* Check a bare service name from the command line; 0, or (after saying why) CLI_USAGE. */
int svc_check_name(const cli_spec *spec, const char *name);

/* Set by SIGINT and SIGTERM once svc_signals_catch() ran: long-running commands (top, pub, sub) poll it to
 * end cleanly (leaving their service, restoring what they changed). */
extern volatile sig_atomic_t svc_stop;

/* Catch SIGINT and SIGTERM into svc_stop, without SA_RESTART so that a blocked read, poll or wait returns
 * EINTR; the previous actions go to old[2] for svc_signals_restore(). */
void svc_signals_catch(struct sigaction old[2]);
void svc_signals_restore(const struct sigaction old[2]);

/* "pattern/name" of a described service into buf (SVC_FULLNAME_MAX bytes). */
void svc_fullname(const shmipc_service_info *in, char *buf, size_t cap);

/* Copy s to dst (cap bytes) with every byte that is not printable ASCII written as \xNN: type names,
 * options and stat names come from shared memory and must not put escape sequences on a terminal. */
void svc_printable(const char *s, char *dst, size_t cap);

/* Print the service error detail (if the library left one) after a failure; for -EPROTOTYPE/-EBADMSG. */
int svc_fail(const char *what, int err);

/* The owner's user name, or the uid in digits, in buf. */
const char *svc_user(uint32_t uid, char *buf, size_t cap);

/* Write a service's description (name, pattern, type, options, participants, stats) as the members of the
 * JSON object that the caller has begun. */
/* The options words of a service as a JSON object member "options" (one meaning per field). */
void svc_json_options(cli_json *j, const char *options);
void svc_json_members(cli_json *j, const shmipc_service_info *in);

/* A realtime timestamp in ns as ISO 8601 UTC with milliseconds, or "?" for a value that is no time. */
void svc_time(uint64_t ns, char *buf, size_t cap);

/* Participants alive (registered minus dead). */
uint32_t svc_alive(const shmipc_service_info *in);

/* Stat i's name for output: "stat<i>" in buf when the header left it empty. Not escaped. */
const char *svc_stat_name(const shmipc_service_info *in, uint32_t i, char *buf, size_t cap);

/* Sort services by pattern name, then name. */
void svc_sort(shmipc_service_info *v, size_t n);

#endif
