"""CUDA toolkits and libraries: LD_LIBRARY_PATH shadowing, the cuDNN each framework will load against
the one it needs, nvcc newer than the driver, cuDNN copies, CUDA_VISIBLE_DEVICES and CONDA_OVERRIDE_CUDA."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from dldoctor.knowledge import versions, vocabulary
from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.fixes import family
from dldoctor.snapshot.facts import Facts, pick, strings

explains("cuda.ld-library-path-shadows", "LD_LIBRARY_PATH shadows the pip CUDA libraries", """
Frameworks installed from pip bring their own CUDA libraries (the nvidia-*
wheels: cuDNN, cuBLAS, NCCL, the CUDA runtime), conda environments have them
in the environment's lib folder, and old PyPI torch wheels bundle them in
torch/lib; all are found through the framework's RUNPATH. LD_LIBRARY_PATH is searched first, so a folder of a system CUDA
toolkit or cuDNN in it makes the framework load those copies instead; when
their versions differ from the ones the framework was built with, it fails
with undefined symbols, "cuDNN version incompatibility", or silently runs
slower code. Unset LD_LIBRARY_PATH (or take the CUDA folders out of it) in the
shell that runs the framework.
""")
explains("cuda.cudnn-too-old", "The cuDNN that will load is older than the framework needs", """
Each CUDA build of a framework needs cuDNN of the major it was built with and
at least its minor: TensorFlow and JAX (XLA) check it when the first
convolution runs ("Loaded runtime CuDNN library: 8.6.0 but source was compiled
with: 8.9.4. CuDNN library needs to have matching major version and equal or
higher minor version"), PyTorch at import of torch.backends.cudnn ("cuDNN
version incompatibility"). The copy that loads is the first the loader finds:
LD_LIBRARY_PATH, then the framework's own (its nvidia-cudnn wheel, its conda
environment's cudnn, torch's bundled copy), then the system's. Upgrade that
copy, or install the framework's pip CUDA libraries (`tensorflow[and-cuda]`,
`jax[cuda12]`).
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


_v = versions.version


def _major_minor(text: str | None) -> Version | None:
    """"12.6.3" -> Version("12.6"), for comparing CUDA releases."""
    minor = versions.minor_of(text)
    return Version(minor) if minor is not None else None


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
    """CUDA_VISIBLE_DEVICES that hides every GPU, or names indices or UUIDs that do not exist."""
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


_major = versions.major


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _label(fw: dict[str, Any]) -> str:
    return f"{pick(fw, 'name', kind=str) or '?'} {pick(fw, 'version', kind=str) or ''}".strip()


def own_library_dirs(facts: Facts, fw: dict[str, Any]) -> list[str]:
    """Folders that hold a framework's own CUDA libraries, found through its RUNPATH (or preload):
    the nvidia-* wheels' `site-packages/nvidia`, its conda environment's `lib`, torch's bundled `torch/lib`.
    Empty when it relies on a system CUDA (TensorFlow without `[and-cuda]`, `jax[cuda12_local]`)."""
    dirs: list[str] = []
    for wheel in facts.nvidia_wheels:
        location = pick(wheel, "location", kind=str)
        if location:
            dirs.append(f"{location.rstrip('/')}/nvidia")
    if pick(fw, "installer", kind=str) == "conda":
        dirs += [d for p in facts.conda_cuda_packages if (d := pick(p, "lib_dir", kind=str))]
    location = pick(fw, "location", kind=str)
    # Only CUDA's own libraries count: libtorch_cuda.so is in every CUDA build, source builds included,
    # and those rely on the system CUDA.
    if location and any(n.startswith(("libcudart", "libcudnn", "libcublas", "libnvrtc"))
                        for n in strings(fw.get("bundled_libraries"))):
        dirs.append(f"{location.rstrip('/')}/torch/lib")
    return list(dict.fromkeys(dirs))


def _own_kind(facts: Facts, fw: dict[str, Any]) -> str:
    if facts.nvidia_wheels:
        return "pip"
    if pick(fw, "installer", kind=str) == "conda" and facts.conda_cuda_packages:
        return "conda environment's"
    return "bundled"


