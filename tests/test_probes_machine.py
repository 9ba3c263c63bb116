"""The probes read the `Machine`, never the host: on a simulated machine whose files differ
from this host's, they report the simulated facts."""

from __future__ import annotations

import os
from pathlib import Path

from dldoctor.machine import Machine, UserInfo
from dldoctor.probes import Notes
from dldoctor.probes.frameworks import probe_frameworks
from dldoctor.probes.toolkits import probe_cuda_toolkits
from dldoctor.runner import Runner
from dldoctor.smoke.target import HostAccelerators


def simulated(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[Machine, Path, Path]:
    root, bin_dir = tmp_path / "root", tmp_path / "bin"
    root.mkdir()
    bin_dir.mkdir()
    full = {"PATH": str(bin_dir), "HOME": "/home/u", **(env or {})}
    machine = Machine(root=root, env=full, runner=Runner(env=full), system="Linux", arch="x86_64", glibc="2.35",
                      hostname="sim", user=UserInfo("u", 1000, (1000,), "/home/u"), own_python=os.devnull)
    return machine, root, bin_dir


def test_device_nodes_come_from_the_machine(tmp_path: Path) -> None:
    machine, root, _ = simulated(tmp_path)
    (root / "dev" / "dri").mkdir(parents=True)
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidia3", "nvidia4", "nvidiactl", "nvidia-uvm", "kfd"):
        (root / "dev" / name).write_text("")
    assert HostAccelerators.on(machine) == HostAccelerators(nvidia_devices=5, amd_kfd=True, dri=True)
    assert HostAccelerators.detect(str(root)) == HostAccelerators.on(machine)


def test_toolkits_and_libcuda_come_from_the_machine(tmp_path: Path) -> None:
    machine, root, bin_dir = simulated(tmp_path, {"CUDA_HOME": "/opt/cuda-12.4"})
    for tk, version in (("usr/local/cuda-11.8", "11.8.89"), ("opt/cuda-12.4", "12.4.1")):
        (root / tk / "bin").mkdir(parents=True)
        (root / tk / "version.json").write_text(f'{{"cuda": {{"version": "{version}"}}}}\n')
    (root / "usr/local/cuda").symlink_to("cuda-11.8")  # relative: it stays inside the root
    lib = root / "usr/lib/x86_64-linux-gnu"
    lib.mkdir(parents=True)
    (lib / "libcuda.so.535.54.03").write_text("")
    (lib / "libcuda.so.1").symlink_to("libcuda.so.535.54.03")
    (root / "opt/cuda-12.4/bin/nvcc").write_text("#!/bin/sh\n")
    (bin_dir / "nvcc").symlink_to(root / "opt/cuda-12.4/bin/nvcc")  # PATH's nvcc is the machine's file
    (bin_dir / "nvcc").chmod(0o755)
    found = probe_cuda_toolkits(machine, Notes())
    toolkits = {t["path"]: t for t in found["toolkits"]}
    assert sorted(toolkits) == ["/opt/cuda-12.4", "/usr/local/cuda-11.8"]
    assert toolkits["/usr/local/cuda-11.8"]["version"] == "11.8.89"
    assert sorted(toolkits["/usr/local/cuda-11.8"]["found_by"]) == [
        "/usr/local/cuda (standard location)", "/usr/local/cuda-11.8 (standard location)"]
    assert toolkits["/opt/cuda-12.4"]["version"] == "12.4.1"
    assert sorted(toolkits["/opt/cuda-12.4"]["found_by"]) == ["$CUDA_HOME", "nvcc on PATH"]
    assert toolkits["/opt/cuda-12.4"]["on_path"] is True
    assert toolkits["/usr/local/cuda-11.8"]["on_path"] is False
    assert [c["target"] for c in found["libcuda_copies"]] == ["/usr/lib/x86_64-linux-gnu/libcuda.so.535.54.03"]


def test_a_toolkit_path_that_is_no_folder_on_the_machine(tmp_path: Path) -> None:
    host_dir = tmp_path / "on-the-host-only"
    host_dir.mkdir()
    machine, _, _ = simulated(tmp_path, {"CUDA_HOME": str(host_dir)})  # a folder of the host, not of the machine
    toolkits = probe_cuda_toolkits(machine, Notes())["toolkits"]
    assert [(t["path"], t["exists"]) for t in toolkits] == [(str(host_dir), False)]


def test_the_jvm_comes_from_the_machine(tmp_path: Path) -> None:
    machine, root, bin_dir = simulated(tmp_path)
    jdk = root / "usr/lib/jvm/java-21"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin/java").write_text("#!/bin/sh\n")
    (jdk / "release").write_text('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="21.0.2"\n')
    (bin_dir / "java").symlink_to(jdk / "bin/java")
    (jdk / "bin/java").chmod(0o755)
    jars = root / "home/u/.m2/repository/org/deeplearning4j/deeplearning4j-core/1.0.0-M2.1"
    jars.mkdir(parents=True)
    jvm = probe_frameworks(machine, Notes())["jvm"]
    assert jvm == {"java": str(bin_dir / "java"), "java_version": "21.0.2",
                   "deeplearning4j": {"deeplearning4j-core": ["1.0.0-M2.1"]}}
