"""Which JAX build fits a target machine: the `jax[cudaN]` extra, or the CPU build.

The newest CUDA major whose wheels the driver runs (fully or under
minor-version compatibility) and whose minimum compute capability every GPU
meets wins.
"""

from __future__ import annotations

from dldoctor.knowledge.cuda import min_driver
from dldoctor.knowledge.jax import JaxRelease, jax_cuda_majors, jax_cuda_requirements, jax_releases
from dldoctor.knowledge.versions import major as cuda_major_of
from dldoctor.knowledge.versions import parse_capability
from dldoctor.variants.choice import Choice, release_key
from dldoctor.variants.target import Target


def _fit(target: Target, major: int) -> tuple[str, str | None, str | None]:
    """(CUDA, tier, why not) of JAX's CUDA `major` wheels on `target`."""
    need = jax_cuda_requirements(major)
    if need is None:
        return f"{major}.0", None, f"JAX publishes no CUDA {major} wheels"
    cuda = need.min_cuda or f"{major}.0"
    floor_cc = parse_capability(need.min_sm) if need.min_sm else None
    low = [c for c in target.capabilities if floor_cc and (cc := parse_capability(c)) and cc < floor_cc]
    if low:
        return cuda, None, f"needs compute capability >= {need.min_sm}, found {', '.join(low)}"
    tier = target.tier(cuda)
    if tier is None:
        floor = min_driver(cuda, "minor", target.driver_os) or \
            min_driver(cuda, "full", target.driver_os)
        return cuda, None, f"needs driver >= {floor}, found {target.describe_driver()}"
    return cuda, tier, None


def _older_release_fits(target: Target, row: JaxRelease) -> bool:
    """Whether the CUDA wheels of a past jaxlib range (a jax_releases row) run on `target`."""
    floor_cc = parse_capability(row.min_sm) if row.min_sm else None
    if floor_cc is not None and any((cc := parse_capability(c)) is None or cc < floor_cc for c in target.capabilities):
        return False
    return row.min_cuda is not None and target.tier(row.min_cuda) is not None


def last_release_that_runs(target: Target) -> JaxRelease | None:
    """The newest past jaxlib range whose CUDA wheels the driver runs (None when jax_releases has none):
    what a machine too old for JAX's current CUDA builds could still use."""
    past = [r for r in jax_releases() if r.jaxlib_max is not None and _older_release_fits(target, r)]
    return max(past, key=lambda r: release_key(r.jaxlib_max), default=None)


def choose(target: Target, release: str | None = None) -> Choice:
    """JAX's build for `target`, and why. `release` pins the jax version; the extra depends only on the CUDA major."""
    rel = release or ""
    if not target.nvidia_usable:
        return Choice("jax", rel, "cpu", f"JAX CPU: {target.no_gpu_reason}")
    passed: list[tuple[str, str]] = []
    for major in jax_cuda_majors():
        cuda, tier, why_not = _fit(target, major)
        if why_not is not None:
            passed.append((f"cuda{major}", why_not))
            continue
        how = "fully" if tier == "full" else "under minor-version compatibility"
        return Choice("jax", rel, f"cuda{major}.0", f"JAX cuda{major}: {target.describe_driver()} runs CUDA {cuda}+ "
                      f"builds {how}", tier, tuple(passed))
    reason = f"JAX CPU: {target.describe_driver()} is too old for JAX's CUDA builds"
    older = last_release_that_runs(target) if not release else None
    if older is not None:
        extra = older.extras[0] if older.extras else f"cuda{older.cuda_major}"
        reason += (f"; jaxlib {older.jaxlib_max} (jax[{extra}], CUDA {older.min_cuda}) was the last release whose "
                   "CUDA builds this machine runs" + ("" if older.verified else " (unverified)"))
    return Choice("jax", rel, "cpu", reason, passed_over=tuple(passed))


def refusal(target: Target, release: str, variant: str) -> str | None:
    """Why `variant` ("cuda12.0") of JAX cannot work on `target`, or None."""
    if variant == "cpu":
        return None
    if not variant.startswith("cuda"):
        return f"JAX has no {variant} build on PyPI (AMD: jax[rocm7-local])"
    if not target.nvidia_usable:
        return target.no_gpu_reason
    cuda_major = cuda_major_of(variant.removeprefix("cuda"))
    if cuda_major is None:
        return f"JAX has no {variant} build on PyPI"
    _cuda, _tier, why_not = _fit(target, cuda_major)
    return why_not
