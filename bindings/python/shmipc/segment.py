# SPDX-License-Identifier: MIT
"""Shared-memory segments (shmipc/segment.h): named POSIX segments, files and memfds, with their data
area as a zero-copy memoryview."""
from __future__ import annotations

import errno
import os
import socket
import weakref
from ctypes import byref, c_void_p
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import _layout as L
from . import _lib
from ._handle import Handle
from ._lib import C, check, encode_name
from ._view import MemoryWindow

Name = Union[str, bytes]

ALLOW_FOREIGN = L.CONSTANTS["SHMIPC_SEG_ALLOW_FOREIGN"]
RDONLY = L.CONSTANTS["SHMIPC_SEG_RDONLY"]
DEFER_READY = L.CONSTANTS["SHMIPC_SEG_DEFER_READY"]
NO_RESERVE = L.CONSTANTS["SHMIPC_SEG_NO_RESERVE"]
ANY_TYPE = L.CONSTANTS["SHMIPC_SEG_ANY_TYPE"]


@dataclass(frozen=True)
class SegmentInfo:
    """What shmipc_segment_info_get / shmipc_segment_stat report."""
    name: str
    backing: int
    version: int
    type: int
    size: int
    data_size: int
    file_size: int
    mode: int
    uid: int
    gid: int
    creator_pid: int
    creator_alive: bool
    ready: bool
    generation: int
    created_ns: int

    @classmethod
    def _from(cls, i: L.SegmentInfo) -> "SegmentInfo":
        return cls(i.name.decode(errors="replace"), i.backing, i.version, i.type, i.size, i.data_size,
                   i.file_size, i.mode, i.uid, i.gid, i.creator.pid, bool(i.creator_alive), bool(i.ready),
                   i.generation, i.created_ns)


def _opts(mode: Optional[int] = None, type: Optional[int] = None, flags: Optional[int] = None,
          ready_timeout: Optional[float] = None) -> L.SegmentOpts:
    o = _lib.new_opts(L.SegmentOpts)
    rt = None if ready_timeout is None else (-1 if ready_timeout < 0 else max(1, _lib.timeout_ms(ready_timeout)))
    return _lib.set_fields(o, mode=mode, type=type, flags=flags, ready_timeout_ms=rt)


def set_dir(path: Optional[Union[str, bytes]]) -> None:
    """Where named objects live for this process (None or "" = /dev/shm); see shmipc_segment_set_dir."""
    check(C.shmipc_segment_set_dir(None if path is None else encode_name(path)), "shmipc_segment_set_dir")


def get_dir() -> str:
    """The directory named objects live in now."""
    return (C.shmipc_segment_get_dir() or b"").decode()


def segment_stat(name: Name) -> SegmentInfo:
    """Describe a named segment without opening it for use (shmipc_segment_stat)."""
    info = L.SegmentInfo()
    check(C.shmipc_segment_stat(encode_name(name), byref(info)), "shmipc_segment_stat")
    return SegmentInfo._from(info)


