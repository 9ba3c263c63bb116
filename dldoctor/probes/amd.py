"""AMD GPUs and ROCm: the KFD sysfs topology first, then amd-smi / rocminfo."""

from __future__ import annotations

import json
import re
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.pci import AMD, gpu_devices
from dldoctor.probes.util import read_stripped

_TOPOLOGY = "/sys/class/kfd/kfd/topology/nodes"


def gfx_from_target_version(value: int) -> str | None:
    """KFD `gfx_target_version` 90402 -> "gfx942", 100300 -> "gfx1030", 90010 -> "gfx90a"."""
    if value <= 0:
        return None
    major, minor, step = value // 10000, (value // 100) % 100, value % 100
    return f"gfx{major}{minor:x}{step:x}"


def probe_amd(machine: Machine, notes: Notes) -> dict[str, Any]:
    """AMD GPUs (from the KFD topology, else amd-smi), the ROCm version, /dev/kfd and the render nodes,
    the amdgpu module and the user's groups."""
    pci = gpu_devices(machine, AMD)
    gpus = _kfd_gpus(machine)
    source = "kfd" if gpus else None
    rocm_version = _rocm_version(machine)
    if not gpus and (pci or machine.exists("/dev/kfd")):
        gpus = _amd_smi_gpus(machine, notes)
        source = "amd-smi" if gpus else None
    if not gpus and (pci or machine.exists("/dev/kfd")):
        gpus = _rocminfo_gpus(machine, notes)
        source = "rocminfo" if gpus else None
    groups = _group_membership(machine)
    return {
        "present": bool(pci or gpus),
        "rocm_version": rocm_version,
        "gpus": gpus,
        "source": source,
        "pci_devices": pci,
        "kfd_present": machine.exists("/dev/kfd"),
        "dri_render_nodes": machine.glob("/dev/dri/renderD*"),
        "amdgpu_loaded": machine.exists("/sys/module/amdgpu"),
        "user_groups": groups,
    }


def _kfd_gpus(machine: Machine) -> list[dict[str, Any]]:
    gpus: list[dict[str, Any]] = []
    nodes = machine.listdir(_TOPOLOGY)
    for node in sorted(nodes, key=lambda n: int(n) if n.isdigit() else 0):
        props_text = machine.read_text(f"{_TOPOLOGY}/{node}/properties") or ""
        props: dict[str, int] = {}
        for line in props_text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                props[parts[0]] = int(parts[1])
        gfx = gfx_from_target_version(props.get("gfx_target_version", 0))
        if gfx is None or props.get("simd_count", 0) == 0:
            continue  # CPU nodes have no gfx target and no SIMDs
        memory = 0
        for bank in machine.listdir(f"{_TOPOLOGY}/{node}/mem_banks"):
            bank_text = machine.read_text(f"{_TOPOLOGY}/{node}/mem_banks/{bank}/properties") or ""
            match = re.search(r"^size_in_bytes\s+(\d+)", bank_text, re.MULTILINE)
            memory += int(match.group(1)) if match else 0
        gpus.append({
            "index": len(gpus),
            "name": read_stripped(machine, f"{_TOPOLOGY}/{node}/name"),
            "gfx_target": gfx,
            "memory_total_mib": memory // (1 << 20) if memory else None,
            "kfd_node": int(node) if node.isdigit() else None,
            "location_id": props.get("location_id"),
        })
    return gpus


def _rocm_version(machine: Machine) -> str | None:
    for path in ["/opt/rocm/.info/version", *machine.glob("/opt/rocm-*/.info/version")]:
        text = read_stripped(machine, path)
        if text:
            return text.split("-")[0]
    return None


def _amd_smi_gpus(machine: Machine, notes: Notes) -> list[dict[str, Any]]:
    if machine.runner.which("amd-smi") is None:
        return []
    run = machine.runner.run(["amd-smi", "static", "--asic", "--vram", "--json"])
    if not run.ok:
        notes.fail("amd.amd-smi", run.describe_failure())
        return []
    try:
        data = json.loads(run.stdout)
    except ValueError:
        notes.fail("amd.amd-smi", "output is not JSON")
        return []
    entries = data if isinstance(data, list) else data.get("gpu_data", [])
    gpus: list[dict[str, Any]] = []
    for entry in entries:
        asic = entry.get("asic", {}) if isinstance(entry, dict) else {}
        vram = entry.get("vram", {}) if isinstance(entry, dict) else {}
        size = vram.get("size", {})
        gpus.append({
            "index": entry.get("gpu", len(gpus)),
            "name": asic.get("market_name"),
            "gfx_target": asic.get("target_graphics_version"),
            "memory_total_mib": size.get("value") if isinstance(size, dict) else None,
        })
    return gpus


def _rocminfo_gpus(machine: Machine, notes: Notes) -> list[dict[str, Any]]:
    if machine.runner.which("rocminfo") is None:
        return []
    run = machine.runner.run(["rocminfo"])
    if not run.ok:
        notes.fail("amd.rocminfo", run.describe_failure())
        return []
    gpus: list[dict[str, Any]] = []
    for block in run.stdout.split("*******"):
        if "Device Type:" in block and "GPU" in block.split("Device Type:")[1].splitlines()[0]:
            name = re.search(r"^\s*Name:\s+(gfx\w+)", block, re.MULTILINE)
            market = re.search(r"^\s*Marketing Name:\s+(.+)$", block, re.MULTILINE)
            gpus.append({
                "index": len(gpus),
                "name": market.group(1).strip() if market else None,
                "gfx_target": name.group(1) if name else None,
                "memory_total_mib": None,
            })
    return gpus


def _group_membership(machine: Machine) -> dict[str, bool | None]:
    """Whether the user is in `render` and `video`, which /dev/kfd and /dev/dri need."""
    text = machine.read_text("/etc/group")
    if text is None:
        return {"render": None, "video": None}
    found: dict[str, bool | None] = {"render": None, "video": None}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[0] in found:
            members = {m for m in parts[3].split(",") if m}
            try:
                gid = int(parts[2])
            except ValueError:
                gid = -1
            found[parts[0]] = machine.user.uid == 0 or gid in machine.user.gids or machine.user.name in members
    return found
