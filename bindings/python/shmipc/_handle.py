# SPDX-License-Identifier: MIT
"""What every handle of the binding shares: the C pointer, close() and the context-manager protocol,
closing at garbage collection, and leaving waitsets before the C handle goes."""
from __future__ import annotations

import weakref
from typing import Any, Callable, Optional, TypeVar

from . import _lib

H = TypeVar("H", bound="Handle")


class Handle:
    """A C handle owned by this object. ``close()`` frees it (idempotent); ``with`` closes it on exit; a
    handle that is garbage-collected unclosed is closed then. Like the C handles, one is used by one
    thread at a time."""

    _c_close: Callable[[Any], int] = staticmethod(lambda p: 0)

    def __init__(self, ptr: Optional[int]) -> None:
        if not ptr:
            raise _lib.Error(-22, type(self).__name__)  # EINVAL: the library returned no handle
        self._ptr: Optional[int] = ptr
        self._waitsets: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self._aio: Any = None  # the private waitset of the async calls, made on first use

    @property
    def ptr(self) -> int:
        """The C handle's address (raises ValueError once closed)."""
        if self._ptr is None:
            raise ValueError(f"shmipc: operation on a closed {type(self).__name__}")
        return self._ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def _release_views(self) -> None:
        """Give back the zero-copy memory this handle lent out, before the C close (subclasses). Raises
        BufferError, leaving the handle open, while Python objects still view memory the close unmaps."""

    def close(self) -> None:
        """Close the handle (a no-op when closed already). Raises BufferError, leaving it open, while a
        view of its shared memory is still in use."""
        if self._ptr is None:
            return
        self._release_views()
        for ws in list(self._waitsets):
            ws._forget(self)
        if self._aio is not None:
            self._aio.close()
            self._aio = None
        ptr, self._ptr = self._ptr, None
        type(self)._c_close(ptr)

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else hex(self._ptr)
        return f"<shmipc.{type(self).__name__} {state}>"
