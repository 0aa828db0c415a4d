#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bindings/python/bench/pubsub_vs_multiprocessing.py - Python pub/sub over shmipc against Python's
multiprocessing.Queue and multiprocessing.Pipe, in one run, with one method (as `shmipc bench`):

- two processes (multiprocessing "spawn"), pinned to two different CPUs when there are two;
- payloads are touched: the sender writes the message's sequence number into its first 8 bytes (the
  rest is a prepared buffer of the size, copied into the message), the receiver reads that number and
  checks it. shmipc copies the payload into a loaned chunk (one memmove) and the receiver reads it in
  place from its read-only view; multiprocessing pickles the bytes and the receiver gets a copy;
- latency: ping-pong of same-size messages, one-way = round trip / 2, median and 99th percentile
  over --rounds round trips after a warm-up of a tenth;
- throughput: --count messages streamed one way; the time from the first send to the receiver's last
  receive (reported back through a pipe), as messages/s and MB/s. shmipc uses policy WAIT (the
  publisher waits for room), so nothing is dropped: every mechanism delivers every message.

Usage: SHMIPC_LIBRARY=build/src/libshmipc.so PYTHONPATH=bindings/python \\
       python3 bindings/python/bench/pubsub_vs_multiprocessing.py [--sizes 64,4096,65536] [--markdown]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import struct
import sys
import time

SEQ = struct.Struct("<Q")


def cpus() -> list:
    """The CPUs this run may use, as the driver found them before pinning itself (children inherit the
    driver's pinned mask, so it passes the full set down in the environment)."""
    env = os.environ.get("SHMIPC_PYBENCH_CPUS")
    if env is None:
        os.environ["SHMIPC_PYBENCH_CPUS"] = env = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    return [int(c) for c in env.split(",")]


def pin(cpu_index: int) -> None:
    """Driver on the first CPU, the other process on the second, so messages cross between cores."""
    c = cpus()
    if len(c) >= 2:
        os.sched_setaffinity(0, {c[cpu_index % len(c)]})


def payload(size: int) -> bytearray:
    return bytearray(os.urandom(size))


# ---- shmipc -------------------------------------------------------------------------------------------

def _shm_opts(size: int) -> dict:
    import shmipc
    # One publisher, one subscriber, 8 queued: a pool of a few dozen chunks, all touched during the warm-up
    # (a pool sized for many peers is mostly untouched memory, whose first writes page-fault).
    return dict(payload_size=size, max_publishers=1, max_subscribers=1, depth=8, policy=shmipc.Policy.WAIT,
                max_loans=4, max_held=4)


def shm_echo(name: str, size: int, rounds: int, ready) -> None:
    import shmipc
    pin(1)
    with shmipc.Subscriber.open(name + "-ping") as sub, shmipc.Publisher.create(name + "-pong", **_shm_opts(size)) as pub:
        ready.send("ready")
        for _ in range(rounds):
            with sub.receive() as s:
                loan = pub.loan()
                loan.view[:] = s.view
                loan.publish()


def shm_latency(size: int, rounds: int) -> list:
    import shmipc
    name = f"pybench-{os.getpid()}-{size}"
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe()
    with shmipc.Publisher.create(name + "-ping", **_shm_opts(size)) as pub:
        child = ctx.Process(target=shm_echo, args=(name, size, rounds, b))
        child.start()
        assert a.recv() == "ready"
        data = payload(size)
        out = []
        with shmipc.Subscriber.open(name + "-pong") as sub:
            for i in range(rounds):
                t0 = time.perf_counter_ns()
                loan = pub.loan()
                v = loan.view
                v[:] = data
                SEQ.pack_into(v, 0, i)
                del v
                loan.publish()
                with sub.receive() as s:
                    assert SEQ.unpack_from(s.view, 0)[0] == i
                out.append((time.perf_counter_ns() - t0) / 2)
        child.join()
    shmipc.pubsub.unlink(name + "-ping")
    shmipc.pubsub.unlink(name + "-pong")
    return out


def shm_sink(name: str, count: int, ready) -> None:
    import shmipc
    pin(1)
    with shmipc.Subscriber.open(name) as sub:
        ready.send("ready")
        for i in range(count):
            with sub.receive() as s:
                assert SEQ.unpack_from(s.view, 0)[0] == i
        ready.send(time.perf_counter_ns())


def shm_throughput(size: int, count: int) -> float:
    import shmipc
    name = f"pybench-{os.getpid()}-tp{size}"
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe()
    with shmipc.Publisher.create(name, **_shm_opts(size)) as pub:
        child = ctx.Process(target=shm_sink, args=(name, count, b))
        child.start()
        assert a.recv() == "ready"
        data = payload(size)
        t0 = time.perf_counter_ns()
        for i in range(count):
            loan = pub.loan()
            v = loan.view
            v[:] = data
            SEQ.pack_into(v, 0, i)
            del v
            loan.publish()
        t1 = a.recv()
        child.join()
    shmipc.pubsub.unlink(name)
    return (t1 - t0) / 1e9


# ---- multiprocessing ----------------------------------------------------------------------------------

def mp_echo(kind: str, rx, tx, rounds: int, ready) -> None:
    pin(1)
    ready.send("ready")
    get = rx.get if kind == "queue" else rx.recv
    put = tx.put if kind == "queue" else tx.send
    for _ in range(rounds):
        put(get())


