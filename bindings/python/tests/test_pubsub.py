# SPDX-License-Identifier: MIT
"""Publish/subscribe from Python, with C peers in both directions (the CLI's pub and sub, py_peer's
loaning publisher and zero-copy subscriber), and the zero-copy rules of loans and samples."""
from __future__ import annotations

import errno

import pytest

import shmipc
from conftest import wait_for


def _alive(name: str) -> int:
    try:
        return shmipc.describe(shmipc.Pattern.PUBSUB, name).alive
    except shmipc.NotFound:
        return 0


def test_python_publisher_reaches_the_c_subscriber_of_the_cli(name: str, cli, procs) -> None:
    with shmipc.Publisher.create(name, payload_size=64, dynamic=True) as pub:
        sub = procs([cli, "sub", name, "--count", "3", "--timeout", "30000"])
        wait_for(lambda: _alive(name) == 2, "the CLI subscriber to connect")
        with pub.loan(5) as loan:
            loan.view[:] = b"hello"
            assert loan.publish() == 1
        assert pub.publish(b"copied") == 1
        assert pub.publish(memoryview(b"third!")) == 1
        rc, out, err = sub.output()
    assert rc == 0, err
    assert out.splitlines() == ["hello", "copied", "third!"]


def test_options_left_out_accept_the_service_and_given_ones_must_match(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=100, dynamic=True, depth=16) as pub:
        assert (pub.payload_size, pub.dynamic) == (100, True)
        with shmipc.Publisher.open(name, depth=16) as other:  # dynamic not given: the service's
            assert (other.payload_size, other.dynamic) == (100, True)
        with shmipc.Subscriber.open(name, depth=16, dynamic=True) as sub:
            assert (sub.payload_size, sub.dynamic) == (100, True)
        with pytest.raises(shmipc.Error) as e:
            shmipc.Subscriber.open(name, dynamic=False)
        assert e.value.errno == errno.EPROTOTYPE and "service is dynamic" in str(e.value)


def test_c_publisher_of_the_cli_reaches_the_python_subscriber(name: str, cli, procs) -> None:
    pub = procs([cli, "pub", name, "--size", "64"])
    wait_for(lambda: _alive(name) == 1, "the CLI publisher to create the service")
    with shmipc.Subscriber.open(name) as sub:
        pub.send("alpha")
        pub.send("beta")
        got = []
        for _ in range(2):
            with sub.receive(timeout=30) as s:
                got.append(s.tobytes())
                assert s.view.readonly
        assert got == [b"alpha", b"beta"]
        assert sub.missed == 0


def test_c_loaning_publisher_delivers_typed_samples_read_as_numpy(name: str, peer, procs) -> None:
    np = pytest.importorskip("numpy")
    pub = procs([peer, "ps-pub", name, "20", "1"])
    pub.expect("ready")
    with shmipc.Subscriber.open(name, type_name="py_peer_u32x16", type_size=64, type_align=4) as sub:
        for i in range(20):
            with sub.receive(timeout=30) as s:
                a = s.numpy(np.uint32)
                assert a.shape == (16,) and not a.flags.writeable
                assert a.tolist() == list(range(i * 16, i * 16 + 16))
                assert s.sequence == i + 1
                del a
    assert pub.wait() == 0


def test_python_loans_written_as_numpy_reach_the_c_zero_copy_subscriber(name: str, peer, procs) -> None:
    np = pytest.importorskip("numpy")
    with shmipc.Publisher.create(name, payload_size=256, policy=shmipc.Policy.WAIT) as pub:
        sub = procs([peer, "ps-sub", name, "5"])
        sub.expect("ready")
        for i in range(5):
            loan = pub.loan()
            arr = loan.numpy(np.uint8)
            arr[:] = np.arange(256, dtype=np.uint16).astype(np.uint8) ^ i
            del arr
            assert loan.publish() == 1
        rc, out, err = sub.output()
    assert rc == 0, err
    assert out.splitlines() == [f"{i + 1} {0 ^ i} {255 ^ i} 256" for i in range(5)]


def test_released_sample_view_raises_value_error(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=16) as pub, shmipc.Subscriber.open(name) as sub:
        pub.publish(b"x" * 16)
        s = sub.receive(1)
        view = s.view
        assert view[0] == ord("x")
        s.release()
        with pytest.raises(ValueError):
            view[0]
        with pytest.raises(ValueError):
            s.view


def test_sample_view_is_read_only(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=16) as pub, shmipc.Subscriber.open(name) as sub:
        pub.publish(b"y" * 16)
        with sub.receive(1) as s:
            with pytest.raises(TypeError):
                s.view[0] = 1


def test_sample_still_sliced_is_given_back_only_after_the_slice_dies(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=16, max_held=1) as pub, shmipc.Subscriber.open(name) as sub:
        pub.publish(b"a" * 16)
        pub.publish(b"b" * 16)
        s = sub.receive(1)
        part = s.view[2:6]
        s.release()
        with pytest.raises(ValueError):
            s.view
        assert bytes(part) == b"aaaa"  # the chunk is still held for the slice
        with pytest.raises(shmipc.Error) as ei:
            sub.receive(0)  # max_held = 1: the sliced chunk still counts
        assert ei.value.errname == "ENOBUFS"
        with pytest.raises(BufferError):
            sub.close()
        del part
        assert sub.receive_bytes(1) == b"b" * 16


def test_numpy_array_of_a_loan_blocks_publishing_until_deleted(name: str) -> None:
    np = pytest.importorskip("numpy")
    with shmipc.Publisher.create(name, payload_size=8) as pub, shmipc.Subscriber.open(name) as sub:
        loan = pub.loan()
        arr = loan.numpy(np.uint8)
        arr[:] = 7
        with pytest.raises(BufferError):
            loan.publish()
        assert not loan.done
        loan.view[0] = 9  # the loan is intact, with a fresh view
        del arr
        assert loan.publish() == 1
        with pytest.raises(ValueError):
            loan.view
        assert sub.receive_bytes(1) == bytes([9] + [7] * 7)


def test_loan_left_unpublished_is_discarded(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=8, max_loans=1) as pub, shmipc.Subscriber.open(name) as sub:
        for _ in range(3):  # max_loans = 1: each with block must give its chunk back
            with pub.loan() as loan:
                loan.view[0] = 1
        with pytest.raises(shmipc.WouldBlock):
            sub.receive(0)


def test_fixed_size_sample_shorter_than_the_payload_is_zero_padded(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=8) as pub, shmipc.Subscriber.open(name) as sub:
        pub.publish(b"ab")
        assert sub.receive_bytes(1) == b"ab" + bytes(6)


def test_subscriber_iterates_samples_with_sequence_and_publisher(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=4, history=4, depth=4) as pub:
        pid = pub.id
        for i in range(3):
            pub.publish(bytes([i]) * 4)
        with shmipc.Subscriber.open(name) as sub:
            it = iter(sub)
            seen = []
            for _ in range(3):
                with next(it) as s:
                    seen.append((s.sequence, s.publisher, s.tobytes()))
    assert seen == [(i + 1, pid, bytes([i]) * 4) for i in range(3)]


def test_unlink_removes_the_service(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=8):
        pass
    shmipc.pubsub.unlink(name)
    with pytest.raises(shmipc.NotFound):
        shmipc.Subscriber.open(name)
