"""Accelerators other than NVIDIA and AMD GPUs: Apple MPS, Intel GPUs, OpenCL ICDs."""

from __future__ import annotations

from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.pci import INTEL, gpu_devices


def probe_other_accelerators(machine: Machine, notes: Notes) -> dict[str, Any]:
    """Accelerators other than NVIDIA and AMD GPUs: Apple MPS, Intel XPU, the OpenCL ICDs."""
    return {
        "mps": _mps(machine),
        "intel_xpu": _intel(machine),
        "opencl_icds": _opencl(machine),
    }


def _mps(machine: Machine) -> dict[str, Any] | None:
    """Apple's Metal Performance Shaders backend: Apple silicon on macOS 12.3+."""
    if machine.system != "Darwin":
        return None
    import platform

    release = platform.mac_ver()[0] if machine.is_local else None
    return {"available": machine.arch == "arm64", "macos_version": release or None}


def _intel(machine: Machine) -> dict[str, Any]:
    gpus = gpu_devices(machine, INTEL)
    return {
        "gpus": gpus,
        "xpu_capable_driver": any(g["driver"] in ("i915", "xe") for g in gpus),
        "render_nodes": machine.glob("/dev/dri/renderD*") if gpus else [],
    }


def _opencl(machine: Machine) -> list[dict[str, str | None]]:
    icds = []
    for path in machine.glob("/etc/OpenCL/vendors/*.icd"):
        library = (machine.read_text(path) or "").strip() or None
        icds.append({"file": path, "library": library})
    return icds