@dataclass(frozen=True)
class CudnnNeed:
    """The cuDNN a framework build accepts: the same major, minor >= `minimum`'s, below `below`."""

    minimum: Version
    below: Version | None
    source: str

    def fits(self, found: Version) -> bool:
        if found.major != self.minimum.major or (self.below is not None and found >= self.below):
            return False
        return (found.major, found.minor) >= (self.minimum.major, self.minimum.minor)

    def describe(self) -> str:
        return f">= {self.minimum}" + (f", < {self.below}" if self.below is not None else f", {self.minimum.major}.x")


@dataclass(frozen=True)
class CudnnCopy:
    """The cuDNN a framework will load, and why that one."""

    version: Version | None  # None: a copy bundled inside the package, of the build's own version
    path: str | None
    source: str  # "pip nvidia-cudnn-cu12", "conda cudnn", "system", "bundled"
    via_ld_library_path: bool = False

    def where(self) -> str:
        if self.via_ld_library_path:
            return f"from LD_LIBRARY_PATH: {self.path}"
        return f"{self.source}" + (f" at {self.path}" if self.path else "")


def _jax_release_cudnn(jaxlib: str | None, cuda_major: int) -> tuple[str | None, str | None]:
    """(cudnn_min, cudnn_below) of the jaxlib release from the knowledge base's jax_releases rows, else
    the current jax_cuda row."""
    from dldoctor.knowledge.jax import jax_cuda_requirements, jax_release
    from dldoctor.rules.compat import ask

    release = ask(jax_release, jaxlib, cuda_major) if jaxlib else None
    if release is not None:
        return release.cudnn_min, release.cudnn_below
    current = ask(jax_cuda_requirements, cuda_major)
    return (current.cudnn_min, current.cudnn_below) if current is not None else (None, None)


_LOCAL_CUDNN = re.compile(r"cudnn(\d)(\d+)")  # a local-version segment: "cudnn86" -> 8.6, "cudnn805" -> 8.5


def build_cudnn(fw: dict[str, Any]) -> Version | None:
    """The cuDNN a framework build names: `cudnn_version` as the probe read it from the package's own files,
    else the wheel's local version, where jaxlib's CUDA wheels before the plugins carried it
    ("0.4.11.dev20230517+cuda11.cudnn86" -> 8.6)."""
    own = _v(pick(fw, "cudnn_version", kind=str))
    if own is not None:
        return own
    version = _v(pick(fw, "version", kind=str))
    for segment in (version.local or "").split(".") if version is not None else ():
        if (m := _LOCAL_CUDNN.fullmatch(segment)) is not None:
            return Version(f"{m.group(1)}.{int(m.group(2))}")
    return None


def cudnn_needed(facts: Facts, fw: dict[str, Any]) -> CudnnNeed | None:
    """The cuDNN a CUDA build of PyTorch, TensorFlow or JAX needs: what its own files pin, made
    precise (or bounded) by the release tables (TensorFlow's tested builds, jaxlib's releases)."""
    if pick(fw, "variant", kind=str) != "cuda":
        return None
    name = pick(fw, "name", kind=str)
    own = build_cudnn(fw)
    table_min: Version | None = None
    below: Version | None = None
    table_source = ""
    if name == "tensorflow":
        from dldoctor.rules.compat import tensorflow_cuda

        table_min = _v(tensorflow_cuda(pick(fw, "version", kind=str))[1])
        table_source = f"{_label(fw)} was built and tested with cuDNN {table_min}"
    elif name == "jax":
        major = _major(pick(fw, "cuda_version", kind=str) or pick(fw, "cuda_plugin", "cuda_major", kind=str))
        if major is not None:
            low, high = _jax_release_cudnn(pick(fw, "version", kind=str), major)
            table_min, below = _v(low), _v(high)
            table_source = f"jaxlib {pick(fw, 'version', kind=str)} for CUDA {major} needs cuDNN {low}"
    if own is not None and len(own.release) >= 2:
        minimum, source = own, f"{_label(fw)} was built with / pins cuDNN {own}"
    elif table_min is not None and (own is None or own.major == table_min.major):
        minimum, source = table_min, table_source
    elif own is not None:
        minimum, source = own, f"{_label(fw)} was built with cuDNN {own}"
    else:
        return None
    if below is not None and below <= minimum:
        below = None  # a bound from another major's row says nothing about this one
    return CudnnNeed(minimum, below, source)


