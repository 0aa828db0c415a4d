# SPDX-License-Identifier: MIT
"""Loading libshmipc and declaring its functions for ctypes; error and timeout helpers.

The library is found, in order, at the path in the environment variable SHMIPC_LIBRARY, by
``ctypes.util.find_library("shmipc")`` (the dynamic linker's cache: an installed library), and by its
soname ``libshmipc.so.1`` (LD_LIBRARY_PATH). ctypes releases the GIL around every call, so a blocking
receive lets other Python threads run.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno as _errno
import math
import os
import time
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint32, c_uint64, c_void_p
from typing import Any, Callable, Optional, Type, TypeVar

from . import _layout as L

SONAME = "libshmipc.so.1"


def _load() -> ctypes.CDLL:
    tried = []
    path = os.environ.get("SHMIPC_LIBRARY")
    candidates = [path] if path else []
    found = ctypes.util.find_library("shmipc")
    if found:
        candidates.append(found)
    candidates.append(SONAME)
    for c in candidates:
        try:
            return ctypes.CDLL(c, use_errno=False)
        except OSError as e:
            tried.append(f"{c}: {e}")
            if path and c == path:
                break  # an explicit path that fails is an error, not a hint to look elsewhere
    raise ImportError("shmipc: cannot load the C library libshmipc (set SHMIPC_LIBRARY to its path): "
                      + "; ".join(tried))


lib = _load()

_h = c_void_p                  # every opaque handle
_ph = POINTER(c_void_p)        # handle out-parameter


def _p(s: type) -> Any:
    return POINTER(s)


# name: (restype, argtypes). A function the loaded library lacks (a pattern left out of a small build)
# is bound to a stub that raises Error(-ENOSYS) when called.
_PROTOS: dict[str, tuple[Any, list[Any]]] = {
    # common.h
    "shmipc_strerror": (c_char_p, [c_int]),
    "shmipc_errname": (c_char_p, [c_int]),
    "shmipc_version": (c_char_p, []),
    "shmipc_proc_self": (c_int, [_p(L.ProcId)]),
    "shmipc_proc_alive": (c_int, [_p(L.ProcId)]),
    # segment.h
    "shmipc_segment_opts_init": (None, [_p(L.SegmentOpts)]),
    "shmipc_segment_set_dir": (c_int, [c_char_p]),
    "shmipc_segment_get_dir": (c_char_p, []),
    "shmipc_segment_name_check": (c_int, [c_char_p]),
    "shmipc_segment_create": (c_int, [c_char_p, c_size_t, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_open": (c_int, [c_char_p, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_open_or_create": (c_int, [c_char_p, c_size_t, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_file_create": (c_int, [c_char_p, c_size_t, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_file_open": (c_int, [c_char_p, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_memfd_create": (c_int, [c_char_p, c_size_t, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_from_fd": (c_int, [c_int, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_send_fd": (c_int, [c_int, _h]),
    "shmipc_segment_recv_fd": (c_int, [c_int, _p(L.SegmentOpts), _ph]),
    "shmipc_segment_close": (c_int, [_h]),
    "shmipc_segment_unlink": (c_int, [c_char_p]),
    "shmipc_segment_publish": (c_int, [_h]),
    "shmipc_segment_data": (c_void_p, [_h]),
    "shmipc_segment_data_size": (c_size_t, [_h]),
    "shmipc_segment_fd": (c_int, [_h]),
    "shmipc_segment_grow": (c_int, [_h, c_size_t]),
    "shmipc_segment_refresh": (c_int, [_h]),
    "shmipc_segment_info_get": (c_int, [_h, _p(L.SegmentInfo)]),
    "shmipc_segment_stat": (c_int, [c_char_p, _p(L.SegmentInfo)]),
    # channel.h
    "shmipc_channel_opts_init": (None, [_p(L.ChannelOpts)]),
    "shmipc_channel_size": (c_size_t, [c_size_t]),
    "shmipc_channel_create": (c_int, [c_char_p, _p(L.ChannelOpts), _ph]),
    "shmipc_channel_open": (c_int, [c_char_p, c_int, _p(L.ChannelOpts), _ph]),
    "shmipc_channel_create_in": (c_int, [_h, _p(L.ChannelOpts), _ph]),
    "shmipc_channel_open_in": (c_int, [_h, c_int, _p(L.ChannelOpts), _ph]),
    "shmipc_channel_close": (c_int, [_h]),
    "shmipc_channel_unlink": (c_int, [c_char_p]),
    "shmipc_channel_set_wait": (c_int, [_h, c_int]),
    "shmipc_channel_max_msg": (c_size_t, [_h]),
    "shmipc_channel_segment": (c_void_p, [_h]),
    "shmipc_channel_send": (c_int, [_h, c_void_p, c_size_t, c_int]),
    "shmipc_channel_send_batch": (c_int, [_h, _p(L.Iovec), c_size_t, c_int]),
    "shmipc_channel_reserve": (c_int, [_h, c_size_t, POINTER(c_void_p), c_int]),
    "shmipc_channel_commit": (c_int, [_h, c_size_t]),
    "shmipc_channel_cancel": (c_int, [_h]),
    "shmipc_channel_recv": (c_int, [_h, c_void_p, c_size_t, c_int]),
    "shmipc_channel_recv_batch": (c_int, [_h, _p(L.Iovec), c_size_t, c_int]),
    "shmipc_channel_peek": (c_int, [_h, POINTER(c_void_p), c_int]),
    "shmipc_channel_release": (c_int, [_h]),
    "shmipc_channel_dropped": (c_uint64, [_h]),
    "shmipc_channel_stats_get": (c_int, [_h, _p(L.ChannelStats)]),
    # queue.h
    "shmipc_queue_opts_init": (None, [_p(L.QueueOpts)]),
    "shmipc_queue_memory_size": (c_int, [_p(L.QueueOpts), POINTER(c_size_t)]),
    "shmipc_queue_create": (c_int, [c_char_p, _p(L.QueueOpts), _ph]),
    "shmipc_queue_open": (c_int, [c_char_p, _p(L.QueueOpts), _ph]),
    "shmipc_queue_create_in": (c_int, [_h, _p(L.QueueOpts)]),
    "shmipc_queue_open_in": (c_int, [_h, _p(L.QueueOpts), _ph]),
    "shmipc_queue_close": (c_int, [_h]),
    "shmipc_queue_unlink": (c_int, [c_char_p]),
    "shmipc_queue_push": (c_int, [_h, c_void_p, c_size_t, c_int]),
    "shmipc_queue_pop": (c_int, [_h, c_void_p, c_size_t, c_int]),
    "shmipc_queue_push_claim": (c_int, [_h, _p(L.QueueClaim), c_int]),
    "shmipc_queue_push_commit": (c_int, [_h, _p(L.QueueClaim), c_size_t]),
    "shmipc_queue_pop_claim": (c_int, [_h, _p(L.QueueClaim), c_int]),
    "shmipc_queue_pop_release": (c_int, [_h, _p(L.QueueClaim)]),
    "shmipc_queue_set_wait": (c_int, [_h, c_int]),
    "shmipc_queue_stats_get": (c_int, [_h, _p(L.QueueStats)]),
    "shmipc_queue_slot_size": (c_size_t, [_h]),
    # service.h
    "shmipc_service_name_check": (c_int, [c_char_p]),
    "shmipc_service_pattern_name": (c_char_p, [c_int]),
    "shmipc_service_error_detail": (c_char_p, []),
    "shmipc_service_role_name": (c_char_p, [c_uint32]),
    "shmipc_service_describe": (c_int, [c_int, c_char_p, _p(L.ServiceInfo)]),
    "shmipc_service_list": (c_int, [POINTER(_p(L.ServiceInfo)), POINTER(c_size_t)]),
    "shmipc_service_gc": (c_int, [c_int, c_char_p, c_int, _p(L.GcReport)]),
    # pubsub.h
    "shmipc_pubsub_opts_init": (None, [_p(L.PubsubOpts)]),
    "shmipc_pubsub_publisher_create": (c_int, [c_char_p, _p(L.PubsubOpts), _ph]),
    "shmipc_pubsub_publisher_open": (c_int, [c_char_p, _p(L.PubsubOpts), _ph]),
    "shmipc_pubsub_publisher_loan": (c_int, [_h, c_size_t, POINTER(c_void_p)]),
    "shmipc_pubsub_publisher_publish": (c_int, [_h, c_void_p, c_size_t]),
    "shmipc_pubsub_publisher_discard": (c_int, [_h, c_void_p]),
    "shmipc_pubsub_publisher_publish_copy": (c_int, [_h, c_void_p, c_size_t]),
    "shmipc_pubsub_publisher_id": (c_uint32, [_h]),
    "shmipc_pubsub_publisher_options": (c_int, [_h, _p(L.PubsubOpts)]),
    "shmipc_pubsub_publisher_close": (c_int, [_h]),
    "shmipc_pubsub_subscriber_open": (c_int, [c_char_p, _p(L.PubsubOpts), _ph]),
    "shmipc_pubsub_subscriber_receive": (c_int, [_h, _p(L.PubsubSample), c_int]),
    "shmipc_pubsub_subscriber_release": (c_int, [_h, _p(L.PubsubSample)]),
    "shmipc_pubsub_subscriber_receive_copy": (c_int, [_h, c_void_p, c_size_t, c_int, _p(L.PubsubSample)]),
    "shmipc_pubsub_subscriber_missed": (c_uint64, [_h]),
    "shmipc_pubsub_subscriber_options": (c_int, [_h, _p(L.PubsubOpts)]),
    "shmipc_pubsub_subscriber_close": (c_int, [_h]),
    "shmipc_pubsub_unlink": (c_int, [c_char_p]),
    # reqresp.h
    "shmipc_reqresp_opts_init": (None, [_p(L.ReqrespOpts)]),
    "shmipc_reqresp_server_create": (c_int, [c_char_p, _p(L.ReqrespOpts), _ph]),
    "shmipc_reqresp_server_receive": (c_int, [_h, _p(L.RequestInfo), c_void_p, c_size_t, c_int]),
    "shmipc_reqresp_server_respond": (c_int, [_h, _p(L.RequestInfo), c_void_p, c_size_t, c_uint32, c_int]),
    "shmipc_reqresp_server_close": (c_int, [_h]),
    "shmipc_reqresp_server_options": (c_int, [_h, _p(L.ReqrespOpts)]),
    "shmipc_reqresp_client_open": (c_int, [c_char_p, _p(L.ReqrespOpts), _ph]),
    "shmipc_reqresp_client_send": (c_int, [_h, c_void_p, c_size_t, POINTER(c_uint64), c_int]),
    "shmipc_reqresp_client_receive": (c_int, [_h, _p(L.ResponseInfo), c_void_p, c_size_t, c_int]),
    "shmipc_reqresp_client_call": (c_int, [_h, c_void_p, c_size_t, c_void_p, c_size_t, _p(L.ResponseInfo),
                                           c_int]),
    "shmipc_reqresp_client_close": (c_int, [_h]),
    "shmipc_reqresp_client_options": (c_int, [_h, _p(L.ReqrespOpts)]),
    "shmipc_reqresp_unlink": (c_int, [c_char_p]),
    # blackboard.h
    "shmipc_blackboard_opts_init": (None, [_p(L.BlackboardOpts)]),
    "shmipc_blackboard_writer_create": (c_int, [c_char_p, _p(L.BlackboardOpts), _ph]),
    "shmipc_blackboard_write": (c_int, [_h, c_uint32, c_void_p, c_size_t]),
    "shmipc_blackboard_writer_close": (c_int, [_h]),
    "shmipc_blackboard_reader_open": (c_int, [c_char_p, _p(L.BlackboardOpts), _ph]),
    "shmipc_blackboard_read": (c_int, [_h, c_uint32, c_void_p, c_size_t, POINTER(c_uint64)]),
    "shmipc_blackboard_wait": (c_int, [_h, c_uint32, c_uint64, c_int]),
    "shmipc_blackboard_value_size": (c_size_t, [_h]),
    "shmipc_blackboard_reader_close": (c_int, [_h]),
    "shmipc_blackboard_unlink": (c_int, [c_char_p]),
    # event.h
    "shmipc_event_opts_init": (None, [_p(L.EventOpts)]),
    "shmipc_event_create_in": (c_int, [c_void_p, c_size_t]),
    "shmipc_event_open_in": (c_int, [c_void_p, c_size_t, _p(L.EventOpts), _ph]),
    "shmipc_event_create": (c_int, [c_char_p, _p(L.EventOpts), _ph]),
    "shmipc_event_open": (c_int, [c_char_p, _p(L.EventOpts), _ph]),
    "shmipc_event_close": (c_int, [_h]),
    "shmipc_event_unlink": (c_int, [c_char_p]),
    "shmipc_event_post": (c_int, [_h]),
    "shmipc_event_wait": (c_int, [_h, c_int]),
    "shmipc_event_count": (c_int, [_h, POINTER(c_uint32)]),
    # evsvc.h
    "shmipc_evsvc_opts_init": (None, [_p(L.EvsvcOpts)]),
    "shmipc_evsvc_notifier_create": (c_int, [c_char_p, _p(L.EvsvcOpts), _ph]),
    "shmipc_evsvc_listener_open": (c_int, [c_char_p, _p(L.EvsvcOpts), _ph]),
    "shmipc_evsvc_notifier_notify": (c_int, [_h, c_uint32]),
    "shmipc_evsvc_listener_wait": (c_int, [_h, c_int, POINTER(c_uint32)]),
    "shmipc_evsvc_listener_wait_any": (c_int, [POINTER(c_void_p), c_size_t, c_int, POINTER(c_size_t),
                                               POINTER(c_uint32)]),
    "shmipc_evsvc_notifier_close": (c_int, [_h]),
    "shmipc_evsvc_listener_close": (c_int, [_h]),
    "shmipc_evsvc_unlink": (c_int, [c_char_p]),
    # waitset.h
    "shmipc_waitset_create": (c_int, [_ph]),
    "shmipc_waitset_close": (c_int, [_h]),
    "shmipc_waitset_add_channel": (c_int, [_h, _h, c_uint32, c_uint64]),
    "shmipc_waitset_add_queue": (c_int, [_h, _h, c_uint32, c_uint64]),
    "shmipc_waitset_add_event": (c_int, [_h, _h, c_uint32, c_uint64]),
    "shmipc_waitset_add_listener": (c_int, [_h, _h, c_uint32, c_uint64]),
    "shmipc_waitset_add_subscriber": (c_int, [_h, _h, c_uint32, c_uint64]),
    "shmipc_waitset_remove": (c_int, [_h, c_void_p]),
    "shmipc_waitset_wait": (c_int, [_h, c_int, _p(L.WaitsetReady), c_size_t]),
    "shmipc_waitset_fd": (c_int, [_h]),
}


class _Funcs:
    """The library's functions by their C names, as attributes (``C.shmipc_channel_send``)."""


