"""Writes the simulated machines under tests/scenarios/ (run it after editing a scenario here).

Each scenario is built from the small helpers below and committed as plain
files, so a reader can open `tests/scenarios/<name>/root/...` and see exactly
what the probes saw. `tests/test_scenarios_current.py` fails when the committed
folders and this script disagree.

No snapshot of real GPU hardware was at hand when these were written: every
file and recorded answer follows the format the kernel, the driver, NVML and
the tools really write, with values typical of that hardware.

    python -m tests.make_scenarios [--out DIR]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

# --- files ---------------------------------------------------------------------


def w(root: Path, path: str, text: str | bytes) -> None:
    p = Path(root) / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)


def link(root: Path, path: str, target: str) -> None:
    """A relative symlink inside the scenario root (absolute ones would point out of it)."""
    p = Path(root) / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink() or p.exists():
        p.unlink()
    os.symlink(target, p)


XEON_FLAGS = "fpu sse4_2 avx avx2 fma avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile"
DESKTOP_FLAGS = "fpu sse4_2 avx avx2 fma avx512f avx512_bf16 avx512_vnni"


def base(root: Path, *, distro: tuple[str, str, str] = ("ubuntu", "22.04", "Ubuntu 22.04.4 LTS"),
         kernel: str = "5.15.0-105-generic", cpu: str = "Intel(R) Xeon(R) Platinum 8480+", cores: int = 4,
         flags: str = XEON_FLAGS, mem_kb: int = 2113363968, dmi: dict[str, str] | None = None,
         groups: str | None = None, proc_version: str | None = None, cgroup: str = "0::/init.scope\n") -> None:
    """The files every Linux machine has: os-release, kernel, CPU, memory, cgroup, DMI, groups."""
    w(root, "/etc/os-release", f'NAME="{distro[0].title()}"\nID={distro[0]}\nVERSION_ID="{distro[1]}"\n'
                               f'PRETTY_NAME="{distro[2]}"\nID_LIKE=debian\n')
    w(root, "/proc/sys/kernel/osrelease", kernel + "\n")
    w(root, "/proc/version",
      proc_version or f"Linux version {kernel} (buildd@lcy02-amd64) (gcc 11.4.0) #115-Ubuntu SMP\n")
    info = ""
    for i in range(cores):
        info += (f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: {cpu}\nphysical id\t: 0\n"
                 f"core id\t\t: {i}\nflags\t\t: {flags}\n\n")
    w(root, "/proc/cpuinfo", info)
    w(root, "/proc/meminfo", f"MemTotal:       {mem_kb} kB\nMemFree:        1000 kB\n")
    w(root, "/proc/1/cgroup", cgroup)
    for k, v in (dmi or {}).items():
        w(root, f"/sys/class/dmi/id/{k}", v + "\n")
    w(root, "/etc/group", groups or "root:x:0:\nvideo:x:44:\nrender:x:109:\nuser:x:1000:\n")


def pci_device(root: Path, bus: str, *, vendor: str, device: str, pci_class: str, driver: str | None,
               speed: str | None, width: str | None, max_speed: str | None = None,
               max_width: str | None = None) -> None:
    """A PCI function as sysfs shows it; `driver` is the bound driver's link (None: unbound).

    Integrated GPUs sit on the root complex and have no link files: pass speed=None.
    """
    d = f"/sys/bus/pci/devices/{bus}"
    for name, value in (("vendor", vendor), ("device", device), ("class", pci_class),
                        ("current_link_speed", speed), ("max_link_speed", max_speed or speed),
                        ("current_link_width", width), ("max_link_width", max_width or width)):
        if value is not None:
            w(root, f"{d}/{name}", value + "\n")
    if driver:
        link(root, f"{d}/driver", f"../../../bus/pci/drivers/{driver}")


def nvidia_pci(root: Path, bus: str, device: str = "0x2330", speed: str = "32.0 GT/s PCIe", width: str = "16",
               driver: str | None = "nvidia", pci_class: str = "0x030200", **kw: str) -> None:
    pci_device(root, bus, vendor="0x10de", device=device, pci_class=pci_class, driver=driver,
               speed=speed, width=width, **kw)


def nvidia_driver(root: Path, version: str, libdir: str = "/usr/lib/x86_64-linux-gnu", nodes: int = 1,
                  module: bool = True, libs: bool = True, module_version: str | None = None) -> None:
    """The kernel module (sysfs + procfs), the user-space libraries and the device nodes of one driver."""
    if module:
        kmod = module_version or version
        w(root, "/sys/module/nvidia/version", kmod + "\n")
        w(root, "/proc/driver/nvidia/version",
          f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {kmod}  Release Build  (dvs-builder@U16-I3-B03-4-3)"
          "  Thu Oct 3 2024\nGCC version:  gcc version 12.3.0\n")
    if libs:
        w(root, f"{libdir}/libnvidia-ml.so.{version}", b"")
        link(root, f"{libdir}/libnvidia-ml.so.1", f"libnvidia-ml.so.{version}")
        w(root, f"{libdir}/libcuda.so.{version}", b"")
        link(root, f"{libdir}/libcuda.so.1", f"libcuda.so.{version}")
    for i in range(nodes):
        w(root, f"/dev/nvidia{i}", b"")
    if nodes:
        w(root, "/dev/nvidiactl", b"")
        w(root, "/dev/nvidia-uvm", b"")


def site(root: Path, sp: str, dists: list[tuple[str, str, list[str], str]]) -> None:
    """dists: list of (name, version, requires list, installer)"""
    for name, version, requires, installer in dists:
        d = f"{sp}/{name.replace('-', '_')}-{version}.dist-info"
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
        w(root, f"{d}/METADATA", meta)
        w(root, f"{d}/INSTALLER", installer + "\n")


def python_spec(sp: str, version: str = "3.11.9", prefix: str = "/usr", user_site: str | None = None,
                extra_path: tuple[str, ...] = (), base_prefix: str | None = None,
                user_site_first: bool = False) -> dict[str, Any]:
    """The JSON line the target interpreter prints for dldoctor's inspect snippet."""
    minor = ".".join(version.split(".")[:2])
    stdlib = f"{base_prefix or prefix}/lib/python{minor}"
    path = [f"{stdlib}", f"{stdlib}/lib-dynload", *extra_path]
    path += [user_site, sp] if user_site and user_site_first else [sp]
    return {"executable": f"{prefix}/bin/python3", "version": version, "prefix": prefix,
            "base_prefix": base_prefix or prefix, "path": path, "user_site": user_site,
            "user_site_enabled": user_site is not None, "platform": "linux"}


def python_command(py: dict[str, Any], libcuda: int | None = None) -> list[dict[str, Any]]:
    """`python3` with its recorded answers: the inspect snippet and, where asked, libcuda's cuDriverGetVersion."""
    cases = [{"match": "dldoctor-inspect", "stdout": json.dumps(py) + "\n"}]
    if libcuda is not None:
        cases.append({"match": "dldoctor-libcuda", "stdout": json.dumps({"rc": 0, "version": libcuda}) + "\n"})
    return cases


