"""Containers and WSL2: GPUs passed through (or not), Docker's NVIDIA runtime, WSL's GPU plumbing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from dldoctor.report import Finding, Severity
from dldoctor.rules import explains, rule
from dldoctor.rules.fixes import family
from dldoctor.snapshot.facts import Facts, pick, strings

explains("containers.no-gpus-passed-through", "A container without the GPUs passed through", """
This process runs inside a container that can see the host's NVIDIA GPU on the
PCI bus (or was started from a CUDA image) but has no /dev/nvidiactl device
node or no libcuda.so.1 from the host driver. The container was started
without GPU access: `docker run --gpus all ...` (or `--runtime=nvidia`, or a
CDI device `--device nvidia.com/gpu=all`) with the NVIDIA Container Toolkit
installed and configured on the host. In Kubernetes: request
`nvidia.com/gpu` and install the NVIDIA device plugin.
""")
explains("containers.docker-no-nvidia-runtime", "Docker cannot give containers the GPU", """
The Docker engine on this GPU host has neither the NVIDIA runtime nor a CDI
specification for the GPUs, so `docker run --gpus all` fails ("could not
select device driver with capabilities: [[gpu]]"). Install the NVIDIA
Container Toolkit, let `nvidia-ctk` configure Docker, and restart the engine.
""")
explains("host.wsl-gpu-not-exposed", "WSL2 does not expose the GPU", """
Under WSL2 the GPU reaches Linux through /dev/dxg and the Windows driver's
libraries in /usr/lib/wsl/lib (libcuda.so). One of them is missing: the
distribution runs under WSL1 (`wsl --set-version <distro> 2`), Windows or its
NVIDIA driver is too old for GPU paravirtualisation, or WSL itself needs an
update (`wsl --update`). Never install a Linux NVIDIA driver inside WSL.
""")
explains("host.wsl-libcuda-shadowed", "A Linux libcuda shadows WSL's", """
A libcuda.so from a Linux driver package sits in the distribution's library
folders. Under WSL2 the only working libcuda is the Windows driver's copy in
/usr/lib/wsl/lib; the Linux one fails to find a GPU. This usually comes from
installing the `cuda` meta-package (which pulls a driver) instead of
`cuda-toolkit-X-Y` from NVIDIA's wsl-ubuntu repository.
""")


explains("host.windows-tensorflow-no-gpu", "TensorFlow 2.11+ has no GPU build for native Windows", """
TensorFlow 2.10 was the last release with GPU support on native Windows. From
2.11 on, `pip install tensorflow` on Windows is a CPU-only build, whatever GPU
and CUDA the machine has. Run TensorFlow inside WSL2 (`pip install
'tensorflow[and-cuda]'` there; the Windows NVIDIA driver serves WSL), or stay
on TensorFlow 2.10 (Python 3.7-3.10, CUDA 11.2 and cuDNN 8.1 installed on
Windows).
""", "https://www.tensorflow.org/install/pip#windows-native")


#: Folders where a Linux NVIDIA driver package puts libcuda / libnvidia-ml (not LD_LIBRARY_PATH extras).
DISTRO_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                   "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/nvidia/current")
#: Distro packages that are a Linux NVIDIA driver (Ubuntu/Debian names), never right inside WSL2.
_LINUX_DRIVER_PACKAGES = re.compile(
    r"^(nvidia-driver-\d+|nvidia-driver$|libnvidia-compute-\d+|nvidia-dkms-\d+|nvidia-kernel-common-\d+|"
    r"nvidia-kernel-source-\d+|nvidia-utils-\d+|libnvidia-gl-\d+|cuda-drivers(-\d+)?$|nvidia-open(-\d+)?$|"
    r"xserver-xorg-video-nvidia-\d+)")


def wsl_linux_driver_evidence(facts: Facts) -> list[str]:
    """What shows a Linux NVIDIA driver installed inside WSL2: its kernel module, its libcuda /
    libnvidia-ml in the distro's library folders, its packages, a libcuda.so.1 that is not WSL's."""
    if not facts.wsl:
        return []
    found: list[str] = []
    module = pick(facts.nvidia, "kernel_module_version", kind=str)
    if module:
        found.append(f"nvidia kernel module {module}")
    for lib in _libs(facts):
        path = pick(lib, "path", kind=str) or ""
        if path.rsplit("/", 1)[0] in DISTRO_LIB_DIRS and re.fullmatch(r"\d{3,}\.\d+(\.\d+)?",
                                                                     pick(lib, "version", kind=str) or ""):
            found.append(path)
    for copy in facts.libcuda_copies:
        path, target = pick(copy, "path", kind=str) or "", pick(copy, "target", kind=str) or ""
        if path.rsplit("/", 1)[0] in DISTRO_LIB_DIRS and not target.startswith("/usr/lib/wsl/") and path not in found \
                and target not in found:
            found.append(f"{path} -> {target}" if target and target != path else path)
    found += [f"package {p['name']} {p.get('version') or ''}".strip() for p in facts.distro_packages
              if _LINUX_DRIVER_PACKAGES.match(str(p.get("name", "")))]
    return found


def tensorflow_windows_gpu(tf_version: str | None) -> bool | None:
    """Whether TensorFlow `tf_version` has a native-Windows GPU build; None when the knowledge base does not say."""
    from dldoctor.knowledge.tensorflow import tensorflow_windows_gpu
    from dldoctor.rules.compat import ask

    return ask(tensorflow_windows_gpu, tf_version) if tf_version else None


def windows_tensorflow_without_gpu(facts: Facts, fw: dict[str, Any]) -> bool:
    """TensorFlow 2.11+ on native Windows on a machine with an NVIDIA GPU: no GPU build exists."""
    if facts.os != "Windows" or facts.wsl or pick(fw, "name", kind=str) != "tensorflow":
        return False
    if not (facts.has_nvidia_hardware or facts.working_gpus):
        return False
    return tensorflow_windows_gpu(pick(fw, "version", kind=str)) is False


def install_container_toolkit(facts: Facts) -> list[str]:
    """Commands that install the NVIDIA Container Toolkit on this host's distro."""
    fam = family(facts)
    repo = "# NVIDIA's repository first: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"
    if fam == "debian":
        return [f"sudo apt-get install -y nvidia-container-toolkit  {repo}"]
    if fam == "rhel":
        return [f"sudo dnf install -y nvidia-container-toolkit  {repo}"]
    if fam == "suse":
        return [f"sudo zypper install -y nvidia-container-toolkit  {repo}"]
    if fam == "arch":
        return ["sudo pacman -S nvidia-container-toolkit"]
    return [f"install nvidia-container-toolkit  {repo}"]


def container_without_gpus(facts: Facts) -> bool:
    """In a container that should have NVIDIA GPUs but lacks the device nodes or the driver's libcuda."""
    if not facts.in_container or facts.wsl:
        return False
    requested = (facts.env("NVIDIA_VISIBLE_DEVICES") or "").lower() not in ("", "void", "none")
    if not (facts.nvidia_pci or requested):
        return False
    nodes = strings(facts.nvidia.get("device_nodes"))
    libcuda = any(pick(lib, "name", kind=str) == "libcuda" for lib in _libs(facts))
    return "/dev/nvidiactl" not in nodes or not libcuda


def _libs(facts: Facts) -> list[dict[str, str]]:
    value = facts.nvidia.get("libraries")
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@rule
def container_gpus(facts: Facts) -> Iterator[Finding]:
    """A container started without the GPUs (no /dev/nvidiactl or libcuda.so.1 inside)."""
    if not container_without_gpus(facts):
        return
    nodes = strings(facts.nvidia.get("device_nodes"))
    libcuda = any(pick(lib, "name", kind=str) == "libcuda" for lib in _libs(facts))
    missing = [m for m, ok in (("/dev/nvidiactl", "/dev/nvidiactl" in nodes), ("libcuda.so.1", libcuda)) if not ok]
    caps = facts.env("NVIDIA_DRIVER_CAPABILITIES")
    verb = "is" if len(missing) == 1 else "are"
    detail = (f"The host's NVIDIA GPU is visible on the PCI bus but {' and '.join(missing)} {verb} missing: "
              "the container was started without GPU access.")
    fix = ["docker run --gpus all ...  # or --device nvidia.com/gpu=all (CDI); podman: --device nvidia.com/gpu=all",
           *[f"{c}  # on the host" for c in install_container_toolkit(facts)],
           "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker  # on the host",
           "Kubernetes: request nvidia.com/gpu in the pod's resources (NVIDIA device plugin)"]
    if caps and not any(c in caps.split(",") for c in ("all", "compute")):
        detail += f" NVIDIA_DRIVER_CAPABILITIES={caps} leaves out 'compute', so libcuda is not mounted."
        fix.insert(0, "docker run -e NVIDIA_DRIVER_CAPABILITIES=compute,utility --gpus all ...")
    yield Finding(
        "containers.no-gpus-passed-through", Severity.ERROR,
        f"inside a {facts.in_container} container without the GPUs: {', '.join(missing)} missing",
        detail, tuple(fix),
        evidence={"found": missing, "required": ["/dev/nvidiactl", "libcuda.so.1"], "container": facts.in_container},
    )


@rule
def docker_runtime(facts: Facts) -> Iterator[Finding]:
    """A GPU host whose Docker engine has neither the NVIDIA runtime nor a CDI spec."""
    docker = facts.docker
    if facts.in_container or facts.wsl or pick(docker, "reachable", kind=bool) is not True:
        return
    if not (facts.working_gpus or facts.nvidia_pci):
        return
    if pick(docker, "nvidia_runtime", kind=bool) or pick(docker, "cdi_nvidia_spec", kind=bool):
        return
    fix: list[str] = []
    if not pick(docker, "nvidia_ctk", kind=str):
        fix += install_container_toolkit(facts)
    fix += ["sudo nvidia-ctk runtime configure --runtime=docker", "sudo systemctl restart docker",
            "docker run --rm --gpus all ubuntu nvidia-smi  # check"]
    yield Finding(
        "containers.docker-no-nvidia-runtime", Severity.WARNING,
        f"Docker {pick(docker, 'server_version', kind=str) or ''} has no NVIDIA runtime or CDI spec: "
        "`docker run --gpus all` will fail".replace("  ", " "),
        "runtimes: " + (", ".join(strings(docker.get("runtimes"))) or "none") +
        ("; nvidia-ctk is installed but Docker is not configured to use it" if pick(docker, "nvidia_ctk", kind=str) else
         "; the NVIDIA Container Toolkit is not installed"),
        tuple(fix),
        evidence={"found": strings(docker.get("runtimes")), "required": "nvidia runtime or CDI spec"},
    )


@rule
def wsl_gpu(facts: Facts) -> Iterator[Finding]:
    """WSL2 without the GPU passthrough (/dev/dxg or the WSL libcuda) a CUDA build needs."""
    if not facts.wsl:
        return
    nodes = strings(facts.nvidia.get("device_nodes"))
    wsl_libcuda = pick(facts.nvidia, "wsl_libcuda", kind=bool) is True
    wants_gpu = wsl_libcuda or "/dev/dxg" in nodes or any(
        pick(f, "variant", kind=str) == "cuda" for f in facts.frameworks)
    if wants_gpu and ("/dev/dxg" not in nodes or not wsl_libcuda):
        missing = [m for m, ok in (("/dev/dxg", "/dev/dxg" in nodes), ("/usr/lib/wsl/lib/libcuda.so", wsl_libcuda))
                   if not ok]
        yield Finding(
            "host.wsl-gpu-not-exposed", Severity.ERROR, f"WSL2 does not expose the GPU: {', '.join(missing)} missing",
            "GPU paravirtualisation needs WSL2, a current Windows and a current NVIDIA driver on Windows.",
            ("wsl --update  # in Windows PowerShell", "wsl --set-version <distro> 2  # if it runs under WSL1",
             "update the NVIDIA driver on Windows (never install one inside WSL)", "wsl --shutdown  # then reopen"),
            evidence={"found": missing, "required": ["/dev/dxg", "/usr/lib/wsl/lib/libcuda.so"]},
        )
    if wsl_linux_driver_evidence(facts):
        return  # driver.wsl-linux-driver speaks: a Linux driver is installed
    linux_libcuda = [p for lib in _libs(facts) if pick(lib, "name", kind=str) == "libcuda"
                     and (p := pick(lib, "path", kind=str)) and not p.startswith("/usr/lib/wsl/")]
    for copy in facts.libcuda_copies:  # a libcuda.so.1 on LD_LIBRARY_PATH (a cuda-compat folder) that is not WSL's
        path = pick(copy, "path", kind=str)
        target = pick(copy, "target", kind=str) or path or ""
        if path and pick(copy, "on_ld_library_path", kind=bool) and not target.startswith("/usr/lib/wsl/") \
                and path not in linux_libcuda:
            linux_libcuda.append(path)
    if linux_libcuda:
        yield Finding(
            "host.wsl-libcuda-shadowed", Severity.WARNING, f"a Linux libcuda ({linux_libcuda[0]}) shadows WSL's",
            "Only /usr/lib/wsl/lib/libcuda.so works under WSL2.",
            ("sudo apt remove --purge 'libnvidia-compute-*' 'nvidia-driver-*'  # keep cuda-toolkit-X-Y only",
             "ldconfig -p | grep libcuda  # /usr/lib/wsl/lib must come first"),
            evidence={"found": linux_libcuda, "required": "/usr/lib/wsl/lib/libcuda.so"},
        )


@rule
def windows_tensorflow(facts: Facts) -> Iterator[Finding]:
    """TensorFlow on native Windows in a release with no GPU build there (the knowledge base says which)."""
    for fw in facts.frameworks:
        if not windows_tensorflow_without_gpu(facts, fw):
            continue
        version = pick(fw, "version", kind=str) or "?"
        yield Finding(
            "host.windows-tensorflow-no-gpu", Severity.ERROR,
            f"tensorflow {version} on native Windows has no GPU build: it runs on the CPU",
            "TensorFlow 2.10 was the last release with GPU support on native Windows; 2.11 and later use the GPU "
            "only under WSL2.",
            ("wsl --install  # in PowerShell; then, inside WSL2: pip install 'tensorflow[and-cuda]'",
             "or: pip install 'tensorflow<2.11'  # 2.10 on Python <= 3.10, with CUDA 11.2 and cuDNN 8.1 on Windows"),
            evidence={"framework": "tensorflow", "found": version, "required": "WSL2, or tensorflow <= 2.10",
                      "os": facts.os},
            docs="https://www.tensorflow.org/install/pip#windows-native",
        )