C: Any = _Funcs()
for _name, (_res, _args) in _PROTOS.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        def _missing(*_a: Any, _n: str = _name) -> int:
            return -_errno.ENOSYS
        setattr(C, _name, _missing)
        continue
    _f.restype = _res
    _f.argtypes = _args
    setattr(C, _name, _f)


def strerror(err: int) -> str:
    """The library's description of an error code (negative or positive)."""
    return (C.shmipc_strerror(int(err)) or b"").decode("utf-8", "replace")


def errname(err: int) -> str:
    """The symbolic name of an error code, e.g. "EPIPE"."""
    return (C.shmipc_errname(int(err)) or b"").decode("ascii", "replace")


def version() -> str:
    """The C library's version, "MAJOR.MINOR.PATCH"."""
    return (C.shmipc_version() or b"").decode()


def service_error_detail() -> str:
    """After -EPROTOTYPE or -EBADMSG: what differed or was invalid ("" when nothing)."""
    return (C.shmipc_service_error_detail() or b"").decode("utf-8", "replace")


# ---- errors ------------------------------------------------------------------------------------------


class Error(OSError):
    """A shmipc call failed. ``errno`` is the positive errno value, ``strerror`` the library's message
    (shmipc_strerror), ``errname`` the symbolic name ("EPIPE", shmipc_errname), ``function`` the C function
    that failed and ``detail`` the library's explanation of an incompatible or corrupt service ("" if
    none). Subclasses for the errors a program usually handles also derive from the matching built-in
    OSError subclass (TimeoutError, BrokenPipeError, ...), so either may be caught."""

    errname: str
    function: str
    detail: str

    def __init__(self, err: int, function: str = "", detail: str = "") -> None:
        code = abs(int(err))
        super().__init__(code, strerror(code))
        self.errname = errname(code)
        self.function = function
        self.detail = detail

    def __str__(self) -> str:
        s = f"{self.errname}: {self.strerror}"
        if self.function:
            s = f"{self.function}: {s}"
        if self.detail:
            s += f" ({self.detail})"
        return s

    def __reduce__(self) -> Any:
        return (error_for, (-self.errno, self.function, self.detail))


