"""Small query functions over the knowledge tables.

Every function here is pure: it reads rows only through `table()` and answers
None (or False, or an empty list) when the knowledge base does not know. No
version number is written in this file; the facts live in `knowledge/data/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from packaging.version import InvalidVersion, Version

from dldoctor.knowledge.cloud import CloudRule, cloud_dmi_rules  # noqa: F401  (re-exported through __all__)

__all__ = [
    "jax_cuda_majors",
    "kernel_for",
    "tensorflow_releases",
    "tensorflow_windows_gpu",
    "torch_python_range",
    "torch_releases",
        "parse_capability",
    "CloudRule",
    "FrameworkDistribution",
    "FrameworkInfo",
    "GpuPeaks",
    "JaxCuda",
    "TensorflowRequirements",
    "TorchVariant",
    "WheelArchs",
    "capability_runs",
    "cloud_dmi_rules",
    "cuda_of_variant",
    "cuda_supports_capability",
    "driver_floor",
    "driver_runs_cuda",
    "framework_info",
    "frameworks",
    "gpu_peaks",
    "jax_cuda_requirements",
    "max_cuda_for_driver",
    "min_driver",
    "rocm_gfx_targets",
    "rocm_gfx_verified",
    "summary",
    "tensorflow_requirements",
    "torch_release_variants",
    "torch_wheel_archs",
]


def _rows(name: str) -> tuple[dict[str, Any], ...]:
    from dldoctor.knowledge import table

    return table(name).rows


def _v(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def _os_key(os_name: str) -> str:
    return "windows" if os_name.lower() == "windows" else "linux"


def _minor_of(text: str) -> str | None:
    """"2.7.1" / "2.13.0+cpu" / "2.13" / "12.6.3" -> "2.7" / "2.13" / "2.13" / "12.6"."""
    v = _v(text.strip())
    if v is None:
        return None
    release = (*v.release, 0)
    return f"{release[0]}.{release[1]}"


def _mm(text: str | None) -> tuple[int, int] | None:
    """A minor-release string as a comparable (major, minor) pair."""
    minor = _minor_of(text) if text else None
    if minor is None:
        return None
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def parse_capability(text: str) -> tuple[int, int] | None:
    """"8.6" / "86" / "sm_86" / "compute_90" / "sm_90a" / "12.0" / "120" -> (major, minor)."""
    raw = text.strip().lower()
    for prefix in ("sm_", "compute_"):
        raw = raw.removeprefix(prefix)
    raw = raw.rstrip("af")
    if "." in raw:
        major, _, minor = raw.partition(".")
    else:
        major, minor = raw[:-1], raw[-1:]
    if not (major.isdigit() and minor.isdigit()):
        return None
    return int(major), int(minor)


def _sm(cc: tuple[int, int]) -> str:
    return f"sm_{cc[0]}{cc[1]}"


def _dotted(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


# --- cloud ------------------------------------------------------------------------------




# --- drivers ----------------------------------------------------------------------------


def driver_floor(cuda: str, os_name: str = "linux") -> str | None:
    """The oldest driver that fully supports CUDA `cuda` ("12.4"), any update."""
    key = _os_key(os_name)
    floors = [r[key] for r in _rows("cuda_driver") if r["cuda"] == cuda and r.get(key)]
    parsed = [(v, f) for f in floors if (v := _v(f)) is not None]
    return min(parsed)[1] if parsed else None


def max_cuda_for_driver(driver_version: str, os_name: str = "linux") -> str | None:
    """The newest CUDA "X.Y" whose full-support floor `driver_version` meets."""
    driver = _v(driver_version)
    if driver is None:
        return None
    key = _os_key(os_name)
    best: Version | None = None
    for row in _rows("cuda_driver"):
        floor = _v(row.get(key) or "")
        cuda = _v(row["cuda"])
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
        minor = _minor_of(cuda)
        return driver_floor(minor, os_name) if minor else None
    if tier == "minor":
        v = _v(cuda)
        if v is None:
            return None
        key = _os_key(os_name)
        for row in _rows("cuda_minor_compat"):
            if row.get("major") == v.major and isinstance(row.get(key), str):
                return str(row[key])
        return None
    raise ValueError(f"tier must be 'full' or 'minor', not {tier!r}")


def driver_runs_cuda(driver: str, cuda: str, os_name: str = "linux") -> str | None:
    """How driver `driver` runs binaries of CUDA `cuda`: "full", "minor" (minor-version
    compatibility), or None (too old, or unknown)."""
    d = _v(driver)
    if d is None:
        return None
    full = _v(min_driver(cuda, "full", os_name) or "")
    if full is not None and d >= full:
        return "full"
    minor = _v(min_driver(cuda, "minor", os_name) or "")
    if minor is not None and d >= minor:
        return "minor"
    return None


# --- PyTorch variants -------------------------------------------------------------------


@dataclass(frozen=True)
class TorchVariant:
    """One published PyTorch wheel variant: name "cu126", kind "cuda", version "12.6"."""

    name: str
    kind: str  # "cuda", "rocm", "cpu", "xpu"
    version: str | None  # the CUDA or ROCm version; None for cpu / xpu
    experimental: bool = False
    verified: bool = True


def cuda_of_variant(variant: str) -> str | None:
    """"cu126" -> "12.6", "cu118" -> "11.8", "cuda12.6" -> "12.6"; None for cpu, rocm, xpu."""
    text = variant.strip().lower()
    match = re.fullmatch(r"cu(\d+)(\d)", text)
    if match:
        return f"{int(match.group(1))}.{match.group(2)}"
    match = re.fullmatch(r"cuda(\d+)\.(\d+)", text)
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _torch_row(torch_version: str) -> dict[str, Any] | None:
    wanted = _mm(torch_version)
    if wanted is None:
        return None
    for row in _rows("torch_variants"):
        if _mm(str(row["torch"])) == wanted:
            return row
    return None


def _variant_sort_key(variant: TorchVariant) -> Version:
    return _v(variant.version or "") or Version("0")


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
    return [str(r["torch"]) for r in _rows("torch_variants")]


# --- compute capabilities ---------------------------------------------------------------


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
        out = [_sm(cc) for s in self.sm if (cc := parse_capability(s)) is not None]
        return out + [f"compute_{cc[0]}{cc[1]}" for p in self.ptx if (cc := parse_capability(p)) is not None]

    def describe(self) -> str:
        """"7.5, 8.0, ..., 12.0, PTX 12.0" for messages."""
        return ", ".join([*self.sm, *(f"PTX {p}" for p in self.ptx)])


def torch_wheel_archs(variant: str, torch_version: str, machine_arch: str = "x86_64") -> WheelArchs | None:
    """What PyTorch `torch_version`'s `variant` ("cu128") wheel for `machine_arch` was compiled for."""
    wanted = _mm(torch_version)
    if wanted is None:
        return None
    arm = machine_arch.lower() in ("aarch64", "arm64", "sbsa")
    for row in _rows("torch_wheel_archs"):
        if row["variant"] != variant.strip().lower():
            continue
        low = _mm(row.get("torch_min"))
        high = _mm(row.get("torch_max"))
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


