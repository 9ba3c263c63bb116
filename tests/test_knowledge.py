"""The knowledge base: invariants of the packaged tables, the query functions, and the override folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from dldoctor import knowledge
from dldoctor.errors import InputError
from dldoctor.knowledge import DATA_DIR, OVERRIDE_ENV, table, table_names
from dldoctor.knowledge.catalog import summary
from dldoctor.knowledge.cuda import cuda_supports_capability, driver_floor, driver_runs_cuda, max_cuda_for_driver, min_driver
from dldoctor.knowledge.frameworks import framework_info, frameworks
from dldoctor.knowledge.gpus import gpu_peaks
from dldoctor.knowledge.jax import jax_cuda_requirements
from dldoctor.knowledge.pytorch import WheelArchs, capability_runs, torch_release_variants, torch_wheel_archs
from dldoctor.knowledge.rocm import rocm_gfx_targets
from dldoctor.knowledge.tensorflow import tensorflow_requirements
from dldoctor.knowledge.versions import cuda_of_tag as cuda_of_variant


@pytest.fixture(autouse=True)
def _packaged_tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts and ends on the packaged tables, with an empty cache."""
    monkeypatch.delenv(OVERRIDE_ENV, raising=False)
    knowledge.set_override_dir(None)
    yield
    knowledge.set_override_dir(None)


def rows(name: str) -> tuple[dict[str, Any], ...]:
    return table(name).rows