def machine(folder: Path, spec: dict[str, Any]) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / "machine.json").write_text(json.dumps(spec, indent=2) + "\n")


def gpu(index: int, name: str, cc: tuple[int, int], mem: int, uuid: str, bus: str, **kw: Any) -> dict[str, Any]:
    """One GPU of the fake libnvidia-ml; keyword arguments override the healthy data-centre defaults.

    `not_supported` names NVML functions (without _vN) that answer NotSupported on this board.
    """
    g = {"name": name, "uuid": uuid, "pci_bus_id": bus, "cc": list(cc), "memory_total_mib": mem, "persistence": 1,
         "mig": [0, 0], "ecc": [1, 1], "ecc_uncorrected": 0, "retired_pending": 0, "remapped": [0, 0, 0, 0],
         "pcie": {"cur_gen": 5, "max_gen": 5, "cur_width": 16, "max_width": 16}, "temperature": 33,
         "power_mw": 72000, "power_limit_mw": 700000, "clock_reasons": 1, "processes": []}
    g.update(kw)
    return g


#: What a GeForce board does not support through NVML (no ECC, no row remapping, no MIG).
GEFORCE_NOT_SUPPORTED = ["nvmlDeviceGetEccMode", "nvmlDeviceGetRemappedRows", "nvmlDeviceGetMigMode",
                         "nvmlDeviceGetRetiredPagesPendingStatus", "nvmlDeviceGetTotalEccErrors"]


def smi_query(gpus: list[dict[str, Any]], driver: str) -> dict[str, Any]:
    """nvidia-smi's answer to the probe's --query-gpu (csv, noheader, nounits)."""
    lines = []
    for i, g in enumerate(gpus):
        persistence = "Enabled" if g.get("persistence") else "Disabled"
        lines.append(f"{i}, {g['name']}, {g['uuid']}, {g['pci_bus_id']}, {driver}, {g['memory_total_mib']}, "
                     f"{persistence}, {g['cc'][0]}.{g['cc'][1]}")
    return {"match": "--query-gpu", "stdout": "\n".join(lines) + "\n"}


