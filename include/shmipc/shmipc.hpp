/* SPDX-License-Identifier: MIT */
/*
 * shmipc/shmipc.hpp - a thin C++ layer over the C API: move-only RAII owners of every handle (closed in
 * the destructor), guards for a loaned chunk and a received sample, and options filled with their
 * defaults. Nothing throws and nothing allocates: errors stay the C API's negative errno values, so the
 * header works with -fno-exceptions. C++11 or later.
 *
 *     shmipc::channel tx;
 *     int err = shmipc_channel_create("/demo", nullptr, tx.out());
 *     if (err == 0)
 *         err = shmipc_channel_send(tx.get(), "hi", 2, -1);
 */
#ifndef SHMIPC_HPP
#define SHMIPC_HPP

#include <shmipc/shmipc.h>

#include <errno.h>

namespace shmipc {

/* Owns one handle of type T and closes it with Close. Move-only; empty when default-built or moved from. */
template <typename T, int (*Close)(T *)>
class handle {
  public:
    handle() noexcept = default;
    explicit handle(T *p) noexcept : p_(p) {}
    handle(handle &&o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    handle &operator=(handle &&o) noexcept
    {
        if (this != &o) {
            reset();
            p_ = o.p_;
            o.p_ = nullptr;
        }
        return *this;
    }
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    ~handle() { reset(); }

    T *get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    /* Give up ownership without closing. */
    T *release() noexcept
    {
        T *p = p_;
        p_ = nullptr;
        return p;
    }
    /* Close the handle held (if any) and hold p. Returns what the close returned (0 when empty). */
    int reset(T *p = nullptr) noexcept
    {
        int r = p_ ? Close(p_) : 0;
        p_ = p;
        return r;
    }
    /* For the C functions' out-parameter: closes what is held, then lends the slot. */
    T **out() noexcept
    {
        reset();
        return &p_;
    }

  private:
    T *p_ = nullptr;
};

using segment = handle<shmipc_segment, shmipc_segment_close>;
using phys = handle<shmipc_phys, shmipc_phys_close>;
using event = handle<shmipc_event, shmipc_event_close>;
using channel = handle<shmipc_channel, shmipc_channel_close>;
using queue = handle<shmipc_queue, shmipc_queue_close>;
using publisher = handle<shmipc_pubsub_publisher, shmipc_pubsub_publisher_close>;
using subscriber = handle<shmipc_pubsub_subscriber, shmipc_pubsub_subscriber_close>;
using server = handle<shmipc_reqresp_server, shmipc_reqresp_server_close>;
using client = handle<shmipc_reqresp_client, shmipc_reqresp_client_close>;
using blackboard_writer = handle<shmipc_blackboard_writer, shmipc_blackboard_writer_close>;
using blackboard_reader = handle<shmipc_blackboard_reader, shmipc_blackboard_reader_close>;
using notifier = handle<shmipc_evsvc_notifier, shmipc_evsvc_notifier_close>;
using listener = handle<shmipc_evsvc_listener, shmipc_evsvc_listener_close>;
using waitset = handle<shmipc_waitset, shmipc_waitset_close>;

/* Options with their size word and defaults set (the C *_opts_init), ready for fields to be changed. */
template <typename O, void (*Init)(O *)>
inline O make_opts() noexcept
{
    O o;
    Init(&o);
    return o;
}
inline shmipc_segment_opts segment_opts() noexcept
{
    return make_opts<shmipc_segment_opts, shmipc_segment_opts_init>();
}
inline shmipc_event_opts event_opts() noexcept { return make_opts<shmipc_event_opts, shmipc_event_opts_init>(); }
inline shmipc_channel_opts channel_opts() noexcept
{
    return make_opts<shmipc_channel_opts, shmipc_channel_opts_init>();
}
inline shmipc_queue_opts queue_opts() noexcept { return make_opts<shmipc_queue_opts, shmipc_queue_opts_init>(); }
inline shmipc_pubsub_opts pubsub_opts() noexcept
{
    return make_opts<shmipc_pubsub_opts, shmipc_pubsub_opts_init>();
}
inline shmipc_reqresp_opts reqresp_opts() noexcept
{
    return make_opts<shmipc_reqresp_opts, shmipc_reqresp_opts_init>();
}
inline shmipc_blackboard_opts blackboard_opts() noexcept
{
    return make_opts<shmipc_blackboard_opts, shmipc_blackboard_opts_init>();
}
inline shmipc_evsvc_opts evsvc_opts() noexcept { return make_opts<shmipc_evsvc_opts, shmipc_evsvc_opts_init>(); }

/*
 * A chunk loaned from a publisher: published with publish(), or discarded by the destructor (a loan is
 * never leaked). Move-only; the publisher must outlive it.
 */
class loan {
  public:
    loan() noexcept = default;
    loan(loan &&o) noexcept : pub_(o.pub_), data_(o.data_) { o.data_ = nullptr; }
    loan &operator=(loan &&o) noexcept
    {
        if (this != &o) {
            discard();
            pub_ = o.pub_;
            data_ = o.data_;
            o.data_ = nullptr;
        }
        return *this;
    }
    loan(const loan &) = delete;
    loan &operator=(const loan &) = delete;
    ~loan() { discard(); }

