"""PCI devices from sysfs: what hardware is on the bus, whatever the drivers say."""

from __future__ import annotations

from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes.util import read_stripped

NVIDIA = "0x10de"
AMD = "0x1002"
INTEL = "0x8086"

#: PCI class prefixes of display controllers (VGA, 3D) and processing accelerators.
_GPU_CLASSES = ("0x0300", "0x0302", "0x0380", "0x1200")


def normalize_bus_id(bus_id: str) -> str:
    """"00000000:17:00.0" (NVML) and "0000:17:00.0" (sysfs) -> "0000:17:00.0"."""
    text = bus_id.strip().lower()
    domain, sep, rest = text.partition(":")
    if not sep:
        return text
    if ":" not in rest:  # no domain given: "17:00.0"
        return f"0000:{text}"
    return f"{int(domain, 16):04x}:{rest}" if all(c in "0123456789abcdef" for c in domain) else text


def gpu_devices(machine: Machine, vendor: str) -> list[dict[str, Any]]:
    """Display/accelerator-class PCI functions of `vendor`, with their bound driver."""
    found = []
    for dev in machine.glob("/sys/bus/pci/devices/*"):
        if read_stripped(machine, f"{dev}/vendor") != vendor:
            continue
        pci_class = read_stripped(machine, f"{dev}/class") or ""
        if not pci_class.startswith(_GPU_CLASSES):
            continue
        found.append({
            "bus_id": normalize_bus_id(dev.rsplit("/", 1)[-1]),
            "device_id": read_stripped(machine, f"{dev}/device"),
            "class": pci_class,
            "driver": machine.readlink_name(f"{dev}/driver"),
            "current_link_speed": read_stripped(machine, f"{dev}/current_link_speed"),
            "current_link_width": read_stripped(machine, f"{dev}/current_link_width"),
            "max_link_speed": read_stripped(machine, f"{dev}/max_link_speed"),
            "max_link_width": read_stripped(machine, f"{dev}/max_link_width"),
        })
    return found
