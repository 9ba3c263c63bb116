"""Recommendations: the build of each framework that fits this machine, and the commands that get it."""

from __future__ import annotations

from dldoctor.report import Recommendation
from dldoctor.rules.compat import _ask, _rows, compat_floor, driver_tier, version
from dldoctor.rules.facts import Facts

TORCH_INDEX = "https://download.pytorch.org/whl"
_NO_GPU = ("no usable GPU here: the CPU build is fine for serving most models; for training, use a cloud GPU "
           "instance or a consumer NVIDIA card")


def _tag(variant: str) -> str:
    """"cuda12.6" / "cu126" / "12.6" -> "cu126"; "rocm7.2" and "cpu" stay."""
    text = variant.strip().lower()
    if text.startswith("cuda"):
        text = text[4:]
    if text and text[0].isdigit():
        return "cu" + text.replace(".", "")
    return text


def setup_variant(tag: str) -> str:
    """"cu126" -> "cuda12.6" (what `dldoctor setup --variant` takes)."""
    if tag.startswith("cu") and tag[2:].isdigit():
        digits = tag[2:]
        return f"cuda{digits[:-1]}.{digits[-1]}"
    return tag


def newest_torch() -> str | None:
    info = _ask("framework_info", "pytorch")
    for key in ("latest", "newest", "latest_version", "version"):
        value = info.get(key) if isinstance(info, dict) else getattr(info, key, None)
        if isinstance(value, str):
            return value
    versions = [v for r in _rows("torch_wheels") if (v := version(r.get("torch")))]
    return str(max(versions)) if versions else None


def _usable_nvidia(facts: Facts) -> bool:
    from dldoctor.rules.containers import container_without_gpus

    return bool(facts.working_gpus) and not container_without_gpus(facts)


def torch_choice(facts: Facts) -> tuple[str, str, tuple[tuple[str, str], ...], str | None] | None:
    """(variant tag, reason, rejected, torch version) for this machine; None when the knowledge base cannot tell."""
    torch = newest_torch()
    nvidia = _usable_nvidia(facts)
    rocm = bool(facts.gfx_targets) and not nvidia
    if not nvidia and not rocm:
        return "cpu", f"PyTorch {torch or ''} CPU: {_NO_GPU}".replace("  ", " "), (), torch
    choice = _ask(
        "choose_torch_variant", torch,
        cuda_driver_version=facts.cuda_driver_version if nvidia else None,
        capabilities=facts.capabilities if nvidia else [],
        machine_arch=facts.arch,
        rocm_gfx=facts.gfx_targets if rocm else [],
    )
    if choice is None or not getattr(choice, "variant", None):
        return None
    tag = _tag(str(getattr(choice, "variant", "cpu")))
    reason = str(getattr(choice, "reason", "") or "")
    rejected = tuple((str(v), str(r)) for v, r in (getattr(choice, "rejected", ()) or ()))
    return tag, f"PyTorch {torch} {tag}: {reason}" if torch and reason and not reason.startswith("PyTorch") else reason, \
        rejected, torch


def torch_install(tag: str) -> str:
    return f"pip install torch --index-url {TORCH_INDEX}/{tag}"


def torch_setup(tag: str) -> str:
    if tag.startswith("rocm"):
        return f"dldoctor setup pytorch --backend venv --variant {tag}"
    return f"dldoctor setup pytorch --variant {setup_variant(tag)}"


def _tensorflow(facts: Facts) -> Recommendation:
    if _usable_nvidia(facts) and facts.os == "Linux" and facts.arch == "x86_64":
        reason = f"TensorFlow on Linux with an NVIDIA GPU (driver CUDA {facts.cuda_driver_version or '?'}): " \
                 "the [and-cuda] extra brings the matching CUDA and cuDNN as pip wheels"
        return Recommendation("tensorflow", "cuda", reason, "pip install 'tensorflow[and-cuda]'",
                              "dldoctor setup tensorflow --variant cuda")
    why = "AMD GPU: use the tensorflow-rocm build or a ROCm container" if facts.gfx_targets else _NO_GPU
    return Recommendation("tensorflow", "cpu", f"TensorFlow CPU: {why}", "pip install tensorflow-cpu",
                          "dldoctor setup tensorflow --variant cpu")


def _jax(facts: Facts) -> Recommendation:
    if not _usable_nvidia(facts):
        return Recommendation("jax", "cpu", f"JAX CPU: {_NO_GPU}", "pip install jax", "dldoctor setup jax --variant cpu")
    rejected: list[tuple[str, str]] = []
    for major in (13, 12):
        floor = compat_floor(major, facts.os)
        tier = driver_tier(facts.driver_version, str(major), facts.os)
        caps_ok = True
        min_cc = _ask("jax_cuda_requirements", str(major))
        need = getattr(min_cc, "min_capability", None) or (min_cc.get("min_capability") if isinstance(min_cc, dict)
                                                             else None)
        floor_cc = version(need)
        if floor_cc is not None and any((v := version(c)) is not None and v < floor_cc for c in facts.capabilities):
            caps_ok = False
            rejected.append((f"cuda{major}", f"needs compute capability >= {need}"))
            continue
        if tier.runs and caps_ok:
            return Recommendation(
                "jax", f"cuda{major}",
                f"JAX cuda{major}: driver {facts.driver_version} >= {floor}, the floor of CUDA {major} builds",
                f"pip install 'jax[cuda{major}]'", f"dldoctor setup jax --variant cuda{major}",
                tuple(rejected))
        rejected.append((f"cuda{major}", f"needs driver >= {floor}, found {facts.driver_version}"))
    return Recommendation("jax", "cpu", f"JAX CPU: driver {facts.driver_version} is too old for JAX's CUDA builds",
                          "pip install jax", "dldoctor setup jax --variant cpu", tuple(rejected))


def recommend(facts: Facts, focus: str | None) -> list[Recommendation]:
    """The right build of PyTorch, TensorFlow and JAX here (only `focus` when it is set)."""
    out: list[Recommendation] = []
    if focus in (None, "pytorch"):
        choice = torch_choice(facts)
        if choice is not None:
            tag, reason, rejected, _ = choice
            out.append(Recommendation("pytorch", tag, reason, torch_install(tag), torch_setup(tag), rejected))
    if focus in (None, "tensorflow"):
        out.append(_tensorflow(facts))
    if focus in (None, "jax"):
        out.append(_jax(facts))
    return out


def install_command(facts: Facts, framework: str) -> str | None:
    """The install command of the recommended build of `framework`, for fixes."""
    for rec in recommend(facts, framework if framework in ("pytorch", "tensorflow", "jax") else "none"):
        return rec.install
    return None

