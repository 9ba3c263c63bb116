"""Writes the simulated machines under tests/scenarios/ (run it after editing a scenario here).

Each scenario is built from the small helpers below and committed as plain
files, so a reader can open `tests/scenarios/<name>/root/...` and see exactly
what the probes saw. `tests/test_scenarios_current.py` fails when the committed
folders and this script disagree.

    python -m tests.make_scenarios [--out DIR]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any


def w(root, path, text, mode=None):
    p = Path(root) / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes): p.write_bytes(text)
    else: p.write_text(text)

def link(root, path, target):
    p = Path(root) / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink() or p.exists(): p.unlink()
    os.symlink(target, p)

def base(root, *, distro=("ubuntu","22.04","Ubuntu 22.04.4 LTS"), kernel="5.15.0-105-generic", cpu="Intel(R) Xeon(R) Platinum 8480+", cores=4, flags="fpu sse4_2 avx avx2 fma avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile", mem_kb=2113363968, dmi=None, groups=None):
    w(root, "/etc/os-release", f'NAME="{distro[0].title()}"\nID={distro[0]}\nVERSION_ID="{distro[1]}"\nPRETTY_NAME="{distro[2]}"\nID_LIKE=debian\n')
    w(root, "/proc/sys/kernel/osrelease", kernel + "\n")
    w(root, "/proc/version", f"Linux version {kernel} (buildd@lcy02-amd64) (gcc 11.4.0) #115-Ubuntu SMP\n")
    info = ""
    for i in range(cores):
        info += f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {i}\nflags\t\t: {flags}\n\n"
    w(root, "/proc/cpuinfo", info)
    w(root, "/proc/meminfo", f"MemTotal:       {mem_kb} kB\nMemFree:        1000 kB\n")
    w(root, "/proc/1/cgroup", "0::/init.scope\n")
    for k, v in (dmi or {}).items():
        w(root, f"/sys/class/dmi/id/{k}", v + "\n")
    w(root, "/etc/group", groups or "root:x:0:\nvideo:x:44:\nrender:x:109:\nuser:x:1000:\n")

def nvidia_pci(root, bus, device="0x2330", speed="32.0 GT/s PCIe", width="16", driver="nvidia"):
    d = f"/sys/bus/pci/devices/{bus}"
    w(root, f"{d}/vendor", "0x10de\n"); w(root, f"{d}/device", device + "\n"); w(root, f"{d}/class", "0x030200\n")
    w(root, f"{d}/current_link_speed", speed + "\n"); w(root, f"{d}/max_link_speed", speed + "\n")
    w(root, f"{d}/current_link_width", width + "\n"); w(root, f"{d}/max_link_width", width + "\n")
    if driver:
        link(root, f"{d}/driver", f"../../../bus/pci/drivers/{driver}")

def nvidia_driver(root, version, libdir="/usr/lib/x86_64-linux-gnu", nodes=1, module=True, libs=True):
    if module:
        w(root, "/sys/module/nvidia/version", version + "\n")
        w(root, "/proc/driver/nvidia/version", f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Oct 3 2024\nGCC version:  gcc version 12.3.0\n")
    if libs:
        w(root, f"{libdir}/libnvidia-ml.so.{version}", b"")
        link(root, f"{libdir}/libnvidia-ml.so.1", f"libnvidia-ml.so.{version}")
        w(root, f"{libdir}/libcuda.so.{version}", b"")
        link(root, f"{libdir}/libcuda.so.1", f"libcuda.so.{version}")
    for i in range(nodes):
        w(root, f"/dev/nvidia{i}", b"")
    if nodes:
        w(root, "/dev/nvidiactl", b""); w(root, "/dev/nvidia-uvm", b"")

def site(root, sp, dists):
    """dists: list of (name, version, requires list, installer)"""
    for name, version, requires, installer in dists:
        d = f"{sp}/{name.replace('-', '_')}-{version}.dist-info"
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
        w(root, f"{d}/METADATA", meta)
        w(root, f"{d}/INSTALLER", installer + "\n")

def python_spec(sp, version="3.11.9", prefix="/usr", user_site=None, extra_path=()):
    return {"executable": f"{prefix}/bin/python3", "version": version, "prefix": prefix, "base_prefix": prefix,
            "path": [f"{prefix}/lib/python3.11", *extra_path, sp], "user_site": user_site,
            "user_site_enabled": user_site is not None, "platform": "linux"}

def machine(folder, spec):
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / "machine.json").write_text(json.dumps(spec, indent=2) + "\n")

def gpu(index, name, cc, mem, uuid, bus, **kw):
    g = {"name": name, "uuid": uuid, "pci_bus_id": bus, "cc": list(cc), "memory_total_mib": mem, "persistence": 1,
         "mig": [0, 0], "ecc": [1, 1], "ecc_uncorrected": 0, "retired_pending": 0, "remapped": [0, 0, 0, 0],
         "pcie": {"cur_gen": 5, "max_gen": 5, "cur_width": 16, "max_width": 16}, "temperature": 33,
         "power_mw": 72000, "power_limit_mw": 700000, "clock_reasons": 1, "processes": []}
    g.update(kw)
    return g

TORCH_CU126_REQ = ["nvidia-cuda-runtime-cu12==12.6.77; platform_system == \"Linux\"", "nvidia-cudnn-cu12==9.5.1.17; platform_system == \"Linux\"", "filelock", "typing-extensions>=4.10.0"]
TORCH_CU130_REQ = ["nvidia-cuda-runtime==13.0.96; platform_system == \"Linux\"", "nvidia-cudnn-cu13==9.13.0.50; platform_system == \"Linux\"", "filelock"]


# ---------------------------------------------------------------------------
# The scenarios. Each function writes one folder; its name says what it reproduces.

H100_UUID = "GPU-4b7c1e2a-9f3d-4c1b-8e6a-1d2f3a4b5c6d"


def h100_driver_580_cuda13(folder: Path) -> None:
    """A healthy H100 SXM cloud box: driver 580.95.05 (CUDA 13.0), torch 2.13 cu130 in a venv."""
    root = folder / "root"
    base(root, dmi={"sys_vendor": "Amazon EC2", "product_name": "p5.48xlarge", "bios_vendor": "Amazon EC2"})
    nvidia_pci(root, "0000:53:00.0")
    nvidia_driver(root, "580.95.05")
    sp = "/home/ubuntu/venv/lib/python3.11/site-packages"
    site(root, sp, [("torch", "2.13.0", TORCH_CU130_REQ, "pip"), ("nvidia-cudnn-cu13", "9.13.0.50", [], "pip"),
                    ("nvidia-cuda-runtime", "13.0.96", [], "pip"), ("nvidia-nccl-cu13", "2.27.7", [], "pip"),
                    ("numpy", "2.3.4", [], "pip")])
    machine(folder, {
        "description": "healthy H100 SXM on driver 580 (CUDA 13.0) with PyTorch 2.13 cu130",
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "ip-10-0-3-17",
        "user": {"name": "ubuntu", "uid": 1000, "gids": [1000, 44, 109], "home": "/home/ubuntu"},
        "env": {"VIRTUAL_ENV": "/home/ubuntu/venv"},
        "nvml": {"driver_version": "580.95.05", "cuda_driver_version": 13000, "nvml_version": "13.580.95.05",
                 "gpus": [gpu(0, "NVIDIA H100 80GB HBM3", (9, 0), 81559, H100_UUID, "00000000:53:00.0")]},
        "python": python_spec(sp, prefix="/home/ubuntu/venv"),
        "commands": {"nvidia-smi": {"stdout": "0, NVIDIA H100 80GB HBM3\n"}},
    })


def cpu_only_laptop(folder: Path) -> None:
    """A laptop with no discrete GPU: Ubuntu 24.04, integrated graphics, CPU PyTorch from pip."""
    root = folder / "root"
    base(root, distro=("ubuntu", "24.04", "Ubuntu 24.04.1 LTS"), kernel="6.8.0-45-generic",
         cpu="11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", cores=8,
         flags="fpu sse4_2 avx avx2 fma avx512f avx512_vnni", mem_kb=16211020,
         dmi={"sys_vendor": "LENOVO", "product_name": "20XW0055US"})
    d = "/sys/bus/pci/devices/0000:00:02.0"
    w(root, f"{d}/vendor", "0x8086\n")
    w(root, f"{d}/device", "0x9a49\n")
    w(root, f"{d}/class", "0x030000\n")
    link(root, f"{d}/driver", "../../../bus/pci/drivers/i915")
    w(root, "/dev/dri/renderD128", b"")
    sp = "/home/ana/.local/share/venvs/ml/lib/python3.12/site-packages"
    site(root, sp, [("torch", "2.13.0+cpu", ["filelock"], "pip"), ("numpy", "2.3.4", [], "pip")])
    machine(folder, {
        "description": "CPU-only laptop with integrated Intel graphics and CPU PyTorch",
        "system": "Linux", "arch": "x86_64", "glibc": "2.39", "hostname": "ana-thinkpad",
        "user": {"name": "ana", "uid": 1000, "gids": [1000, 44], "home": "/home/ana"},
        "env": {"VIRTUAL_ENV": "/home/ana/.local/share/venvs/ml"},
        "nvml": None,
        "python": python_spec(sp, version="3.12.3", prefix="/home/ana/.local/share/venvs/ml"),
        "commands": {},
    })


SCENARIOS = {
    "h100-driver-580-cuda13": h100_driver_580_cuda13,
    "cpu-only-laptop": cpu_only_laptop,
}


def main(argv: list[str]) -> int:
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path(__file__).parent / "scenarios"
    for name, build in SCENARIOS.items():
        folder = out / name
        keep = folder / "expected.json"
        saved = keep.read_text() if keep.is_file() else None
        if folder.exists():
            shutil.rmtree(folder)
        build(folder)
        if saved is not None:
            keep.write_text(saved)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
