"""The probes against every simulated machine, against this real machine, and their runner and redaction."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dldoctor.machine import Machine, UserInfo, load_nvml_bindings
from dldoctor.probes import Notes
from dldoctor.probes.nvidia import probe_nvidia
from dldoctor.probes.toolkits import probe_cuda_toolkits
from dldoctor.runner import Runner
from dldoctor.snapshot import SCHEMA, SECTIONS, redact_snapshot, take_snapshot
from tests import fake_libnvml
from tests.make_scenarios import SCENARIOS as GENERATED
from tests.simulate import SCENARIOS, load_machine, scenario_names

REQUIRED = {
    "h100-driver-580-cuda13", "t4-driver-470-torch-cu126", "rtx5090-sm120-torch-cu124", "driver-library-mismatch",
    "driver-not-loaded-nouveau", "container-without-gpus", "wsl2-rtx4090", "amd-mi300x-rocm",
    "two-gpus-one-fallen-off-bus", "old-driver-missing-nvml-functions", "hanging-nvidia-smi", "cpu-only-laptop",
    "gtx1080ti-sm61-torch-cu130", "cpu-torch-on-gpu-box", "user-site-shadows-torch", "ld-library-path-shadows-cuda",
    "cuda-visible-devices-empty", "cuda-visible-devices-out-of-range", "docker-without-nvidia-runtime",
    "tensorflow-missing-cudnn", "amd-gfx-not-covered-not-in-render-group", "unhealthy-a100", "mig-enabled-a100",
    "conda-pytorch-cpu-build-on-gpu-box",
}

#: Sources that fail on purpose in a scenario (the probe goes on and says so).
EXPECTED_FAILURES = {
    "driver-library-mismatch": {"nvidia.nvidia-smi"},  # nvidia-smi: "Driver/library version mismatch", rc 18
    "driver-not-loaded-nouveau": {"nvidia.nvidia-smi"},  # nvidia-smi: "couldn't communicate with the driver", rc 9
    "hanging-nvidia-smi": {"nvidia.nvidia-smi"},  # timed out
}
HANG_TIMEOUT_S = 1.0

_cache: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="session")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The snapshot of a scenario, taken once per session."""

    def take(name: str) -> dict[str, Any]:
        if name not in _cache:
            timeout = HANG_TIMEOUT_S if name == "hanging-nvidia-smi" else 5.0
            _cache[name] = take_snapshot(load_machine(name, tmp_path_factory.mktemp(name), timeout_s=timeout))
        return _cache[name]

    return take


def only_gpu(doc: dict[str, Any]) -> dict[str, Any]:
    gpus = doc["nvidia"]["gpus"]
    assert len(gpus) == 1, gpus
    return gpus[0]  # type: ignore[no-any-return]


def framework(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in doc["frameworks"]["installed"] if f["name"] == name]
    assert len(found) == 1, doc["frameworks"]["installed"]
    return found[0]


# --- every scenario --------------------------------------------------------------

def test_every_required_scenario_is_generated_and_committed() -> None:
    assert REQUIRED <= set(GENERATED)
    assert set(scenario_names()) == set(GENERATED)


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_snapshot_is_complete(name: str, snap: Any) -> None:
    spec = json.loads((SCENARIOS / name / "machine.json").read_text())
    assert spec.get("description"), "every scenario says what it reproduces"
    doc = snap(name)
    assert doc["schema"] == SCHEMA
    for section in SECTIONS:
        assert isinstance(doc[section], dict), f"section {section} missing: {doc['probe_failures']}"
    assert {f["probe"] for f in doc["probe_failures"]} == EXPECTED_FAILURES.get(name, set())
    assert json.loads(json.dumps(doc)) == doc  # plain JSON all the way down
    assert doc["host"]["hostname"] == spec["hostname"]
    assert doc["frameworks"]["python"]["error"] is None


# --- NVIDIA ----------------------------------------------------------------------

