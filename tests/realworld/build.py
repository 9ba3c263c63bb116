"""The real-world cases, and their compact `machine` as a full `dldoctor.snapshot/1` document.

The snapshot is made by `dldoctor.triage.snapshot.build_snapshot`, the same code
that turns a pasted report into a snapshot, so the cases also hold that builder
to its promise (what a report does not say stays unknown).

Each case file in this folder (tests/realworld/<name>.json) describes a machine
taken from a public bug report. Its `machine` holds only what the report states
(or what the case's `assumed` list says was assumed); everything else is filled
here the way dldoctor's probes fill a field they could not read: null, an empty
list, or "unknown". Nothing healthy is invented that would hide a problem: a GPU
health field the report does not show stays null, a cuDNN whose version the
report does not give keeps version null.

The `machine` format is described in dldoctor/triage/snapshot.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dldoctor.triage.snapshot import build_snapshot

HERE = Path(__file__).resolve().parent


def case_paths() -> list[Path]:
    return sorted(p for p in HERE.glob("*.json"))


def load_case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def build(case: dict[str, Any]) -> dict[str, Any]:
    """The snapshot document of a case's machine."""
    return build_snapshot(case["machine"], [])
