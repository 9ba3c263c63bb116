"""CUDA toolkits, cuDNN and NCCL: on the system, in pip nvidia-* wheels and in conda.

Also the distro's CUDA and NVIDIA driver packages (dpkg's status file) and every
`libcuda.so.1` in the loader's folders with the file it resolves to: under WSL2
both tell a Linux driver installed by mistake from the Windows driver's
/usr/lib/wsl/lib.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from dldoctor.machine import Command, Machine
from dldoctor.probes import Notes
from dldoctor.probes.frameworks import conda_records, scan_dists
from dldoctor.probes.python_target import inspect_python
from dldoctor.probes.util import first_version, so_version

SYSTEM_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/usr/local/lib", "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
)
INCLUDE_DIRS = ("/usr/include", "/usr/local/cuda/include", "/usr/include/x86_64-linux-gnu")


def probe_cuda_toolkits(machine: Machine, notes: Notes, python: str | None = None) -> dict[str, Any]:
    """CUDA toolkits, system and wheel cuDNN/NCCL, conda CUDA packages, distro packages and libcuda copies."""
    toolkits = _toolkits(machine, notes)
    lib_dirs = list(SYSTEM_LIB_DIRS) + [t["path"] + "/lib64" for t in toolkits]
    lib_dirs += [d for d in machine.env.get("LD_LIBRARY_PATH", "").split(":") if d.startswith("/")]
    pip = _pip_wheels(machine, python)
    conda = _conda_cuda_packages(machine, python)
    return {
        "toolkits": toolkits,
        "cudnn": _system_lib(machine, "cudnn", lib_dirs) + pip.get("cudnn", []) + _conda_libs(conda, "cudnn"),
        "nccl": _system_lib(machine, "nccl", lib_dirs) + pip.get("nccl", []) + _conda_libs(conda, "nccl"),
        "cuda_runtime_wheels": pip.get("cuda-runtime", []),
        "conda_cuda_packages": conda,
        "distro_packages": _dpkg_packages(machine),
        "libcuda_copies": _libcuda_copies(machine),
    }


def _toolkit_version(machine: Machine, root: str) -> str | None:
    text = machine.read_text(f"{root}/version.json")
    if text:
        try:
            data = json.loads(text)
            version = data.get("cuda", {}).get("version") or data.get("cuda_nvcc", {}).get("version")
            return str(version) if version else None
        except (ValueError, AttributeError):
            return None
    return first_version(machine.read_text(f"{root}/version.txt"))


def _toolkits(machine: Machine, notes: Notes) -> list[dict[str, Any]]:
    roots: dict[str, list[str]] = {}  # machine path of the toolkit -> what found it
    for path in machine.glob("/usr/local/cuda*"):
        roots.setdefault(machine.resolve(path), []).append(f"{path} (standard location)")
    for var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
        value = machine.env.get(var)
        if value:
            roots.setdefault(machine.resolve(value), []).append(f"${var}")
    command = machine.command("nvcc")
    nvcc = _unwrap_nvcc(machine, command) if command is not None else None
    if nvcc:
        roots.setdefault(posixpath.dirname(posixpath.dirname(nvcc)), []).append("nvcc on PATH")
    toolkits = []
    for path, found_by in sorted(roots.items()):
        if not machine.is_dir(path):
            toolkits.append({"path": path, "version": None, "found_by": found_by, "nvcc": None, "exists": False})
            continue
        version = _toolkit_version(machine, path)
        nvcc_path = f"{path}/bin/nvcc"
        has_nvcc = machine.exists(nvcc_path)
        if version is None and has_nvcc:
            run = machine.runner.run([str(machine.path(nvcc_path)), "--version"])
            if run.ok:
                match = re.search(r"release (\d+\.\d+)", run.stdout)
                version = match.group(1) if match else None
            else:
                notes.fail("cuda_toolkits.nvcc", run.describe_failure())
        toolkits.append({
            "path": path, "version": version, "found_by": sorted(found_by),
            "nvcc": nvcc_path if has_nvcc else None, "exists": True,
            "on_path": nvcc is not None and nvcc.startswith(path.rstrip("/") + "/"),
        })
    return toolkits


_TOOLKIT_MARKERS = ("version.json", "version.txt", "include/cuda.h", "nvvm")
_WRAPPED_NVCC = re.compile(r"(/[\w./+-]+)/bin/nvcc\b")


def _is_toolkit(machine: Machine, root: str) -> bool:
    return any(machine.exists(f"{root.rstrip('/')}/{marker}") for marker in _TOOLKIT_MARKERS)


def _unwrap_nvcc(machine: Machine, nvcc: Command) -> str:
    """The real nvcc behind `nvcc` on PATH, as the machine names it.

    `/usr/local/bin/nvcc` is often a small script that execs a toolkit's
    `bin/nvcc` (or a symlink to it): its own folder is no toolkit, so follow
    the script to the toolkit it names instead of reporting `/usr/local`.
    """
    real = nvcc.resolved
    root = posixpath.dirname(posixpath.dirname(real))
    if _is_toolkit(machine, root) or not nvcc.head.startswith(b"#!"):
        return real
    for match in _WRAPPED_NVCC.finditer(nvcc.head.decode(errors="replace")):
        target = machine.resolve(match.group(1))
        if target != root and _is_toolkit(machine, target):
            return f"{target.rstrip('/')}/bin/nvcc"
    return real


def _header_version(machine: Machine, name: str) -> str | None:
    prefix = {"cudnn": "CUDNN", "nccl": "NCCL"}[name]
    for directory in INCLUDE_DIRS:
        for header in (f"{directory}/cudnn_version.h", f"{directory}/cudnn.h") if name == "cudnn" else (f"{directory}/nccl.h",):
            text = machine.read_text(header)
            if not text:
                continue
            parts = []
            for field in ("MAJOR", "MINOR", "PATCHLEVEL" if name == "cudnn" else "PATCH"):
                match = re.search(rf"#define {prefix}_{field}\s+(\d+)", text)
                if not match:
                    break
                parts.append(match.group(1))
            if len(parts) == 3:
                return ".".join(parts)
    return None


def _system_lib(machine: Machine, name: str, lib_dirs: list[str]) -> list[dict[str, Any]]:
    stem = f"lib{name}.so."
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for directory in lib_dirs:
        for path in machine.glob(f"{directory}/{stem}*"):
            version = so_version(path.rsplit("/", 1)[-1], stem)
            real = machine.resolve(path)
            if version and version.count(".") >= 2 and real not in seen:
                seen.add(real)
                found.append({"version": version, "path": path, "source": "system"})
    header = _header_version(machine, name)
    if header and not any(f["version"] == header for f in found):
        found.append({"version": header, "path": None, "source": "system header"})
    return found


def _pip_wheels(machine: Machine, python: str | None) -> dict[str, list[dict[str, Any]]]:
    target = inspect_python(machine, python)
    if target.error:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for dist in scan_dists(machine, target):
        match = re.fullmatch(r"nvidia-(cudnn|nccl|cuda-runtime)(?:-cu(\d+))?", dist.name)
        if match:
            out.setdefault(match.group(1), []).append({
                "version": dist.version, "path": dist.location, "source": f"pip {dist.name}",
                "cuda_major": int(match.group(2)) if match.group(2) else None,
            })
    return out


#: conda packages that carry (or pin) CUDA libraries: conda-forge's split CUDA, the nvidia channel, old cudatoolkit.
_CONDA_CUDA = re.compile(r"^(cudatoolkit|cuda-version|cuda-cudart|cuda-runtime|cuda-nvrtc|cuda-nvcc|pytorch-cuda|"
                         r"cudnn|nccl|libcublas|libcudnn|cuda-toolkit)$")


def _conda_cuda_packages(machine: Machine, python: str | None) -> list[dict[str, Any]]:
    """CUDA packages in the target's conda environment, from conda-meta/<name>-<version>-<build>.json."""
    target = inspect_python(machine, python)
    if target.error or not target.prefix:
        return []
    return [
        {"name": name, "version": rec["version"], "build": rec["build"], "record": rec["record"],
         "lib_dir": f"{target.prefix}/lib"}
        for name, rec in sorted(conda_records(machine, target).items()) if _CONDA_CUDA.match(name)
    ]


