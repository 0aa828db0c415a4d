/* SPDX-License-Identifier: MIT */
/*
 * tests/test_options.c - every options structure's size word and reserved room (docs/api.md, "Options
 * structures"): what opts_init sets, that a structure never initialised, a short one, a longer one with
 * unknown non-zero fields, or non-zero reserved room is refused with -EINVAL before anything is created,
 * and that a longer structure whose extra bytes are zero (a program built against a newer header) works.
 */
#include "helpers.h"

#include <shmipc/shmipc.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* One options structure: its size, where its reserved room starts, how to fill it with defaults (plus
 * what a create needs), and a create that cleans up after itself on success. */
typedef struct opts_case {
    const char *what;
    size_t size, reserved_off;
    void (*init)(void *o);
    int (*try_create)(const char *name, const void *o);
    bool null_ok; /* NULL options are valid for this create */
} opts_case;

#define BUF_SIZE 512 /* room for any options structure plus a tail */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void seg_init(void *o) { shmipc_segment_opts_init(o); }
static int seg_try(const char *name, const void *o)
{
    shmipc_segment *s;
    int err = shmipc_segment_create(name, 4096, o, &s);
    if (!err) {
        shmipc_segment_close(s);
        shmipc_segment_unlink(name);
    }
    return err;
}

static void chan_init(void *o) { shmipc_channel_opts_init(o); }
static int chan_try(const char *name, const void *o)
{
    shmipc_channel *c;
    int err = shmipc_channel_create(name, o, &c);
    if (!err) {
        shmipc_channel_close(c);
        shmipc_channel_unlink(name);
    }
    return err;
}

static void queue_init(void *o) { shmipc_queue_opts_init(o); }
static int queue_try(const char *name, const void *o)
{
    shmipc_queue *q;
    int err = shmipc_queue_create(name, o, &q);
    if (!err) {
        shmipc_queue_close(q);
        shmipc_queue_unlink(name);
    }
    return err;
}

static void event_init(void *o) { shmipc_event_opts_init(o); }
static int event_try(const char *name, const void *o)
{
    shmipc_event *e;
    int err = shmipc_event_create(name, o, &e);
    if (!err) {
        shmipc_event_close(e);
        shmipc_event_unlink(name);
    }
    return err;
}

static void ps_init(void *o) { shmipc_pubsub_opts_init(o); }
static int ps_try(const char *name, const void *o)
{
    shmipc_pubsub_publisher *p;
    int err = shmipc_pubsub_publisher_create(name + 1, o, &p);
    if (!err) {
        shmipc_pubsub_publisher_close(p);
        assert_int_equal(shmipc_pubsub_unlink(name + 1), 0);
    }
    return err;
}

static void rr_init(void *o) { shmipc_reqresp_opts_init(o); }
static int rr_try(const char *name, const void *o)
{
    shmipc_reqresp_server *s;
    int err = shmipc_reqresp_server_create(name + 1, o, &s);
    if (!err) {
        shmipc_reqresp_server_close(s);
        shmipc_reqresp_unlink(name + 1);
    }
    return err;
}

static void bb_init(void *o)
{
    shmipc_blackboard_opts_init(o);
    ((shmipc_blackboard_opts *)o)->value_size = 8; /* untyped: a value size is required */
}
static int bb_try(const char *name, const void *o)
{
    shmipc_blackboard_writer *w;
    int err = shmipc_blackboard_writer_create(name + 1, o, &w);
    if (!err) {
        shmipc_blackboard_writer_close(w);
        shmipc_blackboard_unlink(name + 1);
    }
    return err;
}

static void ev_init(void *o) { shmipc_evsvc_opts_init(o); }
static int ev_try(const char *name, const void *o)
{
    shmipc_evsvc_notifier *n;
    int err = shmipc_evsvc_notifier_create(name + 1, o, &n);
    if (!err) {
        shmipc_evsvc_notifier_close(n);
        shmipc_evsvc_unlink(name + 1);
    }
    return err;
}

