"""The NVIDIA driver: loaded, matching its libraries, new enough, not inside WSL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.containers import container_without_gpus, wsl_linux_driver_evidence
from dldoctor.rules.fixes import family, hold_driver_packages, install_nvidia_driver
from dldoctor.snapshot.facts import Facts, pick

explains("driver.library-mismatch", "NVML: Driver/library version mismatch", """
The NVIDIA kernel module that is loaded and the user-space driver libraries
(libnvidia-ml, libcuda) are of different versions. This happens when the driver
packages are upgraded (often by unattended upgrades) while the old kernel module
stays loaded. Every CUDA program fails until the two match again: reboot, or
unload and reload the nvidia modules when no process uses the GPU. Holding the
driver packages stops it from happening again behind your back.
""")
explains("driver.not-loaded", "An NVIDIA GPU is present but the nvidia driver is not loaded", """
The PCI bus shows an NVIDIA GPU, but the nvidia kernel module is not loaded, so
no CUDA program can use it. Usual causes: the open-source nouveau driver claimed
the card first; Secure Boot refuses the unsigned nvidia module (enroll a MOK key
or sign it); DKMS has not built the module for the running kernel (after a
kernel upgrade); or no NVIDIA driver is installed at all.
""")
explains("driver.not-installed", "An NVIDIA GPU is present but no NVIDIA driver is installed", """
The PCI bus shows an NVIDIA GPU and no NVIDIA driver libraries are installed.
Install the driver from your distro or NVIDIA's repository and reboot.
""")
explains("driver.nouveau-loaded", "The nouveau driver holds the NVIDIA GPU", """
nouveau, the open-source driver for NVIDIA cards, is loaded. It cannot run CUDA
and it keeps the nvidia module from binding the GPU. Blacklist it, rebuild the
initramfs, and reboot.
""")
explains("driver.secure-boot-unsigned", "Secure Boot may be refusing the nvidia module", """
Secure Boot is enabled and the nvidia module is not loaded. With Secure Boot a
kernel only loads signed modules; a driver built by DKMS must be signed with a
Machine Owner Key (MOK) that is enrolled in the firmware.
""")
explains("driver.dkms-missing-kernel", "The nvidia module is not built for the running kernel", """
DKMS built the nvidia module for other kernels than the one running, usually
after a kernel upgrade whose headers were missing. Install the headers of the
running kernel and let DKMS build the module.
""")
explains("driver.no-gpus-visible", "The driver is loaded but reports no GPU", """
The NVIDIA driver answers but lists no GPU: GPUs may be hidden from this
process, fallen off the bus, or held by a virtual machine passthrough.
""")
explains("driver.wsl-linux-driver", "A Linux NVIDIA driver is installed inside WSL", """
Under WSL2 the GPU driver is the Windows one, exposed to Linux through
/usr/lib/wsl/lib. A Linux NVIDIA driver installed inside WSL (its packages,
its libcuda.so.1 in /usr/lib/x86_64-linux-gnu, its kernel module) shadows it
and CUDA cannot work: there is no NVIDIA kernel driver in the WSL2 kernel for
it to talk to. It usually comes from installing the `cuda` or `cuda-drivers`
meta-package, or `nvidia-driver-XXX`, inside WSL. Remove the Linux driver
packages and keep the Windows driver; install only the CUDA toolkit
(`cuda-toolkit-X-Y` from NVIDIA's wsl-ubuntu repository) if you need nvcc.
""", "https://docs.nvidia.com/cuda/wsl-user-guide/index.html")
explains("driver.nvidia-uvm-missing", "/dev/nvidia-uvm is missing", """
CUDA needs the nvidia-uvm kernel module and its device node /dev/nvidia-uvm
(unified memory) besides /dev/nvidiactl and /dev/nvidiaN. Without it nvidia-smi
still works, but every CUDA program fails at initialisation with error 999
(CUDA_ERROR_UNKNOWN, "unknown error"), so frameworks report no GPU. On a host
the module is not loaded (headless servers load it on the first CUDA call as
root, or never when module loading is restricted); in a container the host
lacked the node when the container started, or the device was passed by hand
without it. Load the module and create the node on the host
(`sudo modprobe nvidia-uvm && sudo nvidia-modprobe -u -c=0`), then restart
the container.
""")
explains("driver.nvml-error", "NVML could not be initialised", """
The NVIDIA Management Library failed to start, so dldoctor could not read the
GPUs through it. The message names the cause; run nvidia-smi to see the same
error from NVIDIA's own tool.
""")
explains("driver.ok", "NVIDIA driver", "The driver is loaded and reports its GPUs.")


#: Probes that only fail because the driver does; a driver error finding already explains them.
NVIDIA_PROBES = "nvidia."


def driver_broken(facts: Facts) -> bool:
    """Whether the driver rules report an error, which then explains every failure of the NVIDIA probes."""
    return any(f.severity is Severity.ERROR for f in driver_state(facts))


def _reload(facts: Facts) -> list[str]:
    cmds = ["sudo reboot  # or, with no process on the GPU: sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia "
            "&& sudo modprobe nvidia"]
    hold = hold_driver_packages(facts)
    return cmds + ([hold] if hold else [])


_DriverStep = Callable[[Facts], "list[Finding] | None"]


def _library_mismatch(facts: Facts) -> list[Finding] | None:
    """1. The kernel module and the libraries are different driver versions."""
    nv = facts.nvidia
    code = facts.nvml_error_code
    module = pick(nv, "kernel_module_version", kind=str)
    userspace = pick(nv, "userspace_driver_version", kind=str)
    if not (code == "LibRmVersionMismatch" or (module and userspace and module != userspace and not facts.wsl)):
        return None
    return [Finding(
        "driver.library-mismatch", Severity.ERROR,
        f"driver/library version mismatch: kernel module {module or '?'}, libraries {userspace or '?'}",
        "The driver was upgraded but the old kernel module is still loaded; CUDA fails until they match.",
        tuple(_reload(facts)), evidence={"kernel_module": module, "userspace": userspace, "nvml_error": code},
    )]


def _no_nvidia_hardware(facts: Facts) -> list[Finding] | None:
    """2. No NVIDIA GPU on the bus: nothing to say."""
    return None if facts.has_nvidia_hardware else []


def _wsl_linux_driver(facts: Facts) -> list[Finding] | None:
    """3. Inside WSL2 only a Linux driver shadowing the Windows one is the driver's problem."""
    if not facts.wsl:
        return None
    evidence = wsl_linux_driver_evidence(facts)
    if not evidence:
        return []
    return [Finding(
        "driver.wsl-linux-driver", Severity.ERROR,
        f"a Linux NVIDIA driver is installed inside WSL2: {evidence[0]}",
        "WSL2 uses the Windows driver through /usr/lib/wsl/lib; a Linux driver inside WSL shadows it and "
        "CUDA cannot work." + (f" Also found: {', '.join(evidence[1:4])}." if len(evidence) > 1 else ""),
        tuple(_remove_wsl_linux_driver(facts)),
        evidence={"found": evidence, "required": "only /usr/lib/wsl/lib/libcuda.so (the Windows driver)"},
        docs="https://docs.nvidia.com/cuda/wsl-user-guide/index.html",
    )]


def _container_sees_host(facts: Facts) -> list[Finding] | None:
    """4. A container sees the host's PCI bus and modules, not its devices; the containers rules speak."""
    loaded = pick(facts.nvidia, "module_loaded", kind=bool)
    return [] if facts.in_container and (not loaded or container_without_gpus(facts)) else None


def _why_not_loaded(facts: Facts, libraries: Any) -> list[Finding]:
    """What keeps an installed driver's module from loading: DKMS not built for this kernel, Secure Boot."""
    nv = facts.nvidia
    found: list[Finding] = []
    dkms = nv.get("dkms")
    if isinstance(dkms, dict) and dkms.get("built_for_running_kernel") is False:
        found.append(Finding(
            "driver.dkms-missing-kernel", Severity.ERROR, "the nvidia module is not built for the running kernel",
            fix=("sudo apt install linux-headers-$(uname -r)  # kernel-devel-$(uname -r) on Fedora/RHEL",
                 "sudo dkms autoinstall", "sudo reboot"), evidence={"dkms": dkms.get("nvidia")},
        ))
    if pick(nv, "secure_boot", kind=bool):
        found.append(Finding(
            "driver.secure-boot-unsigned", Severity.WARNING,
            "Secure Boot is on and the nvidia module is not loaded",
            "With Secure Boot only signed modules load; DKMS-built nvidia modules need an enrolled MOK key.",
            ("sudo mokutil --import /var/lib/shim-signed/mok/MOK.der  # then reboot and enroll the key",
             "or disable Secure Boot in the firmware settings"),
        ))
    found.append(Finding(
        "driver.not-loaded", Severity.ERROR, "an NVIDIA GPU is present but the nvidia driver is not loaded",
        "No CUDA program can use the GPU until the nvidia kernel module is loaded.",
        ("sudo modprobe nvidia", "sudo dmesg | grep -iE 'nvidia|nouveau'  # if it fails, the reason is here"),
        evidence={"libraries": [lib.get("version") for lib in libraries if isinstance(lib, dict)]}
        if isinstance(libraries, list) else {},
    ))
    return found


def _module_not_loaded(facts: Facts) -> list[Finding] | None:
    """5. An NVIDIA GPU on the bus and no nvidia module: nouveau holds it, no driver is installed, or why the
    installed one does not load."""
    nv = facts.nvidia
    if pick(nv, "module_loaded", kind=bool) or not facts.nvidia_pci:
        return None
    libraries = nv.get("libraries")
    found: list[Finding] = []
    if pick(nv, "nouveau_loaded", kind=bool):
        found.append(Finding(
            "driver.nouveau-loaded", Severity.ERROR, "the open-source nouveau driver holds the NVIDIA GPU",
            "nouveau cannot run CUDA and keeps the nvidia module from binding the card.",
            ('echo -e "blacklist nouveau\\noptions nouveau modeset=0" | sudo tee /etc/modprobe.d/blacklist-nouveau.conf',
             "sudo update-initramfs -u  # dracut -f on Fedora/RHEL", "sudo reboot"),
        ))
    if not libraries:
        return found + [Finding(
            "driver.not-installed", Severity.ERROR, "an NVIDIA GPU is present but no NVIDIA driver is installed",
            fix=tuple(install_nvidia_driver(facts)),
            evidence={"pci_devices": [d.get("bus_id") for d in facts.nvidia_pci]},
        )]
    return found + _why_not_loaded(facts, libraries)


def _nvml_error(facts: Facts) -> list[Finding] | None:
    """6. NVML failed and no GPU could be read."""
    nv = facts.nvidia
    code = facts.nvml_error_code
    if not code or code in ("LibraryNotFound",) or facts.gpus:
        return None
    smi = [m for f in facts.probe_failures if (pick(f, "probe", kind=str) or "").startswith(NVIDIA_PROBES)
           and (m := pick(f, "message", kind=str) or pick(f, "error", kind=str))]
    return [Finding(
        "driver.nvml-error", Severity.ERROR, f"NVML failed: {code}",
        "; ".join([pick(nv, "nvml_error", "message", kind=str) or "", *smi]).strip("; "),
        ("nvidia-smi  # shows the same error from NVIDIA's tool", "sudo dmesg | grep -i nvrm"),
    )]


def _no_gpus_visible(facts: Facts) -> list[Finding] | None:
    """7. The driver is loaded and the GPU is on the bus, but the driver lists no GPU."""
    if pick(facts.nvidia, "module_loaded", kind=bool) and not facts.gpus and facts.nvidia_pci:
        return [Finding("driver.no-gpus-visible", Severity.ERROR, "the NVIDIA driver is loaded but reports no GPU",
                        fix=("nvidia-smi", "sudo dmesg | grep -i xid"))]
    return None


#: The driver's state, in order: the first step that settles it wins (as rules/frameworks.py VERDICT_STEPS).
DRIVER_STEPS: tuple[_DriverStep, ...] = (
    _library_mismatch, _no_nvidia_hardware, _wsl_linux_driver, _container_sees_host, _module_not_loaded,
    _nvml_error, _no_gpus_visible,
)


@rule
def driver_state(facts: Facts) -> Iterator[Finding]:
    """The NVIDIA driver's own state: not installed or not loaded, nouveau, library/module mismatch, DKMS or
    Secure Boot blocking the module, a Linux driver inside WSL, NVML errors, no GPU visible."""
    for step in DRIVER_STEPS:
        settled = step(facts)
        if settled is not None:
            yield from settled
            return


def _remove_wsl_linux_driver(facts: Facts) -> list[str]:
    if family(facts) == "rhel":
        remove = "sudo dnf remove 'nvidia-driver*' 'kmod-nvidia*' cuda-drivers"
    else:
        remove = "sudo apt remove --purge 'nvidia-driver-*' 'libnvidia-*' 'nvidia-dkms-*' 'cuda-drivers*' && sudo apt autoremove"
    return [remove + "  # keep cuda-toolkit-X-Y if you need nvcc",
            "sudo ldconfig && ldconfig -p | grep libcuda  # only /usr/lib/wsl/lib may remain",
            "wsl --shutdown  # in Windows PowerShell, then reopen; the Windows NVIDIA driver serves WSL2"]


def uvm_missing(facts: Facts) -> bool:
    """NVIDIA device nodes are there but /dev/nvidia-uvm is not: CUDA init fails with error 999."""
    nodes = facts.device_nodes
    if facts.wsl or "/dev/nvidiactl" not in nodes or "/dev/nvidia-uvm" in nodes:
        return False
    if not (facts.working_gpus or facts.nvidia_pci or any(re.fullmatch(r"/dev/nvidia\d+", n) for n in nodes)):
        return False
    return not any(f.id == "driver.library-mismatch" for f in driver_state(facts))


@rule
def nvidia_uvm(facts: Facts) -> Iterator[Finding]:
    """The nvidia-uvm module (or /dev/nvidia-uvm) missing: CUDA cannot start without it."""
    if not uvm_missing(facts):
        return
    host = ["sudo modprobe nvidia-uvm && sudo nvidia-modprobe -u -c=0  # loads the module, creates /dev/nvidia-uvm",
            "echo nvidia-uvm | sudo tee /etc/modules-load.d/nvidia-uvm.conf  # load it at every boot"]
    if facts.in_container:
        fix = [f"{c}  # on the host" for c in host] + [
            "then restart the container: docker run --gpus all ...  # the toolkit passes /dev/nvidia-uvm when the "
            "host has it",
            "passing devices by hand: add --device /dev/nvidia-uvm --device /dev/nvidia-uvm-tools"]
        where = f"inside this {facts.in_container} container"
    else:
        fix, where = host, "on this machine"
    yield Finding(
        "driver.nvidia-uvm-missing", Severity.ERROR,
        f"/dev/nvidia-uvm is missing {where}: CUDA fails with error 999 (\"unknown error\")",
        "nvidia-smi works, but CUDA's initialisation needs the nvidia-uvm device; frameworks will report no GPU.",
        tuple(fix),
        evidence={"found": facts.device_nodes, "required": "/dev/nvidia-uvm", "container": facts.in_container},
    )
