# SPDX-License-Identifier: MIT
"""Events: the in-memory or named post counter (shmipc/event.h) and the event service of numbered
events with notifiers and listeners (shmipc/evsvc.h)."""
from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_size_t, c_uint32, c_void_p
from typing import Any, Optional, Sequence, Tuple

from . import _layout as L
from . import _lib
from ._handle import Handle
from ._lib import C, blocking, check, encode_name
from .segment import Name
from .waitmode import WaitMode

EVENT_SIZE = L.CONSTANTS["SHMIPC_EVENT_SIZE"]


def _event_opts(wait_mode: Optional[WaitMode] = None, spin_us: Optional[int] = None, mode: Optional[int] = None,
                flags: Optional[int] = None) -> L.EventOpts:
    return _lib.set_fields(_lib.new_opts(L.EventOpts), wait_mode=wait_mode, spin_us=spin_us, mode=mode,
                           flags=flags)


def _memory(memory: Any) -> ctypes.Array:
    """A ctypes array over a writable buffer (holding an export of it while the array lives)."""
    mv = memoryview(memory)
    if mv.readonly:
        raise TypeError("shmipc: an event needs writable memory")
    return (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))


class Event(Handle):
    """A handle on an event: post() adds one to its count and wakes every waiter; wait() returns how many
    posts happened since this handle last looked. One handle per thread."""

    _c_close = staticmethod(lambda p: C.shmipc_event_close(p))

    def __init__(self, ptr: int, memory: Any = None) -> None:
        super().__init__(ptr)
        self._memory = memory  # create_in/open_in: the buffer holding the event, kept exported meanwhile

    @classmethod
    def create(cls, name: Name, *, wait_mode: Optional[WaitMode] = None, spin_us: Optional[int] = None,
               mode: Optional[int] = None) -> "Event":
        """Create a named event (exclusive)."""
        out = c_void_p()
        check(C.shmipc_event_create(encode_name(name), byref(_event_opts(wait_mode, spin_us, mode)), byref(out)),
              "shmipc_event_create")
        return cls(out.value)

    @classmethod
    def open(cls, name: Name, *, wait_mode: Optional[WaitMode] = None, spin_us: Optional[int] = None,
             flags: Optional[int] = None) -> "Event":
        out = c_void_p()
        check(C.shmipc_event_open(encode_name(name), byref(_event_opts(wait_mode, spin_us, None, flags)),
                                  byref(out)), "shmipc_event_open")
        return cls(out.value)

    @staticmethod
    def create_in(memory: Any) -> None:
        """Lay out a new event (count 0) in a writable buffer of at least EVENT_SIZE bytes (for processes:
        shared memory, e.g. part of Segment.data), 4-byte aligned."""
        arr = _memory(memory)
        check(C.shmipc_event_create_in(ctypes.addressof(arr), len(arr)), "shmipc_event_create_in")

    @classmethod
    def open_in(cls, memory: Any, *, wait_mode: Optional[WaitMode] = None,
                spin_us: Optional[int] = None) -> "Event":
        """A handle on the event in memory (kept exported, so not released, until close)."""
        arr = _memory(memory)
        out = c_void_p()
        check(C.shmipc_event_open_in(ctypes.addressof(arr), len(arr), byref(_event_opts(wait_mode, spin_us)),
                                     byref(out)), "shmipc_event_open_in")
        return cls(out.value, arr)

    @staticmethod
    def unlink(name: Name) -> None:
        check(C.shmipc_event_unlink(encode_name(name)), "shmipc_event_unlink")

    def close(self) -> None:
        super().close()
        self._memory = None  # ends the export of the buffer

    def post(self) -> None:
        check(C.shmipc_event_post(self.ptr), "shmipc_event_post")

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for a post; returns the number of posts since this handle last looked (>= 1)."""
        p = self.ptr
        return blocking(lambda ms: C.shmipc_event_wait(p, ms), timeout, "shmipc_event_wait")

    async def wait_async(self, timeout: Optional[float] = None) -> int:
        from . import aio
        return await aio.ready_call(self, lambda: self.wait(0), timeout)

    @property
    def count(self) -> int:
        """The event's post count now (modulo 2**32)."""
        c = c_uint32()
        check(C.shmipc_event_count(self.ptr, byref(c)), "shmipc_event_count")
        return c.value


def _evsvc_opts(max_events: Optional[int] = None, max_participants: Optional[int] = None,
                mode: Optional[int] = None, wait_mode: Optional[WaitMode] = None) -> L.EvsvcOpts:
    return _lib.set_fields(_lib.new_opts(L.EvsvcOpts), max_events=max_events, max_participants=max_participants,
                           mode=mode, wait_mode=wait_mode)


class Notifier(Handle):
    """Signals numbered events of an event service (created if absent)."""

    _c_close = staticmethod(lambda p: C.shmipc_evsvc_notifier_close(p))

    @classmethod
    def create(cls, name: Name, *, max_events: Optional[int] = None, max_participants: Optional[int] = None,
               mode: Optional[int] = None, wait_mode: Optional[WaitMode] = None) -> "Notifier":
        out = c_void_p()
        o = _evsvc_opts(max_events, max_participants, mode, wait_mode)
        check(C.shmipc_evsvc_notifier_create(encode_name(name), byref(o), byref(out)),
              "shmipc_evsvc_notifier_create")
        return cls(out.value)

    def notify(self, event_id: int) -> None:
        check(C.shmipc_evsvc_notifier_notify(self.ptr, event_id), "shmipc_evsvc_notifier_notify")


class Listener(Handle):
    """Waits for the numbered events of an event service (created if absent); sees only notifications
    made after it attached. Notifications of one id are coalesced into a count, never lost."""

    _c_close = staticmethod(lambda p: C.shmipc_evsvc_listener_close(p))

    @classmethod
    def open(cls, name: Name, *, max_events: Optional[int] = None, max_participants: Optional[int] = None,
             mode: Optional[int] = None, wait_mode: Optional[WaitMode] = None) -> "Listener":
        out = c_void_p()
        o = _evsvc_opts(max_events, max_participants, mode, wait_mode)
        check(C.shmipc_evsvc_listener_open(encode_name(name), byref(o), byref(out)), "shmipc_evsvc_listener_open")
        return cls(out.value)

    def wait(self, timeout: Optional[float] = None) -> Tuple[int, int]:
        """(event id, times it was signalled since this listener last returned it)."""
        eid = c_uint32()
        p = self.ptr
        n = blocking(lambda ms: C.shmipc_evsvc_listener_wait(p, ms, byref(eid)), timeout,
                     "shmipc_evsvc_listener_wait")
        return eid.value, n

    async def wait_async(self, timeout: Optional[float] = None) -> Tuple[int, int]:
        from . import aio
        return await aio.ready_call(self, lambda: self.wait(0), timeout)

    @staticmethod
    def wait_any(listeners: Sequence["Listener"], timeout: Optional[float] = None) -> Tuple["Listener", int, int]:
        """Wait on several listeners (of one or several services): (listener, event id, count)."""
        arr = (c_void_p * max(1, len(listeners)))(*[l.ptr for l in listeners])
        which, eid = c_size_t(), c_uint32()
        n = blocking(lambda ms: C.shmipc_evsvc_listener_wait_any(arr, len(listeners), ms, byref(which), byref(eid)),
                     timeout, "shmipc_evsvc_listener_wait_any")
        return listeners[which.value], eid.value, n


def unlink(name: Name) -> None:
    """Remove an event service's name."""
    check(C.shmipc_evsvc_unlink(encode_name(name)), "shmipc_evsvc_unlink")
