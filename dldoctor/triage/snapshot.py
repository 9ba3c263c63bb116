"""Facts read from a report -> a partial `dldoctor.snapshot/1` document.

What the text does not state stays unknown, exactly as dldoctor's probes leave a
field they could not read: null, an empty list, or "unknown". The real-world
suite (tests/realworld/) builds its cases' snapshots with the same
`build_snapshot`, so the rules see a report the way they see those cases.

The `machine` format (every key optional unless said):

    os            "Linux" (default) or "Windows" (native Windows; the driver table of Windows applies)
    distro        {"id", "version_id", "name"}
    kernel, arch ("x86_64"), python ("3.10.12"), user ("user")
    wsl           true under WSL2 (the NVIDIA driver is the Windows one)
    container     null, "docker", "kubernetes" ...
    nvidia        null (no NVIDIA hardware) or
                  {driver, cuda_driver, kernel_module, userspace, nvml_error: {code, message},
                   gpus: [{name, cc, memory_gib, mig}], pci_devices (count; default: one per GPU, at least
                   1 when a driver is named), device_nodes (list; default from the rest), libcuda (bool,
                   default true), linux_libcuda (a Linux libcuda path found under WSL), wsl_libcuda (bool|null)}
    amd           null or {rocm, gpus: [{name, gfx, memory_gib}], groups: {render, video}, kfd (true)}
    frameworks    [{name, version, variant, cuda, distribution, installer, conda_build, arch_list}]
                  (`cuda` is the build's CUDA, or for a ROCm build its ROCm version, as the probe keeps it;
                  `arch_list` is what the framework itself printed, e.g. in the "not compatible" warning,
                  and becomes the `deep` result a `--deep` snapshot would carry)
    nvidia_wheels [{distribution, version}]
    cudnn         [{version, source ("system"), path}]  (pip nvidia-cudnn wheels are added from nvidia_wheels)
    toolkits      [{version, path, nvcc (true), on_path (false)}]
    env           {NAME: value}
    docker        null (not looked at) or a `docker` section's keys
"""

from __future__ import annotations

import re
from typing import Any

from dldoctor.knowledge import vocabulary
from dldoctor.snapshot import SCHEMA
from dldoctor.triage.gpu_models import capability
from dldoctor.triage.parse import Fact, Parsed

_STD_NODES = ["/dev/nvidia-uvm", "/dev/nvidiactl"]

def _site_packages(m: dict[str, Any]) -> str:
    py = m.get("python") or "3"
    short = ".".join(str(py).split(".")[:2])
    if m.get("os") == "Windows":
        return "C:\\Python\\Lib\\site-packages"
    return f"/home/user/venv/lib/python{short}/site-packages"


def _host(m: dict[str, Any]) -> dict[str, Any]:
    distro = m.get("distro") or {}
    return {
        "os": m.get("os", "Linux"),
        "distro": {
            "id": distro.get("id"),
            "id_like": distro.get("id_like"),
            "version_id": distro.get("version_id"),
            "name": distro.get("name"),
        },
        "kernel": m.get("kernel"),
        "arch": m.get("arch", "x86_64"),
        "glibc": m.get("glibc"),
        "hostname": None,
        "user": m.get("user", "user"),
        "python": {"version": m.get("python"), "executable": None},
        "cpu": {"model": None, "logical_cores": None, "physical_cores": None, "isa": {}},
        "memory_total_mib": None,
        "in_container": m.get("container"),
        "wsl": bool(m.get("wsl")),
        "cloud": m.get("cloud"),
    }


def _gpu(index: int, gpu: dict[str, Any]) -> dict[str, Any]:
    memory = gpu.get("memory_gib")
    return {
        "index": index,
        "name": gpu.get("name"),
        "uuid": None,
        "pci_bus_id": f"0000:{index + 1:02x}:00.0",
        "compute_capability": gpu.get("cc"),
        "memory_total_mib": int(memory * 1024) if isinstance(memory, (int, float)) else None,
        "persistence_mode": None,
        "mig_mode": gpu.get("mig"),
        "ecc_mode": None,
        "ecc_errors_uncorrected": None,
        "retired_pages_pending": None,
        "remapped_rows_pending": None,
        "remapped_rows_failure": None,
        "pcie_link": None,
        "temperature_c": None,
        "power_draw_w": None,
        "power_limit_w": None,
        "clocks_event_reasons": None,
        "compute_processes": None,
    }