def cudnn_that_loads(facts: Facts, fw: dict[str, Any]) -> CudnnCopy | None:
    """The cuDNN a framework will load: the loader searches LD_LIBRARY_PATH first, then the
    framework's RUNPATH (its nvidia-cudnn wheel, its conda environment, torch/lib), then the system.
    Only copies of the soname's major (libcudnn.so.9) are candidates; None when none is found."""
    need = cudnn_needed(facts, fw)
    major = need.minimum.major if need is not None else None
    copies = facts.libraries("cudnn")
    own_dirs = own_library_dirs(facts, fw)

    def version_ok(c: dict[str, Any]) -> Version | None:
        v = _v(pick(c, "version", kind=str))
        return v if v is not None and (major is None or v.major == major) else None

    def own_copy() -> CudnnCopy | None:
        location = pick(fw, "location", kind=str)
        if any(n.startswith("libcudnn") for n in strings(fw.get("bundled_libraries"))):
            return CudnnCopy(None, f"{location}/torch/lib" if location else None, "bundled")
        pip = [(v, c) for c in copies if (pick(c, "source", kind=str) or "").startswith("pip")
               and (v := version_ok(c)) is not None]
        pip.sort(key=lambda vc: pick(vc[1], "path", kind=str) != location)  # the framework's own site first
        if pip:
            v, c = pip[0]
            return CudnnCopy(v, f"{pick(c, 'path', kind=str)}/nvidia/cudnn/lib", pick(c, "source", kind=str) or "pip")
        if pick(fw, "installer", kind=str) == "conda":
            for c in copies:
                if (pick(c, "source", kind=str) or "").startswith("conda") and (v := version_ok(c)) is not None:
                    return CudnnCopy(v, pick(c, "path", kind=str), pick(c, "source", kind=str) or "conda")
        return None

    system: list[tuple[Version, dict[str, Any]]] = []
    for c in copies:
        v = version_ok(c)
        if v is not None and pick(c, "source", kind=str) == "system" and pick(c, "path", kind=str) is not None:
            system.append((v, c))
    for d in _ld_dirs(facts):
        if any(_under(d, own) for own in own_dirs) or "site-packages/nvidia" in d:
            found = own_copy()
            if found is not None:
                return found
        for v, c in system:
            if _under(pick(c, "path", kind=str) or "", d):
                return CudnnCopy(v, pick(c, "path", kind=str), "system", via_ld_library_path=True)
    found = own_copy()
    if found is not None:
        return found
    if system:
        v, c = system[0]
        return CudnnCopy(v, pick(c, "path", kind=str), "system")
    return None


def cudnn_breaks(facts: Facts, fw: dict[str, Any]) -> str | None:
    """Why the cuDNN `fw` will load does not fit its build ("cuDNN 8.6.0 ... needs >= 8.9"), or None."""
    need = cudnn_needed(facts, fw)
    loaded = cudnn_that_loads(facts, fw)
    if need is None or loaded is None or loaded.version is None or need.fits(loaded.version):
        return None
    return f"cuDNN {loaded.version} ({loaded.where()}) would load; {_label(fw)} needs {need.describe()}"


def _cuda_frameworks(facts: Facts) -> list[dict[str, Any]]:
    return [f for f in facts.frameworks if pick(f, "variant", kind=str) == "cuda"]


def _system_cuda_dir(facts: Facts, d: str, kit_dirs: dict[str, dict[str, Any]]) -> bool:
    """A folder of a system CUDA toolkit or cuDNN (not a framework's own, not WSL's driver folder)."""
    if "site-packages" in d or "/usr/lib/wsl" in d:
        return False
    system_cudnn = [p for c in facts.libraries("cudnn") if pick(c, "source", kind=str) == "system"
                    and (p := pick(c, "path", kind=str))]
    return d in kit_dirs or "/cuda" in d or any(_under(p, d) and p != d for p in system_cudnn)


