/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/cmd_pubsub.c - `shmipc pub` and `shmipc sub`: publish lines of standard input as samples of
 * a publish/subscribe service, and print the samples that arrive, as text, hex or JSON lines. Both leave
 * the service cleanly on end of input, --count, --timeout or Ctrl-C, so that they never leave a dead
 * participant behind. Received samples are copied out of the pool with a SIGBUS guard (a hostile peer
 * may truncate it) before anything is printed.
 */
#include "msg.h"
#include "svc.h"

#include <shmipc/pubsub.h>
#include <shmipc/shmipc.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The service name of a SERVICE argument: "pubsub/NAME" or "NAME" (no lookup: pub may create it). */
static int ps_name(const cli_spec *spec, const char *arg, char *name)
{
    const char *slash = strchr(arg, '/');
    if (slash && (slash - arg != 6 || strncmp(arg, "pubsub", 6) != 0))
        return cli_usage_error(spec, "'%s' is not a publish/subscribe service (want NAME or pubsub/NAME)", arg);
    const char *bare = slash ? slash + 1 : arg;
    int err = svc_check_name(spec, bare);
    if (!err)
        snprintf(name, SHMIPC_SERVICE_NAME_MAX + 1, "%s", bare);
    return err;
}

/* The common start of pub and sub: parse argv, the SERVICE argument and --format. Returns CLI_RUN or an
 * exit code. */
static int ps_parse(const cli_spec *spec, int argc, char **argv, const char *const *format_s, char *name,
                    char *what, cli_fmt *fmt)
{
    char **args;
    int nargs, rc = cli_parse(spec, argc, argv, &args, &nargs);
    if (rc != CLI_RUN)
        return rc;
    if ((rc = ps_name(spec, args[0], name)) || (rc = cli_fmt_parse(spec, *format_s, fmt)))
        return rc;
    snprintf(what, SVC_FULLNAME_MAX, "pubsub/%s", name);
    return CLI_RUN;
}

/* ---- pub --------------------------------------------------------------------------------------------- */

/* Open the publisher of an existing service (its settings, whatever they are), or create the service. */
static int pub_open(const char *name, uint64_t size, uint64_t depth, uint64_t history, shmipc_pubsub_policy policy,
                    shmipc_pubsub_publisher **pub)
{
    int err = shmipc_pubsub_publisher_open(name, NULL, pub);
    if (err != -ENOENT)
        return err;
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC; /* lines have any length */
    o.payload_size = size;
    o.depth = (uint32_t)depth;
    o.history = (uint32_t)history;
    o.policy = policy;
    return shmipc_pubsub_publisher_create(name, &o, pub);
}