def mm(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


EXPECTED_TABLES = {
    "cloud_dmi", "cuda_driver", "cuda_minor_compat", "torch_variants", "cuda_arch_support", "torch_wheel_archs",
    "rocm_gfx", "tensorflow_cuda", "jax_cuda", "gpu_peaks", "frameworks",
}


# --- every table ------------------------------------------------------------------------


def test_every_expected_table_is_packaged() -> None:
    assert EXPECTED_TABLES <= set(table_names())


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_table_has_source_verified_date_and_rows(name: str) -> None:
    doc = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["table"] == name
    assert isinstance(doc["source"], str) and len(doc["source"]) > 20
    verified = date.fromisoformat(doc["verified"])
    assert date(2024, 1, 1) <= verified <= date.today()
    assert isinstance(doc["rows"], list) and doc["rows"]
    for row in doc["rows"]:
        assert isinstance(row, dict)
        assert isinstance(row.get("verified", True), bool)
    # a table with unverified rows says why in its notes
    if any(r.get("verified") is False for r in doc["rows"]):
        assert doc.get("notes")


def test_summary_lists_every_table() -> None:
    entries = {e["name"]: e for e in summary(today=date(2026, 12, 24))}
    assert EXPECTED_TABLES <= set(entries)
    driver = entries["cuda_driver"]
    assert driver["verified"] == "2026-11-24"
    assert driver["age_days"] == 30
    assert driver["rows"] == len(rows("cuda_driver"))
    assert driver["overridden"] is False
    assert Path(driver["path"]) == DATA_DIR / "cuda_driver.json"


# --- table A: drivers -----------------------------------------------------------------------


@pytest.mark.parametrize("os_key", ["linux", "windows"])
def test_driver_floors_never_decrease_as_cuda_increases(os_key: str) -> None:
    by_cuda: dict[Version, list[Version]] = {}
    for row in rows("cuda_driver"):
        if row.get(os_key):
            by_cuda.setdefault(Version(row["cuda"]), []).append(Version(row[os_key]))
    versions = sorted(by_cuda)
    assert len(versions) > 15
    for older, newer in pairwise(versions):
        assert min(by_cuda[newer]) >= max(by_cuda[older]), (older, newer)


def test_minor_compat_floor_sits_inside_its_branch() -> None:
    # above every floor of the previous major, at most the X.1 full floor (11.x: 450.80.02 is above 11.0 GA's)
    for row in rows("cuda_minor_compat"):
        floor = Version(row["linux"])
        second = driver_floor(f"{row['major']}.1")
        assert second is not None and floor <= Version(second)
        previous = [Version(r["linux"]) for r in rows("cuda_driver") if Version(r["cuda"]).major == row["major"] - 1]
        assert all(p < floor for p in previous)


def test_driver_queries() -> None:
    assert driver_floor("12.6") == "560.28.03"
    assert min_driver("12.6") == "560.28.03"
    assert min_driver("12.6.3", "full") == "560.28.03"
    assert min_driver("12.6", "minor") == "525.60.13"
    assert min_driver("13.2", "minor") == "580.65.06"
    assert min_driver("11.8", "minor") == "450.80.02"
    assert min_driver("11.8", "minor", os_name="Windows") == "452.39"
    assert min_driver("12.7") is None
    assert min_driver("99.0", "minor") is None
    with pytest.raises(ValueError):
        min_driver("12.6", "sometimes")
    assert max_cuda_for_driver("535.104.05") == "12.2"
    assert max_cuda_for_driver("580.95.05") == "13.0"
    assert max_cuda_for_driver("470.82.01") == "11.4"
    assert max_cuda_for_driver("not a version") is None


def test_driver_runs_cuda_tiers() -> None:
    assert driver_runs_cuda("580.95.05", "13.0") == "full"
    assert driver_runs_cuda("580.95.05", "12.6") == "full"
    assert driver_runs_cuda("580.95.05", "13.2") == "minor"
    assert driver_runs_cuda("535.104.05", "12.6") == "minor"
    assert driver_runs_cuda("535.104.05", "13.0") is None
    assert driver_runs_cuda("470.82.01", "11.8") == "minor"
    assert driver_runs_cuda("470.82.01", "12.6") is None
    assert driver_runs_cuda("450.51.05", "11.0") == "full"
    assert driver_runs_cuda("450.51.05", "11.1") is None  # below the 11.x minor-compat floor 450.80.02
    assert driver_runs_cuda("garbage", "12.6") is None


_FLOORS = sorted({Version(r["linux"]) for r in knowledge.table("cuda_driver").rows})
_CUDAS = sorted({r["cuda"] for r in knowledge.table("cuda_driver").rows})


@given(st.sampled_from(_FLOORS), st.integers(min_value=0, max_value=60), st.sampled_from(_CUDAS))
def test_a_newer_driver_never_runs_less(floor: Version, bump: int, cuda: str) -> None:
    older = str(floor)
    newer = f"{floor.major + bump}.{'.'.join(str(p) for p in floor.release[1:])}".rstrip(".")
    rank = {None: 0, "minor": 1, "full": 2}
    assert rank[driver_runs_cuda(newer, cuda)] >= rank[driver_runs_cuda(older, cuda)]


# --- table B: PyTorch variants ---------------------------------------------------------------


def test_torch_variants_cover_2_0_to_2_14() -> None:
    releases = {mm(str(r["torch"])) for r in rows("torch_variants")}
    assert {(2, m) for m in range(0, 15)} <= releases


def test_cuda_of_variant() -> None:
    assert cuda_of_variant("cu126") == "12.6"
    assert cuda_of_variant("cu118") == "11.8"
    assert cuda_of_variant("cu130") == "13.0"
    assert cuda_of_variant("cuda12.6") == "12.6"
    assert cuda_of_variant("cpu") is None
    assert cuda_of_variant("rocm6.2.4") is None


def test_torch_release_variants() -> None:
    names = [v.name for v in torch_release_variants("2.7.1")]
    assert names == ["cu118", "cu126", "cu128", "rocm6.2.4", "rocm6.3", "cpu", "xpu"]
    assert [v.name for v in torch_release_variants("2.13.0+cpu")] == ["cu126", "cu130", "rocm7.2", "cpu"]
    with_exp = torch_release_variants("2.13", include_experimental=True)
    cu132 = next(v for v in with_exp if v.name == "cu132")
    assert cu132.experimental and cu132.kind == "cuda" and cu132.version == "13.2"
    rocm = next(v for v in with_exp if v.kind == "rocm")
    assert rocm.version == "7.2"
    assert next(v for v in with_exp if v.name == "cpu").version is None
    assert [v.name for v in torch_release_variants("1.13")] == ["cu116", "cu117", "rocm5.1.1", "rocm5.2", "cpu"]
    assert torch_release_variants("1.6") == []  # older than the table
    assert torch_release_variants("nonsense") == []


def test_variant_names_agree_with_their_versions() -> None:
    for row in rows("torch_variants"):
        for v in row["variants"]:
            if v["kind"] == "cuda":
                assert cuda_of_variant(v["name"]) == v["version"], v
            elif v["kind"] == "rocm":
                assert v["name"] == f"rocm{v['version']}", v
            else:
                assert v["version"] is None and v["name"] == v["kind"], v


def test_every_cuda_variant_has_a_driver_floor_and_an_arch_list() -> None:
    for row in rows("torch_variants"):
        for v in row["variants"]:
            if v["kind"] != "cuda":
                continue
            assert min_driver(v["version"]) is not None, (row["torch"], v["name"])
            for arch in ("x86_64", "aarch64"):
                archs = torch_wheel_archs(v["name"], str(row["torch"]), arch)
                assert archs is not None and archs.sm, (row["torch"], v["name"], arch)


def test_every_rocm_variant_has_a_gfx_list_or_is_marked_unverified() -> None:
    gfx_rows = {r["rocm"]: r for r in rows("rocm_gfx")}
    for row in rows("torch_variants"):
        for v in row["variants"]:
            if v["kind"] != "rocm":
                continue
            gfx = gfx_rows.get(v["version"])
            known = gfx is not None and gfx.get("targets")
            unverified = v.get("verified") is False or (gfx is not None and gfx.get("verified") is False)
            assert known or unverified, (row["torch"], v["name"])


# --- table C: compute capabilities -----------------------------------------------------------


def test_wheel_arch_ranges_do_not_overlap() -> None:
    by_variant: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    for row in rows("torch_wheel_archs"):
        low = mm(row["torch_min"])
        high = mm(row["torch_max"]) if row["torch_max"] else (99, 99)
        assert low <= high, row
        by_variant.setdefault(row["variant"], []).append((low, high))
    for variant, ranges in by_variant.items():
        ranges.sort()
        for (_, high), (low, _) in pairwise(ranges):
            assert high < low, variant


def test_wheel_archs_are_ones_their_toolkit_can_build() -> None:
    for row in rows("torch_wheel_archs"):
        cuda = cuda_of_variant(row["variant"])
        assert cuda is not None
        for cc in [*row["sm"], *row.get("ptx", []), *row.get("aarch64_extra_sm", [])]:
            assert cuda_supports_capability(cuda, cc), (row["variant"], cc)


def test_torch_wheel_archs() -> None:
    old = torch_wheel_archs("cu128", "2.7.1")
    new = torch_wheel_archs("cu128", "2.8.0")
    assert old is not None and new is not None
    assert "7.0" not in old.sm and old.ptx == ("12.0",)
    assert "7.0" in new.sm and new.ptx == ()
    x86 = torch_wheel_archs("cu130", "2.13")
    arm = torch_wheel_archs("cu130", "2.13", machine_arch="aarch64")
    assert x86 is not None and arm is not None
    assert "11.0" not in x86.sm and "11.0" in arm.sm
    assert x86.arch_list[-1] == "compute_120" and x86.arch_list[0] == "sm_75"
    assert torch_wheel_archs("cu118", "2.8") is None  # cu118 ended with 2.7
    assert torch_wheel_archs("cu999", "2.8") is None


def test_capability_runs() -> None:
    archs = WheelArchs("cu999", sm=("6.0", "8.0", "8.6"), ptx=("9.0",))
    assert capability_runs("6.1", archs)  # same major, newer minor
    assert capability_runs("sm_89", archs)
    assert not capability_runs("7.5", archs)  # sm_70 absent; sm_60 is another major
    assert not capability_runs("5.2", archs)
    assert capability_runs("9.0", archs)  # through PTX
    assert capability_runs("12.0", archs)  # PTX JITs for any newer device
    no_ptx = WheelArchs("cu999", sm=("8.6",), ptx=())
    assert not capability_runs("8.0", no_ptx)  # a cubin does not run on an older minor
    assert not capability_runs("9.0", no_ptx)
    assert not capability_runs("garbage", no_ptx)


def test_cuda_supports_capability() -> None:
    assert cuda_supports_capability("12.8", "12.0")
    assert not cuda_supports_capability("12.6", "12.0")
    assert cuda_supports_capability("12.9", "6.1")
    assert not cuda_supports_capability("13.0", "6.1")
    assert cuda_supports_capability("11.8", "3.7")
    assert not cuda_supports_capability("12.0", "3.7")
    assert cuda_supports_capability("13.0", "sm_110")
    assert not cuda_supports_capability("12.9", "11.0")
    assert not cuda_supports_capability("13.0", "4.2")


def test_rocm_gfx_targets() -> None:
    r72 = rocm_gfx_targets("7.2")
    r71 = rocm_gfx_targets("7.1")
    assert r72 is not None and r71 is not None
    assert set(r72) - set(r71) == {"gfx1150", "gfx1151"}
    assert "gfx950" in r71 and "gfx950" not in (rocm_gfx_targets("6.4") or [])
    assert "gfx1101" in (rocm_gfx_targets("6.1") or [])
    # a HIP version string from torch.version.hip matches the newest row of its major.minor not newer than it
    assert rocm_gfx_targets("6.2.41133-dd7f95766") == rocm_gfx_targets("6.2.4")
    assert rocm_gfx_targets("rocm6.3") == rocm_gfx_targets("6.3")
    assert "gfx1100" in (rocm_gfx_targets("5.7") or [])
    assert rocm_gfx_targets("5.3") == ["gfx900", "gfx906", "gfx908", "gfx90a", "gfx1030"]
    assert rocm_gfx_targets("9.9") is None


def test_rocm_gfx_sets_only_grow_from_6_2_4_on() -> None:
    known = sorted((Version(r["rocm"]), set(r["targets"])) for r in rows("rocm_gfx") if r.get("targets"))
    later = [(v, t) for v, t in known if v >= Version("6.2.4")]
    for (_, older), (_, newer) in pairwise(later):
        assert older <= newer


# --- table D: TensorFlow and JAX ---------------------------------------------------------------


def test_tensorflow_requirements() -> None:
    assert tensorflow_requirements("2.15.1") == ("12.2", "8.9")
    assert tensorflow_requirements("2.10") == ("11.2", "8.1")
    req = tensorflow_requirements("2.21.0")
    assert req is not None and req.cuda == "12.5" and req.cudnn == "9.3"
    assert tensorflow_requirements("2.3") == ("10.1", "7.6")
    assert tensorflow_requirements("2.2") is None
    assert tensorflow_requirements("3.0") is None


def test_tensorflow_ranges_are_ordered_and_disjoint() -> None:
    ranges = [(mm(r["tf_min"]), mm(r["tf_max"]), Version(r["cuda"])) for r in rows("tensorflow_cuda")]
    for (low1, high1, cuda1), (low2, _high2, cuda2) in pairwise(ranges):
        assert low1 <= high1 < low2
        assert cuda1 <= cuda2


def test_jax_cuda_requirements() -> None:
    j12 = jax_cuda_requirements(12)
    j13 = jax_cuda_requirements("13")
    assert j12 is not None and j13 is not None
    assert (j12.min_cuda, j12.cudnn_min, j12.cudnn_below, j12.min_driver, j12.min_sm) == ("12.1", "9.8", "10", "525", "5.2")
    assert j13.min_driver == "580" and j13.min_sm == "7.5" and j13.min_capability == "7.5"
    assert j13.plugin == "jax-cuda13-plugin"
    assert jax_cuda_requirements(11) is None


# --- table E: GPU peaks --------------------------------------------------------------------------


def test_gpu_peaks_best_never_exceeds_peak() -> None:
    for row in rows("gpu_peaks"):
        if row.get("best_bf16_tflops") is not None:
            assert row["best_bf16_tflops"] <= row["bf16_tflops"], row["name"]
        if row.get("best_copy_gbs") is not None:
            assert row["best_copy_gbs"] <= row["memory_bandwidth_gbs"], row["name"]
        assert row["fp32_tflops"] > 0 and row["memory_bandwidth_gbs"] > 0


@pytest.mark.parametrize(("nvml_name", "model", "bf16", "bandwidth"), [
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 989, 3350),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM 80GB", 312, 2000),
    ("Tesla T4", "T4", None, 320),
    ("NVIDIA L4", "L4", 121, 300),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", 165, 1008),
    ("NVIDIA H200", "H200 SXM", 989, 4800),
    ("AMD Instinct MI300X", "MI300X", 1300, 5300),
    ("nvidia  h100 80gb hbm3", "H100 SXM", 989, 3350),
])
def test_gpu_peaks_by_nvml_name(nvml_name: str, model: str, bf16: float | None, bandwidth: float) -> None:
    peaks = gpu_peaks(nvml_name)
    assert peaks is not None
    assert peaks.name == model
    assert peaks.bf16_tflops == bf16
    assert peaks.memory_bandwidth_gbs == bandwidth


