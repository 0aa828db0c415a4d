# SPDX-License-Identifier: MIT
"""Request/response (shmipc/reqresp.h): clients send requests, one server answers each with one
response or a stream of them (more=True on all but the last)."""
from __future__ import annotations

import ctypes
import errno
from ctypes import byref, c_uint64, c_void_p, pointer
from dataclasses import dataclass
from typing import Any, Optional

from . import _layout as L
from . import _lib
from ._buf import Buffer, readable
from ._handle import Handle
from ._lib import C, blocking, check, encode_name
from .segment import Name
from .service import type_info
from .waitmode import WaitMode

MORE = L.CONSTANTS["SHMIPC_RR_MORE"]
MAX_MESSAGE = L.CONSTANTS["SHMIPC_RR_MAX_MESSAGE"]


def _opts(*, type_name: Optional[str] = None, type_size: int = 0, type_align: int = 0,
          max_request: Optional[int] = None, max_response: Optional[int] = None, depth: Optional[int] = None,
          max_clients: Optional[int] = None, mode: Optional[int] = None,
          wait_mode: Optional[WaitMode] = None) -> L.ReqrespOpts:
    o = _lib.new_opts(L.ReqrespOpts)
    t = type_info(type_name, type_size, type_align)
    if t is not None:
        o.type = pointer(t)  # the structure keeps t alive
    return _lib.set_fields(o, max_request=max_request, max_response=max_response, depth=depth,
                           max_clients=max_clients, mode=mode, wait_mode=wait_mode)


def _limits(ptr: int, getter: Any, what: str) -> tuple[int, int]:
    """(max_request, max_response) of the service, as the handle validated it at open."""
    o = _lib.new_opts(L.ReqrespOpts)
    check(getter(ptr, byref(o)), what)
    return int(o.max_request), int(o.max_response)


@dataclass(frozen=True)
class Request:
    """A request the server received: pass it to Server.respond."""
    data: bytes
    id: int
    client: int
    _info: Any = None


@dataclass(frozen=True)
class Response:
    """A response a client received: ``more`` is True when further responses to the same request
    follow (a stream)."""
    data: bytes
    id: int
    more: bool


class Server(Handle):
    """The server of a request/response service (one at a time: Busy while a live one serves)."""

    _c_close = staticmethod(lambda p: C.shmipc_reqresp_server_close(p))

    def __init__(self, ptr: int, name: Name) -> None:
        super().__init__(ptr)
        self.max_request, self.max_response = _limits(ptr, C.shmipc_reqresp_server_options,
                                                       "shmipc_reqresp_server_options")
        self._buf = ctypes.create_string_buffer(max(1, self.max_request))

    @classmethod
    def create(cls, name: Name, **opts: Any) -> "Server":
        """Serve name, creating the service if needed (or taking over one whose server died). Options:
        max_request, max_response, depth, max_clients, mode, wait_mode, type_name, type_size, type_align."""
        out = c_void_p()
        check(C.shmipc_reqresp_server_create(encode_name(name), byref(_opts(**opts)), byref(out)),
              "shmipc_reqresp_server_create")
        return cls(out.value, name)

    def receive(self, timeout: Optional[float] = None) -> Request:
        """The next request from any client."""
        info = L.RequestInfo()
        buf, p = self._buf, self.ptr
        n = blocking(lambda ms: C.shmipc_reqresp_server_receive(p, byref(info), buf, len(buf), ms), timeout,
                     "shmipc_reqresp_server_receive")
        return Request(ctypes.string_at(buf, n) if n else b"", info.id, info.client, info)

    def respond(self, request: Request, data: Buffer, *, more: bool = False,
                timeout: Optional[float] = None) -> None:
        """Answer request (more=True: further responses follow). NotConnected-type Error (ENOTCONN) if
        the client left."""
        keep, addr, n = readable(data)
        info, p = request._info, self.ptr
        blocking(lambda ms: C.shmipc_reqresp_server_respond(p, byref(info), addr, n, MORE if more else 0, ms),
                 timeout, "shmipc_reqresp_server_respond")
        del keep


class Client(Handle):
    """A client of an existing request/response service."""

    _c_close = staticmethod(lambda p: C.shmipc_reqresp_client_close(p))

    def __init__(self, ptr: int, name: Name) -> None:
        super().__init__(ptr)
        self.max_request, self.max_response = _limits(ptr, C.shmipc_reqresp_client_options,
                                                       "shmipc_reqresp_client_options")
        self._buf = ctypes.create_string_buffer(max(1, self.max_response))

    @classmethod
    def open(cls, name: Name, **opts: Any) -> "Client":
        out = c_void_p()
        check(C.shmipc_reqresp_client_open(encode_name(name), byref(_opts(**opts)), byref(out)),
              "shmipc_reqresp_client_open")
        return cls(out.value, name)

    def send(self, data: Buffer, timeout: Optional[float] = None) -> int:
        """Send a request; returns its correlation id."""
        keep, addr, n = readable(data)
        rid = c_uint64()
        p = self.ptr
        blocking(lambda ms: C.shmipc_reqresp_client_send(p, addr, n, byref(rid), ms), timeout,
                 "shmipc_reqresp_client_send")
        del keep
        return rid.value

    def receive(self, timeout: Optional[float] = None) -> Response:
        """The next response to any of this client's requests."""
        info = L.ResponseInfo()
        buf, p = self._buf, self.ptr
        n = blocking(lambda ms: C.shmipc_reqresp_client_receive(p, byref(info), buf, len(buf), ms), timeout,
                     "shmipc_reqresp_client_receive")
        return Response(ctypes.string_at(buf, n) if n else b"", info.id, bool(info.flags & MORE))

    def call(self, data: Buffer, timeout: Optional[float] = None) -> bytes:
        """Send a request and return its (first) response; timeout bounds the whole call. PeerGone if
        the server closed or died."""
        keep, addr, n = readable(data)
        info = L.ResponseInfo()
        buf, p = self._buf, self.ptr
        # Not retried on EINTR: the request may have been sent already.
        rc = C.shmipc_reqresp_client_call(p, addr, n, buf, len(buf), byref(info), _lib.timeout_ms(timeout))
        del keep
        if rc == -errno.EINTR:
            _lib._check_signals()
        rc = check(rc, "shmipc_reqresp_client_call")
        return ctypes.string_at(buf, rc) if rc else b""


def unlink(name: Name) -> None:
    check(C.shmipc_reqresp_unlink(encode_name(name)), "shmipc_reqresp_unlink")
