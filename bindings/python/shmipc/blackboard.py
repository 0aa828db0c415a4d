# SPDX-License-Identifier: MIT
"""The blackboard (shmipc/blackboard.h): one writer keeps the latest value of each key up to date;
readers read consistent snapshots without locks."""
from __future__ import annotations

import ctypes
from ctypes import byref, c_uint64, c_void_p, pointer
from typing import Any, Optional, Tuple

from . import _layout as L
from ._buf import Buffer, readable
from ._handle import Handle
from ._lib import C, blocking, check, encode_name
from .segment import Name
from .service import type_info
from .waitmode import WaitMode


def _opts(*, type_name: Optional[str] = None, type_size: int = 0, type_align: int = 0,
          value_size: Optional[int] = None, entries: Optional[int] = None, max_readers: Optional[int] = None,
          mode: Optional[int] = None, wait_mode: Optional[WaitMode] = None) -> Any:
    from . import _lib
    o = _lib.new_opts(L.BlackboardOpts)
    t = type_info(type_name, type_size, type_align)
    if t is not None:
        o.type = pointer(t)
    return _lib.set_fields(o, value_size=value_size, entries=entries, max_readers=max_readers, mode=mode,
                           wait_mode=wait_mode)


class Writer(Handle):
    """The writer of a blackboard (one at a time)."""

    _c_close = staticmethod(lambda p: C.shmipc_blackboard_writer_close(p))

    @classmethod
    def create(cls, name: Name, **opts: Any) -> "Writer":
        """Become the writer, creating the blackboard if needed. Options: value_size (required unless
        a type size is given), entries, max_readers, mode, wait_mode, type_name, type_size, type_align."""
        out = c_void_p()
        check(C.shmipc_blackboard_writer_create(encode_name(name), byref(_opts(**opts)), byref(out)),
              "shmipc_blackboard_writer_create")
        return cls(out.value)

    def write(self, value: Buffer, key: int = 0) -> None:
        """Publish a new value of key (exactly the value size)."""
        keep, addr, n = readable(value)
        check(C.shmipc_blackboard_write(self.ptr, key, addr, n), "shmipc_blackboard_write")
        del keep


class Reader(Handle):
    """A reader of an existing blackboard."""

    _c_close = staticmethod(lambda p: C.shmipc_blackboard_reader_close(p))

    def __init__(self, ptr: int) -> None:
        super().__init__(ptr)
        self._buf = ctypes.create_string_buffer(max(1, self.value_size))

    @classmethod
    def open(cls, name: Name, **opts: Any) -> "Reader":
        out = c_void_p()
        check(C.shmipc_blackboard_reader_open(encode_name(name), byref(_opts(**opts)), byref(out)),
              "shmipc_blackboard_reader_open")
        return cls(out.value)

    @property
    def value_size(self) -> int:
        return int(C.shmipc_blackboard_value_size(self.ptr))

    def read(self, key: int = 0) -> Tuple[bytes, int]:
        """(latest value of key, its version: 1 for the first write, +1 per write). Error ENODATA if
        never written."""
        ver = c_uint64()
        n = check(C.shmipc_blackboard_read(self.ptr, key, self._buf, len(self._buf), byref(ver)),
                  "shmipc_blackboard_read")
        return ctypes.string_at(self._buf, n), ver.value

    def wait(self, key: int = 0, seen: int = 0, timeout: Optional[float] = None) -> None:
        """Wait until key's version is above seen (PeerGone if the writer closed or died)."""
        p = self.ptr
        blocking(lambda ms: C.shmipc_blackboard_wait(p, key, seen, ms), timeout, "shmipc_blackboard_wait")


def unlink(name: Name) -> None:
    check(C.shmipc_blackboard_unlink(encode_name(name)), "shmipc_blackboard_unlink")
