"""The rules against the simulated machines (expected.json per scenario) and their tricky logic."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dldoctor.check import diagnose
from dldoctor.report import Report, Severity
from dldoctor.rules import EXPLANATIONS, load_rules
from dldoctor.rules.compat import capability_covered, driver_tier
from dldoctor.rules.cuda import parse_visible_devices
from dldoctor.snapshot import take_snapshot
from tests.simulate import SCENARIOS, load_machine, scenario_names

_CACHE: dict[str, dict[str, Any]] = {}


def snapshot_of(name: str, tmp_path: Path) -> dict[str, Any]:
    if name not in _CACHE:
        _CACHE[name] = take_snapshot(load_machine(name, tmp_path))
    return copy.deepcopy(_CACHE[name])


def ids(report: Report, *severities: Severity) -> dict[str, str]:
    return {f.id: f.severity.value for f in report.findings if not severities or f.severity in severities}


# --- every scenario has its verdicts written down -------------------------------------------

def test_every_scenario_has_expected_json() -> None:
    missing = [n for n in scenario_names() if not (SCENARIOS / n / "expected.json").is_file()]
    assert not missing, f"scenarios without expected.json: {missing}"


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_findings(name: str, tmp_path: Path) -> None:
    path = SCENARIOS / name / "expected.json"
    if not path.is_file():
        pytest.fail(f"{name} has no expected.json")
    expected = json.loads(path.read_text())
    report = diagnose(snapshot_of(name, tmp_path))
    got = ids(report)
    want = expected.get("findings", {})
    loud = {i: s for i, s in want.items() if s in ("error", "warning")}
    assert ids(report, Severity.ERROR, Severity.WARNING) == loud, "\n".join(f"{f.id}: {f.title}" for f in report.findings)
    for finding_id, severity in want.items():
        assert got.get(finding_id) == severity, f"{finding_id}: want {severity}, got {got.get(finding_id)}"
    for finding_id in expected.get("absent", []):
        assert finding_id not in got, f"{finding_id} must not appear: {got}"
    recs = {r.framework: r.variant for r in report.recommendations}
    for framework, variant in expected.get("recommendations", {}).items():
        assert recs.get(framework) == variant, f"{framework}: want {variant}, got {recs.get(framework)}"


def test_every_emitted_id_is_explained(tmp_path: Path) -> None:
    load_rules()
    for name in scenario_names():
        for finding in diagnose(snapshot_of(name, tmp_path)).findings:
            assert finding.id in EXPLANATIONS, finding.id


# --- tricky logic ---------------------------------------------------------------------------

@pytest.mark.parametrize(("driver", "cuda", "tier"), [
    ("560.35.03", "12.6", "full"),
    ("535.104.05", "12.6", "minor-version compatibility"),
    ("525.60.13", "12.8", "minor-version compatibility"),
    ("525.60.12", "12.1", "too old"),
    ("470.82.01", "12.6", "too old"),
    ("575.51.03", "13.0", "too old"),  # no minor-version compatibility across majors
    ("580.95.05", "13.0", "full"),
    ("580.95.05", "13", "full"),
    ("575.51.03", "13", "too old"),
    ("550.54.14", "12", "full"),
    (None, "12.6", "unknown"),
    ("garbage", "12.6", "unknown"),
])
def test_driver_tier(driver: str | None, cuda: str, tier: str) -> None:
    assert driver_tier(driver, cuda).tier == tier


@pytest.mark.parametrize(("capability", "arch", "covered"), [
    ("8.6", ["sm_80"], True),  # same major, higher minor runs sm_80 code
    ("8.0", ["sm_86"], False),  # lower minor does not
    ("8.9", ["sm_80", "sm_86", "sm_90"], True),
    ("9.0", ["sm_80", "sm_86"], False),  # SASS never crosses a major
    ("9.0", ["sm_80", "compute_80"], True),  # PTX JIT does
    ("12.0", ["8.0", "9.0+PTX"], True),
    ("7.5", ["9.0+PTX"], False),  # PTX does not run on older GPUs
    ("6.1", ["sm_75", "sm_80", "sm_90", "sm_100", "sm_120"], False),
    ("6.1", ["sm_50", "sm_60"], True),
    ("junk", ["sm_80"], None),
])
def test_capability_covered(capability: str, arch: list[str], covered: bool | None) -> None:
    assert capability_covered(capability, arch) is covered


GPUS = [{"index": 0, "uuid": "GPU-aaaa1111-0000-0000-0000-000000000000"},
        {"index": 1, "uuid": "GPU-bbbb2222-0000-0000-0000-000000000000"}]


@pytest.mark.parametrize(("value", "visible", "invalid"), [
    (None, ["0", "1"], None),
    ("", [], ""),
    ("-1", [], "-1"),
    ("0", ["0"], None),
    ("1,0", ["1", "0"], None),
    ("0,2,1", ["0"], "2"),  # CUDA stops at the first bad entry
    ("2", [], "2"),
    ("GPU-bbbb", ["GPU-bbbb"], None),  # a unique UUID prefix is enough
    ("GPU-", [], "GPU-"),
    ("GPU-cccc", [], "GPU-cccc"),
    ("0,0", ["0"], "0"),
    (" 1 , 0 ", ["1", "0"], None),
    ("MIG-1234", [], "MIG-1234"),  # MIG UUIDs only count where MIG is on
])
def test_parse_visible_devices(value: str | None, visible: list[str], invalid: str | None) -> None:
    parsed = parse_visible_devices(value, GPUS)
    assert parsed.visible == visible
    assert parsed.invalid == invalid


# --- one rule at a time, on a healthy H100 snapshot with one thing broken ------------------

H100 = "h100-driver-580-cuda13"
LAPTOP = "cpu-only-laptop"


@pytest.fixture
def h100(tmp_path: Path) -> dict[str, Any]:
    return snapshot_of(H100, tmp_path)


def torch_of(snap: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in snap["frameworks"]["installed"] if f["name"] == "pytorch")


def test_healthy_h100_is_ok(h100: dict[str, Any]) -> None:
    report = diagnose(h100)
    assert report.status == "ok"
    assert "frameworks.will-use-gpu" in ids(report)


def test_cpu_build_on_gpu_machine(h100: dict[str, Any]) -> None:
    torch_of(h100).update(version="2.13.0+cpu", variant="cpu", cuda_version=None)
    got = ids(diagnose(h100))
    assert got["frameworks.cpu-build-on-gpu-machine"] == "error"
    assert "frameworks.will-use-gpu" not in got


def test_conda_cpu_build_string(h100: dict[str, Any]) -> None:
    torch_of(h100).update(variant="cpu", cuda_version=None, conda_build="cpu_mkl_py311h1234_100", installer="conda")
    finding = next(f for f in diagnose(h100).findings if f.id == "frameworks.cpu-build-on-gpu-machine")
    assert "cpu_mkl" in finding.detail
    assert any("cuda*" in c for c in finding.fix)


def test_driver_too_old_for_framework(h100: dict[str, Any]) -> None:
    h100["nvidia"].update(driver_version="535.104.05", cuda_driver_version="12.2")
    finding = next(f for f in diagnose(h100).findings if f.id == "driver.too-old-for-framework")
    assert finding.severity is Severity.ERROR
    assert finding.evidence["framework"] == "pytorch"
    assert finding.evidence["minor_compat_floor"] == "580.65.06"
    assert any("nvidia-driver-580" in c for c in finding.fix)


def test_minor_version_compatibility_is_not_an_error(h100: dict[str, Any]) -> None:
    torch_of(h100).update(version="2.13.0", cuda_version="12.6")
    h100["nvidia"].update(driver_version="535.104.05", cuda_driver_version="12.2")
    report = diagnose(h100)
    finding = next(f for f in report.findings if f.id == "frameworks.will-use-gpu")
    assert finding.evidence["driver_tier"] == "minor-version compatibility"
    assert report.status == "ok"


def test_capability_not_compiled_from_deep(h100: dict[str, Any]) -> None:
    h100["nvidia"]["gpus"][0]["compute_capability"] = "6.1"
    torch_of(h100)["deep"] = {"cuda_available": True, "arch_list": ["sm_75", "sm_80", "sm_90", "sm_100", "sm_120"]}
    got = ids(diagnose(h100))
    assert got["frameworks.capability-not-compiled"] == "error"


def test_deep_result_overrides_prediction(h100: dict[str, Any]) -> None:
    torch_of(h100)["deep"] = {"cuda_available": False, "arch_list": ["sm_90"], "warnings": ["CUDA initialization: boom"]}
    finding = next(f for f in diagnose(h100).findings if f.id == "frameworks.gpu-not-used")
    assert "boom" in finding.detail


def test_visible_devices_hides_all(h100: dict[str, Any]) -> None:
    h100["environment"]["variables"]["CUDA_VISIBLE_DEVICES"] = ""
    got = ids(diagnose(h100))
    assert got["cuda.visible-devices-hides-gpus"] == "error"
    assert "frameworks.will-use-gpu" not in got


def test_visible_devices_partly_invalid(h100: dict[str, Any]) -> None:
    h100["environment"]["variables"]["CUDA_VISIBLE_DEVICES"] = "0,3"
    assert ids(diagnose(h100))["cuda.visible-devices-invalid"] == "warning"


def test_container_without_gpus(h100: dict[str, Any]) -> None:
    h100["host"]["in_container"] = "docker"
    h100["nvidia"].update(device_nodes=[], libraries=[], gpus=[], module_loaded=False, driver_version=None,
                          nvml_error={"code": "LibraryNotFound", "message": "no libnvidia-ml"})
    report = diagnose(h100)
    got = ids(report, Severity.ERROR, Severity.WARNING)
    assert got == {"containers.no-gpus-passed-through": "error"}
    finding = report.findings[0]
    assert any("--gpus all" in c for c in finding.fix) and any("nvidia-ctk runtime configure" in c for c in finding.fix)


def test_docker_without_nvidia_runtime(h100: dict[str, Any]) -> None:
    h100["docker"].update(reachable=True, server_version="27.3.1", runtimes=["io.containerd.runc.v2", "runc"],
                          nvidia_runtime=False, cdi_nvidia_spec=False, nvidia_ctk=None)
    finding = next(f for f in diagnose(h100).findings if f.id == "containers.docker-no-nvidia-runtime")
    assert any("nvidia-container-toolkit" in c for c in finding.fix)
    h100["docker"]["nvidia_runtime"] = True
    assert "containers.docker-no-nvidia-runtime" not in ids(diagnose(h100))


def test_wsl_without_dxg(h100: dict[str, Any]) -> None:
    h100["host"]["wsl"] = True
    h100["nvidia"].update(device_nodes=[], wsl_libcuda=True, kernel_module_version=None, module_loaded=False)
    assert ids(diagnose(h100))["host.wsl-gpu-not-exposed"] == "error"


def test_ld_library_path_shadows_pip_cudnn(h100: dict[str, Any]) -> None:
    h100["environment"]["variables"]["LD_LIBRARY_PATH"] = "/usr/local/cuda-12.4/lib64"
    h100["cuda_toolkits"]["toolkits"] = [{"path": "/usr/local/cuda-12.4", "version": "12.4", "nvcc": None, "exists": True}]
    h100["cuda_toolkits"]["cudnn"].append(
        {"version": "9.1.0", "path": "/usr/local/cuda-12.4/lib64/libcudnn.so.9.1.0", "source": "system"})
    got = ids(diagnose(h100))
    assert got["cuda.ld-library-path-shadows"] == "error"
    assert "frameworks.will-use-gpu" not in got


def test_toolkit_newer_than_driver(h100: dict[str, Any]) -> None:
    h100["cuda_toolkits"]["toolkits"] = [
        {"path": "/usr/local/cuda-13.2", "version": "13.2", "nvcc": "/usr/local/cuda-13.2/bin/nvcc", "exists": True}]
    assert ids(diagnose(h100))["cuda.toolkit-newer-than-driver"] == "warning"


def test_shadowed_framework_in_user_site(h100: dict[str, Any]) -> None:
    torch_of(h100)["duplicates"] = [
        {"distribution": "torch", "version": "2.4.0", "location": "/home/ubuntu/.local/lib/python3.11/site-packages"}]
    finding = next(f for f in diagnose(h100).findings if f.id == "python.shadowed-framework")
    assert any("PYTHONNOUSERSITE=1" in c for c in finding.fix)
    assert any("pip uninstall" in c for c in finding.fix)


def test_pythonpath_site_packages(h100: dict[str, Any]) -> None:
    h100["environment"]["variables"]["PYTHONPATH"] = "/opt/src:/usr/lib/python3/dist-packages"
    assert ids(diagnose(h100))["python.pythonpath-site-packages"] == "warning"


@pytest.mark.parametrize(("change", "finding_id", "severity"), [
    ({"ecc_errors_uncorrected": 3}, "health.ecc-uncorrected", "error"),
    ({"remapped_rows_pending": True}, "health.retirement-pending", "warning"),
    ({"retired_pages_pending": True}, "health.retirement-pending", "warning"),
    ({"remapped_rows_failure": True}, "health.row-remap-failed", "error"),
    ({"clocks_event_reasons": ["hw_thermal_slowdown"]}, "health.throttling", "warning"),
    ({"clocks_event_reasons": ["hw_power_brake_slowdown"]}, "health.throttling", "warning"),
    ({"mig_mode": True}, "health.mig-enabled", "warning"),  # slices only, or no GPU without instances
    ({"pcie_link": {"current_gen": 5, "max_gen": 5, "current_width": 8, "max_width": 16}}, "health.pcie-degraded",
     "warning"),
    ({"pcie_link": {"current_gen": 3, "max_gen": 5, "current_width": 16, "max_width": 16},
      "clocks_event_reasons": []}, "health.pcie-degraded", "warning"),
    ({"persistence_mode": False}, "health.persistence-off", "info"),
])
def test_health(h100: dict[str, Any], change: dict[str, Any], finding_id: str, severity: str) -> None:
    h100["nvidia"]["gpus"][0].update(change)
    assert ids(diagnose(h100)).get(finding_id) == severity


def test_idle_gpu_at_low_pcie_gen_is_fine(h100: dict[str, Any]) -> None:
    h100["nvidia"]["gpus"][0]["pcie_link"] = {"current_gen": 1, "max_gen": 5, "current_width": 16, "max_width": 16}
    assert "health.pcie-degraded" not in ids(diagnose(h100))


def test_lost_gpu_and_count_mismatch(h100: dict[str, Any]) -> None:
    h100["nvidia"]["gpus"].append({"index": 1, "error": "GpuIsLost: Unknown Error", "error_code": "GpuIsLost"})
    pci = dict(h100["nvidia"]["pci_devices"][0], bus_id="0000:64:00.0")
    h100["nvidia"]["pci_devices"] += [pci, dict(pci, bus_id="0000:75:00.0")]
    finding = next(f for f in diagnose(h100).findings if f.id == "health.gpu-lost")
    assert any("reboot" in c or "--gpu-reset" in c for c in finding.fix)
    assert ids(diagnose(h100))["health.gpu-count-mismatch"] == "error"


def test_probe_failure(h100: dict[str, Any]) -> None:
    h100["probe_failures"] = [{"probe": "nvidia.smi", "error": "nvidia-smi timed out after 5.0s"}]
    finding = next(f for f in diagnose(h100).findings if f.id == "host.probe-failed")
    assert "timed out" in finding.detail


def test_retired_framework(h100: dict[str, Any]) -> None:
    h100["frameworks"]["installed"].append({"name": "mxnet", "version": "1.9.1", "variant": "cpu", "status": "retired",
                                            "note": "Apache MXNet was retired"})
    assert ids(diagnose(h100))["frameworks.retired"] == "warning"


def test_tensorflow_without_cudnn(h100: dict[str, Any]) -> None:
    h100["frameworks"]["nvidia_wheels"] = []
    h100["cuda_toolkits"]["cudnn"] = []
    h100["frameworks"]["installed"].append({"name": "tensorflow", "distribution": "tensorflow", "version": "2.20.0",
                                            "variant": "cuda", "cuda_version": None, "duplicates": []})
    finding = next(f for f in diagnose(h100).findings if f.id == "frameworks.tensorflow-missing-cuda-libs")
    assert "pip install 'tensorflow[and-cuda]'" in finding.fix


def test_jax_cuda13_on_old_driver(h100: dict[str, Any]) -> None:
    h100["nvidia"].update(driver_version="570.124.06", cuda_driver_version="12.8")
    h100["frameworks"]["installed"] = [{"name": "jax", "distribution": "jaxlib", "version": "0.8.1", "variant": "cuda",
                                        "cuda_version": "13", "duplicates": []}]
    report = diagnose(h100)
    assert ids(report)["frameworks.jax-plugin-driver"] == "error"
    assert {r.framework: r.variant for r in report.recommendations}["jax"] == "cuda12"


def test_conda_override_cuda_too_new(h100: dict[str, Any]) -> None:
    h100["environment"]["variables"]["CONDA_OVERRIDE_CUDA"] = "13.2"
    assert ids(diagnose(h100))["cuda.conda-override-too-new"] == "warning"


def _amd(snap: dict[str, Any], *, gfx: str, rocm: str | None, groups: dict[str, bool | None]) -> None:
    snap["nvidia"] = {"present": False, "gpus": [], "pci_devices": []}
    snap["amd"] = {"present": True, "gpus": [{"index": 0, "name": "AMD Radeon", "gfx_target": gfx}], "kfd_present": True,
                   "amdgpu_loaded": True, "user_groups": groups}
    torch_of(snap).update(version=f"2.13.0+rocm{rocm}", variant="rocm", cuda_version=rocm)


def test_amd_gfx_not_in_build_from_deep(h100: dict[str, Any]) -> None:
    _amd(h100, gfx="gfx1031", rocm="7.2", groups={"render": True, "video": True})
    torch_of(h100)["deep"] = {"cuda_available": False, "arch_list": ["gfx90a", "gfx942", "gfx1030", "gfx1100"]}
    finding = next(f for f in diagnose(h100).findings if f.id == "amd.gfx-not-in-build")
    assert any("HSA_OVERRIDE_GFX_VERSION=10.3.0" in c and "unofficial" in c for c in finding.fix)


def test_amd_groups_and_kfd(h100: dict[str, Any]) -> None:
    _amd(h100, gfx="gfx942", rocm="7.2", groups={"render": False, "video": True})
    finding = next(f for f in diagnose(h100).findings if f.id == "amd.user-not-in-groups")
    assert finding.fix == ("sudo usermod -aG render $USER  # then log out and back in",)
    h100["amd"]["kfd_present"] = False
    assert ids(diagnose(h100))["amd.kfd-missing"] == "error"


def test_framework_focus_keeps_only_that_framework(h100: dict[str, Any]) -> None:
    h100["frameworks"]["installed"].append({"name": "mxnet", "version": "1.9.1", "variant": "cpu", "status": "retired"})
    report = diagnose(h100, framework="pytorch")
    assert "frameworks.retired" not in ids(report)
    assert [r.framework for r in report.recommendations] == ["pytorch"] or not report.recommendations


# --- old builds are not called healthy ---------------------------------------------------------


def _old_torch(tmp_path: Path, version: str, cuda: str, cc: str) -> Report:
    snap = snapshot_of("rtx5090-sm120-torch-cu124", tmp_path)
    snap["nvidia"]["gpus"][0]["compute_capability"] = cc
    torch = snap["frameworks"]["installed"][0]
    torch.update(version=version, cuda_version=cuda, cudnn_version=None, variant_source="torch/version.py")
    return diagnose(snap)


def test_torch_1_8_cu102_on_an_rtx_3090_is_an_error(tmp_path: Path) -> None:
    # torch 1.8.0 from PyPI bundles CUDA 10.2, which cannot compile for sm_86
    report = _old_torch(tmp_path, "1.8.0", "10.2", "8.6")
    assert ids(report, Severity.ERROR) == {"frameworks.capability-not-compiled": "error"}
    assert "frameworks.will-use-gpu" not in ids(report)


def test_a_build_with_an_unknown_arch_list_is_not_called_healthy(tmp_path: Path) -> None:
    # no arch row for a cu125 build: say so, never "will use the GPU"
    report = _old_torch(tmp_path, "2.4.0+cu125", "12.5", "8.6")
    assert ids(report).get("frameworks.cannot-verify-build") == "warning"
    assert "frameworks.will-use-gpu" not in ids(report)
