"""Turn the compact `machine` of a real-world case into a full `dldoctor.snapshot/1` document.

Each case file in this folder (tests/realworld/<name>.json) describes a machine
taken from a public bug report. Its `machine` holds only what the report states
(or what the case's `assumed` list says was assumed); everything else is filled
here the way dldoctor's probes fill a field they could not read: null, an empty
list, or "unknown". Nothing healthy is invented that would hide a problem: a GPU
health field the report does not show stays null, a cuDNN whose version the
report does not give keeps version null.

The `machine` format (every key optional unless said):

    os            "Linux" (default) or "Windows" (native Windows; the driver table of Windows applies)
    distro        {"id", "version_id", "name"}
    kernel, arch ("x86_64"), python ("3.10.12"), user ("user")
    wsl           true under WSL2 (the NVIDIA driver is the Windows one)
    container     null, "docker", "kubernetes" ...
    nvidia        null (no NVIDIA hardware) or
                  {driver, cuda_driver, kernel_module, userspace, nvml_error: {code, message},
                   gpus: [{name, cc, memory_gib, mig}], pci_devices (count; default: one per GPU, at least
                   1 when a driver is named), device_nodes (list; default from the rest), libcuda (bool,
                   default true), linux_libcuda (a Linux libcuda path found under WSL), wsl_libcuda (bool|null)}
    amd           null or {rocm, gpus: [{name, gfx, memory_gib}], groups: {render, video}, kfd (true)}
    frameworks    [{name, version, variant, cuda, distribution, installer, conda_build, arch_list}]
                  (`cuda` is the build's CUDA, or for a ROCm build its ROCm version, as the probe keeps it;
                  `arch_list` is what the framework itself printed, e.g. in the "not compatible" warning,
                  and becomes the `deep` result a `--deep` snapshot would carry)
    nvidia_wheels [{distribution, version}]
    cudnn         [{version, source ("system"), path}]  (pip nvidia-cudnn wheels are added from nvidia_wheels)
    toolkits      [{version, path, nvcc (true), on_path (false)}]
    env           {NAME: value}
    docker        null (not looked at) or a `docker` section's keys
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

_STD_NODES = ["/dev/nvidia-uvm", "/dev/nvidiactl"]


def case_paths() -> list[Path]:
    return sorted(p for p in HERE.glob("*.json"))


def load_case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _site_packages(m: dict[str, Any]) -> str:
    py = m.get("python") or "3"
    short = ".".join(str(py).split(".")[:2])
    if m.get("os") == "Windows":
        return "C:\\Python\\Lib\\site-packages"
    return f"/home/user/venv/lib/python{short}/site-packages"


def _host(m: dict[str, Any]) -> dict[str, Any]:
    distro = m.get("distro") or {}
    return {
        "os": m.get("os", "Linux"),
        "distro": {
            "id": distro.get("id"),
            "id_like": distro.get("id_like"),
            "version_id": distro.get("version_id"),
            "name": distro.get("name"),
        },
        "kernel": m.get("kernel"),
        "arch": m.get("arch", "x86_64"),
        "glibc": m.get("glibc"),
        "hostname": "realworld",
        "user": m.get("user", "user"),
        "python": {"version": m.get("python"), "executable": None},
        "cpu": {"model": None, "logical_cores": None, "physical_cores": None, "isa": {}},
        "memory_total_mib": None,
        "in_container": m.get("container"),
        "wsl": bool(m.get("wsl")),
        "cloud": m.get("cloud"),
    }


def _gpu(index: int, gpu: dict[str, Any]) -> dict[str, Any]:
    memory = gpu.get("memory_gib")
    return {
        "index": index,
        "name": gpu.get("name"),
        "uuid": None,
        "pci_bus_id": f"0000:{index + 1:02x}:00.0",
        "compute_capability": gpu.get("cc"),
        "memory_total_mib": int(memory * 1024) if isinstance(memory, (int, float)) else None,
        "persistence_mode": None,
        "mig_mode": gpu.get("mig"),
        "ecc_mode": None,
        "ecc_errors_uncorrected": None,
        "retired_pages_pending": None,
        "remapped_rows_pending": None,
        "remapped_rows_failure": None,
        "pcie_link": None,
        "temperature_c": None,
        "power_draw_w": None,
        "power_limit_w": None,
        "clocks_event_reasons": None,
        "compute_processes": None,
    }


def _empty_nvidia() -> dict[str, Any]:
    return {
        "present": False, "driver_version": None, "cuda_driver_version": None, "kernel_module_version": None,
        "nvml_library_version": None, "userspace_driver_version": None, "sources": {}, "nvml_error": None,
        "gpus": [], "gpu_count_nvml": None, "pci_devices": [], "module_loaded": False, "nouveau_loaded": False,
        "device_nodes": [], "libraries": [], "wsl_libcuda": False, "secure_boot": None, "dkms": None,
    }


def _nvidia(m: dict[str, Any]) -> dict[str, Any]:
    nv = m.get("nvidia")
    if not nv:
        return _empty_nvidia()
    windows = m.get("os") == "Windows"
    wsl = bool(m.get("wsl"))
    container = m.get("container")
    driver = nv.get("driver")
    nvml_error = nv.get("nvml_error")
    gpus = [_gpu(i, g) for i, g in enumerate(nv.get("gpus") or [])]
    if nvml_error:
        gpus = []  # NVML did not start: it listed no GPU
    libcuda = nv.get("libcuda", True)
    if windows or wsl:
        kernel_module = nv.get("kernel_module")  # no Linux module (a Linux driver inside WSL would set it)
        userspace = nv.get("userspace")
        loaded: bool | None = bool(kernel_module) if wsl else None
        pci: list[dict[str, Any]] = []  # no PCI sysfs on Windows, none under WSL
    else:
        kernel_module = nv.get("kernel_module", driver)
        userspace = nv.get("userspace", driver if libcuda else None)
        # NVML listing GPUs means the module is loaded, whatever version the report left out
        loaded = nv.get("module_loaded", bool(kernel_module) or bool(nv.get("gpus")))
        count = nv.get("pci_devices", max(len(nv.get("gpus") or []), 1 if driver or kernel_module else 0))
        pci = [
            {"bus_id": f"0000:{i + 1:02x}:00.0", "device_id": None, "class": "0x030000",
             "driver": "nvidia" if loaded else None, "current_link_speed": None, "current_link_width": None,
             "max_link_speed": None, "max_link_width": None}
            for i in range(count)
        ]
    libraries: list[dict[str, Any]] = []
    if wsl:
        if nv.get("wsl_libcuda", True):
            libraries.append({"name": "libcuda", "version": "1.1", "path": "/usr/lib/wsl/lib/libcuda.so.1.1"})
        if nv.get("linux_libcuda"):
            path = str(nv["linux_libcuda"])
            libraries.append({"name": "libcuda", "version": path.rsplit(".so.", 1)[-1], "path": path})
    elif windows:
        libraries = []
    elif libcuda and userspace:
        libraries = [
            {"name": "libnvidia-ml", "version": userspace,
             "path": f"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{userspace}"},
            {"name": "libcuda", "version": userspace, "path": f"/usr/lib/x86_64-linux-gnu/libcuda.so.{userspace}"},
        ]
    elif libcuda and loaded:  # the driver works (the report's GPU answered) but its version is not stated
        libraries = [
            {"name": "libnvidia-ml", "version": None, "path": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"},
            {"name": "libcuda", "version": None, "path": "/usr/lib/x86_64-linux-gnu/libcuda.so.1"},
        ]
    if "device_nodes" in nv:
        nodes = nv["device_nodes"] if nv["device_nodes"] is not None else []
    elif wsl:
        nodes = ["/dev/dxg"] if nv.get("wsl_libcuda", True) else []
    elif windows or not loaded or (container and not libcuda):
        nodes = []
    else:
        nodes = sorted(_STD_NODES + [f"/dev/nvidia{i}" for i in range(max(len(gpus), len(pci), 1))])
    return {
        "present": bool(gpus or pci or driver or wsl),
        "driver_version": driver,
        "cuda_driver_version": nv.get("cuda_driver"),
        "kernel_module_version": kernel_module,
        "nvml_library_version": None,
        "userspace_driver_version": userspace,
        "sources": {"driver_version": "bug report"} if driver else {},
        "nvml_error": nvml_error,
        "gpus": gpus,
        "gpu_count_nvml": len(gpus) if gpus else None,
        "pci_devices": pci,
        "module_loaded": loaded,
        "nouveau_loaded": bool(nv.get("nouveau", False)),
        "device_nodes": nodes,
        "libraries": libraries,
        "wsl_libcuda": nv.get("wsl_libcuda", True) if wsl else False,
        "secure_boot": nv.get("secure_boot"),
        "dkms": None,
    }


def _amd(m: dict[str, Any]) -> dict[str, Any]:
    amd = m.get("amd")
    if not amd:
        return {"present": False, "rocm_version": None, "gpus": [], "source": None, "pci_devices": [],
                "kfd_present": False, "dri_render_nodes": [], "amdgpu_loaded": False,
                "user_groups": {"render": None, "video": None}}
    gpus = []
    for i, g in enumerate(amd.get("gpus") or []):
        memory = g.get("memory_gib")
        gpus.append({"index": i, "name": g.get("name"), "gfx_target": g.get("gfx"),
                     "memory_total_mib": int(memory * 1024) if isinstance(memory, (int, float)) else None,
                     "kfd_node": i + 1, "location_id": None})
    groups = amd.get("groups") or {}
    return {
        "present": True,
        "rocm_version": amd.get("rocm"),
        "gpus": gpus,
        "source": "kfd",
        "pci_devices": [{"bus_id": f"0000:{i + 3:02x}:00.0", "device_id": None, "class": "0x030000",
                         "driver": "amdgpu", "current_link_speed": None, "current_link_width": None,
                         "max_link_speed": None, "max_link_width": None} for i in range(len(gpus))],
        "kfd_present": amd.get("kfd", True),
        "dri_render_nodes": [f"/dev/dri/renderD{128 + i}" for i in range(len(gpus))],
        "amdgpu_loaded": True,
        "user_groups": {"render": groups.get("render"), "video": groups.get("video")},
    }


def _cuda_toolkits(m: dict[str, Any], site: str) -> dict[str, Any]:
    toolkits = []
    for kit in m.get("toolkits") or []:
        path = kit.get("path") or f"/usr/local/cuda-{kit.get('version')}"
        toolkits.append({
            "path": path, "version": kit.get("version"), "found_by": [f"{path} (standard location)"],
            "nvcc": f"{path}/bin/nvcc" if kit.get("nvcc", True) else None, "exists": True,
            "on_path": bool(kit.get("on_path", False)),
        })
    cudnn = [{"version": c.get("version"), "path": c.get("path"), "source": c.get("source", "system")}
             for c in m.get("cudnn") or []]
    nccl = []
    runtime = []
    for wheel in m.get("nvidia_wheels") or []:
        dist = str(wheel.get("distribution"))
        major = int(dist.rsplit("-cu", 1)[1]) if "-cu" in dist and dist.rsplit("-cu", 1)[1].isdigit() else None
        entry = {"version": wheel.get("version"), "path": site, "source": f"pip {dist}", "cuda_major": major}
        if dist.startswith("nvidia-cudnn"):
            cudnn.append(entry)
        elif dist.startswith("nvidia-nccl"):
            nccl.append(entry)
        elif dist.startswith("nvidia-cuda-runtime"):
            runtime.append(entry)
    return {"toolkits": toolkits, "cudnn": cudnn, "nccl": nccl, "cuda_runtime_wheels": runtime}


def _frameworks(m: dict[str, Any], site: str) -> dict[str, Any]:
    installed = []
    for fw in m.get("frameworks") or []:
        name = fw["name"]
        entry: dict[str, Any] = {
            "name": name,
            "distribution": fw.get("distribution", {"pytorch": "torch", "jax": "jaxlib"}.get(name, name)),
            "version": fw.get("version"),
            "variant": fw.get("variant"),
            "cuda_version": fw.get("cuda"),
            "conda_build": fw.get("conda_build"),
            "location": site,
            "installer": fw.get("installer"),
            "duplicates": [],
            "status": "active",
            "note": None,
        }
        if fw.get("arch_list"):
            entry["deep"] = {"framework": name, "arch_list": list(fw["arch_list"])}
        installed.append(entry)
    return {
        "python": {
            "executable": None, "version": m.get("python"), "prefix": None, "is_venv": None, "is_conda": None,
            "sys_path": [site], "user_site": None, "user_site_enabled": False,
            "chosen_because": "the interpreter the report ran", "error": None,
        },
        "installed": installed,
        "nvidia_wheels": [{"distribution": w.get("distribution"), "version": w.get("version"), "location": site}
                          for w in m.get("nvidia_wheels") or []],
        "jvm": {"java": None, "java_version": None, "deeplearning4j": {}},
    }


def _docker(m: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client": None, "reachable": None, "server_version": None, "runtimes": [], "default_runtime": None,
        "nvidia_runtime": False, "cdi_spec_dirs": [], "cdi_nvidia_spec": False, "daemon_json_nvidia": False,
        "nvidia_ctk": None, "nvidia_container_runtime": None, "source": None,
        "error": "not looked at (the report does not say)",
    }
    return base | (m.get("docker") or {})


def build(case: dict[str, Any]) -> dict[str, Any]:
    """The snapshot document of a case's machine."""
    m = case["machine"]
    site = _site_packages(m)
    return {
        "schema": "dldoctor.snapshot/1",
        "dldoctor_version": "realworld",
        "created": "2026-01-01T00:00:00+00:00",
        "duration_ms": 0.0,
        "deep": any(fw.get("arch_list") for fw in m.get("frameworks") or []),
        "redacted": True,
        "host": _host(m),
        "nvidia": _nvidia(m),
        "amd": _amd(m),
        "other_accelerators": {"mps": None, "intel_xpu": {"gpus": [], "xpu_capable_driver": False, "render_nodes": []},
                               "opencl_icds": []},
        "cuda_toolkits": _cuda_toolkits(m, site),
        "environment": {"variables": dict(m.get("env") or {}), "package_managers": {}},
        "docker": _docker(m),
        "frameworks": _frameworks(m, site),
        "probe_failures": [],
    }
