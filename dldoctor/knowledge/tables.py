"""The knowledge tables and the folder that can override them (`--knowledge-dir`).

Each table is one JSON file in `knowledge/data/` with a `source`, a `verified`
date and `rows`. A newer file can replace a packaged one without a new release:
put it in a folder and point `DLDOCTOR_KNOWLEDGE_DIR` (or `--knowledge-dir`) at
it. The modules of this package (one per table family) are the only readers of the rows.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dldoctor.errors import InputError

DATA_DIR = Path(__file__).parent / "data"
OVERRIDE_ENV = "DLDOCTOR_KNOWLEDGE_DIR"


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    verified: date
    rows: tuple[dict[str, Any], ...]
    path: Path
    overridden: bool


_cache: dict[str, Table] = {}
_lock = threading.Lock()
_override_dir: Path | None = None


def set_override_dir(path: Path | None) -> None:
    """Read tables from `path` first (the `--knowledge-dir` option)."""
    global _override_dir
    with _lock:
        _override_dir = path
        _cache.clear()


def _override() -> Path | None:
    if _override_dir is not None:
        return _override_dir
    env = os.environ.get(OVERRIDE_ENV)
    return Path(env) if env else None


def _load(path: Path, overridden: bool) -> Table:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        verified = date.fromisoformat(doc["verified"])
        rows = tuple(doc["rows"])
        return Table(doc["table"], doc["source"], verified, rows, path, overridden)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"knowledge table {path} is unreadable: {exc}") from exc


def table(name: str) -> Table:
    """The table `name`, from the override folder when it has one."""
    with _lock:
        cached = _cache.get(name)
        if cached is not None:
            return cached
        override = _override()
        candidate = override / f"{name}.json" if override else None
        if candidate is not None and candidate.is_file():
            loaded = _load(candidate, overridden=True)
        else:
            loaded = _load(DATA_DIR / f"{name}.json", overridden=False)
        _cache[name] = loaded
        return loaded


def table_names() -> list[str]:
    """The names of the packaged tables."""
    return sorted(p.stem for p in DATA_DIR.glob("*.json"))


def rows(name: str) -> tuple[dict[str, Any], ...]:
    """The rows of table `name`."""
    return table(name).rows