    /* Loan a chunk of size bytes (see shmipc_pubsub_publisher_loan); what is held is discarded first. */
    int take(shmipc_pubsub_publisher *pub, size_t size) noexcept
    {
        discard();
        pub_ = pub;
        return shmipc_pubsub_publisher_loan(pub, size, &data_);
    }
    void *data() const noexcept { return data_; }
    explicit operator bool() const noexcept { return data_ != nullptr; }
    /* Publish size bytes of it: the subscribers reached, or an error; the loan is over either way (see
     * shmipc_pubsub_publisher_publish). */
    int publish(size_t size) noexcept
    {
        if (!data_)
            return -EINVAL;
        void *d = data_;
        data_ = nullptr;
        return shmipc_pubsub_publisher_publish(pub_, d, size);
    }
    int discard() noexcept
    {
        if (!data_)
            return 0;
        void *d = data_;
        data_ = nullptr;
        return shmipc_pubsub_publisher_discard(pub_, d);
    }

  private:
    shmipc_pubsub_publisher *pub_ = nullptr;
    void *data_ = nullptr;
};

/* A received sample, released by the destructor. Move-only; the subscriber must outlive it. */
class sample {
  public:
    sample() noexcept = default;
    sample(sample &&o) noexcept : sub_(o.sub_), s_(o.s_), held_(o.held_) { o.held_ = false; }
    sample &operator=(sample &&o) noexcept
    {
        if (this != &o) {
            release();
            sub_ = o.sub_;
            s_ = o.s_;
            held_ = o.held_;
            o.held_ = false;
        }
        return *this;
    }
    sample(const sample &) = delete;
    sample &operator=(const sample &) = delete;
    ~sample() { release(); }

    /* Receive the next sample (see shmipc_pubsub_subscriber_receive); what is held is released first. */
    int receive(shmipc_pubsub_subscriber *sub, int timeout_ms) noexcept
    {
        release();
        sub_ = sub;
        int r = shmipc_pubsub_subscriber_receive(sub, &s_, timeout_ms);
        held_ = r == 0;
        return r;
    }
    const void *data() const noexcept { return held_ ? s_.data : nullptr; }
    size_t size() const noexcept { return held_ ? s_.size : 0; }
    const shmipc_pubsub_sample &info() const noexcept { return s_; }
    explicit operator bool() const noexcept { return held_; }
    int release() noexcept
    {
        if (!held_)
            return 0;
        held_ = false;
        return shmipc_pubsub_subscriber_release(sub_, &s_);
    }

  private:
    shmipc_pubsub_subscriber *sub_ = nullptr;
    shmipc_pubsub_sample s_ = {};
    bool held_ = false;
};

} // namespace shmipc

#endif