def nvml(driver: str, cuda: int, gpus: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """The state of the fake libnvidia-ml.so.1 (tests/fake_libnvml); which functions it has follows
    from the driver version's generation (tests/fake_libnvml/symbols.py)."""
    spec = {"driver_version": driver, "cuda_driver_version": cuda, "nvml_version": f"{cuda // 1000}.{driver}",
            "gpus": gpus}
    spec.update(kw)
    return spec


def user(name: str, gids: list[int], uid: int = 1000, home: str | None = None) -> dict[str, Any]:
    return {"name": name, "uid": uid, "gids": gids, "home": home or f"/home/{name}"}


TORCH_CU126_REQ = ['nvidia-cuda-runtime-cu12==12.6.77; platform_system == "Linux"',
                   'nvidia-cudnn-cu12==9.5.1.17; platform_system == "Linux"', "filelock", "typing-extensions>=4.10.0"]
TORCH_CU130_REQ = ['nvidia-cuda-runtime==13.0.96; platform_system == "Linux"',
                   'nvidia-cudnn-cu13==9.13.0.50; platform_system == "Linux"', "filelock"]
TORCH_CU124_REQ = ['nvidia-cuda-runtime-cu12==12.4.127; platform_system == "Linux" and platform_machine == "x86_64"',
                   'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"',
                   "filelock", "typing-extensions>=4.8.0"]
TORCH_CU121_REQ = ['nvidia-cuda-runtime-cu12==12.1.105; platform_system == "Linux" and platform_machine == "x86_64"',
                   'nvidia-cudnn-cu12==8.9.2.26; platform_system == "Linux" and platform_machine == "x86_64"',
                   "filelock", "typing-extensions"]

#: torch 2.13.0 cu126 from pip with the nvidia-* wheels it pulls in.
TORCH_CU126_WHEELS = [("torch", "2.13.0", TORCH_CU126_REQ, "pip"),
                      ("nvidia-cuda-runtime-cu12", "12.6.77", [], "pip"),
                      ("nvidia-cudnn-cu12", "9.5.1.17", [], "pip"),
                      ("nvidia-nccl-cu12", "2.21.5", [], "pip"),
                      ("numpy", "2.3.4", [], "pip")]

SERVER_DMI = {"sys_vendor": "Supermicro", "product_name": "SYS-421GE-TNRT", "board_vendor": "Supermicro"}
DESKTOP_DMI = {"sys_vendor": "ASUS", "product_name": "System Product Name", "board_vendor": "ASUSTeK COMPUTER INC."}
GCP_DMI = {"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google"}
AWS_DMI = {"sys_vendor": "Amazon EC2", "bios_vendor": "Amazon EC2"}
RYZEN = "AMD Ryzen 9 9950X 16-Core Processor"
SOURCE_NOTE = "; no real snapshot was available, values follow the real formats"


def nvidia_box(folder: Path, *, description: str, g: dict[str, Any], driver: str, cuda: int, device: str,
               pci_speed: str = "16.0 GT/s PCIe", env: dict[str, str] | None = None, dmi: dict[str, str] | None = None,
               hostname: str = "gpu-01", wheels: list[tuple[str, str, list[str], str]] | None = None,
               base_kw: dict[str, Any] | None = None, pci_kw: dict[str, Any] | None = None,
               nvml_kw: dict[str, Any] | None = None, commands: dict[str, Any] | None = None) -> Path:
    """A one-GPU NVIDIA machine with a venv; returns its root for scenario-specific files."""
    root = folder / "root"
    base(root, dmi=dmi if dmi is not None else SERVER_DMI, **(base_kw or {}))
    nvidia_pci(root, g["pci_bus_id"].lower().replace("00000000:", "0000:"), device=device, speed=pci_speed,
               **(pci_kw or {}))
    nvidia_driver(root, driver)
    prefix = "/home/ml/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS if wheels is None else wheels)
    machine(folder, {
        "description": description + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": hostname,
        "user": user("ml", [1000, 44, 109]),
        "env": {"VIRTUAL_ENV": prefix, **(env or {})},
        "nvml": nvml(driver, cuda, [g], **(nvml_kw or {})),
        "python": python_spec(sp, prefix=prefix, base_prefix="/usr"),
        "commands": {"nvidia-smi": [smi_query([g], driver)], **(commands or {})},
    })
    return root


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
    g = gpu(0, "NVIDIA H100 80GB HBM3", (9, 0), 81559, H100_UUID, "00000000:53:00.0")
    machine(folder, {
        "description": "healthy H100 SXM on driver 580 (CUDA 13.0) with PyTorch 2.13 cu130" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "ip-10-0-3-17",
        "user": {"name": "ubuntu", "uid": 1000, "gids": [1000, 44, 109], "home": "/home/ubuntu"},
        "env": {"VIRTUAL_ENV": "/home/ubuntu/venv"},
        "nvml": nvml("580.95.05", 13000, [g], nvml_version="13.580.95.05"),
        "python": python_spec(sp, prefix="/home/ubuntu/venv"),
        "commands": {"nvidia-smi": [smi_query([g], "580.95.05")]},
    })


def cpu_only_laptop(folder: Path) -> None:
    """A laptop with no discrete GPU: Ubuntu 24.04, integrated graphics, CPU PyTorch from pip."""
    root = folder / "root"
    base(root, distro=("ubuntu", "24.04", "Ubuntu 24.04.1 LTS"), kernel="6.8.0-45-generic",
         cpu="11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", cores=8,
         flags="fpu sse4_2 avx avx2 fma avx512f avx512_vnni", mem_kb=16211020,
         dmi={"sys_vendor": "LENOVO", "product_name": "20XW0055US"})
    pci_device(root, "0000:00:02.0", vendor="0x8086", device="0x9a49", pci_class="0x030000", driver="i915",
               speed=None, width=None)
    w(root, "/dev/dri/renderD128", b"")
    sp = "/home/ana/.local/share/venvs/ml/lib/python3.12/site-packages"
    site(root, sp, [("torch", "2.13.0+cpu", ["filelock"], "pip"), ("numpy", "2.3.4", [], "pip")])
    machine(folder, {
        "description": "CPU-only laptop with integrated Intel graphics and CPU PyTorch" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.39", "hostname": "ana-thinkpad",
        "user": {"name": "ana", "uid": 1000, "gids": [1000, 44], "home": "/home/ana"},
        "env": {"VIRTUAL_ENV": "/home/ana/.local/share/venvs/ml"},
        "nvml": None,
        "python": python_spec(sp, version="3.12.3", prefix="/home/ana/.local/share/venvs/ml"),
        "commands": {},
    })


def t4_driver_470_torch_cu126(folder: Path) -> None:
    """A GCP VM with a Tesla T4 on driver 470 (CUDA 11.4) and torch 2.13 cu126: the driver is too old."""
    g = gpu(0, "Tesla T4", (7, 5), 15109, "GPU-2f9b3c1d-5e7a-4b2c-9d8e-0a1b2c3d4e5f", "00000000:00:04.0",
            pcie={"cur_gen": 3, "max_gen": 3, "cur_width": 16, "max_width": 16}, power_mw=9400,
            power_limit_mw=70000, temperature=41, not_supported=["nvmlDeviceGetRemappedRows", "nvmlDeviceGetMigMode"])
    nvidia_box(folder, description="GCP n1 VM, Tesla T4 (sm_75) on driver 470.82.01 (CUDA 11.4), "
                                   "torch 2.13.0 cu126 from pip",
               g=g, driver="470.82.01", cuda=11040, device="0x1eb8", pci_speed="8.0 GT/s PCIe", dmi=GCP_DMI,
               hostname="t4-vm-1", base_kw={"distro": ("ubuntu", "20.04", "Ubuntu 20.04.6 LTS"),
                                            "kernel": "5.15.0-1071-gcp", "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz",
                                            "flags": "fpu sse4_2 avx avx2 fma avx512f", "mem_kb": 15335424})


def rtx5090_sm120_torch_cu124(folder: Path) -> None:
    """An RTX 5090 (Blackwell, sm_120) desktop with torch 2.5.1+cu124, whose build has no sm_120 kernels."""
    g = gpu(0, "NVIDIA GeForce RTX 5090", (12, 0), 32607, "GPU-9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "00000000:01:00.0", persistence=0, power_mw=31000, power_limit_mw=575000, temperature=38,
            not_supported=GEFORCE_NOT_SUPPORTED)
    root = nvidia_box(
        folder, description="Ubuntu 24.04 desktop, GeForce RTX 5090 (cc 12.0) on driver 575.64 (CUDA 12.9), "
                            "torch 2.5.1+cu124 (built without sm_120); persistence off is normal with a display",
        g=g, driver="575.64", cuda=12090, device="0x2b85", pci_speed="32.0 GT/s PCIe", dmi=DESKTOP_DMI,
        hostname="kai-desktop", pci_kw={"pci_class": "0x030000"},
        base_kw={"distro": ("ubuntu", "24.04", "Ubuntu 24.04.2 LTS"), "kernel": "6.8.0-51-generic", "cpu": RYZEN,
                 "flags": DESKTOP_FLAGS, "mem_kb": 65536000},
        wheels=[("torch", "2.5.1+cu124", TORCH_CU124_REQ, "pip"), ("nvidia-cuda-runtime-cu12", "12.4.127", [], "pip"),
                ("nvidia-cudnn-cu12", "9.1.0.70", [], "pip"), ("nvidia-nccl-cu12", "2.21.5", [], "pip")])
    w(root, "/dev/dri/card1", b"")


def driver_library_mismatch(folder: Path) -> None:
    """Driver upgraded from 550.54.14 to 550.90.07 without a reboot: the loaded module is still the old one."""
    root = folder / "root"
    base(root, dmi=SERVER_DMI)
    nvidia_pci(root, "0000:41:00.0", device="0x26b9", speed="16.0 GT/s PCIe")
    nvidia_driver(root, "550.90.07", module_version="550.54.14")
    prefix = "/home/ml/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS)
    machine(folder, {
        "description": "L40S server after an apt upgrade of the driver without reboot: kernel module 550.54.14, "
                       "user-space libraries 550.90.07, NVML init fails with LibRmVersionMismatch" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "gpu-07",
        "user": user("ml", [1000, 44, 109]),
        "env": {"VIRTUAL_ENV": prefix},
        "nvml": {"init_error": "LibRmVersionMismatch"},
        "commands": {
            "python3": python_command(python_spec(sp, prefix=prefix, base_prefix="/usr"), libcuda=12040),
            "nvidia-smi": {"stdout": "Failed to initialize NVML: Driver/library version mismatch\n"
                                     "NVML library version: 550.90\n", "rc": 18},
        },
    })


def driver_not_loaded_nouveau(folder: Path) -> None:
    """Driver 550 installed, but nouveau owns the GPU: Secure Boot on, DKMS built only for the previous kernel."""
    root = folder / "root"
    kernel = "6.8.0-48-generic"
    base(root, distro=("ubuntu", "24.04", "Ubuntu 24.04.1 LTS"), kernel=kernel, cpu=RYZEN, flags=DESKTOP_FLAGS,
         mem_kb=65536000, dmi=DESKTOP_DMI)
    nvidia_pci(root, "0000:01:00.0", device="0x2684", driver="nouveau", pci_class="0x030000",
               speed="16.0 GT/s PCIe")
    w(root, "/sys/module/nouveau/initstate", "live\n")
    nvidia_driver(root, "550.120", module=False, nodes=0)
    w(root, "/dev/dri/card0", b"")
    w(root, "/dev/dri/renderD128", b"")
    w(root, "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0984b5f0c0a", bytes([6, 0, 0, 0, 1]))
    old = "/var/lib/dkms/nvidia/550.120/6.5.0-41-generic/x86_64"
    w(root, f"{old}/module/nvidia.ko.zst", b"")
    w(root, f"{old}/module/nvidia-uvm.ko.zst", b"")
    w(root, f"{old}/log/make.log", "DKMS make.log for nvidia-550.120 for kernel 6.5.0-41-generic (x86_64)\n")
    prefix = "/home/kai/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS)
    machine(folder, {
        "description": "desktop with an RTX 4090 bound to nouveau: nvidia-driver-550 installed, no nvidia module "
                       f"loaded, Secure Boot on, DKMS built the module for 6.5.0-41 but runs {kernel}" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.39", "hostname": "kai-desktop",
        "user": user("kai", [1000, 44, 109]),
        "env": {"VIRTUAL_ENV": prefix},
        "nvml": {"init_error": "DriverNotLoaded"},
        "commands": {
            "python3": python_command(python_spec(sp, prefix=prefix, base_prefix="/usr"), libcuda=12040),
            "nvidia-smi": {"stdout": "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                                     "Make sure that the latest NVIDIA driver is installed and running.\n\n", "rc": 9},
        },
    })


def container_without_gpus(folder: Path) -> None:
    """A Docker container started without --gpus on a GPU host: host sysfs shows the GPU, nothing else is there."""
    root = folder / "root"
    base(root, distro=("debian", "12", "Debian GNU/Linux 12 (bookworm)"), kernel="6.8.0-1015-aws", cgroup="0::/\n",
         dmi=AWS_DMI | {"product_name": "g6.xlarge"}, groups="root:x:0:\nvideo:x:44:\n")
    w(root, "/.dockerenv", b"")
    # /sys is the host's sysfs: the GPU and the host's loaded module are visible, the device nodes are not.
    nvidia_pci(root, "0000:31:00.0", device="0x27b8", speed="16.0 GT/s PCIe")
    w(root, "/sys/module/nvidia/version", "550.127.05\n")
    sp = "/usr/local/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS)
    machine(folder, {
        "description": "python:3.11 container run without --gpus on an L4 host: no /dev/nvidia*, no libcuda, "
                       "but the host's sysfs (PCI device, nvidia module) shows through" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.36", "hostname": "3f9c2a1b7d4e",
        "user": user("root", [0], uid=0, home="/root"),
        "env": {},
        "nvml": None,
        "python": python_spec(sp, prefix="/usr/local"),
        "commands": {},
    })


def wsl2_rtx4090(folder: Path) -> None:
    """WSL2 on a Windows host with an RTX 4090: the GPU is reached through /dev/dxg and /usr/lib/wsl/lib."""
    root = folder / "root"
    kernel = "5.15.167.4-microsoft-standard-WSL2"
    base(root, kernel=kernel, cpu="13th Gen Intel(R) Core(TM) i9-13900K", flags="fpu sse4_2 avx avx2 fma",
         mem_kb=32768000, proc_version=f"Linux version {kernel} (root@f9c826d3017f) (gcc (GCC) 11.2.0, GNU ld "
                                       "(GNU Binutils) 2.37) #1 SMP Tue Nov 5 00:21:55 UTC 2024\n")
    w(root, "/dev/dxg", b"")
    # Plain files, not symlinks (the share comes from the Windows driver store; ldconfig warns about it).
    for name in ("libcuda.so", "libcuda.so.1", "libcuda.so.1.1", "libnvidia-ml.so.1", "libdxcore.so",
                 "libcudadebugger.so.1", "nvidia-smi"):
        w(root, f"/usr/lib/wsl/lib/{name}", b"")
    prefix = "/home/dev/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS)
    g = gpu(0, "NVIDIA GeForce RTX 4090", (8, 9), 24564, "GPU-7c6d5e4f-3a2b-4c1d-8e9f-1a2b3c4d5e6f", "00000000:01:00.0",
            power_mw=28000, power_limit_mw=450000, temperature=36,
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16},
            not_supported=[*GEFORCE_NOT_SUPPORTED, "nvmlDeviceGetPersistenceMode",
                           "nvmlDeviceGetComputeRunningProcesses"])
    machine(folder, {
        "description": "Ubuntu 22.04 under WSL2, RTX 4090 through the Windows driver 566.36 (CUDA 12.7): /dev/dxg, "
                       "libraries in /usr/lib/wsl/lib, no PCI devices and no nvidia module in the VM" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "DESKTOP-7QK2M4N",
        "user": user("dev", [1000, 44]),
        "env": {"VIRTUAL_ENV": prefix, "LD_LIBRARY_PATH": "/usr/lib/wsl/lib"},
        "nvml": nvml("566.36", 12070, [g]),
        "python": python_spec(sp, prefix=prefix, base_prefix="/usr"),
        "commands": {"nvidia-smi": [smi_query([g], "566.36")]},
    })


def kfd_cpu_node(root: Path, cores: int) -> None:
    n = "/sys/class/kfd/kfd/topology/nodes/0"
    w(root, f"{n}/properties", f"cpu_cores_count {cores}\nsimd_count 0\nmem_banks_count 1\ncaches_count 0\n"
                               "io_links_count 2\np2p_links_count 0\ncpu_core_id_base 0\nsimd_id_base 0\n"
                               "max_waves_per_simd 0\nlds_size_in_kb 0\ngds_size_in_kb 0\nnum_gws 0\n"
                               "wave_front_size 0\narray_count 0\nsimd_arrays_per_engine 0\ncu_per_simd_array 0\n"
                               "simd_per_cu 0\nmax_slots_scratch_cu 0\ngfx_target_version 0\nvendor_id 0\n"
                               "device_id 0\nlocation_id 0\ndomain 0\ndrm_render_minor 0\nhive_id 0\n"
                               "num_sdma_engines 0\nnum_sdma_xgmi_engines 0\nnum_sdma_queues_per_engine 0\n"
                               "num_cp_queues 0\nmax_engine_clk_ccompute 3700\n")
    w(root, f"{n}/name", "\n")
    w(root, f"{n}/gpu_id", "0\n")
    w(root, f"{n}/mem_banks/0/properties", "heap_type 0\nsize_in_bytes 1622454743040\nflags 0\nwidth 72\n"
                                           "mem_clk_max 4800\n")


def kfd_gpu_node(root: Path, node: int, *, gfx: int, simd: int, device_id: int, location: int, mem: int,
                 name: str, render_minor: int) -> None:
    n = f"/sys/class/kfd/kfd/topology/nodes/{node}"
    w(root, f"{n}/properties", f"cpu_cores_count 0\nsimd_count {simd}\nmem_banks_count 1\ncaches_count 104\n"
                               "io_links_count 1\np2p_links_count 0\ncpu_core_id_base 0\n"
                               f"simd_id_base {2147487744 + node * 4096}\nmax_waves_per_simd 8\nlds_size_in_kb 64\n"
                               "gds_size_in_kb 0\nnum_gws 64\nwave_front_size 64\narray_count 4\n"
                               "simd_arrays_per_engine 1\ncu_per_simd_array 10\nsimd_per_cu 4\n"
                               f"max_slots_scratch_cu 32\ngfx_target_version {gfx}\nvendor_id 4098\n"
                               f"device_id {device_id}\nlocation_id {location}\ndomain 0\n"
                               f"drm_render_minor {render_minor}\nhive_id 0\nnum_sdma_engines 2\n"
                               "num_sdma_xgmi_engines 0\nnum_sdma_queues_per_engine 8\nnum_cp_queues 24\n"
                               "max_engine_clk_fcompute 2100\nlocal_mem_size 0\nfw_version 157\n")
    w(root, f"{n}/name", name + "\n")
    w(root, f"{n}/gpu_id", f"{10000 + node * 1111}\n")
    w(root, f"{n}/mem_banks/0/properties", f"heap_type 1\nsize_in_bytes {mem}\nflags 0\nwidth 8192\n"
                                           "mem_clk_max 1300\n")


def amd_mi300x_rocm(folder: Path) -> None:
    """Two AMD Instinct MI300X (gfx942) with ROCm 6.2.4 and torch 2.5.1+rocm6.2; the user may open the devices."""
    root = folder / "root"
    base(root, cpu="AMD EPYC 9654 96-Core Processor", cores=8, flags="fpu sse4_2 avx avx2 fma avx512f avx512_bf16",
         dmi={"sys_vendor": "Supermicro", "product_name": "AS -8125GS-TNMR2"},
         groups="root:x:0:\nvideo:x:44:amd\nrender:x:110:amd\namd:x:1000:\n")
    kfd_cpu_node(root, 96)
    for i, bus in enumerate(("0000:05:00.0", "0000:26:00.0")):
        location = int(bus.split(":")[1], 16) << 8
        kfd_gpu_node(root, i + 1, gfx=90402, simd=1216, device_id=0x74A1, location=location, mem=206141652992,
                     name="ip discovery", render_minor=128 + i)
        pci_device(root, bus, vendor="0x1002", device="0x74a1", pci_class="0x120000", driver="amdgpu",
                   speed="32.0 GT/s PCIe", width="16")
        w(root, f"/dev/dri/renderD{128 + i}", b"")
        w(root, f"/dev/dri/card{i + 1}", b"")
    w(root, "/dev/kfd", b"")
    w(root, "/sys/module/amdgpu/initstate", "live\n")
    w(root, "/opt/rocm-6.2.4/.info/version", "6.2.4-120\n")
    link(root, "/opt/rocm", "rocm-6.2.4")
    prefix = "/home/amd/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, [("torch", "2.5.1+rocm6.2", ["filelock", 'pytorch-triton-rocm==3.1.0; platform_system == "Linux"'],
                     "pip"), ("pytorch-triton-rocm", "3.1.0", [], "pip")])
    machine(folder, {
        "description": "2x AMD Instinct MI300X (gfx942, 192 GiB each) with ROCm 6.2.4 and torch 2.5.1+rocm6.2 from pip; "
                       "user in render and video" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "mi300x-01",
        "user": user("amd", [1000, 44, 110]),
        "env": {"VIRTUAL_ENV": prefix},
        "nvml": None,
        "python": python_spec(sp, prefix=prefix, base_prefix="/usr"),
        "commands": {},
    })