def test_gpu_peaks_measured_figures() -> None:
    h100 = gpu_peaks("NVIDIA H100 80GB HBM3")
    assert h100 is not None and h100.best_bf16_tflops == 794 and h100.best_copy_gbs == 3000 and h100.verified
    t4 = gpu_peaks("Tesla T4")
    assert t4 is not None and t4.fp16_tflops == 65 and t4.tf32_tflops is None and t4.best_bf16_tflops is None


def test_other_skus_do_not_borrow_sxm_figures() -> None:
    pcie = gpu_peaks("NVIDIA H100 PCIe")
    assert pcie is None or (pcie.name != "H100 SXM" and not pcie.verified and pcie.best_bf16_tflops is None)
    assert gpu_peaks("NVIDIA A100-SXM4-40GB") is None
    assert gpu_peaks("NVIDIA H100 NVL") is None
    assert gpu_peaks("NVIDIA H200 NVL") is None
    assert gpu_peaks("NVIDIA GeForce RTX 4090 D") is None
    assert gpu_peaks("Some Future GPU") is None
    assert gpu_peaks("") is None


# --- frameworks ------------------------------------------------------------------------------------


def test_frameworks_known() -> None:
    keys = {f.key for f in frameworks()}
    assert {"pytorch", "tensorflow", "keras", "jax", "paddlepaddle", "mxnet", "cntk", "nnabla", "onnxruntime",
            "caffe2", "deeplearning4j"} <= keys
    for info in frameworks():
        assert info.status in ("active", "retired")
        assert info.execution in ("eager", "graph")
        assert (info.retired_year is not None) == info.retired, info.key


