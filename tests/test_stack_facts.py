"""What the frameworks and toolkits probes read from a package's own files, and the rules they feed.

Probe tests build a small file tree under tmp_path (a site-packages with torch/version.py and
torch/lib, a conda-meta folder, dpkg's status file) and read it through a real `Machine`, whose
target interpreter is a script that answers dldoctor's inspect snippet. Rule tests run on small
snapshot documents. File contents follow real packages; each case names its source.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dldoctor.machine import Machine, UserInfo
from dldoctor.probes import Notes
from dldoctor.probes.frameworks import probe_frameworks
from dldoctor.probes.toolkits import probe_cuda_toolkits
from dldoctor.report import Finding, Severity
from dldoctor.rules import EXPLANATIONS, run_rules
from dldoctor.runner import Runner
from dldoctor.snapshot.facts import Facts

SP = "/opt/venv/lib/python3.8/site-packages"


# --- a small machine ----------------------------------------------------------------------

class Tree:
    """A fake filesystem root plus the interpreter that reports its sys.path."""

    def __init__(self, tmp_path: Path, prefix: str = "/opt/venv", sp: str = SP, system: str = "Linux",
                 env: dict[str, str] | None = None) -> None:
        self.root = tmp_path / "root"
        self.bin = tmp_path / "bin"
        self.root.mkdir(parents=True, exist_ok=True)
        self.bin.mkdir(parents=True, exist_ok=True)
        self.prefix, self.sp, self.system = prefix, sp, system
        self.env = dict(env or {})

    def write(self, path: str, text: str | bytes = b"") -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)

    def link(self, path: str, target: str) -> None:
        """A relative symlink inside the root."""
        p = self.root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)

    def dist(self, name: str, version: str, requires: tuple[str, ...] = (), installer: str = "pip") -> None:
        folder = f"{self.sp}/{name.replace('-', '_')}-{version}.dist-info"
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
        self.write(f"{folder}/METADATA", meta)
        self.write(f"{folder}/INSTALLER", installer + "\n")

    def conda(self, name: str, version: str, build: str, depends: tuple[str, ...] = ()) -> None:
        self.write(f"{self.prefix}/conda-meta/{name}-{version}-{build}.json", json.dumps({
            "name": name, "version": version, "build": build, "depends": list(depends),
            "channel": "https://conda.anaconda.org/pytorch/linux-64"}))

    def machine(self) -> Machine:
        answer = {"executable": f"{self.prefix}/bin/python", "version": "3.8.10", "prefix": self.prefix,
                  "base_prefix": "/usr", "path": ["/usr/lib/python3.8", self.sp], "user_site": None,
                  "user_site_enabled": False, "platform": "linux"}
        python = self.bin / "python3"
        # The machine's PATH is this folder alone: answer with the shell's own echo, no cat.
        python.write_text("#!/bin/sh\necho '" + json.dumps(answer) + "'\n")
        python.chmod(0o755)
        env = {"PATH": str(self.bin), "HOME": "/home/u", **self.env}
        return Machine(root=self.root, env=env, runner=Runner(env=env), system=self.system, arch="x86_64",
                       glibc="2.31", hostname="h", user=UserInfo("u", 1000, (1000,), "/home/u"),
                       own_python=str(python))


def frameworks_of(tree: Tree) -> dict[str, dict[str, Any]]:
    doc = probe_frameworks(tree.machine(), Notes())
    return {f["name"]: f for f in doc["installed"]}


# The torch 1.8.0 PyPI wheel's torch/version.py (torch-1.8.0-cp38-cp38-manylinux1_x86_64.whl): no local
# version suffix, no nvidia-* requirements, and yet a CUDA 10.2 build.
TORCH_180_VERSION_PY = """__version__ = '1.8.0'
debug = False
cuda = '10.2'
git_version = '37c1f4a7fef115d719104e871d0cf39434aa9d56'
hip = None
"""
# PyPI wheels bundle libcudart under an auditwheel-hashed name; torch 1.10.2's manylinux1 wheel references
# "libcudart-80664282.so.10.2" (`auditwheel show` output quoted in pytorch/pytorch#73034).
BUNDLED_CUDART = "libcudart-80664282.so.10.2"


def test_pypi_torch_180_without_suffix_is_a_cuda_10_2_build(tmp_path: Path) -> None:
    tree = Tree(tmp_path)
    tree.dist("torch", "1.8.0", ("typing-extensions", "numpy"))
    tree.write(f"{SP}/torch/version.py", TORCH_180_VERSION_PY)
    for lib in (BUNDLED_CUDART, "libtorch_cuda.so", "libc10_cuda.so", "libtorch_cpu.so"):
        tree.write(f"{SP}/torch/lib/{lib}")
    torch = frameworks_of(tree)["pytorch"]
    assert (torch["variant"], torch["cuda_version"], torch["variant_source"]) == ("cuda", "10.2", "torch/version.py")
    assert torch["build_version_file"] == {"version": "1.8.0", "cuda": "10.2", "hip": None}
    assert sorted(torch["bundled_libraries"]) == sorted([BUNDLED_CUDART, "libc10_cuda.so", "libtorch_cuda.so"])


def test_bundled_libraries_alone_tell_a_cuda_build(tmp_path: Path) -> None:
    tree = Tree(tmp_path)
    tree.dist("torch", "1.10.2")
    tree.write(f"{SP}/torch/lib/{BUNDLED_CUDART}")
    tree.write(f"{SP}/torch/lib/libtorch_cuda.so")
    torch = frameworks_of(tree)["pytorch"]
    assert (torch["variant"], torch["cuda_version"], torch["variant_source"]) == ("cuda", "10.2", "torch/lib")


@pytest.mark.parametrize(("version_py", "variant", "cuda", "rocm"), [
    # torch 2.8.0 from PyPI's CPU index / macOS: `cuda: Optional[str] = None` (torch/version.py of that wheel).
    ("__version__ = '2.8.0'\ndebug = False\ncuda: Optional[str] = None\nhip: Optional[str] = None\n"
     "xpu: Optional[str] = None\n", "cpu", None, None),
    # torch 2.4.0+cu118's torch/version.py.
    ("__version__ = '2.4.0+cu118'\ndebug = False\ncuda: Optional[str] = '11.8'\nhip: Optional[str] = None\n",
     "cuda", "11.8", None),
    # a ROCm wheel: hip carries HIP's full version (torch 2.5.1+rocm6.2).
    ("__version__ = '2.5.1+rocm6.2'\ndebug = False\ncuda: Optional[str] = None\n"
     "hip: Optional[str] = '6.2.41133-dd7f95766'\n", "rocm", "6.2", "6.2"),
])
def test_torch_version_py(tmp_path: Path, version_py: str, variant: str, cuda: str | None, rocm: str | None) -> None:
    tree = Tree(tmp_path)
    tree.dist("torch", version_py.split("'")[1])
    tree.write(f"{SP}/torch/version.py", "from typing import Optional\n\n" + version_py)
    torch = frameworks_of(tree)["pytorch"]
    assert (torch["variant"], torch["cuda_version"], torch["rocm_version"]) == (variant, cuda, rocm)


def test_torch_without_suffix_or_files_is_unknown_not_cpu(tmp_path: Path) -> None:
    tree = Tree(tmp_path)
    tree.dist("torch", "1.12.1")
    assert frameworks_of(tree)["pytorch"]["variant"] is None


def test_pytorch_channel_build_string_and_conda_cudnn(tmp_path: Path) -> None:
    # The pytorch channel's file name: pytorch-1.12.1-py3.8_cuda11.3_cudnn8.3.2_0.tar.bz2; its cuDNN came
    # from conda too (cudnn-8.2.1-cuda11.3_0 on the defaults channel), with cudatoolkit 11.3.1.
    tree = Tree(tmp_path, prefix="/opt/conda/envs/ml", sp="/opt/conda/envs/ml/lib/python3.8/site-packages")
    tree.conda("pytorch", "1.12.1", "py3.8_cuda11.3_cudnn8.3.2_0")
    tree.conda("cudnn", "8.2.1", "cuda11.3_0")
    tree.conda("cudatoolkit", "11.3.1", "h2bc3f7f_2")
    tree.dist("torch", "1.12.1", installer="conda")
    torch = frameworks_of(tree)["pytorch"]
    assert (torch["variant"], torch["cuda_version"], torch["cudnn_version"]) == ("cuda", "11.3", "8.3.2")
    assert torch["variant_source"] == "conda build string"
    kits = probe_cuda_toolkits(tree.machine(), Notes())
    assert [(c["version"], c["source"], c["path"]) for c in kits["cudnn"]] == [
        ("8.2.1", "conda cudnn", "/opt/conda/envs/ml/lib")]
    assert [p["name"] for p in kits["conda_cuda_packages"]] == ["cudatoolkit", "cudnn"]


def test_conda_forge_build_string_and_cudnn_dependency(tmp_path: Path) -> None:
    # conda-forge: pytorch-2.5.1-cuda126_py311h... depends on "cudnn >=9.3.0.75,<10.0a0" (its repodata record).
    tree = Tree(tmp_path, prefix="/opt/conda", sp="/opt/conda/lib/python3.11/site-packages")
    tree.conda("pytorch", "2.5.1", "cuda126_py311h1234567_303", ("cuda-version >=12.6,<13", "cudnn >=9.3.0.75,<10.0a0"))
    tree.dist("torch", "2.5.1", installer="conda")
    torch = frameworks_of(tree)["pytorch"]
    assert (torch["variant"], torch["cuda_version"], torch["cudnn_version"]) == ("cuda", "12.6", "9.3.0.75")


def test_jax_cuda_plugin_version_and_cudnn(tmp_path: Path) -> None:
    # jax-cuda12-plugin declares its pip CUDA libraries under the with-cuda extra, cuDNN as ">=9.1,<10.0".
    tree = Tree(tmp_path)
    tree.dist("jaxlib", "0.4.35")
    tree.dist("jax-cuda12-plugin", "0.4.35", ('nvidia-cudnn-cu12<10.0,>=9.1; extra == "with-cuda"',))
    tree.dist("jax-cuda12-pjrt", "0.4.35")
    jax = frameworks_of(tree)["jax"]
    assert (jax["variant"], jax["cuda_version"], jax["cudnn_version"]) == ("cuda", "12", "9.1")
    assert jax["cuda_plugin"] == {"distribution": "jax-cuda12-plugin", "version": "0.4.35", "pjrt_version": "0.4.35",
                                  "cuda_major": "12", "cudnn": "9.1"}


def test_old_jaxlib_cuda_suffix(tmp_path: Path) -> None:
    # Before the plugins, CUDA jaxlib wheels carried CUDA and cuDNN in the version: "jaxlib==0.4.28+cuda12.cudnn89"
    # (a poetry.lock quoted in rseng/gpu-search's lgrcia/prose entry).
    tree = Tree(tmp_path)
    tree.dist("jaxlib", "0.4.28+cuda12.cudnn89")
    jax = frameworks_of(tree)["jax"]
    assert (jax["variant"], jax["cuda_version"], jax["cudnn_version"]) == ("cuda", "12", "8.9")


def test_tensorflow_build_info_on_windows(tmp_path: Path) -> None:
    # TensorFlow 2.10's build_info.py on Windows (an OrderedDict of pairs, "64_112" for CUDA 11.2).
    tree = Tree(tmp_path, system="Windows")
    tree.dist("tensorflow", "2.10.1")
    tree.write(f"{SP}/tensorflow/python/platform/build_info.py",
               "import collections\n\nbuild_info = collections.OrderedDict([('cuda_version', '64_112'), "
               "('cudart_dll_name', 'cudart64_112.dll'), ('cudnn_version', '64_8'), ('is_cuda_build', True), "
               "('is_rocm_build', False)])\n")
    tf = frameworks_of(tree)["tensorflow"]
    assert (tf["variant"], tf["cuda_version"], tf["cudnn_version"], tf["variant_source"]) == (
        "cuda", "11.2", "8", "build_info.py")


def test_tensorflow_cudnn_pin_and_windows_cpu(tmp_path: Path) -> None:
    # tensorflow 2.16.1's METADATA: Requires-Dist: nvidia-cudnn-cu12==8.9.7.29; extra == "and-cuda".
    tree = Tree(tmp_path)
    tree.dist("tensorflow", "2.16.1", ('nvidia-cudnn-cu12==8.9.7.29; extra == "and-cuda"',))
    assert frameworks_of(tree)["tensorflow"]["cudnn_version"] == "8.9.7.29"
    windows = Tree(tmp_path / "win", system="Windows")
    windows.dist("tensorflow", "2.16.1")
    assert frameworks_of(windows)["tensorflow"]["variant"] == "cpu"
    old = Tree(tmp_path / "win210", system="Windows")
    old.dist("tensorflow", "2.10.1")
    assert frameworks_of(old)["tensorflow"]["variant"] == "cuda"


def test_distro_packages_and_libcuda_copies_in_wsl(tmp_path: Path) -> None:
    # A WSL2 Ubuntu where `apt install cuda` pulled in the Linux driver 550: dpkg's status stanzas and the
    # driver's libcuda.so.1 next to WSL's own in /usr/lib/wsl/lib.
    tree = Tree(tmp_path)
    tree.write("/var/lib/dpkg/status",
               "Package: libnvidia-compute-550\nStatus: install ok installed\nVersion: 550.54.15-0ubuntu1\n\n"
               "Package: cuda-toolkit-12-4\nStatus: install ok installed\nVersion: 12.4.1-1\n\n"
               "Package: nvidia-driver-535\nStatus: deinstall ok config-files\nVersion: 535.183.01-0ubuntu1\n\n"
               "Package: bash\nStatus: install ok installed\nVersion: 5.1-6ubuntu1\n")
    tree.write("/usr/lib/wsl/lib/libcuda.so.1")
    tree.write("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15")
    tree.link("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "libcuda.so.550.54.15")
    kits = probe_cuda_toolkits(tree.machine(), Notes())
    assert [(p["name"], p["version"]) for p in kits["distro_packages"]] == [
        ("cuda-toolkit-12-4", "12.4.1-1"), ("libnvidia-compute-550", "550.54.15-0ubuntu1")]
    assert [(c["path"], c["target"]) for c in kits["libcuda_copies"]] == [
        ("/usr/lib/wsl/lib/libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1"),
        ("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15")]


# --- rules on snapshots ----------------------------------------------------------------------

GPU = {"index": 0, "name": "NVIDIA GeForce RTX 3090", "uuid": "GPU-9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
       "compute_capability": "8.6"}
BASE: dict[str, Any] = {
    "schema": "dldoctor.snapshot/1",
    "host": {"os": "Linux", "arch": "x86_64", "distro": {"id": "ubuntu", "id_like": "debian"}, "wsl": False,
             "in_container": None},
    "nvidia": {"present": True, "driver_version": "550.54.14", "cuda_driver_version": "12.4",
               "kernel_module_version": "550.54.14", "userspace_driver_version": "550.54.14", "module_loaded": True,
               "gpus": [GPU], "pci_devices": [{"bus_id": "0000:01:00.0"}],
               "device_nodes": ["/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl"],
               "libraries": [{"name": "libcuda", "version": "550.54.14",
                              "path": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14"}]},
    "amd": {}, "other_accelerators": {}, "docker": {},
    "cuda_toolkits": {"toolkits": [], "cudnn": [], "nccl": [], "cuda_runtime_wheels": []},
    "environment": {"variables": {}},
    "frameworks": {"python": {}, "installed": [], "nvidia_wheels": []},
    "probe_failures": [],
}


def snapshot(**sections: Any) -> dict[str, Any]:
    snap = copy.deepcopy(BASE)
    for name, value in sections.items():
        snap[name].update(value)
    return snap


def findings(snap: dict[str, Any]) -> dict[str, Finding]:
    got = {f.id: f for f in run_rules(Facts(snap))}
    assert "internal.rule-crashed" not in got, got["internal.rule-crashed"].detail
    for finding in got.values():
        assert finding.id in EXPLANATIONS
    return got


def tf(version: str, **extra: Any) -> dict[str, Any]:
    return {"name": "tensorflow", "distribution": "tensorflow", "version": version, "variant": "cuda",
            "cuda_version": None, "cudnn_version": None, "location": SP, "installer": "pip", "duplicates": []} | extra


def system_cudnn(version: str, folder: str = "/usr/lib/x86_64-linux-gnu") -> dict[str, Any]:
    return {"version": version, "path": f"{folder}/libcudnn.so.{version}", "source": "system"}


def test_tensorflow_with_an_older_system_cudnn_minor() -> None:
    # TensorFlow 2.16 was built with cuDNN 8.9 (tensorflow_cuda table); XLA refuses 8.6 at run time:
    # "Loaded runtime CuDNN library: 8.6.0 but source was compiled with: 8.9.4".
    snap = snapshot(frameworks={"installed": [tf("2.16.1")]},
                    cuda_toolkits={"cudnn": [system_cudnn("8.6.0")]})
    finding = findings(snap)["cuda.cudnn-too-old"]
    assert finding.severity is Severity.ERROR
    assert finding.evidence["found"] == "8.6.0" and "8.9" in finding.evidence["required"]
    assert any("tensorflow[and-cuda]" in c for c in finding.fix)
    snap["cuda_toolkits"]["cudnn"] = [system_cudnn("8.9.7")]
    assert "cuda.cudnn-too-old" not in findings(snap)


def test_jax_plugin_with_an_older_pip_cudnn() -> None:
    jax = {"name": "jax", "distribution": "jaxlib", "version": "0.4.35", "variant": "cuda", "cuda_version": "12",
           "cudnn_version": "9.1", "location": SP, "installer": "pip", "duplicates": [],
           "cuda_plugin": {"distribution": "jax-cuda12-plugin", "version": "0.4.35", "cuda_major": "12"}}
    snap = snapshot(frameworks={"installed": [jax], "nvidia_wheels": [
                        {"distribution": "nvidia-cudnn-cu12", "version": "9.0.0.312", "location": SP}]},
                    cuda_toolkits={"cudnn": [{"version": "9.0.0.312", "path": SP, "source": "pip nvidia-cudnn-cu12"},
                                             system_cudnn("9.8.0.87")]})
    finding = findings(snap)["cuda.cudnn-too-old"]
    assert finding.evidence["loaded_from"].startswith("pip nvidia-cudnn-cu12")  # the wheel wins over the system's
    assert finding.fix == ("pip install 'nvidia-cudnn-cu12>=9.1,<10'",)


def test_jaxlib_release_table_sets_the_floor_without_a_pin() -> None:
    # jax_releases: jaxlib 0.6+ on CUDA 12 needs cuDNN >= 9.8; a system 9.1 will not do.
    jax = {"name": "jax", "distribution": "jaxlib", "version": "0.6.2", "variant": "cuda", "cuda_version": "12",
           "location": SP, "installer": "pip", "duplicates": []}
    snap = snapshot(frameworks={"installed": [jax]}, cuda_toolkits={"cudnn": [system_cudnn("9.1.0")]})
    assert "9.8" in findings(snap)["cuda.cudnn-too-old"].evidence["required"]


@pytest.mark.parametrize(("fw", "cudnn"), [
    ({"version": "0.4.11.dev20230517+cuda11.cudnn86"}, "8.6"),  # jax-ml/jax#16038
    ({"version": "0.3.10+cuda11.cudnn805"}, "8.5"),  # the three-digit form of jaxlib 0.3
    ({"version": "0.4.28+cuda12.cudnn89", "cudnn_version": "8.9.4"}, "8.9.4"),  # the probe's reading wins
    ({"version": "0.4.35"}, None),
    ({"version": "2.2.0+cu121"}, None),
])
def test_build_cudnn_from_the_local_version(fw: dict[str, Any], cudnn: str | None) -> None:
    from dldoctor.rules.cuda import build_cudnn

    got = build_cudnn(fw)
    assert (str(got) if got is not None else None) == cudnn


def test_jaxlib_cudnn_suffix_sets_the_floor_without_a_cudnn_key() -> None:
    # jax-ml/jax#16038: jaxlib 0.4.11.dev20230517+cuda11.cudnn86 with a system cuDNN 8.5.0: "Loaded runtime
    # CuDNN library: 8.5.0 but source was compiled with: 8.6.0". The release table alone (>= 8.2) would pass it.
    jax = {"name": "jax", "distribution": "jaxlib", "version": "0.4.11.dev20230517+cuda11.cudnn86", "variant": "cuda",
           "cuda_version": "11", "location": SP, "installer": "pip", "duplicates": []}
    snap = snapshot(frameworks={"installed": [jax]}, cuda_toolkits={"cudnn": [system_cudnn("8.5.0")]})
    finding = findings(snap)["cuda.cudnn-too-old"]
    assert finding.severity is Severity.ERROR
    assert finding.evidence["found"] == "8.5.0" and finding.evidence["required"].startswith(">= 8.6")
    snap["cuda_toolkits"]["cudnn"] = [system_cudnn("8.6.0")]
    assert "cuda.cudnn-too-old" not in findings(snap)


def pip_torch_under(ld_cudnn: dict[str, Any]) -> dict[str, Any]:
    # pytorch/pytorch#119989: torch 2.2.0 (cu121) with nvidia-cudnn-cu12 8.9.2.26, LD_LIBRARY_PATH on a CUDA 12.3
    # toolkit whose lib64 holds a system cuDNN 8.
    torch = {"name": "pytorch", "distribution": "torch", "version": "2.2.0", "variant": "cuda", "cuda_version": "12.1",
             "location": SP, "installer": "pip", "duplicates": []}
    return snapshot(
        frameworks={"installed": [torch],
                    "nvidia_wheels": [{"distribution": "nvidia-cudnn-cu12", "version": "8.9.2.26", "location": SP}]},
        environment={"variables": {"LD_LIBRARY_PATH": "/usr/local/cuda-12.3/lib64"}},
        cuda_toolkits={"toolkits": [{"path": "/usr/local/cuda-12.3", "version": "12.3"}],
                       "cudnn": [ld_cudnn, {"version": "8.9.2.26", "path": SP, "source": "pip nvidia-cudnn-cu12"}]})


@pytest.mark.parametrize(("ld_cudnn", "severity"), [
    # the report: only the failing sub-library's path, no version; same soname major as the wheel
    ({"version": None, "path": "/usr/local/cuda-12.3/lib64/libcudnn_cnn_train.so.8", "source": "system"},
     Severity.ERROR),
    (system_cudnn("8.6.0", "/usr/local/cuda-12.3/lib64"), Severity.ERROR),  # known older
    (system_cudnn("8.9.2", "/usr/local/cuda-12.3/lib64"), Severity.WARNING),  # equal at the precision stated
    (system_cudnn("8.9.7", "/usr/local/cuda-12.3/lib64"), Severity.WARNING),  # known newer
    (system_cudnn("9.1.0", "/usr/local/cuda-12.3/lib64"), Severity.WARNING),  # libcudnn.so.9: not the wheel's soname
])
def test_system_cudnn_of_the_wheels_major_shadows_it(ld_cudnn: dict[str, Any], severity: Severity) -> None:
    finding = findings(pip_torch_under(ld_cudnn))["cuda.ld-library-path-shadows"]
    assert finding.severity is severity, finding.evidence["clashes"]
    if severity is Severity.ERROR:
        assert any("8.9.2.26" in c for c in finding.evidence["clashes"])


def test_a_system_cudnn_outside_the_shadowing_folder_does_not_count() -> None:
    finding = findings(pip_torch_under(system_cudnn("8.6.0")))["cuda.ld-library-path-shadows"]
    assert finding.severity is Severity.WARNING


def conda_torch() -> dict[str, Any]:
    return {"name": "pytorch", "distribution": "torch", "version": "2.5.1", "variant": "cuda", "cuda_version": "12.6",
            "cudnn_version": "9.3.0.75", "conda_build": "cuda126_py311h1234567_303",
            "location": "/opt/conda/lib/python3.11/site-packages", "installer": "conda", "duplicates": []}


def conda_stack(ld: str) -> dict[str, Any]:
    return snapshot(
        frameworks={"installed": [conda_torch()]},
        environment={"variables": {"LD_LIBRARY_PATH": ld}},
        cuda_toolkits={"toolkits": [{"path": "/usr/local/cuda-12.2", "version": "12.2.2", "nvcc": None}],
                       "cudnn": [system_cudnn("9.0.0", "/usr/local/cuda-12.2/lib64"),
                                 {"version": "9.3.0.75", "path": "/opt/conda/lib", "source": "conda cudnn"}],
                       "conda_cuda_packages": [{"name": "cudnn", "version": "9.3.0.75", "build": "h1234_0",
                                                "lib_dir": "/opt/conda/lib"}]})


def test_ld_library_path_shadows_a_conda_environment_without_nvidia_wheels() -> None:
    got = findings(conda_stack("/usr/local/cuda-12.2/lib64:/opt/conda/lib"))
    finding = got["cuda.ld-library-path-shadows"]
    assert finding.severity is Severity.ERROR
    assert finding.evidence["found"] == ["/usr/local/cuda-12.2/lib64"]
    assert any("9.0.0" in c and "9.3" in c for c in finding.evidence["clashes"])
    assert "cuda.cudnn-too-old" not in got  # one cause, one finding
    assert "cuda.ld-library-path-shadows" not in findings(conda_stack("/opt/conda/lib:/usr/local/cuda-12.2/lib64"))


def test_ld_library_path_is_how_a_framework_without_its_own_libraries_finds_cuda() -> None:
    snap = snapshot(frameworks={"installed": [tf("2.16.1")]},
                    environment={"variables": {"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"}},
                    cuda_toolkits={"cudnn": [system_cudnn("8.9.7", "/usr/local/cuda/lib64")]})
    assert "cuda.ld-library-path-shadows" not in findings(snap)


def test_bundled_torch_is_shadowed_too() -> None:
    torch = {"name": "pytorch", "distribution": "torch", "version": "1.8.0", "variant": "cuda", "cuda_version": "10.2",
             "location": SP, "installer": "pip", "duplicates": [], "bundled_libraries": [BUNDLED_CUDART]}
    snap = snapshot(frameworks={"installed": [torch]},
                    environment={"variables": {"LD_LIBRARY_PATH": "/usr/local/cuda-10.1/lib64"}},
                    cuda_toolkits={"toolkits": [{"path": "/usr/local/cuda-10.1", "version": "10.1.243"}]},
                    nvidia={"driver_version": "450.80.02", "cuda_driver_version": "11.0"})
    finding = findings(snap)["cuda.ld-library-path-shadows"]
    assert "bundled" in finding.title and finding.severity is Severity.ERROR


@pytest.mark.parametrize("container", [None, "docker"])
def test_nvidia_uvm_missing(container: str | None) -> None:
    snap = snapshot(nvidia={"device_nodes": ["/dev/nvidia0", "/dev/nvidiactl"]}, host={"in_container": container})
    finding = findings(snap)["driver.nvidia-uvm-missing"]
    assert finding.severity is Severity.ERROR and "999" in finding.title
    assert any("nvidia-modprobe -u" in c for c in finding.fix)
    assert any("restart the container" in c for c in finding.fix) == (container is not None)
    assert "driver.nvidia-uvm-missing" not in findings(snapshot())


WSL = {"os": "Linux", "wsl": True}
WSL_NVIDIA: dict[str, Any] = {"kernel_module_version": None, "module_loaded": False, "pci_devices": [], "wsl_libcuda": True,
              "userspace_driver_version": None, "device_nodes": ["/dev/dxg"],
              "driver_version": "566.36", "cuda_driver_version": "12.7",
              "libraries": [{"name": "libcuda", "version": "1.1", "path": "/usr/lib/wsl/lib/libcuda.so.1.1"}]}


def test_wsl_is_fine_with_the_windows_driver_alone() -> None:
    got = findings(snapshot(host=WSL, nvidia=WSL_NVIDIA))
    assert not {"driver.wsl-linux-driver", "host.wsl-libcuda-shadowed", "driver.nvidia-uvm-missing"} & set(got)


def test_linux_driver_inside_wsl_is_an_error() -> None:
    nvidia = copy.deepcopy(WSL_NVIDIA)
    nvidia["libraries"].append({"name": "libcuda", "version": "550.54.15",
                                "path": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"})
    kits = {"distro_packages": [{"name": "libnvidia-compute-550", "version": "550.54.15-0ubuntu1", "manager": "dpkg"}],
            "libcuda_copies": [{"path": "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                                "target": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"}]}
    got = findings(snapshot(host=WSL, nvidia=nvidia, cuda_toolkits=kits))
    finding = got["driver.wsl-linux-driver"]
    assert finding.severity is Severity.ERROR
    assert "package libnvidia-compute-550 550.54.15-0ubuntu1" in finding.evidence["found"]
    assert any("apt remove --purge" in c for c in finding.fix) and any("wsl --shutdown" in c for c in finding.fix)
    assert "host.wsl-libcuda-shadowed" not in got  # the driver finding explains it


def test_linux_libcuda_so1_alone_inside_wsl() -> None:
    kits = {"libcuda_copies": [{"path": "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                                "target": "/usr/lib/x86_64-linux-gnu/libcuda.so.1"}]}
    assert "driver.wsl-linux-driver" in findings(snapshot(host=WSL, nvidia=WSL_NVIDIA, cuda_toolkits=kits))


@pytest.mark.parametrize(("version", "fires"), [("2.16.1", True), ("2.11.0", True), ("2.10.1", False)])
def test_tensorflow_on_native_windows(version: str, fires: bool) -> None:
    snap = snapshot(host={"os": "Windows", "distro": {}},
                    frameworks={"installed": [tf(version, variant="cpu" if fires else "cuda")]})
    got = findings(snap)
    assert ("host.windows-tensorflow-no-gpu" in got) == fires
    if fires:
        assert any("wsl --install" in c for c in got["host.windows-tensorflow-no-gpu"].fix)


def test_toolkit_floor_below_cuda_11() -> None:
    # Driver floors reach back to CUDA 9.0 (cuda_driver rows): CUDA 10.2 needs 440.33 (CUDA 10.2 release notes).
    snap = snapshot(nvidia={"driver_version": "418.87.00", "cuda_driver_version": "10.1"},
                    cuda_toolkits={"toolkits": [{"path": "/usr/local/cuda-10.2", "version": "10.2.89",
                                                 "nvcc": "/usr/local/cuda-10.2/bin/nvcc", "exists": True}]})
    finding = findings(snap)["cuda.toolkit-newer-than-driver"]
    assert any(">= 440.33" in c for c in finding.fix)


def test_a_source_build_relies_on_the_system_cuda() -> None:
    # libtorch_cuda.so is in every CUDA build; without bundled CUDA libraries the build uses the system's.
    torch = {"name": "pytorch", "distribution": "torch", "version": "2.5.0a0+gite84e33f", "variant": "cuda",
             "cuda_version": "12.4", "location": SP, "installer": None, "duplicates": [],
             "bundled_libraries": ["libtorch_cuda.so", "libc10_cuda.so"]}
    snap = snapshot(frameworks={"installed": [torch]},
                    environment={"variables": {"LD_LIBRARY_PATH": "/usr/local/cuda-12.4/lib64"}},
                    cuda_toolkits={"toolkits": [{"path": "/usr/local/cuda-12.4", "version": "12.4.1"}]})
    assert "cuda.ld-library-path-shadows" not in findings(snap)