def two_gpus_one_fallen_off_bus(folder: Path) -> None:
    """Two A100s; GPU 1 fell off the bus (Xid 79): NVML raises GpuIsLost for it, PCI still lists it."""
    root = folder / "root"
    base(root, dmi=SERVER_DMI, cores=8)
    a100 = "NVIDIA A100-SXM4-80GB"
    gpus = [gpu(0, a100, (8, 0), 81920, "GPU-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "00000000:07:00.0",
                pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, power_limit_mw=400000),
            gpu(1, a100, (8, 0), 81920, "GPU-5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "00000000:0F:00.0", lost=True)]
    for g in gpus:
        nvidia_pci(root, g["pci_bus_id"].lower().replace("00000000:", "0000:"), device="0x20b2",
                   speed="16.0 GT/s PCIe")
    nvidia_driver(root, "550.90.07", nodes=2)
    prefix = "/home/ml/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS)
    machine(folder, {
        "description": "2x A100-SXM4-80GB on driver 550.90.07, GPU 1 has fallen off the bus (GpuIsLost)" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "dgx-a100-03",
        "user": user("ml", [1000, 44, 109]),
        "env": {"VIRTUAL_ENV": prefix},
        "nvml": nvml("550.90.07", 12040, gpus),
        "python": python_spec(sp, prefix=prefix, base_prefix="/usr"),
        "commands": {"nvidia-smi": {"stdout": "Unable to determine the device handle for GPU0000:0F:00.0: "
                                              "GPU is lost.  Reboot the system to recover this GPU\n", "rc": 15}},
    })


def old_driver_missing_nvml_functions(folder: Path) -> None:
    """Driver 450.80.02 (CUDA 11.0) on a V100: its NVML lacks functions newer drivers have."""
    g = gpu(0, "Tesla V100-SXM2-16GB", (7, 0), 16160, "GPU-1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", "00000000:00:1E.0",
            pcie={"cur_gen": 3, "max_gen": 3, "cur_width": 16, "max_width": 16}, power_mw=42000,
            power_limit_mw=300000, temperature=35,
            # Volta has page retirement, not row remapping, and no MIG.
            not_supported=["nvmlDeviceGetRemappedRows", "nvmlDeviceGetMigMode"])
    nvidia_box(folder, description="AWS p3 V100 on driver 450.80.02 (CUDA 11.0): nvmlSystemGetCudaDriverVersion_v2 and "
                                   "nvmlDeviceGetCurrentClocksEventReasons raise FunctionNotFound",
               g=g, driver="450.80.02", cuda=11000, device="0x1db1", pci_speed="8.0 GT/s PCIe",
               dmi=AWS_DMI | {"product_name": "p3.2xlarge"}, hostname="ip-172-31-9-4",
               base_kw={"distro": ("ubuntu", "18.04", "Ubuntu 18.04.6 LTS"), "kernel": "5.4.0-1103-aws"},
               wheels=[("torch", "2.1.0", TORCH_CU121_REQ, "pip")],
               commands={"nvidia-smi": [{"match": "compute_cap", "stdout": 'Field "compute_cap" is not a valid field '
                                         "to query.\n\n", "rc": 2},
                                        {"match": "--query-gpu", "stdout": f"0, {g['name']}, {g['uuid']}, "
                                         "00000000:00:1E.0, 450.80.02, 16160, Enabled\n"}]})


def hanging_nvidia_smi(folder: Path) -> None:
    """A wedged GPU: NVML init fails with Unknown and nvidia-smi never returns."""
    root = folder / "root"
    base(root, dmi=SERVER_DMI)
    nvidia_pci(root, "0000:3b:00.0", device="0x20f1", speed="16.0 GT/s PCIe")
    nvidia_driver(root, "535.183.01")
    prefix = "/home/ml/venv"
    sp = f"{prefix}/lib/python3.11/site-packages"
    site(root, sp, TORCH_CU126_WHEELS)
    machine(folder, {
        "description": "A100 40GB PCIe on driver 535.183.01 in a wedged state: nvmlInit returns Unknown and "
                       "nvidia-smi hangs" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "gpu-11",
        "user": user("ml", [1000, 44, 109]),
        "env": {"VIRTUAL_ENV": prefix},
        "nvml": {"init_error": "Unknown"},
        "commands": {
            "python3": python_command(python_spec(sp, prefix=prefix, base_prefix="/usr"), libcuda=12020),
            "nvidia-smi": {"hang": True},
        },
    })


def gtx1080ti_sm61_torch_cu130(folder: Path) -> None:
    """A GTX 1080 Ti (Pascal, sm_61) with torch 2.13 cu130, whose builds no longer include sm_61."""
    g = gpu(0, "NVIDIA GeForce GTX 1080 Ti", (6, 1), 11264, "GPU-3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
            "00000000:01:00.0", persistence=0, pcie={"cur_gen": 3, "max_gen": 3, "cur_width": 16, "max_width": 16},
            power_mw=14000, power_limit_mw=250000, not_supported=GEFORCE_NOT_SUPPORTED)
    nvidia_box(folder, description="desktop GTX 1080 Ti (cc 6.1) on driver 580.95.05 (CUDA 13.0) with torch 2.13.0 "
                                   "cu130 from pip, which has no sm_61 kernels",
               g=g, driver="580.95.05", cuda=13000, device="0x1b06", pci_speed="8.0 GT/s PCIe", dmi=DESKTOP_DMI,
               hostname="old-rig", pci_kw={"pci_class": "0x030000"},
               base_kw={"distro": ("ubuntu", "24.04", "Ubuntu 24.04.2 LTS"), "kernel": "6.8.0-51-generic"},
               wheels=[("torch", "2.13.0", TORCH_CU130_REQ, "pip"), ("nvidia-cuda-runtime", "13.0.96", [], "pip"),
                       ("nvidia-cudnn-cu13", "9.13.0.50", [], "pip")])


def cpu_torch_on_gpu_box(folder: Path) -> None:
    """An AWS g5 (A10G) with torch 2.13.0+cpu from the CPU index: the GPU is never used."""
    g = gpu(0, "NVIDIA A10G", (8, 6), 23028, "GPU-6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c", "00000000:00:1E.0",
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 8, "max_width": 8}, power_mw=25000,
            power_limit_mw=300000, not_supported=["nvmlDeviceGetMigMode"])
    nvidia_box(folder, description="AWS g5.xlarge, A10G (cc 8.6) on driver 550.127.05 (CUDA 12.4) with "
                                   "torch 2.13.0+cpu",
               g=g, driver="550.127.05", cuda=12040, device="0x2237", pci_speed="16.0 GT/s PCIe",
               dmi=AWS_DMI | {"product_name": "g5.xlarge"}, hostname="ip-172-31-40-2", pci_kw={"width": "8"},
               wheels=[("torch", "2.13.0+cpu", ["filelock", "typing-extensions>=4.10.0"], "pip"),
                       ("numpy", "2.3.4", [], "pip")])


def user_site_shadows_torch(folder: Path) -> None:
    """A venv with system site packages: torch 2.1.0 in ~/.local shadows the venv's torch 2.13 cu126."""
    g = gpu(0, "NVIDIA L40S", (8, 9), 46068, "GPU-8b9c0d1e-2f3a-4b4c-8d5e-6f7a8b9c0d1e", "00000000:41:00.0",
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, power_limit_mw=350000,
            not_supported=["nvmlDeviceGetMigMode"])
    root = nvidia_box(folder, description="L40S server; venv created with --system-site-packages, so the user site "
                                          "(~/.local, torch 2.1.0) comes before the venv (torch 2.13.0 cu126) on sys.path",
                      g=g, driver="550.127.05", cuda=12040, device="0x26b9")
    w(root, "/home/ml/venv/pyvenv.cfg", "home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.11.9\n"
                                        "executable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv "
                                        "--system-site-packages /home/ml/venv\n")
    user_sp = "/home/ml/.local/lib/python3.11/site-packages"
    site(root, user_sp, [("torch", "2.1.0", TORCH_CU121_REQ, "pip"),
                         ("nvidia-cuda-runtime-cu12", "12.1.105", [], "pip")])
    spec = json.loads((folder / "machine.json").read_text())
    sp = "/home/ml/venv/lib/python3.11/site-packages"
    spec["python"] = python_spec(sp, prefix="/home/ml/venv", base_prefix="/usr", user_site=user_sp,
                                 user_site_first=True, extra_path=())
    spec["python"]["path"].append("/usr/lib/python3/dist-packages")
    machine(folder, spec)


def ld_library_path_shadows_cuda(folder: Path) -> None:
    """LD_LIBRARY_PATH points at a CUDA 11.8 toolkit with cuDNN 8, ahead of torch's pip cuDNN 9 wheels."""
    g = gpu(0, "NVIDIA GeForce RTX 3090", (8, 6), 24576, "GPU-9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f", "00000000:01:00.0",
            persistence=0, pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16},
            power_limit_mw=350000, not_supported=GEFORCE_NOT_SUPPORTED)
    root = nvidia_box(folder, description="workstation RTX 3090 on driver 550.120 with torch 2.13 cu126 (cuDNN 9 wheel) "
                                          "and LD_LIBRARY_PATH=/usr/local/cuda-11.8/lib64 holding libcudnn 8.9.7",
                      g=g, driver="550.120", cuda=12040, device="0x2204", dmi=DESKTOP_DMI, hostname="ws-3090",
                      pci_kw={"pci_class": "0x030000"}, env={"LD_LIBRARY_PATH": "/usr/local/cuda-11.8/lib64"})
    tk = "/usr/local/cuda-11.8"
    w(root, f"{tk}/version.json", json.dumps({"cuda": {"name": "CUDA SDK", "version": "11.8.0"},
                                              "cuda_nvcc": {"name": "CUDA NVCC", "version": "11.8.89"}}, indent=3) + "\n")
    w(root, f"{tk}/bin/nvcc", b"")
    w(root, f"{tk}/include/cuda.h", "#define CUDA_VERSION 11080\n")
    w(root, f"{tk}/include/cudnn_version.h", "#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 7\n")
    w(root, f"{tk}/lib64/libcudart.so.11.8.89", b"")
    link(root, f"{tk}/lib64/libcudart.so.11.0", "libcudart.so.11.8.89")
    w(root, f"{tk}/lib64/libcudnn.so.8.9.7", b"")
    link(root, f"{tk}/lib64/libcudnn.so.8", "libcudnn.so.8.9.7")
    link(root, "/usr/local/cuda", "cuda-11.8")