@rule
def ld_library_path_shadows(facts: Facts) -> Iterator[Finding]:
    """A system CUDA/cuDNN folder earlier on LD_LIBRARY_PATH than a framework's own libraries."""
    dirs = _ld_dirs(facts)
    if not dirs:
        return
    users = [(fw, own) for fw in _cuda_frameworks(facts) if (own := own_library_dirs(facts, fw))]
    if not users:
        return
    kit_dirs = {f"{p}/lib64": t for t in facts.toolkits if (p := pick(t, "path", kind=str))}
    kit_dirs |= {f"{p}/lib": t for t in facts.toolkits if (p := pick(t, "path", kind=str))}
    shadowing: list[str] = []
    shadowed: list[tuple[dict[str, Any], list[str]]] = []
    for fw, own in users:
        first_own = next((i for i, d in enumerate(dirs) if any(_under(d, o) for o in own)), len(dirs))
        ahead = [d for d in dirs[:first_own] if not any(_under(d, o) for o in own) and _system_cuda_dir(facts, d, kit_dirs)]
        if ahead:
            shadowed.append((fw, ahead))
            shadowing += [d for d in ahead if d not in shadowing]
    if not shadowing:
        return
    clash: list[str] = []
    for fw, ahead in shadowed:
        loaded = cudnn_that_loads(facts, fw)
        why = cudnn_breaks(facts, fw) if loaded is not None and loaded.via_ld_library_path else None
        if why is None:
            why = _cudnn_shadows_own(facts, fw, ahead)
        if why:
            clash.append(why)
        fw_cuda = _major_minor(pick(fw, "cuda_version", kind=str))
        for d in shadowing:
            kit = kit_dirs.get(d)
            kit_cuda = _major_minor(pick(kit, "version", kind=str)) if kit else None
            if kit_cuda is not None and fw_cuda is not None and kit_cuda < fw_cuda:
                clash.append(f"CUDA {kit_cuda} libraries from {d} would load instead of {fw.get('name')}'s CUDA {fw_cuda}")
    severity = Severity.ERROR if clash else Severity.WARNING
    names = ", ".join(sorted({str(f.get("name")) for f, _ in shadowed}))
    yield Finding(
        "cuda.ld-library-path-shadows", severity,
        f"LD_LIBRARY_PATH puts {shadowing[0]} ahead of the {_own_kind(facts, shadowed[0][0])} CUDA libraries of {names}",
        ("; ".join(clash) + ". " if clash else "") +
        "The framework loads the system copies first; version differences break it or slow it down.",
        ("unset LD_LIBRARY_PATH  # or remove " + ":".join(shadowing) + " from it; check ~/.bashrc, conda activate.d "
         "and module files",),
        evidence={"found": shadowing, "required": "no system CUDA folders on LD_LIBRARY_PATH ahead of the "
                                                  "framework's own", "clashes": clash},
    )


