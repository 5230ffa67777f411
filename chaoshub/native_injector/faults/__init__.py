"""The fault families this injector implements, one module each."""

from __future__ import annotations

from chaoshub.native_injector.faults.base import Context, Fault, Selector
from chaoshub.native_injector.faults.disk import DiskFill
from chaoshub.native_injector.faults.netfilter import NetworkLoss, NetworkPartition
from chaoshub.native_injector.faults.process import ProcessKill, ProcessPause
from chaoshub.native_injector.faults.script import HostScript
from chaoshub.native_injector.faults.stress import CpuStress, IoStress, MemoryStress
from chaoshub.native_injector.faults.traffic import (
    NetworkBandwidth,
    NetworkCorrupt,
    NetworkDelay,
    NetworkDuplicate,
    NetworkJitter,
)

_CLASSES: tuple[type[Fault], ...] = (
    CpuStress,
    MemoryStress,
    IoStress,
    DiskFill,
    ProcessKill,
    ProcessPause,
    NetworkLoss,
    NetworkPartition,
    NetworkBandwidth,
    NetworkDelay,
    NetworkJitter,
    NetworkDuplicate,
    NetworkCorrupt,
    HostScript,
)

#: every fault by its catalog name
FAULTS: dict[str, Fault] = {cls.name: cls() for cls in _CLASSES}
NAMES: frozenset[str] = frozenset(FAULTS)

__all__ = ["FAULTS", "NAMES", "Context", "Fault", "Selector"]
