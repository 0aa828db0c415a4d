# SPDX-License-Identifier: MIT
"""Zero-copy publish/subscribe (shmipc/pubsub.h).

A publisher loans a chunk of the service's pool (``Publisher.loan``: a writable memoryview, or a numpy
array, over the chunk itself), writes the payload and publishes it; each subscriber receives a
``Sample`` whose read-only view is that same chunk, until it releases the sample. Releasing (or
publishing) invalidates the view: see shmipc._view for what that guarantees."""
from __future__ import annotations

import ctypes
import enum
import errno
from ctypes import byref, c_void_p
from typing import Any, Iterator, List, Optional, Tuple

from . import _layout as L
from . import _lib
from ._buf import Buffer, readable
from ._handle import Handle
from ._lib import C, blocking, check, encode_name
from ._view import MemoryWindow
from .segment import Name
from .service import type_info
from .waitmode import WaitMode

DYNAMIC = L.CONSTANTS["SHMIPC_PUBSUB_DYNAMIC"]
FIXED = L.CONSTANTS["SHMIPC_PUBSUB_FIXED"]
MAX_SUBSCRIBERS = L.CONSTANTS["SHMIPC_PUBSUB_MAX_SUBSCRIBERS"]
MAX_PUBLISHERS = L.CONSTANTS["SHMIPC_PUBSUB_MAX_PUBLISHERS"]


class Policy(enum.IntEnum):
    DEFAULT = L.CONSTANTS["SHMIPC_PUBSUB_POLICY_DEFAULT"]
    DROP_OLDEST = L.CONSTANTS["SHMIPC_PUBSUB_DROP_OLDEST"]
    WAIT = L.CONSTANTS["SHMIPC_PUBSUB_WAIT"]


def _opts(*, type_name: Optional[str] = None, type_size: int = 0, type_align: int = 0,
          payload_size: Optional[int] = None, payload_align: Optional[int] = None, dynamic: Optional[bool] = None,
          max_publishers: Optional[int] = None, max_subscribers: Optional[int] = None, depth: Optional[int] = None,
          history: Optional[int] = None, policy: Optional[Policy] = None, max_loans: Optional[int] = None,
          max_held: Optional[int] = None, publish_timeout: Optional[float] = None,
          wait_mode: Optional[WaitMode] = None, mode: Optional[int] = None) -> L.PubsubOpts:
    o = _lib.new_opts(L.PubsubOpts)
    t = type_info(type_name, type_size, type_align)
    if t is not None:
        o.type = t
    pt = None if publish_timeout is None else _lib.timeout_ms(publish_timeout)
    return _lib.set_fields(o, payload_size=payload_size, payload_align=payload_align,
                           flags=None if dynamic is None else DYNAMIC if dynamic else FIXED, max_publishers=max_publishers,
                           max_subscribers=max_subscribers, depth=depth, history=history, policy=policy,
                           max_loans=max_loans, max_held=max_held, publish_timeout_ms=pt, wait_mode=wait_mode,
                           mode=mode)


def _opts_ref(opts: dict) -> Any:
    """The options for a create or open call: NULL when none are given (all defaults, or whatever the
    service has); else the structure (an option not given is 0: the default, or the service's)."""
    return byref(_opts(**opts)) if opts else None


def _geometry(ptr: int, getter: Any, what: str) -> Tuple[int, bool]:
    """(payload size, dynamic) of the service, as the handle validated it at open."""
    o = _lib.new_opts(L.PubsubOpts)
    check(getter(ptr, byref(o)), what)
    return int(o.payload_size), bool(o.flags & DYNAMIC)


class Loan:
    """A chunk of the pool loaned for writing: fill ``view`` (writable, zero-copy) or ``numpy()``, then
    publish() or discard(). Leaving a ``with`` block without publishing discards it. After publish or
    discard every view raises ValueError (and publish refuses while a numpy array or slice of the view
    is alive: BufferError)."""

    def __init__(self, pub: "Publisher", address: int, size: int) -> None:
        self._pub = pub
        self._address = address
        self._size = size
        self._window = MemoryWindow(address, size, False, pub)
        pub._loans.add(self)

    @property
    def view(self) -> memoryview:
        return self._window.view

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        return self._window.numpy(dtype, shape, offset)

    def __len__(self) -> int:
        return len(self._window.view)

    @property
    def done(self) -> bool:
        return self not in self._pub._loans

    def publish(self, length: Optional[int] = None) -> int:
        """Publish the first length bytes (default: the loaned size) to every connected subscriber;
        returns how many it was delivered to. TimedOut (SHMIPC_PUBSUB_WAIT: some subscribers stayed
        full) still delivered it to the others, and ends the loan."""
        if self.done:
            raise _lib.Error(-errno.EINVAL, "Loan.publish", "published or discarded already")
        n = len(self._window.view) if length is None else length
        self._window.end_or_raise("Loan.publish")
        rc = C.shmipc_pubsub_publisher_publish(self._pub.ptr, self._address, n)
        if rc == -errno.EINVAL:  # bad length: the loan is kept, with a new view for another try
            self._window = MemoryWindow(self._address, self._size, False, self._pub)
        else:
            self._pub._loans.discard(self)
        if rc == -errno.EINTR:
            _lib._check_signals()
        return check(rc, "shmipc_pubsub_publisher_publish")

    def discard(self) -> None:
        """Give the chunk back unpublished (idempotent)."""
        if self.done:
            return
        self._window.end_or_raise("Loan.discard")
        self._pub._loans.discard(self)
        check(C.shmipc_pubsub_publisher_discard(self._pub.ptr, self._address), "shmipc_pubsub_publisher_discard")

    def __enter__(self) -> "Loan":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.discard()


