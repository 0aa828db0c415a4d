/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_channel.c - `shmipc channel ...`: create a named channel (shmipc_channel_create), send
 * messages into it from an argument or the lines of standard input, receive and print them (text, hex or
 * JSON lines), show its counters and endpoints, and remove it; through the public channel API only.
 *
 * create leaves both endpoints vacant (the creator is an observer), so that the first `send` and the first
 * `recv` claim them; each ends by closing its endpoint, and the next process of that role takes the
 * endpoint over. A closed or dead peer is not the end for these by-hand commands (another may come): they
 * wait for one within --timeout, except `recv --eof`, which ends when the producer has closed and every
 * message it committed was received. Messages are copied out of the ring with a SIGBUS guard (a hostile
 * peer may truncate the segment) before anything is printed.
 */
#include "msg.h"
#include "svc.h"

#include <shmipc/channel.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const policy_names[] = {
    [SHMIPC_CHANNEL_FULL_BLOCK] = "block",
    [SHMIPC_CHANNEL_FULL_FAIL] = "fail",
    [SHMIPC_CHANNEL_FULL_OVERWRITE] = "overwrite",
};

static const char *policy_str(uint32_t p)
{
    return p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

/* Open name as role; with wait, a channel that does not exist yet is waited for within t. Returns 0 (with
 * *ch NULL after Ctrl-C while waiting), or the exit code after saying why. */
static int ch_open(const char *name, shmipc_channel_role role, bool wait, const cli_idle *t, shmipc_channel **ch)
{
    int err;
    *ch = NULL;
    while ((err = shmipc_channel_open(name, role, NULL, ch)) == -ENOENT && wait && cli_wait_retry(t))
        ;
    if (err == -ENOENT && wait) {
        if (svc_stop)
            return CLI_OK;
        fprintf(stderr, "shmipc: %s: timed out: no such channel after %" PRIu64 " ms\n", name, t->ms);
        return CLI_TIMEOUT;
    }
    if (err == -EBUSY) {
        fprintf(stderr, "shmipc: %s: the %s end is taken by a running process: %s\n", name,
                role == SHMIPC_CHANNEL_PRODUCER ? "producer" : "consumer", cli_errtext(err));
        return CLI_ERR;
    }
    if (err == -ENOENT) {
        fprintf(stderr, "shmipc: %s: no such channel: %s (--wait waits for it)\n", name, cli_errtext(err));
        return CLI_ERR;
    }
    return err ? cli_fail(name, err) : CLI_OK;
}

/* ---- create ---------------------------------------------------------------------------------------------- */

static int cmd_create(int argc, char **argv)
{
    const char *capacity_s = NULL, *policy_s = NULL, *mode_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("capacity", 'c', "BYTES", &capacity_s,
                      "ring bytes, rounded up to a power of two, 64 to 1G (default 64K); the largest message is "
                      "half of it less 16"),
        CLI_OPT_VALUE("policy", 'p', "POLICY", &policy_s,
                      "when the ring is full a send waits (block, the default), fails (fail) or drops the "
                      "oldest messages (overwrite)"),
        CLI_OPT_VALUE("mode", 'm', "MODE", &mode_s, "permission bits in octal, set exactly (default 0600)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc channel create",
        .args = "NAME",
        .summary = "Create the channel NAME (a segment of type channel; the leading '/' is optional) with both "
                   "ends vacant:\nthe first 'send' becomes its producer, the first 'recv' its consumer.",
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
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.role = SHMIPC_CHANNEL_OBSERVER; /* claim no end: send and recv claim them */
    uint64_t capacity = SHMIPC_CHANNEL_DEFAULT_CAPACITY;
    if (capacity_s && (cli_parse_size(capacity_s, &capacity) || capacity < SHMIPC_CHANNEL_MIN_CAPACITY ||
                       capacity > SHMIPC_CHANNEL_MAX_CAPACITY))
        return cli_usage_error(&spec, "bad capacity '%s' (want 64 bytes to 1G, with K, M or G)", capacity_s);
    o.capacity = (size_t)capacity;
    if (policy_s) {
        size_t i = 0;
        while (i < sizeof policy_names / sizeof policy_names[0] && strcmp(policy_s, policy_names[i]) != 0)
            i++;
        if (i == sizeof policy_names / sizeof policy_names[0])
            return cli_usage_error(&spec, "bad policy '%s' (want block, fail or overwrite)", policy_s);
        o.full_policy = (shmipc_channel_full_policy)i;
    }
    if (mode_s && (rc = cli_mode_parse(&spec, mode_s, &o.mode)) != 0)
        return rc;
    shmipc_channel *ch;
    int err = shmipc_channel_create(name, &o, &ch);
    if (err)
        return cli_fail(name, err);
    shmipc_channel_close(ch);
    return CLI_OK;
}

/* ---- send ------------------------------------------------------------------------------------------------ */

/* Send one message, waiting for room for at most the timeout (in slices, so that Ctrl-C is seen soon); a
 * consumer that closed or died while the ring is full is waited for (a new one may come) within the same
 * timeout. Returns 0, -ETIMEDOUT, -EINTR (Ctrl-C), -EAGAIN (full, policy fail) or another error. */
static int send_one(shmipc_channel *ch, bool fail_policy, const char *data, size_t len, bool has_timeout,
                    uint64_t timeout)
{
    cli_idle t;
    cli_idle_start(&t, has_timeout, timeout);
    for (;;) {
        int err = shmipc_channel_send(ch, data, len, cli_idle_slice(&t));
        if (err == -EPIPE) {
            if (!cli_wait_retry(&t))
                return svc_stop ? -EINTR : -ETIMEDOUT;
            continue;
        }
        if (err == -ETIMEDOUT || err == -EINTR || (err == -EAGAIN && !fail_policy)) {
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
        CLI_OPT_FLAG("wait", 'w', &wait, "wait for the channel to be created if it does not exist"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc channel send",
        .args = "NAME [MESSAGE]",
        .summary = "Send MESSAGE, or each line of standard input (without its newline), as one message of the "
                   "channel NAME,\nas its producer.",
        .details = "A line longer than the channel's largest message is an error. Ends at end of input, after "
                   "--count\nmessages or on Ctrl-C, closing the producer end: a receiver gets every message "
                   "sent, and the\nnext 'send' takes the end over. With the channel full and the consumer gone, "
                   "waits for a new one.\nExit status: 0 sent, 1 error, 2 usage error, 3 timed out.",
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
    shmipc_channel *ch;
    rc = ch_open(name, SHMIPC_CHANNEL_PRODUCER, wait, &open_t, &ch);
    if (rc == CLI_OK && ch) {
        size_t max = shmipc_channel_max_msg(ch);
        shmipc_channel_stats st;
        bool fail_policy = shmipc_channel_stats_get(ch, &st) == 0 && st.full_policy == SHMIPC_CHANNEL_FULL_FAIL;
        const char *data;
        size_t len;
        int more;
        while ((more = cli_msg_next(&in, &data, &len)) == 1) {
            if (len > max) {
                fprintf(stderr, "shmipc: %s: message %" PRIu64 ": %zu bytes, but the channel takes at most %zu: %s\n",
                        name, in.done, len, max, cli_errtext(-EMSGSIZE));
                rc = CLI_ERR;
                break;
            }
            int err = send_one(ch, fail_policy, data, len, timeout_s != NULL, timeout);
            if (err == -EINTR && svc_stop)
                break;
            if (err == -EAGAIN) {
                fprintf(stderr, "shmipc: %s: message %" PRIu64 ": the channel is full (policy fail): %s\n", name,
                        in.done, cli_errtext(err));
                rc = CLI_ERR;
                break;
            }
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
        shmipc_channel_close(ch);
    }
    cli_msg_src_free(&in);
    svc_signals_restore(old_sig);
    return rc;
}

/* ---- recv ------------------------------------------------------------------------------------------------ */

/* recv --eof met -EPIPE: 0 if the producer closed its end, else (it died) an error. */
static int recv_eof(shmipc_channel *ch, const char *name)
{
    shmipc_channel_stats st;
    if (shmipc_channel_stats_get(ch, &st) == 0 && st.producer.pid == -1)
        return CLI_OK;
    fprintf(stderr, "shmipc: %s: the producer died: %s\n", name, cli_errtext(-EPIPE));
    return CLI_ERR;
}

static int cmd_recv(int argc, char **argv)
{
    const char *format_s = NULL, *count_s = NULL, *timeout_s = NULL;
    bool wait = false, eof = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "print each message as text (default; up to its first NUL byte), hex, or json (one "
                      "object per line)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "exit after N messages"),
        CLI_OPT_VALUE("timeout", 't', "MS", &timeout_s,
                      "give up when no message arrives for MS milliseconds (status 3 if --count messages, or "
                      "without --count any message, did not arrive)"),
        CLI_OPT_FLAG("wait", 'w', &wait, "wait for the channel to be created if it does not exist"),
        CLI_OPT_FLAG("eof", 'e', &eof,
                     "end (status 0) once the producer has closed its end and every message was received"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc channel recv",
        .args = "NAME",
        .summary = "Receive the messages of the channel NAME, as its consumer, and print each on one line.",
        .details = "Runs until --count messages arrived, --timeout expired, Ctrl-C or (with --eof) the end of "
                   "the\nstream, then closes the consumer end (the next 'recv' takes it over and gets the "
                   "messages left).\nExit status: 0 done, 1 error, 2 usage error, 3 timed out.",
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
    cli_idle idle; /* the wait for the channel and for the first message share the first period */
    cli_idle_start(&idle, timeout_s != NULL, timeout);
    shmipc_channel *ch;
    if ((rc = ch_open(name, SHMIPC_CHANNEL_CONSUMER, wait, &idle, &ch)) != CLI_OK || !ch) {
        svc_signals_restore(old_sig);
        return rc;
    }
    size_t max = shmipc_channel_max_msg(ch);
    unsigned char *buf = malloc(max ? max : 1);
    uint64_t got = 0;
    bool timed_out = false;
    if (!buf)
        rc = cli_fail(name, -ENOMEM);
    while (buf && !svc_stop && (count == 0 || got < count)) {
        const void *p;
        int len = shmipc_channel_peek(ch, &p, cli_idle_slice(&idle));
        if (len == -ETIMEDOUT || len == -EAGAIN || len == -EINTR) {
            if (cli_idle_expired(&idle)) {
                timed_out = true;
                break;
            }
            continue;
        }
        if (len == -EPIPE) { /* drained, and no producer now */
            if (eof) {
                rc = recv_eof(ch, name);
                break;
            }
            if (!cli_wait_retry(&idle)) {
                timed_out = !svc_stop;
                break;
            }
            continue;
        }
        if (len < 0) {
            rc = cli_fail(name, len);
            break;
        }
        int err = (size_t)len <= max ? (len ? cli_copy_guarded(buf, p, (size_t)len) : 0) : -EBADMSG;
        shmipc_channel_release(ch);
        if (err) {
            rc = cli_fail(name, err);
            break;
        }
        char members[48];
        snprintf(members, sizeof members, "\"dropped\": %" PRIu64 ", ", shmipc_channel_dropped(ch));
        if ((rc = cli_fmt_emit(fmt, buf, (size_t)len, members)) != 0)
            break;
        got++;
        cli_idle_reset(&idle);
    }
    if (rc == CLI_OK)
        rc = cli_recv_status(name, "messages", got, count, timed_out, &idle);
    free(buf);
    shmipc_channel_close(ch);
    svc_signals_restore(old_sig);
    return rc;
}

/* ---- stat ------------------------------------------------------------------------------------------------ */

/* "vacant", "closed", or the pid with " (dead)" when it is gone. */
static const char *end_str(const shmipc_proc_id *id, int alive, char *buf, size_t cap)
{
    if (id->pid == 0)
        return "vacant";
    if (id->pid == -1)
        return "closed";
    snprintf(buf, cap, "%" PRId32 "%s", id->pid, alive ? "" : " (dead)");
    return buf;
}

static void json_end(cli_json *j, const char *key, const shmipc_proc_id *id, int alive)
{
    cli_json_begin(j, key, '{');
    cli_json_str(j, "state", id->pid == 0 ? "vacant" : id->pid == -1 ? "closed" : alive ? "alive" : "dead");
    if (id->pid > 0)
        cli_json_int(j, "pid", id->pid);
    else
        cli_json_null(j, "pid");
    cli_json_end(j, '}');
}

static int cmd_stat(int argc, char **argv)
{
    bool json = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("json", 'j', &json, "print one JSON object"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc channel stat",
        .args = "NAME",
        .summary = "Show the channel NAME's geometry, policy, counters and endpoints (read-only: claims no end).",
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
    shmipc_channel *ch;
    int err = shmipc_channel_open(name, SHMIPC_CHANNEL_OBSERVER, NULL, &ch);
    if (err)
        return cli_fail(name, err);
    shmipc_channel_stats st;
    err = shmipc_channel_stats_get(ch, &st);
    shmipc_channel_close(ch);
    if (err)
        return cli_fail(name, err);
    uint64_t used = st.head - st.tail;
    if (json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin(&j, NULL, '{');
        cli_json_str(&j, "name", name);
        cli_json_uint(&j, "capacity", st.capacity);
        cli_json_uint(&j, "max_msg", st.max_msg);
        cli_json_str(&j, "policy", policy_str(st.full_policy));
        cli_json_bool(&j, "broken", st.broken != 0);
        cli_json_uint(&j, "used_bytes", used);
        cli_json_uint(&j, "msgs_sent", st.msgs_sent);
        cli_json_uint(&j, "bytes_sent", st.bytes_sent);
        cli_json_uint(&j, "msgs_recv", st.msgs_recv);
        cli_json_uint(&j, "bytes_recv", st.bytes_recv);
        cli_json_uint(&j, "overwritten", st.overwritten);
        cli_json_uint(&j, "dropped", st.dropped);
        json_end(&j, "producer", &st.producer, st.producer_alive);
        json_end(&j, "consumer", &st.consumer, st.consumer_alive);
        cli_json_end(&j, '}');
    } else {
        char pb[32], cb[32];
        printf("name:        %s\n", name);
        printf("capacity:    %" PRIu64 " bytes (largest message %" PRIu64 ")\n", st.capacity, st.max_msg);
        printf("policy:      %s%s\n", policy_str(st.full_policy), st.broken ? " (BROKEN)" : "");
        printf("in use:      %" PRIu64 " bytes, %" PRIu64 " messages\n", used,
               st.msgs_sent >= st.msgs_recv + st.dropped ? st.msgs_sent - st.msgs_recv - st.dropped : 0);
        printf("sent:        %" PRIu64 " messages, %" PRIu64 " bytes\n", st.msgs_sent, st.bytes_sent);
        printf("received:    %" PRIu64 " messages, %" PRIu64 " bytes\n", st.msgs_recv, st.bytes_recv);
        if (st.full_policy == SHMIPC_CHANNEL_FULL_OVERWRITE)
            printf("overwritten: %" PRIu64 " (dropped for the consumer: %" PRIu64 ")\n", st.overwritten, st.dropped);
        printf("producer:    %s\n", end_str(&st.producer, st.producer_alive, pb, sizeof pb));
        printf("consumer:    %s\n", end_str(&st.consumer, st.consumer_alive, cb, sizeof cb));
    }
    return CLI_OK;
}

/* ---- unlink ---------------------------------------------------------------------------------------------- */

static int cmd_unlink(int argc, char **argv)
{
    const cli_spec spec = {
        .prog = "shmipc channel unlink",
        .args = "NAME",
        .summary = "Remove the channel NAME's name (a segment of another type is refused). Processes that have "
                   "it open\nkeep using it; the memory is freed when the last one closes it.",
        .min_args = 1,
        .max_args = 1,
    };
    char **args;
    int nargs;
    cli_seg_name name;
    int rc = cli_parse_named(&spec, argc, argv, &args, &nargs, name);
    if (rc != CLI_RUN)
        return rc;
    return cli_unlink_typed(name, SHMIPC_TYPE_CHANNEL, "channel", shmipc_channel_unlink);
}

static const cli_command channel_commands[] = {
    {"create", "create a channel, both ends vacant", cmd_create},
    {"send", "send an argument or lines of standard input, as the producer", cmd_send},
    {"recv", "print the messages that arrive, as the consumer", cmd_recv},
    {"stat", "show geometry, counters and endpoints", cmd_stat},
    {"unlink", "remove a channel's name", cmd_unlink},
};

int cli_cmd_channel(int argc, char **argv)
{
    return cli_dispatch("shmipc channel",
                        "Send and receive messages by hand through a named channel: one producer, one consumer, "
                        "variable-size\nmessages in a ring (shmipc_channel(3)). NAME is a segment name; the "
                        "leading '/' is optional.",
                        channel_commands, sizeof channel_commands / sizeof channel_commands[0], argc, argv);
}
