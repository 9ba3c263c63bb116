"""Typed, forgiving reads of a snapshot for the rules.

A snapshot may come from another machine, another dldoctor version or a
person's editor: every read here checks the type it gets and answers None or
an empty list rather than raising, so the rules never crash on odd input.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def pick(obj: Any, *keys: str | int, kind: type[T]) -> T | None:
    """obj[k1][k2]... when every step exists and the value is a `kind`, else None."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
    if kind is float and isinstance(obj, int) and not isinstance(obj, bool):
        return float(obj)  # type: ignore[return-value]  # int is a fine float here
    if kind is int and isinstance(obj, bool):
        return None
    return obj if isinstance(obj, kind) else None


def dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class Facts:
    """The snapshot as the rules read it."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.raw = snapshot if isinstance(snapshot, dict) else {}

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    # --- host ------------------------------------------------------------------
    @property
    def os(self) -> str:
        return pick(self.raw, "host", "os", kind=str) or "Linux"

    @property
    def arch(self) -> str:
        return pick(self.raw, "host", "arch", kind=str) or "x86_64"

    @property
    def distro_ids(self) -> list[str]:
        """The distro's ID followed by its ID_LIKE entries ("ubuntu", "debian")."""
        ids = [pick(self.raw, "host", "distro", "id", kind=str) or ""]
        ids += (pick(self.raw, "host", "distro", "id_like", kind=str) or "").split()
        return [i.lower() for i in ids if i]

    @property
    def in_container(self) -> str | None:
        return pick(self.raw, "host", "in_container", kind=str)

    @property
    def wsl(self) -> bool:
        return pick(self.raw, "host", "wsl", kind=bool) is True

    @property
    def driver_os(self) -> str:
        """The OS whose driver table applies: under WSL2 the driver is the Windows one."""
        return "Windows" if self.wsl else self.os

    @property
    def cloud(self) -> str | None:
        return pick(self.raw, "host", "cloud", kind=str)

    # --- nvidia ----------------------------------------------------------------
    @property
    def nvidia(self) -> dict[str, Any]:
        return self.section("nvidia")

    @property
    def driver_version(self) -> str | None:
        return pick(self.nvidia, "driver_version", kind=str)

    @property
    def cuda_driver_version(self) -> str | None:
        return pick(self.nvidia, "cuda_driver_version", kind=str)

    @property
    def gpus(self) -> list[dict[str, Any]]:
        """NVIDIA GPUs the driver reports, broken ones included (they carry `error`)."""
        return dicts(self.nvidia.get("gpus"))

    @property
    def working_gpus(self) -> list[dict[str, Any]]:
        return [g for g in self.gpus if not g.get("error")]

    @property
    def capabilities(self) -> list[str]:
        return [c for g in self.working_gpus if (c := pick(g, "compute_capability", kind=str))]

    @property
    def nvidia_pci(self) -> list[dict[str, Any]]:
        return dicts(self.nvidia.get("pci_devices"))

    @property
    def has_nvidia_hardware(self) -> bool:
        return bool(self.nvidia_pci or self.gpus or (self.wsl and self.nvidia.get("wsl_libcuda")))

    @property
    def nvml_error_code(self) -> str | None:
        return pick(self.nvidia, "nvml_error", "code", kind=str)

    # --- amd -------------------------------------------------------------------
    @property
    def amd(self) -> dict[str, Any]:
        return self.section("amd")

    @property
    def amd_gpus(self) -> list[dict[str, Any]]:
        return dicts(self.amd.get("gpus"))

    @property
    def gfx_targets(self) -> list[str]:
        return [g for gpu in self.amd_gpus if (g := pick(gpu, "gfx_target", kind=str))]

    # --- software ----------------------------------------------------------------
    @property
    def frameworks(self) -> list[dict[str, Any]]:
        return dicts(self.section("frameworks").get("installed"))

    def framework(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.frameworks if f.get("name") == name), None)

    @property
    def python(self) -> dict[str, Any]:
        value = self.section("frameworks").get("python")
        return value if isinstance(value, dict) else {}

    @property
    def nvidia_wheels(self) -> list[dict[str, Any]]:
        return dicts(self.section("frameworks").get("nvidia_wheels"))

    def env(self, name: str) -> str | None:
        return pick(self.raw, "environment", "variables", name, kind=str)

    def has_env(self, name: str) -> bool:
        variables = pick(self.raw, "environment", "variables", kind=dict)
        return variables is not None and name in variables

    @property
    def toolkits(self) -> list[dict[str, Any]]:
        return dicts(self.section("cuda_toolkits").get("toolkits"))

    def libraries(self, name: str) -> list[dict[str, Any]]:
        """cuDNN or NCCL copies found (system and pip)."""
        return dicts(self.section("cuda_toolkits").get(name))

    @property
    def device_nodes(self) -> list[str]:
        """/dev/nvidia* (and /dev/dxg under WSL2) that exist."""
        return strings(self.nvidia.get("device_nodes"))

    @property
    def conda_cuda_packages(self) -> list[dict[str, Any]]:
        """CUDA packages in the target's conda environment (cudatoolkit, cuda-version, cudnn, nccl, ...)."""
        return dicts(self.section("cuda_toolkits").get("conda_cuda_packages"))

    @property
    def distro_packages(self) -> list[dict[str, Any]]:
        """Installed NVIDIA driver / CUDA / cuDNN / NCCL packages of the distro (dpkg)."""
        return dicts(self.section("cuda_toolkits").get("distro_packages"))

    @property
    def libcuda_copies(self) -> list[dict[str, Any]]:
        """Every libcuda.so.1 in the loader's folders: {path, target, on_ld_library_path}."""
        return dicts(self.section("cuda_toolkits").get("libcuda_copies"))

    @property
    def docker(self) -> dict[str, Any]:
        return self.section("docker")

    @property
    def probe_failures(self) -> list[dict[str, Any]]:
        return dicts(self.raw.get("probe_failures"))
