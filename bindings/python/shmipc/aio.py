# SPDX-License-Identifier: MIT
"""asyncio integration: await a receive through a waitset's descriptor (shmipc_waitset_fd).

Each handle's ``*_async`` method (Subscriber.receive_async, Channel.recv_async, Queue.pop_async,
Event.wait_async, Listener.wait_async, WaitSet.wait_async) runs the same loop: try the call without
waiting; if it would wait, ask the handle's private waitset (made on first use, closed with the handle)
with timeout 0 (which quiets its descriptor when nothing is ready), and if nothing is ready either,
await the descriptor becoming readable with ``loop.add_reader``. Nothing blocks the event loop: the
waiting is done by the waitset's own thread, which makes the descriptor readable when a peer writes
(or once per 20 ms slice while idle, so a dead peer is noticed). One await per handle at a time.
"""
from __future__ import annotations

import asyncio
import errno
from typing import Any, Callable, Optional, TypeVar

from . import _lib

T = TypeVar("T")


async def readable(fd: int, timeout: Optional[float] = None) -> bool:
    """Await fd becoming readable; False if timeout (seconds) passed first."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        if timeout is None:
            await fut
        else:
            await asyncio.wait_for(fut, max(0.0, timeout))
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


async def ready_call(handle: Any, attempt: Callable[[], T], timeout: Optional[float] = None,
                     waitset: Any = None) -> T:
    """Return attempt() (a call with timeout 0) once it does not raise WouldBlock, awaiting the
    descriptor of handle's private waitset (or of ``waitset``) in between. TimedOut after timeout
    seconds (None: no limit)."""
    from .waitset import WaitSet
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    ws = waitset
    if ws is None:
        ws = handle._aio
        if ws is None:
            ws = WaitSet()
            try:
                ws.add(handle)
            except BaseException:
                ws.close()
                raise
            handle._aio = ws
    if getattr(ws, "_awaiting", False):
        raise RuntimeError("shmipc: another task already awaits this handle")
    ws._awaiting = True
    try:
        fd = ws.fileno()
        spurious = 0
        while True:
            try:
                return attempt()
            except _lib.WouldBlock:
                pass
            if ws is not waitset:
                try:
                    ws.wait(0)  # something ready (or ERR): try again; the handle's call says what
                    spurious += 1
                    if spurious > 1:  # ready but the call still would wait: let others run first
                        await asyncio.sleep(0)
                    continue
                except _lib.WouldBlock:
                    pass  # nothing ready, and the descriptor is quiet again
            spurious = 0
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise _lib.error_for(-errno.ETIMEDOUT, "aio.ready_call")
            await readable(fd, left)
    finally:
        ws._awaiting = False