@pytest.mark.parametrize(("query", "key"), [
    ("torch", "pytorch"), ("PyTorch", "pytorch"), ("tensorflow-cpu", "tensorflow"), ("tensorflow_rocm", "tensorflow"),
    ("tensorflow-macos", "tensorflow"), ("jaxlib", "jax"), ("jax-cuda13-plugin", "jax"), ("jax-rocm60-plugin", "jax"),
    ("paddlepaddle-gpu", "paddlepaddle"), ("paddle", "paddlepaddle"), ("mxnet-cu112", "mxnet"), ("cntk-gpu", "cntk"),
    ("nnabla-ext-cuda120", "nnabla"), ("onnxruntime-directml", "onnxruntime"), ("onnxruntime-gpu", "onnxruntime"),
    ("Caffe2", "caffe2"), ("dl4j", "deeplearning4j"), ("tf-keras", "keras"),
])
def test_framework_info_by_name_or_distribution(query: str, key: str) -> None:
    info = framework_info(query)
    assert info is not None and info.key == key


def test_retired_frameworks() -> None:
    mxnet = framework_info("mxnet")
    cntk = framework_info("cntk")
    caffe2 = framework_info("caffe2")
    assert mxnet is not None and mxnet.retired and mxnet.retired_year == 2023 and "Attic" in mxnet.note
    assert cntk is not None and cntk.retired and cntk.retired_year == 2019 and "2.7" in cntk.note
    assert caffe2 is not None and caffe2.retired and "PyTorch" in caffe2.note
    torch = framework_info("torch")
    assert torch is not None and not torch.retired and torch.execution == "eager"
    assert torch.latest == max((str(r["torch"]) for r in rows("torch_variants")), key=mm)
    jax = framework_info("jax")
    assert jax is not None and jax.execution == "graph"
    assert framework_info("no-such-framework") is None
    assert framework_info("") is None


