"""Deep-learning frameworks installed in the target interpreter, read without importing them.

Everything comes from package metadata: the dist-info folder names, version
suffixes (`+cu126`), declared requirements (`nvidia-cuda-runtime-cu12==12.4.*`),
the nvidia-* wheels beside them and conda's `conda-meta` records with their
build strings (`cuda126_...`). `--deep` (see `deep.py`) imports them, but only
in a child process of the target interpreter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.python_target import PythonTarget, inspect_python

_DIST_DIR = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+?)\.(?:dist-info|egg-info)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class InstalledDist:
    name: str  # canonical
    version: str
    location: str  # machine path of the sys.path entry
    metadata_dir: str  # machine path of the dist-info folder


#: Framework -> the distributions that carry it. The variant logic per framework is below.
FRAMEWORK_DISTS: dict[str, tuple[str, ...]] = {
    "pytorch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-rocm", "tensorflow-macos",
                   "tf-nightly", "intel-tensorflow"),
    "keras": ("keras",),
    "jax": ("jaxlib",),
    "paddlepaddle": ("paddlepaddle", "paddlepaddle-gpu"),
    "mxnet": ("mxnet",),
    "cntk": ("cntk", "cntk-gpu"),
    "nnabla": ("nnabla",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-rocm", "onnxruntime-directml",
                    "onnxruntime-openvino", "onnxruntime-silicon"),
}
RETIRED = {
    "mxnet": "Apache MXNet was retired to the Apache Attic in 2023; no new releases or fixes",
    "cntk": "Microsoft CNTK is retired: its last release, 2.7, came out in 2019",
    "caffe2": "Caffe2 was merged into PyTorch; its Python front end is gone from current releases",
}


def scan_dists(machine: Machine, target: PythonTarget) -> tuple[InstalledDist, ...]:
    """Every distribution on the target's sys.path (user site included), in path order.

    Read once per machine and target: the frameworks and toolkits probes both need it.
    """
    key = f"dists:{target.executable}:{target.sys_path}:{target.user_site}"
    return machine.memo(key, lambda: tuple(_scan_dists(machine, target)))  # type: ignore[no-any-return]  # memo is untyped


def _scan_dists(machine: Machine, target: PythonTarget) -> list[InstalledDist]:
    entries = list(target.sys_path)
    if target.user_site and target.user_site_enabled and target.user_site not in entries:
        entries.append(target.user_site)
    found: list[InstalledDist] = []
    for entry in entries:
        for child in machine.listdir(entry):
            match = _DIST_DIR.match(child)
            if match:
                found.append(InstalledDist(
                    canonical(match.group("name")), match.group("version"), entry, f"{entry}/{child}",
                ))
    return found


def _conda_records(machine: Machine, target: PythonTarget) -> dict[str, dict[str, str]]:
    """name -> {version, build, channel} from the target prefix's conda-meta."""
    if not target.prefix:
        return {}
    records: dict[str, dict[str, str]] = {}
    for path in machine.glob(f"{target.prefix}/conda-meta/*.json"):
        stem = path.rsplit("/", 1)[-1][:-5]
        parts = stem.rsplit("-", 2)
        if len(parts) == 3:
            records[canonical(parts[0])] = {"version": parts[1], "build": parts[2], "record": path}
    return records


def _metadata(machine: Machine, dist: InstalledDist) -> str:
    for name in ("METADATA", "PKG-INFO"):
        text = machine.read_text(f"{dist.metadata_dir}/{name}", limit=1 << 18)
        if text is not None:
            return text
    return ""


def _installer(machine: Machine, dist: InstalledDist, conda: dict[str, dict[str, str]]) -> str | None:
    text = machine.read_text(f"{dist.metadata_dir}/INSTALLER")
    if text:
        return text.strip().lower()
    return "conda" if dist.name in conda else None


def _cuda_from_build(build: str) -> str | None:
    """conda build string "cuda126_mkl_py311_h..." -> "12.6"; "cuda130..." -> "13.0"."""
    match = re.search(r"cuda(\d{3,4})", build)
    if not match:
        return None
    digits = match.group(1)
    return f"{digits[:-1]}.{digits[-1]}"