class Publisher(Handle):
    """A publisher of the service NAME. See shmipc_pubsub(3)."""

    _c_close = staticmethod(lambda p: C.shmipc_pubsub_publisher_close(p))

    def __init__(self, ptr: int, name: Name) -> None:
        super().__init__(ptr)
        self._loans: "set[Loan]" = set()
        self.name = name if isinstance(name, str) else name.decode()
        self.payload_size, self.dynamic = _geometry(ptr, C.shmipc_pubsub_publisher_options,
                                                    "shmipc_pubsub_publisher_options")

    @classmethod
    def create(cls, name: Name, **opts: Any) -> "Publisher":
        """Create the service (or open a compatible live one) and register a publisher. Options (keyword,
        all optional): payload_size, payload_align, dynamic, type_name, type_size, type_align,
        max_publishers, max_subscribers, depth, history, policy, max_loans, max_held, publish_timeout
        (seconds; None = no limit), wait_mode, mode."""
        out = c_void_p()
        check(C.shmipc_pubsub_publisher_create(encode_name(name), _opts_ref(opts), byref(out)),
              "shmipc_pubsub_publisher_create")
        return cls(out.value, name)

    @classmethod
    def open(cls, name: Name, **opts: Any) -> "Publisher":
        """Register a publisher of an existing service (NotFound if none)."""
        out = c_void_p()
        check(C.shmipc_pubsub_publisher_open(encode_name(name), _opts_ref(opts), byref(out)),
              "shmipc_pubsub_publisher_open")
        return cls(out.value, name)

    @property
    def id(self) -> int:
        """This publisher's slot, as Sample.publisher reports it."""
        return int(C.shmipc_pubsub_publisher_id(self.ptr))

    def loan(self, size: int = 0) -> Loan:
        """Loan a chunk with room for size bytes (0 = the service's payload size)."""
        ptr = c_void_p()
        check(C.shmipc_pubsub_publisher_loan(self.ptr, size, byref(ptr)), "shmipc_pubsub_publisher_loan")
        return Loan(self, ptr.value or 0, size or self.payload_size)

    def publish(self, data: Buffer) -> int:
        """Publish a copy of data (a fixed-size service's samples are padded with zeros to its size);
        returns how many subscribers it was delivered to."""
        keep, addr, n = readable(data)
        if not self.dynamic and n < self.payload_size:
            ptr = c_void_p()
            check(C.shmipc_pubsub_publisher_loan(self.ptr, 0, byref(ptr)), "shmipc_pubsub_publisher_loan")
            ctypes.memmove(ptr.value, addr, n)
            ctypes.memset((ptr.value or 0) + n, 0, self.payload_size - n)
            rc = C.shmipc_pubsub_publisher_publish(self.ptr, ptr.value, self.payload_size)
            if rc == -errno.EINVAL:
                C.shmipc_pubsub_publisher_discard(self.ptr, ptr.value)
        else:
            rc = C.shmipc_pubsub_publisher_publish_copy(self.ptr, addr, n)
        del keep
        if rc == -errno.EINTR:
            _lib._check_signals()
        return check(rc, "shmipc_pubsub_publisher_publish")

    def _release_views(self) -> None:
        for loan in list(self._loans):
            loan._window.end_or_raise("Publisher.close")  # the handle stays open while viewed
        self._loans.clear()  # the C close discards every loan


