"""The snapshot: the versioned, JSON-serialisable facts of one machine, and the typed reader of one.

`take.py` takes a snapshot (every probe, in parallel, against a `Machine`), loads
one from a file with its bounds and schema checks, and redacts one for sharing;
`facts.py` is `Facts`, the forgiving typed reader that the rules, the renderer,
the chooser and setup read a snapshot through.
"""

from __future__ import annotations

from dldoctor.snapshot.facts import Facts, dicts, pick, strings
from dldoctor.snapshot.take import (
    MAX_SNAPSHOT_BYTES,
    SCHEMA,
    SECTIONS,
    ProbeFailure,
    clean_strings,
    load_snapshot,
    printable,
    redact_snapshot,
    take_snapshot,
    url_without_credentials,
    without_ip_addresses,
)

__all__ = [
    "MAX_SNAPSHOT_BYTES", "SCHEMA", "SECTIONS", "Facts", "ProbeFailure", "clean_strings", "dicts", "load_snapshot",
    "pick", "printable", "redact_snapshot", "strings", "take_snapshot", "url_without_credentials",
    "without_ip_addresses",
]
