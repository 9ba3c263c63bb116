"""CUDA and the NVIDIA driver: the driver floors of each CUDA release, minor-version compatibility, and
which compute capabilities a toolkit can compile for."""

from __future__ import annotations

from packaging.version import Version

from dldoctor.knowledge.tables import rows
from dldoctor.knowledge.versions import minor_of, parse_capability, version


def _os_key(os_name: str) -> str:
    return "windows" if os_name.lower() == "windows" else "linux"


def driver_floor(cuda: str, os_name: str = "linux") -> str | None:
    """The oldest driver that fully supports CUDA `cuda` ("12.4"), any update."""
    key = _os_key(os_name)
    floors = [r[key] for r in rows("cuda_driver") if r["cuda"] == cuda and r.get(key)]
    parsed = [(v, f) for f in floors if (v := version(f)) is not None]
    return min(parsed)[1] if parsed else None


def max_cuda_for_driver(driver_version: str, os_name: str = "linux") -> str | None:
    """The newest CUDA "X.Y" whose full-support floor `driver_version` meets."""
    driver = version(driver_version)
    if driver is None:
        return None
    key = _os_key(os_name)
    best: Version | None = None
    for row in rows("cuda_driver"):
        floor = version(row.get(key) or "")
        cuda = version(row["cuda"])
        if floor is not None and cuda is not None and driver >= floor and (best is None or cuda > best):
            best = cuda
    return str(best) if best is not None else None


def min_driver(cuda: str, tier: str = "full", os_name: str = "linux") -> str | None:
    """The oldest driver that runs CUDA `cuda` ("12.6") binaries.

    tier "full": the driver the toolkit shipped with (any update of that minor);
    tier "minor": the floor of CUDA minor-version compatibility for that major
    branch (which does not cover PTX built by a newer toolkit).
    """
    if tier == "full":
        minor = minor_of(cuda)
        return driver_floor(minor, os_name) if minor else None
    if tier == "minor":
        v = version(cuda)
        if v is None:
            return None
        key = _os_key(os_name)
        for row in rows("cuda_minor_compat"):
            if row.get("major") == v.major and isinstance(row.get(key), str):
                return str(row[key])
        return None
    raise ValueError(f"tier must be 'full' or 'minor', not {tier!r}")


def driver_runs_cuda(driver: str, cuda: str, os_name: str = "linux") -> str | None:
    """How driver `driver` runs binaries of CUDA `cuda`: "full", "minor" (minor-version
    compatibility), or None (too old, or unknown)."""
    d = version(driver)
    if d is None:
        return None
    full = version(min_driver(cuda, "full", os_name) or "")
    if full is not None and d >= full:
        return "full"
    minor = version(min_driver(cuda, "minor", os_name) or "")
    if minor is not None and d >= minor:
        return "minor"
    return None


def cuda_supports_capability(cuda: str, cc: str) -> bool:
    """Whether CUDA toolkit `cuda` ("12.8") can compile for compute capability `cc` ("12.0")."""
    device = parse_capability(cc)
    toolkit = version(cuda)
    if device is None or toolkit is None:
        return False
    for row in rows("cuda_arch_support"):
        if device not in {parse_capability(str(c)) for c in row["capabilities"]}:
            continue
        added = version(row.get("added") or "")
        removed = version(row.get("removed") or "")
        return (added is None or toolkit >= added) and (removed is None or toolkit < removed)
    return False
