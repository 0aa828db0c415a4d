# SPDX-License-Identifier: MIT
"""What every named service shares (shmipc/service.h): discovery (describe, list) and gc."""
from __future__ import annotations

import ctypes
import enum
from ctypes import byref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from . import _layout as L
from ._lib import C, check, encode_name
from .segment import Name


class Pattern(enum.IntEnum):
    PUBSUB = L.CONSTANTS["SHMIPC_PATTERN_PUBSUB"]
    REQRESP = L.CONSTANTS["SHMIPC_PATTERN_REQRESP"]
    BLACKBOARD = L.CONSTANTS["SHMIPC_PATTERN_BLACKBOARD"]
    EVENT = L.CONSTANTS["SHMIPC_PATTERN_EVENT"]
    CHANNEL = L.CONSTANTS["SHMIPC_PATTERN_CHANNEL"]
    QUEUE = L.CONSTANTS["SHMIPC_PATTERN_QUEUE"]


@dataclass(frozen=True)
class Participant:
    pid: int
    slot: int
    role: str
    alive: bool


@dataclass(frozen=True)
class ServiceInfo:
    """A service as tools see it (shmipc_service_describe). ``options`` are the pattern's "key=value"
    words; ``stats`` its live figures by name."""
    name: str
    segment: str
    pattern: Pattern
    type_name: str
    type_size: int
    max_participants: int
    participants: int
    dead: int
    uid: int
    creator_pid: int
    created_ns: int
    options: Dict[str, str]
    stats: Dict[str, int]
    listed: List[Participant] = field(default_factory=list)

    @property
    def alive(self) -> int:
        """Registered participants that are alive."""
        return self.participants - self.dead

    @classmethod
    def _from(cls, i: L.ServiceInfo) -> "ServiceInfo":
        words = i.options.decode(errors="replace").split()
        opts = dict(w.split("=", 1) if "=" in w else (w, "") for w in words)
        stats = {i.stat_names[k].value.decode(): int(i.stats[k]) for k in range(min(i.nstats, len(i.stats)))}
        listed = [Participant(p.proc.pid, p.slot, (C.shmipc_service_role_name(p.role) or b"").decode(), bool(p.alive))
                  for p in i.participant[:min(i.nlisted, len(i.participant))]]
        return cls(i.name.decode(errors="replace"), i.segment.decode(errors="replace"), Pattern(i.pattern),
                   i.type.name.decode(errors="replace"), i.type.size, i.max_participants, i.participants,
                   i.dead, i.uid, i.creator.pid, i.created_ns, opts, stats, listed)


def describe(pattern: Pattern, name: Name) -> ServiceInfo:
    """Describe one service (read-only)."""
    info = L.ServiceInfo()
    check(C.shmipc_service_describe(int(pattern), encode_name(name), byref(info)), "shmipc_service_describe")
    return ServiceInfo._from(info)


def list_services() -> List[ServiceInfo]:
    """Every service on the machine visible to the caller (shmipc_service_list)."""
    arr = ctypes.POINTER(L.ServiceInfo)()
    n = ctypes.c_size_t()
    check(C.shmipc_service_list(byref(arr), byref(n)), "shmipc_service_list")
    try:
        return [ServiceInfo._from(arr[i]) for i in range(n.value)]
    finally:
        _libc_free(arr)


def _libc_free(p: Any) -> None:
    free = ctypes.CDLL(None).free  # the C library's allocator, which shmipc_service_list used
    free.argtypes, free.restype = [ctypes.c_void_p], None
    free(ctypes.cast(p, ctypes.c_void_p))


@dataclass(frozen=True)
class GcReport:
    services_seen: int
    participants_reclaimed: int
    services_removed: int
    skipped: int


def gc(pattern: Optional[Pattern] = None, name: Optional[Name] = None, keep_unused: bool = False) -> GcReport:
    """Reclaim what dead participants hold (in every service of the caller's, or in one), and remove
    services nobody uses unless keep_unused."""
    r = L.GcReport()
    check(C.shmipc_service_gc(int(pattern or 0), None if name is None else encode_name(name), int(keep_unused),
                              byref(r)), "shmipc_service_gc")
    return GcReport(r.services_seen, r.participants_reclaimed, r.services_removed, r.skipped)


def type_info(name: Optional[str], size: int = 0, align: int = 0) -> Optional[L.TypeInfo]:
    """A payload type description (None when no name and no size: untyped bytes)."""
    if not name and not size:
        return None
    t = L.TypeInfo()
    raw = (name or "").encode()
    if len(raw) > L.CONSTANTS["SHMIPC_TYPE_NAME_MAX"]:
        raise ValueError(f"shmipc: type name longer than {L.CONSTANTS['SHMIPC_TYPE_NAME_MAX']} bytes")
    t.name = raw
    t.size = size
    t.align = align
    return t
