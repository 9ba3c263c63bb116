"""The nvidia probe through NVIDIA's real bindings (nvidia-ml-py) and a fake libnvidia-ml.so.1 per driver generation.

The library is C (tests/fake_libnvml/fake_nvml.c), built with gcc for each
generation's symbol set (tests/fake_libnvml/symbols.py), so the bindings' own
symbol lookup, versioned wrappers and throwOnVersionMismatch run as on a real
driver. Without gcc these tests fail; they never skip.
"""

from __future__ import annotations

import copy
import ctypes
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dldoctor.machine import Machine, UserInfo, load_nvml_bindings, nvml_library_in
from dldoctor.probes import Notes
from dldoctor.probes.nvidia import probe_nvidia
from dldoctor.runner import Runner
from dldoctor.snapshot import take_snapshot
from tests import fake_libnvml
from tests.fake_libnvml.symbols import GENERATIONS, OPTIONAL_SYMBOLS, exported, generation_for
from tests.simulate import SCENARIOS, load_machine

#: A release of each generation and the CUDA version its driver reports.
RELEASES = {450: ("450.80.02", 11000), 470: ("470.82.01", 11040), 525: ("525.147.05", 12000),
            535: ("535.183.01", 12020), 550: ("550.90.07", 12040), 570: ("570.172.08", 12080),
            580: ("580.95.05", 13000)}

A100 = {"name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "pci_bus_id": "00000000:07:00.0", "cc": [8, 0], "memory_total_mib": 81920, "persistence": 1,
        "mig": [0, 0], "ecc": [1, 1], "ecc_uncorrected": 0, "retired_pending": 0, "remapped": [0, 0, 0, 0],
        "pcie": {"cur_gen": 4, "max_gen": 4, "cur_width": 16, "max_width": 16}, "temperature": 33,
        "power_mw": 72000, "power_limit_mw": 400000, "clock_reasons": 1, "processes": [48213]}


def nvml_spec(generation: int, gpus: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    driver, cuda = RELEASES[generation]
    spec = {"driver_version": driver, "cuda_driver_version": cuda, "nvml_version": f"{cuda // 1000}.{driver}",
            "gpus": [A100] if gpus is None else gpus}
    spec.update(kw)
    return spec


def driver_root(tmp_path: Path, spec: dict[str, Any], module_version: str | None = None) -> Machine:
    """A machine whose root holds a driver install: the kernel module, a device node and, where the
    driver puts it, the fake libnvidia-ml.so.1. NVML is loaded the production way, from the root."""
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    (root / "dev/nvidia0").write_text("")
    version = module_version or spec.get("driver_version")
    if version:
        (root / "sys/module/nvidia").mkdir(parents=True)
        (root / "sys/module/nvidia/version").write_text(version + "\n")
    fake_libnvml.install(spec, root / "usr/lib/x86_64-linux-gnu")
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty)}  # no nvidia-smi, no libcuda: what NVML says is all there is
    return Machine(root=root, env=env, runner=Runner(env=env), system="Linux", arch="x86_64", glibc="2.35",
                   hostname="h", user=UserInfo("u", 1000, (1000,), "/home/u"), own_python=os.devnull)


def probe(machine: Machine) -> dict[str, Any]:
    notes = Notes()
    nv = probe_nvidia(machine, notes)
    assert notes.failures == []
    return nv


# --- the fake library itself -----------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_each_generation_exports_exactly_its_symbol_set(generation: int) -> None:
    library = ctypes.CDLL(str(fake_libnvml.build(generation)))
    present = {name for name in OPTIONAL_SYMBOLS if hasattr(library, name)}
    assert present == set(exported(generation))
    for always in ("nvmlInitWithFlags", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2",
                   "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetCurrentClocksThrottleReasons", "nvmlErrorString"):
        assert hasattr(library, always), always


def test_generation_follows_the_driver_branch() -> None:
    assert [generation_for(v) for v in ("450.80.02", "470.82.01", "535.183.01", "566.36", "575.64", "580.95.05")] == [
        450, 470, 535, 550, 570, 580]
    assert generation_for(None) == GENERATIONS[-1]


def test_versioned_struct_is_checked(tmp_path: Path) -> None:
    nvml = load_nvml_bindings(fake_libnvml.install(nvml_spec(550), tmp_path))
    nvml.nvmlInit()
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(0)
        assert nvml.nvmlDeviceGetMemoryInfo(handle, version=nvml.nvmlMemory_v2).total == 81920 << 20
        with pytest.raises(nvml.NVMLError_ArgumentVersionMismatch):
            nvml.nvmlDeviceGetMemoryInfo(handle, version=1)
    finally:
        nvml.nvmlShutdown()