class WouldBlock(Error, BlockingIOError):
    """-EAGAIN: nothing to do now and the timeout was 0 (or the call never waits)."""


class TimedOut(Error, TimeoutError):
    """-ETIMEDOUT: the timeout expired."""


class PeerGone(Error, BrokenPipeError):
    """-EPIPE: the peer closed or died (or, for a subscriber, this handle was reclaimed as dead)."""


class NotFound(Error, FileNotFoundError):
    """-ENOENT: no object of that name."""


class AlreadyExists(Error, FileExistsError):
    """-EEXIST: the name is taken by a live object."""


class PermissionDenied(Error, PermissionError):
    """-EPERM or -EACCES."""


class Interrupted(Error, InterruptedError):
    """-EINTR that the binding could not retry (it normally runs the signal handlers and retries)."""


_ERROR_CLASSES: dict[int, Type[Error]] = {
    _errno.EAGAIN: WouldBlock,
    _errno.ETIMEDOUT: TimedOut,
    _errno.EPIPE: PeerGone,
    _errno.ENOENT: NotFound,
    _errno.EEXIST: AlreadyExists,
    _errno.EPERM: PermissionDenied,
    _errno.EACCES: PermissionDenied,
    _errno.EINTR: Interrupted,
}


def error_for(err: int, function: str = "", detail: Optional[str] = None) -> Error:
    """The exception for a negative (or positive) error code; detail defaults to the library's
    service_error_detail() for -EPROTOTYPE and -EBADMSG (read at once: it is overwritten by later calls)."""
    code = abs(int(err))
    if detail is None:
        detail = service_error_detail() if code in (_errno.EPROTOTYPE, _errno.EBADMSG) else ""
    return _ERROR_CLASSES.get(code, Error)(code, function, detail)