def _conda_libs(conda: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """cuDNN / NCCL that conda installed (the `cudnn` / `nccl` packages), in the copies' common shape."""
    return [{"version": p["version"], "path": p["lib_dir"], "source": f"conda {p['name']}", "record": p["record"]}
            for p in conda if p["name"] == name]


#: Distro packages worth knowing: NVIDIA's driver (libnvidia-compute-550, nvidia-driver-550, cuda-drivers),
#: toolkits (cuda-toolkit-12-4, cuda-cudart-12-4), cuDNN (libcudnn8, libcudnn9-cuda-12) and NCCL (libnccl2).
_DISTRO_CUDA = re.compile(r"^(nvidia-|libnvidia-|cuda-|cuda$|libcudnn|cudnn|libnccl|libcuda|xserver-xorg-video-nvidia)")


def _dpkg_packages(machine: Machine) -> list[dict[str, Any]]:
    """Installed CUDA / NVIDIA packages from dpkg's status file (Debian, Ubuntu, WSL's Ubuntu)."""
    text = machine.read_text("/var/lib/dpkg/status", limit=64 << 20)
    if not text:
        return []
    found: list[dict[str, Any]] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name = fields.get("Package", "")
        if _DISTRO_CUDA.match(name) and fields.get("Status", "").endswith(" installed"):
            found.append({"name": name, "version": fields.get("Version"), "manager": "dpkg"})
    return sorted(found, key=lambda p: str(p["name"]))


#: Folders the loader searches for libcuda.so.1 on the distros, in containers and in WSL.
_LIBCUDA_DIRS = ("/usr/lib/wsl/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                 "/usr/lib", "/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64", "/usr/local/cuda/compat",
                 "/usr/lib/x86_64-linux-gnu/nvidia/current")


def _libcuda_copies(machine: Machine) -> list[dict[str, Any]]:
    """Every libcuda.so.1 in the loader's folders (LD_LIBRARY_PATH first) and the file it resolves to."""
    ld_dirs = [d.rstrip("/") for d in machine.env.get("LD_LIBRARY_PATH", "").split(":") if d.startswith("/")]
    dirs = ld_dirs + [d for d in _LIBCUDA_DIRS if d not in ld_dirs]
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for directory in dirs:
        path = f"{directory}/libcuda.so.1"
        if path in seen or not machine.exists(path):
            continue
        seen.add(path)
        found.append({"path": path, "target": machine.resolve(path),
                      "on_ld_library_path": directory in ld_dirs})
    return found
