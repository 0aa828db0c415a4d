# SPDX-License-Identifier: MIT
"""Queues (shmipc/queue.h): bounded, lock-free, many producers and many consumers, fixed-size slots."""
from __future__ import annotations

import ctypes
import weakref
from ctypes import byref, c_size_t, c_void_p
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import _layout as L
from . import _lib
from ._buf import Buffer, readable, writable
from ._handle import Handle
from ._lib import C, blocking, check, encode_name
from ._view import MemoryWindow
from .segment import Name, Segment
from .waitmode import WaitMode

ALLOW_FOREIGN = L.CONSTANTS["SHMIPC_QUEUE_ALLOW_FOREIGN"]
OBSERVE = L.CONSTANTS["SHMIPC_QUEUE_OBSERVE"]
PRODUCER = L.CONSTANTS["SHMIPC_QUEUE_PRODUCER"]
CONSUMER = L.CONSTANTS["SHMIPC_QUEUE_CONSUMER"]


@dataclass(frozen=True)
class QueueStats:
    pushes: int
    pops: int
    lost: int
    depth: int
    slot_count: int
    slot_size: int
    participants: int
    max_participants: int
    broken: bool


def _opts(slot_count: Optional[int] = None, slot_size: Optional[int] = None,
          max_participants: Optional[int] = None, mode: Optional[int] = None,
          wait_mode: Optional[WaitMode] = None, flags: Optional[int] = None,
          ready_timeout: Optional[float] = None) -> L.QueueOpts:
    rt = None if ready_timeout is None else (-1 if ready_timeout < 0 else max(1, _lib.timeout_ms(ready_timeout)))
    return _lib.set_fields(_lib.new_opts(L.QueueOpts), slot_count=slot_count, slot_size=slot_size,
                           max_participants=max_participants, mode=mode, wait_mode=wait_mode, flags=flags,
                           ready_timeout_ms=rt)


class _Claim:
    def __init__(self, queue: "Queue", claim: L.QueueClaim, size: int, readonly: bool) -> None:
        self._queue = queue
        self._claim = claim
        self._window = MemoryWindow(claim.data or 0, size, readonly, queue)
        queue._claims.add(self)

    @property
    def view(self) -> memoryview:
        return self._window.view

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        return self._window.numpy(dtype, shape, offset)

    @property
    def done(self) -> bool:
        return self not in self._queue._claims


class PushClaim(_Claim):
    """A free slot claimed for writing in place (Queue.push_claim): write into ``view`` (slot_size
    bytes) and commit(length). A claim cannot be abandoned: leaving a ``with`` block without commit
    commits an empty message."""

    def commit(self, length: Optional[int] = None) -> None:
        """Publish the slot with its first length bytes (default: the whole slot)."""
        if self.done:
            raise _lib.Error(-22, "PushClaim.commit", "committed already")
        n = len(self._window.view) if length is None else length
        self._window.end_or_raise("PushClaim.commit")
        self._queue._claims.discard(self)
        check(C.shmipc_queue_push_commit(self._queue.ptr, byref(self._claim), n), "shmipc_queue_push_commit")

    def __enter__(self) -> "PushClaim":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.done:
            self.commit(0)


