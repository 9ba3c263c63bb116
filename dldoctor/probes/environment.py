"""Environment variables that change what frameworks load, and the package managers on PATH."""

from __future__ import annotations

import os
import re
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.util import first_version

VARIABLES = (
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "CUDA_HOME", "CUDA_PATH",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HSA_OVERRIDE_GFX_VERSION",
    "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_TORCH_BACKEND", "TORCH_CUDA_ARCH_LIST",
    "PYTORCH_CUDA_ALLOC_CONF", "TF_FORCE_GPU_ALLOW_GROWTH", "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE",
    "JAX_PLATFORMS", "KERAS_BACKEND", "CUDA_LAUNCH_BLOCKING", "NCCL_DEBUG", "NCCL_P2P_DISABLE",
    "OMP_NUM_THREADS", "CONDA_OVERRIDE_CUDA",
)

PACKAGE_MANAGERS = ("conda", "mamba", "micromamba", "pixi", "pip", "pip3", "uv")


def probe_environment(machine: Machine, notes: Notes) -> dict[str, Any]:
    """The environment variables that steer GPUs and libraries, and the package managers on PATH."""
    variables = {name: machine.env.get(name) for name in VARIABLES if name in machine.env}
    managers = {}
    for name in PACKAGE_MANAGERS:
        path = machine.runner.which(name)
        if path is None:
            continue
        managers[name] = {"path": path, "version": _manager_version(machine, notes, name, path)}
    return {"variables": variables, "package_managers": managers}


def _shebang_interpreter(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode(errors="replace").strip()
    return line.split()[0] if line else None


def _dist_version(prefix: str, dist: str) -> str | None:
    """The version of `dist` installed in the environment at `prefix`, from its dist-info name."""
    import glob

    for pattern in (f"{prefix}/lib/python3*/site-packages/{dist}-*.dist-info",
                    f"{prefix}/Lib/site-packages/{dist}-*.dist-info"):
        for hit in sorted(glob.glob(pattern)):
            match = re.search(rf"{dist}-([^-]+)\.dist-info$", hit)
            if match:
                return match.group(1)
    return None


def _conda_meta_version(root: str, package: str) -> str | None:
    import glob

    for hit in sorted(glob.glob(f"{root}/conda-meta/{package}-[0-9]*.json")):
        parts = os.path.basename(hit)[:-5].rsplit("-", 2)
        if len(parts) == 3 and parts[0] == package:
            return parts[1]
    return None


def _manager_version(machine: Machine, notes: Notes, name: str, path: str) -> str | None:
    """The version, read from files where that is possible; native tools are asked with --version."""
    interpreter = _shebang_interpreter(path)
    if name in ("pip", "pip3"):
        if interpreter:
            return _dist_version(os.path.dirname(os.path.dirname(interpreter)), "pip")
        return None
    if name in ("conda", "mamba") and interpreter:
        root = os.path.dirname(os.path.dirname(os.path.realpath(path)))
        return _conda_meta_version(root, name)
    if interpreter and name != "conda":
        return None  # a script we would have to start a Python for; not worth the time
    run = machine.runner.run([path, "--version"], timeout_s=min(machine.timeout_s, 3.0))
    if not run.ok:
        notes.fail(f"environment.{name}", run.describe_failure())
        return None
    return first_version(run.stdout or run.stderr)
