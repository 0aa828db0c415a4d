# SPDX-License-Identifier: MIT
"""Channels and queues from Python, with the CLI as the C peer in both directions; in-place
reservations, peeks and claims as zero-copy memoryviews."""
from __future__ import annotations

import pytest

import shmipc


def test_python_producer_reaches_the_c_consumer_of_the_cli(name: str, cli, procs) -> None:
    with shmipc.Channel.create("/" + name) as ch:
        ch.send(b"one")
        with ch.reserve(16) as r:
            r.view[:3] = b"two"
            r.commit(3)
        assert ch.send_batch([b"three", bytearray(b"four")]) == 2
    rc, out, err = procs([cli, "channel", "recv", "/" + name, "--eof", "--timeout", "30000"]).output()
    assert rc == 0, err
    assert out.splitlines() == ["one", "two", "three", "four"]


def test_c_producer_of_the_cli_reaches_the_python_consumer(name: str, cli, procs) -> None:
    with shmipc.Channel.create("/" + name, role=shmipc.Role.CONSUMER) as ch:
        rc, out, err = procs([cli, "channel", "send", "/" + name, "--count", "3", "ping"]).output()
        assert rc == 0, err
        assert ch.recv(timeout=10) == b"ping"
        with ch.peek(timeout=10) as m:
            assert m.tobytes() == b"ping" and m.view.readonly
        buf = bytearray(16)
        assert ch.recv_into(buf, timeout=10) == 4 and buf[:4] == b"ping"
        with pytest.raises(shmipc.PeerGone):  # the CLI closed its end: drained, then EPIPE
            ch.recv(timeout=10)


def test_peeked_message_view_dies_at_release_and_refuses_a_live_slice(name: str) -> None:
    with shmipc.Channel.create("/" + name) as tx, shmipc.Channel.open("/" + name, shmipc.Role.CONSUMER) as rx:
        tx.send(b"abcdef")
        tx.send(b"second")
        m = rx.peek(1)
        view, part = m.view, m.view[1:3]
        with pytest.raises(BufferError):
            m.release()
        assert bytes(m.view) == b"abcdef"  # still pending, with a fresh view
        with pytest.raises(ValueError):
            view[0]
        with pytest.raises(shmipc.Error):  # a receive while a peek is pending is refused
            rx.recv(0)
        del part
        m.release()
        assert rx.recv(1) == b"second"


def test_reservation_left_uncommitted_is_cancelled(name: str) -> None:
    with shmipc.Channel.create("/" + name) as tx, shmipc.Channel.open("/" + name, shmipc.Role.CONSUMER) as rx:
        with tx.reserve(8) as r:
            r.view[:] = b"x" * 8
        tx.send(b"after")
        assert rx.recv(1) == b"after"
        assert tx.stats().msgs_sent == 1


def test_python_queue_producer_reaches_the_c_consumer_of_the_cli(name: str, cli, procs) -> None:
    with shmipc.Queue.create("/" + name, slot_size=64, slot_count=16) as q:
        q.push(b"first")
        with q.push_claim() as c:
            assert len(c.view) == 64
            c.view[:6] = b"second"
            c.commit(6)
        rc, out, err = procs([cli, "queue", "recv", "/" + name, "--count", "2", "--timeout", "30000"]).output()
    assert rc == 0, err
    assert out.splitlines() == ["first", "second"]


def test_c_queue_producer_of_the_cli_reaches_the_python_consumer(name: str, cli, procs) -> None:
    with shmipc.Queue.create("/" + name, slot_size=64) as q:
        rc, out, err = procs([cli, "queue", "send", "/" + name, "--count", "2", "job"]).output()
        assert rc == 0, err
        assert q.pop(timeout=10) == b"job"
        with q.pop_claim(timeout=10) as c:
            assert c.tobytes() == b"job" and c.view.readonly
        with pytest.raises(shmipc.WouldBlock):
            q.pop(0)
        st = q.stats()
        assert (st.pushes, st.pops, st.lost) == (2, 2, 0)


def test_queue_in_a_memfd_segment(name: str) -> None:
    size = shmipc.Queue.memory_size(slot_count=8, slot_size=32)
    with shmipc.Segment.memfd_create(size) as seg:
        shmipc.Queue.create_in(seg, slot_count=8, slot_size=32)
        with shmipc.Queue.open_in(seg) as a, shmipc.Queue.open_in(seg) as b:
            a.push(b"in-place")
            assert b.pop(1) == b"in-place"
            with pytest.raises(shmipc.Error) as ei:
                seg.close()  # the queues still use it
            assert ei.value.errname == "EBUSY"


def test_channel_in_a_memfd_segment_with_numpy_reservation(name: str) -> None:
    np = pytest.importorskip("numpy")
    with shmipc.Segment.memfd_create(shmipc.Channel.memory_size(4096)) as seg:
        with shmipc.Channel.create_in(seg) as tx, shmipc.Channel.open_in(seg, shmipc.Role.CONSUMER) as rx:
            r = tx.reserve(64)
            r.numpy(np.float64)[:] = np.linspace(0, 1, 8)
            r.commit()
            with rx.peek(1) as m:
                got = m.numpy(np.float64)
                assert got.tolist() == np.linspace(0, 1, 8).tolist()
                del got
