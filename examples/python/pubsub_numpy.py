#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/python/pubsub_numpy.py - zero-copy frames between two Python processes.

The publisher (this process) writes each frame, an 8x8 float32 matrix, straight into a chunk loaned
from the service's shared pool (as a numpy array over the chunk, or a memoryview without numpy) and
publishes it; the subscriber (a child process running this file with --subscriber) reads each frame
in place from a read-only view of the same chunk, checks it and releases it. Policy WAIT: the
publisher waits for room, so no frame is dropped. The service is removed at the end.

Usage: pubsub_numpy.py [FRAMES]       (the library: SHMIPC_LIBRARY=build/src/libshmipc.so, or installed)
"""
import os
import struct
import subprocess
import sys
import time

import shmipc

SERVICE = f"example-frames-{os.getpid()}"
SIDE = 8
FRAME = SIDE * SIDE * 4  # bytes of one frame


def fill(loan, i):
    if shmipc.have_numpy():
        import numpy as np
        a = loan.numpy(np.float32, shape=(SIDE, SIDE))
        a[:] = i
        a[0, 0] = -i
        del a  # no view may outlive the loan: publish refuses while one is alive
    else:
        loan.view[:] = struct.pack(f"{SIDE * SIDE}f", -i, *([float(i)] * (SIDE * SIDE - 1)))


def check(sample, i):
    if shmipc.have_numpy():
        import numpy as np
        a = sample.numpy(np.float32, shape=(SIDE, SIDE))
        ok = a[0, 0] == -i and bool((a.ravel()[1:] == i).all())
        del a
        return ok
    vals = struct.unpack(f"{SIDE * SIDE}f", sample.view)
    return vals[0] == -i and all(v == i for v in vals[1:])


def subscriber(name, frames):
    with shmipc.Subscriber.open(name) as sub:
        print("ready", flush=True)
        good = 0
        for i in range(frames):
            with sub.receive(timeout=30) as s:
                good += s.sequence == i + 1 and check(s, i)
        print(f"received {good} of {frames} frames in order: {'ok' if good == frames else 'FAILED'}")
        return 0 if good == frames else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber":
        return subscriber(sys.argv[2], int(sys.argv[3]))
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with shmipc.Publisher.create(SERVICE, payload_size=FRAME, depth=16, policy=shmipc.Policy.WAIT,
                                 type_name="example_frame_f32x8x8", type_size=FRAME, type_align=4) as pub:
        child = subprocess.Popen([sys.executable, __file__, "--subscriber", SERVICE, str(frames)],
                                 stdout=subprocess.PIPE, text=True)
        if child.stdout.readline().strip() != "ready":  # handshake: the subscriber is connected
            child.wait()
            return 1
        start = time.monotonic()
        for i in range(frames):
            loan = pub.loan()
            fill(loan, i)
            loan.publish()
        out = child.stdout.read()
        rc = child.wait()
        took = time.monotonic() - start
    shmipc.pubsub.unlink(SERVICE)
    print(out, end="")
    print(f"{frames} frames of {FRAME} bytes in {took * 1000:.1f} ms ({frames / took:.0f} frames/s, "
          f"numpy: {shmipc.have_numpy()})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
