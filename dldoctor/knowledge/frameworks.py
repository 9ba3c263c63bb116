"""The deep-learning frameworks dldoctor knows: names, distributions, status, newest known release."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from dldoctor.knowledge import vocabulary
from dldoctor.knowledge.tables import rows
from dldoctor.knowledge.versions import major_minor


@dataclass(frozen=True)
class FrameworkDistribution:
    """A PyPI distribution of a framework; `name` may hold a '*' wildcard ("mxnet-cu*")."""

    name: str
    variant: str


@dataclass(frozen=True)
class FrameworkInfo:
    """A deep-learning framework dldoctor knows."""

    key: str  # "pytorch"
    name: str  # "PyTorch"
    import_name: str | None
    distributions: tuple[FrameworkDistribution, ...]
    status: str  # "active" or "retired"
    retired_year: int | None
    note: str
    execution: str  # "eager" or "graph"
    execution_note: str
    latest: str | None = None  # the newest release the knowledge base has tables for

    @property
    def retired(self) -> bool:
        return self.status == "retired"


def _dist_key(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text.strip().lower())


def _latest(key: str) -> str | None:
    releases: list[str] = []
    if key == "pytorch":
        releases = [str(r["torch"]) for r in rows("torch_variants")]
    elif key == "tensorflow":
        releases = [str(r["tf_max"]) for r in rows("tensorflow_cuda")]
    known = [(mm, text) for text in releases if (mm := major_minor(text)) is not None]
    return max(known)[1] if known else None


def _framework(row: dict[str, Any]) -> FrameworkInfo:
    key = str(row["key"])
    return FrameworkInfo(
        key=key,
        name=str(row["name"]),
        import_name=str(row["import"]) if row.get("import") else None,
        distributions=tuple(FrameworkDistribution(str(d["name"]), str(d["variant"])) for d in row["distributions"]),
        status=str(row["status"]),
        retired_year=int(row["retired_year"]) if row.get("retired_year") is not None else None,
        note=str(row.get("note") or ""),
        execution=str(row["execution"]),
        execution_note=str(row.get("execution_note") or ""),
        latest=_latest(key),
    )


def frameworks() -> list[FrameworkInfo]:
    """Every framework the knowledge base describes, in table order."""
    return [_framework(r) for r in rows("frameworks")]


def framework_info(name_or_dist: str) -> FrameworkInfo | None:
    """The framework named `name_or_dist`: its key, name, alias, import name or a PyPI distribution
    ("torch", "TensorFlow", "jax-cuda13-plugin", "mxnet-cu112"); None when unknown."""
    wanted = _dist_key(name_or_dist)
    if not wanted:
        return None
    named = vocabulary.lookup(name_or_dist)
    if named is not None:
        return next(_framework(row) for row in rows("frameworks") if row["key"] == named.key)
    for row in rows("frameworks"):
        if any(fnmatchcase(wanted, _dist_key(str(d["name"]))) for d in row["distributions"]):
            return _framework(row)
    return None