def cuda_supports_capability(cuda: str, cc: str) -> bool:
    """Whether CUDA toolkit `cuda` ("12.8") can compile for compute capability `cc` ("12.0")."""
    device = parse_capability(cc)
    toolkit = _v(cuda)
    if device is None or toolkit is None:
        return False
    for row in _rows("cuda_arch_support"):
        if device not in {parse_capability(str(c)) for c in row["capabilities"]}:
            continue
        added = _v(row.get("added") or "")
        removed = _v(row.get("removed") or "")
        return (added is None or toolkit >= added) and (removed is None or toolkit < removed)
    return False


# --- AMD ------------------------------------------------------------------------------------


def _gfx(text: str) -> str:
    raw = text.strip().lower()
    return raw if raw.startswith("gfx") else f"gfx{raw}"


def _rocm_row(rocm_version: str) -> dict[str, Any] | None:
    """The rocm_gfx row of `rocm_version`: an exact row, else the newest of the same major.minor not newer than it."""
    given = _v(rocm_version.strip().split("-")[0].removeprefix("rocm"))
    if given is None:
        return None
    best: tuple[Version, dict[str, Any]] | None = None
    for row in _rows("rocm_gfx"):
        rv = _v(str(row["rocm"]))
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


# --- TensorFlow and JAX -----------------------------------------------------------------


class TensorflowRequirements(NamedTuple):
    """The CUDA and cuDNN a TensorFlow release was built and tested with."""

    cuda: str
    cudnn: str


def tensorflow_requirements(tf_version: str) -> TensorflowRequirements | None:
    """(cuda, cudnn) for TensorFlow `tf_version` ("2.15.1"); None when unknown."""
    row = _tf_row(tf_version)
    return TensorflowRequirements(str(row["cuda"]), str(row["cudnn"])) if row is not None else None


