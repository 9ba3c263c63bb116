"""Frameworks: will each installed one use the GPU here, and if not, the one cause that explains it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from dldoctor.knowledge import vocabulary
from dldoctor.knowledge.versions import version
from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.amd import build_targets, uncovered_gfx
from dldoctor.rules.compat import (
    DriverTier,
    capability_covered,
    driver_tier,
    jax_min_capability,
    rocm_gfx_verified,
    tensorflow_cuda,
    toolkit_cannot_compile,
    torch_arch_list,
)
from dldoctor.rules.containers import container_without_gpus, windows_tensorflow_without_gpu
from dldoctor.rules.cuda import cudnn_breaks, hides_all_gpus
from dldoctor.rules.driver import uvm_missing
from dldoctor.rules.fixes import install_nvidia_driver
from dldoctor.snapshot.facts import Facts, dicts, pick, strings

explains("frameworks.will-use-gpu", "The framework will use the GPU", """
The installed build fits this machine: the driver runs its CUDA (or ROCm)
version and the GPU's architecture is compiled into it. With `--deep` this is
what the framework itself reported.
""")
explains("frameworks.no-gpu", "No GPU on this machine", """
This machine has no NVIDIA or AMD GPU that a framework could use, so every
framework runs on the CPU. That is fine for serving most models and for
development; for training, use a cloud GPU instance or a consumer NVIDIA card.
""")
explains("frameworks.cpu-build-on-gpu-machine", "A CPU-only build on a GPU machine", """
The installed build of the framework has no GPU support (a `+cpu` wheel, the
`tensorflow-cpu` package, jax without a CUDA plugin, a conda build string
without `cuda`, often picked silently by the conda solver when `__cuda` is
missing), yet the machine has a working GPU. The framework will run on the
CPU. Reinstall the GPU variant.
""")
explains("driver.too-old-for-framework", "The driver is too old for the framework's CUDA", """
The framework's build uses a CUDA runtime newer than the driver supports.
NVIDIA drivers run CUDA binaries of their own CUDA version and older ("full
support"), and, with limits, newer minor versions of the same major
("minor-version compatibility", e.g. any 12.x on a driver >= 525.60.13). Below
both, the framework reports no GPU ("CUDA driver version is insufficient for
CUDA runtime version"). Upgrade the driver, or install a build for an older
CUDA.
""")
explains("frameworks.capability-not-compiled", "The GPU's architecture is not compiled into the build", """
A CUDA build contains machine code for a list of GPU architectures (sm_XY),
plus sometimes PTX that the driver can compile for newer ones. A GPU outside
that list fails with "no kernel image is available for execution on the
device" (PyTorch also warns "... is not compatible with the current PyTorch
installation"). Old GPUs are dropped from new builds (CUDA 13 builds start at
sm_75); brand-new GPUs need a build from a recent CUDA. Install a variant
whose list includes your GPU.
""")
explains("frameworks.tensorflow-missing-cuda-libs", "TensorFlow cannot find cuDNN / the CUDA libraries", """
TensorFlow's pip package does not bundle CUDA: it loads libcudart, cuBLAS and
cuDNN of the versions it was built with, from nvidia-* pip wheels or from the
system. With neither, it prints "Could not find cuda drivers" / "Cannot dlopen
some GPU libraries" and runs on the CPU. `pip install 'tensorflow[and-cuda]'`
installs the matching wheels.
""")
explains("frameworks.jax-plugin-driver", "JAX's CUDA plugin needs a newer driver", """
JAX's CUDA 13 plugin (jax[cuda13]) needs a driver of the CUDA 13 branch
(>= 580) and the CUDA 12 plugin one of the CUDA 12 branch (>= 525). On an
older driver JAX falls back to the CPU with a warning. Install the plugin that
matches the driver, or upgrade the driver.
""")
explains("frameworks.build-for-other-vendor", "The framework is built for another GPU vendor", """
The installed build targets NVIDIA CUDA while the machine has an AMD GPU (or
ROCm while it has an NVIDIA GPU). It cannot use this machine's GPU.
""")
explains("frameworks.gpu-not-used", "The framework reported that it sees no GPU", """
With `--deep`, the framework itself was imported and reported no usable GPU,
though dldoctor found no known cause. Its warnings (in the detail) usually
name the reason.
""")
explains("frameworks.cannot-verify-build", "dldoctor cannot vouch that the build has kernels for this GPU", """
The build's list of compiled GPU architectures (or ROCm gfx targets) is not
known to dldoctor, so it cannot say whether the build has
kernels for this GPU. It may work; if it does not, the error is "no kernel
image is available for execution on the device" (CUDA) or
"hipErrorNoBinaryForGpu" (ROCm). `dldoctor check --deep` imports the framework
and reads the list from the build itself.
""")
explains("frameworks.retired", "The framework is retired", """
The framework no longer gets releases or fixes (MXNet moved to the Apache
Attic in 2023; CNTK's last release was in 2019; Caffe2 was folded into
PyTorch). Its builds stop matching new drivers, CUDA versions and Python
versions. Plan a move to PyTorch, JAX or TensorFlow.
""")



def _reinstall(facts: Facts, name: str) -> list[str]:
    from dldoctor.rules.recommend import gpu_install

    cmd = gpu_install(facts, name)
    if cmd is None:
        return [f"pip uninstall {pick_dist(name)} && pip install {_gpu_pip(name)}  # the GPU build"]
    if name == "pytorch":
        return [cmd.replace("pip install ", "pip install --force-reinstall ", 1)]
    if name == "tensorflow":
        return ["pip uninstall -y tensorflow-cpu tensorflow", cmd]
    return [cmd]


def pick_dist(name: str) -> str:
    """The distribution that carries the build of framework `name` ("pytorch" -> "torch")."""
    return vocabulary.build_distribution(name)


def _gpu_pip(name: str) -> str:
    known = vocabulary.lookup(name)
    return (known.gpu_pip if known is not None else None) or name


def _conda_package(name: str) -> str:
    known = vocabulary.lookup(name)
    return (known.conda_build_package if known is not None else None) or pick_dist(name)


def _label(fw: dict[str, Any]) -> str:
    return f"{pick(fw, 'name', kind=str) or '?'} {pick(fw, 'version', kind=str) or ''}".strip()


def _conda_build(fw: dict[str, Any]) -> str | None:
    return pick(fw, "conda_build", kind=str)


def _build_cuda(fw: dict[str, Any]) -> str | None:
    """The CUDA version the framework's build needs ("12.6", or "12" when only the major is known)."""
    name = pick(fw, "name", kind=str)
    cuda = pick(fw, "cuda_version", kind=str)
    if cuda:
        return cuda
    if name == "tensorflow":
        return tensorflow_cuda(pick(fw, "version", kind=str))[0]
    return None


def _deep(fw: dict[str, Any]) -> dict[str, Any] | None:
    deep = fw.get("deep")
    return deep if isinstance(deep, dict) and not deep.get("error") else None


def _deep_sees_gpu(deep: dict[str, Any]) -> bool | None:
    available = pick(deep, "cuda_available", kind=bool)
    if available is not None:
        return available
    count = pick(deep, "device_count", kind=int)
    return count > 0 if count is not None else None


def _arch_list(fw: dict[str, Any], facts: Facts) -> tuple[list[str], bool] | None:
    """The GPU architectures the build has kernels for, and whether that list can be vouched for
    (what the framework itself reported, or a knowledge row checked against its source)."""
    deep = _deep(fw)
    if deep is not None:
        arch = [a for a in strings(deep.get("arch_list")) if not a.startswith("gfx")]
        if arch:
            return arch, True
        caps = pick(deep, "build_info", "cuda_compute_capabilities", kind=list)
        if caps:
            return strings(caps), True
    name = pick(fw, "name", kind=str)
    if name == "pytorch":
        return torch_arch_list(pick(fw, "version", kind=str), pick(fw, "cuda_version", kind=str), facts.arch)
    if name == "jax":
        need = jax_min_capability(pick(fw, "cuda_version", kind=str))
        return ([f"compute_{need.replace('.', '')}"], True) if need else None
    return None


def _tf_libs_missing(facts: Facts, fw: dict[str, Any]) -> str | None:
    """Why TensorFlow will not find cuDNN, or None when it will (or cannot be told)."""
    if facts.os != "Linux":
        return None
    _, cudnn = tensorflow_cuda(pick(fw, "version", kind=str))
    need = version(cudnn)
    wheels = [w for w in facts.nvidia_wheels if (pick(w, "distribution", kind=str) or "").startswith("nvidia-cudnn")]
    if wheels:
        return None
    system = [c for c in facts.libraries("cudnn") if (pick(c, "source", kind=str) or "").startswith(("system", "conda"))]
    if need is None:
        return None if system else "no cuDNN found (no nvidia-cudnn wheel, none on the system)"
    if any((v := version(pick(c, "version", kind=str))) is not None and v.major == need.major for c in system):
        return None
    found = ", ".join(str(pick(c, "version", kind=str)) for c in system) or "none"
    return f"needs cuDNN {need.major} (built with {cudnn}); found: no nvidia-cudnn wheel, system cuDNN {found}"


def _ld_shadow_breaks(facts: Facts) -> bool:
    from dldoctor.rules.cuda import ld_library_path_shadows

    return any(f.severity is Severity.ERROR for f in ld_library_path_shadows(facts))


class _Case:
    """One framework on this machine: the facts every step of the verdict reads, each computed once."""

    def __init__(self, facts: Facts, fw: dict[str, Any]) -> None:
        self.facts, self.fw = facts, fw
        self.name = pick(fw, "name", kind=str) or "?"
        self.variant = pick(fw, "variant", kind=str)
        self.main = self.name in vocabulary.main_frameworks()
        self.label = _label(fw)
        self.ev: dict[str, Any] = {"framework": self.name}
        self.nvidia_hw = facts.has_nvidia_hardware
        self.amd_hw = bool(facts.gfx_targets) or bool(pick(facts.amd, "present", kind=bool))
        self.build = _conda_build(fw)
        self.cpu_build = self.variant == "cpu" or (self.build is not None and self.build.startswith("cpu"))
        self.deep = _deep(fw)

    @functools.cached_property
    def cuda(self) -> str | None:
        return _build_cuda(self.fw)

    @functools.cached_property
    def tier(self) -> DriverTier:
        f = self.facts
        return driver_tier(f.driver_version, self.cuda, f.driver_os, f.cuda_driver_version)

    @functools.cached_property
    def archs(self) -> tuple[list[str], bool]:
        """The build's compiled architectures and whether the build itself vouches for them."""
        found = _arch_list(self.fw, self.facts)
        return found if found is not None else ([], False)

    @functools.cached_property
    def caps(self) -> list[str]:
        return sorted(set(self.facts.capabilities))


#: A step of the verdict: the findings that settle it (an empty list when another rule speaks),
#: or None to ask the next step.
_Step = Callable[[_Case], "list[Finding] | None"]


def _no_gpu(c: _Case) -> list[Finding] | None:
    """1. No GPU at all."""
    if c.nvidia_hw or c.amd_hw:
        return None
    if not c.main:
        return []
    return [Finding("frameworks.no-gpu", Severity.INFO, f"{c.label} runs on the CPU: this machine has no GPU",
                    "CPU is fine for serving most models; for training use a cloud GPU instance or a consumer "
                    "NVIDIA card.", evidence=c.ev | {"found": c.variant, "required": "a GPU"})]


def _gpu_unreachable(c: _Case) -> list[Finding] | None:
    """2-3. Causes that have their own findings: the container, CUDA_VISIBLE_DEVICES, a broken driver."""
    if c.nvidia_hw and not c.amd_hw:
        if container_without_gpus(c.facts) or hides_all_gpus(c.facts):
            return []
        if not c.facts.working_gpus and not c.facts.wsl:
            return []  # the driver rules say why no GPU answers
    return None


def _windows_tensorflow(c: _Case) -> list[Finding] | None:
    """host.windows-tensorflow-no-gpu speaks: no GPU build exists there to reinstall."""
    return [] if windows_tensorflow_without_gpu(c.facts, c.fw) else None


def _cpu_build(c: _Case) -> list[Finding] | None:
    """4. A CPU-only build."""
    if not c.cpu_build:
        return None
    sev = Severity.ERROR if c.main else Severity.WARNING
    found = f"{c.variant or 'cpu'} build" + (f" (conda build {c.build})" if c.build else "")
    fix = _reinstall(c.facts, c.name)
    if c.build:
        fix = [f"conda install -c conda-forge '{_conda_package(c.name)}=*=cuda*'  "
               "# CONDA_OVERRIDE_CUDA=<driver CUDA> when solving on a machine without a GPU", *fix]
    return [Finding(
        "frameworks.cpu-build-on-gpu-machine", sev, f"{c.label} is a CPU-only build on a GPU machine",
        f"Found the {found}; it will never use the {'NVIDIA' if c.nvidia_hw else 'AMD'} GPU.", tuple(fix),
        evidence=c.ev | {"found": found, "required": "a CUDA build" if c.nvidia_hw else "a ROCm build"},
    )]


def _other_vendor(c: _Case) -> list[Finding] | None:
    """4. A build for the other vendor's GPU."""
    v = c.variant
    if not (v == "cuda" and c.amd_hw and not c.nvidia_hw or v == "rocm" and c.nvidia_hw and not c.amd_hw):
        return None
    return [Finding(
        "frameworks.build-for-other-vendor", Severity.ERROR if c.main else Severity.WARNING,
        f"{c.label} is a {v} build but the GPU is {'AMD' if c.amd_hw else 'NVIDIA'}",
        "It cannot use this machine's GPU.", tuple(_reinstall(c.facts, c.name)),
        evidence=c.ev | {"found": v, "required": "rocm" if c.amd_hw else "cuda"},
    )]


def _rocm(c: _Case) -> list[Finding] | None:
    """A ROCm build on an AMD GPU: its gfx list decides (the steps below are about CUDA)."""
    if c.variant != "rocm":
        return None
    if uncovered_gfx(c.facts, c.fw):
        return []  # amd.gfx-not-in-build speaks
    if c.deep is not None and _deep_sees_gpu(c.deep) is False:
        return [_not_used(c.fw, c.deep, c.label, c.ev)]
    if build_targets(c.fw) is None:
        return [_cannot_verify(c.label, ", ".join(c.facts.gfx_targets), c.ev)]
    rocm = pick(c.fw, "cuda_version", kind=str)  # the probe keeps the ROCm version here
    inferred = c.deep is None and not rocm_gfx_verified(rocm)
    if not c.main:
        return []
    return [Finding("frameworks.will-use-gpu", Severity.INFO, f"{c.label} will use the AMD GPU",
                    "Its gfx list is inferred, not checked against the build." if inferred else "",
                    evidence=c.ev | {"found": c.variant, "gfx": c.facts.gfx_targets, "inferred_targets": inferred})]


def _not_cuda(c: _Case) -> list[Finding] | None:
    """Neither CUDA nor ROCm (e.g. DirectML, OpenVINO): nothing more to judge."""
    return [] if c.variant != "cuda" else None


def _driver_too_old(c: _Case) -> list[Finding] | None:
    """5. Driver too old for the build's CUDA."""
    tier, facts = c.tier, c.facts
    if tier.runs is not False:
        return None
    fid = "frameworks.jax-plugin-driver" if c.name == "jax" else "driver.too-old-for-framework"
    required = tier.full_floor or tier.compat_floor
    branch = (required or "").split(".", 1)[0] or None
    fix = [*install_nvidia_driver(facts, branch), *_reinstall(facts, c.name)[:1]]
    fix[-1] += "  # or, instead of the driver upgrade: a build this driver runs"
    return [Finding(
        fid, Severity.ERROR,
        f"{c.label} needs CUDA {c.cuda}: driver {facts.driver_version or 'of unknown version'} "
        f"(CUDA {facts.cuda_driver_version or '?'}) is too old",
        f"Full support needs driver >= {tier.full_floor or '?'}; minor-version compatibility needs "
        f">= {tier.compat_floor or '?'}. The framework will report no GPU.",
        tuple(fix),
        evidence=c.ev | {"found": facts.driver_version, "required": required, "cuda": c.cuda,
                         "full_support_floor": tier.full_floor, "minor_compat_floor": tier.compat_floor},
    )]


def _capability_impossible(c: _Case) -> list[Finding] | None:
    """6. The build's CUDA cannot compile for the GPU's capability at all (no arch list needed)."""
    arch, _vouched = c.archs
    if arch or not c.caps:
        return None
    impossible = toolkit_cannot_compile(c.cuda, c.caps)
    if not impossible:
        return None
    return [Finding(
        "frameworks.capability-not-compiled", Severity.ERROR,
        f"{c.label} has no kernels for sm_{', sm_'.join(b.replace('.', '') for b in impossible)}: "
        "\"no kernel image is available\"",
        f"CUDA {c.cuda} cannot compile for compute capability {', '.join(impossible)} at all, so no build "
        f"made with it has kernels for this GPU.",
        tuple(_reinstall(c.facts, c.name)),
        evidence=c.ev | {"found": impossible, "required": f"a build newer than CUDA {c.cuda}"},
    )]


def _capability_not_compiled(c: _Case) -> list[Finding] | None:
    """6. The GPU's capability is missing from the build's arch list."""
    arch, _vouched = c.archs
    bad = sorted({cap for cap in c.caps if capability_covered(cap, arch) is False}) if arch else []
    if not bad:
        return None
    return [Finding(
        "frameworks.capability-not-compiled", Severity.ERROR,
        f"{c.label} has no kernels for sm_{', sm_'.join(b.replace('.', '') for b in bad)}: "
        "\"no kernel image is available\"",
        f"The build covers {', '.join(arch)}.",
        tuple(_reinstall(c.facts, c.name)),
        evidence=c.ev | {"found": bad, "required": arch},
    )]


def _tensorflow_libs(c: _Case) -> list[Finding] | None:
    """7. TensorFlow without the cuDNN it needs."""
    why = _tf_libs_missing(c.facts, c.fw) if c.name == "tensorflow" else None
    if not why:
        return None
    return [Finding(
        "frameworks.tensorflow-missing-cuda-libs", Severity.ERROR,
        f"{c.label} will not find cuDNN: it runs on the CPU", why,
        ("pip install 'tensorflow[and-cuda]'",),
        evidence=c.ev | {"found": "no matching cuDNN", "required": tensorflow_cuda(pick(c.fw, "version", kind=str))[1]},
    )]


def _libraries_speak(c: _Case) -> list[Finding] | None:
    """7. cuda.ld-library-path-shadows / python.shadowed-framework / cuda.cudnn-too-old / driver.nvidia-uvm-missing."""
    f = c.facts
    if _ld_shadow_breaks(f) or dicts(c.fw.get("duplicates")) or cudnn_breaks(f, c.fw) or uvm_missing(f):
        return []
    return None


def _kernels_unverifiable(c: _Case) -> list[Finding] | None:
    """Nothing above found a cause, but the build's kernels cannot be checked either."""
    arch, _vouched = c.archs
    if arch or not c.caps:
        return None
    return [_cannot_verify(c.label, ", ".join(f"sm_{cap.replace('.', '')}" for cap in c.caps), c.ev)]


def _deep_not_used(c: _Case) -> list[Finding] | None:
    """The framework itself (--deep) says it sees no GPU."""
    if c.deep is not None and _deep_sees_gpu(c.deep) is False:
        return [_not_used(c.fw, c.deep, c.label, c.ev)]
    return None


def _will_use_gpu(c: _Case) -> list[Finding] | None:
    """No cause found: a main framework will use the GPU."""
    if not c.main:
        return []
    arch, vouched = c.archs
    tier = c.tier
    how = "" if tier.tier in ("full", "unknown") else f" under minor-version compatibility (driver >= {tier.compat_floor})"
    return [Finding(
        "frameworks.will-use-gpu", Severity.INFO, f"{c.label} will use the GPU (CUDA {c.cuda or '?'}{how})",
        "Reported by the framework itself." if c.deep is not None else
        "Its compiled-architecture list is inferred, not checked against the build." if arch and not vouched else "",
        evidence=c.ev | {"found": c.variant, "cuda": c.cuda, "driver_tier": tier.tier},
    )]


#: The verdict's causes, in order: the first that settles it wins (as nox runs its workflow).
VERDICT_STEPS: tuple[_Step, ...] = (
    _no_gpu, _gpu_unreachable, _windows_tensorflow, _cpu_build, _other_vendor, _rocm, _not_cuda,
    _driver_too_old, _capability_impossible, _capability_not_compiled, _tensorflow_libs, _libraries_speak,
    _kernels_unverifiable, _deep_not_used, _will_use_gpu,
)


def _verdict(facts: Facts, fw: dict[str, Any]) -> Iterator[Finding]:
    """The one cause that explains whether `fw` uses the GPU here: the first step of VERDICT_STEPS that settles it."""
    case = _Case(facts, fw)
    for step in VERDICT_STEPS:
        settled = step(case)
        if settled is not None:
            yield from settled
            return


def _cannot_verify(label: str, gpus: str, ev: dict[str, Any]) -> Finding:
    return Finding(
        "frameworks.cannot-verify-build", Severity.WARNING, f"cannot verify that {label} has kernels for {gpus}",
        "dldoctor does not know which GPU architectures this build was compiled for. If the GPU is missing from "
        "them, the framework fails with \"no kernel image is available\".",
        ("dldoctor check --deep  # imports the framework and reads its own list",),
        evidence=ev | {"found": None, "required": gpus},
    )


def _not_used(fw: dict[str, Any], deep: dict[str, Any], label: str, ev: dict[str, Any]) -> Finding:
    warnings = strings(deep.get("warnings"))
    return Finding(
        "frameworks.gpu-not-used", Severity.ERROR, f"{label} reports no usable GPU",
        "\n".join(w[:300] for w in warnings[:3]) or "The framework gave no warning.",
        ("python -c 'import torch; print(torch.cuda.is_available())'  # for PyTorch; read the warning it prints",),
        evidence=ev | {"found": "no GPU", "warnings": warnings[:5]},
    )


@rule
def framework_gpu(facts: Facts) -> Iterator[Finding]:
    """For each GPU-capable framework, the one cause that says whether it will use the GPU here."""
    for fw in facts.frameworks:
        known = vocabulary.lookup(pick(fw, "name", kind=str) or "")
        if known is not None and known.gpu_capable:
            yield from _verdict(facts, fw)


@rule
def retired(facts: Facts) -> Iterator[Finding]:
    """A retired framework (MXNet, CNTK, Caffe2): no builds for new drivers, CUDA or Python."""
    for fw in facts.frameworks:
        if pick(fw, "status", kind=str) != "retired":
            continue
        name = pick(fw, "name", kind=str) or "?"
        yield Finding(
            "frameworks.retired", Severity.WARNING, f"{_label(fw)} is retired: no more releases or fixes",
            pick(fw, "note", kind=str) or "",
            ("plan a move to PyTorch, JAX or TensorFlow",),
            evidence={"framework": name, "found": pick(fw, "version", kind=str), "required": "a maintained framework"},
        )