def cuda_visible_devices_empty(folder: Path) -> None:
    """A healthy L4 box where CUDA_VISIBLE_DEVICES is set but empty: CUDA sees no GPU at all."""
    g = gpu(0, "NVIDIA L4", (8, 9), 23034, "GPU-0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a", "00000000:00:03.0",
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, power_mw=16000,
            power_limit_mw=72000, not_supported=["nvmlDeviceGetMigMode"])
    nvidia_box(folder, description="GCP g2-standard-8, L4 on driver 550.90.07 with torch cu126 and "
                                   'CUDA_VISIBLE_DEVICES=""',
               g=g, driver="550.90.07", cuda=12040, device="0x27b8", dmi=GCP_DMI, hostname="g2-l4-1",
               env={"CUDA_VISIBLE_DEVICES": ""})


def cuda_visible_devices_out_of_range(folder: Path) -> None:
    """CUDA_VISIBLE_DEVICES=2,3 on a machine with one GPU (index 0): CUDA sees none."""
    g = gpu(0, "NVIDIA RTX A4000", (8, 6), 16376, "GPU-1e2f3a4b-5c6d-4e7f-8a8b-9c0d1e2f3a4b", "00000000:65:00.0",
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, power_limit_mw=140000,
            not_supported=["nvmlDeviceGetMigMode", "nvmlDeviceGetRemappedRows"])
    nvidia_box(folder, description="one RTX A4000 (index 0) on driver 550.90.07 with CUDA_VISIBLE_DEVICES=2,3 "
                                   "left over from a multi-GPU job script",
               g=g, driver="550.90.07", cuda=12040, device="0x24b0", hostname="ws-a4000",
               env={"CUDA_VISIBLE_DEVICES": "2,3"})


