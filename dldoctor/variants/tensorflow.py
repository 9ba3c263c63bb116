"""Which TensorFlow release and build fits a target machine.

TensorFlow publishes one GPU build per release, for the CUDA it was tested with,
on Linux x86_64 (WSL2 included) and, up to the last release that had one, on
native Windows. The newest release whose CUDA the driver runs wins; otherwise the
CPU build, with the reason.
"""

from __future__ import annotations

from dldoctor.knowledge.cuda import min_driver
from dldoctor.knowledge.tensorflow import (
    tensorflow_pip_cuda,
    tensorflow_releases,
    tensorflow_requirements,
    tensorflow_windows_gpu,
)
from dldoctor.variants.choice import Choice, release_key
from dldoctor.variants.target import Target


def releases() -> list[str]:
    """Every TensorFlow release the knowledge base has a row for, newest first."""
    return sorted(tensorflow_releases(), key=release_key, reverse=True)


def _gpu_platform(target: Target, release: str) -> str | None:
    """Why `release` has no GPU build for the target's platform, or None when it has one."""
    if target.os == "Windows":
        if tensorflow_windows_gpu(release):
            return None
        return f"TensorFlow {release} has no GPU build on native Windows (use WSL2, or TensorFlow 2.10)"
    if target.os != "Linux" or target.arch not in ("x86_64", "amd64"):
        return f"TensorFlow publishes GPU builds only for Linux x86_64, not {target.os} {target.arch}"
    return None


def _fit(target: Target, release: str) -> tuple[str | None, str | None, str | None]:
    """(CUDA, tier, why not) of `release`'s GPU build on `target`."""
    need = tensorflow_requirements(release)
    if need is None:
        return None, None, f"TensorFlow {release} has no known CUDA build"
    platform = _gpu_platform(target, release)
    if platform:
        return need.cuda, None, platform
    tier = target.tier(need.cuda)
    if tier is None:
        floor = min_driver(need.cuda, "minor", target.driver_os) or \
            min_driver(need.cuda, "full", target.driver_os)
        return need.cuda, None, f"needs CUDA {need.cuda}, a driver >= {floor}"
    return need.cuda, tier, None


def choose(target: Target, release: str | None = None) -> Choice:
    """The TensorFlow release and build for `target` (only `release` when pinned), and why."""
    known = releases()
    candidates = [release] if release is not None else known
    newest = release or (known[0] if known else "")
    if not target.nvidia_usable:
        why = "AMD GPU: use the tensorflow-rocm build or a ROCm container" if target.gfx else target.no_gpu_reason
        return Choice("tensorflow", newest, "cpu", f"TensorFlow {newest} CPU: {why}")
    passed: list[tuple[str, str]] = []
    for rel in candidates:
        cuda, tier, why_not = _fit(target, rel)
        if why_not is not None or cuda is None:
            passed.append((f"TensorFlow {rel}", why_not or "no CUDA build"))
            continue
        how = "fully supports" if tier == "full" else "runs, under minor-version compatibility,"
        if tensorflow_pip_cuda(rel) is False:
            need = tensorflow_requirements(rel)
            cudnn = need.cudnn if need is not None else "?"
            reason = (f"TensorFlow {rel}: {target.describe_driver()} {how} CUDA {cuda}; TensorFlow before 2.14 has "
                      f"no [and-cuda] extra, so CUDA {cuda} and cuDNN {cudnn} must be installed on the system")
        else:
            reason = (f"TensorFlow {rel} with the [and-cuda] extra: {target.describe_driver()} {how} CUDA {cuda}; "
                      "the matching CUDA and cuDNN come as pip wheels")
        if passed:
            reason += f"; newer releases do not fit ({passed[0][0]} {passed[0][1]})"
        return Choice("tensorflow", rel, f"cuda{cuda}", reason, tier, tuple(passed))
    head = f"{passed[0][0]} {passed[0][1]}" if passed else "no GPU build"
    return Choice("tensorflow", newest, "cpu", f"TensorFlow {newest} CPU: {head}; upgrade the driver for the GPU build",
                  passed_over=tuple(passed))


def pip_name(release: str | None, kind: str) -> str:
    """The PyPI requirement name of TensorFlow `release` ("2.3"; None or "" for the newest) in build `kind`
    ("cuda", "cpu"): "tensorflow[and-cuda]" for a GPU build that has the extra, plain "tensorflow" for an older
    GPU build (CUDA and cuDNN from the system), "tensorflow-cpu" for the CPU build."""
    if kind != "cuda":
        return "tensorflow-cpu"
    return "tensorflow" if release and tensorflow_pip_cuda(release) is False else "tensorflow[and-cuda]"


def refusal(target: Target, release: str, variant: str) -> str | None:
    """Why `variant` of TensorFlow `release` cannot work on `target`, or None."""
    if variant == "cpu":
        return None
    if not variant.startswith("cuda"):
        return f"TensorFlow has no {variant} build on PyPI"
    if not target.nvidia_usable:
        return target.no_gpu_reason
    cuda, _tier, why_not = _fit(target, release)
    if why_not:
        return why_not
    if cuda and variant != f"cuda{cuda}":
        return f"TensorFlow {release} is built with CUDA {cuda}, not {variant.removeprefix('cuda')}"
    return None
