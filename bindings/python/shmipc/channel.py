# SPDX-License-Identifier: MIT
"""Channels (shmipc/channel.h): one producer, one consumer, variable-size messages by copy or in place."""
from __future__ import annotations

import ctypes
import enum
import errno
from ctypes import byref, c_void_p
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Union

from . import _layout as L
from . import _lib
from ._handle import Handle
from ._buf import Buffer, readable, writable
from ._lib import C, blocking, check, encode_name
from ._view import MemoryWindow
from .segment import Name, Segment
from .waitmode import WaitMode

class Role(enum.IntEnum):
    PRODUCER = L.CONSTANTS["SHMIPC_CHANNEL_PRODUCER"]
    CONSUMER = L.CONSTANTS["SHMIPC_CHANNEL_CONSUMER"]
    OBSERVER = L.CONSTANTS["SHMIPC_CHANNEL_OBSERVER"]


class FullPolicy(enum.IntEnum):
    BLOCK = L.CONSTANTS["SHMIPC_CHANNEL_FULL_BLOCK"]
    FAIL = L.CONSTANTS["SHMIPC_CHANNEL_FULL_FAIL"]
    OVERWRITE = L.CONSTANTS["SHMIPC_CHANNEL_FULL_OVERWRITE"]


@dataclass(frozen=True)
class ChannelStats:
    capacity: int
    max_msg: int
    full_policy: int
    broken: bool
    head: int
    tail: int
    msgs_sent: int
    bytes_sent: int
    msgs_recv: int
    bytes_recv: int
    overwritten: int
    dropped: int
    producer_pid: int
    consumer_pid: int
    producer_alive: bool
    consumer_alive: bool


def _opts(capacity: Optional[int] = None, role: Optional[int] = None, full_policy: Optional[int] = None,
          wait_mode: Optional[int] = None, spin_us: Optional[int] = None, mode: Optional[int] = None,
          seg_flags: Optional[int] = None) -> L.ChannelOpts:
    return _lib.set_fields(_lib.new_opts(L.ChannelOpts), capacity=capacity, role=role, full_policy=full_policy,
                           wait_mode=wait_mode, spin_us=spin_us, mode=mode, seg_flags=seg_flags)


class Reservation:
    """Room reserved in the ring (Channel.reserve): write the message into ``view`` (writable, zero-copy)
    and commit(length). Leaving a ``with`` block without commit cancels it. After commit or cancel the
    view raises ValueError."""

    def __init__(self, channel: "Channel", address: int, size: int) -> None:
        self._channel = channel
        self._window = MemoryWindow(address, size, False, channel)

    @property
    def view(self) -> memoryview:
        return self._window.view

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        return self._window.numpy(dtype, shape, offset)

    @property
    def done(self) -> bool:
        return self._window.closed

    def commit(self, length: Optional[int] = None) -> None:
        """Publish the first length bytes (default: all reserved)."""
        n = len(self._window.view) if length is None else length
        self._window.end_or_raise("Reservation.commit")
        check(C.shmipc_channel_commit(self._channel.ptr, n), "shmipc_channel_commit")
        self._channel._pending = None

    def cancel(self) -> None:
        if self._channel._pending is not self:
            return
        self._window.end_or_raise("Reservation.cancel")
        check(C.shmipc_channel_cancel(self._channel.ptr), "shmipc_channel_cancel")
        self._channel._pending = None

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