def test_h100_driver_580_cuda13(snap: Any) -> None:
    doc = snap("h100-driver-580-cuda13")
    nv = doc["nvidia"]
    assert (nv["driver_version"], nv["cuda_driver_version"]) == ("580.95.05", "13.0")
    assert nv["sources"] == {"driver_version": "nvml", "cuda_driver_version": "nvml", "gpus": "nvml"}
    assert nv["kernel_module_version"] == nv["userspace_driver_version"] == "580.95.05"
    g = only_gpu(doc)
    assert (g["name"], g["compute_capability"], g["memory_total_mib"]) == ("NVIDIA H100 80GB HBM3", "9.0", 81559)
    assert g["pci_bus_id"] == nv["pci_devices"][0]["bus_id"] == "0000:53:00.0"
    assert g["ecc_errors_uncorrected"] == 0 and g["clocks_event_reasons"] == ["gpu_idle"]
    assert doc["host"]["cloud"] == "aws"
    torch = framework(doc, "pytorch")
    assert (torch["variant"], torch["cuda_version"]) == ("cuda", "13.0")


def test_t4_driver_470_torch_cu126(snap: Any) -> None:
    doc = snap("t4-driver-470-torch-cu126")
    nv = doc["nvidia"]
    assert (nv["driver_version"], nv["cuda_driver_version"]) == ("470.82.01", "11.4")
    g = only_gpu(doc)
    assert (g["name"], g["compute_capability"]) == ("Tesla T4", "7.5")
    assert g["mig_mode"] is None and g["remapped_rows_pending"] is None  # NotSupported on a T4
    assert g["clocks_event_reasons"] == ["gpu_idle"]  # from the pre-535 ThrottleReasons call
    assert doc["host"]["cloud"] == "gcp"
    torch = framework(doc, "pytorch")
    assert (torch["version"], torch["variant"], torch["cuda_version"], torch["installer"]) == (
        "2.13.0", "cuda", "12.6", "pip")
    assert [w["version"] for w in doc["cuda_toolkits"]["cuda_runtime_wheels"]] == ["12.6.77"]


def test_rtx5090_sm120_torch_cu124(snap: Any) -> None:
    doc = snap("rtx5090-sm120-torch-cu124")
    g = only_gpu(doc)
    assert (g["name"], g["compute_capability"]) == ("NVIDIA GeForce RTX 5090", "12.0")
    assert g["persistence_mode"] is False and g["ecc_mode"] is None
    assert doc["nvidia"]["driver_version"] == "575.64" and doc["nvidia"]["cuda_driver_version"] == "12.9"
    assert doc["host"]["cloud"] is None and doc["host"]["distro"]["version_id"] == "24.04"
    torch = framework(doc, "pytorch")
    assert (torch["version"], torch["variant"], torch["cuda_version"]) == ("2.5.1+cu124", "cuda", "12.4")


def test_driver_library_mismatch(snap: Any) -> None:
    nv = snap("driver-library-mismatch")["nvidia"]
    assert nv["nvml_error"]["code"] == "LibRmVersionMismatch"
    assert nv["kernel_module_version"] == "550.54.14"
    assert nv["userspace_driver_version"] == "550.90.07"
    assert nv["driver_version"] == "550.54.14" and nv["sources"]["driver_version"] == "kernel module"
    assert nv["cuda_driver_version"] == "12.4" and nv["sources"]["cuda_driver_version"] == "libcuda"
    assert nv["gpus"] == [] and nv["module_loaded"] is True


def test_driver_not_loaded_nouveau(snap: Any) -> None:
    nv = snap("driver-not-loaded-nouveau")["nvidia"]
    assert nv["present"] is True
    assert nv["nvml_error"]["code"] == "DriverNotLoaded"
    assert nv["module_loaded"] is False and nv["kernel_module_version"] is None
    assert nv["nouveau_loaded"] is True
    assert [d["driver"] for d in nv["pci_devices"]] == ["nouveau"]
    assert nv["secure_boot"] is True
    assert nv["dkms"] == {"nvidia": {"550.120": ["6.5.0-41-generic"]}, "built_for_running_kernel": False}
    assert nv["userspace_driver_version"] == "550.120" and nv["driver_version"] is None
    assert nv["device_nodes"] == []


def test_container_without_gpus(snap: Any) -> None:
    doc = snap("container-without-gpus")
    assert doc["host"]["in_container"] == "docker"
    nv = doc["nvidia"]
    assert nv["device_nodes"] == [] and nv["libraries"] == [] and nv["gpus"] == []
    assert [d["bus_id"] for d in nv["pci_devices"]] == ["0000:31:00.0"]  # the host's sysfs shows through
    assert nv["nvml_error"]["code"] == "LibraryNotFound"
    assert nv["sources"]["cuda_driver_version"] == "inferred from driver version"
    assert framework(doc, "pytorch")["cuda_version"] == "12.6"