DOCKER_INFO = {
    "ID": "b2a5e0c4-7d1f-4b8e-9c3a-6f2d1e0a9b8c", "Containers": 3, "ContainersRunning": 0, "Images": 12,
    "Driver": "overlay2", "CgroupDriver": "systemd", "CgroupVersion": "2", "KernelVersion": "5.15.0-105-generic",
    "OperatingSystem": "Ubuntu 22.04.4 LTS", "OSType": "linux", "Architecture": "x86_64", "NCPU": 4,
    "ServerVersion": "27.3.1", "DefaultRuntime": "runc",
    "Runtimes": {"io.containerd.runc.v2": {"path": "runc", "status": {"org.opencontainers.runtime-spec.features": "{}"}},
                 "runc": {"path": "runc", "status": {"org.opencontainers.runtime-spec.features": "{}"}}},
    "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"], "Name": "gpu-docker-1", "Warnings": None,
}


def docker_without_nvidia_runtime(folder: Path) -> None:
    """A GPU host whose Docker engine has only runc: no NVIDIA runtime, no CDI spec, no nvidia-ctk."""
    g = gpu(0, "NVIDIA RTX 6000 Ada Generation", (8, 9), 49140, "GPU-2f3a4b5c-6d7e-4f8a-8b9c-0d1e2f3a4b5c",
            "00000000:17:00.0", pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16},
            power_limit_mw=300000, not_supported=["nvmlDeviceGetMigMode"])
    root = nvidia_box(folder, description="RTX 6000 Ada host on driver 550.127.05 with Docker 27.3.1 whose runtimes "
                                          "are runc only (nvidia-container-toolkit not installed)",
                      g=g, driver="550.127.05", cuda=12040, device="0x26b1", hostname="gpu-docker-1",
                      commands={"docker": [{"match": "info", "stdout": json.dumps(DOCKER_INFO) + "\n"},
                                           {"match": "--version", "stdout": "Docker version 27.3.1, build ce12230\n"}]})
    w(root, "/var/run/docker.sock", b"")  # a socket in reality; the probe only checks that it is there


