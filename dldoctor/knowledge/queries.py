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
    "choose_jax_variant",
    "parse_capability",
    "CloudRule",
    "FrameworkDistribution",
    "FrameworkInfo",
    "GpuPeaks",
    "JaxCuda",
    "TensorflowRequirements",
    "TorchVariant",
    "VariantChoice",
    "WheelArchs",
    "capability_runs",
    "choose_torch_variant",
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


def _runs_how(cc: str, archs: WheelArchs, allow_ptx: bool = True) -> str | None:
    """"sm" when a cubin runs on `cc`, "ptx" when only PTX JIT does, None when neither."""
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
    return _runs_how(cc, archs) is not None


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


def rocm_gfx_targets(rocm_version: str) -> list[str] | None:
    """The gfx targets in PyTorch's ROCm `rocm_version` wheel ("6.2.4", or a HIP version "6.2.41133-...").

    An exact row wins; else the newest row of the same major.minor not newer than
    the given version. None when unknown.
    """
    given = _v(rocm_version.strip().split("-")[0].removeprefix("rocm"))
    if given is None:
        return None
    best: tuple[Version, dict[str, Any]] | None = None
    for row in _rows("rocm_gfx"):
        rv = _v(str(row["rocm"]))
        if rv is None:
            continue
        if rv == given:
            best = (rv, row)
            break
        if rv.release[:2] == given.release[:2] and rv <= given and (best is None or rv > best[0]):
            best = (rv, row)
    if best is None or best[1].get("targets") is None:
        return None
    return [str(t) for t in best[1]["targets"]]


# --- TensorFlow and JAX -----------------------------------------------------------------


class TensorflowRequirements(NamedTuple):
    """The CUDA and cuDNN a TensorFlow release was built and tested with."""

    cuda: str
    cudnn: str


def tensorflow_requirements(tf_version: str) -> TensorflowRequirements | None:
    """(cuda, cudnn) for TensorFlow `tf_version` ("2.15.1"); None when unknown."""
    wanted = _mm(tf_version)
    if wanted is None:
        return None
    for row in _rows("tensorflow_cuda"):
        low, high = _mm(row["tf_min"]), _mm(row["tf_max"])
        if low is not None and high is not None and low <= wanted <= high:
            return TensorflowRequirements(str(row["cuda"]), str(row["cudnn"]))
    return None


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
    wanted = _dist_key(name_or_dist)
    if not wanted:
        return None
    for row in _rows("frameworks"):
        names = [row["key"], row["name"], row.get("import") or "", *(row.get("aliases") or ())]
        if wanted in {_dist_key(str(n)) for n in names if n}:
            return _framework(row)
    for row in _rows("frameworks"):
        if any(fnmatchcase(wanted, _dist_key(str(d["name"]))) for d in row["distributions"]):
            return _framework(row)
    return None


# --- the variant picker -------------------------------------------------------------------


@dataclass(frozen=True)
class VariantChoice:
    """The PyTorch wheel variant to install ("cu126", "rocm7.2", "cpu"), why, and why each newer one was not."""

    variant: str
    reason: str
    rejected: list[tuple[str, str]]


@dataclass(frozen=True)
class _Driver:
    """The NVIDIA driver as the picker knows it: a driver version, or only the CUDA version it supports."""

    text: str
    driver: str | None  # "580.95.05"
    cuda: str | None  # the newest CUDA it fully supports

    def describe(self) -> str:
        if self.driver is None:
            return f"your driver (CUDA {self.cuda})"
        return f"driver {self.driver}" + (f" (CUDA {self.cuda})" if self.cuda else "")

    def tier(self, cuda: str, os_name: str) -> str | None:
        if self.driver is not None:
            return driver_runs_cuda(self.driver, cuda, os_name)
        have, want = _v(self.cuda or ""), _v(cuda)
        if have is None or want is None:
            return None
        if want.release[:2] <= have.release[:2]:
            return "full"
        # Only the CUDA version is known: the driver is at least the full floor of that version.
        if have.major == want.major:
            implied = _v(min_driver(f"{have.major}.{have.minor}", "full", os_name) or "")
            floor = _v(min_driver(cuda, "minor", os_name) or "")
            if implied is None or floor is None or implied >= floor:
                return "minor" if floor is not None else None
        return None


def _driver(text: str, os_name: str) -> _Driver | None:
    v = _v(text.strip())
    if v is None:
        return None
    # A driver version's major is a three-digit branch (470, 580); a CUDA version's is small (12, 13).
    if v.major >= 100:
        return _Driver(text.strip(), text.strip(), max_cuda_for_driver(text.strip(), os_name))
    return _Driver(text.strip(), None, f"{v.major}.{v.release[1] if len(v.release) > 1 else 0}")


def _tier_text(tier: str, variant: TorchVariant, os_name: str) -> str:
    cuda = variant.version or ""
    full = min_driver(cuda, "full", os_name)
    if tier == "full":
        return f"CUDA {cuda} fully supported (needs driver >= {full})"
    minor = min_driver(cuda, "minor", os_name)
    return (f"CUDA {cuda} runs under minor-version compatibility (CUDA {cuda.split('.')[0]}.x needs driver >= {minor}; "
            f"full support needs {full})")


