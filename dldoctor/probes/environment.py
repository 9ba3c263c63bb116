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
    """The variables that matter and the package managers on the machine's PATH, read through `machine`
    alone (its environment, its files, its runner), so a simulated machine answers as a real one."""
    variables = {name: machine.env.get(name) for name in VARIABLES if name in machine.env}
    managers = {}
    for name in PACKAGE_MANAGERS:
        path = _on_path(machine, name)
        if path is None:
            continue
        managers[name] = {"path": path, "version": _manager_version(machine, notes, name, path)}
    return {"variables": variables, "package_managers": managers}


def _on_path(machine: Machine, name: str) -> str | None:
    """`name` on the machine's PATH, as a machine path: the first PATH entry whose file is executable on the
    machine; else what its runner would run (a command known only to the runner, whose files are not the
    machine's: it is asked for its --version)."""
    for entry in machine.env.get("PATH", "").split(os.pathsep):
        if not entry.startswith("/"):
            continue
        candidate = f"{entry.rstrip('/')}/{name}"
        host = machine.path(candidate)
        if host.is_file() and os.access(host, os.X_OK):
            return candidate
    return machine.runner.which(name)


def _shebang_interpreter(machine: Machine, path: str) -> str | None:
    head = machine.read_bytes(path, limit=256)
    if not head or not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode(errors="replace").strip()
    return line.split()[0] if line else None


def _dist_version(machine: Machine, prefix: str, dist: str) -> str | None:
    """The version of `dist` installed in the environment at `prefix`, from its dist-info name."""
    for pattern in (f"{prefix}/lib/python3*/site-packages/{dist}-*.dist-info",
                    f"{prefix}/Lib/site-packages/{dist}-*.dist-info"):
        for hit in machine.glob(pattern):
            match = re.search(rf"{dist}-([^-]+)\.dist-info$", hit)
            if match:
                return match.group(1)
    return None


def _conda_meta_version(machine: Machine, root: str, package: str) -> str | None:
    for hit in machine.glob(f"{root}/conda-meta/{package}-[0-9]*.json"):
        parts = os.path.basename(hit)[:-5].rsplit("-", 2)
        if len(parts) == 3 and parts[0] == package:
            return parts[1]
    return None


def _realpath(machine: Machine, path: str) -> str:
    """`path` with its links followed inside the machine's root, as a machine path."""
    from pathlib import Path

    return machine.machine_path(Path(os.path.realpath(machine.path(path))))


def _manager_version(machine: Machine, notes: Notes, name: str, path: str) -> str | None:
    """The version, read from files where that is possible; native tools are asked with --version."""
    interpreter = _shebang_interpreter(machine, path)
    if name in ("pip", "pip3"):
        if interpreter:
            return _dist_version(machine, os.path.dirname(os.path.dirname(interpreter)), "pip")
        return None
    if name in ("conda", "mamba") and interpreter:
        root = os.path.dirname(os.path.dirname(_realpath(machine, path)))
        return _conda_meta_version(machine, root, name)
    if interpreter and name != "conda":
        return None  # a script we would have to start a Python for; not worth the time
    runnable = str(machine.path(path)) if machine.path(path).is_file() else path
    run = machine.runner.run([runnable, "--version"], timeout_s=min(machine.timeout_s, 3.0))
    if not run.ok:
        notes.fail(f"environment.{name}", run.describe_failure())
        return None
    return first_version(run.stdout or run.stderr)