def test_wsl2_rtx4090(snap: Any) -> None:
    doc = snap("wsl2-rtx4090")
    assert doc["host"]["wsl"] is True and doc["host"]["in_container"] is None
    nv = doc["nvidia"]
    assert nv["pci_devices"] == [] and nv["module_loaded"] is False
    assert nv["device_nodes"] == ["/dev/dxg"] and nv["wsl_libcuda"] is True
    assert nv["userspace_driver_version"] is None  # libcuda.so.1.1 is no driver version
    assert (nv["driver_version"], nv["cuda_driver_version"]) == ("566.36", "12.7")
    g = only_gpu(doc)
    assert (g["name"], g["compute_capability"], g["persistence_mode"]) == ("NVIDIA GeForce RTX 4090", "8.9", None)


def test_two_gpus_one_fallen_off_bus(snap: Any) -> None:
    nv = snap("two-gpus-one-fallen-off-bus")["nvidia"]
    assert nv["gpu_count_nvml"] == 2 and len(nv["pci_devices"]) == 2
    healthy, lost = nv["gpus"]
    assert healthy["name"] == "NVIDIA A100-SXM4-80GB" and "error" not in healthy
    assert lost["index"] == 1 and lost["error_code"] == "GpuIsLost"
    assert "fallen off the bus" in lost["error"]


def test_old_driver_missing_nvml_functions(snap: Any) -> None:
    nv = snap("old-driver-missing-nvml-functions")["nvidia"]
    assert (nv["driver_version"], nv["cuda_driver_version"]) == ("450.80.02", "11.0")
    assert nv["sources"]["cuda_driver_version"] == "nvml"  # the v1 call, after v2 raised FunctionNotFound
    g = only_gpu(snap("old-driver-missing-nvml-functions"))
    assert (g["name"], g["compute_capability"]) == ("Tesla V100-SXM2-16GB", "7.0")
    assert g["mig_mode"] is None and g["remapped_rows_pending"] is None and g["remapped_rows_failure"] is None
    assert g["clocks_event_reasons"] == ["gpu_idle"]
    assert g["ecc_mode"] is True and g["memory_total_mib"] == 16160


def test_hanging_nvidia_smi_is_cut_off(tmp_path: Path) -> None:
    machine = load_machine("hanging-nvidia-smi", tmp_path, timeout_s=HANG_TIMEOUT_S)
    started = time.monotonic()
    doc = take_snapshot(machine)
    assert time.monotonic() - started < 5.0
    failures = [f for f in doc["probe_failures"] if "nvidia-smi" in f["probe"]]
    assert len(failures) == 1 and "timed out" in failures[0]["error"], doc["probe_failures"]
    nv = doc["nvidia"]
    assert nv["nvml_error"]["code"] == "Unknown"
    assert nv["driver_version"] == "535.183.01" and nv["cuda_driver_version"] == "12.2"


def test_gtx1080ti_sm61_torch_cu130(snap: Any) -> None:
    doc = snap("gtx1080ti-sm61-torch-cu130")
    assert only_gpu(doc)["compute_capability"] == "6.1"
    assert doc["nvidia"]["driver_version"] == "580.95.05"
    torch = framework(doc, "pytorch")
    assert (torch["variant"], torch["cuda_version"]) == ("cuda", "13.0")


def test_cpu_torch_on_gpu_box(snap: Any) -> None:
    doc = snap("cpu-torch-on-gpu-box")
    assert only_gpu(doc)["name"] == "NVIDIA A10G"
    torch = framework(doc, "pytorch")
    assert (torch["version"], torch["variant"], torch["cuda_version"]) == ("2.13.0+cpu", "cpu", None)
    assert doc["frameworks"]["nvidia_wheels"] == []


def test_user_site_shadows_torch(snap: Any) -> None:
    doc = snap("user-site-shadows-torch")
    py = doc["frameworks"]["python"]
    assert py["user_site_enabled"] is True
    torch = framework(doc, "pytorch")
    assert (torch["version"], torch["location"]) == ("2.1.0", "/home/ml/.local/lib/python3.11/site-packages")
    assert torch["duplicates"] == [
        {"distribution": "torch", "version": "2.13.0", "location": "/home/ml/venv/lib/python3.11/site-packages"}]


