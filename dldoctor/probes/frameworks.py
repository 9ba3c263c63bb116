"""Deep-learning frameworks installed in the target interpreter, read without importing them.

Everything comes from the installed files: the package's own build record
(`torch/version.py`, `tensorflow/python/platform/build_info.py`), the CUDA
libraries it bundles (`torch/lib/libcudart-*.so.10.2`), the dist-info folder
names, version suffixes (`+cu126`), declared requirements
(`nvidia-cuda-runtime-cu12==12.4.*`), the nvidia-* wheels beside them and
conda's `conda-meta` records with their build strings (`cuda126_...`,
`py3.8_cuda11.3_cudnn8.2.0_0`). A wheel without a local version suffix says
nothing by itself: PyPI's Linux torch bundled CUDA inside the wheel before
1.13. `--deep` (see `deep.py`) imports the frameworks, but only in a child
process of the target interpreter.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from dldoctor.knowledge import vocabulary
from dldoctor.knowledge.versions import minor_of
from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.python_target import OtherEnvironment, PythonTarget, inspect_python, other_environments

_DIST_DIR = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+?)\.(?:dist-info|egg-info)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class InstalledDist:
    name: str  # canonical
    version: str
    location: str  # machine path of the sys.path entry
    metadata_dir: str  # machine path of the dist-info folder


def framework_dists() -> dict[str, tuple[str, ...]]:
    """Framework -> the distributions that carry it, preferred first (`installed_as` in frameworks.json).
    The variant logic per framework is below."""
    return {fw.key: fw.installed_as for fw in vocabulary.all_frameworks() if fw.installed_as}


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


def conda_records(machine: Machine, target: PythonTarget) -> dict[str, dict[str, str]]:
    """name -> {version, build, record} from the target prefix's conda-meta (read once per target)."""
    key = f"conda:{target.prefix}"
    return machine.memo(key, lambda: _conda_records(machine, target))  # type: ignore[no-any-return]  # memo is untyped


def _conda_records(machine: Machine, target: PythonTarget) -> dict[str, dict[str, str]]:
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
    """conda build string -> its CUDA: "cuda126_mkl_py311_h..." -> "12.6" (conda-forge),
    "cuda112py39h..." -> "11.2" (older conda-forge), "py3.8_cuda11.3_cudnn8.2.0_0" -> "11.3" (pytorch channel)."""
    dotted = re.search(r"cuda(\d+)\.(\d+)", build)
    if dotted:
        return f"{dotted.group(1)}.{dotted.group(2)}"
    match = re.search(r"cuda(\d{3,4})", build)
    if not match:
        return None
    digits = match.group(1)
    return f"{digits[:-1]}.{digits[-1]}"


def _cudnn_from_build(build: str) -> str | None:
    """The pytorch channel's build strings name cuDNN too: "py3.8_cuda11.3_cudnn8.2.0_0" -> "8.2.0"."""
    match = re.search(r"cudnn(\d+(?:\.\d+)*)", build)
    return match.group(1) if match else None


def _cudnn_from_depends(machine: Machine, record_path: str | None) -> str | None:
    """The cuDNN a conda package depends on ("cudnn >=9.3.0.75,<10.0a0" -> "9.3.0.75")."""
    if not record_path:
        return None
    text = machine.read_text(record_path, limit=1 << 20)
    if not text:
        return None
    try:
        depends = json.loads(text).get("depends") or []
    except (ValueError, AttributeError):
        return None
    for dep in depends if isinstance(depends, list) else []:
        match = re.match(r"cudnn\s*(?:>=|==|=)?\s*(\d+(?:\.\d+)*)", str(dep))
        if match:
            return match.group(1)
    return None


def _cuda_from_requires(metadata: str) -> str | None:
    """The CUDA runtime a pip wheel pins ("nvidia-cuda-runtime-cu12==12.4.127" -> "12.4")."""
    match = re.search(
        r"^Requires-Dist: nvidia-cuda-runtime(?:-cu\d+)?\s*\(?\s*==\s*(\d+)\.(\d+)", metadata, re.MULTILINE
    )
    if match:
        return f"{match.group(1)}.{match.group(2)}"
    match = re.search(r"^Requires-Dist: nvidia-[a-z-]+-cu(\d+)", metadata, re.MULTILINE)
    return f"{match.group(1)}" if match else None


def _cudnn_from_requires(metadata: str) -> str | None:
    """The cuDNN a wheel pins or needs at least: torch "nvidia-cudnn-cu12==9.1.0.70", tensorflow
    "nvidia-cudnn-cu12==8.9.7.29; extra == 'and-cuda'", jax-cuda12-plugin "nvidia-cudnn-cu12<10.0,>=9.8"."""
    for line in re.findall(r"^Requires-Dist: nvidia-cudnn(?:-cu\d+)?\b(.*)$", metadata, re.MULTILINE):
        spec = line.split(";", 1)[0]
        match = re.search(r"(?:==|>=|~=)\s*(\d+(?:\.\d+)*)", spec)
        if match:
            return match.group(1)
    return None


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