#define CASE(what, type, init, try, null_ok) { what, sizeof(type), offsetof(type, reserved), init, try, null_ok }
static const opts_case cases[] = {
    CASE("segment", shmipc_segment_opts, seg_init, seg_try, true),
    CASE("channel", shmipc_channel_opts, chan_init, chan_try, true),
    CASE("queue", shmipc_queue_opts, queue_init, queue_try, true),
    CASE("event", shmipc_event_opts, event_init, event_try, true),
    CASE("pubsub", shmipc_pubsub_opts, ps_init, ps_try, true),
    CASE("reqresp", shmipc_reqresp_opts, rr_init, rr_try, true),
    CASE("blackboard", shmipc_blackboard_opts, bb_init, bb_try, false),
    CASE("evsvc", shmipc_evsvc_opts, ev_init, ev_try, true),
};

static void set_size(void *o, uint32_t size) { memcpy(o, &size, sizeof size); }

static void opts_init_sets_the_size_word(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        _Alignas(16) unsigned char buf[BUF_SIZE];
        memset(buf, 0xa5, sizeof buf);
        cases[i].init(buf);
        uint32_t size;
        memcpy(&size, buf, sizeof size);
        if (size != cases[i].size)
            fail_msg("%s: opts_init set size %u, expected %zu", cases[i].what, size, cases[i].size);
        for (size_t b = cases[i].reserved_off; b < cases[i].size; b++)
            if (buf[b])
                fail_msg("%s: reserved byte %zu not zeroed by opts_init", cases[i].what, b);
        if (buf[cases[i].size] != 0xa5)
            fail_msg("%s: opts_init wrote past the structure", cases[i].what);
    }
}

static void defaults_and_null_are_accepted(void **state)
{
    (void)state;
    char name[64];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        _Alignas(16) unsigned char buf[BUF_SIZE] = {0};
        test_name(name, sizeof name, cases[i].what);
        cases[i].init(buf);
        int err = cases[i].try_create(name, buf);
        if (err)
            fail_msg("%s: create with opts_init defaults gave %s", cases[i].what, shmipc_errname(err));
        if (cases[i].null_ok && (err = cases[i].try_create(name, NULL)) != 0)
            fail_msg("%s: create with NULL options gave %s", cases[i].what, shmipc_errname(err));
    }
}

static void bad_size_or_reserved_is_einval(void **state)
{
    (void)state;
    char name[64];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const opts_case *c = &cases[i];
        _Alignas(16) unsigned char buf[BUF_SIZE];
        test_name(name, sizeof name, c->what);
        struct {
            const char *why;
            uint32_t size;
            size_t poke; /* byte set to 1, or 0 for none */
        } bad[] = {
            {"never initialised (size 0)", 0, 0},
            {"shorter than the 1.0 structure", (uint32_t)c->size - 4, 0},
            {"absurd size", 1u << 20, 0},
            {"non-zero reserved room (first byte)", (uint32_t)c->size, c->reserved_off},
            {"non-zero reserved room (last byte)", (uint32_t)c->size, c->size - 1},
            {"unknown non-zero field of a newer header", (uint32_t)c->size + 16, c->size + 8},
        };
        for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
            memset(buf, 0, sizeof buf);
            c->init(buf);
            set_size(buf, bad[k].size);
            if (bad[k].poke)
                buf[bad[k].poke] = 1;
            int err = c->try_create(name, buf);
            if (err != -EINVAL)
                fail_msg("%s, %s: gave %s, expected -EINVAL", c->what, bad[k].why, shmipc_errname(err));
        }
        /* A newer header's longer structure, its extra fields left at zero: read as far as we know. */
        memset(buf, 0, sizeof buf);
        c->init(buf);
        set_size(buf, (uint32_t)c->size + 16);
        int err = c->try_create(name, buf);
        if (err)
            fail_msg("%s: longer structure with a zero tail gave %s", c->what, shmipc_errname(err));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opts_init_sets_the_size_word),
        cmocka_unit_test(defaults_and_null_are_accepted),
        cmocka_unit_test(bad_size_or_reserved_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