int cli_cmd_pub(int argc, char **argv)
{
    const char *format_s = NULL, *rate_s = NULL, *size_s = NULL, *depth_s = NULL, *history_s = NULL, *policy_s = NULL;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "input lines are text (default: the bytes of the line), hex, or json (a JSON string)"),
        CLI_OPT_VALUE("rate", 'r', "N", &rate_s, "publish at most N samples per second (default: no limit)"),
        CLI_OPT_VALUE("size", 's', "BYTES", &size_s, "when creating: the largest sample (default 4K)"),
        CLI_OPT_VALUE("depth", 'd', "N", &depth_s, "when creating: each subscriber's queue depth (default 8)"),
        CLI_OPT_VALUE("history", 'H', "N", &history_s,
                      "when creating: samples a new subscriber gets on connecting (default 0, at most depth)"),
        CLI_OPT_VALUE("policy", 'P', "POLICY", &policy_s,
                      "when creating: a full subscriber queue drops its oldest sample (drop-oldest, default) or makes "
                      "pub wait (wait)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc pub",
        .args = "SERVICE",
        .summary = "Publish each line of standard input as one sample of the publish/subscribe service SERVICE\n"
                   "(NAME or pubsub/NAME), creating it (with samples of any size up to --size) if it does not "
                   "exist.",
        .details = "The newline is not part of the sample. A fixed-size service gets each sample padded with "
                   "zero\nbytes to its size; a line longer than the service's samples is an error. Ends at end "
                   "of input\nor on Ctrl-C, leaving the service (which stays: see 'shmipc gc').",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char name[SHMIPC_SERVICE_NAME_MAX + 1], what[SVC_FULLNAME_MAX];
    cli_fmt fmt = CLI_FMT_TEXT;
    uint64_t rate = 0, size = 4096, depth = 0, history = 0;
    int rc = ps_parse(&spec, argc, argv, &format_s, name, what, &fmt);
    if (rc != CLI_RUN)
        return rc;
    if (rate_s && cli_parse_uint(rate_s, 10, 1000000000, &rate))
        return cli_usage_error(&spec, "bad rate '%s' (want samples per second)", rate_s);
    if (size_s && (cli_parse_size(size_s, &size) || size == 0 || size > UINT32_MAX))
        return cli_usage_error(&spec, "bad size '%s' (want 1 byte to 4G, with K, M or G)", size_s);
    if (depth_s && (cli_parse_uint(depth_s, 10, UINT32_MAX, &depth) || depth == 0))
        return cli_usage_error(&spec, "bad depth '%s' (want a number, at least 1)", depth_s);
    if (history_s && cli_parse_uint(history_s, 10, UINT32_MAX, &history))
        return cli_usage_error(&spec, "bad history '%s' (want a number)", history_s);
    shmipc_pubsub_policy policy = SHMIPC_PUBSUB_POLICY_DEFAULT;
    if (policy_s && !strcmp(policy_s, "wait"))
        policy = SHMIPC_PUBSUB_WAIT;
    else if (policy_s && !strcmp(policy_s, "drop-oldest"))
        policy = SHMIPC_PUBSUB_DROP_OLDEST;
    else if (policy_s)
        return cli_usage_error(&spec, "bad policy '%s' (want drop-oldest or wait)", policy_s);

    shmipc_pubsub_publisher *pub;
    int err = pub_open(name, size, depth, history, policy, &pub);
    if (err)
        return svc_fail(what, err);
    shmipc_pubsub_opts got;
    shmipc_pubsub_opts_init(&got);
    if ((err = shmipc_pubsub_publisher_options(pub, &got)) != 0) {
        shmipc_pubsub_publisher_close(pub);
        return svc_fail(what, err);
    }
    uint64_t max = got.payload_size;
    bool dynamic = got.flags & SHMIPC_PUBSUB_DYNAMIC;
    char *buf = malloc(max ? max : 1);
    if (!buf) {
        shmipc_pubsub_publisher_close(pub);
        return cli_fail(what, -ENOMEM);
    }
    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    cli_msg_src in;
    cli_msg_src_init(&in, &spec, fmt, NULL, 0); /* standard input: cannot fail */
    uint64_t next = cli_now_ns();
    const char *line;
    size_t n;
    int more;
    rc = CLI_OK;
    while ((more = cli_msg_next(&in, &line, &n)) == 1) {
        if ((uint64_t)n > max) {
            fprintf(stderr, "shmipc: stdin line %" PRIu64 ": %zu bytes, but %s takes at most %" PRIu64 "\n",
                    in.done, n, what, max);
            rc = CLI_ERR;
            break;
        }
        memcpy(buf, line, n);
        size_t out = n;
        if (!dynamic) {
            memset(buf + n, 0, max - n);
            out = max;
        }
        if (rate) {
            /* an idle input earns no credit: after a pause the rate holds from now, not as a burst */
            uint64_t now = cli_now_ns();
            if (next < now)
                next = now;
            cli_sleep_until(next);
            if (svc_stop)
                break;
            next += 1000000000u / rate;
        }
        err = shmipc_pubsub_publisher_publish_copy(pub, buf, out);
        if (err < 0 && err != -ETIMEDOUT) { /* -ETIMEDOUT: delivered to all but a full, waiting queue */
            rc = svc_fail(what, err);
            break;
        }
    }
    if (more < 0)
        rc = CLI_ERR;
    cli_msg_src_free(&in);
    free(buf);
    shmipc_pubsub_publisher_close(pub);
    svc_signals_restore(old_sig);
    return rc;
}

/* ---- sub --------------------------------------------------------------------------------------------- */


/* Open a subscriber of name; with --wait, a service that does not exist yet is waited for (until the
 * idle timeout t or Ctrl-C). Returns 0, or the exit code after saying why. */
static int sub_open(const char *name, const char *what, bool wait, const cli_idle *t, shmipc_pubsub_subscriber **sub)
{
    int err;
    while ((err = shmipc_pubsub_subscriber_open(name, NULL, sub)) == -ENOENT && wait && cli_wait_retry(t))
        ;
    if (err == -ENOENT && wait && svc_stop)
        return CLI_OK; /* Ctrl-C while waiting */
    if (err == -ENOENT && wait) {
        fprintf(stderr, "shmipc: %s: timed out: no such service after %" PRIu64 " ms\n", what, t->ms);
        return CLI_TIMEOUT;
    }
    if (err == -ENOENT) {
        fprintf(stderr, "shmipc: %s: no such service: %s (--wait waits for it)\n", what, cli_errtext(-ENOENT));
        return CLI_ERR;
    }
    return err ? svc_fail(what, err) : 0;
}

