/* SPDX-License-Identifier: MIT */
/*
 * tests/test_bridge_config.c - the NATS bridge without a server: the configuration directives (what
 * each accepts and refuses, with the error text naming the file and line), the checks across routes
 * (loops, duplicates, JetStream subjects), the name mapping between services and subjects in both
 * directions, and the duplicate and gap window an import keeps per publisher (in order, late arrivals,
 * redeliveries, a window overrun, many publishers). Built only with the bridge library.
 */
#include "bridge_internal.h"
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static shmipc_bridge_config *fresh(void)
{
    shmipc_bridge_config *cfg = NULL;
    assert_int_equal(shmipc_bridge_config_new(&cfg), 0);
    assert_non_null(cfg);
    return cfg;
}

/* The directive must be refused with -EINVAL and an error text holding `want`. */
static void refused(shmipc_bridge_config *cfg, const char *line, const char *want)
{
    int err = shmipc_bridge_config_directive(cfg, line);
    if (err != -EINVAL || !strstr(shmipc_bridge_config_error(cfg), want))
        fail_msg("'%s': got %d '%s', expected -EINVAL with '%s'", line, err, shmipc_bridge_config_error(cfg), want);
}

static void accepted(shmipc_bridge_config *cfg, const char *line)
{
    int err = shmipc_bridge_config_directive(cfg, line);
    if (err)
        fail_msg("'%s' refused: %d %s", line, err, shmipc_bridge_config_error(cfg));
}

static void directives_set_what_they_name(void **state)
{
    (void)state;
    shmipc_bridge_config *cfg = fresh();
    assert_string_equal(cfg->prefix, "shmipc");
    assert_int_equal(cfg->qos, SHMIPC_BRIDGE_QOS_CORE);
    assert_true(cfg->name[0] != '\0'); /* the host name */
    accepted(cfg, "");
    accepted(cfg, "   # only a comment");
    accepted(cfg, "name site-1_a   # trailing comment");
    assert_string_equal(cfg->name, "site-1_a");
    accepted(cfg, "server nats://10.0.0.1:4222,nats://10.0.0.2:4222");
    accepted(cfg, "server\tnats://10.0.0.3:4222 nats://10.0.0.4:4222");
    assert_int_equal(cfg->nservers, 4);
    assert_string_equal(cfg->servers[3], "nats://10.0.0.4:4222");
    accepted(cfg, "prefix plant.line3");
    assert_string_equal(cfg->prefix, "plant.line3");
    accepted(cfg, "qos jetstream");
    assert_int_equal(cfg->qos, SHMIPC_BRIDGE_QOS_JETSTREAM);
    accepted(cfg, "stream TELEMETRY_1");
    assert_string_equal(cfg->stream, "TELEMETRY_1");
    accepted(cfg, "stream-tag host:a");
    accepted(cfg, "buffer 8192");
    assert_int_equal(cfg->buffer, 8192);
    accepted(cfg, "reconnect-buffer 4M");
    assert_int_equal(cfg->reconnect_buffer, 4u << 20);
    accepted(cfg, "overflow drop-newest");
    assert_true(cfg->drop_newest);
    accepted(cfg, "reconnect-wait 20 4000");
    assert_int_equal(cfg->reconnect_min_ms, 20);
    assert_int_equal(cfg->reconnect_max_ms, 4000);
    accepted(cfg, "reconnect-wait 5000"); /* a minimum above the maximum raises the maximum */
    assert_int_equal(cfg->reconnect_max_ms, 5000);
    accepted(cfg, "send-asap off");
    assert_false(cfg->send_asap);
    accepted(cfg, "request-timeout 250");
    accepted(cfg, "dedup-window 60000");
    assert_int_equal(cfg->dedup_window_ms, 60000);
    accepted(cfg, "import pubsub camera.front size 1M depth 16 history 2 policy wait");
    shmipc_bridge_route_info r;
    assert_int_equal(shmipc_bridge_config_route(cfg, 0, &r), 0);
    assert_int_equal(r.direction, SHMIPC_BRIDGE_IMPORT);
    assert_int_equal(r.pattern, SHMIPC_PATTERN_PUBSUB);
    assert_string_equal(r.service, "camera.front");
    assert_int_equal(r.size, 1u << 20);
    assert_int_equal(r.depth, 16);
    assert_int_equal(r.history, 2);
    assert_int_equal(r.policy, SHMIPC_PUBSUB_WAIT);
    assert_string_equal(r.subject, ""); /* derived by the check */
    accepted(cfg, "export reqresp config subject site1.config");
    accepted(cfg, "import event alarms events 128");
    assert_int_equal(shmipc_bridge_config_routes(cfg), 3);
    assert_int_equal(shmipc_bridge_config_route(cfg, 3, &r), -ERANGE);
    shmipc_bridge_config_free(cfg);
    shmipc_bridge_config_free(NULL);
}

