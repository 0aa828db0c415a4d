/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/msg.h - what the commands that move messages by hand share (pub, sub, channel send/recv,
 * queue send/recv): the text/hex/json message formats in both directions, the source of messages to
 * send (a command-line argument repeated, or the lines of standard input), the idle timeout of a
 * receiving loop with its exit status, the retry while an object does not exist yet (--wait), and the
 * segment-style NAME argument of channels and queues.
 */
#ifndef SHMIPC_CLI_MSG_H
#define SHMIPC_CLI_MSG_H

#include "cli.h"

#include <shmipc/segment.h>

#include <sys/types.h>

/* How a message is written on the command line or standard input, and how it is printed. */
typedef enum cli_fmt {
    CLI_FMT_TEXT, /* in: the bytes of the line; out: up to the first NUL byte, then a newline */
    CLI_FMT_HEX,  /* in: pairs of hex digits, blanks allowed between bytes; out: all bytes in hex */
    CLI_FMT_JSON, /* in: one JSON string (stored as UTF-8); out: one JSON object per line */
} cli_fmt;

/* Parse a --format value (NULL: text); 0, or (after saying why) CLI_USAGE. */
int cli_fmt_parse(const cli_spec *spec, const char *s, cli_fmt *out);

/* Decode one input line of len bytes (newline removed) in place as fmt says; the byte count or -1. */
ssize_t cli_fmt_decode(cli_fmt fmt, char *s, size_t len);

/* What an input line of fmt must be, for error messages ("pairs of hex digits"). */
const char *cli_fmt_expects(cli_fmt fmt);

/*
 * Print one message (size bytes at data, already copied out of shared memory) on standard output as fmt
 * says. For CLI_FMT_JSON the object is {members "size", "text", "hex"}: json_members, if not NULL, is
 * printed first inside it (complete members followed by ", ", e.g. "\"sequence\": 7, ").
 */
void cli_fmt_print(cli_fmt fmt, const unsigned char *data, size_t size, const char *json_members);

/* Print one message as cli_fmt_print does and flush standard output; 0, or CLI_ERR after saying why. */
int cli_fmt_emit(cli_fmt fmt, const unsigned char *data, size_t size, const char *json_members);

/* Parse the --count (at least 1), --timeout (milliseconds) and --format of a send or receive command;
 * unset values are left as they are. 0, or (after saying why) CLI_USAGE. */
int cli_msg_opts_parse(const cli_spec *spec, const char *count_s, const char *timeout_s, const char *format_s,
                       uint64_t *count, uint64_t *timeout, cli_fmt *fmt);

/* ---- messages to send -------------------------------------------------------------------------------- */

/* The messages of a send command: MESSAGE given count times, or the lines of standard input (at most
 * count of them when count > 0). */
typedef struct cli_msg_src {
    cli_fmt fmt;
    const char *arg; /* the MESSAGE argument, or NULL for standard input */
    uint64_t count;  /* 0: no limit (standard input) / once (argument) */
    uint64_t done;   /* messages given so far */
    char *line;      /* getline buffer (or the decoded argument) */
    size_t cap;
    size_t arg_len;  /* the decoded argument's length */
} cli_msg_src;

/* Prepare src; for an argument, decode it now. Returns 0, or (after saying why) CLI_USAGE. */
int cli_msg_src_init(cli_msg_src *src, const cli_spec *spec, cli_fmt fmt, const char *arg, uint64_t count);

/* The next message into *data, *len (valid until the next call). Returns 1, 0 at the end (end of input,
 * count reached, or svc_stop), or -1 after printing why (a line that does not decode, a read error). */
int cli_msg_next(cli_msg_src *src, const char **data, size_t *len);

void cli_msg_src_free(cli_msg_src *src);

/* ---- time ------------------------------------------------------------------------------------------ */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t cli_now_ns(void);

/* Sleep until CLOCK_MONOTONIC t_ns, or until svc_stop is set by a signal. */
void cli_sleep_until(uint64_t t_ns);

/* The idle timeout of a receiving loop: --timeout MS, counted from the last message (or the start). */
typedef struct cli_idle {
    bool set;         /* --timeout given */
    uint64_t ms;
    uint64_t since_ns; /* start, or the last message */
} cli_idle;

/* Start counting (ms is ignored unless set). */
void cli_idle_start(cli_idle *t, bool set, uint64_t ms);

/* How long the next receive may wait: at most 200 ms (so that Ctrl-C is seen soon), at most what is left
 * of the timeout; 0 once it expired (one last look: --timeout 0 means "take what is there"). */
int cli_idle_slice(const cli_idle *t);

/* Whether the timeout expired. */
bool cli_idle_expired(const cli_idle *t);

/* A message arrived: count the idle time again from now. */
void cli_idle_reset(cli_idle *t);

/*
 * The exit status of a receiving loop that got `got` messages (`noun`: "samples", "messages") of count
 * (0: no --count), and whether it ended because the idle timeout expired. A timeout before count
 * messages, or (without --count) before any message, says so on stderr and is CLI_TIMEOUT; otherwise
 * CLI_OK.
 */
int cli_recv_status(const char *what, const char *noun, uint64_t got, uint64_t count, bool timed_out,
                    const cli_idle *t);

/*
 * For --wait: the object does not exist (yet). Sleep 20 ms (less if the idle timeout t ends sooner) and
 * return true to try again; false when the timeout expired or a signal asked to stop.
 */
bool cli_wait_retry(const cli_idle *t);

/* ---- channel and queue names --------------------------------------------------------------------------- */

/* A channel or queue NAME (a segment name, the leading '/' optional), normalised to "/NAME"; one byte more
 * than the longest valid name so that an overlong one is detected rather than cut. */
typedef char cli_seg_name[SHMIPC_NAME_MAX + 2];

/* Normalise and validate arg; 0, or (after saying why) CLI_USAGE. */
int cli_seg_name_parse(const cli_spec *spec, const char *arg, cli_seg_name buf);

/* cli_parse for a command whose first argument is a channel or queue NAME, normalised into name. Returns
 * CLI_RUN or an exit code. */
int cli_parse_named(const cli_spec *spec, int argc, char **argv, char ***args, int *nargs, cli_seg_name name);

/* Parse --mode (octal permission bits, not 0); 0, or (after saying why) CLI_USAGE. */
int cli_mode_parse(const cli_spec *spec, const char *s, unsigned *out);

/*
 * Remove the named segment name if its type tag is type (the tool never removes a segment of another
 * kind by mistake). what names the object in messages; kind ("channel") in the refusal. Returns the exit
 * code.
 */
int cli_unlink_typed(const char *name, uint32_t type, const char *kind, int (*unlink_fn)(const char *));

#endif