int cli_cmd_sub(int argc, char **argv)
{
    const char *format_s = NULL, *count_s = NULL, *timeout_s = NULL;
    bool wait = false;
    const cli_opt opts[] = {
        CLI_OPT_VALUE("format", 'f', "FORMAT", &format_s,
                      "print each sample as text (default; up to its first NUL byte), hex, or json (one "
                      "object per line)"),
        CLI_OPT_VALUE("count", 'n', "N", &count_s, "exit after N samples"),
        CLI_OPT_VALUE("timeout", 't', "MS", &timeout_s,
                      "give up when no sample arrives for MS milliseconds (status 3 if --count samples, or "
                      "without --count any sample, did not arrive)"),
        CLI_OPT_FLAG("wait", 'w', &wait,
                     "wait for the service to be created if it does not exist (within --timeout, if given)"),
        CLI_OPT_END,
    };
    const cli_spec spec = {
        .prog = "shmipc sub",
        .args = "SERVICE",
        .summary = "Connect to the publish/subscribe service SERVICE (NAME or pubsub/NAME) and print every "
                   "sample that\narrives, one per line.",
        .details = "Runs until --count samples arrived, --timeout expired or Ctrl-C, then leaves the service "
                   "cleanly.\nExit status: 0 done, 1 error, 2 usage error, 3 timed out (before --count samples, "
                   "or before\nany sample without --count; with --wait, also before the service appeared).",
        .opts = opts,
        .min_args = 1,
        .max_args = 1,
    };
    char name[SHMIPC_SERVICE_NAME_MAX + 1], what[SVC_FULLNAME_MAX];
    cli_fmt fmt = CLI_FMT_TEXT;
    uint64_t count = 0, timeout = 0;
    int rc = ps_parse(&spec, argc, argv, &format_s, name, what, &fmt);
    if (rc != CLI_RUN)
        return rc;
    if ((rc = cli_msg_opts_parse(&spec, count_s, timeout_s, format_s, &count, &timeout, &fmt)) != 0)
        return rc;

    struct sigaction old_sig[2];
    svc_signals_catch(old_sig);
    /* The wait for the service and for the first sample share the first --timeout period. */
    cli_idle idle;
    cli_idle_start(&idle, timeout_s != NULL, timeout);
    shmipc_pubsub_subscriber *sub = NULL;
    if ((rc = sub_open(name, what, wait, &idle, &sub)) != 0 || !sub) {
        svc_signals_restore(old_sig);
        return rc;
    }
    unsigned char *buf = NULL;
    size_t cap = 0;
    uint64_t got = 0;
    bool timed_out = false;
    rc = CLI_OK;
    while (!svc_stop && (count == 0 || got < count)) {
        shmipc_pubsub_sample s;
        int err = shmipc_pubsub_subscriber_receive(sub, &s, cli_idle_slice(&idle));
        if (err == -ETIMEDOUT || err == -EAGAIN || err == -EINTR) {
            if (cli_idle_expired(&idle)) {
                timed_out = true;
                break;
            }
            continue;
        }
        if (err == -EBADMSG) {
            fprintf(stderr, "shmipc: %s: a corrupt queue entry was skipped\n", what);
            continue;
        }
        if (err) {
            rc = svc_fail(what, err);
            break;
        }
        if (s.size > cap) {
            unsigned char *nb = realloc(buf, s.size);
            if (!nb) {
                shmipc_pubsub_subscriber_release(sub, &s);
                rc = cli_fail(what, -ENOMEM);
                break;
            }
            buf = nb;
            cap = s.size;
        }
        err = s.size ? cli_copy_guarded(buf, s.data, s.size) : 0;
        size_t size = s.size;
        shmipc_pubsub_subscriber_release(sub, &s);
        if (err) {
            rc = cli_fail(what, err);
            break;
        }
        char members[64];
        snprintf(members, sizeof members, "\"sequence\": %" PRIu64 ", \"publisher\": %" PRIu32 ", ", s.sequence,
                 s.publisher);
        /* no buffer yet: size 0 */
        if ((rc = cli_fmt_emit(fmt, buf ? buf : (const unsigned char *)"", size, members)) != 0)
            break;
        got++;
        cli_idle_reset(&idle);
    }
    if (rc == CLI_OK)
        rc = cli_recv_status(what, "samples", got, count, timed_out, &idle);
    free(buf);
    shmipc_pubsub_subscriber_close(sub);
    svc_signals_restore(old_sig);
    return rc;
}
