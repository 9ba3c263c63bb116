"""The host: OS, distro, kernel, CPU, memory, container, WSL, cloud."""

from __future__ import annotations

import re
from typing import Any

from dldoctor.knowledge.cloud import cloud_dmi_rules
from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.util import parse_key_values, read_stripped

#: CPU flags that decide which wheels and kernels run fast (or at all).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def probe_host(machine: Machine, notes: Notes) -> dict[str, Any]:
    """The OS, distro, kernel, architecture, glibc, host and user, Python, CPU and memory, and whether this is
    a container, WSL or a cloud instance."""
    return {
        "os": machine.system,
        "distro": _distro(machine),
        "kernel": read_stripped(machine, "/proc/sys/kernel/osrelease"),
        "arch": machine.arch,
        "glibc": machine.glibc,
        "hostname": machine.hostname,
        "user": machine.user.name,
        "python": _own_python(machine),
        "cpu": _cpu(machine),
        "memory_total_mib": _memory_total_mib(machine),
        "in_container": detect_container(machine),
        "wsl": detect_wsl(machine),
        "cloud": detect_cloud(machine),
    }


def _distro(machine: Machine) -> dict[str, str | None] | None:
    text = machine.read_text("/etc/os-release") or machine.read_text("/usr/lib/os-release")
    if text is None:
        return None
    fields = parse_key_values(text)
    return {
        "id": fields.get("ID"),
        "id_like": fields.get("ID_LIKE"),
        "version_id": fields.get("VERSION_ID"),
        "name": fields.get("PRETTY_NAME") or fields.get("NAME"),
    }


def _own_python(machine: Machine) -> dict[str, str | None]:
    import platform
    import sys

    if machine.is_local:
        return {"version": platform.python_version(), "executable": sys.executable}
    return {"version": None, "executable": machine.own_python}


def _cpu(machine: Machine) -> dict[str, Any]:
    text = machine.read_text("/proc/cpuinfo") or ""
    model = None
    flags: set[str] = set()
    logical = 0
    physical: set[tuple[str, str]] = set()
    phys_id = core_id = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            logical += 1
        elif key in ("model name", "Model") and model is None:
            model = value
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
        elif key == "physical id":
            phys_id = value
        elif key == "core id":
            core_id = value
            physical.add((phys_id, core_id))
    return {
        "model": model,
        "logical_cores": logical or None,
        "physical_cores": len(physical) or None,
        "isa": {flag: flag in flags for flag in ISA_FLAGS} if flags else None,
    }


def _memory_total_mib(machine: Machine) -> int | None:
    text = machine.read_text("/proc/meminfo") or ""
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) // 1024 if match else None


def detect_container(machine: Machine) -> str | None:
    """docker, podman, kubernetes, lxc, containerd, or None on bare metal/VM."""
    if machine.env.get("KUBERNETES_SERVICE_HOST") or machine.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount"
    ):
        return "kubernetes"
    if machine.exists("/run/.containerenv"):
        return "podman"
    if machine.exists("/.dockerenv"):
        return "docker"
    cgroup = machine.read_text("/proc/1/cgroup") or ""
    for marker, kind in (("kubepods", "kubernetes"), ("libpod", "podman"), ("docker", "docker"),
                         ("containerd", "containerd"), ("lxc", "lxc")):
        if marker in cgroup:
            return kind
    environ = machine.read_text("/proc/1/environ") or ""
    match = re.search(r"(?:^|\x00)container=([a-z-]+)", environ)
    if match:
        return match.group(1)
    return None


def detect_wsl(machine: Machine) -> bool:
    version = (machine.read_text("/proc/version") or "").lower()
    return "microsoft" in version or "wsl" in version or machine.exists("/dev/dxg")


def detect_cloud(machine: Machine) -> str | None:
    """The cloud provider from DMI data alone (no network), or None."""
    dmi = {
        name: (read_stripped(machine, f"/sys/class/dmi/id/{name}") or "")
        for name in ("sys_vendor", "product_name", "product_version", "bios_vendor",
                     "bios_version", "board_vendor", "chassis_asset_tag", "chassis_vendor")
    }
    if not any(dmi.values()):
        return None
    for rule in cloud_dmi_rules():
        value = dmi.get(rule.field, "")
        if value and rule.contains.lower() in value.lower():
            return rule.cloud
    return None


_EFI_SECURE_BOOT = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0984b5f0c0a"


def secure_boot_state(machine: Machine) -> bool | None:
    """Secure Boot state from the EFI variable (4 attribute bytes, then the value)."""
    if not machine.exists("/sys/firmware/efi"):
        return None  # legacy BIOS boot: no Secure Boot at all
    data = machine.read_bytes(_EFI_SECURE_BOOT)
    if data is None or len(data) < 5:
        return None
    return data[4] == 1
