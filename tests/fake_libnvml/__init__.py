"""A fake libnvidia-ml.so.1, written in C, for NVIDIA's real Python bindings to load.

`install(spec, folder)` puts a copy of the library built for the spec's driver
generation into `folder` as `libnvidia-ml.so.1`, with the state file it reads
at nvmlInit beside it. Each folder is a separate copy, so each simulated
machine gets its own library instance (the dynamic linker shares one only
between opens of the same file).

The spec is a scenario's `nvml` section (tests/scenarios/*/machine.json):
`driver_version`, `cuda_driver_version`, `nvml_version`, `init_error` (an NVML
error name such as "LibRmVersionMismatch"), optionally `generation` (else it
follows the driver version), and `gpus`, each with the fields
tests/make_scenarios.py's `gpu()` writes, `not_supported` (NVML function
names, without _vN) and `lost`.

gcc builds the library once per generation and test session, in a temporary
folder keyed by the hash of the source and the symbol table. Without gcc the
tests fail: they never skip (CI has gcc).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from tests.fake_libnvml.symbols import exported, generation_for

SOURCE = Path(__file__).parent / "fake_nvml.c"
STATE_FILE = "fake-nvml-state"
LIBRARY = "libnvidia-ml.so.1"

#: NVML error names (pynvml's NVMLError_<name> classes) -> nvmlReturn_t, from nvml.h.
ERROR_CODES = {
    "Uninitialized": 1, "InvalidArgument": 2, "NotSupported": 3, "NoPermission": 4, "DriverNotLoaded": 9,
    "LibraryNotFound": 12, "FunctionNotFound": 13, "GpuIsLost": 15, "LibRmVersionMismatch": 18, "Unknown": 999,
}

_build_lock = threading.Lock()
_build_dir: Path | None = None


def _cache_dir() -> Path:
    global _build_dir
    if _build_dir is None:
        _build_dir = Path(tempfile.mkdtemp(prefix="dldoctor-fake-libnvml-"))
        atexit.register(shutil.rmtree, _build_dir, True)
    return _build_dir


def build(generation: int) -> Path:
    """The fake library of `generation`, compiled on first use this session."""
    symbols = exported(generation)
    key = hashlib.sha256(SOURCE.read_bytes() + repr((generation, symbols)).encode()).hexdigest()[:16]
    with _build_lock:
        out = _cache_dir() / f"{generation}-{key}" / LIBRARY
        if out.is_file():
            return out
        gcc = shutil.which("gcc") or shutil.which("cc")
        if gcc is None:
            raise RuntimeError("gcc is needed to build the fake libnvidia-ml.so.1 of tests/fake_libnvml "
                               "(apt-get install gcc); the NVML tests do not run without it")
        out.parent.mkdir(parents=True)
        flags = [f"-DDRIVER_GEN={generation}", *(f"-DHAVE_{name}" for name in symbols)]
        command = [gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-shared", "-fPIC", "-fvisibility=hidden",
                   *flags, "-o", str(out), str(SOURCE), "-ldl"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            raise RuntimeError(f"building the fake libnvidia-ml.so.1 failed:\n{' '.join(command)}\n{run.stderr}")
        return out


def _gpu_lines(index: int, gpu: dict[str, Any]) -> list[str]:
    values: dict[str, Any] = {k: gpu[k] for k in (
        "name", "uuid", "pci_bus_id", "pci_device_id", "memory_total_mib", "persistence", "ecc_uncorrected",
        "retired_pending", "temperature", "power_mw", "power_limit_mw", "clock_reasons") if k in gpu}
    if "cc" in gpu:
        values["cc"] = f"{gpu['cc'][0]}.{gpu['cc'][1]}"
    for key in ("mig", "ecc", "remapped", "processes"):
        if key in gpu:
            values[key] = ",".join(str(int(v)) for v in gpu[key])
    if "pcie" in gpu:
        p = gpu["pcie"]
        values["pcie"] = f"{p['cur_gen']},{p['max_gen']},{p['cur_width']},{p['max_width']}"
    if gpu.get("not_supported"):
        values["not_supported"] = ",".join(gpu["not_supported"])
    if gpu.get("lost"):
        values["lost"] = 1
    return [f"gpu{index}.{k}={v}" for k, v in values.items()]


def state_text(spec: dict[str, Any]) -> str:
    """The key=value file fake_nvml.c reads at nvmlInit."""
    lines = []
    if spec.get("init_error"):
        lines.append(f"init_error={ERROR_CODES[spec['init_error']]}")
    for key in ("driver_version", "nvml_version", "cuda_driver_version"):
        if spec.get(key) is not None:
            lines.append(f"{key}={spec[key]}")
    gpus = spec.get("gpus", [])
    lines.append(f"gpu_count={len(gpus)}")
    for index, gpu in enumerate(gpus):
        lines += _gpu_lines(index, gpu)
    return "\n".join(lines) + "\n"


def generation_of(spec: dict[str, Any]) -> int:
    return int(spec["generation"]) if spec.get("generation") else generation_for(spec.get("driver_version"))


def install(spec: dict[str, Any], folder: Path) -> Path:
    """`folder/libnvidia-ml.so.1`, the fake built for `spec`'s generation, with `spec` as its state."""
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / LIBRARY
    # A new file put in place, never the old one rewritten: a process may have the old one mapped.
    partial = folder / f".{LIBRARY}.partial"
    shutil.copyfile(build(generation_of(spec)), partial)
    os.replace(partial, library)
    (folder / STATE_FILE).write_text(state_text(spec))
    return library
