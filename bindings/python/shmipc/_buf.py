# SPDX-License-Identifier: MIT
"""Addresses of Python buffers for the C calls that copy from or into them (no copy where possible)."""
from __future__ import annotations

import ctypes
from typing import Any, Union

Buffer = Union[bytes, bytearray, memoryview]


def readable(data: Any) -> tuple[Any, int, int]:
    """(object to keep alive during the call, address, length) of a bytes-like object to read from."""
    if isinstance(data, bytes):
        return data, ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0, len(data)
    mv = memoryview(data)
    if mv.readonly or not mv.c_contiguous:
        b = mv.tobytes()
        return b, ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value or 0, len(b)
    mv = mv.cast("B")
    if len(mv) == 0:
        return mv, 0, 0
    arr = (ctypes.c_char * len(mv)).from_buffer(mv)
    return arr, ctypes.addressof(arr), len(mv)


def writable(buf: Any) -> tuple[Any, int, int]:
    """(keep-alive object, address, length) of a writable contiguous buffer to copy into."""
    mv = memoryview(buf)
    if mv.readonly or not mv.c_contiguous:
        raise TypeError("shmipc: a writable contiguous buffer is needed (bytearray, writable memoryview...)")
    mv = mv.cast("B")
    if len(mv) == 0:
        return mv, 0, 0
    arr = (ctypes.c_char * len(mv)).from_buffer(mv)
    return arr, ctypes.addressof(arr), len(mv)


class Scratch:
    """A growing receive buffer of one handle, for calls that copy a message of unknown size and say
    -EMSGSIZE (leaving the message queued) when the buffer is too small."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = max(1, size)
        self.limit = limit
        self.buf = ctypes.create_string_buffer(self.size)

    def grow(self) -> bool:
        if self.size >= self.limit:
            return False
        self.size = min(self.limit, self.size * 4)
        self.buf = ctypes.create_string_buffer(self.size)
        return True

    def take(self, n: int) -> bytes:
        return ctypes.string_at(self.buf, n) if n else b""
