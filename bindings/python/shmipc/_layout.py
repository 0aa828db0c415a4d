# SPDX-License-Identifier: MIT
"""The C structures and constants of include/shmipc/*.h, mirrored with ctypes: the ONE place in the
binding that knows their layouts.

Every class here names its C type in ``_c_name_``; tests/test_layout.py compiles a C program that prints
``sizeof``, ``_Alignof`` and the ``offsetof`` of every field listed here, and of every constant in
``CONSTANTS``, and compares them with what ctypes computes, so a layout change in a header fails a test
instead of corrupting memory. Options structures are never built from zeros: ``_lib.new_opts`` calls the
library's ``X_opts_init`` on them (which sets ``size``) and then the binding sets fields.
"""
from __future__ import annotations

import ctypes
from ctypes import (POINTER, Structure, c_char, c_int, c_int32, c_size_t, c_uint, c_uint32, c_uint64,
                    c_void_p)

# Numeric macros of the headers. Each is checked against the C compiler's value by test_layout.py.
CONSTANTS: dict[str, int] = {
    "SHMIPC_NAME_MAX": 200,
    "SHMIPC_SERVICE_NAME_MAX": 127,
    "SHMIPC_TYPE_NAME_MAX": 63,
    "SHMIPC_SEGMENT_HEADER_SIZE": 128,
    "SHMIPC_SEG_ALLOW_FOREIGN": 1 << 0,
    "SHMIPC_SEG_RDONLY": 1 << 1,
    "SHMIPC_SEG_DEFER_READY": 1 << 2,
    "SHMIPC_SEG_NO_RESERVE": 1 << 3,
    "SHMIPC_SEG_ANY_TYPE": 1 << 4,
    "SHMIPC_TYPE_RAW": 0,
    "SHMIPC_TYPE_USER": 0x10000,
    "SHMIPC_BACKING_POSIX": 1,
    "SHMIPC_BACKING_FILE": 2,
    "SHMIPC_BACKING_MEMFD": 3,
    "SHMIPC_WAIT_DEFAULT": 0,
    "SHMIPC_WAIT_SPIN": 1,
    "SHMIPC_WAIT_BLOCK": 2,
    "SHMIPC_WAIT_HYBRID": 3,
    "SHMIPC_CHANNEL_PRODUCER": 1,
    "SHMIPC_CHANNEL_CONSUMER": 2,
    "SHMIPC_CHANNEL_OBSERVER": 3,
    "SHMIPC_CHANNEL_FULL_BLOCK": 0,
    "SHMIPC_CHANNEL_FULL_FAIL": 1,
    "SHMIPC_CHANNEL_FULL_OVERWRITE": 2,
    "SHMIPC_QUEUE_ALLOW_FOREIGN": 1 << 0,
    "SHMIPC_QUEUE_OBSERVE": 1 << 1,
    "SHMIPC_QUEUE_PRODUCER": 1 << 2,
    "SHMIPC_QUEUE_CONSUMER": 1 << 3,
    "SHMIPC_PUBSUB_POLICY_DEFAULT": 0,
    "SHMIPC_PUBSUB_DROP_OLDEST": 1,
    "SHMIPC_PUBSUB_WAIT": 2,
    "SHMIPC_PUBSUB_DYNAMIC": 1 << 0,
    "SHMIPC_PUBSUB_FIXED": 1 << 1,
    "SHMIPC_PUBSUB_MAX_SUBSCRIBERS": 48,
    "SHMIPC_PUBSUB_MAX_PUBLISHERS": 256,
    "SHMIPC_RR_MORE": 1,
    "SHMIPC_RR_MAX_MESSAGE": 1 << 20,
    "SHMIPC_BB_MAX_VALUE": 1 << 20,
    "SHMIPC_EVENT_SIZE": 64,
    "SHMIPC_EVSVC_MAX_WAIT_ANY": 128,
    "SHMIPC_WAITSET_IN": 0x1,
    "SHMIPC_WAITSET_OUT": 0x2,
    "SHMIPC_WAITSET_ERR": 0x4,
    "SHMIPC_WAITSET_MAX": 64,
    "SHMIPC_PATTERN_PUBSUB": 1,
    "SHMIPC_PATTERN_REQRESP": 2,
    "SHMIPC_PATTERN_BLACKBOARD": 3,
    "SHMIPC_PATTERN_EVENT": 4,
    "SHMIPC_PATTERN_CHANNEL": 5,
    "SHMIPC_PATTERN_QUEUE": 6,
    "SHMIPC_SERVICE_MAX_STATS": 8,
    "SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS": 64,
}

_C = CONSTANTS

# C enums are int-sized on every ABI shmipc supports; `unsigned` is c_uint.
c_enum = c_int


class CStruct(Structure):
    """A mirrored C structure: ``_c_name_`` is its C type name, ``_header_`` the header declaring it."""

    _c_name_ = ""
    _header_ = ""