# --- the package's own build record ----------------------------------------------------

_PY_ASSIGN = r"^{name}\s*(?::[^=\n]*)?=\s*(?:'([^'\n]*)'|\"([^\"\n]*)\"|(None))"


def _py_string(text: str, name: str) -> tuple[bool, str | None]:
    """(found, value) of a module-level `name = '...'` / `name: Optional[str] = None` line."""
    match = re.search(_PY_ASSIGN.format(name=re.escape(name)), text, re.MULTILINE)
    if not match:
        return False, None
    return True, match.group(1) if match.group(1) is not None else match.group(2)


_major_minor = minor_of


#: CUDA / ROCm libraries a torch build carries in torch/lib (auditwheel adds a hash: libcudart-80664282.so.10.2).
_TORCH_GPU_LIBS = re.compile(
    r"^lib(?:cudart|cudnn[a-z_]*|cublas(?:Lt)?|nvrtc|nvToolsExt|torch_cuda[a-z_]*|c10_cuda|caffe2_nvrtc|"
    r"torch_hip|c10_hip|amdhip64|MIOpen|rocblas)(?:-[0-9a-f]{8})?\.so(?:\.[0-9.]+)?$"
)


def _torch_build(machine: Machine, dist: InstalledDist) -> dict[str, Any]:
    """What torch's own files say: torch/version.py (`cuda = '10.2'`, `hip = ...`) and torch/lib."""
    package = f"{dist.location}/torch"
    text = machine.read_text(f"{package}/version.py", limit=1 << 16)
    out: dict[str, Any] = {"version_file": None, "libraries": [
        name for name in machine.listdir(f"{package}/lib") if _TORCH_GPU_LIBS.match(name)]}
    if text is not None:
        fields = {}
        for name in ("__version__", "cuda", "hip", "xpu"):
            found, value = _py_string(text, name)
            if found:
                fields[name.strip("_")] = value
        if "cuda" in fields or "hip" in fields:
            out["version_file"] = fields
    return out


