/* SPDX-License-Identifier: MIT */
/*
 * tests/cxx/test_cxx.cpp - the C++ header (shmipc/shmipc.hpp), built with g++ -fno-exceptions: every
 * public header compiles as C++, a handle closes when its owner goes out of scope or is reset, moving
 * hands ownership over without closing, options come with their size word, a loan is discarded unless
 * published, and a sample is released when its guard ends.
 */
#include <shmipc/shmipc.hpp>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" { /* cmocka's header has no C++ guard of its own */
#include <cmocka.h>
}

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <utility>

static void unique(char *buf, size_t cap, const char *tag, bool slash)
{
    static unsigned n;
    std::snprintf(buf, cap, "%sshmipc-cxx-%d-%u-%s", slash ? "/" : "", (int)getpid(), n++, tag);
}

static void handle_closes_at_scope_end_and_on_reset(void **)
{
    char name[64];
    unique(name, sizeof name, "ch", true);
    {
        shmipc::channel tx;
        assert_false(static_cast<bool>(tx));
        assert_int_equal(shmipc_channel_create(name, nullptr, tx.out()), 0);
        assert_true(static_cast<bool>(tx));
        shmipc::channel again;
        /* The producer end is taken while tx lives. */
        assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, nullptr, again.out()), -EBUSY);
    }
    shmipc::channel tx; /* the first owner closed it: the end is free again */
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, nullptr, tx.out()), 0);
    assert_int_equal(tx.reset(), 0);
    assert_false(static_cast<bool>(tx));
    assert_int_equal(shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, nullptr, tx.out()), 0);
    shmipc_channel_unlink(name);
}

static void moving_hands_ownership_over(void **)
{
    char name[64];
    unique(name, sizeof name, "mv", true);
    shmipc::channel a;
    assert_int_equal(shmipc_channel_create(name, nullptr, a.out()), 0);
    shmipc_channel *raw = a.get();
    shmipc::channel b(std::move(a));
    assert_false(static_cast<bool>(a));
    assert_ptr_equal(b.get(), raw);
    shmipc::channel c;
    c = std::move(b);
    assert_ptr_equal(c.get(), raw);
    assert_int_equal(shmipc_channel_send(c.get(), "x", 1, 0), 0); /* still open: nothing closed it */
    shmipc_channel *mine = c.release();
    assert_false(static_cast<bool>(c));
    assert_int_equal(shmipc_channel_close(mine), 0);
    shmipc_channel_unlink(name);
}

static void options_carry_their_size(void **)
{
    shmipc_channel_opts o = shmipc::channel_opts();
    assert_int_equal(o.size, sizeof o);
    shmipc_pubsub_opts p = shmipc::pubsub_opts();
    assert_int_equal(p.size, sizeof p);
    assert_int_equal(p.publish_timeout_ms, -1);
    assert_int_equal(shmipc::segment_opts().size, sizeof(shmipc_segment_opts));
    assert_int_equal(shmipc::queue_opts().size, sizeof(shmipc_queue_opts));
    assert_int_equal(shmipc::event_opts().size, sizeof(shmipc_event_opts));
    assert_int_equal(shmipc::reqresp_opts().size, sizeof(shmipc_reqresp_opts));
    assert_int_equal(shmipc::blackboard_opts().size, sizeof(shmipc_blackboard_opts));
    assert_int_equal(shmipc::evsvc_opts().size, sizeof(shmipc_evsvc_opts));
}

static void loan_and_sample_guards(void **)
{
    char name[64];
    unique(name, sizeof name, "ps", false);
    shmipc_pubsub_opts o = shmipc::pubsub_opts();
    o.payload_size = 32;
    o.flags = SHMIPC_PUBSUB_DYNAMIC; /* samples shorter than 32 bytes */
    o.max_loans = 1;
    o.max_held = 1;
    shmipc::publisher pub;
    shmipc::subscriber sub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, pub.out()), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, nullptr, sub.out()), 0);
    {
        shmipc::loan l;
        assert_int_equal(l.take(pub.get(), 32), 0);
    } /* discarded: with max_loans 1, the next loan only succeeds if this one came back */
    shmipc::loan l;
    assert_int_equal(l.take(pub.get(), 32), 0);
    std::memcpy(l.data(), "hello", 6);
    assert_int_equal(l.publish(6), 1); /* one subscriber reached */
    assert_false(static_cast<bool>(l));
    {
        shmipc::sample s;
        assert_int_equal(s.receive(sub.get(), 1000), 0);
        assert_int_equal(s.size(), 6);
        assert_string_equal(static_cast<const char *>(s.data()), "hello");
    } /* released: with max_held 1, the next receive only works if it was */
    assert_int_equal(l.take(pub.get(), 32), 0);
    assert_int_equal(l.publish(1), 1);
    shmipc::sample s;
    assert_int_equal(s.receive(sub.get(), 1000), 0);
    shmipc::sample moved(std::move(s));
    assert_false(static_cast<bool>(s));
    assert_int_equal(moved.size(), 1);
    assert_int_equal(moved.release(), 0);
    assert_int_equal(s.receive(sub.get(), 0), -EAGAIN);
    sub.reset();
    pub.reset();
    assert_int_equal(shmipc_pubsub_unlink(name), 0);
}

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handle_closes_at_scope_end_and_on_reset),
        cmocka_unit_test(moving_hands_ownership_over),
        cmocka_unit_test(options_carry_their_size),
        cmocka_unit_test(loan_and_sample_guards),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
