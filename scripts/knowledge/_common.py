"""Shared bits of the knowledge-table scripts: load a table, compare minor releases, report a check."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parents[2] / "dldoctor" / "knowledge" / "data"


def parser(doc: str, table: str) -> argparse.ArgumentParser:
    """The command line every script takes: SOURCE [--check] [--table PATH]."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("source", type=Path, help="a downloaded copy of the source (see the script's docstring)")
    p.add_argument("--check", action="store_true", help="compare with the committed table; exit 1 on a difference")
    p.add_argument("--table", type=Path, default=DATA_DIR / f"{table}.json", help="the table to check against")
    return p


def load(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["rows"])


def mm(text: str | None) -> tuple[int, ...] | None:
    """"1.10.2" / "1.10" / "2.7.1+cu118" -> (1, 10); None for null or unreadable."""
    if not text:
        return None
    found = re.match(r"(\d+)\.(\d+)", str(text))
    return (int(found.group(1)), int(found.group(2))) if found else None


def vt(text: str) -> tuple[int, ...]:
    """A dotted version as a comparable tuple: "0.4.31" -> (0, 4, 31)."""
    return tuple(int(p) for p in re.findall(r"\d+", text))


def in_range(version: tuple[int, ...], low: str | None, high: str | None, key: Any = mm) -> bool:
    lo, hi = key(low) if low else None, key(high) if high else None
    return (lo is None or version >= lo) and (hi is None or version <= hi)


def finish(found: object, problems: list[str], check: bool) -> int:
    """Print what was read (no --check) or the differences (--check); the exit status."""
    if not check:
        print(json.dumps(found, indent=1, sort_keys=True))
        return 0
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(problems)} difference(s)", file=sys.stderr)
    return 1 if problems else 0