class PopClaim(_Claim):
    """The oldest message claimed for reading in place (Queue.pop_claim): ``view`` is read-only and
    zero-copy until release() gives the slot back. Validate what you read once: a hostile producer
    could still change the bytes."""

    def __len__(self) -> int:
        return len(self._window.view)

    def tobytes(self) -> bytes:
        return self._window.view.tobytes()

    def release(self) -> None:
        if self.done:
            return
        self._window.end_or_raise("PopClaim.release")
        self._queue._claims.discard(self)
        check(C.shmipc_queue_pop_release(self._queue.ptr, byref(self._claim)), "shmipc_queue_pop_release")

    def __enter__(self) -> "PopClaim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class Queue(Handle):
    """A queue handle: push and pop from any number of processes. See shmipc_queue(3)."""

    _c_close = staticmethod(lambda p: C.shmipc_queue_close(p))

    def __init__(self, ptr: int, segment: Optional[Segment] = None) -> None:
        super().__init__(ptr)
        self._segment = segment
        self._claims: "set[_Claim]" = set()
        self._buf: Optional[ctypes.Array] = None
        if segment is not None:
            segment._lend(self)

    @classmethod
    def create(cls, name: Name, *, slot_count: Optional[int] = None, slot_size: Optional[int] = None,
               max_participants: Optional[int] = None, mode: Optional[int] = None,
               wait_mode: Optional[WaitMode] = None, flags: Optional[int] = None) -> "Queue":
        out = c_void_p()
        o = _opts(slot_count, slot_size, max_participants, mode, wait_mode, flags)
        check(C.shmipc_queue_create(encode_name(name), byref(o), byref(out)), "shmipc_queue_create")
        return cls(out.value)

    @classmethod
    def open(cls, name: Name, *, wait_mode: Optional[WaitMode] = None, flags: Optional[int] = None,
             ready_timeout: Optional[float] = None) -> "Queue":
        out = c_void_p()
        o = _opts(wait_mode=wait_mode, flags=flags, ready_timeout=ready_timeout)
        check(C.shmipc_queue_open(encode_name(name), byref(o), byref(out)), "shmipc_queue_open")
        return cls(out.value)

    @staticmethod
    def memory_size(*, slot_count: Optional[int] = None, slot_size: Optional[int] = None,
                    max_participants: Optional[int] = None) -> int:
        """Bytes of segment data a queue of this geometry needs (for create_in)."""
        n = c_size_t()
        check(C.shmipc_queue_memory_size(byref(_opts(slot_count, slot_size, max_participants)), byref(n)),
              "shmipc_queue_memory_size")
        return n.value

    @staticmethod
    def create_in(segment: Segment, *, slot_count: Optional[int] = None, slot_size: Optional[int] = None,
                  max_participants: Optional[int] = None) -> None:
        """Initialise a queue in segment's data area (then open_in it)."""
        check(C.shmipc_queue_create_in(segment.ptr, byref(_opts(slot_count, slot_size, max_participants))),
              "shmipc_queue_create_in")

    @classmethod
    def open_in(cls, segment: Segment, *, wait_mode: Optional[WaitMode] = None,
                flags: Optional[int] = None) -> "Queue":
        out = c_void_p()
        check(C.shmipc_queue_open_in(segment.ptr, byref(_opts(wait_mode=wait_mode, flags=flags)), byref(out)),
              "shmipc_queue_open_in")
        return cls(out.value, segment)

    @staticmethod
    def unlink(name: Name) -> None:
        check(C.shmipc_queue_unlink(encode_name(name)), "shmipc_queue_unlink")

    def _release_views(self) -> None:
        for c in list(self._claims):
            c._window.end_or_raise("Queue.close")  # the handle stays open while the memory is viewed
        self._claims.clear()

    def push(self, data: Buffer, timeout: Optional[float] = None) -> None:
        """Copy one message (<= slot_size bytes) into the queue."""
        keep, addr, n = readable(data)
        p = self.ptr
        blocking(lambda ms: C.shmipc_queue_push(p, addr, n, ms), timeout, "shmipc_queue_push")
        del keep

    def pop(self, timeout: Optional[float] = None) -> bytes:
        """Remove the oldest message and return it as bytes."""
        if self._buf is None:
            self._buf = ctypes.create_string_buffer(max(1, self.slot_size))
        buf, p = self._buf, self.ptr
        n = blocking(lambda ms: C.shmipc_queue_pop(p, buf, len(buf), ms), timeout, "shmipc_queue_pop")
        return ctypes.string_at(buf, n) if n else b""

    def pop_into(self, buffer: Union[bytearray, memoryview], timeout: Optional[float] = None) -> int:
        """Copy the oldest message into buffer and remove it; returns its length."""
        keep, addr, n = writable(buffer)
        p = self.ptr
        rc = blocking(lambda ms: C.shmipc_queue_pop(p, addr, n, ms), timeout, "shmipc_queue_pop")
        del keep
        return rc

    def push_claim(self, timeout: Optional[float] = None) -> PushClaim:
        """Claim a free slot to write in place (zero-copy)."""
        c = L.QueueClaim()
        p = self.ptr
        blocking(lambda ms: C.shmipc_queue_push_claim(p, byref(c), ms), timeout, "shmipc_queue_push_claim")
        return PushClaim(self, c, c.len, False)

    def pop_claim(self, timeout: Optional[float] = None) -> PopClaim:
        """Claim the oldest message to read in place (zero-copy, read-only)."""
        c = L.QueueClaim()
        p = self.ptr
        n = blocking(lambda ms: C.shmipc_queue_pop_claim(p, byref(c), ms), timeout, "shmipc_queue_pop_claim")
        return PopClaim(self, c, n, True)

    async def pop_async(self, timeout: Optional[float] = None) -> bytes:
        """Await the next message (asyncio), through a waitset's descriptor; see shmipc.aio."""
        from . import aio
        return await aio.ready_call(self, lambda: self.pop(0), timeout)

    def set_wait(self, mode: WaitMode) -> None:
        check(C.shmipc_queue_set_wait(self.ptr, int(mode)), "shmipc_queue_set_wait")

    @property
    def slot_size(self) -> int:
        return int(C.shmipc_queue_slot_size(self.ptr))

    def stats(self) -> QueueStats:
        s = L.QueueStats()
        check(C.shmipc_queue_stats_get(self.ptr, byref(s)), "shmipc_queue_stats_get")
        return QueueStats(s.pushes, s.pops, s.lost, s.depth, s.slot_count, s.slot_size, s.participants,
                          s.max_participants, bool(s.broken))