TF_218_REQ = ["absl-py>=1.0.0", "numpy<2.1.0,>=1.26.0", "ml-dtypes<0.5.0,>=0.4.0",
              'nvidia-cublas-cu12==12.5.3.2; extra == "and-cuda"',
              'nvidia-cuda-runtime-cu12==12.5.82; extra == "and-cuda"',
              'nvidia-cudnn-cu12==9.3.0.75; extra == "and-cuda"',
              'nvidia-nccl-cu12==2.21.5; extra == "and-cuda"']


def tensorflow_missing_cudnn(folder: Path) -> None:
    """TensorFlow 2.18 installed without [and-cuda] on an L4 box with no system cuDNN: TF falls back to CPU."""
    g = gpu(0, "NVIDIA L4", (8, 9), 23034, "GPU-3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d", "00000000:00:03.0",
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, power_mw=16000,
            power_limit_mw=72000, not_supported=["nvmlDeviceGetMigMode"])
    nvidia_box(folder, description="GCP g2 L4 on driver 550.90.07 with tensorflow 2.18.0 from pip (no [and-cuda] "
                                   "extra): no nvidia-cudnn wheels, no system libcudnn",
               g=g, driver="550.90.07", cuda=12040, device="0x27b8", dmi=GCP_DMI, hostname="g2-tf-1",
               wheels=[("tensorflow", "2.18.0", TF_218_REQ, "pip"), ("keras", "3.6.0", [], "pip"),
                       ("numpy", "2.0.2", [], "pip")])


def amd_gfx_not_covered_not_in_render_group(folder: Path) -> None:
    """An RX 6600 (gfx1032, not in ROCm's list) with torch rocm7.2; the user is in neither render nor video."""
    root = folder / "root"
    base(root, distro=("ubuntu", "24.04", "Ubuntu 24.04.2 LTS"), kernel="6.8.0-51-generic",
         cpu="AMD Ryzen 7 5800X 8-Core Processor", flags="fpu sse4_2 avx avx2 fma", mem_kb=32768000,
         dmi=DESKTOP_DMI, groups="root:x:0:\nvideo:x:44:\nrender:x:992:\nsam:x:1000:\n")
    kfd_cpu_node(root, 8)
    kfd_gpu_node(root, 1, gfx=100302, simd=56, device_id=0x73FF, location=0x0300, mem=8573157376,
                 name="dimgrey_cavefish", render_minor=128)
    pci_device(root, "0000:03:00.0", vendor="0x1002", device="0x73ff", pci_class="0x030000", driver="amdgpu",
               speed="16.0 GT/s PCIe", width="8")
    w(root, "/dev/kfd", b"")
    w(root, "/dev/dri/renderD128", b"")
    w(root, "/dev/dri/card0", b"")
    w(root, "/sys/module/amdgpu/initstate", "live\n")
    prefix = "/home/sam/venv"
    sp = f"{prefix}/lib/python3.12/site-packages"
    site(root, sp, [("torch", "2.13.0+rocm7.2", ["filelock", 'pytorch-triton-rocm==3.7.0; platform_system == "Linux"'],
                     "pip"), ("pytorch-triton-rocm", "3.7.0", [], "pip")])
    machine(folder, {
        "description": "desktop Radeon RX 6600 (gfx1032) with torch 2.13.0+rocm7.2 from pip, no system ROCm, "
                       "no HSA_OVERRIDE_GFX_VERSION, user not in render or video" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.39", "hostname": "sam-desktop",
        "user": user("sam", [1000]),
        "env": {"VIRTUAL_ENV": prefix},
        "nvml": None,
        "python": python_spec(sp, version="3.12.3", prefix=prefix, base_prefix="/usr"),
        "commands": {},
    })