class Sample:
    """A received sample: ``view`` is a read-only memoryview of the chunk in the pool (zero-copy),
    ``numpy()`` an array over it, valid until release() (or the end of a ``with`` block). Afterwards the
    view raises ValueError. ``sequence`` counts per publisher slot, ``publisher`` is that slot."""

    def __init__(self, sub: "Subscriber", sample: L.PubsubSample) -> None:
        self._sub = sub
        self._sample = sample
        self._window = MemoryWindow(sample.data or 0, sample.size, True, sub)
        self.size: int = sample.size
        self.sequence: int = sample.sequence
        self.publisher: int = sample.publisher
        sub._held.add(self)

    @property
    def view(self) -> memoryview:
        return self._window.view

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        return self._window.numpy(dtype, shape, offset)

    def tobytes(self) -> bytes:
        return self._window.view.tobytes()

    def __len__(self) -> int:
        return self.size

    @property
    def released(self) -> bool:
        return self not in self._sub._held

    def release(self) -> None:
        """End the view and give the chunk back (idempotent). While a numpy array, slice or cast made
        from the view is still alive the chunk stays held (counted in max_held) and goes back once they
        are gone, at the subscriber's next receive or close."""
        if self.released:
            return
        self._sub._held.discard(self)
        if not self._window.end():
            self._sub._orphans.append((self._window, self._sample))
            return
        check(C.shmipc_pubsub_subscriber_release(self._sub.ptr, byref(self._sample)),
              "shmipc_pubsub_subscriber_release")

    def __enter__(self) -> "Sample":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __del__(self) -> None:
        # Dropped unreleased: give it back now, or (still viewed through a slice) when the subscriber
        # next receives or closes and nothing views it any more.
        try:
            if not self._sub.closed:
                self.release()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<shmipc.Sample publisher={self.publisher} sequence={self.sequence} size={self.size}>"


class Subscriber(Handle):
    """A subscriber of the service NAME (which must exist). See shmipc_pubsub(3)."""

    _c_close = staticmethod(lambda p: C.shmipc_pubsub_subscriber_close(p))

    def __init__(self, ptr: int, name: Name) -> None:
        super().__init__(ptr)
        self._held: "set[Sample]" = set()
        self._orphans: List[Tuple[MemoryWindow, L.PubsubSample]] = []
        self.name = name if isinstance(name, str) else name.decode()
        # The service's sample size (for dynamic services the largest) and kind, as opened.
        self.payload_size, self.dynamic = _geometry(ptr, C.shmipc_pubsub_subscriber_options,
                                                    "shmipc_pubsub_subscriber_options")

    @classmethod
    def open(cls, name: Name, **opts: Any) -> "Subscriber":
        """Connect to the existing service. Options as Publisher.create: none given accepts whatever
        the service has; given ones must match it (Error EPROTOTYPE with a detail)."""
        out = c_void_p()
        check(C.shmipc_pubsub_subscriber_open(encode_name(name), _opts_ref(opts), byref(out)),
              "shmipc_pubsub_subscriber_open")
        return cls(out.value, name)

    def _reap(self) -> None:
        keep = []
        for window, sample in self._orphans:
            if window.end():
                C.shmipc_pubsub_subscriber_release(self.ptr, byref(sample))
            else:
                keep.append((window, sample))
        self._orphans = keep

    def receive(self, timeout: Optional[float] = None) -> Sample:
        """The next sample, zero-copy (timeout in seconds: None = no limit, 0 = do not wait)."""
        if self._orphans:
            self._reap()
        s = L.PubsubSample()
        p = self.ptr
        blocking(lambda ms: C.shmipc_pubsub_subscriber_receive(p, byref(s), ms), timeout,
                 "shmipc_pubsub_subscriber_receive")
        return Sample(self, s)

    def receive_bytes(self, timeout: Optional[float] = None) -> bytes:
        """The next sample's payload as bytes (one copy; the chunk is released at once)."""
        with self.receive(timeout) as s:
            return s.tobytes()

    def __iter__(self) -> Iterator[Sample]:
        """Samples as they arrive, for ever (release each, or use it in a with block)."""
        while True:
            yield self.receive()

    async def receive_async(self, timeout: Optional[float] = None) -> Sample:
        """Await the next sample (asyncio), through a waitset's descriptor; see shmipc.aio."""
        from . import aio
        return await aio.ready_call(self, lambda: self.receive(0), timeout)

    @property
    def missed(self) -> int:
        """Samples dropped for this subscriber since it connected."""
        return int(C.shmipc_pubsub_subscriber_missed(self.ptr))

    def _release_views(self) -> None:
        for s in list(self._held):
            s.release()
        self._reap()
        if self._orphans:  # the handle stays open: the close would unmap memory still viewed
            raise BufferError(f"shmipc: Subscriber.close: {len(self._orphans)} released sample(s) still "
                              "viewed by a numpy array, slice or cast made from their view (delete them first)")


def unlink(name: Name) -> None:
    """Remove the service's names (shmipc_pubsub_unlink)."""
    check(C.shmipc_pubsub_unlink(encode_name(name)), "shmipc_pubsub_unlink")
