# SPDX-License-Identifier: MIT
"""Request/response, blackboard, events and the event service from Python, with C peers (py_peer)
in both directions."""
from __future__ import annotations

import threading

import pytest

import shmipc
from conftest import wait_for


def test_c_client_calls_the_python_server(name: str, peer, procs) -> None:
    with shmipc.Server.create(name, max_request=256) as srv:
        cli = procs([peer, "rr-client", name, "hello", "python"])
        for _ in range(2):
            req = srv.receive(timeout=30)
            srv.respond(req, req.data.upper())
        rc, out, err = cli.output()
    assert rc == 0, err
    assert out.splitlines() == ["ready", "HELLO", "PYTHON"]


def test_python_client_calls_the_c_server(name: str, peer, procs) -> None:
    srv = procs([peer, "rr-server", name])
    srv.expect("ready")
    with shmipc.Client.open(name) as cli:
        assert cli.call(b"abc", timeout=30) == b"cba"
        rid = cli.send(b"stream")
        resp = cli.receive(timeout=30)
        assert (resp.id, resp.data, resp.more) == (rid, b"maerts", False)
        assert cli.call(b"quit", timeout=30) == b"bye"
    assert srv.wait() == 0


def test_server_streams_responses_marked_more(name: str) -> None:
    with shmipc.Server.create(name) as srv, shmipc.Client.open(name) as cli:
        rid = cli.send(b"count")
        req = srv.receive(1)
        for i in range(3):
            srv.respond(req, bytes([i]), more=i < 2)
        got = [cli.receive(1) for _ in range(3)]
    assert [(r.id, r.data, r.more) for r in got] == [(rid, b"\x00", True), (rid, b"\x01", True), (rid, b"\x02", False)]


def test_c_blackboard_writer_is_read_by_python(name: str, peer, procs) -> None:
    w = procs([peer, "bb-writer", name, "16"])
    w.expect("ready")
    with shmipc.BlackboardReader.open(name) as r:
        assert r.value_size == 16
        with pytest.raises(shmipc.Error) as ei:
            r.read()
        assert ei.value.errname == "ENODATA"
        w.send("first")
        w.expect("ok")
        value, version = r.read()
        assert (value.rstrip(b"\0"), version) == (b"first", 1)
        w.send("second")
        r.wait(seen=1, timeout=30)
        assert r.read() == (b"second".ljust(16, b"\0"), 2)


def test_python_blackboard_writer_is_read_by_c(name: str, peer, procs) -> None:
    with shmipc.BlackboardWriter.create(name, value_size=8) as w:
        rd = procs([peer, "bb-reader", name])
        rd.expect("ready")
        w.write(b"latest\0\0")
        rc, out, err = rd.output()
    assert rc == 0, err
    assert out.strip() == "1 latest"


def test_c_notifier_wakes_the_python_listener(name: str, peer, procs) -> None:
    with shmipc.Listener.open(name) as lst:
        rc, out, err = procs([peer, "ev-notify", name, "5", "3"]).output()
        assert rc == 0, err
        assert lst.wait(timeout=30) == (5, 3)  # coalesced: one wake, count 3


def test_python_notifier_wakes_the_c_listener(name: str, peer, procs) -> None:
    with shmipc.Notifier.create(name) as n:
        lst = procs([peer, "ev-listen", name, "2"])
        lst.expect("ready")
        n.notify(7)
        lst.expect("event 7")
        n.notify(9)
        rc, out, err = lst.output()
    assert rc == 0, err
    assert out.strip() == "event 9 1"


def test_wait_any_reports_which_listener_fired(name: str) -> None:
    with shmipc.Listener.open(name + "a") as a, shmipc.Listener.open(name + "b") as b, \
            shmipc.Notifier.create(name + "b") as n:
        n.notify(2)
        who, eid, count = shmipc.Listener.wait_any([a, b], timeout=10)
        assert (who, eid, count) == (b, 2, 1)
    for s in ("a", "b"):
        shmipc.event.unlink(name + s)


def test_named_event_wakes_a_waiting_thread_with_the_post_count(name: str) -> None:
    with shmipc.Event.create("/" + name) as ev:
        got = []
        waiter = shmipc.Event.open("/" + name)
        t = threading.Thread(target=lambda: got.append(waiter.wait(timeout=30)))
        t.start()
        ev.post()
        t.join(30)
        assert got == [1]
        ev.post()
        ev.post()
        assert waiter.wait(0) == 2 and ev.count == 3
        waiter.close()


def test_event_in_segment_memory_keeps_the_segment_open(name: str) -> None:
    with shmipc.Segment.create("/" + name, 4096) as seg:
        shmipc.Event.create_in(seg.data[:64])
        ev = shmipc.Event.open_in(seg.data[:64])
        ev.post()
        assert ev.count == 1
        with pytest.raises(BufferError):
            seg.close()
        ev.close()


def test_service_is_described_with_its_participants(name: str) -> None:
    with shmipc.Publisher.create(name, payload_size=32, depth=4):
        with shmipc.Subscriber.open(name):
            info = shmipc.describe(shmipc.Pattern.PUBSUB, name)
            assert info.name == name and info.alive == 2 and info.dead == 0
            assert info.options["payload"] == "32" and info.options["depth"] == "4"
            assert sorted(p.role for p in info.listed) == ["publisher", "subscriber"]


def test_service_list_includes_a_live_service(name: str) -> None:
    with shmipc.Server.create(name):
        found = [s for s in shmipc.list_services() if s.name == name]
    assert [(s.pattern, s.alive) for s in found] == [(shmipc.Pattern.REQRESP, 1)]


def test_waitset_reports_the_ready_handle_with_its_user_value(name: str) -> None:
    with shmipc.Queue.create("/" + name + "q") as q, shmipc.Event.create("/" + name + "e") as ev, \
            shmipc.WaitSet() as ws:
        ws.add(q, user="queue")
        ws.add(ev, user="event")
        with pytest.raises(shmipc.WouldBlock):
            ws.wait(0)
        q.push(b"x")
        ready = ws.wait(timeout=10)
        assert [(r.handle, r.user, r.events & shmipc.waitset.IN) for r in ready] == [(q, "queue", 1)]
        q.close()  # leaves the waitset first
        assert len(ws) == 1
    for s in ("q", "e"):
        shmipc.Segment.unlink("/" + name + s)