class ProcId(CStruct):
    _c_name_, _header_ = "shmipc_proc_id", "common.h"
    _fields_ = [("pid", c_int32), ("reserved", c_uint32), ("start_time", c_uint64)]


class SegmentOpts(CStruct):
    _c_name_, _header_ = "shmipc_segment_opts", "segment.h"
    _fields_ = [("size", c_uint32), ("mode", c_uint), ("type", c_uint32), ("flags", c_uint),
                ("ready_timeout_ms", c_int), ("pad0", c_uint32), ("reserved", c_uint64 * 4)]


class SegmentInfo(CStruct):
    _c_name_, _header_ = "shmipc_segment_info", "segment.h"
    _fields_ = [("name", c_char * (_C["SHMIPC_NAME_MAX"] + 1)), ("backing", c_enum), ("version", c_uint32),
                ("type", c_uint32), ("size", c_uint64), ("data_size", c_uint64), ("file_size", c_uint64),
                ("mode", c_uint32), ("uid", c_uint32), ("gid", c_uint32), ("creator", ProcId),
                ("creator_alive", c_int), ("ready", c_int), ("generation", c_uint32), ("created_ns", c_uint64)]


class ChannelOpts(CStruct):
    _c_name_, _header_ = "shmipc_channel_opts", "channel.h"
    _fields_ = [("size", c_uint32), ("role", c_enum), ("full_policy", c_enum), ("wait_mode", c_enum),
                ("spin_us", c_uint), ("mode", c_uint), ("seg_flags", c_uint), ("pad0", c_uint32),
                ("capacity", c_size_t), ("reserved", c_uint64 * 4)]


class ChannelStats(CStruct):
    _c_name_, _header_ = "shmipc_channel_stats", "channel.h"
    _fields_ = [("capacity", c_uint64), ("max_msg", c_uint64), ("full_policy", c_uint32), ("broken", c_int),
                ("head", c_uint64), ("tail", c_uint64), ("msgs_sent", c_uint64), ("bytes_sent", c_uint64),
                ("msgs_recv", c_uint64), ("bytes_recv", c_uint64), ("overwritten", c_uint64),
                ("dropped", c_uint64), ("producer", ProcId), ("consumer", ProcId), ("producer_alive", c_int),
                ("consumer_alive", c_int)]


class QueueOpts(CStruct):
    _c_name_, _header_ = "shmipc_queue_opts", "queue.h"
    _fields_ = [("size", c_uint32), ("slot_count", c_uint32), ("slot_size", c_uint32),
                ("max_participants", c_uint32), ("mode", c_uint), ("wait_mode", c_enum), ("flags", c_uint),
                ("ready_timeout_ms", c_int), ("reserved", c_uint64 * 4)]


class QueueStats(CStruct):
    _c_name_, _header_ = "shmipc_queue_stats", "queue.h"
    _fields_ = [("pushes", c_uint64), ("pops", c_uint64), ("lost", c_uint64), ("depth", c_uint64),
                ("slot_count", c_uint32), ("slot_size", c_uint32), ("participants", c_uint32),
                ("max_participants", c_uint32), ("broken", c_int)]


class QueueClaim(CStruct):
    _c_name_, _header_ = "shmipc_queue_claim", "queue.h"
    _fields_ = [("data", c_void_p), ("len", c_size_t), ("pos_", c_uint64), ("slot_", c_void_p)]


class TypeInfo(CStruct):
    _c_name_, _header_ = "shmipc_type_info", "service.h"
    _fields_ = [("name", c_char * (_C["SHMIPC_TYPE_NAME_MAX"] + 1)), ("size", c_uint64), ("align", c_uint32),
                ("reserved", c_uint32)]


class PubsubOpts(CStruct):
    _c_name_, _header_ = "shmipc_pubsub_opts", "pubsub.h"
    _fields_ = [("size", c_uint32), ("pad0", c_uint32), ("type", TypeInfo), ("payload_size", c_uint64), ("payload_align", c_uint32), ("flags", c_uint32),
                ("max_publishers", c_uint32), ("max_subscribers", c_uint32), ("depth", c_uint32),
                ("history", c_uint32), ("policy", c_enum), ("max_loans", c_uint32), ("max_held", c_uint32),
                ("publish_timeout_ms", c_int), ("wait_mode", c_enum), ("mode", c_uint),
                ("reserved", c_uint64 * 4)]


class PubsubSample(CStruct):
    _c_name_, _header_ = "shmipc_pubsub_sample", "pubsub.h"
    _fields_ = [("data", c_void_p), ("size", c_size_t), ("sequence", c_uint64), ("publisher", c_uint32),
                ("chunk", c_uint32)]


class ReqrespOpts(CStruct):
    _c_name_, _header_ = "shmipc_reqresp_opts", "reqresp.h"
    _fields_ = [("size", c_uint32), ("pad0", c_uint32), ("type", POINTER(TypeInfo)), ("max_request", c_uint32),
                ("max_response", c_uint32), ("depth", c_uint32), ("max_clients", c_uint32), ("mode", c_uint),
                ("wait_mode", c_enum), ("reserved", c_uint64 * 4)]


