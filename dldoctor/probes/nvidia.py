"""The NVIDIA driver and GPUs.

Sources, in order of trust: NVML (nvidia-ml-py), the kernel module's
`/sys/module/nvidia/version` and `/proc/driver/nvidia/version`, libcuda's
`cuDriverGetVersion` in a child process, and `nvidia-smi` last. Each later
source is asked only for what the earlier ones could not give.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dldoctor import knowledge
from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.host import secure_boot_state
from dldoctor.probes.pci import NVIDIA, gpu_devices, normalize_bus_id
from dldoctor.probes.util import read_stripped, so_version

#: Where driver libraries live on the distros, in containers (toolkit mounts) and in WSL.
DRIVER_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
    "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib",
    "/usr/lib/x86_64-linux-gnu/nvidia/current",
)

#: NVML clock event (throttle) reason bits, from nvml.h.
CLOCK_EVENT_REASONS = (
    (0x1, "gpu_idle"), (0x2, "applications_clocks_setting"), (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"), (0x10, "sync_boost"), (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"), (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)

_LIBCUDA_SNIPPET = r"""
import ctypes, json, sys
try:
    lib = ctypes.CDLL(sys.argv[1])
    version = ctypes.c_int(0)
    rc = lib.cuDriverGetVersion(ctypes.byref(version))
    print(json.dumps({"rc": rc, "version": version.value}))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
"""


def cuda_version_from_int(value: int) -> str:
    """12040 -> "12.4" (the encoding of cuDriverGetVersion and NVML)."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def probe_nvidia(machine: Machine, notes: Notes) -> dict[str, Any]:
    pci = gpu_devices(machine, NVIDIA)
    module_version, proc_text = _kernel_module(machine)
    libs = _driver_libraries(machine)
    device_nodes = [p for p in machine.glob("/dev/nvidia*")] + (["/dev/dxg"] if machine.exists("/dev/dxg") else [])
    wsl_libcuda = machine.exists("/usr/lib/wsl/lib/libcuda.so") or machine.exists("/usr/lib/wsl/lib/libcuda.so.1")
    result: dict[str, Any] = {
        "present": False,
        "driver_version": None,
        "cuda_driver_version": None,
        "kernel_module_version": module_version,
        "nvml_library_version": None,
        "userspace_driver_version": _userspace_version(libs),
        "sources": {},
        "nvml_error": None,
        "gpus": [],
        "gpu_count_nvml": None,
        "pci_devices": pci,
        "module_loaded": module_version is not None or proc_text is not None or machine.exists("/sys/module/nvidia"),
        "nouveau_loaded": machine.exists("/sys/module/nouveau"),
        "device_nodes": device_nodes,
        "libraries": libs,
        "wsl_libcuda": wsl_libcuda,
        "secure_boot": secure_boot_state(machine),
        "dkms": _dkms(machine),
    }
    hints = pci or result["module_loaded"] or device_nodes or libs or wsl_libcuda
    if not hints:
        return result
    result["present"] = True

    _from_nvml(machine, notes, result)
    if result["driver_version"] is None and module_version is not None:
        result["driver_version"] = module_version
        result["sources"]["driver_version"] = "kernel module"
    if result["cuda_driver_version"] is None:
        _from_libcuda(machine, notes, result)
    if not result["gpus"] and (pci or device_nodes):
        _from_nvidia_smi(machine, notes, result)
    if result["cuda_driver_version"] is None and result["driver_version"]:
        inferred = knowledge.max_cuda_for_driver(result["driver_version"], machine.system)
        if inferred:
            result["cuda_driver_version"] = inferred
            result["sources"]["cuda_driver_version"] = "inferred from driver version"
    return result


def _kernel_module(machine: Machine) -> tuple[str | None, str | None]:
    version = read_stripped(machine, "/sys/module/nvidia/version")
    proc_text = machine.read_text("/proc/driver/nvidia/version")
    if version is None and proc_text:
        match = re.search(r"Kernel Module(?: for [\w-]+)?\s+(\d+\.\d+(?:\.\d+)?)", proc_text)
        version = match.group(1) if match else None
    return version, proc_text


def _driver_libraries(machine: Machine) -> list[dict[str, str]]:
    """libnvidia-ml and libcuda copies with a version in their name."""
    dirs = list(DRIVER_LIB_DIRS)
    dirs += [d for d in machine.env.get("LD_LIBRARY_PATH", "").split(":") if d.startswith("/")]
    found: list[dict[str, str]] = []
    seen: set[str] = set()
    for directory in dirs:
        for stem in ("libnvidia-ml.so.", "libcuda.so."):
            for path in machine.glob(f"{directory}/{stem}*"):
                name = path.rsplit("/", 1)[-1]
                version = so_version(name, stem)
                if version and version.count(".") >= 1 and path not in seen:
                    seen.add(path)
                    found.append({"name": stem.rstrip(".").removesuffix(".so"), "version": version, "path": path})
    return found


