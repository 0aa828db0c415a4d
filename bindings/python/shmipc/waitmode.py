# SPDX-License-Identifier: MIT
"""How a blocking call waits (shmipc_wait_mode, common.h)."""
from __future__ import annotations

import enum

from . import _layout as L


class WaitMode(enum.IntEnum):
    DEFAULT = L.CONSTANTS["SHMIPC_WAIT_DEFAULT"]  #: the handle's own mode (hybrid unless set)
    SPIN = L.CONSTANTS["SHMIPC_WAIT_SPIN"]        #: busy-poll: lowest latency, burns a core
    BLOCK = L.CONSTANTS["SHMIPC_WAIT_BLOCK"]      #: sleep on a futex at once
    HYBRID = L.CONSTANTS["SHMIPC_WAIT_HYBRID"]    #: spin briefly, then sleep