static void bad_directives_say_why(void **state)
{
    (void)state;
    shmipc_bridge_config *cfg = fresh();
    refused(cfg, "colour blue", "unknown directive 'colour'");
    refused(cfg, "name", "usage: name NAME");
    refused(cfg, "name a.b", "only letters, digits");
    refused(cfg, "name a b", "usage: name NAME");
    refused(cfg, "qos best-effort", "want core or jetstream");
    refused(cfg, "prefix a..b", "no subject");
    refused(cfg, "prefix a.*", "no subject");
    refused(cfg, "prefix .a", "no subject");
    refused(cfg, "stream a.b", "only letters");
    refused(cfg, "buffer 0", "want 1 to");
    refused(cfg, "buffer -3", "want 1 to");
    refused(cfg, "buffer 99999999999999999999999", "want 1 to");
    refused(cfg, "buffer 12 13", "usage: buffer N");
    refused(cfg, "reconnect-buffer 1k", "want 4096 to");
    refused(cfg, "reconnect-wait 0", "reconnect-wait");
    refused(cfg, "reconnect-wait 500 100", "below the minimum");
    refused(cfg, "overflow block", "drop-oldest or drop-newest");
    refused(cfg, "send-asap maybe", "on or off");
    refused(cfg, "export mailbox x", "pubsub, reqresp or event");
    refused(cfg, "export pubsub -x", "no service name");
    refused(cfg, "export pubsub x size 4K", "an import option");
    refused(cfg, "import pubsub x size", "in pairs");
    refused(cfg, "import pubsub x colour red", "unknown option 'colour'");
    refused(cfg, "import pubsub x subject a.>", "not one NATS takes");
    refused(cfg, "import pubsub x subject a b", "in pairs");
    refused(cfg, "import pubsub x history 9", "more than the depth");
    refused(cfg, "import pubsub x policy never", "drop-oldest or wait");
    refused(cfg, "import reqresp x depth 6", "power of two");
    refused(cfg, "import reqresp x size 2M", "1M");
    refused(cfg, "import reqresp x history 1", "unknown option");
    refused(cfg, "import event x events 5000", "want 1 to 4096");
    refused(cfg, "import event x size 4", "unknown option");
    char longname[200];
    memset(longname, 'n', sizeof longname);
    longname[sizeof longname - 1] = '\0';
    char line[300];
    snprintf(line, sizeof line, "export pubsub %s", longname);
    refused(cfg, line, "longer than");
    char huge[1100];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    refused(cfg, huge, "longer than 1023");
    assert_int_equal(shmipc_bridge_config_routes(cfg), 0); /* nothing refused was kept */
    assert_int_equal(shmipc_bridge_config_directive(NULL, "qos core"), -EINVAL);
    assert_int_equal(shmipc_bridge_config_directive(cfg, NULL), -EINVAL);
    for (int i = 0; i < SHMIPC_BRIDGE_MAX_ROUTES; i++) {
        snprintf(line, sizeof line, "export pubsub s%d", i);
        accepted(cfg, line);
    }
    refused(cfg, "export pubsub one-too-many", "more than 64 routes");
    shmipc_bridge_config_free(cfg);
}

static void a_file_error_names_its_line(void **state)
{
    (void)state;
    char path[] = "/tmp/shmipc-test-bridge-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# bridge of host A\nname hostA\nserver nats://127.0.0.1:4222\n\nexport pubsub telemetry\n"
                       "import reqresp config\nqos sometimes\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    shmipc_bridge_config *cfg = fresh();
    assert_int_equal(shmipc_bridge_config_load(cfg, path), -EINVAL);
    char want[128];
    snprintf(want, sizeof want, "%s:7: qos 'sometimes'", path);
    if (!strstr(shmipc_bridge_config_error(cfg), want))
        fail_msg("error '%s', expected '%s'", shmipc_bridge_config_error(cfg), want);
    assert_string_equal(cfg->name, "hostA");          /* the lines before it were applied */
    assert_int_equal(shmipc_bridge_config_routes(cfg), 2);
    /* the same directive given later is not attributed to the file */
    refused(cfg, "qos never", "qos 'never'");
    assert_null(strstr(shmipc_bridge_config_error(cfg), path));
    unlink(path);
    assert_int_equal(shmipc_bridge_config_load(cfg, path), -ENOENT);
    assert_non_null(strstr(shmipc_bridge_config_error(cfg), path));
    shmipc_bridge_config_free(cfg);
}

