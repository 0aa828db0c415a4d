# SPDX-License-Identifier: MIT
"""Waitsets (shmipc/waitset.h): wait for any of several handles, and a descriptor for event loops."""
from __future__ import annotations

import errno
from ctypes import byref, c_void_p
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from . import _layout as L
from . import _lib
from ._handle import Handle
from ._lib import C, blocking, check

IN = L.CONSTANTS["SHMIPC_WAITSET_IN"]
OUT = L.CONSTANTS["SHMIPC_WAITSET_OUT"]
ERR = L.CONSTANTS["SHMIPC_WAITSET_ERR"]
MAX = L.CONSTANTS["SHMIPC_WAITSET_MAX"]


@dataclass(frozen=True)
class Ready:
    """A ready handle as WaitSet.wait reports it: events are IN / OUT, with ERR when the handle's next
    call will fail (peer gone, corruption)."""
    handle: Handle
    events: int
    user: Any


class WaitSet(Handle):
    """Up to MAX channel ends, queues, events, listeners and subscribers. wait() reports which are ready
    and consumes nothing; fileno() is a descriptor readable while something may be ready (for select,
    selectors, asyncio: see shmipc.aio). A handle in a set leaves it when it is closed."""

    _c_close = staticmethod(lambda p: C.shmipc_waitset_close(p))

    def __init__(self) -> None:
        out = c_void_p()
        check(C.shmipc_waitset_create(byref(out)), "shmipc_waitset_create")
        super().__init__(out.value)
        self._members: Dict[int, Tuple[Handle, Any]] = {}
        self._ready = (L.WaitsetReady * MAX)()

    def add(self, handle: Handle, events: int = 0, user: Any = None) -> None:
        """Add a handle for events (IN, OUT; 0 = its natural direction); user comes back with it."""
        from .channel import Channel
        from .event import Event, Listener
        from .pubsub import Subscriber
        from .queue import Queue
        adders = ((Channel, C.shmipc_waitset_add_channel, "shmipc_waitset_add_channel"),
                  (Queue, C.shmipc_waitset_add_queue, "shmipc_waitset_add_queue"),
                  (Event, C.shmipc_waitset_add_event, "shmipc_waitset_add_event"),
                  (Listener, C.shmipc_waitset_add_listener, "shmipc_waitset_add_listener"),
                  (Subscriber, C.shmipc_waitset_add_subscriber, "shmipc_waitset_add_subscriber"))
        for cls, fn, fname in adders:
            if isinstance(handle, cls):
                check(fn(self.ptr, handle.ptr, events, 0), fname)
                self._members[handle.ptr] = (handle, user)
                handle._waitsets.add(self)
                return
        raise TypeError(f"shmipc: a {type(handle).__name__} cannot be waited for in a WaitSet")

    def remove(self, handle: Handle) -> None:
        check(C.shmipc_waitset_remove(self.ptr, handle.ptr), "shmipc_waitset_remove")
        self._members.pop(handle.ptr, None)
        handle._waitsets.discard(self)

    def _forget(self, handle: Handle) -> None:
        """A member is closing: take it out first (the C set must not hold a closed handle)."""
        if self._ptr is not None and handle._ptr is not None:
            C.shmipc_waitset_remove(self._ptr, handle._ptr)
            self._members.pop(handle._ptr, None)

    def __len__(self) -> int:
        return len(self._members)

    def wait(self, timeout: Optional[float] = None) -> List[Ready]:
        """Wait until at least one handle is ready; the ready ones (WouldBlock with timeout 0 and nothing
        ready, TimedOut)."""
        p, r = self.ptr, self._ready
        n = blocking(lambda ms: C.shmipc_waitset_wait(p, ms, r, MAX), timeout, "shmipc_waitset_wait")
        out = []
        for i in range(n):
            h, user = self._members.get(r[i].handle or 0, (None, None))
            if h is not None:
                out.append(Ready(h, r[i].events, user))
        return out

    def fileno(self) -> int:
        """The event-loop descriptor (owned by the set: do not close or read it)."""
        return check(C.shmipc_waitset_fd(self.ptr), "shmipc_waitset_fd")

    async def wait_async(self, timeout: Optional[float] = None) -> List[Ready]:
        """Await readiness (asyncio) through fileno()."""
        from . import aio
        return await aio.ready_call(self, lambda: self.wait(0), timeout, waitset=self)

    def close(self) -> None:
        if self._ptr is None:
            return
        for h, _ in self._members.values():
            h._waitsets.discard(self)
        self._members.clear()
        super().close()