class RequestInfo(CStruct):
    _c_name_, _header_ = "shmipc_reqresp_request_info", "reqresp.h"
    _fields_ = [("id", c_uint64), ("client", c_uint32), ("gen", c_uint32)]


class ResponseInfo(CStruct):
    _c_name_, _header_ = "shmipc_reqresp_response_info", "reqresp.h"
    _fields_ = [("id", c_uint64), ("flags", c_uint32), ("reserved", c_uint32)]


class BlackboardOpts(CStruct):
    _c_name_, _header_ = "shmipc_blackboard_opts", "blackboard.h"
    _fields_ = [("size", c_uint32), ("pad0", c_uint32), ("type", POINTER(TypeInfo)), ("value_size", c_uint32),
                ("entries", c_uint32), ("max_readers", c_uint32), ("mode", c_uint), ("wait_mode", c_enum),
                ("pad1", c_uint32), ("reserved", c_uint64 * 4)]


class EventOpts(CStruct):
    _c_name_, _header_ = "shmipc_event_opts", "event.h"
    _fields_ = [("size", c_uint32), ("wait_mode", c_enum), ("spin_us", c_uint), ("mode", c_uint), ("flags", c_uint),
                ("pad0", c_uint32), ("reserved", c_uint64 * 4)]


class EvsvcOpts(CStruct):
    _c_name_, _header_ = "shmipc_evsvc_opts", "evsvc.h"
    _fields_ = [("size", c_uint32), ("max_events", c_uint32), ("max_participants", c_uint32), ("mode", c_uint),
                ("wait_mode", c_enum), ("pad0", c_uint32), ("reserved", c_uint64 * 4)]


class WaitsetReady(CStruct):
    _c_name_, _header_ = "shmipc_waitset_ready", "waitset.h"
    _fields_ = [("handle", c_void_p), ("user", c_uint64), ("events", c_uint32), ("reserved", c_uint32)]


class ParticipantInfo(CStruct):
    _c_name_, _header_ = "shmipc_service_participant_info", "service.h"
    _fields_ = [("proc", ProcId), ("slot", c_uint32), ("role", c_uint32), ("alive", c_int), ("reserved", c_int)]


class ServiceInfo(CStruct):
    _c_name_, _header_ = "shmipc_service_info", "service.h"
    _fields_ = [("name", c_char * (_C["SHMIPC_SERVICE_NAME_MAX"] + 1)),
                ("segment", c_char * (_C["SHMIPC_SERVICE_NAME_MAX"] + 32)), ("pattern", c_enum),
                ("type", TypeInfo), ("max_participants", c_uint32), ("participants", c_uint32),
                ("dead", c_uint32), ("uid", c_uint32), ("creator", ProcId), ("created_ns", c_uint64),
                ("options", c_char * 256), ("nstats", c_uint32), ("reserved", c_uint32),
                ("stat_names", (c_char * 24) * _C["SHMIPC_SERVICE_MAX_STATS"]),
                ("stats", c_uint64 * _C["SHMIPC_SERVICE_MAX_STATS"]), ("nlisted", c_uint32),
                ("reserved2", c_uint32),
                ("participant", ParticipantInfo * _C["SHMIPC_SERVICE_MAX_LISTED_PARTICIPANTS"])]


class GcReport(CStruct):
    _c_name_, _header_ = "shmipc_service_gc_report", "service.h"
    _fields_ = [("services_seen", c_uint32), ("participants_reclaimed", c_uint32), ("services_removed", c_uint32),
                ("skipped", c_uint32)]


class Iovec(CStruct):
    _c_name_, _header_ = "struct iovec", "sys/uio.h"
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


# Every mirrored structure, for the layout test.
STRUCTS: tuple[type[CStruct], ...] = (
    ProcId, SegmentOpts, SegmentInfo, ChannelOpts, ChannelStats, QueueOpts, QueueStats, QueueClaim, TypeInfo,
    PubsubOpts, PubsubSample, ReqrespOpts, RequestInfo, ResponseInfo, BlackboardOpts, EventOpts, EvsvcOpts,
    WaitsetReady, ParticipantInfo, ServiceInfo, GcReport, Iovec)

# The options structures and the C function that fills each with its defaults.
OPTS_INIT: dict[type[CStruct], str] = {
    SegmentOpts: "shmipc_segment_opts_init",
    ChannelOpts: "shmipc_channel_opts_init",
    QueueOpts: "shmipc_queue_opts_init",
    PubsubOpts: "shmipc_pubsub_opts_init",
    ReqrespOpts: "shmipc_reqresp_opts_init",
    BlackboardOpts: "shmipc_blackboard_opts_init",
    EventOpts: "shmipc_event_opts_init",
    EvsvcOpts: "shmipc_evsvc_opts_init",
}
