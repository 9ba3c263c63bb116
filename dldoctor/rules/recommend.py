"""Recommendations: the build of each framework that fits this machine, and the commands that get it."""

from __future__ import annotations

from dldoctor import knowledge
from dldoctor.report import Recommendation
from dldoctor.rules.compat import ask, driver_tier, version
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


def newest(framework: str) -> str | None:
    """The newest release of `framework` the knowledge base has tables for."""
    info = ask(knowledge.framework_info, framework)
    return info.latest if info is not None else None


def newest_torch() -> str | None:
    return newest("pytorch")


def _usable_nvidia(facts: Facts) -> bool:
    from dldoctor.rules.containers import container_without_gpus

    return bool(facts.working_gpus) and not container_without_gpus(facts)


def _no_gpu_why(facts: Facts) -> str:
    """Why the CPU build is the one to install here, in the words that fit this machine."""
    from dldoctor.rules.containers import container_without_gpus

    if container_without_gpus(facts):
        return "no GPU is passed into this container: start it with --gpus all, then check again"
    if facts.has_nvidia_hardware:
        return "the NVIDIA GPU is not usable until the driver problems above are fixed; check again then"
    return _NO_GPU


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _driver_fact(facts: Facts) -> str:
    cuda = facts.cuda_driver_version
    if facts.driver_version:
        return f"driver {facts.driver_version}" + (f" supports CUDA {cuda}" if cuda else "")
    return f"your driver supports CUDA {cuda}" if cuda else "the driver version is unknown"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _order(text: str) -> tuple[int, ...]:
    v = version(text)
    return v.release if v is not None else ()


def _passed_over(facts: Facts, torch: str, rejected: list[tuple[str, str]], caps: list[str]) -> tuple[list[str], str | None]:
    """Short reasons the newer CUDA variants were passed over, and the lowest driver that would run one of them."""
    driver = facts.driver_version
    no_arch: dict[str, list[str]] = {}
    needs: dict[str, list[str]] = {}
    other: list[str] = []
    upgrade: str | None = None
    for name, why in rejected:
        cuda = knowledge.cuda_of_variant(name)
        archs = ask(knowledge.torch_wheel_archs, name, torch, facts.arch) if cuda else None
        if cuda is None or archs is None:
            other.append(f"{name}: {why}")
            continue
        missing = [c for c in caps if not knowledge.capability_runs(c, archs)]
        runs = ask(knowledge.driver_runs_cuda, driver, cuda, facts.driver_os) if driver else None
        floor = ask(knowledge.min_driver, cuda, "minor", facts.driver_os) or \
            ask(knowledge.min_driver, cuda, "full", facts.driver_os)
        if missing:
            key = ", ".join(f"sm_{c.replace('.', '')}" for c in missing)
            no_arch.setdefault(key, []).append(name)
        elif runs is None:
            unknown = f"newer than this one (no {facts.driver_os} floor is known for them)"
            needs.setdefault(f">= {floor}" if floor else unknown, []).append(name)
            if floor and (upgrade is None or _order(floor) < _order(upgrade)):
                upgrade = floor
        else:
            other.append(f"{name}: {why}")
    parts = [f"your {sm} GPU is not in the {_and(names)} build{'s' if len(names) > 1 else ''}"
             for sm, names in no_arch.items()]
    parts += [f"{_and(names)} need{'s' if len(names) == 1 else ''} a driver {floor}" for floor, names in needs.items()]
    return parts + other, upgrade


def _older_release(facts: Facts, torch: str, driver: str, caps: list[str]) -> tuple[str, str] | None:
    """The newest older PyTorch release (same major) with a CUDA build that runs here: ("2.7", "cu118")."""
    here = version(torch)
    if here is None:
        return None
    for minor in range(here.minor - 1, -1, -1):
        release = f"{here.major}.{minor}"
        if not ask(knowledge.torch_release_variants, release):
            continue
        choice = ask(knowledge.choose_torch_variant, release, cuda_driver_version=driver, capabilities=caps,
                     machine_arch=facts.arch, os_name=facts.driver_os.lower())
        if choice is not None and choice.variant != "cpu":
            return release, _tag(choice.variant)
    return None


def _nvidia_inputs(facts: Facts) -> tuple[str | None, list[str]]:
    """What the picker is told about the NVIDIA side: the driver (or its CUDA) and the GPUs' capabilities."""
    if not _usable_nvidia(facts):
        return None, []
    return facts.driver_version or facts.cuda_driver_version, _unique(facts.capabilities)


def gpu_install(facts: Facts, framework: str) -> str | None:
    """The command that gets `framework` onto the GPU here: the recommended build, or, where the newest
    PyTorch has no build that runs on this driver and GPU, the newest older release that has one."""
    command = install_command(facts, framework)
    choice = torch_choice(facts) if framework == "pytorch" else None
    driver, caps = _nvidia_inputs(facts)
    if choice is None or choice[0] != "cpu" or choice[3] is None or driver is None:
        return command
    older = _older_release(facts, choice[3], driver, caps)
    if older is None:
        return command
    return f"pip install 'torch=={older[0]}.*' --index-url {TORCH_INDEX}/{older[1]}"


