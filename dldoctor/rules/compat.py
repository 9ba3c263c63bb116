"""The rules' door to the knowledge base: driver tiers, build arch lists, PTX coverage.

Pure logic lives here (minor-version compatibility, which GPUs a list of
`sm_XY` / `compute_XY` targets covers); the facts themselves come from
`dldoctor.knowledge`. A question the knowledge base cannot answer yields None,
and the rules then say nothing rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from dldoctor.errors import DldoctorError
from dldoctor.knowledge import cuda as cuda_kb
from dldoctor.knowledge import jax as jax_kb
from dldoctor.knowledge import pytorch as pytorch_kb
from dldoctor.knowledge import rocm as rocm_kb
from dldoctor.knowledge import tensorflow as tensorflow_kb
from dldoctor.knowledge.versions import cuda_tag, parse_capability, version

P = ParamSpec("P")
R = TypeVar("R")


def ask(query: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """Call knowledge query `query`; None when it cannot answer (an unreadable or overridden table
    that lacks a row's field must cost one verdict, not the whole report)."""
    try:
        return query(*args, **kwargs)
    except (DldoctorError, OSError, LookupError, TypeError, ValueError, AttributeError):
        return None


# --- driver tiers -----------------------------------------------------------------------

@dataclass(frozen=True)
class DriverTier:
    """How a driver runs binaries of one CUDA version."""

    tier: str  # "full", "minor-version compatibility", "too old", "unknown"
    full_floor: str | None
    compat_floor: str | None

    @property
    def runs(self) -> bool | None:
        return {"full": True, "minor-version compatibility": True, "too old": False}.get(self.tier)


def compat_floor(cuda_major: int, os_name: str = "Linux") -> str | None:
    """The minor-version-compatibility floor of a CUDA major branch (580.65.06 for 13.x)."""
    answer = ask(cuda_kb.min_driver, f"{cuda_major}.0", "minor", os_name)
    return str(answer) if answer else None


def driver_tier(driver: str | None, cuda: str | None, os_name: str = "Linux",
                driver_cuda: str | None = None) -> DriverTier:
    """Whether `driver` runs CUDA `cuda` ("12.6", or "12" for a major-only build): fully, under
    minor-version compatibility (same major, driver at or above the branch floor), or not.

    With no driver version, `driver_cuda` (the newest CUDA the driver supports, e.g. from
    nvidia-smi's header) answers the same question the way the chooser does.
    """
    from dldoctor.variants import Target

    d = version(driver)
    c = version(cuda)
    if c is None or (d is None and version(driver_cuda) is None):
        return DriverTier("unknown", None, None)
    cuda_mm = f"{c.major}.{c.minor}"  # a major-only "12" reads as 12.0
    full = ask(cuda_kb.min_driver, cuda_mm, "full", os_name)
    minor = ask(cuda_kb.min_driver, cuda_mm, "minor", os_name)
    target = Target(driver_os=os_name, driver=str(driver) if d is not None else None, cuda_driver=driver_cuda)
    how = ask(target.tier, cuda_mm)
    if how == "full":
        return DriverTier("full", full, minor)
    if how == "minor":
        return DriverTier("minor-version compatibility", full, minor)
    if full is None and minor is None:
        return DriverTier("unknown", full, minor)
    return DriverTier("too old", full, minor)


# --- GPU architectures ----------------------------------------------------------------------

_cc = parse_capability


def capability_covered(capability: str, arch_list: list[str]) -> bool | None:
    """Whether a device of `capability` ("8.6") runs a build with `arch_list`.

    `sm_XY` (or a bare "X.Y") is machine code: it runs on devices of the same
    major with minor >= Y. `compute_XY` (or "X.Y+PTX") is PTX: the driver
    JIT-compiles it for any device >= X.Y.
    """
    device = _cc(capability)
    if device is None:
        return None
    for entry in arch_list:
        text = entry.strip()
        plus_ptx = text.upper().endswith("+PTX")
        base = text[:-4] if plus_ptx else text
        target = _cc(base)
        if target is None:
            continue
        pure_ptx = base.lower().startswith("compute_")
        if (plus_ptx or pure_ptx) and device >= target:
            return True
        if not pure_ptx and device[0] == target[0] and device[1] >= target[1]:
            return True
    return False


def torch_arch_list(torch_version: str | None, cuda: str | None,
                    machine_arch: str = "x86_64") -> tuple[list[str], bool] | None:
    """The compute capabilities compiled into PyTorch `torch_version`'s CUDA `cuda` wheel, and whether
    that list was checked against its source (False: inferred, so a match cannot be vouched for)."""
    if not torch_version or not cuda:
        return None
    tag = cuda_tag(cuda)
    answer = ask(pytorch_kb.torch_wheel_archs, tag, torch_version, machine_arch) if tag else None
    return (answer.arch_list, answer.verified) if answer is not None else None


def toolkit_cannot_compile(cuda: str | None, capabilities: list[str]) -> list[str]:
    """The capabilities CUDA toolkit `cuda` cannot compile for at all (CUDA 10.2 and sm_86)."""
    if not cuda:
        return []
    return [c for c in capabilities if ask(cuda_kb.cuda_supports_capability, cuda, c) is False]


def rocm_gfx_targets(rocm: str | None) -> list[str] | None:
    if not rocm:
        return None
    answer = ask(rocm_kb.rocm_gfx_targets, rocm)
    return sorted(answer) if answer is not None else None


def rocm_gfx_verified(rocm: str | None) -> bool:
    return bool(rocm) and ask(rocm_kb.rocm_gfx_verified, rocm or "") is True


def tensorflow_cuda(tf_version: str | None) -> tuple[str | None, str | None]:
    """(CUDA, cuDNN) TensorFlow `tf_version` was built and tested with."""
    if not tf_version:
        return None, None
    answer = ask(tensorflow_kb.tensorflow_requirements, tf_version)
    if answer is None:
        return None, None
    return answer.cuda or None, answer.cudnn or None


def jax_min_capability(cuda_major: str | None) -> str | None:
    answer = ask(jax_kb.jax_cuda_requirements, cuda_major) if cuda_major else None
    return answer.min_capability if answer is not None else None
