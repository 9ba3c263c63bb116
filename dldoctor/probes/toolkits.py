"""CUDA toolkits, cuDNN and NCCL: on the system, in pip nvidia-* wheels and in conda."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.frameworks import scan_dists
from dldoctor.probes.python_target import inspect_python
from dldoctor.probes.util import first_version, so_version

SYSTEM_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/usr/local/lib", "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
)
INCLUDE_DIRS = ("/usr/include", "/usr/local/cuda/include", "/usr/include/x86_64-linux-gnu")


def probe_cuda_toolkits(machine: Machine, notes: Notes, python: str | None = None) -> dict[str, Any]:
    toolkits = _toolkits(machine, notes)
    lib_dirs = list(SYSTEM_LIB_DIRS) + [t["path"] + "/lib64" for t in toolkits]
    lib_dirs += [d for d in machine.env.get("LD_LIBRARY_PATH", "").split(":") if d.startswith("/")]
    pip = _pip_wheels(machine, python)
    return {
        "toolkits": toolkits,
        "cudnn": _system_lib(machine, "cudnn", lib_dirs) + pip.get("cudnn", []),
        "nccl": _system_lib(machine, "nccl", lib_dirs) + pip.get("nccl", []),
        "cuda_runtime_wheels": pip.get("cuda-runtime", []),
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
    roots: dict[str, list[str]] = {}
    for path in machine.glob("/usr/local/cuda*"):
        roots.setdefault(os.path.realpath(machine.path(path)), []).append(f"{path} (standard location)")
    for var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
        value = machine.env.get(var)
        if value:
            roots.setdefault(os.path.realpath(machine.path(value)), []).append(f"${var}")
    nvcc = machine.runner.which("nvcc")
    if nvcc:
        nvcc = _unwrap_nvcc(machine, nvcc)
        root = os.path.dirname(os.path.dirname(nvcc))
        roots.setdefault(root, []).append("nvcc on PATH")
    toolkits = []
    for host_root, found_by in sorted(roots.items()):
        path = machine.machine_path(Path(host_root))
        if not os.path.isdir(host_root):
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
            "on_path": nvcc is not None and nvcc.startswith(host_root + os.sep),
        })
    return toolkits


_TOOLKIT_MARKERS = ("version.json", "version.txt", "include/cuda.h", "nvvm")
_WRAPPED_NVCC = re.compile(r"(/[\w./+-]+)/bin/nvcc\b")


def _unwrap_nvcc(machine: Machine, nvcc: str) -> str:
    """The real nvcc behind `nvcc` on PATH, as a host path.

    `/usr/local/bin/nvcc` is often a small script that execs a toolkit's
    `bin/nvcc` (or a symlink to it): its own folder is no toolkit, so follow
    the script to the toolkit it names instead of reporting `/usr/local`.
    """
    real = os.path.realpath(nvcc)
    root = os.path.dirname(os.path.dirname(real))
    if any(os.path.exists(os.path.join(root, marker)) for marker in _TOOLKIT_MARKERS):
        return real
    try:
        with open(real, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return real
    if not head.startswith(b"#!"):
        return real
    for match in _WRAPPED_NVCC.finditer(head.decode(errors="replace")):
        target = os.path.realpath(machine.path(match.group(1)))
        if target != root and any(os.path.exists(os.path.join(target, m)) for m in _TOOLKIT_MARKERS):
            return os.path.join(target, "bin", "nvcc")
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
            real = os.path.realpath(machine.path(path))
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
