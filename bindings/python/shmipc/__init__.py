# SPDX-License-Identifier: MIT
"""shmipc for Python: the services of libshmipc (segments, channels, queues, publish/subscribe,
request/response, blackboard, events, waitsets) over ctypes, zero-copy where the C API is.

    import shmipc
    with shmipc.Publisher.create("demo", payload_size=64) as pub:
        with pub.loan() as loan:
            loan.view[:5] = b"hello"
            loan.publish()

Errors are raised as shmipc.Error (an OSError: errno, strerror = the library's message, errname =
"EPIPE", ...), with subclasses WouldBlock, TimedOut, PeerGone, NotFound, AlreadyExists,
PermissionDenied. Timeouts are in seconds: None waits without limit, 0 does not wait. Every handle is
a context manager; close() is idempotent. The C library is found through SHMIPC_LIBRARY, the dynamic
linker's cache, or LD_LIBRARY_PATH (see shmipc._lib).
"""
from __future__ import annotations

from . import aio
from ._lib import (AlreadyExists, Error, Interrupted, NotFound, PeerGone, PermissionDenied, TimedOut,
                   WouldBlock, errname, strerror, version)
from ._view import have_numpy
from .blackboard import Reader as BlackboardReader
from .blackboard import Writer as BlackboardWriter
from .channel import Channel, ChannelStats, FullPolicy, Message, Reservation, Role
from .event import Event, Listener, Notifier
from .pubsub import Loan, Policy, Publisher, Sample, Subscriber
from .queue import PopClaim, PushClaim, Queue, QueueStats
from .reqresp import Client, Request, Response, Server
from .segment import Segment, SegmentInfo, get_dir, segment_stat, set_dir
from .service import GcReport, Pattern, ServiceInfo, describe, gc, list_services
from .waitmode import WaitMode
from .waitset import Ready, WaitSet

__version__ = "1.0.0"  # the C library release this binding was written for (tests compare)

__all__ = [
    "AlreadyExists", "BlackboardReader", "BlackboardWriter", "Channel", "ChannelStats", "Client", "Error",
    "Event", "FullPolicy", "GcReport", "Interrupted", "Listener", "Loan", "Message", "NotFound", "Notifier",
    "Pattern", "PeerGone", "PermissionDenied", "Policy", "PopClaim", "Publisher", "PushClaim", "Queue",
    "QueueStats", "Ready", "Request", "Reservation", "Response", "Role", "Sample", "Segment", "SegmentInfo",
    "Server", "ServiceInfo", "Subscriber", "TimedOut", "WaitMode", "WaitSet", "WouldBlock", "aio", "describe",
    "errname", "gc", "get_dir", "have_numpy", "list_services", "segment_stat", "set_dir", "strerror", "version",
]