def test_each_load_is_a_fresh_binding(tmp_path: Path) -> None:
    first = load_nvml_bindings(fake_libnvml.install(nvml_spec(470), tmp_path / "a"))
    second = load_nvml_bindings(fake_libnvml.install(nvml_spec(580), tmp_path / "b"))
    first.nvmlInit()
    second.nvmlInit()
    try:
        assert (first.nvmlSystemGetDriverVersion(), second.nvmlSystemGetDriverVersion()) == ("470.82.01", "580.95.05")
        assert first.nvmlLib is not second.nvmlLib
    finally:
        first.nvmlShutdown()
        second.nvmlShutdown()


def test_without_gcc_the_build_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake_libnvml, "_build_dir", tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="gcc is needed"):
        fake_libnvml.build(470)


# --- the probe on every generation -------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_probe_reads_every_generation(generation: int, tmp_path: Path) -> None:
    machine = driver_root(tmp_path, nvml_spec(generation))
    assert nvml_library_in(machine.root).stat().st_size > 0  # the loader finds the root's own library
    nv = probe(machine)
    driver, cuda = RELEASES[generation]
    assert (nv["driver_version"], nv["cuda_driver_version"]) == (driver, f"{cuda // 1000}.{cuda % 1000 // 10}")
    assert nv["sources"] == {"driver_version": "nvml", "cuda_driver_version": "nvml", "gpus": "nvml"}
    assert nv["nvml_error"] is None and nv["nvml_field_errors"] == {}  # CUDA falls back to the v1 call on 450
    assert nv["gpu_count_nvml"] == 1
    (g,) = nv["gpus"]
    assert (g["name"], g["compute_capability"], g["memory_total_mib"]) == ("NVIDIA A100-SXM4-80GB", "8.0", 81920)
    assert g["pci_bus_id"] == "0000:07:00.0" and g["mig_mode"] is False
    assert g["clocks_event_reasons"] == ["gpu_idle"]  # the throttle-reasons call before 535
    assert "error" not in g
    errors = g["nvml_field_errors"]
    if generation < 460:
        # No remapped rows, no process list before 460: null with the reason, nothing else lost.
        assert g["remapped_rows_pending"] is None and "FunctionNotFound" in errors["remapped_rows_pending"]
        assert g["compute_processes"] is None and "NVMLLibraryMismatchError" in errors["compute_processes"]
        assert set(errors) == {"remapped_rows_pending", "remapped_rows_failure", "compute_processes"}
    else:
        assert errors == {}
        assert g["remapped_rows_pending"] is False and g["compute_processes"] == 1


# --- the 470 regression: nvidia-ml-py 13's unversioned call raises a plain Exception ---------

def test_470_bindings_raise_library_mismatch_for_the_unversioned_process_call(tmp_path: Path) -> None:
    nvml = load_nvml_bindings(fake_libnvml.install(nvml_spec(470), tmp_path))
    nvml.nvmlInit()
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(0)
        with pytest.raises(nvml.NVMLLibraryMismatchError) as raised:
            nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        assert not isinstance(raised.value, nvml.NVMLError)  # what the old probe did not catch
        assert [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses_v2(handle)] == [48213]
        with pytest.raises(nvml.NVMLError_FunctionNotFound):
            nvml.nvmlDeviceGetMemoryInfo(handle, version=nvml.nvmlMemory_v2)
    finally:
        nvml.nvmlShutdown()


def test_t4_driver_470_snapshot_through_the_real_bindings(tmp_path: Path) -> None:
    doc = take_snapshot(load_machine("t4-driver-470-torch-cu126", tmp_path))
    nv = doc["nvidia"]
    assert nv is not None and doc["probe_failures"] == []
    assert (nv["driver_version"], nv["cuda_driver_version"]) == ("470.82.01", "11.4")
    assert nv["sources"] == {"driver_version": "nvml", "cuda_driver_version": "nvml", "gpus": "nvml"}
    (g,) = nv["gpus"]
    assert (g["name"], g["compute_processes"]) == ("Tesla T4", 0)