static void check_derives_subjects_and_refuses_loops(void **state)
{
    (void)state;
    shmipc_bridge_config *cfg = fresh();
    assert_int_equal(shmipc_bridge_config_check(cfg), -EINVAL);
    assert_non_null(strstr(shmipc_bridge_config_error(cfg), "nothing to bridge"));
    accepted(cfg, "export pubsub camera.front");
    accepted(cfg, "import pubsub camera.front"); /* pub/sub both ways: the bridge skips its own samples */
    accepted(cfg, "export reqresp config subject site.config");
    accepted(cfg, "import event alarms");
    assert_int_equal(shmipc_bridge_config_check(cfg), 0);
    shmipc_bridge_route_info r;
    shmipc_bridge_config_route(cfg, 0, &r);
    assert_string_equal(r.subject, "shmipc.pubsub.camera.front");
    shmipc_bridge_config_route(cfg, 2, &r);
    assert_string_equal(r.subject, "site.config"); /* named, kept */
    shmipc_bridge_config_route(cfg, 3, &r);
    assert_string_equal(r.subject, "shmipc.event.alarms");
    /* a derived subject follows a later prefix */
    accepted(cfg, "prefix plant");
    assert_int_equal(shmipc_bridge_config_check(cfg), 0);
    shmipc_bridge_config_route(cfg, 0, &r);
    assert_string_equal(r.subject, "plant.pubsub.camera.front");
    shmipc_bridge_config_route(cfg, 2, &r);
    assert_string_equal(r.subject, "site.config");
    shmipc_bridge_config_free(cfg);

    struct {
        const char *a, *b, *want;
    } bad[] = {
        {"export pubsub x", "export pubsub x", "given twice"},
        {"export reqresp x", "import reqresp x", "would loop"},
        {"import event x", "export event x", "would loop"},
        {"import pubsub x subject s.t", "import pubsub y subject s.t", "imported twice"},
        {"export pubsub a..b", "import pubsub c", "gives no subject"},
        {"export pubsub trailing.", "import pubsub c", "gives no subject"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg = fresh();
        accepted(cfg, bad[i].a);
        accepted(cfg, bad[i].b);
        assert_int_equal(shmipc_bridge_config_check(cfg), -EINVAL);
        if (!strstr(shmipc_bridge_config_error(cfg), bad[i].want))
            fail_msg("'%s' + '%s': '%s', expected '%s'", bad[i].a, bad[i].b, shmipc_bridge_config_error(cfg),
                     bad[i].want);
        shmipc_bridge_config_free(cfg);
    }
    /* JetStream keeps PREFIX.pubsub.>: a pub/sub subject elsewhere is refused, others are fine */
    cfg = fresh();
    accepted(cfg, "qos jetstream");
    accepted(cfg, "export pubsub x subject elsewhere.x");
    assert_int_equal(shmipc_bridge_config_check(cfg), -EINVAL);
    assert_non_null(strstr(shmipc_bridge_config_error(cfg), "must be under shmipc.pubsub."));
    shmipc_bridge_config_free(cfg);
    cfg = fresh();
    accepted(cfg, "qos jetstream");
    accepted(cfg, "export pubsub x subject shmipc.pubsub.other");
    accepted(cfg, "export reqresp y subject elsewhere.y");
    assert_int_equal(shmipc_bridge_config_check(cfg), 0);
    shmipc_bridge_config_free(cfg);
}

static void names_map_to_subjects_and_back(void **state)
{
    (void)state;
    char buf[SHMIPC_BRIDGE_SUBJECT_MAX + 1], name[SHMIPC_SERVICE_NAME_MAX + 1];
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_PUBSUB, "camera", buf, sizeof buf), 0);
    assert_string_equal(buf, "shmipc.pubsub.camera");
    assert_int_equal(shmipc_bridge_subject("site.a", SHMIPC_PATTERN_REQRESP, "robot.arm-2_x", buf, sizeof buf), 0);
    assert_string_equal(buf, "site.a.reqresp.robot.arm-2_x");
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_EVENT, "alarms", buf, sizeof buf), 0);
    assert_string_equal(buf, "shmipc.event.alarms");
    /* and back */
    assert_int_equal(shmipc_bridge_service_name("site.a", SHMIPC_PATTERN_REQRESP, "site.a.reqresp.robot.arm-2_x", name,
                                                sizeof name), 0);
    assert_string_equal(name, "robot.arm-2_x");
    const char *names[] = {"a", "camera", "x.y.z", "9lives", "A-b_c.d"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_int_equal(shmipc_bridge_subject("p", SHMIPC_PATTERN_PUBSUB, names[i], buf, sizeof buf), 0);
        assert_int_equal(shmipc_bridge_service_name("p", SHMIPC_PATTERN_PUBSUB, buf, name, sizeof name), 0);
        assert_string_equal(name, names[i]);
    }
    /* what has no subject, or no service */
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_PUBSUB, "a..b", buf, sizeof buf), -EINVAL);
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_PUBSUB, "a.", buf, sizeof buf), -EINVAL);
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_PUBSUB, "-a", buf, sizeof buf), -EINVAL);
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_BLACKBOARD, "a", buf, sizeof buf), -EINVAL);
    assert_int_equal(shmipc_bridge_subject("sh mipc", SHMIPC_PATTERN_PUBSUB, "a", buf, sizeof buf), -EINVAL);
    assert_int_equal(shmipc_bridge_subject("shmipc", SHMIPC_PATTERN_PUBSUB, "abc", buf, 12), -ENAMETOOLONG);
    assert_int_equal(shmipc_bridge_subject(NULL, SHMIPC_PATTERN_PUBSUB, "abc", buf, sizeof buf), -EINVAL);
    assert_int_equal(shmipc_bridge_service_name("shmipc", SHMIPC_PATTERN_PUBSUB, "shmipc.reqresp.a", name, sizeof name),
                     -EINVAL);
    assert_int_equal(shmipc_bridge_service_name("shmipc", SHMIPC_PATTERN_PUBSUB, "shmipcx.pubsub.a", name, sizeof name),
                     -EINVAL);
    assert_int_equal(shmipc_bridge_service_name("shmipc", SHMIPC_PATTERN_PUBSUB, "shmipc.pubsub.", name, sizeof name),
                     -EINVAL);
    assert_int_equal(shmipc_bridge_service_name("shmipc", SHMIPC_PATTERN_PUBSUB, "shmipc.pubsub.a..b", name,
                                                sizeof name), -EINVAL);
    assert_int_equal(shmipc_bridge_service_name("shmipc", SHMIPC_PATTERN_PUBSUB, "shmipc.pubsub.*", name, sizeof name),
                     -EINVAL);
    assert_int_equal(shmipc_bridge_service_name("shmipc", SHMIPC_PATTERN_PUBSUB, "shmipc.pubsub.abcdef", name, 4),
                     -ENAMETOOLONG);
}