def _variant_from_torch_build(build: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """(variant, cuda_or_rocm, rocm, source) from `_torch_build`'s answer; Nones when it cannot tell."""
    fields = build.get("version_file")
    if fields:
        if fields.get("cuda"):
            return "cuda", _major_minor(fields["cuda"]) or fields["cuda"], None, "torch/version.py"
        if fields.get("hip"):
            rocm = _major_minor(fields["hip"]) or fields["hip"]
            return "rocm", rocm, rocm, "torch/version.py"
        if fields.get("xpu"):
            return "xpu", None, None, "torch/version.py"
        return "cpu", None, None, "torch/version.py"
    libs: list[str] = build.get("libraries") or []
    if any(re.match(r"lib(torch_hip|c10_hip|amdhip64)", n) for n in libs):
        return "rocm", None, None, "torch/lib"
    if any(re.match(r"lib(cudart|torch_cuda|c10_cuda|caffe2_nvrtc)", n) for n in libs):
        cuda = None
        for name in libs:
            # libcudart's soname carries the full version only up to CUDA 10.2; from 11 on just the major.
            match = re.match(r"libcudart(?:-[0-9a-f]{8})?\.so\.(\d+)(?:\.(\d+))?", name)
            if match:
                major = int(match.group(1))
                cuda = f"{major}.{match.group(2)}" if major < 11 and match.group(2) else str(major)
        return "cuda", cuda, None, "torch/lib"
    return None, None, None, None


def _tensorflow_build_info(machine: Machine, dist: InstalledDist) -> dict[str, Any] | None:
    """tensorflow/python/platform/build_info.py: what `tf.sysconfig.get_build_info()` returns, read as text.

    Linux writes `'cuda_version': '12.3'`, Windows `'cuda_version': '64_112'`; old releases an
    OrderedDict of pairs (`('cuda_version', '11.2')`). Both shapes are matched."""
    text = machine.read_text(f"{dist.location}/tensorflow/python/platform/build_info.py", limit=1 << 16)
    if not text:
        return None
    out: dict[str, Any] = {}
    for key in ("cuda_version", "cudnn_version"):
        match = re.search(rf"'{key}'\s*[:,]\s*'([^']*)'", text)
        if match:
            value = match.group(1)
            win = re.fullmatch(r"64_(\d+)", value)
            if win:  # Windows: "64_112" -> "11.2", "64_8" -> "8"
                digits = win.group(1)
                value = f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 3 else digits
            out[key] = value or None
    for key in ("is_cuda_build", "is_rocm_build"):
        match = re.search(rf"'{key}'\s*[:,]\s*(True|False)", text)
        if match:
            out[key] = match.group(1) == "True"
    return out or None


def _tensorflow_has_windows_gpu_build(version: str) -> bool:
    """Whether TensorFlow `version` published a native-Windows GPU build (2.10 was the last); False when unknown."""
    from dldoctor.errors import DldoctorError
    from dldoctor.knowledge.tensorflow import tensorflow_windows_gpu

    try:
        return tensorflow_windows_gpu(version) is True
    except (DldoctorError, OSError):
        return False


def _jax_plugin(machine: Machine, dists: dict[str, InstalledDist]) -> dict[str, Any] | None:
    """JAX's CUDA plugin (jax-cuda12-plugin / jax-cuda13-plugin, with its -pjrt half): version and the cuDNN it needs."""
    name = next((d for d in sorted(dists) if re.fullmatch(r"jax-cuda(\d+)-plugin", d)), None)
    if name is None:
        return None
    plugin = dists[name]
    pjrt = dists.get(name.replace("-plugin", "-pjrt"))
    cudnn = _cudnn_from_requires(_metadata(machine, plugin))
    if cudnn is None and pjrt is not None:
        cudnn = _cudnn_from_requires(_metadata(machine, pjrt))
    return {"distribution": name, "version": plugin.version, "pjrt_version": pjrt.version if pjrt else None,
            "cuda_major": re.sub(r"\D", "", name), "cudnn": cudnn}


def _classify(framework: str, dist: InstalledDist, metadata: str, conda: dict[str, dict[str, str]],
              dists: dict[str, InstalledDist], system: str, arch: str,
              machine: Machine | None = None) -> dict[str, Any]:
    """Variant ("cuda"/"rocm"/"cpu"/"mps"/...), CUDA version and cuDNN of one framework install.

    The package's own files come first (they describe the build that is installed), then the local
    version suffix, the conda build string, the declared requirements, and last what the platform implies.
    """
    extra: dict[str, Any] = {"variant_source": None, "rocm_version": None, "cudnn_version": None}
    variant: str | None = None
    cuda: str | None = None
    if framework == "pytorch" and machine is not None:
        torch_build = _torch_build(machine, dist)
        variant, cuda, rocm, source = _variant_from_torch_build(torch_build)
        extra |= {"variant_source": source, "rocm_version": rocm,
                  "build_version_file": torch_build["version_file"], "bundled_libraries": torch_build["libraries"]}
    tf_info = _tensorflow_build_info(machine, dist) if framework == "tensorflow" and machine is not None else None
    if tf_info is not None:
        extra["build_info"] = tf_info
        if tf_info.get("is_cuda_build"):
            variant, cuda, extra["variant_source"] = "cuda", tf_info.get("cuda_version"), "build_info.py"
            extra["cudnn_version"] = tf_info.get("cudnn_version")
        elif tf_info.get("is_rocm_build"):
            variant, extra["variant_source"] = "rocm", "build_info.py"
    if variant is None:
        variant, cuda = _variant_from_suffix(_local_suffix(dist.version))
        if variant is not None:
            extra["variant_source"] = "version suffix"
            if variant == "rocm":
                extra["rocm_version"] = cuda
    record = conda.get(dist.name) or conda.get("pytorch" if framework == "pytorch" else dist.name)
    build = record["build"] if record else None
    if build:
        extra["cudnn_version"] = extra["cudnn_version"] or _cudnn_from_build(build) or (
            _cudnn_from_depends(machine, record.get("record")) if machine is not None and record else None)
    if variant is None and build:
        cuda = _cuda_from_build(build)
        variant = "cuda" if cuda else ("rocm" if "rocm" in build else "cpu")
        extra["variant_source"] = "conda build string"
    pinned_cudnn = _cudnn_from_requires(metadata)
    known = extra["cudnn_version"]
    if pinned_cudnn and (not known or ("." not in known and pinned_cudnn.split(".")[0] == known)):
        extra["cudnn_version"] = pinned_cudnn  # the pin is more precise: "8" from build_info -> "8.9.7.29"
    if variant is None:
        if framework == "pytorch":
            cuda = _cuda_from_requires(metadata)
            if cuda:
                variant, extra["variant_source"] = "cuda", "nvidia-* requirements"
            elif system == "Darwin":
                variant, extra["variant_source"] = ("mps" if arch == "arm64" else "cpu"), "platform"
            elif machine is not None and not machine.exists(f"{dist.location}/torch"):
                variant = None  # no package files to read and no suffix: unknown, not "cpu"
            else:
                variant, extra["variant_source"] = "cpu", "no CUDA in the package"
        elif framework == "tensorflow":
            extra["variant_source"] = "package name and platform"
            if dist.name in ("tensorflow-cpu",) or system == "Darwin":
                variant = "mps" if dist.name == "tensorflow-macos" and "tensorflow-metal" in dists else "cpu"
            elif system == "Windows":
                variant = "cuda" if _tensorflow_has_windows_gpu_build(dist.version) else "cpu"
            elif dist.name == "tensorflow-rocm":
                variant = "rocm"
            else:
                variant = "cuda" if arch in ("x86_64", "AMD64") else "cpu"
        elif framework == "jax":
            plugin = _jax_plugin(machine, dists) if machine is not None else None
            plugin_name = next((d for d in dists if re.fullmatch(r"jax-cuda(\d+)-plugin", d)), None)
            rocm = next((d for d in dists if re.fullmatch(r"jax-rocm\d*-plugin", d)), None)
            old_cuda = re.search(r"\+cuda(\d+)(?:\.cudnn(\d)(\d+))?", dist.version)  # "0.4.28+cuda12.cudnn89"
            if plugin_name:
                variant, cuda = "cuda", re.sub(r"\D", "", plugin_name)
                extra["variant_source"] = "CUDA plugin"
                if plugin is not None:
                    extra["cuda_plugin"] = plugin
                    extra["cudnn_version"] = plugin["cudnn"]
            elif rocm:
                variant, extra["variant_source"] = "rocm", "ROCm plugin"
            elif old_cuda:
                variant, cuda, extra["variant_source"] = "cuda", old_cuda.group(1), "version suffix"
                if old_cuda.group(2):
                    extra["cudnn_version"] = f"{old_cuda.group(2)}.{old_cuda.group(3)}"
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
    if framework == "jax" and "cuda_plugin" not in extra and machine is not None:
        plugin = _jax_plugin(machine, dists)
        if plugin is not None:
            extra["cuda_plugin"] = plugin
    return {"variant": variant, "cuda_version": cuda, "conda_build": build} | extra


def probe_frameworks(machine: Machine, notes: Notes, python: str | None = None) -> dict[str, Any]:
    """The frameworks installed in the target Python (each with its build variant, CUDA and copies), the
    NVIDIA wheels beside them, and a JVM with Deeplearning4j."""
    target = inspect_python(machine, python)
    others = [_other_environment(machine, env) for env in other_environments(machine, target)]
    if target.error:
        notes.fail("frameworks.python", f"{target.executable or 'python'}: {target.error}")
        return {"python": target.to_json(), "installed": [], "nvidia_wheels": [], "jvm": _jvm(machine),
                "other_environments": others}
    installed, all_dists, conda = _frameworks_of(machine, target)
    nvidia_wheels = [
        {"distribution": d.name, "version": d.version, "location": d.location}
        for d in all_dists if d.name.startswith("nvidia-") and d.name != "nvidia-ml-py"
    ]
    return {
        "python": target.to_json() | {"is_conda": bool(conda) or None},
        "installed": installed,
        "nvidia_wheels": nvidia_wheels,
        "jvm": _jvm(machine),
        "other_environments": others,
    }


def _other_environment(machine: Machine, env: OtherEnvironment) -> dict[str, Any]:
    """One line's worth of another environment: where, what kind, its Python and its frameworks."""
    target = env.target(machine)
    installed, _, _ = _frameworks_of(machine, target)
    return {
        "prefix": env.prefix, "kind": env.kind, "found_by": env.found_by, "python_version": target.version,
        "frameworks": [{"name": f["name"], "version": f["version"], "variant": f.get("variant")}
                       for f in installed if f.get("status") == "active"],
    }


def _frameworks_of(machine: Machine, target: PythonTarget) -> tuple[
        list[dict[str, Any]], tuple[InstalledDist, ...], dict[str, dict[str, str]]]:
    """The frameworks installed for `target`, with every distribution and conda record they were read from."""
    all_dists = scan_dists(machine, target)
    conda = conda_records(machine, target)
    first: dict[str, InstalledDist] = {}
    copies: dict[str, list[InstalledDist]] = {}
    for dist in all_dists:
        first.setdefault(dist.name, dist)
        copies.setdefault(dist.name, []).append(dist)
    installed = []
    for framework, names in framework_dists().items():
        present = [first[n] for n in names if n in first]
        if not present:
            continue
        dist = present[0]
        metadata = _metadata(machine, dist)
        entry: dict[str, Any] = {
            "name": framework,
            "distribution": dist.name,
            "version": dist.version,
            **_classify(framework, dist, metadata, conda, first, machine.system, machine.arch, machine),
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
    return installed, all_dists, conda


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
    command = machine.command("java", head_bytes=0)
    java = command.found if command is not None else None
    version = None
    if command is not None:
        java_home = posixpath.dirname(posixpath.dirname(command.resolved))
        match = re.search(r'^JAVA_VERSION="([^"]+)"', machine.read_text(f"{java_home}/release") or "", re.MULTILINE)
        version = match.group(1) if match else None
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
