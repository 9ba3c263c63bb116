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

from dldoctor.knowledge.cuda import max_cuda_for_driver
from dldoctor.machine import NVML_LIBRARY_DIRS, Machine
from dldoctor.probes import Notes
from dldoctor.probes.host import secure_boot_state
from dldoctor.probes.pci import NVIDIA, gpu_devices, normalize_bus_id
from dldoctor.probes.util import read_stripped, so_version

#: Where driver libraries live on the distros, in containers (toolkit mounts) and in WSL.
DRIVER_LIB_DIRS = NVML_LIBRARY_DIRS

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
    """NVIDIA GPUs: PCI devices, the kernel module and user-space driver, device nodes, and per-GPU state
    through NVML (nvidia-smi when NVML cannot answer)."""
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
        # NVML system field -> why it is null ("function: Code: message"); each GPU has its own.
        "nvml_field_errors": {},
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
        inferred = max_cuda_for_driver(result["driver_version"], machine.system)
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
    """Fill `result` from NVML, one field per call; a failing call nulls only its field.

    What NVML could not give stays as the other sources find it: the driver
    version from the kernel module, the CUDA version from libcuda, the GPUs
    from nvidia-smi.
    """
    try:
        nvml = machine.nvml()
    except ImportError:
        notes.fail("nvidia.nvml", "nvidia-ml-py is not installed")
        return
    except Exception as exc:  # noqa: BLE001  (whatever stops the bindings loading, the other sources go on)
        notes.fail("nvidia.nvml", f"loading nvidia-ml-py failed: {_describe(exc)}")
        return
    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001  (NVMLError, or anything the bindings raise: NVML is unusable)
        result["nvml_error"] = {"code": _nvml_error_code(exc), "message": str(exc)}
        return
    try:
        _nvml_system(_Calls(nvml), result)
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001  (shutting down a half-initialised NVML changes nothing we report)
            pass


def _nvml_system(calls: _Calls, result: dict[str, Any]) -> None:
    driver = _text(calls.read("driver_version", "nvmlSystemGetDriverVersion"))
    if driver:
        result["driver_version"] = driver
        result["sources"]["driver_version"] = "nvml"
    cuda = calls.read("cuda_driver_version", "nvmlSystemGetCudaDriverVersion_v2")
    if cuda is None:
        cuda = calls.read("cuda_driver_version", "nvmlSystemGetCudaDriverVersion")  # drivers before 460
    if isinstance(cuda, int) and cuda > 0:
        result["cuda_driver_version"] = cuda_version_from_int(cuda)
        result["sources"]["cuda_driver_version"] = "nvml"
    result["nvml_library_version"] = _text(calls.read("nvml_library_version", "nvmlSystemGetNVMLVersion"))
    count = calls.read("gpu_count_nvml", "nvmlDeviceGetCount")
    result["nvml_field_errors"] = calls.errors
    if not isinstance(count, int):
        # Without the count NVML lists no GPU: say why, as for a failed init.
        code, message = calls.failures.get("gpu_count_nvml", ("Unknown", "no GPU count"))
        result["nvml_error"] = {"code": code, "message": message}
        return
    result["gpu_count_nvml"] = count
    result["gpus"] = [_nvml_gpu(calls.nvml, index) for index in range(count)]
    result["sources"]["gpus"] = "nvml"


def _nvml_error_code(exc: BaseException) -> str:
    """NVMLError_LibRmVersionMismatch -> "LibRmVersionMismatch"; any other exception: its type's name."""
    name = type(exc).__name__
    if name == "NVMLError":
        return f"code {getattr(exc, 'value', '?')}"
    return name.removeprefix("NVMLError_")


def _describe(exc: BaseException) -> str:
    return f"{_nvml_error_code(exc)}: {exc}"


class _Calls:
    """NVML calls, each standing for one snapshot field.

    Any exception from a call (an NVMLError such as NotSupported or
    FunctionNotFound, nvidia-ml-py's NVMLLibraryMismatchError when its
    unversioned wrapper calls a _v3 the driver lacks, a ctypes error, a
    function these bindings do not have) makes that field None and records
    why in `errors[field]`; the other fields go on.
    """

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        #: field -> "function: Code: message" for every field left None.
        self.errors: dict[str, str] = {}
        #: field -> (code, message) of its last failure.
        self.failures: dict[str, tuple[str, str]] = {}

    def read(self, field: str, function: str, *args: Any, **kwargs: Any) -> Any:
        """The answer of `function`, or None. A later call for the same field that works clears the reason."""
        try:
            fn = getattr(self.nvml, function)
            value = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (one failing call costs only its own field)
            code = _nvml_error_code(exc) if not isinstance(exc, AttributeError) else "AttributeError"
            reason = f"{function}: {code}: {exc}"
            self.errors[field] = f"{self.errors[field]}; {reason}" if field in self.errors else reason
            self.failures[field] = (code, str(exc))
            return None
        self.errors.pop(field, None)
        self.failures.pop(field, None)
        return value

    def lost(self) -> bool:
        return any(code == "GpuIsLost" for code, _ in self.failures.values())


