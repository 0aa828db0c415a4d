# SPDX-License-Identifier: MIT
"""Zero-copy views of shared memory that die with what they view.

A ``MemoryWindow`` exposes ``size`` bytes at an address the library gave (a loaned chunk, a received
sample, a reserved or peeked channel message, a queue claim, a segment's data) as a ``memoryview``
(format "B", writable or read-only) and, where numpy is importable, as numpy arrays over the same bytes.

The memory is only valid until the owning call ends it (publish, release, commit, close...). Before the
binding gives the memory back it *ends* the window:

* the memoryview handed out is released, so every later access through it raises ValueError;
* a numpy array made by ``numpy()``, a slice, a cast or ``memoryview(view)`` shares the view's
  buffer, which references the ctypes array under it: the window sees such an object still alive by
  that reference after the release, and then the memory is not given back. Write-side ends (publish,
  commit) and the in-order read side (a channel peek, a queue claim) raise BufferError and change
  nothing (the object stays usable with a fresh view); a pub/sub sample, independent of the others, is
  given back once those objects are gone (checked at the subscriber's next receive and at close).

So no Python object can reach the memory after the library took it back. The ctypes array under the
views also references the handle that owns the mapping, so the mapping cannot be unmapped by garbage
collection while anything still views it.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any, Optional

try:  # numpy is optional: the arrays exist only where it is importable
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None


def have_numpy() -> bool:
    """True when numpy is importable (and so the numpy() methods work)."""
    return _np is not None


class MemoryWindow:
    """Bytes of shared memory at ``address`` (``size`` bytes) as a memoryview; see the module text."""

    __slots__ = ("_arr", "_view", "_base", "_closed", "_readonly", "__weakref__")

    def __init__(self, address: int, size: int, readonly: bool, owner: Any) -> None:
        self._readonly = readonly
        self._arr: Optional[Any] = ((ctypes.c_ubyte * size).from_address(address) if size and address
                                    else (ctypes.c_ubyte * 0)())
        self._arr._shmipc_owner = owner  # the mapping's owner lives while any view of it does
        # References to the array when only the window holds it (measured as close() measures it).
        self._base = sys.getrefcount(self._arr)
        mv = memoryview(self._arr)
        cast = mv.cast("B")
        view = cast.toreadonly() if readonly else cast
        if view is not cast:
            cast.release()
        mv.release()
        self._view: memoryview = view
        self._closed = False

    @property
    def view(self) -> memoryview:
        """The memoryview (raises ValueError once the window is closed)."""
        if self._closed:
            raise ValueError("shmipc: the memory of this object was given back (released, published, "
                             "committed or closed)")
        return self._view

    @property
    def closed(self) -> bool:
        return self._closed

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        """A numpy array over the same bytes (no copy), of dtype and optional shape, starting at offset.
        Read-only for a read-only window. The window cannot be closed while the array is alive."""
        if _np is None:
            raise RuntimeError("shmipc: numpy is not installed")
        dt = _np.dtype(dtype)
        view = self.view
        count = (len(view) - offset) // dt.itemsize if shape is None else int(_np.prod(shape))
        a = _np.frombuffer(view, dtype=dt, count=count, offset=offset)
        return a if shape is None else a.reshape(shape)

    def end(self) -> bool:
        """Release the view. True when nothing else views the memory any more (the owner may give it
        back); False while an array, slice or cast made from the view is still alive (the memory must
        stay: call end() again later)."""
        if not self._closed:
            try:
                self._view.release()
            except BufferError:
                return False  # exported (e.g. to ctypes from_buffer): the view stays usable
            self._closed = True
        if self._arr is not None and sys.getrefcount(self._arr) > self._base:
            return False
        self._arr = None
        return True

    def end_or_raise(self, what: str) -> None:
        """end(), or BufferError leaving the window usable (with a fresh view) while still viewed."""
        if self.end():
            return
        if self._closed and self._arr is not None:
            mv = memoryview(self._arr)
            cast = mv.cast("B")
            self._view = cast.toreadonly() if self._readonly else cast
            if self._view is not cast:
                cast.release()
            mv.release()
            self._closed = False
        raise BufferError(f"shmipc: {what}: a numpy array, slice or cast made from the view is still alive "
                          "(delete it first)")