def _userspace_version(libs: list[dict[str, str]]) -> str | None:
    versions = [lib["version"] for lib in libs if lib["name"] == "libnvidia-ml"]
    versions = versions or [lib["version"] for lib in libs if lib["name"] == "libcuda"]
    # A driver version has a three-digit major ("550.54.14"); "1.1" in WSL is not one.
    versions = [v for v in versions if re.fullmatch(r"\d{3,}\.\d+(\.\d+)?", v)]
    return versions[0] if versions else None


def _dkms(machine: Machine) -> dict[str, Any] | None:
    base = "/var/lib/dkms/nvidia"
    if not machine.exists(base):
        return None
    running = read_stripped(machine, "/proc/sys/kernel/osrelease")
    built: dict[str, list[str]] = {}
    for version in machine.listdir(base):
        kernels = [k for k in machine.listdir(f"{base}/{version}") if k not in ("source", "build")]
        kernels = [k for k in kernels if machine.glob(f"{base}/{version}/{k}/*/module")]
        built[version] = kernels
    return {
        "nvidia": built,
        "built_for_running_kernel": any(running in ks for ks in built.values()) if running else None,
    }


# --- NVML ----------------------------------------------------------------------

def _from_nvml(machine: Machine, notes: Notes, result: dict[str, Any]) -> None:
    try:
        nvml = machine.load_nvml()
    except ImportError:
        notes.fail("nvidia.nvml", "nvidia-ml-py is not installed")
        return
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        result["nvml_error"] = {"code": _nvml_error_code(exc), "message": str(exc)}
        return
    try:
        result["sources"]["driver_version"] = "nvml"
        result["driver_version"] = _text(_query(nvml, "nvmlSystemGetDriverVersion"))
        cuda = _query(nvml, "nvmlSystemGetCudaDriverVersion_v2")
        if cuda is None:
            cuda = _query(nvml, "nvmlSystemGetCudaDriverVersion")
        if isinstance(cuda, int) and cuda > 0:
            result["cuda_driver_version"] = cuda_version_from_int(cuda)
            result["sources"]["cuda_driver_version"] = "nvml"
        result["nvml_library_version"] = _text(_query(nvml, "nvmlSystemGetNVMLVersion"))
        count = nvml.nvmlDeviceGetCount()
        result["gpu_count_nvml"] = count
        result["gpus"] = [_nvml_gpu(nvml, index) for index in range(count)]
        result["sources"]["gpus"] = "nvml"
    except nvml.NVMLError as exc:
        result["nvml_error"] = {"code": _nvml_error_code(exc), "message": str(exc)}
    finally:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            pass  # shutting down a half-initialised NVML changes nothing we report


def _nvml_error_code(exc: Exception) -> str:
    """NVMLError_LibRmVersionMismatch -> "LibRmVersionMismatch"."""
    name = type(exc).__name__
    return name.removeprefix("NVMLError_") if name != "NVMLError" else f"code {getattr(exc, 'value', '?')}"


#: NVML errors that mean "this field is not available here", not "the GPU is broken".
_ABSENT = ("NotSupported", "FunctionNotFound", "NoPermission", "NotFound", "NoData", "InvalidArgument")


