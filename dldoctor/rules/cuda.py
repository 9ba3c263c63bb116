"""CUDA toolkits and libraries: LD_LIBRARY_PATH shadowing, nvcc newer than the driver, cuDNN copies,
CUDA_VISIBLE_DEVICES and CONDA_OVERRIDE_CUDA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.facts import Facts, pick

explains("cuda.ld-library-path-shadows", "LD_LIBRARY_PATH shadows the pip CUDA libraries", """
Frameworks installed from pip bring their own CUDA libraries (the nvidia-*
wheels: cuDNN, cuBLAS, NCCL, the CUDA runtime) and find them through their
RUNPATH. LD_LIBRARY_PATH is searched first, so a folder of a system CUDA
toolkit or cuDNN in it makes the framework load those copies instead; when
their versions differ from the ones the framework was built with, it fails
with undefined symbols, "cuDNN version incompatibility", or silently runs
slower code. Unset LD_LIBRARY_PATH (or take the CUDA folders out of it) in the
shell that runs the framework.
""")
explains("cuda.toolkit-newer-than-driver", "The CUDA toolkit is newer than the driver", """
The nvcc on this machine comes from a newer CUDA than the driver supports.
Programs it builds may still run under minor-version compatibility, but PTX it
emits cannot be JIT-compiled by the older driver ("the provided PTX was
compiled with an unsupported toolchain"), and CUDA extensions built with it
(flash-attn, custom kernels) fail to load. Upgrade the driver, or use the
toolkit matching the driver's CUDA version.
""")
explains("cuda.multiple-cudnn-majors", "Several cuDNN major versions installed system-wide", """
The system has cuDNN libraries of more than one major version. The unversioned
libcudnn.so link and cudnn.h header point at one of them: software built
against one may load the other, and tools that search for cuDNN pick whichever
comes first. Keep one system cuDNN (pip frameworks bring their own).
""")
explains("cuda.visible-devices-hides-gpus", "CUDA_VISIBLE_DEVICES hides every GPU", """
CUDA_VISIBLE_DEVICES is set, but it is empty, -1, or names no GPU that exists
(an index past the last GPU, an unknown UUID). CUDA reads the list from the
left and stops at the first entry it cannot match, so every framework sees no
GPU and falls back to the CPU (or fails with "no CUDA-capable device is
detected"). Unset it, or list indices/UUIDs from `nvidia-smi -L`.
""")
explains("cuda.visible-devices-invalid", "CUDA_VISIBLE_DEVICES lists GPUs that do not exist", """
Some entries of CUDA_VISIBLE_DEVICES name no GPU on this machine. CUDA stops
reading the list at the first such entry, so GPUs listed after it are hidden
too. List indices/UUIDs from `nvidia-smi -L`.
""")
explains("cuda.conda-override-too-new", "CONDA_OVERRIDE_CUDA promises a CUDA the driver cannot run", """
CONDA_OVERRIDE_CUDA sets the `__cuda` virtual package conda/mamba/pixi solve
against. Set higher than the driver supports, the solver picks CUDA builds the
driver cannot run; set empty on a GPU machine, it picks CPU builds without
saying so. Unset it on the machine that runs the environment, or set it to
the driver's CUDA version.
""")


def _v(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _major_minor(text: str | None) -> Version | None:
    v = _v(text)
    return Version(f"{v.major}.{v.minor}") if v is not None else None


# --- CUDA_VISIBLE_DEVICES ---------------------------------------------------------------

_HIDE_ON_PURPOSE = ("-1", "none", "nodevfiles")


@dataclass(frozen=True)
class VisibleDevices:
    """What CUDA makes of CUDA_VISIBLE_DEVICES on these GPUs."""

    value: str | None
    visible: list[str] = field(default_factory=list)  # the entries that matched a GPU, in order
    invalid: str | None = None  # the first entry that matched none (CUDA stops there)
    ignored: list[str] = field(default_factory=list)  # entries after it

    @property
    def is_set(self) -> bool:
        return self.value is not None

    @property
    def hides_all(self) -> bool:
        return self.is_set and not self.visible


def parse_visible_devices(value: str | None, gpus: list[dict[str, Any]]) -> VisibleDevices:
    """Apply CUDA's rules: entries are indices or (prefixes of) GPU-/MIG- UUIDs, read left to right,
    stopping at the first that matches no GPU; a repeated device also stops the list."""
    if value is None:
        return VisibleDevices(None, [str(i) for i in range(len(gpus))])
    tokens = [t.strip() for t in value.split(",")]
    uuids = [(pick(g, "uuid", kind=str) or "").lower() for g in gpus]
    mig = any(pick(g, "mig_mode", kind=bool) for g in gpus)
    visible: list[str] = []
    seen: set[str] = set()
    for pos, token in enumerate(tokens):
        key: str | None = None
        low = token.lower()
        if token.isdigit() or (token.startswith("+") and token[1:].isdigit()):
            index = int(token)
            key = str(index) if index < len(gpus) else None
        elif low.startswith("gpu-") and len(low) > 4:
            hits = [i for i, u in enumerate(uuids) if u and u.startswith(low)]
            key = str(hits[0]) if len(hits) == 1 else None
        elif low.startswith("mig-") and len(low) > 4 and mig:
            key = low  # MIG instance UUIDs are not in the snapshot; trust them when MIG is on
        if key is None or key in seen:
            return VisibleDevices(value, visible, token, [t for t in tokens[pos + 1:] if t])
        seen.add(key)
        visible.append(token)
    return VisibleDevices(value, visible)


def visible_devices(facts: Facts) -> VisibleDevices:
    value = facts.env("CUDA_VISIBLE_DEVICES") if facts.has_env("CUDA_VISIBLE_DEVICES") else None
    return parse_visible_devices(value, facts.gpus)


def hides_all_gpus(facts: Facts) -> bool:
    """CUDA_VISIBLE_DEVICES leaves no GPU to a framework on a machine whose driver lists some."""
    return bool(facts.working_gpus) and visible_devices(facts).hides_all


@rule
def cuda_visible_devices(facts: Facts) -> Iterator[Finding]:
    if not facts.gpus or not facts.has_env("CUDA_VISIBLE_DEVICES"):
        return
    parsed = visible_devices(facts)
    value = parsed.value or ""
    listing = ", ".join(f"{pick(g, 'index', kind=int)}: {pick(g, 'uuid', kind=str) or '?'}" for g in facts.gpus)
    evidence = {"found": value, "required": f"indices 0-{len(facts.gpus) - 1} or GPU UUIDs", "gpus": listing}
    if parsed.hides_all:
        on_purpose = value.strip().lower() in _HIDE_ON_PURPOSE
        why = ("it is empty" if not value.strip() else
               "-1 hides them on purpose" if on_purpose else f"{parsed.invalid!r} matches no GPU")
        yield Finding(
            "cuda.visible-devices-hides-gpus", Severity.WARNING if on_purpose else Severity.ERROR,
            f"CUDA_VISIBLE_DEVICES={value!r} hides all {len(facts.gpus)} GPU(s): {why}",
            "Every CUDA program sees no GPU and frameworks fall back to the CPU.",
            ("unset CUDA_VISIBLE_DEVICES  # and remove it from ~/.bashrc, the job script or the container env",
             "nvidia-smi -L  # the valid indices and UUIDs"),
            evidence=evidence,
        )
    elif parsed.invalid is not None:
        hidden = [parsed.invalid, *parsed.ignored]
        yield Finding(
            "cuda.visible-devices-invalid", Severity.WARNING,
            f"CUDA_VISIBLE_DEVICES={value!r}: {parsed.invalid!r} matches no GPU; only {', '.join(parsed.visible)} visible",
            f"CUDA stops reading at the first bad entry, so {', '.join(hidden)} are ignored.",
            (f"export CUDA_VISIBLE_DEVICES={','.join(parsed.visible)}  # or list valid entries from nvidia-smi -L",),
            evidence=evidence | {"ignored": hidden},
        )


# --- libraries ----------------------------------------------------------------------------

def _ld_dirs(facts: Facts) -> list[str]:
    return [d.rstrip("/") for d in (facts.env("LD_LIBRARY_PATH") or "").split(":") if d.strip()]


def _major(version: str | None) -> int | None:
    v = _v(version)
    return v.major if v is not None else None


@rule
def ld_library_path_shadows(facts: Facts) -> Iterator[Finding]:
    dirs = _ld_dirs(facts)
    if not dirs or not facts.nvidia_wheels:
        return
    users = [f for f in facts.frameworks if pick(f, "variant", kind=str) == "cuda"]
    if not users:
        return
    kit_dirs = {f"{p}/lib64": t for t in facts.toolkits if (p := pick(t, "path", kind=str))}
    kit_dirs |= {f"{p}/lib": t for t in facts.toolkits if (p := pick(t, "path", kind=str))}
    system_cudnn = [c for c in facts.libraries("cudnn") if pick(c, "source", kind=str) == "system"]
    shadowing: list[str] = []
    for d in dirs:
        in_kit = d in kit_dirs or ("/cuda" in d and "site-packages" not in d)
        has_cudnn = any((pick(c, "path", kind=str) or "").startswith(d + "/") for c in system_cudnn)
        if (in_kit or has_cudnn) and "site-packages" not in d and "/usr/lib/wsl" not in d:
            shadowing.append(d)
    if not shadowing:
        return
    severity = Severity.WARNING
    clash: list[str] = []
    pip_cudnn = [c for c in facts.libraries("cudnn") if (pick(c, "source", kind=str) or "").startswith("pip")]
    for c in system_cudnn:
        lib_path = pick(c, "path", kind=str) or ""
        if any(lib_path.startswith(d + "/") for d in shadowing):
            for pip_lib in pip_cudnn:
                sys_v, pip_v = _v(pick(c, "version", kind=str)), _v(pick(pip_lib, "version", kind=str))
                if sys_v is not None and pip_v is not None and sys_v.major == pip_v.major and sys_v < pip_v:
                    clash.append(f"system cuDNN {sys_v} would load instead of pip's {pip_v}")
    for d in shadowing:
        kit = kit_dirs.get(d)
        kit_cuda = _major_minor(pick(kit, "version", kind=str)) if kit else None
        for fw in users:
            fw_cuda = _major_minor(pick(fw, "cuda_version", kind=str))
            if kit_cuda is not None and fw_cuda is not None and kit_cuda < fw_cuda:
                clash.append(f"CUDA {kit_cuda} libraries from {d} would load instead of {fw.get('name')}'s CUDA {fw_cuda}")
    if clash:
        severity = Severity.ERROR
    names = ", ".join(sorted({str(f.get("name")) for f in users}))
    yield Finding(
        "cuda.ld-library-path-shadows", severity,
        f"LD_LIBRARY_PATH puts {shadowing[0]} ahead of the pip CUDA libraries of {names}",
        ("; ".join(clash) + ". " if clash else "") +
        "The framework loads the system copies first; version differences break it or slow it down.",
        ("unset LD_LIBRARY_PATH  # or remove " + ":".join(shadowing) + " from it; check ~/.bashrc and module files",),
        evidence={"found": shadowing, "required": "no system CUDA folders on LD_LIBRARY_PATH", "clashes": clash},
    )


@rule
def toolkit_vs_driver(facts: Facts) -> Iterator[Finding]:
    driver_cuda = _major_minor(facts.cuda_driver_version)
    if driver_cuda is None or not facts.working_gpus:
        return
    newer: dict[str, str] = {}
    for kit in facts.toolkits:
        version = _major_minor(pick(kit, "version", kind=str))
        has_nvcc = pick(kit, "nvcc", kind=str) is not None and kit.get("exists") is not False
        if version is not None and version > driver_cuda and has_nvcc:
            newer.setdefault(str(version), pick(kit, "path", kind=str) or "?")
    if not newer:
        return
    top = max(newer, key=Version)
    from dldoctor import knowledge

    floor = knowledge.driver_floor(top, facts.driver_os)
    yield Finding(
        "cuda.toolkit-newer-than-driver", Severity.WARNING,
        f"CUDA toolkit {top} ({newer[top]}) is newer than the driver's CUDA {driver_cuda}",
        "Code nvcc builds here may fail to run: PTX from a newer toolkit cannot be JIT-compiled by this driver, "
        "and custom CUDA extensions built with it fail to load.",
        (f"upgrade the driver to >= {floor} (CUDA {top})" if floor else "upgrade the NVIDIA driver",
         f"or use a CUDA {driver_cuda} toolkit: export CUDA_HOME=/usr/local/cuda-{driver_cuda}"),
        evidence={"found": top, "required": f"<= {driver_cuda}", "driver": facts.driver_version,
                  "toolkits": newer},
    )


@rule
def cudnn_copies(facts: Facts) -> Iterator[Finding]:
    system = [c for c in facts.libraries("cudnn") if (pick(c, "source", kind=str) or "").startswith("system")]
    majors: dict[int, str] = {}
    for c in system:
        m = _major(pick(c, "version", kind=str))
        if m is not None:
            majors.setdefault(m, pick(c, "path", kind=str) or str(c.get("source")))
    if len(majors) < 2:
        return
    yield Finding(
        "cuda.multiple-cudnn-majors", Severity.WARNING,
        f"cuDNN {', '.join(str(m) for m in sorted(majors))} are all installed system-wide",
        "Builds may compile against one cuDNN and load the other.",
        ("apt list --installed 2>/dev/null | grep -i cudnn  # remove the major you do not use",),
        evidence={"found": {str(k): v for k, v in sorted(majors.items())}, "required": "one cuDNN major"},
    )


@rule
def conda_override_cuda(facts: Facts) -> Iterator[Finding]:
    if not facts.has_env("CONDA_OVERRIDE_CUDA"):
        return
    value = (facts.env("CONDA_OVERRIDE_CUDA") or "").strip()
    driver_cuda = _major_minor(facts.cuda_driver_version)
    if not value:
        if facts.working_gpus:
            yield Finding(
                "cuda.conda-override-too-new", Severity.WARNING,
                "CONDA_OVERRIDE_CUDA is set empty on a GPU machine: conda will pick CPU builds",
                "An empty override tells the solver there is no CUDA driver.",
                ("unset CONDA_OVERRIDE_CUDA",),
                evidence={"found": "", "required": str(driver_cuda) if driver_cuda else "unset"},
            )
        return
    wanted = _major_minor(value)
    if wanted is None or driver_cuda is None or wanted <= driver_cuda:
        return
    yield Finding(
        "cuda.conda-override-too-new", Severity.WARNING,
        f"CONDA_OVERRIDE_CUDA={value} but the driver supports CUDA {driver_cuda}",
        "The solver will pick CUDA builds this driver cannot run.",
        (f"export CONDA_OVERRIDE_CUDA={driver_cuda}  # or unset it on the machine that runs the environment",),
        evidence={"found": value, "required": f"<= {driver_cuda}"},
    )