def _soname_major(path: str) -> int | None:
    """The major a library file's soname carries: ".../libcudnn_cnn_train.so.8" -> 8, "libcudnn.so.8.9.7" -> 8."""
    m = re.search(r"\.so\.(\d+)", path.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def _older(found: Version, own: Version) -> bool:
    """`found` is older than `own` at the precision both state (8.9.2 is not older than 8.9.2.26)."""
    n = min(len(found.release), len(own.release))
    return found.release[:n] < own.release[:n]


def _cudnn_shadows_own(facts: Facts, fw: dict[str, Any], ahead: list[str]) -> str | None:
    """Why a system cuDNN in a folder `ahead` of the framework's own on LD_LIBRARY_PATH breaks it, or None.

    A copy of the same major as the framework's own cuDNN (the pip wheel's, the conda environment's,
    torch's bundled one) has the same sonames, so the loader takes it instead; and cuDNN 8 loads its
    sub-libraries (libcudnn_cnn_train.so.8 ...) by soname too, so a mix of the two copies fails with
    undefined symbols. Only a copy known to be as new as the framework's own is safe (a warning then)."""
    own = _own_cudnn(facts, fw)
    kind = _own_kind(facts, fw)
    if own is None and any(n.startswith("libcudnn") for n in strings(fw.get("bundled_libraries"))):
        own, kind = build_cudnn(fw), "bundled"
    if own is None:
        return None
    system = [c for c in facts.libraries("cudnn") if pick(c, "source", kind=str) == "system"]
    for d in ahead:  # the loader takes the first folder that has the soname
        here: list[tuple[Version | None, str]] = []
        for c in system:
            path = pick(c, "path", kind=str) or ""
            found = _v(pick(c, "version", kind=str))
            # another major's sonames (libcudnn.so.9 beside .so.8) are not what the framework asks for
            if path.rsplit("/", 1)[0] == d and (found.major if found is not None else _soname_major(path)) == own.major:
                here.append((found, path))
        for found, path in here:
            if found is None:
                return (f"a system cuDNN {own.major} of unknown version ({path}) would load instead of the {kind} "
                        f"cuDNN {own}; mixed with that copy's libraries it fails with undefined symbols")
            if _older(found, own):
                return f"system cuDNN {found} ({path}) would load instead of the {kind} cuDNN {own}"
        if here:
            return None  # known to be as new as the framework's own
    return None


def _own_cudnn(facts: Facts, fw: dict[str, Any]) -> Version | None:
    """The version of the framework's own pip/conda cuDNN of the major it loads."""
    need = cudnn_needed(facts, fw)
    for c in facts.libraries("cudnn"):
        source = pick(c, "source", kind=str) or ""
        v = _v(pick(c, "version", kind=str))
        if (source.startswith("pip") or source.startswith("conda")) and v is not None and (
                need is None or v.major == need.minimum.major):
            return v
    return None


@rule
def cudnn_too_old(facts: Facts) -> Iterator[Finding]:
    """The cuDNN a framework will load (not through LD_LIBRARY_PATH: that rule speaks) is older than it needs."""
    for fw in _cuda_frameworks(facts):
        if pick(fw, "name", kind=str) not in vocabulary.main_frameworks():
            continue
        loaded = cudnn_that_loads(facts, fw)
        why = cudnn_breaks(facts, fw)
        need = cudnn_needed(facts, fw)
        if why is None or loaded is None or loaded.via_ld_library_path or need is None:
            continue
        yield Finding(
            "cuda.cudnn-too-old", Severity.ERROR, f"{_label(fw)} needs cuDNN {need.describe()}; cuDNN {loaded.version} will load",
            f"{why}. {need.source}. At the first convolution it fails: \"Loaded runtime CuDNN library: "
            f"{loaded.version} but source was compiled with: {need.minimum}\" (TensorFlow/JAX) or "
            "\"cuDNN version incompatibility\" (PyTorch).",
            tuple(_cudnn_fix(facts, fw, loaded, need)),
            evidence={"framework": pick(fw, "name", kind=str), "found": str(loaded.version),
                      "required": need.describe(), "loaded_from": loaded.where()},
        )


def _cudnn_fix(facts: Facts, fw: dict[str, Any], loaded: CudnnCopy, need: CudnnNeed) -> list[str]:
    spec = f">={need.minimum}" + (f",<{need.below}" if need.below is not None else f",<{need.minimum.major + 1}")
    if loaded.source.startswith("pip "):
        return [f"pip install '{loaded.source.removeprefix('pip ')}{spec}'"]
    if loaded.source.startswith("conda"):
        return [f"conda install -c conda-forge 'cudnn{spec}'"]
    name = pick(fw, "name", kind=str)
    cuda_major = _major(pick(fw, "cuda_version", kind=str))
    suffix = f"-cu{cuda_major}" if cuda_major else "-cu12"
    fix = {"tensorflow": ["pip install 'tensorflow[and-cuda]'  # cuDNN from pip, matched to this TensorFlow"],
           "jax": [f"pip install -U 'jax[cuda{cuda_major or 12}]'  # cuDNN from pip, matched to this jaxlib"],
           }.get(name or "", [f"pip install 'nvidia-cudnn{suffix}{spec}'"])
    if family(facts) == "debian":
        fix.append(f"or upgrade the system cuDNN: sudo apt install --only-upgrade 'libcudnn{need.minimum.major}*'")
    return fix


@rule
def toolkit_vs_driver(facts: Facts) -> Iterator[Finding]:
    """A CUDA toolkit newer than the driver supports (what nvcc builds will not run)."""
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
    from dldoctor.knowledge.cuda import driver_floor

    floor = driver_floor(top, facts.driver_os)
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
    """System cuDNN copies of different major versions that the loader may mix."""
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
    """CONDA_OVERRIDE_CUDA set empty or to a CUDA the driver does not support."""
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