static void window_drops_duplicates_and_counts_gaps(void **state)
{
    (void)state;
    shmipc__bridge_dedup *d = calloc(1, sizeof *d);
    assert_non_null(d);
    uint64_t k = shmipc__bridge_dedup_key("hostA/telemetry/1a2b/0", 22);
    assert_int_not_equal(k, 0);
    assert_int_not_equal(k, shmipc__bridge_dedup_key("hostA/telemetry/1a2b/1", 22));
    /* the first sample seen: no gap before it */
    assert_int_equal(shmipc__bridge_dedup_check(d, k, 100), BRIDGE_NEW);
    assert_int_equal(shmipc__bridge_dedup_commit(d, k, 100), 0);
    assert_int_equal(shmipc__bridge_dedup_check(d, k, 100), BRIDGE_DUP);
    assert_int_equal(shmipc__bridge_dedup_commit(d, k, 101), 0);
    /* 102..108 missing: a gap of 7 */
    assert_int_equal(shmipc__bridge_dedup_check(d, k, 109), BRIDGE_NEW);
    assert_int_equal(shmipc__bridge_dedup_commit(d, k, 109), 7);
    /* a late one fills a gap (JetStream resends), once */
    for (uint64_t s = 102; s <= 108; s++) {
        assert_int_equal(shmipc__bridge_dedup_check(d, k, s), BRIDGE_NEW);
        assert_int_equal(shmipc__bridge_dedup_commit(d, k, s), -1);
        assert_int_equal(shmipc__bridge_dedup_check(d, k, s), BRIDGE_DUP);
    }
    for (uint64_t s = 100; s <= 109; s++)
        assert_int_equal(shmipc__bridge_dedup_check(d, k, s), BRIDGE_DUP);
    /* a jump beyond the window: all of the window's old bits are gone, older ones count as duplicates */
    uint64_t far = 109 + 5 * BRIDGE_DEDUP_WINDOW;
    assert_int_equal(shmipc__bridge_dedup_commit(d, k, far), (int64_t)(far - 110));
    assert_int_equal(shmipc__bridge_dedup_check(d, k, far - 1), BRIDGE_NEW);
    assert_int_equal(shmipc__bridge_dedup_check(d, k, far - BRIDGE_DEDUP_WINDOW + 1), BRIDGE_NEW);
    assert_int_equal(shmipc__bridge_dedup_check(d, k, far - BRIDGE_DEDUP_WINDOW), BRIDGE_DUP);
    assert_int_equal(shmipc__bridge_dedup_check(d, k, 109), BRIDGE_DUP);
    /* bits the window moved over were cleared: a sequence one window behind is new again when late */
    assert_int_equal(shmipc__bridge_dedup_commit(d, k, far + 1), 0);
    assert_int_equal(shmipc__bridge_dedup_check(d, k, far + 1 - BRIDGE_DEDUP_WINDOW + 1), BRIDGE_NEW);
    /* whatever the network says: the extremes */
    uint64_t k2 = shmipc__bridge_dedup_key("x", 1);
    assert_int_equal(shmipc__bridge_dedup_commit(d, k2, 0), 0);
    assert_int_equal(shmipc__bridge_dedup_commit(d, k2, UINT64_MAX), INT64_MAX);
    assert_int_equal(shmipc__bridge_dedup_check(d, k2, 0), BRIDGE_DUP);
    assert_int_equal(shmipc__bridge_dedup_check(d, k2, UINT64_MAX), BRIDGE_DUP);
    free(d);
}

