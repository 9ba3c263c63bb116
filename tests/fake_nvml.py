"""A fake NVML with the API surface of nvidia-ml-py (`pynvml`), driven by a scenario.

It stands in for the driver's libnvidia-ml.so, not for dldoctor's code: the
probe calls it exactly as it calls the real bindings, and it raises the real
`pynvml.NVMLError` subclasses (FunctionNotFound for functions an old driver
lacks, NotSupported, GpuIsLost, LibRmVersionMismatch, ...).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pynvml

ERROR_CODES = {
    "LibRmVersionMismatch": pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    "DriverNotLoaded": pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    "LibraryNotFound": pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
    "NoPermission": pynvml.NVML_ERROR_NO_PERMISSION,
    "Unknown": pynvml.NVML_ERROR_UNKNOWN,
    "GpuIsLost": pynvml.NVML_ERROR_GPU_IS_LOST,
    "NotSupported": pynvml.NVML_ERROR_NOT_SUPPORTED,
    "FunctionNotFound": pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
}


def _error(code: str) -> pynvml.NVMLError:
    return pynvml.NVMLError(ERROR_CODES[code])


class FakeNvml:
    """Module-like object: constants and exceptions come from the real pynvml."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._spec = spec
        self._initialised = False
        self._missing = set(spec.get("missing_functions", []))
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        # NVML_* constants, NVMLError classes and anything else not faked: the real module's.
        return getattr(pynvml, name)

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if name in self._missing:
            raise _error("FunctionNotFound")
        if name != "nvmlInit" and not self._initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)

    # --- system --------------------------------------------------------------
    def nvmlInit(self) -> None:  # noqa: N802  (NVML's own names)
        self._enter("nvmlInit")
        if self._spec.get("init_error"):
            raise _error(self._spec["init_error"])
        self._initialised = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self._initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        self._enter("nvmlSystemGetDriverVersion")
        return str(self._spec["driver_version"])

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:  # noqa: N802
        self._enter("nvmlSystemGetCudaDriverVersion_v2")
        return int(self._spec["cuda_driver_version"])

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        self._enter("nvmlSystemGetCudaDriverVersion")
        return int(self._spec["cuda_driver_version"])

    def nvmlSystemGetNVMLVersion(self) -> str:  # noqa: N802
        self._enter("nvmlSystemGetNVMLVersion")
        return str(self._spec.get("nvml_version", ""))

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetCount")
        return len(self._spec.get("gpus", []))

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:  # noqa: N802
        self._enter("nvmlDeviceGetHandleByIndex")
        gpu: dict[str, Any] = self._spec["gpus"][index]
        if gpu.get("lost"):
            raise _error("GpuIsLost")
        return gpu

    # --- per device ------------------------------------------------------------
    def _field(self, name: str, gpu: dict[str, Any], key: str) -> Any:
        self._enter(name)
        if name in gpu.get("not_supported", []) or key not in gpu:
            raise _error("NotSupported")
        return gpu[key]

    def nvmlDeviceGetName(self, h: dict[str, Any]) -> str:  # noqa: N802
        return str(self._field("nvmlDeviceGetName", h, "name"))

    def nvmlDeviceGetUUID(self, h: dict[str, Any]) -> str:  # noqa: N802
        return str(self._field("nvmlDeviceGetUUID", h, "uuid"))

    def nvmlDeviceGetPciInfo(self, h: dict[str, Any]) -> Any:  # noqa: N802
        return SimpleNamespace(busId=self._field("nvmlDeviceGetPciInfo", h, "pci_bus_id").encode())

    def nvmlDeviceGetCudaComputeCapability(self, h: dict[str, Any]) -> tuple[int, int]:  # noqa: N802
        major, minor = self._field("nvmlDeviceGetCudaComputeCapability", h, "cc")
        return int(major), int(minor)

    def nvmlDeviceGetMemoryInfo(self, h: dict[str, Any]) -> Any:  # noqa: N802
        total = self._field("nvmlDeviceGetMemoryInfo", h, "memory_total_mib") << 20
        return SimpleNamespace(total=total, free=total, used=0)

    def nvmlDeviceGetPersistenceMode(self, h: dict[str, Any]) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetPersistenceMode", h, "persistence"))

    def nvmlDeviceGetMigMode(self, h: dict[str, Any]) -> list[int]:  # noqa: N802
        return list(self._field("nvmlDeviceGetMigMode", h, "mig"))

    def nvmlDeviceGetEccMode(self, h: dict[str, Any]) -> list[int]:  # noqa: N802
        return list(self._field("nvmlDeviceGetEccMode", h, "ecc"))

    def nvmlDeviceGetTotalEccErrors(self, h: dict[str, Any], error_type: int, counter: int) -> int:  # noqa: N802
        assert error_type == pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
        return int(self._field("nvmlDeviceGetTotalEccErrors", h, "ecc_uncorrected"))

    def nvmlDeviceGetRetiredPagesPendingStatus(self, h: dict[str, Any]) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetRetiredPagesPendingStatus", h, "retired_pending"))

    def nvmlDeviceGetRemappedRows(self, h: dict[str, Any]) -> tuple[int, int, int, int]:  # noqa: N802
        a, b, c, d = self._field("nvmlDeviceGetRemappedRows", h, "remapped")
        return a, b, c, d

    def _pcie(self, name: str, h: dict[str, Any], key: str) -> int:
        return int(self._field(name, h, "pcie")[key])

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: dict[str, Any]) -> int:  # noqa: N802
        return self._pcie("nvmlDeviceGetCurrPcieLinkGeneration", h, "cur_gen")

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: dict[str, Any]) -> int:  # noqa: N802
        return self._pcie("nvmlDeviceGetMaxPcieLinkGeneration", h, "max_gen")

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: dict[str, Any]) -> int:  # noqa: N802
        return self._pcie("nvmlDeviceGetCurrPcieLinkWidth", h, "cur_width")

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: dict[str, Any]) -> int:  # noqa: N802
        return self._pcie("nvmlDeviceGetMaxPcieLinkWidth", h, "max_width")

    def nvmlDeviceGetTemperature(self, h: dict[str, Any], sensor: int) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetTemperature", h, "temperature"))

    def nvmlDeviceGetPowerUsage(self, h: dict[str, Any]) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetPowerUsage", h, "power_mw"))

    def nvmlDeviceGetEnforcedPowerLimit(self, h: dict[str, Any]) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetEnforcedPowerLimit", h, "power_limit_mw"))

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: dict[str, Any]) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetCurrentClocksEventReasons", h, "clock_reasons"))

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h: dict[str, Any]) -> int:  # noqa: N802
        return int(self._field("nvmlDeviceGetCurrentClocksThrottleReasons", h, "clock_reasons"))

    def nvmlDeviceGetComputeRunningProcesses(self, h: dict[str, Any]) -> list[Any]:  # noqa: N802
        return [SimpleNamespace(pid=p) for p in self._field("nvmlDeviceGetComputeRunningProcesses", h, "processes")]