def _driver_reject(drv: _Driver, variant: TorchVariant, os_name: str) -> str:
    cuda = variant.version or ""
    minor = min_driver(cuda, "minor", os_name)
    full = min_driver(cuda, "full", os_name)
    have = f"driver {drv.driver} supports CUDA {drv.cuda or 'unknown'}" if drv.driver else \
        f"your driver supports CUDA {drv.cuda}"
    if minor and full and minor != full:
        need = f"needs >= {minor} (minor-version compatibility) or >= {full} (full support)"
    else:
        need = f"needs >= {minor or full or 'an unknown driver'}"
    return f"{have}; {variant.name} {need}"


def _pick_cuda(torch_version: str, variants: list[TorchVariant], drv: _Driver, caps: list[tuple[int, int]],
               machine_arch: str, os_name: str) -> tuple[TorchVariant | None, str, list[tuple[str, str]]]:
    """The newest CUDA variant that runs; (None, summary, rejected) when none does."""
    rejected: list[tuple[str, str]] = []
    arch_misses: set[str] = set()
    driver_misses = 0
    cuda_variants = sorted((v for v in variants if v.kind == "cuda"), key=_variant_sort_key, reverse=True)
    for variant in cuda_variants:
        tier = drv.tier(variant.version or "", os_name)
        archs = torch_wheel_archs(variant.name, torch_version, machine_arch)
        why: list[str] = []
        via_ptx: list[str] = []
        if archs is None:
            why.append(f"no compiled-arch list is known for the {variant.name} build")
        else:
            # Minor-version compatibility does not cover PTX built by a newer toolkit than the driver's.
            missing = []
            for cc in caps:
                how = _runs_how(_dotted(cc), archs, allow_ptx=tier != "minor")
                if how is None:
                    missing.append(cc)
                elif how == "ptx":
                    via_ptx.append(_sm(cc))
            if missing:
                names = ", ".join(_sm(cc) for cc in missing)
                arch_misses.update(_sm(cc) for cc in missing)
                why.append(f"your {names} GPU is not in the {variant.name} build ({archs.describe()})")
        if tier is None:
            driver_misses += 1
            why.append(_driver_reject(drv, variant, os_name))
        if why:
            rejected.append((variant.name, "; ".join(why)))
            continue
        text = f"the newest CUDA build of PyTorch {_minor_of(torch_version)} that {drv.describe()} runs: " \
               f"{_tier_text(tier or 'full', variant, os_name)}"
        if caps:
            text += f", with kernels for {', '.join(_sm(cc) for cc in caps)}"
            if via_ptx:
                text += f" ({', '.join(via_ptx)} through PTX JIT)"
        else:
            text += "; the GPU's compute capability is unknown, so its kernels were not checked"
        return variant, text, rejected
    release = _minor_of(torch_version)
    if not cuda_variants:
        return None, f"PyTorch {release} publishes no CUDA build", rejected
    if driver_misses == len(cuda_variants) and not arch_misses:
        oldest = cuda_variants[-1]
        floor = min_driver(oldest.version or "", "minor", os_name) or min_driver(oldest.version or "", "full", os_name)
        return None, (f"{drv.describe()} is too old for every CUDA build of PyTorch {release}: the oldest, "
                      f"{oldest.name}, needs driver >= {floor}"), rejected
    if arch_misses and driver_misses == 0:
        return None, f"no CUDA build of PyTorch {release} includes {', '.join(sorted(arch_misses))}", rejected
    return None, (f"no CUDA build of PyTorch {release} both runs on {drv.describe()} and includes the GPU's "
                  f"compute capability: " + "; ".join(f"{n}: {w}" for n, w in rejected)), rejected


def _newer_release_hint(torch_version: str, drv: _Driver, caps: list[tuple[int, int]], machine_arch: str,
                        os_name: str, include_experimental: bool) -> str:
    here = _mm(torch_version)
    releases = sorted((mm, str(r["torch"])) for r in _rows("torch_variants") if (mm := _mm(str(r["torch"]))) is not None)
    for mm, release in releases:
        if here is None or mm <= here:
            continue
        variant, _text, _rej = _pick_cuda(release, torch_release_variants(release, include_experimental), drv, caps,
                                          machine_arch, os_name)
        if variant is not None:
            return f"; PyTorch {release} has a {variant.name} build that would run here"
    return ""