def check(rc: int, function: str) -> int:
    """Return rc if >= 0, else raise the matching Error."""
    if rc < 0:
        raise error_for(rc, function)
    return rc


# ---- timeouts and signals ----------------------------------------------------------------------------

_INT_MAX = 2**31 - 1
_check_signals = ctypes.pythonapi.PyErr_CheckSignals
_check_signals.restype = c_int
_check_signals.argtypes = []


def timeout_ms(timeout: Optional[float]) -> int:
    """Seconds (None = for ever, 0 = do not wait) to the C convention (-1, 0, milliseconds rounded up)."""
    if timeout is None:
        return -1
    if timeout <= 0:
        return 0
    return min(_INT_MAX, int(math.ceil(timeout * 1000.0)))


R = TypeVar("R")


def blocking(call: Callable[[int], int], timeout: Optional[float], function: str) -> int:
    """Run call(timeout_ms) and check its result. -EINTR (a signal arrived while the call slept) runs the
    Python signal handlers (which may raise, e.g. KeyboardInterrupt) and then retries with what is left
    of the timeout, as Python's own blocking calls do (PEP 475)."""
    deadline = None if timeout is None or timeout <= 0 else time.monotonic() + timeout
    ms = timeout_ms(timeout)
    while True:
        rc = call(ms)
        if rc != -_errno.EINTR:
            return check(rc, function)
        _check_signals()  # raises what a handler raised
        if deadline is not None:
            left = deadline - time.monotonic()
            ms = timeout_ms(left) if left > 0 else 0