def _query(nvml: Any, function: str, *args: Any) -> Any:
    """Call an NVML function; None when the driver or the GPU lacks it.

    Old drivers lack newer functions (FunctionNotFound) and many boards do not
    support every query (NotSupported): both yield None, never a crash. A lost
    GPU (GpuIsLost) propagates, so that GPU is reported as broken.
    """
    fn = getattr(nvml, function, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except nvml.NVMLError as exc:
        if _nvml_error_code(exc) in _ABSENT:
            return None
        raise


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _nvml_gpu(nvml: Any, index: int) -> dict[str, Any]:
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        return _nvml_gpu_fields(nvml, handle, index)
    except nvml.NVMLError as exc:
        code = _nvml_error_code(exc)
        hint = " (the GPU has fallen off the bus or hung; see dmesg for Xid 79)" if code == "GpuIsLost" else ""
        return {"index": index, "error": f"{code}: {exc}{hint}", "error_code": code}


def _nvml_gpu_fields(nvml: Any, handle: Any, index: int) -> dict[str, Any]:
    cc = _query(nvml, "nvmlDeviceGetCudaComputeCapability", handle)
    memory = _query(nvml, "nvmlDeviceGetMemoryInfo", handle)
    pci = _query(nvml, "nvmlDeviceGetPciInfo", handle)
    mig = _query(nvml, "nvmlDeviceGetMigMode", handle)
    ecc = _query(nvml, "nvmlDeviceGetEccMode", handle)
    remapped = _query(nvml, "nvmlDeviceGetRemappedRows", handle)
    retired = _query(nvml, "nvmlDeviceGetRetiredPagesPendingStatus", handle)
    power = _query(nvml, "nvmlDeviceGetPowerUsage", handle)
    limit = _query(nvml, "nvmlDeviceGetEnforcedPowerLimit", handle)
    reasons = _query(nvml, "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if reasons is None:
        reasons = _query(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
    persistence = _query(nvml, "nvmlDeviceGetPersistenceMode", handle)
    procs = _query(nvml, "nvmlDeviceGetComputeRunningProcesses", handle)
    return {
        "index": index,
        "name": _text(_query(nvml, "nvmlDeviceGetName", handle)),
        "uuid": _text(_query(nvml, "nvmlDeviceGetUUID", handle)),
        "pci_bus_id": normalize_bus_id(_text(pci.busId) or "") if pci is not None else None,
        "compute_capability": f"{cc[0]}.{cc[1]}" if cc else None,
        "memory_total_mib": memory.total // (1 << 20) if memory is not None else None,
        "persistence_mode": bool(persistence) if persistence is not None else None,
        "mig_mode": bool(mig[0]) if mig else None,
        "ecc_mode": bool(ecc[0]) if ecc else None,
        "ecc_errors_uncorrected": _query(
            nvml, "nvmlDeviceGetTotalEccErrors", handle,
            nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC,
        ) if ecc and ecc[0] else None,
        "retired_pages_pending": bool(retired) if retired is not None else None,
        "remapped_rows_pending": bool(remapped[2]) if remapped else None,
        "remapped_rows_failure": bool(remapped[3]) if remapped else None,
        "pcie_link": {
            "current_gen": _query(nvml, "nvmlDeviceGetCurrPcieLinkGeneration", handle),
            "max_gen": _query(nvml, "nvmlDeviceGetMaxPcieLinkGeneration", handle),
            "current_width": _query(nvml, "nvmlDeviceGetCurrPcieLinkWidth", handle),
            "max_width": _query(nvml, "nvmlDeviceGetMaxPcieLinkWidth", handle),
        },
        "temperature_c": _query(nvml, "nvmlDeviceGetTemperature", handle, nvml.NVML_TEMPERATURE_GPU),
        "power_draw_w": round(power / 1000, 1) if isinstance(power, int) else None,
        "power_limit_w": round(limit / 1000, 1) if isinstance(limit, int) else None,
        "clocks_event_reasons": (
            [name for bit, name in CLOCK_EVENT_REASONS if reasons & bit] if isinstance(reasons, int) else None
        ),
        "compute_processes": len(procs) if procs is not None else None,
    }


# --- libcuda and nvidia-smi ---------------------------------------------------------

def _from_libcuda(machine: Machine, notes: Notes, result: dict[str, Any]) -> None:
    candidates = [lib["path"] for lib in result["libraries"] if lib["name"] == "libcuda"]
    for wsl in ("/usr/lib/wsl/lib/libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so"):
        if machine.exists(wsl):
            candidates.append(wsl)
    if not candidates:
        return
    path = str(machine.path(candidates[0]))
    run = machine.runner.run([machine.own_python, "-c", _LIBCUDA_SNIPPET, path, "dldoctor-libcuda"])
    if not run.ok:
        notes.fail("nvidia.libcuda", run.describe_failure())
        return
    try:
        answer = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        notes.fail("nvidia.libcuda", f"unexpected output: {run.stdout[:120]!r}")
        return
    if answer.get("rc") == 0 and answer.get("version", 0) > 0:
        result["cuda_driver_version"] = cuda_version_from_int(int(answer["version"]))
        result["sources"]["cuda_driver_version"] = "libcuda"
    else:
        notes.fail("nvidia.libcuda", answer.get("error") or f"cuDriverGetVersion returned {answer.get('rc')}")


_SMI_FIELDS = ("index", "name", "uuid", "pci.bus_id", "driver_version", "memory.total", "persistence_mode", "compute_cap")


def _from_nvidia_smi(machine: Machine, notes: Notes, result: dict[str, Any]) -> None:
    if machine.runner.which("nvidia-smi") is None:
        return
    fields = list(_SMI_FIELDS)
    run = machine.runner.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"])
    if not run.ok and not run.timed_out and "compute_cap" in (run.stdout + run.stderr):
        fields.remove("compute_cap")  # drivers before 510 do not know this field
        run = machine.runner.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"])
    if not run.ok:
        notes.fail("nvidia.nvidia-smi", run.describe_failure())
        return
    gpus = []
    for line in run.stdout.strip().splitlines():
        values = dict(zip(fields, (v.strip() for v in line.split(",")), strict=False))
        if "index" not in values or not values["index"].isdigit():
            continue
        gpus.append({
            "index": int(values["index"]),
            "name": values.get("name"),
            "uuid": values.get("uuid"),
            "pci_bus_id": normalize_bus_id(values.get("pci.bus_id", "")) or None,
            "compute_capability": values.get("compute_cap"),
            "memory_total_mib": int(values["memory.total"]) if values.get("memory.total", "").isdigit() else None,
            "persistence_mode": {"Enabled": True, "Disabled": False}.get(values.get("persistence_mode", "")),
        })
        if result["driver_version"] is None and values.get("driver_version"):
            result["driver_version"] = values["driver_version"]
            result["sources"]["driver_version"] = "nvidia-smi"
    result["gpus"] = gpus
    result["sources"]["gpus"] = "nvidia-smi"
