"""The gfx targets compiled into PyTorch's ROCm wheels."""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from dldoctor.knowledge.tables import rows
from dldoctor.knowledge.versions import version


def _rocm_row(rocm_version: str) -> dict[str, Any] | None:
    """The rocm_gfx row of `rocm_version`: an exact row, else the newest of the same major.minor not newer than it."""
    given = version(rocm_version.strip().split("-")[0].removeprefix("rocm"))
    if given is None:
        return None
    best: tuple[Version, dict[str, Any]] | None = None
    for row in rows("rocm_gfx"):
        rv = version(str(row["rocm"]))
        if rv is None:
            continue
        if rv == given:
            return row
        if rv.release[:2] == given.release[:2] and rv <= given and (best is None or rv > best[0]):
            best = (rv, row)
    return best[1] if best is not None else None


def rocm_gfx_targets(rocm_version: str) -> list[str] | None:
    """The gfx targets in PyTorch's ROCm `rocm_version` wheel ("6.2.4", or a HIP version "6.2.41133-...");
    None when unknown."""
    row = _rocm_row(rocm_version)
    if row is None or row.get("targets") is None:
        return None
    return [str(t) for t in row["targets"]]


def rocm_gfx_verified(rocm_version: str) -> bool:
    """Whether the gfx list of ROCm `rocm_version`'s wheel was checked against its source (not only inferred)."""
    row = _rocm_row(rocm_version)
    return row is not None and row.get("targets") is not None and bool(row.get("verified", True))
