/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_queue.c - `shmipc queue ...`: create a named queue, push messages into it from an
 * argument or the lines of standard input, pop and print them (text, hex or JSON lines), show its
 * counters, and remove it; through the public queue API only.
 *
 * Naming: a queue the CLI works on is a named queue of shmipc_queue_create, that is a named segment of
 * type queue whose data area shmipc_queue_create_in laid out (NAME is that segment's name, as for `shmipc
 * segment`; `segment ls` lists it). Queues formatted by a program into memory of its own (a memfd, a
 * segment of another type) have no name and are out of the CLI's reach. Any number of send and recv
 * commands may run at once (each registers in the queue's participant table and leaves it when it ends).
 * Popped messages are copied out of their slot with a SIGBUS guard before the slot is released.
 */
#include "msg.h"
#include "svc.h"

#include <shmipc/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Open name; with wait, a queue that does not exist yet is waited for within t. Returns 0 (with *q NULL
 * after Ctrl-C while waiting), or the exit code after saying why. */
static int q_open(const char *name, unsigned flags, bool wait, const cli_idle *t, shmipc_queue **q)
{
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.flags = flags;
    int err;
    *q = NULL;
    while ((err = shmipc_queue_open(name, &o, q)) == -ENOENT && wait && cli_wait_retry(t))
        ;
    if (err == -ENOENT && wait) {
        if (svc_stop)
            return CLI_OK;
        fprintf(stderr, "shmipc: %s: timed out: no such queue after %" PRIu64 " ms\n", name, t->ms);
        return CLI_TIMEOUT;
    }
    if (err == -EUSERS) {
        fprintf(stderr, "shmipc: %s: the participant table is full of running processes: %s\n", name,
                cli_errtext(err));
        return CLI_ERR;
    }
    if (err == -ENOENT) {
        fprintf(stderr, "shmipc: %s: no such queue: %s (--wait waits for it)\n", name, cli_errtext(err));
        return CLI_ERR;
    }
    return err ? cli_fail(name, err) : CLI_OK;
}

/* ---- create ---------------------------------------------------------------------------------------------- */

static int cmd_create(int argc, char **argv)
{
    const char *size_s = NULL, *depth_s = NULL, *parts_s = NULL, *mode_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("size", 's', "BYTES", &size_s, "the largest message, 1 byte to 16M (default 256)"),
        CLI_OPT_VALUE("depth", 'd', "N", &depth_s,
                      "messages it holds, rounded up to a power of two, 2 to 16M (default 1024)"),
        CLI_OPT_VALUE("participants", 'P', "N", &parts_s, "handles open at once, 1 to 4096 (default 64)"),
        CLI_OPT_VALUE("mode", 'm', "MODE", &mode_s, "permission bits in octal, set exactly (default 0600)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc queue create",
        .args = "NAME",
        .summary = "Create the queue NAME: a segment of type queue (the leading '/' is optional) holding a "
                   "bounded\nqueue of fixed-size slots for many producers and consumers.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    int nargs;
    cli_seg_name name;
    int rc = cli_parse_named(&spec, argc, argv, &args, &nargs, name);
    if (rc != CLI_RUN)
        return rc;
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    uint64_t v;
    if (size_s) {
        if (cli_parse_size(size_s, &v) || v == 0 || v > SHMIPC_QUEUE_MAX_SLOT_SIZE)
            return cli_usage_error(&spec, "bad size '%s' (want 1 byte to 16M, with K or M)", size_s);
        o.slot_size = (uint32_t)v;
    }
    if (depth_s) {
        if (cli_parse_uint(depth_s, 10, SHMIPC_QUEUE_MAX_SLOT_COUNT, &v) || v == 0)
            return cli_usage_error(&spec, "bad depth '%s' (want a number, 1 to %u)", depth_s,
                                   SHMIPC_QUEUE_MAX_SLOT_COUNT);
        uint32_t n = 2;
        while (n < v)
            n *= 2;
        o.slot_count = n;
    }
    if (parts_s) {
        if (cli_parse_uint(parts_s, 10, SHMIPC_QUEUE_MAX_PARTICIPANTS, &v) || v == 0)
            return cli_usage_error(&spec, "bad participants '%s' (want a number, 1 to %u)", parts_s,
                                   SHMIPC_QUEUE_MAX_PARTICIPANTS);
        o.max_participants = (uint32_t)v;
    }
    if (mode_s && (rc = cli_mode_parse(&spec, mode_s, &o.mode)) != 0)
        return rc;
    shmipc_queue *q;
    int err = shmipc_queue_create(name, &o, &q);
    if (err)
        return cli_fail(name, err);
    shmipc_queue_close(q);
    return CLI_OK;
}

/* ---- send ------------------------------------------------------------------------------------------------ */

/* Push one message, waiting for room for at most the timeout (in slices, so that Ctrl-C is seen soon).
 * Returns 0, -ETIMEDOUT, -EINTR (Ctrl-C) or another error. */
static int push_one(shmipc_queue *q, const char *data, size_t len, bool has_timeout, uint64_t timeout)
{
    cli_idle t;
    cli_idle_start(&t, has_timeout, timeout);
    for (;;) {
        int err = shmipc_queue_push(q, data, len, cli_idle_slice(&t));
        if (err == -ETIMEDOUT || err == -EAGAIN || err == -EINTR) {
            if (svc_stop)
                return -EINTR;
            if (cli_idle_expired(&t))
                return -ETIMEDOUT;
            continue;
        }
        return err;
    }
}

static int cmd_send(int argc, char **argv)
{
    const char *format_s = NULL, *count_s = NULL, *timeout_s = NULL;
    bool wait = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "messages are text (default: the bytes of the line or argument), hex, or json (a JSON "
                      "string)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "send MESSAGE N times, or at most N lines of standard input"),
        CLI_OPT_VALUE("timeout", 't', "MS", &timeout_s,
                      "wait at most MS milliseconds for room for each message (default: no limit; status 3 "
                      "when it expires)"),
        CLI_OPT_FLAG("wait", 'w', &wait, "wait for the queue to be created if it does not exist"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc queue send",
        .args = "NAME [MESSAGE]",
        .summary = "Push MESSAGE, or each line of standard input (without its newline), as one message of the "
                   "queue NAME.",
        .details = "A line longer than the queue's slots is an error. Ends at end of input, after --count "
                   "messages or\non Ctrl-C. Exit status: 0 sent, 1 error, 2 usage error, 3 timed out.",
        .opts = opts,
        .min_args = 1,
        .max_args = 2,
    };
    char **args;
    int nargs;
    cli_seg_name name;
    int rc = cli_parse_named(&spec, argc, argv, &args, &nargs, name);
    if (rc != CLI_RUN)
        return rc;
    uint64_t count = 0, timeout = 0;
    cli_fmt fmt;
    if ((rc = cli_msg_opts_parse(&spec, count_s, timeout_s, format_s, &count, &timeout, &fmt)) != 0)
        return rc;
    cli_msg_src in;
    if ((rc = cli_msg_src_init(&in, &spec, fmt, nargs > 1 ? args[1] : NULL, count)) != 0) {
        cli_msg_src_free(&in);
        return rc;
    }
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    cli_idle open_t;
    cli_idle_start(&open_t, timeout_s != NULL, timeout);
    shmipc_queue *q;
    rc = q_open(name, 0, wait, &open_t, &q);
    if (rc == CLI_OK && q) {
        size_t max = shmipc_queue_slot_size(q);
        const char *data;
        size_t len;
        int more;
        while ((more = cli_msg_next(&in, &data, &len)) == 1) {
            if (len > max) {
                fprintf(stderr, "shmipc: %s: message %" PRIu64 ": %zu bytes, but the queue takes at most %zu: %s\n",
                        name, in.done, len, max, cli_errtext(-EMSGSIZE));
                rc = CLI_ERR;
                break;
            }
            int err = push_one(q, data, len, timeout_s != NULL, timeout);
            if (err == -EINTR && svc_stop)
                break;
            if (err == -ETIMEDOUT) {
                fprintf(stderr, "shmipc: %s: timed out after %" PRIu64 " messages: no room for %" PRIu64 " ms\n",
                        name, in.done - 1, timeout);
                rc = CLI_TIMEOUT;
                break;
            }
            if (err) {
                rc = cli_fail(name, err);
                break;
            }
        }
        if (more < 0)
            rc = CLI_ERR;
        shmipc_queue_close(q);
    }
    cli_msg_src_free(&in);
    svc_signals_restore(old_sig);
    return rc;
}

/* ---- recv ------------------------------------------------------------------------------------------------ */

static int cmd_recv(int argc, char **argv)
{
    const char *format_s = NULL, *count_s = NULL, *timeout_s = NULL;
    bool wait = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "print each message as text (default; up to its first NUL byte), hex, or json (one "
                      "object per line)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "exit after N messages"),
        CLI_OPT_VALUE("timeout", 't', "MS", &timeout_s,
                      "give up when no message arrives for MS milliseconds (status 3 if --count messages, or "
                      "without --count any message, did not arrive)"),
        CLI_OPT_FLAG("wait", 'w', &wait, "wait for the queue to be created if it does not exist"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc queue recv",
        .args = "NAME",
        .summary = "Pop the messages of the queue NAME and print each on one line (other consumers running at "
                   "the\nsame time get the others).",
        .details = "Runs until --count messages arrived, --timeout expired or Ctrl-C.\nExit status: 0 done, 1 "
                   "error, 2 usage error, 3 timed out.",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    int nargs;
    cli_seg_name name;
    int rc = cli_parse_named(&spec, argc, argv, &args, &nargs, name);
    if (rc != CLI_RUN)
        return rc;
    uint64_t count = 0, timeout = 0;
    cli_fmt fmt;
    if ((rc = cli_msg_opts_parse(&spec, count_s, timeout_s, format_s, &count, &timeout, &fmt)) != 0)
        return rc;
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    cli_idle idle; /* the wait for the queue and for the first message share the first period */
    cli_idle_start(&idle, timeout_s != NULL, timeout);
    shmipc_queue *q;
    if ((rc = q_open(name, 0, wait, &idle, &q)) != CLI_OK || !q) {
        svc_signals_restore(old_sig);
        return rc;
    }
    size_t max = shmipc_queue_slot_size(q);
    unsigned char *buf = malloc(max ? max : 1);
    uint64_t got = 0;
    bool timed_out = false;
    if (!buf)
        rc = cli_fail(name, -ENOMEM);
    while (buf && !svc_stop && (count == 0 || got < count)) {
        shmipc_queue_claim c;
        int len = shmipc_queue_pop_claim(q, &c, cli_idle_slice(&idle));
        if (len == -ETIMEDOUT || len == -EAGAIN || len == -EINTR) {
            if (cli_idle_expired(&idle)) {
                timed_out = true;
                break;
            }
            continue;
        }
        if (len < 0) {
            rc = cli_fail(name, len);
            break;
        }
        int err = (size_t)len <= max ? (len ? cli_copy_guarded(buf, c.data, (size_t)len) : 0) : -EBADMSG;
        shmipc_queue_pop_release(q, &c);
        if (err) {
            rc = cli_fail(name, err);
            break;
        }
        if ((rc = cli_fmt_emit(fmt, buf, (size_t)len, NULL)) != 0)
            break;
        got++;
        cli_idle_reset(&idle);
    }
    if (rc == CLI_OK)
        rc = cli_recv_status(name, "messages", got, count, timed_out, &idle);
    free(buf);
    shmipc_queue_close(q);
    svc_signals_restore(old_sig);
    return rc;
}

/* ---- stat ------------------------------------------------------------------------------------------------ */

static int cmd_stat(int argc, char **argv)
{
    bool json = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("json", 'j', &json, "print one JSON object"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc queue stat",
        .args = "NAME",
        .summary = "Show the queue NAME's geometry and counters (as an observer: registers no participant).",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    int nargs;
    cli_seg_name name;
    int rc = cli_parse_named(&spec, argc, argv, &args, &nargs, name);
    if (rc != CLI_RUN)
        return rc;
    cli_idle none;
    cli_idle_start(&none, false, 0);
    shmipc_queue *q;
    if ((rc = q_open(name, SHMIPC_QUEUE_OBSERVE, false, &none, &q)) != CLI_OK)
        return rc;
    shmipc_queue_stats st;
    int err = shmipc_queue_stats_get(q, &st);
    shmipc_queue_close(q);
    if (err)
        return cli_fail(name, err);
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        cli_json_str(&j, "name", name);
        cli_json_uint(&j, "slot_count", st.slot_count);
        cli_json_uint(&j, "slot_size", st.slot_size);
        cli_json_uint(&j, "depth", st.depth);
        cli_json_uint(&j, "pushes", st.pushes);
        cli_json_uint(&j, "pops", st.pops);
        cli_json_uint(&j, "lost", st.lost);
        cli_json_uint(&j, "participants", st.participants);
        cli_json_uint(&j, "max_participants", st.max_participants);
        cli_json_bool(&j, "broken", st.broken != 0);
        cli_json_end(&j, '}');
    } else {
        printf("name:         %s%s\n", name, st.broken ? " (BROKEN)" : "");
        printf("slots:        %" PRIu32 " of %" PRIu32 " bytes\n", st.slot_count, st.slot_size);
        printf("queued:       %" PRIu64 "\n", st.depth);
        printf("pushed:       %" PRIu64 "\n", st.pushes);
        printf("popped:       %" PRIu64 "\n", st.pops);
        printf("lost:         %" PRIu64 " (slots repaired after a process died in them)\n", st.lost);
        printf("participants: %" PRIu32 " of %" PRIu32 "\n", st.participants, st.max_participants);
    }
    return CLI_OK;
}

/* ---- unlink ---------------------------------------------------------------------------------------------- */

static int cmd_unlink(int argc, char **argv)
{
    const cli_spec spec = {
        .prog = "shmipc queue unlink",
        .args = "NAME",
        .summary = "Remove the queue NAME's name (a segment of another type is refused). Processes that have it "
                   "open\nkeep using it; the memory is freed when the last one closes it.",
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    int nargs;
    cli_seg_name name;
    int rc = cli_parse_named(&spec, argc, argv, &args, &nargs, name);
    if (rc != CLI_RUN)
        return rc;
    return cli_unlink_typed(name, SHMIPC_TYPE_QUEUE, "queue", shmipc_queue_unlink);
}

static const cli_command queue_commands[] = {
    {"create", "create a named queue", cmd_create},
    {"send", "push an argument or lines of standard input", cmd_send},
    {"recv", "pop and print messages", cmd_recv},
    {"stat", "show geometry and counters", cmd_stat},
    {"unlink", "remove a queue's name", cmd_unlink},
};

int cli_cmd_queue(int argc, char **argv)
{
    return cli_dispatch("shmipc queue",
                        "Send and receive messages by hand through a named queue: many producers and consumers, "
                        "fixed-size\nslots (shmipc_queue(3)). NAME is the name of the segment holding the queue; "
                        "the leading '/' is optional.",
                        queue_commands, sizeof queue_commands / sizeof queue_commands[0], argc, argv);
}
