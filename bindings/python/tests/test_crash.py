# SPDX-License-Identifier: MIT
"""A Python peer killed with SIGKILL is handled like any other dead process: its peers see -EPIPE,
what it held is reclaimed, its endpoint or slot is taken over, whether the survivor is Python or C."""
from __future__ import annotations

import signal

import pytest

import shmipc
from conftest import child_env, python_child, wait_for


def _child(procs, code: str):
    p = procs(python_child("import shmipc, sys, time\n" + code), env=child_env())
    p.expect("ready")
    return p


def _kill(p) -> None:
    p.p.send_signal(signal.SIGKILL)
    assert p.p.wait(30) == -signal.SIGKILL


def test_killed_python_producer_leaves_its_messages_then_epipe(name: str, procs) -> None:
    with shmipc.Channel.create("/" + name, role=shmipc.Role.CONSUMER) as rx:
        p = _child(procs, f"""
ch = shmipc.Channel.open('/{name}', shmipc.Role.PRODUCER)
for m in (b'a', b'b', b'c'):
    ch.send(m)
r = ch.reserve(8)          # killed holding a reservation
r.view[:] = b'unsent!!'
print('ready', flush=True)
sys.stdin.read()
""")
        _kill(p)
        assert [rx.recv(10) for _ in range(3)] == [b"a", b"b", b"c"]
        with pytest.raises(shmipc.PeerGone):
            rx.recv(10)


def test_c_consumer_takes_over_the_end_of_a_killed_python_consumer(name: str, cli, procs) -> None:
    with shmipc.Channel.create("/" + name) as tx:
        tx.send(b"kept")
        p = _child(procs, f"""
ch = shmipc.Channel.open('/{name}', shmipc.Role.CONSUMER)
m = ch.peek(10)            # killed before releasing it
print('ready', m.tobytes().decode(), flush=True)
sys.stdin.read()
""")
        with pytest.raises(shmipc.Error) as ei:
            shmipc.Channel.open("/" + name, shmipc.Role.CONSUMER)  # its owner is alive
        assert ei.value.errname == "EBUSY"
        _kill(p)
        rc, out, err = procs([cli, "channel", "recv", "/" + name, "--count", "1", "--timeout", "30000"]).output()
    assert (rc, out.strip()) == (0, "kept"), err  # delivered again to the successor


def test_killed_python_subscriber_slot_is_reclaimed_for_a_c_subscriber(name: str, peer, procs) -> None:
    with shmipc.Publisher.create(name, payload_size=64, max_subscribers=1, depth=2, max_held=2,
                                 policy=shmipc.Policy.DROP_OLDEST) as pub:
        p = _child(procs, f"""
sub = shmipc.Subscriber.open('{name}')
print('ready', flush=True)
held = [sub.receive(30), sub.receive(30)]   # killed holding both, more queued
print('held', flush=True)
sys.stdin.read()
""")
        for i in range(4):
            pub.publish(bytes([i]) * 64)
        p.expect("held")
        assert shmipc.describe(shmipc.Pattern.PUBSUB, name).options["in_use"] != "0"
        _kill(p)
        c = procs([peer, "ps-sub", name, "2"])  # the only subscriber slot: free only once reclaimed
        c.expect("ready")
        wait_for(lambda: shmipc.describe(shmipc.Pattern.PUBSUB, name).dead == 0, "the dead subscriber's reclaim")
        pub.publish(bytes([7]) * 64)
        pub.publish(bytes([8]) * 64)
        rc, out, err = c.output()
    assert rc == 0, err
    assert [line.split()[1:] for line in out.splitlines()] == [["7", "7", "64"], ["8", "8", "64"]]


def test_samples_of_a_killed_python_publisher_stay_readable(name: str, procs) -> None:
    p = _child(procs, f"""
pub = shmipc.Publisher.create('{name}', payload_size=16, history=2, depth=2)
pub.publish(b'x' * 16)
pub.publish(b'y' * 16)
loan = pub.loan()          # killed holding a loan
print('ready', flush=True)
sys.stdin.read()
""")
    _kill(p)
    with shmipc.Subscriber.open(name) as sub:  # history: the dead publisher's last two
        assert [sub.receive_bytes(10) for _ in range(2)] == [b"x" * 16, b"y" * 16]
    report = shmipc.gc(shmipc.Pattern.PUBSUB, name)
    assert report.participants_reclaimed >= 1


def test_c_client_sees_epipe_when_the_python_server_is_killed(name: str, peer, procs) -> None:
    srv = _child(procs, f"""
srv = shmipc.Server.create('{name}')
print('ready', flush=True)
req = srv.receive(30)      # killed before responding
print('got', req.data.decode(), flush=True)
sys.stdin.read()
""")
    cli = procs([peer, "rr-client", name, "question"])
    srv.expect("got question")
    _kill(srv)
    rc, out, err = cli.output()
    assert rc == 1 and "error EPIPE client_call" in out, (out, err)


def test_claim_of_a_killed_python_consumer_is_repaired_and_counted_lost(name: str, procs) -> None:
    with shmipc.Queue.create("/" + name, slot_size=32, slot_count=8) as q:
        for m in (b"first", b"second", b"third"):
            q.push(m)
        p = _child(procs, f"""
q = shmipc.Queue.open('/{name}')
c = q.pop_claim(10)        # killed holding the claim
print('ready', c.tobytes().decode(), flush=True)
sys.stdin.read()
""")
        _kill(p)
        assert [q.pop(30), q.pop(30)] == [b"second", b"third"]
        for i in range(8):  # a producer lapping the ring reaches the dead consumer's slot and repairs it
            q.push(b"%d" % i, timeout=30)
        assert q.stats().lost == 1
        assert [q.pop(30) for _ in range(8)] == [b"%d" % i for i in range(8)]