def test_two_t4s_on_470(tmp_path: Path) -> None:
    spec = json.loads((SCENARIOS / "t4-driver-470-torch-cu126" / "machine.json").read_text())["nvml"]
    second = copy.deepcopy(spec["gpus"][0])
    second.update(uuid="GPU-7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a", pci_bus_id="00000000:00:05.0", processes=[3121])
    spec["gpus"].append(second)
    machine = load_machine("t4-driver-470-torch-cu126", tmp_path)
    machine.load_nvml = lambda: load_nvml_bindings(fake_libnvml.install(spec, tmp_path / "two-t4"))
    doc = take_snapshot(machine)
    nv = doc["nvidia"]
    assert nv is not None and doc["probe_failures"] == []
    assert (nv["driver_version"], nv["cuda_driver_version"], nv["gpu_count_nvml"]) == ("470.82.01", "11.4", 2)
    assert [(g["name"], g["pci_bus_id"], g["compute_processes"]) for g in nv["gpus"]] == [
        ("Tesla T4", "0000:00:04.0", 0), ("Tesla T4", "0000:00:05.0", 1)]
    assert all(g["compute_capability"] == "7.5" and g["memory_total_mib"] == 15109 for g in nv["gpus"])


# --- broken drivers and GPUs ----------------------------------------------------------------------

def test_gpu_lost(tmp_path: Path) -> None:
    lost = dict(A100, uuid="GPU-5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", pci_bus_id="00000000:0F:00.0", lost=True)
    nv = probe(driver_root(tmp_path, nvml_spec(550, [A100, lost])))
    healthy, broken = nv["gpus"]
    assert healthy["name"] == "NVIDIA A100-SXM4-80GB" and "error" not in healthy
    assert broken["index"] == 1 and broken["error_code"] == "GpuIsLost" and "Xid 79" in broken["error"]
    assert nv["gpu_count_nvml"] == 2 and nv["driver_version"] == "550.90.07"


@pytest.mark.parametrize(("error", "module"), [("LibRmVersionMismatch", "550.54.14"), ("DriverNotLoaded", None)])
def test_init_errors_keep_the_other_sources(error: str, module: str | None, tmp_path: Path) -> None:
    spec = {"init_error": error, "driver_version": "550.90.07"}
    machine = driver_root(tmp_path, spec, module_version=module)
    if module is None:
        (machine.root / "sys/module/nvidia/version").unlink()
    nv = probe(machine)
    assert nv["nvml_error"]["code"] == error
    assert nv["gpus"] == [] and nv["gpu_count_nvml"] is None
    assert nv["driver_version"] == module
    if module:
        assert nv["sources"]["driver_version"] == "kernel module"


def test_no_library_in_the_root_is_library_not_found(tmp_path: Path) -> None:
    machine = driver_root(tmp_path, nvml_spec(550))
    nvml_library_in(machine.root).write_bytes(b"")  # the placeholder a scenario root has
    nv = probe(machine)
    assert nv["nvml_error"]["code"] == "LibraryNotFound"
    assert nv["driver_version"] == "550.90.07" and nv["sources"]["driver_version"] == "kernel module"


@pytest.mark.parametrize("exc", [ctypes.ArgumentError("bad"), AttributeError("gone"), RuntimeError("odd"),
                                 OSError("eio")])
def test_any_exception_costs_only_its_field(exc: Exception, tmp_path: Path) -> None:
    nvml = load_nvml_bindings(fake_libnvml.install(nvml_spec(580), tmp_path / "lib"))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise exc

    nvml.nvmlDeviceGetTemperature = broken
    nvml.nvmlSystemGetDriverVersion = broken
    machine = driver_root(tmp_path, nvml_spec(580), module_version="580.95.05")
    machine.load_nvml = lambda: nvml
    nv = probe(machine)
    (g,) = nv["gpus"]
    assert g["temperature_c"] is None and type(exc).__name__ in g["nvml_field_errors"]["temperature_c"]
    assert g["name"] == "NVIDIA A100-SXM4-80GB" and g["power_draw_w"] == 72.0
    # NVML lost the driver version; the kernel module still has it.
    assert nv["driver_version"] == "580.95.05" and nv["sources"]["driver_version"] == "kernel module"
    assert "nvmlSystemGetDriverVersion" in nv["nvml_field_errors"]["driver_version"]


def test_a_failing_gpu_count_leaves_the_gpus_to_nvidia_smi(tmp_path: Path) -> None:
    nvml = load_nvml_bindings(fake_libnvml.install(nvml_spec(470), tmp_path / "lib"))

    def broken() -> int:
        raise nvml.NVMLError(nvml.NVML_ERROR_UNKNOWN)

    nvml.nvmlDeviceGetCount = broken
    machine = load_machine("t4-driver-470-torch-cu126", tmp_path)
    machine.load_nvml = lambda: nvml
    nv = probe(machine)
    assert nv["sources"]["gpus"] == "nvidia-smi" and [g["name"] for g in nv["gpus"]] == ["Tesla T4"]
    assert nv["driver_version"] == "470.82.01" and nv["nvml_error"]["code"] == "Unknown"
    assert "nvmlDeviceGetCount" in nv["nvml_field_errors"]["gpu_count_nvml"]