def _mp_channels(ctx, kind: str):
    if kind == "queue":
        return ctx.Queue(), ctx.Queue()
    p1, p2 = ctx.Pipe()
    return p1, p2


def mp_latency(kind: str, size: int, rounds: int) -> list:
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe()
    if kind == "queue":
        ping, pong = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=mp_echo, args=(kind, ping, pong, rounds, b))
        put, get = ping.put, pong.get
    else:
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=mp_echo, args=(kind, theirs, theirs, rounds, b))
        put, get = mine.send, mine.recv
    child.start()
    assert a.recv() == "ready"
    data = payload(size)
    out = []
    for i in range(rounds):
        t0 = time.perf_counter_ns()
        SEQ.pack_into(data, 0, i)
        put(bytes(data))
        got = get()
        assert SEQ.unpack_from(got, 0)[0] == i
        out.append((time.perf_counter_ns() - t0) / 2)
    child.join()
    return out


def mp_sink(kind: str, rx, count: int, ready) -> None:
    pin(1)
    ready.send("ready")
    get = rx.get if kind == "queue" else rx.recv
    for i in range(count):
        assert SEQ.unpack_from(get(), 0)[0] == i
    ready.send(time.perf_counter_ns())


def mp_throughput(kind: str, size: int, count: int) -> float:
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe()
    if kind == "queue":
        q = ctx.Queue(maxsize=64)
        child = ctx.Process(target=mp_sink, args=(kind, q, count, b))
        put = q.put
    else:
        mine, theirs = ctx.Pipe(duplex=False)
        child = ctx.Process(target=mp_sink, args=(kind, mine, count, b))
        put = theirs.send
    child.start()
    assert a.recv() == "ready"
    data = payload(size)
    t0 = time.perf_counter_ns()
    for i in range(count):
        SEQ.pack_into(data, 0, i)
        put(bytes(data))
    t1 = a.recv()
    child.join()
    return (t1 - t0) / 1e9


# ---- driver -------------------------------------------------------------------------------------------

def parse_size(s: str) -> int:
    s = s.strip().upper()
    mult = {"K": 1024, "M": 1024 * 1024}.get(s[-1:], 1)
    return int(s[:-1] if mult > 1 else s) * mult


def fmt_size(n: int) -> str:
    return f"{n // 1048576} MiB" if n >= 1048576 and n % 1048576 == 0 else (
        f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="64,4K,64K,1M")
    ap.add_argument("--rounds", type=int, default=5000, help="ping-pong round trips per latency cell")
    ap.add_argument("--bytes", type=int, default=256 << 20, help="bytes streamed per throughput cell (at most "
                    "100000 messages, at least 200)")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args()
    pin(0)
    import shmipc
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    mechs = [("shmipc pub/sub", lambda s, n: shm_latency(s, n), lambda s, n: shm_throughput(s, n)),
             ("multiprocessing.Pipe", lambda s, n: mp_latency("pipe", s, n), lambda s, n: mp_throughput("pipe", s, n)),
             ("multiprocessing.Queue", lambda s, n: mp_latency("queue", s, n),
              lambda s, n: mp_throughput("queue", s, n))]
    print(f"# Python {sys.version.split()[0]}, shmipc {shmipc.version()}, numpy {shmipc.have_numpy()}, "
          f"CPUs {len(cpus())} (one process on each of two), {time.strftime('%Y-%m-%d')}")
    lat_rows, tp_rows = [], []
    for size in sizes:
        warm = max(1, args.rounds // 10)
        count = max(200, min(100000, args.bytes // size))
        for label, lat, tp in mechs:
            xs = lat(size, args.rounds + warm)[warm:]
            xs.sort()
            p50, p99 = statistics.median(xs) / 1000, xs[int(len(xs) * 0.99) - 1] / 1000
            secs = tp(size, count)
            lat_rows.append((fmt_size(size), label, p50, p99))
            tp_rows.append((fmt_size(size), label, count / secs, count * size / secs / 1e6, count))
            print(f"{fmt_size(size):>7} {label:<22} latency p50 {p50:8.1f} us  p99 {p99:8.1f} us   "
                  f"throughput {count / secs:10.0f} msg/s {count * size / secs / 1e6:9.1f} MB/s", flush=True)
    if args.markdown:
        print("\n| size | mechanism | one-way p50 (us) | one-way p99 (us) | vs shmipc p50 |")
        print("|---|---|---:|---:|---:|")
        base = {r[0]: r[2] for r in lat_rows if r[1] == "shmipc pub/sub"}
        for size, label, p50, p99 in lat_rows:
            print(f"| {size} | {label} | {p50:.1f} | {p99:.1f} | {p50 / base[size]:.2f}x |")
        print("\n| size | mechanism | messages/s | MB/s | messages | vs shmipc |")
        print("|---|---|---:|---:|---:|---:|")
        tbase = {r[0]: r[2] for r in tp_rows if r[1] == "shmipc pub/sub"}
        for size, label, mps, mbs, n in tp_rows:
            print(f"| {size} | {label} | {mps:,.0f} | {mbs:,.1f} | {n} | {mps / tbase[size]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
