"""The tables themselves, for `dldoctor knowledge`: where each comes from and how old it is."""

from __future__ import annotations

from datetime import date
from typing import Any

from dldoctor.knowledge.tables import table, table_names


def summary(today: date | None = None) -> list[dict[str, Any]]:
    """One entry per table for `dldoctor knowledge`: name, source, verified (ISO date), rows,
    age_days, overridden, path."""
    now = today or date.today()
    out: list[dict[str, Any]] = []
    for name in table_names():
        t = table(name)
        out.append({
            "name": name,
            "source": t.source,
            "verified": t.verified.isoformat(),
            "rows": len(t.rows),
            "age_days": (now - t.verified).days,
            "overridden": t.overridden,
            "path": str(t.path),
        })
    return out