def unhealthy_a100(folder: Path) -> None:
    """An A100 under load with every health problem at once: ECC, row remap, narrow PCIe link, throttling."""
    g = gpu(0, "NVIDIA A100-SXM4-40GB", (8, 0), 40960, "GPU-4b5c6d7e-8f9a-4b0c-8d1e-2f3a4b5c6d7e", "00000000:07:00.0",
            persistence=0, ecc_uncorrected=3, remapped=[0, 1, 1, 0],
            pcie={"cur_gen": 3, "max_gen": 4, "cur_width": 8, "max_width": 16},
            clock_reasons=0x40 | 0x4, temperature=89, power_mw=398000, power_limit_mw=400000, processes=[48213],
            not_supported=["nvmlDeviceGetRetiredPagesPendingStatus"])
    nvidia_box(folder, description="headless A100-SXM4-40GB server under load: 3 uncorrected ECC errors, row remap "
                                   "pending, PCIe gen3 x8 of gen4 x16, hw thermal slowdown + sw power cap, "
                                   "persistence mode off",
               g=g, driver="550.90.07", cuda=12040, device="0x20b0", pci_speed="8.0 GT/s PCIe", hostname="a100-node-2",
               pci_kw={"width": "8", "max_speed": "16.0 GT/s PCIe", "max_width": "16"})


def mig_enabled_a100(folder: Path) -> None:
    """An A100 with MIG mode on: frameworks see MIG slices, not the whole GPU."""
    g = gpu(0, "NVIDIA A100 80GB PCIe", (8, 0), 81920, "GPU-5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f", "00000000:17:00.0",
            mig=[1, 1], pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, power_limit_mw=300000)
    nvidia_box(folder, description="A100 80GB PCIe on driver 550.90.07 with MIG mode enabled (current and pending)",
               g=g, driver="550.90.07", cuda=12040, device="0x20b5", hostname="a100-mig-1")


def conda_pytorch_cpu_build_on_gpu_box(folder: Path) -> None:
    """A conda env whose solver picked pytorch's CPU build (cpu_mkl_*) on an RTX 4090 box."""
    root = folder / "root"
    base(root, distro=("ubuntu", "22.04", "Ubuntu 22.04.5 LTS"), kernel="6.5.0-45-generic", cpu=RYZEN,
         flags=DESKTOP_FLAGS, mem_kb=65536000, dmi=DESKTOP_DMI)
    g = gpu(0, "NVIDIA GeForce RTX 4090", (8, 9), 24564, "GPU-6d7e8f9a-0b1c-4d2e-8f3a-4b5c6d7e8f9a", "00000000:01:00.0",
            persistence=0, power_mw=24000, power_limit_mw=450000, not_supported=GEFORCE_NOT_SUPPORTED,
            pcie={"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16})
    nvidia_pci(root, "0000:01:00.0", device="0x2684", speed="16.0 GT/s PCIe", pci_class="0x030000")
    nvidia_driver(root, "560.35.03")
    prefix = "/home/lee/miniforge3/envs/ml"
    sp = f"{prefix}/lib/python3.11/site-packages"
    records = [("pytorch", "2.5.1", "cpu_mkl_py311_h1234_100", "conda-forge", 100),
               ("libtorch", "2.5.1", "cpu_mkl_h5678_100", "conda-forge", 100),
               ("python", "3.11.10", "hc5c86c4_3_cpython", "conda-forge", 3),
               ("numpy", "2.1.3", "py311h71ddf71_0", "conda-forge", 0)]
    for name, version, build, channel, number in records:
        w(root, f"{prefix}/conda-meta/{name}-{version}-{build}.json", json.dumps({
            "name": name, "version": version, "build": build, "build_number": number,
            "channel": f"https://conda.anaconda.org/{channel}/linux-64", "subdir": "linux-64",
            "fn": f"{name}-{version}-{build}.conda"}, indent=2) + "\n")
    site(root, sp, [("torch", "2.5.1", ["filelock", "typing-extensions>=4.8.0", "sympy"], "conda"),
                    ("numpy", "2.1.3", [], "conda")])
    machine(folder, {
        "description": "RTX 4090 desktop on driver 560.35.03 (CUDA 12.6); conda-forge env 'ml' whose pytorch is the "
                       "2.5.1 cpu_mkl build" + SOURCE_NOTE,
        "system": "Linux", "arch": "x86_64", "glibc": "2.35", "hostname": "lee-desktop",
        "user": user("lee", [1000, 44]),
        "env": {"CONDA_PREFIX": prefix, "CONDA_DEFAULT_ENV": "ml", "CONDA_SHLVL": "2"},
        "nvml": nvml("560.35.03", 12060, [g]),
        "python": python_spec(sp, prefix=prefix),
        "commands": {"nvidia-smi": [smi_query([g], "560.35.03")]},
    })


SCENARIOS = {
    "h100-driver-580-cuda13": h100_driver_580_cuda13,
    "cpu-only-laptop": cpu_only_laptop,
    "t4-driver-470-torch-cu126": t4_driver_470_torch_cu126,
    "rtx5090-sm120-torch-cu124": rtx5090_sm120_torch_cu124,
    "driver-library-mismatch": driver_library_mismatch,
    "driver-not-loaded-nouveau": driver_not_loaded_nouveau,
    "container-without-gpus": container_without_gpus,
    "wsl2-rtx4090": wsl2_rtx4090,
    "amd-mi300x-rocm": amd_mi300x_rocm,
    "two-gpus-one-fallen-off-bus": two_gpus_one_fallen_off_bus,
    "old-driver-missing-nvml-functions": old_driver_missing_nvml_functions,
    "hanging-nvidia-smi": hanging_nvidia_smi,
    "gtx1080ti-sm61-torch-cu130": gtx1080ti_sm61_torch_cu130,
    "cpu-torch-on-gpu-box": cpu_torch_on_gpu_box,
    "user-site-shadows-torch": user_site_shadows_torch,
    "ld-library-path-shadows-cuda": ld_library_path_shadows_cuda,
    "cuda-visible-devices-empty": cuda_visible_devices_empty,
    "cuda-visible-devices-out-of-range": cuda_visible_devices_out_of_range,
    "docker-without-nvidia-runtime": docker_without_nvidia_runtime,
    "tensorflow-missing-cudnn": tensorflow_missing_cudnn,
    "amd-gfx-not-covered-not-in-render-group": amd_gfx_not_covered_not_in_render_group,
    "unhealthy-a100": unhealthy_a100,
    "mig-enabled-a100": mig_enabled_a100,
    "conda-pytorch-cpu-build-on-gpu-box": conda_pytorch_cpu_build_on_gpu_box,
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