def test_ld_library_path_shadows_cuda(snap: Any) -> None:
    doc = snap("ld-library-path-shadows-cuda")
    assert doc["environment"]["variables"]["LD_LIBRARY_PATH"] == "/usr/local/cuda-11.8/lib64"
    tk = doc["cuda_toolkits"]
    assert [(t["path"], t["version"]) for t in tk["toolkits"]] == [("/usr/local/cuda-11.8", "11.8.0")]
    sources = {(c["version"], c["source"]) for c in tk["cudnn"]}
    assert sources == {("8.9.7", "system"), ("9.5.1.17", "pip nvidia-cudnn-cu12")}
    assert framework(doc, "pytorch")["cuda_version"] == "12.6"


@pytest.mark.parametrize(("name", "value"), [("cuda-visible-devices-empty", ""),
                                              ("cuda-visible-devices-out-of-range", "2,3")])
def test_cuda_visible_devices(name: str, value: str, snap: Any) -> None:
    doc = snap(name)
    assert doc["environment"]["variables"]["CUDA_VISIBLE_DEVICES"] == value
    assert doc["nvidia"]["gpu_count_nvml"] == 1  # NVML ignores CUDA_VISIBLE_DEVICES


def test_docker_without_nvidia_runtime(snap: Any) -> None:
    docker = snap("docker-without-nvidia-runtime")["docker"]
    assert docker["reachable"] is True and docker["error"] is None
    assert docker["server_version"] == "27.3.1"
    assert docker["runtimes"] == ["io.containerd.runc.v2", "runc"] and docker["default_runtime"] == "runc"
    assert docker["nvidia_runtime"] is False and docker["nvidia_ctk"] is None and docker["cdi_nvidia_spec"] is False


def test_tensorflow_missing_cudnn(snap: Any) -> None:
    doc = snap("tensorflow-missing-cudnn")
    tf = framework(doc, "tensorflow")
    assert (tf["version"], tf["variant"]) == ("2.18.0", "cuda")
    assert doc["cuda_toolkits"]["cudnn"] == [] and doc["frameworks"]["nvidia_wheels"] == []


def test_unhealthy_a100(snap: Any) -> None:
    g = only_gpu(snap("unhealthy-a100"))
    assert g["ecc_errors_uncorrected"] == 3
    assert g["remapped_rows_pending"] is True and g["remapped_rows_failure"] is False
    assert g["pcie_link"] == {"current_gen": 3, "max_gen": 4, "current_width": 8, "max_width": 16}
    assert g["clocks_event_reasons"] == ["sw_power_cap", "hw_thermal_slowdown"]
    assert g["persistence_mode"] is False and g["compute_processes"] == 1
    pci = snap("unhealthy-a100")["nvidia"]["pci_devices"][0]
    assert (pci["current_link_width"], pci["max_link_width"]) == ("8", "16")


def test_mig_enabled_a100(snap: Any) -> None:
    assert only_gpu(snap("mig-enabled-a100"))["mig_mode"] is True
    assert only_gpu(snap("h100-driver-580-cuda13"))["mig_mode"] is False


def test_conda_pytorch_cpu_build_on_gpu_box(snap: Any) -> None:
    doc = snap("conda-pytorch-cpu-build-on-gpu-box")
    assert doc["environment"]["variables"]["CONDA_PREFIX"] == "/home/lee/miniforge3/envs/ml"
    assert doc["frameworks"]["python"]["is_conda"] is True
    torch = framework(doc, "pytorch")
    assert (torch["variant"], torch["installer"], torch["conda_build"]) == ("cpu", "conda", "cpu_mkl_py311_h1234_100")
    assert doc["nvidia"]["driver_version"] == "560.35.03"


# --- AMD and no accelerator --------------------------------------------------------