def _pick_rocm(torch_version: str, variants: list[TorchVariant], gfx: list[str]) -> VariantChoice:
    release = _minor_of(torch_version)
    rejected: list[tuple[str, str]] = []
    rocm = sorted((v for v in variants if v.kind == "rocm"), key=_variant_sort_key, reverse=True)
    for variant in rocm:
        targets = rocm_gfx_targets(variant.version or "")
        if targets is None:
            rejected.append((variant.name, f"the gfx targets of the {variant.name} build are not known"))
            continue
        missing = [g for g in gfx if g not in targets]
        if missing:
            rejected.append((variant.name, f"your {', '.join(missing)} GPU is not in the {variant.name} build "
                                           f"({', '.join(targets)})"))
            continue
        note = "" if variant.verified else " (this release's ROCm variant is unverified)"
        return VariantChoice(variant.name, f"the newest ROCm build of PyTorch {release} compiled for "
                                           f"{', '.join(gfx)}{note}", rejected)
    if not rocm:
        return VariantChoice("cpu", f"PyTorch {release} publishes no ROCm build for {', '.join(gfx)}", rejected)
    return VariantChoice("cpu", f"no ROCm build of PyTorch {release} includes {', '.join(gfx)}: "
                                + "; ".join(w for _n, w in rejected), rejected)


def choose_torch_variant(
    torch_version: str,
    *,
    cuda_driver_version: str | None,
    capabilities: list[str],
    machine_arch: str = "x86_64",
    rocm_gfx: list[str] | None = None,
    include_experimental: bool = False,
    os_name: str = "linux",
) -> VariantChoice:
    """The PyTorch `torch_version` wheel variant for a machine, with the reason and what was passed over.

    NVIDIA: the newest CUDA variant whose CUDA the driver runs (fully, or under
    minor-version compatibility) and whose compiled archs cover every GPU in
    `capabilities` ("8.6" or "sm_86"). `cuda_driver_version` is the driver's
    version ("580.95.05") or, when only that is known, the CUDA version the
    driver supports ("12.4"). AMD (`rocm_gfx` given, e.g. ["gfx942"]): the newest
    ROCm variant whose gfx list covers every target. Otherwise "cpu", with the
    reason. `rejected` explains each newer variant passed over.
    """
    release = _minor_of(torch_version) or torch_version
    variants = torch_release_variants(torch_version, include_experimental)
    if not variants:
        return VariantChoice("cpu", f"PyTorch {torch_version} is not in the knowledge base; cannot pick a GPU build", [])
    if rocm_gfx:
        return _pick_rocm(torch_version, variants, [_gfx(g) for g in rocm_gfx])
    if not cuda_driver_version:
        why = "no NVIDIA driver" if capabilities else "no NVIDIA or AMD GPU"
        return VariantChoice("cpu", f"{why} found, so PyTorch {release}'s CPU build", [])
    drv = _driver(cuda_driver_version, os_name)
    if drv is None:
        return VariantChoice("cpu", f"the driver version {cuda_driver_version!r} cannot be read", [])
    caps = [cc for c in capabilities if (cc := parse_capability(c)) is not None]
    unreadable = [c for c in capabilities if parse_capability(c) is None]
    if unreadable:
        return VariantChoice("cpu", f"compute capability {', '.join(unreadable)} cannot be read", [])
    variant, text, rejected = _pick_cuda(torch_version, variants, drv, caps, machine_arch, os_name)
    if variant is not None:
        return VariantChoice(variant.name, text, rejected)
    hint = _newer_release_hint(torch_version, drv, caps, machine_arch, os_name, include_experimental)
    return VariantChoice("cpu", f"{text}{hint}", rejected)


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


def choose_jax_variant(*, cuda_driver_version: str | None, capabilities: list[str],
                       os_name: str = "linux") -> VariantChoice:
    """JAX's build for this machine: "cuda13", "cuda12" (the `jax[...]` extras) or "cpu", and why.

    `cuda_driver_version` is a driver version ("580.95.05") or only the CUDA
    version a driver supports ("12.6", when locking for another machine). The
    newest CUDA major whose wheels the driver runs (fully or under minor-version
    compatibility) and whose minimum compute capability every GPU meets wins.
    """
    drv = _driver(cuda_driver_version, os_name) if cuda_driver_version else None
    caps = [cc for c in capabilities if (cc := parse_capability(c)) is not None]
    if drv is None or not caps:
        return VariantChoice("cpu", "no usable NVIDIA GPU", [])
    rejected: list[tuple[str, str]] = []
    for major in sorted({int(r["cuda_major"]) for r in _rows("jax_cuda")}, reverse=True):
        need = jax_cuda_requirements(major)
        if need is None:
            continue
        name = f"cuda{major}"
        floor_cc = parse_capability(need.min_sm) if need.min_sm else None
        if floor_cc is not None and any(cc < floor_cc for cc in caps):
            rejected.append((name, f"needs compute capability >= {need.min_sm}"))
            continue
        cuda = need.min_cuda or f"{major}.0"
        tier = drv.tier(cuda, os_name)
        if tier is not None:
            how = "fully" if tier == "full" else "under minor-version compatibility"
            return VariantChoice(name, f"JAX {name}: {drv.describe()} runs CUDA {cuda}+ builds {how}", rejected)
        floor = min_driver(cuda, "minor", os_name) or min_driver(cuda, "full", os_name)
        rejected.append((name, f"needs driver >= {floor}, found {drv.describe()}"))
    return VariantChoice("cpu", f"JAX CPU: {drv.describe()} is too old for JAX's CUDA builds", rejected)