def _empty_nvidia() -> dict[str, Any]:
    return {
        "present": False, "driver_version": None, "cuda_driver_version": None, "kernel_module_version": None,
        "nvml_library_version": None, "userspace_driver_version": None, "sources": {}, "nvml_error": None,
        "gpus": [], "gpu_count_nvml": None, "pci_devices": [], "module_loaded": False, "nouveau_loaded": False,
        "device_nodes": [], "libraries": [], "wsl_libcuda": False, "secure_boot": None, "dkms": None,
    }


def _nvidia(m: dict[str, Any]) -> dict[str, Any]:
    nv = m.get("nvidia")
    if not nv:
        return _empty_nvidia()
    windows = m.get("os") == "Windows"
    wsl = bool(m.get("wsl"))
    container = m.get("container")
    driver = nv.get("driver")
    nvml_error = nv.get("nvml_error")
    gpus = [_gpu(i, g) for i, g in enumerate(nv.get("gpus") or [])]
    if nvml_error:
        gpus = []  # NVML did not start: it listed no GPU
    libcuda = nv.get("libcuda", True)
    if windows or wsl:
        kernel_module = nv.get("kernel_module")  # no Linux module (a Linux driver inside WSL would set it)
        userspace = nv.get("userspace")
        loaded: bool | None = bool(kernel_module) if wsl else None
        pci: list[dict[str, Any]] = []  # no PCI sysfs on Windows, none under WSL
    else:
        kernel_module = nv.get("kernel_module", driver)
        userspace = nv.get("userspace", driver if libcuda else None)
        # NVML listing GPUs means the module is loaded, whatever version the report left out
        loaded = nv.get("module_loaded", bool(kernel_module) or bool(nv.get("gpus")))
        count = nv.get("pci_devices", max(len(nv.get("gpus") or []), 1 if driver or kernel_module else 0))
        pci = [
            {"bus_id": f"0000:{i + 1:02x}:00.0", "device_id": None, "class": "0x030000",
             "driver": "nvidia" if loaded else None, "current_link_speed": None, "current_link_width": None,
             "max_link_speed": None, "max_link_width": None}
            for i in range(count)
        ]
    libraries: list[dict[str, Any]] = []
    if wsl:
        if nv.get("wsl_libcuda", True):
            libraries.append({"name": "libcuda", "version": "1.1", "path": "/usr/lib/wsl/lib/libcuda.so.1.1"})
        if nv.get("linux_libcuda"):
            path = str(nv["linux_libcuda"])
            libraries.append({"name": "libcuda", "version": path.rsplit(".so.", 1)[-1], "path": path})
    elif windows:
        libraries = []
    elif libcuda and userspace:
        libraries = [
            {"name": "libnvidia-ml", "version": userspace,
             "path": f"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{userspace}"},
            {"name": "libcuda", "version": userspace, "path": f"/usr/lib/x86_64-linux-gnu/libcuda.so.{userspace}"},
        ]
    elif libcuda and loaded:  # the driver works (the report's GPU answered) but its version is not stated
        libraries = [
            {"name": "libnvidia-ml", "version": None, "path": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"},
            {"name": "libcuda", "version": None, "path": "/usr/lib/x86_64-linux-gnu/libcuda.so.1"},
        ]
    if "device_nodes" in nv:
        nodes = nv["device_nodes"] if nv["device_nodes"] is not None else []
    elif wsl:
        nodes = ["/dev/dxg"] if nv.get("wsl_libcuda", True) else []
    elif windows or not loaded or (container and not libcuda):
        nodes = []
    else:
        nodes = sorted(_STD_NODES + [f"/dev/nvidia{i}" for i in range(max(len(gpus), len(pci), 1))])
    return {
        "present": bool(gpus or pci or driver or wsl),
        "driver_version": driver,
        "cuda_driver_version": nv.get("cuda_driver"),
        "kernel_module_version": kernel_module,
        "nvml_library_version": None,
        "userspace_driver_version": userspace,
        "sources": {"driver_version": "report"} if driver else {},
        "nvml_error": nvml_error,
        "gpus": gpus,
        "gpu_count_nvml": len(gpus) if gpus else None,
        "pci_devices": pci,
        "module_loaded": loaded,
        "nouveau_loaded": bool(nv.get("nouveau", False)),
        "device_nodes": nodes,
        "libraries": libraries,
        "wsl_libcuda": nv.get("wsl_libcuda", True) if wsl else False,
        "secure_boot": nv.get("secure_boot"),
        "dkms": None,
    }


def _amd(m: dict[str, Any]) -> dict[str, Any]:
    amd = m.get("amd")
    if not amd:
        return {"present": False, "rocm_version": None, "gpus": [], "source": None, "pci_devices": [],
                "kfd_present": False, "dri_render_nodes": [], "amdgpu_loaded": False,
                "user_groups": {"render": None, "video": None}}
    gpus = []
    for i, g in enumerate(amd.get("gpus") or []):
        memory = g.get("memory_gib")
        gpus.append({"index": i, "name": g.get("name"), "gfx_target": g.get("gfx"),
                     "memory_total_mib": int(memory * 1024) if isinstance(memory, (int, float)) else None,
                     "kfd_node": i + 1, "location_id": None})
    groups = amd.get("groups") or {}
    return {
        "present": True,
        "rocm_version": amd.get("rocm"),
        "gpus": gpus,
        "source": "kfd",
        "pci_devices": [{"bus_id": f"0000:{i + 3:02x}:00.0", "device_id": None, "class": "0x030000",
                         "driver": "amdgpu", "current_link_speed": None, "current_link_width": None,
                         "max_link_speed": None, "max_link_width": None} for i in range(len(gpus))],
        "kfd_present": amd.get("kfd", True),
        "dri_render_nodes": [f"/dev/dri/renderD{128 + i}" for i in range(len(gpus))],
        "amdgpu_loaded": True,
        "user_groups": {"render": groups.get("render"), "video": groups.get("video")},
    }


def _cuda_toolkits(m: dict[str, Any], site: str) -> dict[str, Any]:
    toolkits = []
    for kit in m.get("toolkits") or []:
        path = kit.get("path") or f"/usr/local/cuda-{kit.get('version')}"
        toolkits.append({
            "path": path, "version": kit.get("version"), "found_by": [f"{path} (standard location)"],
            "nvcc": f"{path}/bin/nvcc" if kit.get("nvcc", True) else None, "exists": True,
            "on_path": bool(kit.get("on_path", False)),
        })
    cudnn = [{"version": c.get("version"), "path": c.get("path"), "source": c.get("source", "system")}
             for c in m.get("cudnn") or []]
    nccl = []
    runtime = []
    for wheel in m.get("nvidia_wheels") or []:
        dist = str(wheel.get("distribution"))
        major = int(dist.rsplit("-cu", 1)[1]) if "-cu" in dist and dist.rsplit("-cu", 1)[1].isdigit() else None
        entry = {"version": wheel.get("version"), "path": site, "source": f"pip {dist}", "cuda_major": major}
        if dist.startswith("nvidia-cudnn"):
            cudnn.append(entry)
        elif dist.startswith("nvidia-nccl"):
            nccl.append(entry)
        elif dist.startswith("nvidia-cuda-runtime"):
            runtime.append(entry)
    return {"toolkits": toolkits, "cudnn": cudnn, "nccl": nccl, "cuda_runtime_wheels": runtime}


def _frameworks(m: dict[str, Any], site: str) -> dict[str, Any]:
    installed = []
    for fw in m.get("frameworks") or []:
        name = fw["name"]
        entry: dict[str, Any] = {
            "name": name,
            "distribution": fw.get("distribution", vocabulary.build_distribution(name)),
            "version": fw.get("version"),
            "variant": fw.get("variant"),
            "cuda_version": fw.get("cuda"),
            "conda_build": fw.get("conda_build"),
            "location": site,
            "installer": fw.get("installer"),
            "duplicates": [],
            "status": "active",
            "note": None,
        }
        if fw.get("arch_list"):
            entry["deep"] = {"framework": name, "arch_list": list(fw["arch_list"])}
        installed.append(entry)
    return {
        "python": {
            "executable": None, "version": m.get("python"), "prefix": None, "is_venv": None, "is_conda": None,
            "sys_path": [site], "user_site": None, "user_site_enabled": False,
            "chosen_because": "the interpreter the report ran", "error": None,
        },
        "installed": installed,
        "nvidia_wheels": [{"distribution": w.get("distribution"), "version": w.get("version"), "location": site}
                          for w in m.get("nvidia_wheels") or []],
        "jvm": {"java": None, "java_version": None, "deeplearning4j": {}},
    }


def _docker(m: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client": None, "reachable": None, "server_version": None, "runtimes": [], "default_runtime": None,
        "nvidia_runtime": False, "cdi_spec_dirs": [], "cdi_nvidia_spec": False, "daemon_json_nvidia": False,
        "nvidia_ctk": None, "nvidia_container_runtime": None, "source": None,
        "error": "not looked at (the report does not say)",
    }
    return base | (m.get("docker") or {})


_AMD_NAME = re.compile(r"\b(?:AMD|Radeon|Instinct|gfx\d)", re.IGNORECASE)
_TORCH_CU = re.compile(r"\+cu(\d+)(\d)\b")
_TORCH_ROCM = re.compile(r"\+rocm(\d+(?:\.\d+)*)")


def _value(parsed: Parsed, key: str) -> Any:
    fact = parsed.first(key)
    return fact.value if fact is not None else None


def _distro(os_text: str | None) -> dict[str, Any] | None:
    if not os_text:
        return None
    match = re.match(r"\s*([A-Za-z][A-Za-z ]*?)\s+(\d+(?:\.\d+)*)", os_text)
    if not match:
        return {"id": None, "version_id": None, "name": os_text.split(" (")[0]}
    name = match.group(1).strip()
    version = match.group(2)
    ident = {"red hat enterprise linux": "rhel", "centos stream": "centos", "centos linux": "centos",
             "pop!_os": "pop", "rocky linux": "rocky", "amazon linux": "amzn"}.get(name.lower(), name.split()[0].lower())
    if ident == "ubuntu":
        version = ".".join(version.split(".")[:2])
    return {"id": ident, "version_id": version, "name": f"{name} {version}"}


def _host_facts(parsed: Parsed, text_lower: str) -> dict[str, Any]:
    machine: dict[str, Any] = {}
    os_text = _value(parsed, "os")
    platform = _value(parsed, "platform") or ""
    if (os_text and "windows" in os_text.lower()) or platform.lower().startswith("windows"):
        machine["os"] = "Windows"
    elif (os_text and ("macos" in os_text.lower() or "darwin" in os_text.lower())) or platform.startswith("macOS"):
        machine["os"] = "Darwin"
    else:
        distro = _distro(os_text)
        if distro:
            machine["distro"] = distro
    kernel = re.match(r"Linux-(.+?)-(x86_64|aarch64|ppc64le)", platform)
    if kernel:
        machine["kernel"] = kernel.group(1)
        machine["arch"] = kernel.group(2)
    smi = _value(parsed, "smi_version")
    driver = _value(parsed, "driver_version")
    wsl = ("microsoft-standard" in platform.lower() or "wsl" in (os_text or "").lower()
           # nvidia-smi's own version differs from the driver's only under WSL (Linux tools, Windows driver)
           or (machine.get("os") != "Windows" and smi and driver and smi != driver))
    if wsl:
        machine["wsl"] = True
    if _value(parsed, "python"):
        machine["python"] = _value(parsed, "python")
    return machine


def _gpu_names(parsed: Parsed) -> list[tuple[str, Fact]]:
    for key in ("smi_gpu", "smi_q_gpu", "collect_env_gpu"):
        facts = parsed.all(key)
        if facts:
            return [(f.value["name"] if isinstance(f.value, dict) else str(f.value), f) for f in facts]
    warned = [(f.value["name"], f) for f in parsed.all("warned_gpu")]
    return warned or [(str(f.value), f) for f in parsed.all("lspci_gpu") + parsed.all("amd_gpu")]


def parsed_os_windows(parsed: Parsed) -> bool:
    """Whether the driver is a Windows one (native Windows or WSL2)."""
    os_text = str(_value(parsed, "os") or "").lower()
    platform = str(_value(parsed, "platform") or "").lower()
    return "windows" in os_text or platform.startswith("windows") or "microsoft-standard" in platform


def _nvidia_facts(parsed: Parsed, causes: set[str], names: list[str]) -> dict[str, Any] | None:
    driver = _value(parsed, "driver_version")
    module = _value(parsed, "kernel_module")
    nvidia_names = [n for n in names if not _AMD_NAME.search(n)]
    warned = {f.value["name"]: f.value["cc"] for f in parsed.all("warned_gpu")}
    nvidia_cause = any(c.startswith(("driver.", "cuda.", "containers.")) for c in causes) or (
        "frameworks.capability-not-compiled" in causes)
    if not (driver or module or nvidia_names or nvidia_cause or _value(parsed, "cuda_driver_version")):
        return None
    memory = [f.value for f in parsed.all("smi_memory_mib")]
    gpus = []
    for i, name in enumerate(nvidia_names):
        cc = next((c for n, c in warned.items() if n and (n in name or name in n)), None) or capability(name)
        gpu: dict[str, Any] = {"name": name, "cc": cc}
        if i < len(memory):
            gpu["memory_gib"] = memory[i] / 1024
        gpus.append(gpu)
    if not gpus and nvidia_cause:
        gpus = [{"name": None, "cc": None}]  # the messages speak of an NVIDIA GPU the text does not name
    cuda_driver = _value(parsed, "cuda_driver_version")
    if driver and not cuda_driver and not parsed.first("smi_version"):
        # collect_env gives the driver, not its CUDA: NVIDIA's driver table says which CUDA it fully supports
        from dldoctor.knowledge.cuda import max_cuda_for_driver

        windows = parsed_os_windows(parsed)
        cuda_driver = max_cuda_for_driver(driver, "windows" if windows else "linux")
        source = parsed.first("driver_version")
        if cuda_driver and source is not None:
            parsed.add("cuda_driver_version", cuda_driver, source.line, source.text, "NVIDIA driver table")
    nv: dict[str, Any] = {"driver": driver, "cuda_driver": cuda_driver, "gpus": gpus}
    if module:
        nv["kernel_module"] = module
    if "driver.library-mismatch" in causes:
        nv["nvml_error"] = {"code": "LibRmVersionMismatch", "message": "Driver/library version mismatch"}
        smi = _value(parsed, "nvml_library_version") or _value(parsed, "smi_version")
        if smi and smi != module:
            nv["userspace"] = smi
    if causes & {"driver.not-loaded", "driver.not-installed"} and not driver:
        nv["libcuda"] = "driver.not-installed" not in causes
        nv["module_loaded"] = False
        nv["gpus"] = []
        nv["pci_devices"] = max(len(gpus), 1)
    return nv


def _amd_facts(parsed: Parsed, names: list[str], all_amd: bool) -> dict[str, Any] | None:
    amd_names = [n for n in names if all_amd or _AMD_NAME.search(n)]
    gfx = [f.value for f in parsed.all("gfx")]
    rocm = _value(parsed, "torch_rocm") or _value(parsed, "hip_runtime")
    if not (amd_names or gfx):
        return None
    gpus = []
    for i in range(max(len(amd_names), len(gfx))):
        name = amd_names[i] if i < len(amd_names) else None
        target = gfx[i] if i < len(gfx) else None
        if target is None and name:
            inner = re.search(r"(gfx[0-9a-f]+)", name)
            target = inner.group(1) if inner else None
        gpus.append({"name": re.sub(r"\s*\(gfx[^)]*\)", "", name) if name else None, "gfx": target})
    return {"rocm": ".".join(str(rocm).split(".")[:2]) if rocm else None, "gpus": gpus}


def _packages(parsed: Parsed) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fact in parsed.all("package"):
        out.setdefault(fact.value["name"], fact.value)
    return out


def _torch(parsed: Parsed, packages: dict[str, dict[str, Any]], os_name: str) -> dict[str, Any] | None:
    version = _value(parsed, "torch_version")
    pkg = packages.get("torch") or packages.get("pytorch")
    installer = None
    if pkg is not None:
        installer = "conda" if pkg["via"] in ("collect_env conda", "conda list") else "pip"
        version = version or pkg["version"]
    if not version:
        return None
    fw: dict[str, Any] = {"name": "pytorch", "version": version, "variant": None, "cuda": None, "installer": installer}
    cuda_stated = _value(parsed, "torch_cuda")
    rocm = _value(parsed, "torch_rocm")
    rocm = None if rocm == "none" else rocm
    cu = _TORCH_CU.search(version)
    rocm_tag = _TORCH_ROCM.search(version)
    build = (pkg or {}).get("build") or ""
    conda_cuda = re.search(r"cuda(\d+\.\d+)", build)
    if "+cpu" in version or build.startswith("cpu"):
        fw["variant"] = "cpu"
    elif rocm_tag or rocm:
        fw["variant"] = "rocm"
        rocm_version = rocm or (rocm_tag.group(1) if rocm_tag else "")
        fw["cuda"] = ".".join(rocm_version.split(".")[:2]) or None
    elif cuda_stated and cuda_stated != "none":
        fw["variant"] = "cuda"
        fw["cuda"] = ".".join(cuda_stated.split(".")[:2])
    elif cu:
        fw["variant"] = "cuda"
        fw["cuda"] = f"{cu.group(1)}.{cu.group(2)}"
    elif conda_cuda:
        fw["variant"] = "cuda"
        fw["cuda"] = conda_cuda.group(1)
    elif cuda_stated == "none":
        fw["variant"] = "cpu"  # collect_env: "CUDA used to build PyTorch: None" and no ROCm
    if os_name == "Darwin" and fw["variant"] is None:
        fw["variant"] = "cpu"
    return fw


def _tensorflow(packages: dict[str, dict[str, Any]], os_name: str, tf_cuda: str | None) -> dict[str, Any] | None:
    for dist in ("tensorflow-gpu", "tensorflow", "tensorflow-intel", "tensorflow-cpu", "tf-nightly"):
        pkg = packages.get(dist)
        if pkg is None:
            continue
        variant = "cpu" if dist == "tensorflow-cpu" or os_name == "Darwin" else "cuda"
        return {"name": "tensorflow", "distribution": dist if dist != "tensorflow-intel" else "tensorflow",
                "version": pkg["version"], "variant": variant, "cuda": tf_cuda, "installer": "pip"}
    return None


def _jax(packages: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    pkg = packages.get("jaxlib") or packages.get("jax")
    if pkg is None:
        return None
    version = pkg["version"]
    cuda = re.search(r"\+cuda(\d+)", version)
    plugin = next((name for name in packages if re.fullmatch(r"jax-cuda1\d-(plugin|pjrt)", name)), None)
    fw: dict[str, Any] = {"name": "jax", "distribution": "jaxlib", "version": version, "variant": None,
                          "cuda": None, "installer": "pip"}
    if cuda:
        fw["variant"], fw["cuda"] = "cuda", cuda.group(1)
    elif plugin:
        fw["variant"], fw["cuda"] = "cuda", plugin[len("jax-cuda"):len("jax-cuda") + 2]
    return fw


def to_machine(parsed: Parsed, causes: set[str], text_lower: str) -> dict[str, Any]:
    """The compact machine (the format above) of what the text states."""
    machine = _host_facts(parsed, text_lower)
    names = [n for n, _ in _gpu_names(parsed)]
    rocm = _value(parsed, "torch_rocm")
    amd_build = bool(rocm and rocm != "none" and not parsed.first("smi_gpu"))  # its collect_env lists AMD GPUs
    nv = _nvidia_facts(parsed, causes, [] if amd_build else names)
    if nv is None and machine.get("wsl") and "host.wsl-gpu-not-exposed" not in causes:
        nv = {"driver": None, "gpus": []}  # WSL2's GPU plumbing: unknown, not missing, unless a message says so
    machine["nvidia"] = nv
    machine["amd"] = _amd_facts(parsed, names, amd_build)
    if "docker" in text_lower and ("docker run" in text_lower or "nvidia-container" in text_lower):
        machine["container"] = "docker" if causes & {"containers.no-gpus-passed-through"} else None
    packages = _packages(parsed)
    os_name = machine.get("os", "Linux")
    found = (_torch(parsed, packages, os_name), _tensorflow(packages, os_name, _value(parsed, "tf_cuda")),
             _jax(packages))
    frameworks = [fw for fw in found if fw is not None]
    arch = _value(parsed, "arch_list")
    available = _value(parsed, "cuda_available")
    for fw in frameworks:
        if fw["name"] == "pytorch" and arch:
            fw["arch_list"] = arch
        if fw["name"] == "pytorch" and available is not None and available.lower() in ("false", "no") \
                and fw.get("variant") == "cuda":
            fw["cuda_available"] = False
    machine["frameworks"] = frameworks
    machine["nvidia_wheels"] = [{"distribution": p["name"], "version": p["version"]} for p in packages.values()
                                if p["name"].startswith("nvidia-")]
    cudnn = [{"version": f.value["version"], "source": "system", "path": f.value["path"]}
             for f in parsed.all("cudnn")]
    machine["cudnn"] = cudnn
    kit = _value(parsed, "nvcc_version") or _value(parsed, "cuda_runtime")
    if kit:
        short = ".".join(kit.split(".")[:2])
        machine["toolkits"] = [{"version": kit, "path": f"/usr/local/cuda-{short}", "on_path": True}]
    env = {f.value["name"]: f.value["value"] for f in parsed.all("env")}
    if env:
        machine["env"] = env
    return machine


def build_snapshot(machine: dict[str, Any], facts: list[Fact]) -> dict[str, Any]:
    """The `dldoctor.snapshot/1` document of a report's machine, each fact with the line it came from."""
    site = _site_packages(machine)
    frameworks = _frameworks(machine, site)
    for entry, fw in zip(frameworks["installed"], machine.get("frameworks") or [], strict=False):
        if fw.get("cuda_available") is False:
            deep = entry.setdefault("deep", {"framework": fw["name"]})
            deep["cuda_available"] = False
            deep["warnings"] = ["the report says: Is CUDA available: False"]
    return {
        "schema": SCHEMA,
        "source": "report",
        "dldoctor_version": None,
        "created": None,
        "duration_ms": 0.0,
        "deep": any(fw.get("arch_list") for fw in machine.get("frameworks") or []),
        "redacted": True,
        "host": _host(machine),
        "nvidia": _nvidia(machine),
        "amd": _amd(machine),
        "other_accelerators": {"mps": None, "intel_xpu": {"gpus": [], "xpu_capable_driver": False, "render_nodes": []},
                               "opencl_icds": []},
        "cuda_toolkits": _cuda_toolkits(machine, site),
        "environment": {"variables": dict(machine.get("env") or {}), "package_managers": {}},
        "docker": _docker(machine),
        "frameworks": frameworks,
        "probe_failures": [],
        "provenance": [f.to_json() for f in facts],
    }