def _gfx_override_hint(gfx: list[str], tag: str) -> str:
    """For a consumer AMD GPU no ROCm build covers: the unofficial HSA_OVERRIDE_GFX_VERSION way in."""
    from dldoctor.rules.amd import override_for

    if tag != "cpu":
        return ""
    hints = [f"HSA_OVERRIDE_GFX_VERSION={o[0]} (unofficial, {o[1]}) lets a ROCm build run {g}"
             for g in gfx if (o := override_for(g)) is not None]
    return "; " + "; ".join(hints) if hints else ""


def torch_choice(facts: Facts) -> tuple[str, str, tuple[tuple[str, str], ...], str | None] | None:
    """(variant tag, reason, rejected, torch version) for this machine; None when the knowledge base cannot tell."""
    torch = newest_torch()
    nvidia = _usable_nvidia(facts)
    gfx = _unique(facts.gfx_targets)
    rocm = bool(gfx) and not nvidia
    if torch is None:
        return None
    if not nvidia and not rocm:
        return "cpu", f"PyTorch {torch} cpu: {_no_gpu_why(facts)}", (), torch
    driver, caps = _nvidia_inputs(facts)
    choice = ask(knowledge.choose_torch_variant, torch, cuda_driver_version=driver, capabilities=caps,
                 machine_arch=facts.arch, rocm_gfx=gfx if rocm else None, os_name=facts.driver_os.lower())
    if choice is None or not choice.variant:
        return None
    tag = _tag(choice.variant)
    rejected = tuple((str(v), str(r)) for v, r in choice.rejected)
    head = f"PyTorch {torch} {tag}: "
    if rocm:
        return tag, head + choice.reason + _gfx_override_hint(gfx, tag), rejected, torch
    parts = [_driver_fact(facts)]
    cuda = knowledge.cuda_of_variant(tag)
    if cuda is not None and facts.driver_version:
        tier = driver_tier(facts.driver_version, cuda, facts.driver_os)
        if tier.tier == "minor-version compatibility":
            parts.append(f"{tag} runs under minor-version compatibility (CUDA {cuda.split('.')[0]}.x needs "
                         f">= {tier.compat_floor})")
    passed, upgrade = _passed_over(facts, torch, list(rejected), caps)
    parts += passed
    if tag == "cpu" and driver is not None:
        ways = [f"upgrade the driver to >= {upgrade}"] if upgrade else []
        older = _older_release(facts, torch, driver, caps)
        if older:
            ways.append(f"use PyTorch {older[0]} {older[1]}, which runs here")
        if ways:
            parts.append(" or ".join(ways))
    return tag, head + "; ".join(parts), rejected, torch


def torch_install(tag: str) -> str:
    return f"pip install torch --index-url {TORCH_INDEX}/{tag}"


def torch_setup(tag: str) -> str:
    if tag.startswith("rocm"):
        return f"dldoctor setup pytorch --backend venv --variant {tag}"
    return f"dldoctor setup pytorch --variant {setup_variant(tag)}"


def _tensorflow(facts: Facts) -> Recommendation:
    cpu = ("pip install tensorflow-cpu", "dldoctor setup tensorflow --variant cpu")
    if _usable_nvidia(facts) and facts.os == "Linux" and facts.arch == "x86_64":
        tf = newest("tensorflow")
        need = ask(knowledge.tensorflow_requirements, tf) if tf else None
        tier = driver_tier(facts.driver_version, need.cuda, facts.driver_os) if need else None
        if tier is not None and tier.runs is False:
            floor = tier.compat_floor or tier.full_floor
            return Recommendation(
                "tensorflow", "cpu",
                f"TensorFlow {tf} CPU: {_driver_fact(facts)}; TensorFlow {tf} needs CUDA {need.cuda if need else '?'} "
                f"(driver >= {floor}): upgrade the driver for the GPU build", *cpu,
                (("cuda", f"needs driver >= {floor}, found {facts.driver_version}"),))
        reason = f"TensorFlow {tf or ''} with the [and-cuda] extra: {_driver_fact(facts)}" + \
                 (f", TensorFlow needs CUDA {need.cuda}" if need else "") + \
                 "; the matching CUDA and cuDNN come as pip wheels"
        variant = f"cuda{need.cuda}" if need else "auto"
        return Recommendation("tensorflow", "cuda", reason.replace("  ", " "), "pip install 'tensorflow[and-cuda]'",
                              f"dldoctor setup tensorflow --variant {variant}")
    why = "AMD GPU: use the tensorflow-rocm build or a ROCm container" if facts.gfx_targets else _no_gpu_why(facts)
    return Recommendation("tensorflow", "cpu", f"TensorFlow CPU: {why}", *cpu)


def _jax(facts: Facts) -> Recommendation:
    if not _usable_nvidia(facts):
        return Recommendation("jax", "cpu", f"JAX CPU: {_no_gpu_why(facts)}", "pip install jax",
                              "dldoctor setup jax --variant cpu")
    choice = ask(knowledge.choose_jax_variant, cuda_driver_version=facts.driver_version or facts.cuda_driver_version,
                 capabilities=facts.capabilities, os_name=facts.driver_os)
    if choice is None or choice.variant == "cpu":
        reason = choice.reason if choice is not None else "JAX CPU: the knowledge base cannot place this driver"
        return Recommendation("jax", "cpu", reason, "pip install jax", "dldoctor setup jax --variant cpu",
                              tuple(choice.rejected) if choice is not None else ())
    return Recommendation("jax", choice.variant, choice.reason, f"pip install 'jax[{choice.variant}]'",
                          f"dldoctor setup jax --variant {choice.variant}", tuple(choice.rejected))


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