# --- the override folder ------------------------------------------------------------------------------


def _newer_driver_table(folder: Path) -> None:
    doc = json.loads((DATA_DIR / "cuda_driver.json").read_text(encoding="utf-8"))
    doc["verified"] = "2099-01-01"
    doc["rows"].insert(0, {"cuda": "99.1", "update": "GA", "linux": "990.10", "windows": None})
    (folder / "cuda_driver.json").write_text(json.dumps(doc), encoding="utf-8")


def test_override_env_replaces_a_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_cuda_for_driver("995.1") == "13.3"
    _newer_driver_table(tmp_path)
    monkeypatch.setenv(OVERRIDE_ENV, str(tmp_path))
    knowledge.set_override_dir(None)  # clears the cache; the env var is read on the next load
    assert max_cuda_for_driver("995.1") == "99.1"
    assert table("cuda_driver").overridden
    assert not table("torch_variants").overridden  # tables the folder lacks come from the package
    entry = next(e for e in summary() if e["name"] == "cuda_driver")
    assert entry["overridden"] is True and entry["verified"] == "2099-01-01"
    monkeypatch.delenv(OVERRIDE_ENV)
    knowledge.set_override_dir(None)
    assert max_cuda_for_driver("995.1") == "13.3"


def test_override_dir_option_wins(tmp_path: Path) -> None:
    _newer_driver_table(tmp_path)
    knowledge.set_override_dir(tmp_path)
    assert driver_floor("99.1") == "990.10"
    knowledge.set_override_dir(None)
    assert driver_floor("99.1") is None


def test_a_broken_override_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "cuda_driver.json").write_text("{not json", encoding="utf-8")
    knowledge.set_override_dir(tmp_path)
    with pytest.raises(InputError):
        max_cuda_for_driver("580.95.05")
