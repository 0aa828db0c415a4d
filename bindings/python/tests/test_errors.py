# SPDX-License-Identifier: MIT
"""Errors: a failed call raises shmipc.Error carrying the errno, the library's message and the
symbolic name; common ones are also the matching built-in OSError subclasses."""
from __future__ import annotations

import errno
import pickle

import pytest

import shmipc


def test_error_carries_errno_library_message_and_symbolic_name(name: str) -> None:
    with pytest.raises(shmipc.Error) as ei:
        shmipc.Segment.open("/" + name)
    e = ei.value
    assert e.errno == errno.ENOENT
    assert e.errname == "ENOENT"
    assert e.strerror == shmipc.strerror(-errno.ENOENT)
    assert e.function == "shmipc_segment_open"
    assert "ENOENT" in str(e) and "shmipc_segment_open" in str(e)


@pytest.mark.parametrize("code, cls, builtin", [
    (errno.EAGAIN, shmipc.WouldBlock, BlockingIOError),
    (errno.ETIMEDOUT, shmipc.TimedOut, TimeoutError),
    (errno.EPIPE, shmipc.PeerGone, BrokenPipeError),
    (errno.ENOENT, shmipc.NotFound, FileNotFoundError),
    (errno.EEXIST, shmipc.AlreadyExists, FileExistsError),
    (errno.EACCES, shmipc.PermissionDenied, PermissionError),
])
def test_common_errors_are_also_the_builtin_oserror_subclass(code: int, cls: type, builtin: type) -> None:
    e = shmipc._lib.error_for(-code, "f")
    assert type(e) is cls and isinstance(e, builtin) and isinstance(e, shmipc.Error)
    assert e.errno == code


def test_error_survives_pickling_with_its_fields() -> None:
    e = shmipc._lib.error_for(-errno.EPROTOTYPE, "shmipc_x", "payload size: service has 64, caller asked 32")
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), back.errno, back.function, back.detail) == (type(e), e.errno, e.function, e.detail)


def test_incompatible_service_error_names_the_differing_setting(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=64):
        with pytest.raises(shmipc.Error) as ei:
            shmipc.Subscriber.open(name, payload_size=32)
    assert ei.value.errname == "EPROTOTYPE"
    assert "64" in ei.value.detail and "32" in ei.value.detail


def test_existing_name_raises_already_exists(name: str) -> None:
    with shmipc.Segment.create("/" + name, 4096):
        with pytest.raises(FileExistsError):
            shmipc.Segment.create("/" + name, 4096)


def test_strerror_and_errname_describe_any_code() -> None:
    assert shmipc.errname(-errno.EPIPE) == "EPIPE"
    assert shmipc.errname(0) == "OK"
    assert shmipc.strerror(errno.EPIPE)
