# SPDX-License-Identifier: MIT
"""Shared fixtures of the Python binding's tests.

The tests run against a build tree: SHMIPC_BUILD_DIR (set by CTest) or ../../../build, whose
src/libshmipc.so is loaded through SHMIPC_LIBRARY (set here before shmipc is imported) and whose
CLI (tools/shmipc/shmipc) and helper program (bindings/python/py_peer) are the C peers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("SHMIPC_SOURCE_DIR", HERE.parents[2]))
BUILD_DIR = Path(os.environ.get("SHMIPC_BUILD_DIR", SOURCE_DIR / "build")).resolve()
LIBRARY = BUILD_DIR / "src" / "libshmipc.so"
PACKAGE_DIR = HERE.parent

os.environ.setdefault("SHMIPC_LIBRARY", str(LIBRARY))
if str(PACKAGE_DIR) not in sys.path:
    sys.path.insert(0, str(PACKAGE_DIR))

CLI = BUILD_DIR / "tools" / "shmipc" / "shmipc"
PEER = BUILD_DIR / "bindings" / "python" / "py_peer"


def child_env() -> dict:
    """The environment for a Python child process that imports shmipc from this tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["SHMIPC_LIBRARY"] = os.environ["SHMIPC_LIBRARY"]
    return env


@pytest.fixture
def name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A name no other test (or run) uses; services and segments of that name are removed afterwards."""
    n = f"pyt-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield n
    import shmipc
    for unlink in (shmipc.Segment.unlink, shmipc.pubsub.unlink, shmipc.reqresp.unlink, shmipc.blackboard.unlink,
                   shmipc.event.unlink, shmipc.Event.unlink):
        try:
            unlink(n)
        except shmipc.Error:
            pass
        try:
            unlink("/" + n)
        except shmipc.Error:
            pass


@pytest.fixture
def cli() -> Path:
    if not CLI.exists():
        pytest.fail(f"the CLI is not built: {CLI}")
    return CLI


@pytest.fixture
def peer() -> Path:
    if not PEER.exists():
        pytest.fail(f"the C test peer is not built: {PEER}")
    return PEER


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait until cond() holds (a state another process reaches), polling; fail after timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


class Proc:
    """A child process whose stdout lines are the handshake: expect("ready") blocks until it prints it."""

    def __init__(self, args: List[str], **kw) -> None:
        self.args = args
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  **kw)

    def expect(self, word: str, timeout: float = 30.0) -> str:
        import selectors
        sel = selectors.DefaultSelector()
        assert self.p.stdout is not None
        sel.register(self.p.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.kill()
                pytest.fail(f"{self.args[0]}: no {word!r} within {timeout}s; stderr: {self.stderr()}")
            line = self.p.stdout.readline().decode(errors="replace").rstrip("\n")
            if line == "" and self.p.poll() is not None:
                pytest.fail(f"{self.args}: exited {self.p.returncode} before {word!r}; stderr: {self.stderr()}")
            if line.startswith(word):
                return line

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def wait(self, timeout: float = 60.0) -> int:
        return self.p.wait(timeout)

    def output(self, timeout: float = 60.0) -> tuple[int, str, str]:
        out, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def stderr(self) -> str:
        try:
            if self.p.poll() is not None and self.p.stderr is not None:
                return self.p.stderr.read().decode(errors="replace")[-2000:]
        except Exception:
            pass
        return "(still running)"

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def procs() -> Iterator[Callable[..., Proc]]:
    """Start child processes that are killed at the end of the test."""
    started: List[Proc] = []

    def start(args: List[str], **kw) -> Proc:
        pr = Proc([str(a) for a in args], **kw)
        started.append(pr)
        return pr

    yield start
    for pr in started:
        pr.kill()
        for f in (pr.p.stdin, pr.p.stdout, pr.p.stderr):
            if f:
                f.close()


def python_child(code: str) -> List[str]:
    """Arguments that run code in a fresh Python interpreter importing shmipc from this tree."""
    return [sys.executable, "-c", code]