def _cuda_from_requires(metadata: str) -> str | None:
    """The CUDA runtime a pip wheel pins ("nvidia-cuda-runtime-cu12==12.4.127" -> "12.4")."""
    match = re.search(
        r"^Requires-Dist: nvidia-cuda-runtime(?:-cu\d+)?\s*\(?\s*==\s*(\d+)\.(\d+)", metadata, re.MULTILINE
    )
    if match:
        return f"{match.group(1)}.{match.group(2)}"
    match = re.search(r"^Requires-Dist: nvidia-[a-z-]+-cu(\d+)", metadata, re.MULTILINE)
    return f"{match.group(1)}" if match else None


def _local_suffix(version: str) -> str | None:
    return version.split("+", 1)[1] if "+" in version else None


def _variant_from_suffix(suffix: str | None) -> tuple[str | None, str | None]:
    if not suffix:
        return None, None
    if suffix.startswith("cu") and suffix[2:].isdigit():
        digits = suffix[2:]
        return "cuda", f"{digits[:-1]}.{digits[-1]}"
    if suffix.startswith("rocm"):
        return "rocm", suffix[4:]
    if suffix in ("cpu", "xpu"):
        return suffix, None
    return None, None


def _classify(framework: str, dist: InstalledDist, metadata: str, conda: dict[str, dict[str, str]],
              dists: dict[str, InstalledDist], system: str, arch: str) -> dict[str, Any]:
    """Variant ("cuda"/"rocm"/"cpu"/"mps"/...) and CUDA version of one framework install."""
    variant, cuda = _variant_from_suffix(_local_suffix(dist.version))
    record = conda.get(dist.name) or conda.get("pytorch" if framework == "pytorch" else dist.name)
    build = record["build"] if record else None
    if variant is None and build:
        cuda = _cuda_from_build(build)
        variant = "cuda" if cuda else ("rocm" if "rocm" in build else "cpu")
    if variant is None:
        if framework == "pytorch":
            cuda = _cuda_from_requires(metadata)
            if cuda:
                variant = "cuda"
            elif system == "Darwin":
                variant = "mps" if arch == "arm64" else "cpu"
            else:
                variant = "cpu"
        elif framework == "tensorflow":
            if dist.name in ("tensorflow-cpu",) or system in ("Darwin", "Windows"):
                variant = "mps" if dist.name == "tensorflow-macos" and "tensorflow-metal" in dists else "cpu"
            elif dist.name == "tensorflow-rocm":
                variant = "rocm"
            else:
                variant = "cuda" if arch in ("x86_64", "AMD64") else "cpu"
        elif framework == "jax":
            plugin = next((d for d in dists if re.fullmatch(r"jax-cuda(\d+)-plugin", d)), None)
            rocm = next((d for d in dists if re.fullmatch(r"jax-rocm\d*-plugin", d)), None)
            if plugin:
                variant, cuda = "cuda", re.sub(r"\D", "", plugin)
            elif rocm:
                variant = "rocm"
            elif "cuda" in dist.version:
                variant, cuda = "cuda", None
            else:
                variant = "cpu"
        elif framework == "paddlepaddle":
            variant = "cuda" if dist.name.endswith("-gpu") else "cpu"
            post = re.search(r"post(\d{2,3})", dist.version)
            cuda = f"{post.group(1)[:-1]}.{post.group(1)[-1]}" if post and variant == "cuda" else None
        elif framework in ("mxnet", "cntk"):
            variant = "cuda" if dist.name.endswith("-gpu") else "cpu"
        elif framework == "nnabla":
            ext = next((d for d in dists if d.startswith("nnabla-ext-cuda")), None)
            variant = "cuda" if ext else "cpu"
            digits = ext.removeprefix("nnabla-ext-cuda") if ext else ""
            cuda = f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 2 and digits.isdigit() else None
        elif framework == "onnxruntime":
            variant = {"onnxruntime-gpu": "cuda", "onnxruntime-rocm": "rocm", "onnxruntime-directml": "directml",
                       "onnxruntime-openvino": "openvino", "onnxruntime-silicon": "coreml"}.get(dist.name, "cpu")
    return {"variant": variant, "cuda_version": cuda, "conda_build": build}


