"""What JAX's CUDA wheels need from the machine, per CUDA major."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dldoctor.knowledge.tables import rows
from dldoctor.knowledge.versions import version


@dataclass(frozen=True)
class JaxCuda:
    """What JAX's CUDA `cuda_major` wheels (`jax[cuda12]`) need from the machine."""

    cuda_major: int
    extra: str
    plugin: str
    min_cuda: str | None
    cudnn_min: str | None
    cudnn_below: str | None  # exclusive upper bound
    min_driver: str | None
    min_sm: str | None  # "7.5"
    nccl_min: str | None

    @property
    def min_capability(self) -> str | None:
        return self.min_sm


def jax_cuda_requirements(cuda_major: int | str) -> JaxCuda | None:
    """Requirements of JAX's CUDA 12 or CUDA 13 wheels; None for a major JAX does not build."""
    try:
        major = int(str(cuda_major).split(".")[0])
    except ValueError:
        return None

    def opt(row: dict[str, Any], key: str) -> str | None:
        value = row.get(key)
        return str(value) if value is not None else None

    for row in rows("jax_cuda"):
        if row["cuda_major"] == major:
            return JaxCuda(major, str(row["extra"]), str(row["plugin"]), opt(row, "min_cuda"), opt(row, "cudnn_min"),
                           opt(row, "cudnn_below"), opt(row, "min_driver"), opt(row, "min_sm"), opt(row, "nccl_min"))
    return None


def jax_cuda_majors() -> list[int]:
    """The CUDA majors JAX publishes wheels for, newest first."""
    return sorted({int(r["cuda_major"]) for r in rows("jax_cuda")}, reverse=True)


@dataclass(frozen=True)
class JaxRelease:
    """One range of jaxlib releases on one CUDA major (a jax_releases row): what those wheels need."""

    jaxlib_min: str
    jaxlib_max: str | None  # None: still current
    cuda_major: int
    extras: tuple[str, ...]
    min_cuda: str | None
    cudnn_min: str | None
    cudnn_below: str | None  # exclusive upper bound
    min_driver: str | None
    min_sm: str | None
    verified: bool = True


def _release(row: dict[str, Any]) -> JaxRelease:
    def opt(key: str) -> str | None:
        value = row.get(key)
        return str(value) if value else None

    return JaxRelease(str(row["jaxlib_min"]), opt("jaxlib_max"), int(row["cuda_major"]),
                      tuple(str(e) for e in row.get("extras") or ()), opt("min_cuda"), opt("cudnn_min"),
                      opt("cudnn_below"), opt("min_driver"), opt("min_sm"), bool(row.get("verified", True)))


def jax_releases() -> list[JaxRelease]:
    """Every jaxlib release range of the jax_releases table, in table order (oldest first)."""
    return [_release(r) for r in rows("jax_releases")]


def jax_release(jaxlib: str, cuda_major: int) -> JaxRelease | None:
    """The jax_releases range jaxlib `jaxlib` ("0.4.30", "0.4.30+cuda12.cudnn89") falls in on CUDA `cuda_major`."""
    wanted = version(jaxlib.split("+", 1)[0])
    if wanted is None:
        return None
    for row in jax_releases():
        low, high = version(row.jaxlib_min), version(row.jaxlib_max or "")
        if row.cuda_major == cuda_major and low is not None and low <= wanted and (high is None or wanted <= high):
            return row
    return None