_LOST_HINT = " (the GPU has fallen off the bus or hung; see dmesg for Xid 79)"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _nvml_gpu(nvml: Any, index: int) -> dict[str, Any]:
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
    except Exception as exc:  # noqa: BLE001  (no handle: nothing of this GPU can be read; the others go on)
        code = _nvml_error_code(exc)
        return {"index": index, "error": f"{code}: {exc}{_LOST_HINT if code == 'GpuIsLost' else ''}",
                "error_code": code}
    calls = _Calls(nvml)
    gpu = _nvml_gpu_fields(calls, handle, index)
    gpu["nvml_field_errors"] = calls.errors
    if calls.lost():
        # The GPU answered its handle, then fell off the bus: keep what was read, mark it broken.
        message = next(m for c, m in calls.failures.values() if c == "GpuIsLost")
        gpu["error"], gpu["error_code"] = f"GpuIsLost: {message}{_LOST_HINT}", "GpuIsLost"
    return gpu


def _nvml_gpu_fields(calls: _Calls, handle: Any, index: int) -> dict[str, Any]:
    nvml = calls.nvml
    cc = calls.read("compute_capability", "nvmlDeviceGetCudaComputeCapability", handle)
    memory = None
    if hasattr(nvml, "nvmlMemory_v2"):
        memory = calls.read("memory_total_mib", "nvmlDeviceGetMemoryInfo", handle, version=nvml.nvmlMemory_v2)
    if memory is None:
        memory = calls.read("memory_total_mib", "nvmlDeviceGetMemoryInfo", handle)  # drivers before 515
    pci = calls.read("pci_bus_id", "nvmlDeviceGetPciInfo", handle)
    mig = calls.read("mig_mode", "nvmlDeviceGetMigMode", handle)
    ecc = calls.read("ecc_mode", "nvmlDeviceGetEccMode", handle)
    uncorrected = calls.read(
        "ecc_errors_uncorrected", "nvmlDeviceGetTotalEccErrors", handle,
        getattr(nvml, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1), getattr(nvml, "NVML_VOLATILE_ECC", 0),
    ) if ecc and ecc[0] else None
    remapped = calls.read("remapped_rows_pending", "nvmlDeviceGetRemappedRows", handle)
    if remapped is None:
        calls.errors["remapped_rows_failure"] = calls.errors["remapped_rows_pending"]
    retired = calls.read("retired_pages_pending", "nvmlDeviceGetRetiredPagesPendingStatus", handle)
    power = calls.read("power_draw_w", "nvmlDeviceGetPowerUsage", handle)
    limit = calls.read("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", handle)
    reasons = calls.read("clocks_event_reasons", "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if reasons is None:
        reasons = calls.read("clocks_event_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons", handle)  # before 535
    persistence = calls.read("persistence_mode", "nvmlDeviceGetPersistenceMode", handle)
    # nvidia-ml-py 13's unversioned call is _v3, which 470 and 535.98+ lack: ask each version in turn.
    procs = None
    for function in ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
                     "nvmlDeviceGetComputeRunningProcesses"):
        procs = calls.read("compute_processes", function, handle)
        if procs is not None:
            break
    temperature = calls.read("temperature_c", "nvmlDeviceGetTemperature", handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
    return {
        "index": index,
        "name": _text(calls.read("name", "nvmlDeviceGetName", handle)),
        "uuid": _text(calls.read("uuid", "nvmlDeviceGetUUID", handle)),
        "pci_bus_id": normalize_bus_id(_text(pci.busId) or "") if pci is not None else None,
        "compute_capability": f"{cc[0]}.{cc[1]}" if cc else None,
        "memory_total_mib": memory.total // (1 << 20) if memory is not None else None,
        "persistence_mode": bool(persistence) if persistence is not None else None,
        "mig_mode": bool(mig[0]) if mig else None,
        "ecc_mode": bool(ecc[0]) if ecc else None,
        "ecc_errors_uncorrected": uncorrected,
        "retired_pages_pending": bool(retired) if retired is not None else None,
        "remapped_rows_pending": bool(remapped[2]) if remapped else None,
        "remapped_rows_failure": bool(remapped[3]) if remapped else None,
        "pcie_link": {
            "current_gen": calls.read("pcie_link.current_gen", "nvmlDeviceGetCurrPcieLinkGeneration", handle),
            "max_gen": calls.read("pcie_link.max_gen", "nvmlDeviceGetMaxPcieLinkGeneration", handle),
            "current_width": calls.read("pcie_link.current_width", "nvmlDeviceGetCurrPcieLinkWidth", handle),
            "max_width": calls.read("pcie_link.max_width", "nvmlDeviceGetMaxPcieLinkWidth", handle),
        },
        "temperature_c": temperature,
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


#: The most GPUs believed when the PCI bus cannot be read (a container, WSL).
MAX_GPUS = 64
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
    # Garbage that happens to parse (20 MB of it gave 769 GPUs) is a parse failure, not a machine.
    bound = len(result["pci_devices"]) or MAX_GPUS
    indexes = [g["index"] for g in gpus]
    if len(gpus) > bound or len(set(indexes)) != len(indexes):
        where = f"the PCI bus shows {bound}" if result["pci_devices"] else f"no machine has over {MAX_GPUS}"
        notes.fail("nvidia.nvidia-smi", f"nvidia-smi output not understood: {len(gpus)} GPUs parsed "
                                        f"({len(set(indexes))} distinct indexes) but {where}")
        return
    result["gpus"] = gpus
    result["sources"]["gpus"] = "nvidia-smi"