class Segment(Handle):
    """A mapped shared-memory segment. ``data`` is a memoryview of its data area (read-only for a
    RDONLY handle), valid until close() or until grow()/refresh() remap it: both release it first (and
    refuse, with BufferError, while a numpy array or slice of it is alive) and a new ``data`` follows."""

    _c_close = staticmethod(lambda p: C.shmipc_segment_close(p))

    def __init__(self, ptr: int, readonly: bool = False, created: bool = True) -> None:
        super().__init__(ptr)
        self._readonly = readonly
        self._window: Optional[MemoryWindow] = None
        self._borrowers: "weakref.WeakSet[Handle]" = weakref.WeakSet()  # handles made *_in this segment
        #: True when this call created the segment (open_or_create), else False.
        self.created = created

    # -- constructors ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, name: Name, size: int, *, mode: Optional[int] = None, type: Optional[int] = None,
               flags: int = 0) -> "Segment":
        """Create the named segment with size bytes of data (exclusive: AlreadyExists if taken)."""
        out = c_void_p()
        check(C.shmipc_segment_create(encode_name(name), size, byref(_opts(mode, type, flags)), byref(out)),
              "shmipc_segment_create")
        return cls(out.value, bool(flags & RDONLY))

    @classmethod
    def open(cls, name: Name, *, type: Optional[int] = None, flags: int = 0,
             ready_timeout: Optional[float] = None) -> "Segment":
        """Open an existing named segment (flags: RDONLY, ALLOW_FOREIGN, ANY_TYPE)."""
        out = c_void_p()
        check(C.shmipc_segment_open(encode_name(name), byref(_opts(None, type, flags, ready_timeout)),
                                    byref(out)), "shmipc_segment_open")
        return cls(out.value, bool(flags & RDONLY), created=False)

    @classmethod
    def open_or_create(cls, name: Name, size: int, *, mode: Optional[int] = None, type: Optional[int] = None,
                       flags: int = 0) -> "Segment":
        """Open the named segment, or create it with size bytes; ``created`` says which happened."""
        out = c_void_p()
        rc = check(C.shmipc_segment_open_or_create(encode_name(name), size, byref(_opts(mode, type, flags)),
                                                   byref(out)), "shmipc_segment_open_or_create")
        return cls(out.value, bool(flags & RDONLY), created=rc == 1)

    @classmethod
    def file_create(cls, path: Union[str, bytes, os.PathLike], size: int, *, mode: Optional[int] = None,
                    type: Optional[int] = None, flags: int = 0) -> "Segment":
        """Create a segment in a regular file (its data persists)."""
        out = c_void_p()
        check(C.shmipc_segment_file_create(os.fsencode(path), size, byref(_opts(mode, type, flags)), byref(out)),
              "shmipc_segment_file_create")
        return cls(out.value, bool(flags & RDONLY))

    @classmethod
    def file_open(cls, path: Union[str, bytes, os.PathLike], *, type: Optional[int] = None,
                  flags: int = 0) -> "Segment":
        """Open a segment file made by file_create."""
        out = c_void_p()
        check(C.shmipc_segment_file_open(os.fsencode(path), byref(_opts(None, type, flags)), byref(out)),
              "shmipc_segment_file_open")
        return cls(out.value, bool(flags & RDONLY), created=False)

    @classmethod
    def memfd_create(cls, size: int, label: Optional[str] = None, *, type: Optional[int] = None) -> "Segment":
        """An anonymous segment (memfd), shared by fork or by send_fd()."""
        out = c_void_p()
        check(C.shmipc_segment_memfd_create(None if label is None else label.encode(), size,
                                            byref(_opts(None, type, 0)), byref(out)), "shmipc_segment_memfd_create")
        return cls(out.value)

    @classmethod
    def from_fd(cls, fd: int, *, type: Optional[int] = None, flags: int = 0) -> "Segment":
        """Map a segment from a descriptor; the handle owns fd on success."""
        out = c_void_p()
        check(C.shmipc_segment_from_fd(fd, byref(_opts(None, type, flags)), byref(out)), "shmipc_segment_from_fd")
        return cls(out.value, bool(flags & RDONLY), created=False)

    @classmethod
    def recv_fd(cls, sock: Union[int, socket.socket], *, type: Optional[int] = None, flags: int = 0) -> "Segment":
        """Receive a segment's descriptor over a connected AF_UNIX socket and map it."""
        out = c_void_p()
        fd = sock.fileno() if isinstance(sock, socket.socket) else sock
        check(C.shmipc_segment_recv_fd(fd, byref(_opts(None, type, flags)), byref(out)), "shmipc_segment_recv_fd")
        return cls(out.value, bool(flags & RDONLY), created=False)

    @staticmethod
    def unlink(name: Name) -> None:
        """Remove a named segment's name."""
        check(C.shmipc_segment_unlink(encode_name(name)), "shmipc_segment_unlink")

    # -- use ------------------------------------------------------------------------------------------
    def send_fd(self, sock: Union[int, socket.socket]) -> None:
        """Send the descriptor over a connected AF_UNIX socket (SCM_RIGHTS)."""
        fd = sock.fileno() if isinstance(sock, socket.socket) else sock
        check(C.shmipc_segment_send_fd(fd, self.ptr), "shmipc_segment_send_fd")

    def publish(self) -> None:
        """Mark a DEFER_READY segment initialised."""
        check(C.shmipc_segment_publish(self.ptr), "shmipc_segment_publish")

    @property
    def size(self) -> int:
        """Bytes of the data area as of this handle's last map."""
        return int(C.shmipc_segment_data_size(self.ptr))

    @property
    def fd(self) -> int:
        """The descriptor behind the segment (owned by the handle)."""
        return int(C.shmipc_segment_fd(self.ptr))

    def _mapped(self) -> MemoryWindow:
        if self._window is None or self._window.closed:
            self._window = MemoryWindow(C.shmipc_segment_data(self.ptr) or 0, self.size, self._readonly, self)
        return self._window

    @property
    def data(self) -> memoryview:
        """The data area, zero-copy (format "B")."""
        return self._mapped().view

    def numpy(self, dtype: Any = "uint8", shape: Any = None, offset: int = 0) -> Any:
        """The data area as a numpy array (no copy)."""
        return self._mapped().numpy(dtype, shape, offset)

    def _lend(self, handle: Handle) -> None:
        self._borrowers.add(handle)

    def _release_views(self) -> None:
        users = [h for h in self._borrowers if not h.closed]
        if users:
            raise _lib.Error(-errno.EBUSY, "Segment.close",
                             f"close the {type(users[0]).__name__} made in this segment first")
        if self._window is not None:
            self._window.end_or_raise("Segment.close")
            self._window = None

    def _drop_window(self) -> None:
        if self._window is not None:
            self._window.end_or_raise("Segment remap")
            self._window = None

    def grow(self, new_size: int) -> None:
        """Enlarge the data area to new_size bytes for every process; ``data`` is remapped."""
        self._drop_window()
        check(C.shmipc_segment_grow(self.ptr, new_size), "shmipc_segment_grow")

    def refresh(self) -> bool:
        """Remap if another process grew the segment; True if the mapping changed."""
        self._drop_window()
        return check(C.shmipc_segment_refresh(self.ptr), "shmipc_segment_refresh") == 1

    def info(self) -> SegmentInfo:
        i = L.SegmentInfo()
        check(C.shmipc_segment_info_get(self.ptr, byref(i)), "shmipc_segment_info_get")
        return SegmentInfo._from(i)