class Message:
    """The oldest message, read in place (Channel.peek): ``view`` is read-only and zero-copy until
    release(), which consumes the message; afterwards the view raises ValueError."""

    def __init__(self, channel: "Channel", address: int, size: int) -> None:
        self._channel = channel
        self._window = MemoryWindow(address, size, True, channel)

    @property
    def view(self) -> memoryview:
        return self._window.view

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        return self._window.numpy(dtype, shape, offset)

    def tobytes(self) -> bytes:
        return self._window.view.tobytes()

    def __len__(self) -> int:
        return len(self._window.view)

    @property
    def released(self) -> bool:
        return self._window.closed

    def release(self) -> None:
        """Consume the message (idempotent)."""
        if self._channel._pending is not self:
            return
        self._window.end_or_raise("Message.release")
        self._channel._pending = None
        check(C.shmipc_channel_release(self._channel.ptr), "shmipc_channel_release")

    def __enter__(self) -> "Message":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class Channel(Handle):
    """One end of a channel: a producer sends, a consumer receives. See shmipc_channel(3)."""

    _c_close = staticmethod(lambda p: C.shmipc_channel_close(p))

    def __init__(self, ptr: int, segment: Optional[Segment] = None) -> None:
        super().__init__(ptr)
        self._segment = segment  # the borrowed segment of create_in / open_in (kept open meanwhile)
        self._pending: Union[Reservation, Message, None] = None
        if segment is not None:
            segment._lend(self)

    @classmethod
    def create(cls, name: Name, *, role: Role = Role.PRODUCER, capacity: Optional[int] = None,
               full_policy: FullPolicy = FullPolicy.BLOCK, wait_mode: Optional[WaitMode] = None,
               spin_us: Optional[int] = None, mode: Optional[int] = None, seg_flags: Optional[int] = None
               ) -> "Channel":
        """Create the named channel; this handle takes role (default producer)."""
        out = c_void_p()
        o = _opts(capacity, role, full_policy, wait_mode, spin_us, mode, seg_flags)
        check(C.shmipc_channel_create(encode_name(name), byref(o), byref(out)), "shmipc_channel_create")
        return cls(out.value)

    @classmethod
    def open(cls, name: Name, role: Role, *, wait_mode: Optional[WaitMode] = None, spin_us: Optional[int] = None,
             seg_flags: Optional[int] = None) -> "Channel":
        """Open the named channel as role (Busy if a live process holds it; a dead one's is taken over)."""
        out = c_void_p()
        o = _opts(wait_mode=wait_mode, spin_us=spin_us, seg_flags=seg_flags)
        check(C.shmipc_channel_open(encode_name(name), int(role), byref(o), byref(out)), "shmipc_channel_open")
        return cls(out.value)

    @classmethod
    def create_in(cls, segment: Segment, *, role: Role = Role.PRODUCER, capacity: Optional[int] = None,
                  full_policy: FullPolicy = FullPolicy.BLOCK, wait_mode: Optional[WaitMode] = None,
                  spin_us: Optional[int] = None) -> "Channel":
        """Initialise a channel in segment's data area (the segment must outlive the channel)."""
        out = c_void_p()
        o = _opts(capacity, role, full_policy, wait_mode, spin_us)
        check(C.shmipc_channel_create_in(segment.ptr, byref(o), byref(out)), "shmipc_channel_create_in")
        return cls(out.value, segment)

    @classmethod
    def open_in(cls, segment: Segment, role: Role, *, wait_mode: Optional[WaitMode] = None,
                spin_us: Optional[int] = None) -> "Channel":
        out = c_void_p()
        o = _opts(wait_mode=wait_mode, spin_us=spin_us)
        check(C.shmipc_channel_open_in(segment.ptr, int(role), byref(o), byref(out)), "shmipc_channel_open_in")
        return cls(out.value, segment)

    @staticmethod
    def unlink(name: Name) -> None:
        check(C.shmipc_channel_unlink(encode_name(name)), "shmipc_channel_unlink")

    @staticmethod
    def memory_size(capacity: int) -> int:
        """Bytes of segment data a channel of this ring capacity needs (for create_in)."""
        return int(C.shmipc_channel_size(capacity))

    def _release_views(self) -> None:
        p = self._pending
        if p is not None:
            p._window.end_or_raise("Channel.close")  # the handle stays open while the memory is viewed
            self._pending = None

    def _idle(self) -> None:
        if self._pending is not None:
            kind = "reservation" if isinstance(self._pending, Reservation) else "peeked message"
            raise _lib.Error(-errno.EINVAL, "Channel", f"a {kind} is pending: commit/cancel or release it first")

    # -- sending --------------------------------------------------------------------------------------
    def send(self, data: Buffer, timeout: Optional[float] = None) -> None:
        """Copy one message into the ring (timeout in seconds: None waits for room, 0 does not wait)."""
        keep, addr, n = readable(data)
        p = self.ptr
        blocking(lambda ms: C.shmipc_channel_send(p, addr, n, ms), timeout, "shmipc_channel_send")
        del keep

    def send_batch(self, messages: Sequence[Buffer], timeout: Optional[float] = None) -> int:
        """Send up to len(messages) with one publication; returns how many were sent (>= 1)."""
        keeps = [readable(m) for m in messages]
        iov = (L.Iovec * max(1, len(keeps)))()
        for i, (_, addr, n) in enumerate(keeps):
            iov[i].iov_base, iov[i].iov_len = addr, n
        p = self.ptr
        return blocking(lambda ms: C.shmipc_channel_send_batch(p, iov, len(keeps), ms), timeout,
                        "shmipc_channel_send_batch")

    def reserve(self, size: int, timeout: Optional[float] = None) -> Reservation:
        """Reserve room for a message of up to size bytes, written in place (zero-copy)."""
        self._idle()
        ptr = c_void_p()
        p = self.ptr
        blocking(lambda ms: C.shmipc_channel_reserve(p, size, byref(ptr), ms), timeout, "shmipc_channel_reserve")
        r = Reservation(self, ptr.value or 0, size)
        self._pending = r
        return r

    # -- receiving ------------------------------------------------------------------------------------
    def peek(self, timeout: Optional[float] = None) -> Message:
        """The oldest message, in place (zero-copy) until its release()."""
        if isinstance(self._pending, Message):
            return self._pending
        self._idle()
        ptr = c_void_p()
        p = self.ptr
        n = blocking(lambda ms: C.shmipc_channel_peek(p, byref(ptr), ms), timeout, "shmipc_channel_peek")
        m = Message(self, ptr.value or 0, n)
        self._pending = m
        return m

    def recv(self, timeout: Optional[float] = None) -> bytes:
        """Receive the oldest message as bytes (one copy)."""
        self._idle()
        ptr = c_void_p()
        p = self.ptr
        n = blocking(lambda ms: C.shmipc_channel_peek(p, byref(ptr), ms), timeout, "shmipc_channel_peek")
        data = ctypes.string_at(ptr.value, n) if n else b""
        check(C.shmipc_channel_release(p), "shmipc_channel_release")
        return data

    def recv_into(self, buffer: Union[bytearray, memoryview], timeout: Optional[float] = None) -> int:
        """Copy the oldest message into buffer; returns its length (Error EMSGSIZE if it does not fit)."""
        self._idle()
        keep, addr, n = writable(buffer)
        p = self.ptr
        rc = blocking(lambda ms: C.shmipc_channel_recv(p, addr, n, ms), timeout, "shmipc_channel_recv")
        del keep
        return rc

    async def recv_async(self, timeout: Optional[float] = None) -> bytes:
        """Await the next message (asyncio), through a waitset's descriptor; see shmipc.aio."""
        from . import aio
        return await aio.ready_call(self, lambda: self.recv(0), timeout)

    # -- state ----------------------------------------------------------------------------------------
    def set_wait(self, mode: WaitMode) -> None:
        check(C.shmipc_channel_set_wait(self.ptr, int(mode)), "shmipc_channel_set_wait")

    @property
    def max_msg(self) -> int:
        return int(C.shmipc_channel_max_msg(self.ptr))

    @property
    def dropped(self) -> int:
        return int(C.shmipc_channel_dropped(self.ptr))

    def stats(self) -> ChannelStats:
        s = L.ChannelStats()
        check(C.shmipc_channel_stats_get(self.ptr, byref(s)), "shmipc_channel_stats_get")
        return ChannelStats(s.capacity, s.max_msg, s.full_policy, bool(s.broken), s.head, s.tail, s.msgs_sent,
                            s.bytes_sent, s.msgs_recv, s.bytes_recv, s.overwritten, s.dropped, s.producer.pid,
                            s.consumer.pid, bool(s.producer_alive), bool(s.consumer_alive))