def probe_frameworks(machine: Machine, notes: Notes, python: str | None = None) -> dict[str, Any]:
    target = inspect_python(machine, python)
    if target.error:
        notes.fail("frameworks.python", f"{target.executable}: {target.error}")
        return {"python": target.to_json(), "installed": [], "nvidia_wheels": [], "jvm": _jvm(machine)}
    all_dists = scan_dists(machine, target)
    conda = _conda_records(machine, target)
    first: dict[str, InstalledDist] = {}
    copies: dict[str, list[InstalledDist]] = {}
    for dist in all_dists:
        first.setdefault(dist.name, dist)
        copies.setdefault(dist.name, []).append(dist)
    installed = []
    for framework, names in FRAMEWORK_DISTS.items():
        present = [first[n] for n in names if n in first]
        if not present:
            continue
        dist = present[0]
        metadata = _metadata(machine, dist)
        entry: dict[str, Any] = {
            "name": framework,
            "distribution": dist.name,
            "version": dist.version,
            **_classify(framework, dist, metadata, conda, first, machine.system, machine.arch),
            "location": dist.location,
            "installer": _installer(machine, dist, conda),
            "duplicates": [
                {"distribution": d.name, "version": d.version, "location": d.location}
                for n in names for d in copies.get(n, []) if d is not dist
            ],
            "status": "retired" if framework in RETIRED else "active",
            "note": RETIRED.get(framework),
        }
        if framework == "keras":
            entry["variant"] = None
            entry["backend"] = _keras_backend(machine)
        installed.append(entry)
    if "torch" in first:
        caffe2 = _caffe2(machine, first["torch"])
        if caffe2:
            installed.append(caffe2)
    nvidia_wheels = [
        {"distribution": d.name, "version": d.version, "location": d.location}
        for d in all_dists if d.name.startswith("nvidia-") and d.name != "nvidia-ml-py"
    ]
    return {
        "python": target.to_json() | {"is_conda": bool(conda) or None},
        "installed": installed,
        "nvidia_wheels": nvidia_wheels,
        "jvm": _jvm(machine),
    }


def _keras_backend(machine: Machine) -> str | None:
    if machine.env.get("KERAS_BACKEND"):
        return machine.env["KERAS_BACKEND"]
    text = machine.read_text(f"{machine.home()}/.keras/keras.json")
    if text:
        try:
            value = json.loads(text).get("backend")
            return str(value) if value else None
        except (ValueError, AttributeError):
            return None
    return None


def _caffe2(machine: Machine, torch: InstalledDist) -> dict[str, Any] | None:
    """Caffe2 ships inside PyTorch: its Python package in old releases, its libraries in some."""
    package = machine.exists(f"{torch.location}/caffe2/__init__.py")
    libs = machine.glob(f"{torch.location}/torch/lib/libcaffe2*")
    if not package and not libs:
        return None
    return {
        "name": "caffe2", "distribution": "torch", "version": torch.version, "variant": None,
        "cuda_version": None, "conda_build": None, "location": torch.location, "installer": None,
        "duplicates": [], "status": "retired", "note": RETIRED["caffe2"],
        "python_frontend": package, "libraries": libs,
    }


def _jvm(machine: Machine) -> dict[str, Any]:
    """A JVM on PATH and Deeplearning4j jars in the local Maven and Gradle caches."""
    java = machine.runner.which("java")
    version = None
    if java:
        import os

        real = os.path.realpath(java)
        release = os.path.join(os.path.dirname(os.path.dirname(real)), "release")
        try:
            with open(release, encoding="utf-8") as fh:
                match = re.search(r'^JAVA_VERSION="([^"]+)"', fh.read(), re.MULTILINE)
                version = match.group(1) if match else None
        except OSError:
            version = None
    home = machine.home()
    jars: dict[str, set[str]] = {}
    for base, pattern in (
        (f"{home}/.m2/repository/org/deeplearning4j", "*/*"),
        (f"{home}/.gradle/caches/modules-2/files-2.1/org.deeplearning4j", "*/*"),
    ):
        for path in machine.glob(f"{base}/{pattern}"):
            artifact, ver = path.rsplit("/", 2)[-2:]
            jars.setdefault(artifact, set()).add(ver)
    return {
        "java": java,
        "java_version": version,
        "deeplearning4j": {name: sorted(vers) for name, vers in sorted(jars.items())},
    }