def test_amd_mi300x_rocm(snap: Any) -> None:
    doc = snap("amd-mi300x-rocm")
    amd = doc["amd"]
    assert amd["present"] is True and amd["source"] == "kfd" and amd["rocm_version"] == "6.2.4"
    assert [(g["gfx_target"], g["memory_total_mib"]) for g in amd["gpus"]] == [("gfx942", 196592)] * 2
    assert [d["class"] for d in amd["pci_devices"]] == ["0x120000"] * 2
    assert amd["kfd_present"] and amd["amdgpu_loaded"]
    assert amd["dri_render_nodes"] == ["/dev/dri/renderD128", "/dev/dri/renderD129"]
    assert amd["user_groups"] == {"render": True, "video": True}
    assert doc["nvidia"]["present"] is False
    torch = framework(doc, "pytorch")
    assert (torch["variant"], torch["cuda_version"]) == ("rocm", "6.2")


def test_amd_gfx_not_covered_not_in_render_group(snap: Any) -> None:
    doc = snap("amd-gfx-not-covered-not-in-render-group")
    amd = doc["amd"]
    assert [(g["gfx_target"], g["memory_total_mib"]) for g in amd["gpus"]] == [("gfx1032", 8176)]
    assert amd["user_groups"] == {"render": False, "video": False}
    assert "HSA_OVERRIDE_GFX_VERSION" not in doc["environment"]["variables"]
    torch = framework(doc, "pytorch")
    assert (torch["variant"], torch["cuda_version"]) == ("rocm", "7.2")


def test_cpu_only_laptop(snap: Any) -> None:
    doc = snap("cpu-only-laptop")
    assert doc["nvidia"]["present"] is False and doc["nvidia"]["nvml_error"] is None
    assert doc["amd"]["present"] is False
    assert doc["other_accelerators"]["intel_xpu"]["xpu_capable_driver"] is True
    assert framework(doc, "pytorch")["variant"] == "cpu"


# --- this real machine ---------------------------------------------------------------

def test_this_machine() -> None:
    doc = take_snapshot(Machine.this_one())
    assert doc["probe_failures"] == []
    if not os.path.exists("/dev/nvidiactl"):
        assert doc["nvidia"]["gpus"] == []
    if not os.path.isdir("/usr/local/cuda-13.0"):
        pytest.skip("no CUDA 13.0 toolkit at /usr/local/cuda-13.0 on this machine")
    toolkits = {t["path"]: t for t in doc["cuda_toolkits"]["toolkits"]}
    assert toolkits["/usr/local/cuda-13.0"]["version"] == "13.0"
    assert "/usr/local" not in toolkits  # /usr/local/bin/nvcc may be a wrapper script, not a toolkit


def test_nvcc_wrapper_script_leads_to_its_toolkit(tmp_path: Path) -> None:
    root, bin_dir = tmp_path / "root", tmp_path / "bin"
    tk = root / "opt/cuda-12.4"
    (tk / "bin").mkdir(parents=True)
    (tk / "include").mkdir()
    (tk / "include/cuda.h").write_text("#define CUDA_VERSION 12040\n")
    (tk / "version.json").write_text('{"cuda": {"version": "12.4.1"}}\n')
    (tk / "bin/nvcc").write_text("")
    bin_dir.mkdir()
    (bin_dir / "nvcc").write_text('#!/bin/sh\nexec /opt/cuda-12.4/bin/nvcc "$@"\n')
    (bin_dir / "nvcc").chmod(0o755)
    env = {"PATH": str(bin_dir)}
    machine = Machine(root=root, env=env, runner=Runner(env=env), system="Linux", arch="x86_64", glibc=None,
                      hostname="h", user=UserInfo("u", 1000, (1000,), "/home/u"), own_python=os.devnull)
    notes = Notes()
    toolkits = probe_cuda_toolkits(machine, notes)["toolkits"]
    assert [(t["path"], t["version"], t["on_path"]) for t in toolkits] == [("/opt/cuda-12.4", "12.4.1", True)]


# --- redaction -------------------------------------------------------------------------

def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}/{i}").items()}
    return {path: value}