def new_opts(cls: Type[L.CStruct]) -> Any:
    """An options structure filled by the library's X_opts_init (never zeros: 1.0 options carry their
    size, set by the init function). The buffer has room to spare, so a library whose structure grew
    cannot write past it; a size field that disagrees with the mirror is an ImportError-grade mismatch."""
    buf = ctypes.create_string_buffer(ctypes.sizeof(cls) + 256)
    opts = cls.from_buffer(buf)
    getattr(C, L.OPTS_INIT[cls])(byref(opts))
    size = getattr(opts, "size", None)
    if size is not None and size != ctypes.sizeof(cls):
        raise RuntimeError(f"shmipc: {L.OPTS_INIT[cls]} reports a {size}-byte {cls._c_name_}; this binding "
                           f"was written for {ctypes.sizeof(cls)} bytes: binding and library do not match")
    opts._shmipc_buf = buf  # keeps the memory alive with the structure
    return opts


def set_fields(opts: Any, **fields: Any) -> Any:
    """Set the options fields that are not None."""
    for k, v in fields.items():
        if v is not None:
            setattr(opts, k, int(v) if isinstance(v, bool) else v)
    return opts


def encode_name(name: str | bytes) -> bytes:
    return name.encode() if isinstance(name, str) else bytes(name)