static void window_restarts_where_a_killed_bridge_left_it(void **state)
{
    (void)state;
    /* the window lives in memory the next run finds again (the state segment): a redelivery of what the
     * last run forwarded is a duplicate, what it had not reached fills the gap the jump counted */
    shmipc__bridge_dedup *d = calloc(1, sizeof *d);
    uint64_t k = shmipc__bridge_dedup_key("hostA/t/1/0", 11);
    for (uint64_t s = 1; s <= 2528; s++)
        shmipc__bridge_dedup_commit(d, k, s);
    shmipc__bridge_dedup *next = malloc(sizeof *next);
    memcpy(next, d, sizeof *next);
    assert_int_equal(shmipc__bridge_dedup_commit(next, k, 2536), 7);
    for (uint64_t s = 2520; s <= 2528; s++)
        assert_int_equal(shmipc__bridge_dedup_check(next, k, s), BRIDGE_DUP);
    for (uint64_t s = 2529; s <= 2535; s++) {
        assert_int_equal(shmipc__bridge_dedup_check(next, k, s), BRIDGE_NEW);
        assert_int_equal(shmipc__bridge_dedup_commit(next, k, s), -1);
    }
    free(d);
    free(next);
}

static void window_forgets_the_least_recent_publisher(void **state)
{
    (void)state;
    shmipc__bridge_dedup *d = calloc(1, sizeof *d);
    char id[32];
    for (unsigned p = 0; p < BRIDGE_DEDUP_PUBLISHERS; p++) {
        snprintf(id, sizeof id, "pub-%u", p);
        shmipc__bridge_dedup_commit(d, shmipc__bridge_dedup_key(id, strlen(id)), 10);
    }
    /* publisher 0 seen again: publisher 1 is now the least recent */
    shmipc__bridge_dedup_commit(d, shmipc__bridge_dedup_key("pub-0", 5), 11);
    shmipc__bridge_dedup_commit(d, shmipc__bridge_dedup_key("pub-new", 7), 1);
    assert_int_equal(shmipc__bridge_dedup_check(d, shmipc__bridge_dedup_key("pub-0", 5), 11), BRIDGE_DUP);
    assert_int_equal(shmipc__bridge_dedup_check(d, shmipc__bridge_dedup_key("pub-new", 7), 1), BRIDGE_DUP);
    assert_int_equal(shmipc__bridge_dedup_check(d, shmipc__bridge_dedup_key("pub-1", 5), 10), BRIDGE_NEW); /* forgotten */
    assert_int_equal(shmipc__bridge_dedup_check(d, shmipc__bridge_dedup_key("pub-2", 5), 10), BRIDGE_DUP);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(directives_set_what_they_name),
        cmocka_unit_test(bad_directives_say_why),
        cmocka_unit_test(a_file_error_names_its_line),
        cmocka_unit_test(check_derives_subjects_and_refuses_loops),
        cmocka_unit_test(names_map_to_subjects_and_back),
        cmocka_unit_test(window_drops_duplicates_and_counts_gaps),
        cmocka_unit_test(window_restarts_where_a_killed_bridge_left_it),
        cmocka_unit_test(window_forgets_the_least_recent_publisher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
