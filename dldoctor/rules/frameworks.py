"""Frameworks: will each installed one use the GPU here, and if not, the one cause that explains it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dldoctor.knowledge import vocabulary
from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.amd import build_targets, uncovered_gfx
from dldoctor.rules.compat import (
    capability_covered,
    driver_tier,
    jax_min_capability,
    rocm_gfx_verified,
    tensorflow_cuda,
    toolkit_cannot_compile,
    torch_arch_list,
    version,
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


def _verdict(facts: Facts, fw: dict[str, Any]) -> Iterator[Finding]:
    name = pick(fw, "name", kind=str) or "?"
    variant = pick(fw, "variant", kind=str)
    main = name in vocabulary.main_frameworks()
    label = _label(fw)
    ev: dict[str, Any] = {"framework": name}
    nvidia_hw = facts.has_nvidia_hardware
    amd_hw = bool(facts.gfx_targets) or bool(pick(facts.amd, "present", kind=bool))
    build = _conda_build(fw)
    cpu_build = variant == "cpu" or (build is not None and build.startswith("cpu"))
    deep = _deep(fw)

    # 1. No GPU at all.
    if not nvidia_hw and not amd_hw:
        if main:
            yield Finding("frameworks.no-gpu", Severity.INFO, f"{label} runs on the CPU: this machine has no GPU",
                          "CPU is fine for serving most models; for training use a cloud GPU instance or a consumer "
                          "NVIDIA card.", evidence=ev | {"found": variant, "required": "a GPU"})
        return
    # 2-3. Causes that have their own findings: the container, CUDA_VISIBLE_DEVICES, a broken driver.
    if nvidia_hw and not amd_hw:
        if container_without_gpus(facts) or hides_all_gpus(facts):
            return
        if not facts.working_gpus and not facts.wsl:
            return  # the driver rules say why no GPU answers
    # 4. A CPU-only build, or one for the other vendor.
    if windows_tensorflow_without_gpu(facts, fw):
        return  # host.windows-tensorflow-no-gpu speaks: no GPU build exists there to reinstall
    if cpu_build:
        sev = Severity.ERROR if main else Severity.WARNING
        found = f"{variant or 'cpu'} build" + (f" (conda build {build})" if build else "")
        fix = _reinstall(facts, name)
        if build:
            fix = [f"conda install -c conda-forge '{_conda_package(name)}=*=cuda*'  "
                   "# CONDA_OVERRIDE_CUDA=<driver CUDA> when solving on a machine without a GPU", *fix]
        yield Finding(
            "frameworks.cpu-build-on-gpu-machine", sev, f"{label} is a CPU-only build on a GPU machine",
            f"Found the {found}; it will never use the {'NVIDIA' if nvidia_hw else 'AMD'} GPU.", tuple(fix),
            evidence=ev | {"found": found, "required": "a CUDA build" if nvidia_hw else "a ROCm build"},
        )
        return
    if variant == "cuda" and amd_hw and not nvidia_hw or variant == "rocm" and nvidia_hw and not amd_hw:
        yield Finding(
            "frameworks.build-for-other-vendor", Severity.ERROR if main else Severity.WARNING,
            f"{label} is a {variant} build but the GPU is {'AMD' if amd_hw else 'NVIDIA'}",
            "It cannot use this machine's GPU.", tuple(_reinstall(facts, name)),
            evidence=ev | {"found": variant, "required": "rocm" if amd_hw else "cuda"},
        )
        return
    if variant == "rocm":
        missing = uncovered_gfx(facts, fw)
        if missing:
            return  # amd.gfx-not-in-build speaks
        if deep is not None and _deep_sees_gpu(deep) is False:
            yield _not_used(fw, deep, label, ev)
            return
        if build_targets(fw) is None:
            yield _cannot_verify(label, ", ".join(facts.gfx_targets), ev)
            return
        rocm = pick(fw, "cuda_version", kind=str)  # the probe keeps the ROCm version here
        inferred = deep is None and not rocm_gfx_verified(rocm)
        if main:
            yield Finding("frameworks.will-use-gpu", Severity.INFO, f"{label} will use the AMD GPU",
                          "Its gfx list is inferred, not checked against the build." if inferred else "",
                          evidence=ev | {"found": variant, "gfx": facts.gfx_targets, "inferred_targets": inferred})
        return
    if variant != "cuda":
        return
    # 5. Driver too old for the build's CUDA.
    cuda = _build_cuda(fw)
    tier = driver_tier(facts.driver_version, cuda, facts.driver_os, facts.cuda_driver_version)
    if tier.runs is False:
        fid = "frameworks.jax-plugin-driver" if name == "jax" else "driver.too-old-for-framework"
        required = tier.full_floor or tier.compat_floor
        branch = (required or "").split(".", 1)[0] or None
        fix = [*install_nvidia_driver(facts, branch), *_reinstall(facts, name)[:1]]
        fix[-1] += "  # or, instead of the driver upgrade: a build this driver runs"
        yield Finding(
            fid, Severity.ERROR,
            f"{label} needs CUDA {cuda}: driver {facts.driver_version or 'of unknown version'} "
            f"(CUDA {facts.cuda_driver_version or '?'}) is too old",
            f"Full support needs driver >= {tier.full_floor or '?'}; minor-version compatibility needs "
            f">= {tier.compat_floor or '?'}. The framework will report no GPU.",
            tuple(fix),
            evidence=ev | {"found": facts.driver_version, "required": required, "cuda": cuda,
                           "full_support_floor": tier.full_floor, "minor_compat_floor": tier.compat_floor},
        )
        return
    # 6. The GPU's capability is not compiled in (or cannot be vouched for).
    archs = _arch_list(fw, facts)
    arch, vouched = archs if archs is not None else ([], False)
    caps = sorted(set(facts.capabilities))
    if not arch and caps:
        impossible = toolkit_cannot_compile(cuda, caps)
        if impossible:
            yield Finding(
                "frameworks.capability-not-compiled", Severity.ERROR,
                f"{label} has no kernels for sm_{', sm_'.join(b.replace('.', '') for b in impossible)}: "
                "\"no kernel image is available\"",
                f"CUDA {cuda} cannot compile for compute capability {', '.join(impossible)} at all, so no build "
                f"made with it has kernels for this GPU.",
                tuple(_reinstall(facts, name)),
                evidence=ev | {"found": impossible, "required": f"a build newer than CUDA {cuda}"},
            )
            return
    if arch:
        bad = sorted({c for c in caps if capability_covered(c, arch) is False})
        if bad:
            yield Finding(
                "frameworks.capability-not-compiled", Severity.ERROR,
                f"{label} has no kernels for sm_{', sm_'.join(b.replace('.', '') for b in bad)}: "
                "\"no kernel image is available\"",
                f"The build covers {', '.join(arch)}.",
                tuple(_reinstall(facts, name)),
                evidence=ev | {"found": bad, "required": arch},
            )
            return
    # 7. Libraries: TensorFlow without cuDNN, LD_LIBRARY_PATH or a second copy shadowing the build.
    if name == "tensorflow":
        why = _tf_libs_missing(facts, fw)
        if why:
            yield Finding(
                "frameworks.tensorflow-missing-cuda-libs", Severity.ERROR,
                f"{label} will not find cuDNN: it runs on the CPU", why,
                ("pip install 'tensorflow[and-cuda]'",),
                evidence=ev | {"found": "no matching cuDNN", "required": tensorflow_cuda(pick(fw, "version", kind=str))[1]},
            )
            return
    if _ld_shadow_breaks(facts) or dicts(fw.get("duplicates")) or cudnn_breaks(facts, fw) or uvm_missing(facts):
        return  # cuda.ld-library-path-shadows / python.shadowed-framework / cuda.cudnn-too-old / driver.nvidia-uvm-missing
    if not arch and caps:  # nothing above found a cause, but the build's kernels cannot be checked either
        yield _cannot_verify(label, ", ".join(f"sm_{c.replace('.', '')}" for c in caps), ev)
        return
    if deep is not None and _deep_sees_gpu(deep) is False:
        yield _not_used(fw, deep, label, ev)
        return
    if main:
        how = "" if tier.tier in ("full", "unknown") else f" under minor-version compatibility (driver >= {tier.compat_floor})"
        yield Finding(
            "frameworks.will-use-gpu", Severity.INFO, f"{label} will use the GPU (CUDA {cuda or '?'}{how})",
            "Reported by the framework itself." if deep is not None else
            "Its compiled-architecture list is inferred, not checked against the build." if arch and not vouched else "",
            evidence=ev | {"found": variant, "cuda": cuda, "driver_tier": tier.tier},
        )


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
    for fw in facts.frameworks:
        known = vocabulary.lookup(pick(fw, "name", kind=str) or "")
        if known is not None and known.gpu_capable:
            yield from _verdict(facts, fw)


@rule
def retired(facts: Facts) -> Iterator[Finding]:
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