def test_redact_snapshot(snap: Any) -> None:
    doc = copy.deepcopy(snap("conda-pytorch-cpu-build-on-gpu-box"))
    uuid = doc["nvidia"]["gpus"][0]["uuid"]
    other = "GPU-00000000-1111-4222-8333-444444444444"
    doc["nvidia"]["gpus"].append({"index": 1, "uuid": other, "name": "x"})
    doc["nvidia"]["gpus"].append({"index": 2, "uuid": uuid, "name": "same board again"})
    original = copy.deepcopy(doc)
    red = redact_snapshot(doc)
    assert doc == original  # the input is left alone
    assert red["redacted"] is True
    assert (red["host"]["hostname"], red["host"]["user"]) == ("<host>", "<user>")
    placeholders = [g["uuid"] for g in red["nvidia"]["gpus"]]
    assert placeholders[0] == placeholders[2] != placeholders[1]
    assert all(p.startswith("GPU-<uuid-") for p in placeholders)
    assert red["frameworks"]["python"]["prefix"] == "/home/<user>/miniforge3/envs/ml"
    text = json.dumps(red)
    for secret in ("lee-desktop", uuid, other, "/home/lee/"):
        assert secret not in text
    assert redact_snapshot(red) == red  # placeholders are stable
    before, after = _leaves(original), _leaves(red)
    assert before.keys() == after.keys()
    changed = {k for k in before if before[k] != after[k]}
    touched = {k for k, v in before.items()
               if isinstance(v, str) and ("lee" in v or v.startswith("GPU-"))}
    assert changed == touched | {"/redacted"}


# --- the runner ------------------------------------------------------------------------

def test_runner_timeout_kills_grandchildren_holding_the_pipe(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
            "print('started', flush=True)\n"
            "time.sleep(60)\n")
    started = time.monotonic()
    result = Runner(env=dict(os.environ)).run([sys.executable, "-c", code], timeout_s=1.0)
    assert time.monotonic() - started < 5.0
    assert result.timed_out and not result.ok and result.returncode is None
    assert "timed out" in result.describe_failure()
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{grandchild}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            break  # gone
        if state == "Z":
            break  # dead, waiting to be reaped by init
        time.sleep(0.05)
    else:
        pytest.fail(f"grandchild {grandchild} survived the timeout")


def test_runner_missing_command_is_a_start_error(tmp_path: Path) -> None:
    runner = Runner(env={"PATH": str(tmp_path)})
    result = runner.run(["no-such-command-dldoctor", "--version"])
    assert result.start_error == "not found on PATH" and not result.ok
    assert "could not start" in result.describe_failure()
    not_executable = tmp_path / "plain-file"
    not_executable.write_text("#!/bin/sh\necho hi\n")
    result = runner.run([str(not_executable)])
    assert result.start_error is not None and result.returncode is None


def test_runner_uses_no_shell(tmp_path: Path) -> None:
    runner = Runner(env={"PATH": os.environ.get("PATH", "")})
    literal = "$(touch pwned); `touch pwned2` | echo x > out; *"
    result = runner.run([sys.executable, "-c", "import sys; print(sys.argv[1])", literal], cwd=str(tmp_path))
    assert result.ok and result.stdout.strip() == literal
    assert sorted(os.listdir(tmp_path)) == []
    assert runner.run(["echo hello"]).start_error == "not found on PATH"  # no word splitting either


# --- libcuda in a child process ----------------------------------------------------------

FAKE_LIBCUDA = "int cuDriverGetVersion(int *version) { *version = 12040; return 0; }\n"


def test_libcuda_child_process_reads_the_driver_version(tmp_path: Path) -> None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler on this machine to build a fake libcuda.so")
    root = tmp_path / "root"
    shutil.copytree(SCENARIOS / "driver-library-mismatch" / "root", root, symlinks=True)
    lib = root / "usr/lib/x86_64-linux-gnu/libcuda.so.550.90.07"
    lib.unlink()
    (tmp_path / "libcuda.c").write_text(FAKE_LIBCUDA)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "libcuda.c")], check=True, timeout=60)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {"PATH": str(empty)}  # no nvidia-smi: only libcuda can give the CUDA version
    machine = Machine(root=root, env=env, runner=Runner(env=env, default_timeout_s=20.0), system="Linux",
                      arch="x86_64", glibc=None, hostname="h", user=UserInfo("u", 1000, (1000,), "/home/u"),
                      own_python=sys.executable,
                      load_nvml=lambda: load_nvml_bindings(fake_libnvml.install({"init_error": "LibRmVersionMismatch"},
                                                                                tmp_path / "nvml")))
    notes = Notes()
    nv = probe_nvidia(machine, notes)
    assert notes.failures == []
    assert nv["cuda_driver_version"] == "12.4" and nv["sources"]["cuda_driver_version"] == "libcuda"
    assert nv["nvml_error"]["code"] == "LibRmVersionMismatch"
