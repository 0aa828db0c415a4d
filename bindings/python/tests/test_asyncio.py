# SPDX-License-Identifier: MIT
"""asyncio: awaiting a receive through the waitset's descriptor (loop.add_reader) never blocks the
event loop, wakes when a peer in another process (C or Python) sends, and reports errors and
timeouts like the blocking calls."""
from __future__ import annotations

import asyncio

import pytest

import shmipc
from conftest import wait_for


def test_awaited_receive_wakes_for_samples_of_a_c_publisher(name: str, cli, procs) -> None:
    pub = procs([cli, "pub", name, "--size", "64"])
    wait_for(lambda: _alive(name) == 1, "the CLI publisher")

    async def main() -> list:
        ticks = 0

        async def ticker() -> None:  # proves the loop keeps running while the receive waits
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        t = asyncio.create_task(ticker())
        with shmipc.Subscriber.open(name) as sub:
            got = []
            for word in ("one", "two", "three"):
                before = ticks
                pending = asyncio.ensure_future(sub.receive_async(timeout=30))
                while ticks < before + 3:  # the loop turns while the await is pending
                    await asyncio.sleep(0.001)
                assert not pending.done()
                pub.send(word)
                s = await pending
                got.append(s.tobytes())
                s.release()
        t.cancel()
        return got

    assert asyncio.run(main()) == [b"one", b"two", b"three"]


def _alive(name: str) -> int:
    try:
        return shmipc.describe(shmipc.Pattern.PUBSUB, name).alive
    except shmipc.NotFound:
        return 0


def test_awaited_channel_receive_reports_the_producer_gone(name: str, cli, procs) -> None:
    async def main() -> list:
        with shmipc.Channel.create("/" + name, role=shmipc.Role.CONSUMER) as ch:
            sender = procs([cli, "channel", "send", "/" + name, "--count", "2", "hi"])
            got = [await ch.recv_async(timeout=30), await ch.recv_async(timeout=30)]
            assert sender.wait() == 0
            with pytest.raises(shmipc.PeerGone):
                await ch.recv_async(timeout=30)
            return got

    assert asyncio.run(main()) == [b"hi", b"hi"]


def test_awaited_receive_times_out(name: str) -> None:
    async def main() -> None:
        with shmipc.Publisher.create(name, payload_size=8), shmipc.Subscriber.open(name) as sub:
            with pytest.raises(shmipc.TimedOut):
                await sub.receive_async(timeout=0.05)

    asyncio.run(main())


def test_many_awaited_queue_pops_from_python_producers_in_threads(name: str) -> None:
    async def main() -> list:
        with shmipc.Queue.create("/" + name, slot_size=16) as q:
            loop = asyncio.get_running_loop()
            producer = shmipc.Queue.open("/" + name)

            def produce() -> None:
                for i in range(200):
                    producer.push(b"%d" % i, timeout=30)

            fut = loop.run_in_executor(None, produce)
            got = [await q.pop_async(timeout=30) for _ in range(200)]
            await fut
            producer.close()
            return got

    assert asyncio.run(main()) == [b"%d" % i for i in range(200)]


def test_awaited_waitset_reports_the_ready_listener(name: str) -> None:
    async def main() -> tuple:
        with shmipc.Listener.open(name) as lst, shmipc.Notifier.create(name) as n, shmipc.WaitSet() as ws:
            ws.add(lst, user="events")
            asyncio.get_running_loop().call_later(0.01, n.notify, 3)
            ready = await ws.wait_async(timeout=30)
            return ready[0].user, lst.wait(0)

    assert asyncio.run(main()) == ("events", (3, 1))


def test_two_tasks_awaiting_one_handle_is_refused(name: str) -> None:
    async def main() -> None:
        with shmipc.Publisher.create(name, payload_size=8) as pub, shmipc.Subscriber.open(name) as sub:
            first = asyncio.ensure_future(sub.receive_async(timeout=30))
            await asyncio.sleep(0)
            with pytest.raises(RuntimeError):
                await sub.receive_async(timeout=30)
            pub.publish(b"12345678")
            (await first).release()

    asyncio.run(main())
