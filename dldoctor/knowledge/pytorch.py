"""PyTorch's published builds: the wheel variants of each release, its Python range, and the compute
capabilities each CUDA wheel was compiled for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dldoctor.knowledge.tables import rows
from dldoctor.knowledge.versions import major_minor, parse_capability, sm_name


@dataclass(frozen=True)
class TorchVariant:
    """One published PyTorch wheel variant: name "cu126", kind "cuda", version "12.6"."""

    name: str
    kind: str  # "cuda", "rocm", "cpu", "xpu"
    version: str | None  # the CUDA or ROCm version; None for cpu / xpu
    experimental: bool = False
    verified: bool = True


def _torch_row(torch_version: str) -> dict[str, Any] | None:
    wanted = major_minor(torch_version)
    if wanted is None:
        return None
    for row in rows("torch_variants"):
        if major_minor(str(row["torch"])) == wanted:
            return row
    return None


def torch_release_variants(torch_version: str, include_experimental: bool = False) -> list[TorchVariant]:
    """The wheel variants published for PyTorch `torch_version` ("2.7.1", "2.13.0+cpu", "2.13").

    Experimental builds are left out unless asked for. Empty when the release is unknown.
    """
    row = _torch_row(torch_version)
    if row is None:
        return []
    out = [
        TorchVariant(
            name=str(v["name"]),
            kind=str(v["kind"]),
            version=str(v["version"]) if v.get("version") else None,
            experimental=bool(v.get("experimental", False)),
            verified=bool(v.get("verified", True)),
        )
        for v in row["variants"]
    ]
    return [v for v in out if include_experimental or not v.experimental]


def torch_python_range(torch_version: str) -> tuple[str, str] | None:
    """The oldest and newest Python ("3.10", "3.14") PyTorch `torch_version` publishes wheels for; None when unknown."""
    row = _torch_row(torch_version)
    span = row.get("python") if row is not None else None
    return (str(span[0]), str(span[1])) if isinstance(span, list) and len(span) == 2 else None


def torch_releases() -> list[str]:
    """The PyTorch minor releases the knowledge base has variants for ("1.8" ... "2.14"), in table order."""
    return [str(r["torch"]) for r in rows("torch_variants")]


@dataclass(frozen=True)
class WheelArchs:
    """Compute capabilities compiled into one PyTorch CUDA wheel: cubins (`sm`) and PTX (`ptx`), as "X.Y"."""

    variant: str
    sm: tuple[str, ...]
    ptx: tuple[str, ...]
    verified: bool = True

    @property
    def arch_list(self) -> list[str]:
        """As `torch.cuda.get_arch_list()` spells it: ["sm_75", ..., "compute_120"]."""
        out = [sm_name(cc) for s in self.sm if (cc := parse_capability(s)) is not None]
        return out + [f"compute_{cc[0]}{cc[1]}" for p in self.ptx if (cc := parse_capability(p)) is not None]

    def describe(self) -> str:
        """"7.5, 8.0, ..., 12.0, PTX 12.0" for messages."""
        return ", ".join([*self.sm, *(f"PTX {p}" for p in self.ptx)])


def torch_wheel_archs(variant: str, torch_version: str, machine_arch: str = "x86_64") -> WheelArchs | None:
    """What PyTorch `torch_version`'s `variant` ("cu128") wheel for `machine_arch` was compiled for."""
    wanted = major_minor(torch_version)
    if wanted is None:
        return None
    arm = machine_arch.lower() in ("aarch64", "arm64", "sbsa")
    for row in rows("torch_wheel_archs"):
        if row["variant"] != variant.strip().lower():
            continue
        low = major_minor(row.get("torch_min"))
        high = major_minor(row.get("torch_max"))
        if (low is not None and wanted < low) or (high is not None and wanted > high):
            continue
        sm = [str(s) for s in row["sm"]]
        if arm:
            sm += [str(s) for s in row.get("aarch64_extra_sm") or () if s not in sm]
        sm.sort(key=lambda s: parse_capability(s) or (0, 0))
        return WheelArchs(variant=str(row["variant"]), sm=tuple(sm), ptx=tuple(str(p) for p in row.get("ptx") or ()),
                          verified=bool(row.get("verified", True)))
    return None


def kernel_for(cc: str, archs: WheelArchs, allow_ptx: bool = True) -> str | None:
    """How a GPU of compute capability `cc` runs a build with `archs`: "sm" when a cubin runs on it,
    "ptx" when only PTX JIT does (not under minor-version compatibility: `allow_ptx` False), None when neither."""
    device = parse_capability(cc)
    if device is None:
        return None
    for entry in archs.sm:
        target = parse_capability(entry)
        if target is not None and device[0] == target[0] and device[1] >= target[1]:
            return "sm"
    if allow_ptx:
        for entry in archs.ptx:
            target = parse_capability(entry)
            if target is not None and device >= target:
                return "ptx"
    return None


def capability_runs(cc: str, archs: WheelArchs) -> bool:
    """Whether a GPU of compute capability `cc` ("8.6", "sm_86") runs a build with `archs`.

    A cubin for sm_XY runs on devices of the same major with minor >= Y; PTX for
    compute_XY is JIT-compiled by the driver for any device >= X.Y.
    """
    return kernel_for(cc, archs) is not None
