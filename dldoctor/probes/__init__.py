"""Probes: each gathers one area's facts from a `Machine` and returns plain data.

A probe never prints and never imports a deep-learning framework into
dldoctor's process. A probe that raises or runs out of time becomes a
`ProbeFailure` in the snapshot; the other probes go on. A probe that works but
loses one of its sources records that in `Notes` and keeps what it has.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProbeFailure:
    probe: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"probe": self.probe, "error": self.error}


@dataclass
class Notes:
    """Where probes record sources that failed while the probe itself went on."""

    failures: list[ProbeFailure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, probe: str, error: str) -> None:
        with self._lock:
            self.failures.append(ProbeFailure(probe, error))
