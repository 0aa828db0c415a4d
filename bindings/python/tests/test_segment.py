# SPDX-License-Identifier: MIT
"""Segments: create, open and share named, file and memfd segments; the data area is a zero-copy
memoryview (and numpy array) that dies with the mapping."""
from __future__ import annotations

import os
import socket

import pytest

import shmipc
from conftest import python_child, child_env


def test_named_segment_data_is_shared_between_handles(name: str) -> None:
    with shmipc.Segment.create("/" + name, 4096, mode=0o600) as a, shmipc.Segment.open("/" + name) as b:
        assert a.size == b.size >= 4096
        a.data[:5] = b"hello"
        assert bytes(b.data[:5]) == b"hello"
        info = b.info()
        assert info.name == "/" + name and info.ready and info.data_size == a.size
        assert shmipc.segment_stat("/" + name).creator_pid == os.getpid()


def test_segment_data_is_readable_by_another_process(name: str, procs) -> None:
    with shmipc.Segment.create("/" + name, 4096) as seg:
        seg.data[:7] = b"from-py"
        code = (f"import shmipc\nwith shmipc.Segment.open('/{name}', flags=shmipc.segment.RDONLY) as s:\n"
                f"    print(bytes(s.data[:7]).decode(), s.data.readonly)\n")
        rc, out, err = procs(python_child(code), env=child_env()).output()
    assert (rc, out.split()) == (0, ["from-py", "True"]), err


def test_closed_segment_view_raises_value_error(name: str) -> None:
    seg = shmipc.Segment.create("/" + name, 4096)
    view = seg.data
    seg.close()
    with pytest.raises(ValueError):
        view[0]
    with pytest.raises(ValueError):
        seg.data


def test_segment_refuses_to_close_while_a_slice_of_its_data_is_alive(name: str) -> None:
    seg = shmipc.Segment.create("/" + name, 4096)
    part = seg.data[10:20]
    with pytest.raises(BufferError):
        seg.close()
    assert not seg.closed
    part[0] = 1  # the memory is still mapped
    del part
    seg.close()
    assert seg.closed


def test_grow_remaps_and_gives_a_new_view(name: str) -> None:
    with shmipc.Segment.create("/" + name, 4096) as seg:
        old = seg.data
        old[0] = 42
        seg.grow(1 << 20)
        with pytest.raises(ValueError):
            old[0]
        assert seg.size >= 1 << 20 and seg.data[0] == 42


def test_memfd_segment_is_passed_over_a_unix_socket() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b, shmipc.Segment.memfd_create(8192, "pytest") as seg:
        seg.data[:3] = b"abc"
        seg.send_fd(a)
        with shmipc.Segment.recv_fd(b) as got:
            assert bytes(got.data[:3]) == b"abc"
            got.data[3] = ord("d")
        assert bytes(seg.data[:4]) == b"abcd"


def test_numpy_array_over_the_data_area_is_the_same_memory(name: str) -> None:
    np = pytest.importorskip("numpy")
    with shmipc.Segment.create("/" + name, 4096) as seg:
        arr = seg.numpy(np.uint32, shape=(4, 4))
        arr[:] = np.arange(16, dtype=np.uint32).reshape(4, 4)
        assert bytes(seg.data[4:8]) == (1).to_bytes(4, "little")
        with pytest.raises(BufferError):
            seg.close()
        del arr


def test_open_or_create_says_which_happened(name: str) -> None:
    with shmipc.Segment.open_or_create("/" + name, 4096) as a, shmipc.Segment.open_or_create("/" + name, 4096) as b:
        assert (a.created, b.created) == (True, False)


def test_set_dir_moves_named_objects_to_a_private_directory(tmp_path) -> None:
    d = tmp_path / "shm"
    d.mkdir(mode=0o700)
    before = shmipc.get_dir()
    shmipc.set_dir(str(d))
    try:
        with shmipc.Segment.create("/pyt-dir", 4096):
            assert (d / "pyt-dir").exists()
        shmipc.Segment.unlink("/pyt-dir")
    finally:
        shmipc.set_dir(None if before == "/dev/shm" else before)