def _tf_row(tf_version: str) -> dict[str, Any] | None:
    wanted = _mm(tf_version)
    for row in _rows("tensorflow_cuda"):
        low, high = _mm(row["tf_min"]), _mm(row["tf_max"])
        if wanted is not None and low is not None and high is not None and low <= wanted <= high:
            return row
    return None


def tensorflow_releases() -> list[str]:
    """Every TensorFlow minor release the table covers ("2.4" ... "2.21"), oldest first."""
    out: list[str] = []
    for row in _rows("tensorflow_cuda"):
        low, high = _mm(row["tf_min"]), _mm(row["tf_max"])
        if low is not None and high is not None and low[0] == high[0]:
            out += [f"{low[0]}.{minor}" for minor in range(low[1], high[1] + 1)]
    return out


def tensorflow_windows_gpu(tf_version: str) -> bool | None:
    """Whether TensorFlow `tf_version` published a GPU build for native Windows (2.10 was the last);
    None when the table has no row for it."""
    row = _tf_row(tf_version)
    return bool(row.get("windows_native_gpu")) if row is not None else None


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

    for row in _rows("jax_cuda"):
        if row["cuda_major"] == major:
            return JaxCuda(major, str(row["extra"]), str(row["plugin"]), opt(row, "min_cuda"), opt(row, "cudnn_min"),
                           opt(row, "cudnn_below"), opt(row, "min_driver"), opt(row, "min_sm"), opt(row, "nccl_min"))
    return None


def jax_cuda_majors() -> list[int]:
    """The CUDA majors JAX publishes wheels for, newest first."""
    return sorted({int(r["cuda_major"]) for r in _rows("jax_cuda")}, reverse=True)


# --- GPU peaks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuPeaks:
    """Dense datasheet peaks (TFLOPS, GB/s) and best measured figures of one GPU model; None = unknown."""

    name: str
    fp32_tflops: float | None
    tf32_tflops: float | None
    bf16_tflops: float | None
    fp16_tflops: float | None
    memory_bandwidth_gbs: float | None
    best_bf16_tflops: float | None
    best_copy_gbs: float | None
    verified: bool = True


def gpu_peaks(gpu_name: str) -> GpuPeaks | None:
    """The peaks of the GPU NVML or amdsmi names `gpu_name` ("NVIDIA H100 80GB HBM3"); None when unknown.

    Only exact models match: an H100 PCIe is not an H100 SXM.
    """
    name = " ".join(gpu_name.split())
    if not name:
        return None

    def num(row: dict[str, Any], key: str) -> float | None:
        value = row.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    for row in _rows("gpu_peaks"):
        patterns = [str(p) for p in row.get("match") or ()]
        if name.lower() == str(row["name"]).lower() or any(re.fullmatch(p, name, re.IGNORECASE) for p in patterns):
            return GpuPeaks(
                str(row["name"]), num(row, "fp32_tflops"), num(row, "tf32_tflops"), num(row, "bf16_tflops"),
                num(row, "fp16_tflops"), num(row, "memory_bandwidth_gbs"), num(row, "best_bf16_tflops"),
                num(row, "best_copy_gbs"), bool(row.get("verified", True)),
            )
    return None


# --- frameworks ---------------------------------------------------------------------------


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
    rows: list[str] = []
    if key == "pytorch":
        rows = [str(r["torch"]) for r in _rows("torch_variants")]
    elif key == "tensorflow":
        rows = [str(r["tf_max"]) for r in _rows("tensorflow_cuda")]
    known = [(mm, text) for text in rows if (mm := _mm(text)) is not None]
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
    return [_framework(r) for r in _rows("frameworks")]


def framework_info(name_or_dist: str) -> FrameworkInfo | None:
    """The framework named `name_or_dist`: its key, name, alias, import name or a PyPI distribution
    ("torch", "TensorFlow", "jax-cuda13-plugin", "mxnet-cu112"); None when unknown."""
    from dldoctor.knowledge import vocabulary

    wanted = _dist_key(name_or_dist)
    if not wanted:
        return None
    named = vocabulary.lookup(name_or_dist)
    if named is not None:
        return next(_framework(row) for row in _rows("frameworks") if row["key"] == named.key)
    for row in _rows("frameworks"):
        if any(fnmatchcase(wanted, _dist_key(str(d["name"]))) for d in row["distributions"]):
            return _framework(row)
    return None


# --- the tables themselves ---------------------------------------------------------------


def summary(today: date | None = None) -> list[dict[str, Any]]:
    """One entry per table for `dldoctor knowledge`: name, source, verified (ISO date), rows,
    age_days, overridden, path."""
    from dldoctor.knowledge import table, table_names

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
