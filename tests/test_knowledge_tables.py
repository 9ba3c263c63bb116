"""The knowledge tables as data: each loads and has its fields, the tables agree with one another, and the
scripts under scripts/knowledge/ that check them against their sources pass on real excerpts of those sources.

These tests read the JSON files directly (not through dldoctor.knowledge's queries), so they say whether the
data holds together whatever state the query code is in.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dldoctor import knowledge

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "dldoctor" / "knowledge" / "data"
SCRIPTS = ROOT / "scripts" / "knowledge"
FIXTURES = ROOT / "tests" / "data" / "knowledge"

# the fields each row of a table must have (queries.py reads these; extra fields are allowed)
ROW_FIELDS: dict[str, set[str]] = {
    "torch_variants": {"torch", "variants"},
    "torch_wheel_archs": {"variant", "torch_min", "torch_max", "sm"},
    "cuda_arch_support": {"capabilities", "added", "removed"},
    "cuda_driver": {"cuda", "update", "linux", "windows"},
    "cuda_minor_compat": {"major", "linux", "windows"},
    "rocm_gfx": {"rocm", "targets"},
    "tensorflow_cuda": {"tf_min", "tf_max", "cuda", "cudnn", "windows_native_gpu"},
    "jax_cuda": {"cuda_major", "extra", "plugin", "min_cuda", "cudnn_min", "min_driver", "min_sm"},
    "jax_releases": {"jaxlib_min", "jaxlib_max", "cuda_major", "extras", "min_cuda", "cudnn_min", "min_driver", "min_sm"},
}


def rows(name: str) -> list[dict[str, Any]]:
    return list(json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["rows"])


def vt(text: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text or ""))


def mm(text: str | None) -> tuple[int, ...] | None:
    return vt(text)[:2] if text else None


def cuda_of(variant: str) -> str:
    digits = variant.removeprefix("cu")
    return f"{int(digits[:-1])}.{digits[-1]}"


def arch_row(arch_rows: list[dict[str, Any]], variant: str, release: str) -> dict[str, Any] | None:
    wanted = mm(release)
    for row in arch_rows:
        low, high = mm(row["torch_min"]), mm(row["torch_max"])
        if row["variant"] == variant and (low is None or wanted >= low) and (high is None or wanted <= high):  # type: ignore[operator]
            return row
    return None


def toolkit_compiles(support_rows: list[dict[str, Any]], cuda: str, cc: str) -> bool:
    for row in support_rows:
        if vt(cc) in {vt(str(c)) for c in row["capabilities"]}:
            added, removed = row.get("added"), row.get("removed")
            return (added is None or vt(cuda) >= vt(added)) and (removed is None or vt(cuda) < vt(removed))
    return False


def arch_violations(arch_rows: list[dict[str, Any]], support_rows: list[dict[str, Any]]) -> list[str]:
    """Every capability an arch row claims that its CUDA toolkit cannot compile."""
    out = []
    for row in arch_rows:
        cuda = cuda_of(row["variant"])
        for cc in [*row["sm"], *(row.get("ptx") or []), *(row.get("aarch64_extra_sm") or [])]:
            if not toolkit_compiles(support_rows, cuda, str(cc)):
                out.append(f"{row['variant']} ({row['torch_min']}-{row['torch_max']}) claims {cc}")
    return out


# --- every table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("*.json")))
def test_table_loads(name: str) -> None:
    doc = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["table"] == name
    assert doc["source"] and doc["verified"] and isinstance(doc["rows"], list) and doc["rows"]
    loaded = knowledge.table(name)
    assert len(loaded.rows) == len(doc["rows"])
    if any(r.get("verified") is False for r in doc["rows"]):
        assert doc.get("notes"), f"{name} has unverified rows but no notes saying why"


@pytest.mark.parametrize("name", sorted(ROW_FIELDS))
def test_every_row_has_its_fields(name: str) -> None:
    for row in rows(name):
        missing = ROW_FIELDS[name] - set(row)
        assert not missing, (name, row, missing)
        assert isinstance(row.get("verified", True), bool)


# --- PyTorch ----------------------------------------------------------------------------------------


def test_torch_releases_reach_back_to_1_7_in_order() -> None:
    releases = [mm(r["torch"]) for r in rows("torch_variants")]
    assert releases == sorted(releases) and len(set(releases)) == len(releases)
    assert releases[0] == (1, 7)
    assert {(1, m) for m in range(7, 14)} <= set(releases)


def test_every_torch_cuda_variant_has_an_arch_row() -> None:
    arch_rows = rows("torch_wheel_archs")
    for row in rows("torch_variants"):
        for v in row["variants"]:
            if v["kind"] == "cuda":
                found = arch_row(arch_rows, v["name"], row["torch"])
                assert found is not None and found["sm"], (row["torch"], v["name"])


def test_every_torch_variant_cuda_has_a_driver_floor() -> None:
    known = {r["cuda"] for r in rows("cuda_driver")}
    for row in rows("torch_variants"):
        for v in row["variants"]:
            if v["kind"] == "cuda":
                assert v["version"] in known, (row["torch"], v["name"])


def test_pypi_wheel_cuda_is_one_of_the_release_builds() -> None:
    for row in rows("torch_variants"):
        cuda = row.get("pypi_linux_cuda")
        if cuda is None:
            continue
        # the PyPI wheel carries one of the CUDA versions the release also publishes on its own index
        assert cuda in {v["version"] for v in row["variants"] if v["kind"] == "cuda"}, row["torch"]
    by_release = {r["torch"]: r.get("pypi_linux_cuda") for r in rows("torch_variants")}
    assert all(by_release[f"1.{m}"] == "10.2" for m in range(7, 13))
    assert by_release["1.13"] == by_release["2.0"] == "11.7"


def test_no_arch_row_claims_what_its_toolkit_cannot_compile() -> None:
    assert arch_violations(rows("torch_wheel_archs"), rows("cuda_arch_support")) == []


def test_the_toolkit_cross_check_catches_a_bad_row() -> None:
    support = rows("cuda_arch_support")
    planted = [
        {"variant": "cu102", "torch_min": "1.8", "torch_max": "1.12", "sm": ["3.7", "7.0", "8.6"]},  # 10.2 tops out at 7.5
        {"variant": "cu110", "torch_min": "1.7", "torch_max": "1.7", "sm": ["8.0"], "ptx": ["8.6"]},  # 8.6 came in 11.1
        {"variant": "cu130", "torch_min": "2.9", "torch_max": None, "sm": ["6.1", "7.5"]},  # 13.0 dropped Pascal
        {"variant": "cu118", "torch_min": "2.0", "torch_max": "2.7", "sm": ["3.0"]},  # 11.0 dropped sm_30
    ]
    assert arch_violations(planted, support) == [
        "cu102 (1.8-1.12) claims 8.6", "cu110 (1.7-1.7) claims 8.6", "cu130 (2.9-None) claims 6.1",
        "cu118 (2.0-2.7) claims 3.0",
    ]


def test_cuda_10_era_coverage() -> None:
    support = rows("cuda_arch_support")
    assert toolkit_compiles(support, "10.2", "7.5") and not toolkit_compiles(support, "10.2", "8.0")
    assert toolkit_compiles(support, "11.0", "8.0") and not toolkit_compiles(support, "11.0", "8.6")
    assert toolkit_compiles(support, "11.1", "8.6")
    assert toolkit_compiles(support, "10.2", "3.0") and not toolkit_compiles(support, "11.0", "3.0")
    assert toolkit_compiles(support, "9.0", "7.0") and not toolkit_compiles(support, "9.2", "7.5")


def test_rocm_variants_have_gfx_rows() -> None:
    gfx = {r["rocm"]: r for r in rows("rocm_gfx")}
    for row in rows("torch_variants"):
        for v in row["variants"]:
            if v["kind"] == "rocm":
                assert v["version"] in gfx, (row["torch"], v["name"])


# --- drivers, TensorFlow, JAX -----------------------------------------------------------------------


def test_driver_table_reaches_cuda_9() -> None:
    floors = {(r["cuda"], r["update"]): (r["linux"], r["windows"]) for r in rows("cuda_driver")}
    assert floors[("9.0", "GA")] == ("384.81", "385.54")
    assert floors[("10.2", "GA")] == ("440.33", "441.22")


def test_tensorflow_native_windows_gpu_ends_at_2_10() -> None:
    for row in rows("tensorflow_cuda"):
        assert row["windows_native_gpu"] is (mm(row["tf_max"]) <= (2, 10)), row  # type: ignore[operator]
        assert mm(row["tf_min"]) <= (2, 10) or mm(row["tf_min"]) >= (2, 11)  # type: ignore[operator]


def test_jax_release_ranges() -> None:
    by_major: dict[int, list[tuple[tuple[int, ...], tuple[int, ...]]]] = {}
    for row in rows("jax_releases"):
        low, high = vt(row["jaxlib_min"]), vt(row["jaxlib_max"]) if row["jaxlib_max"] else (99,)
        assert low <= high, row
        assert vt(row["min_cuda"])[0] == row["cuda_major"], row
        if row.get("cudnn_below"):
            assert vt(row["cudnn_min"]) < vt(row["cudnn_below"]), row
        by_major.setdefault(row["cuda_major"], []).append((low, high))
    for spans in by_major.values():
        spans.sort()
        for (_, high), (low, _) in zip(spans, spans[1:], strict=False):
            assert high < low
    cudnn_at_0_4_31 = [r["cudnn_min"] for r in rows("jax_releases")
                       if r["cuda_major"] == 12 and vt(r["jaxlib_min"]) <= (0, 4, 31) <= vt(r["jaxlib_max"] or "99")]
    assert cudnn_at_0_4_31 == ["9.1"]


# --- the regenerate/check scripts on real source excerpts ----------------------------------------------

SCRIPT_RUNS = [
    ("torch_variants.py", "torch_previous_versions.md", []),
    ("torch_wheel_archs.py", "torch_arch_outputs.txt", []),
    ("cuda_driver.py", "nvidia_driver_table.txt", []),
    ("rocm_gfx.py", "rocm_arch_outputs.txt", []),
    ("tensorflow_cuda.py", "tf_windows_gpu_tested_builds.txt", ["--windows"]),
    ("jax_releases.py", "jax_changelog_excerpt.md", []),
]


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize(("script", "fixture", "extra"), SCRIPT_RUNS)
def test_script_checks_the_committed_table(script: str, fixture: str, extra: list[str]) -> None:
    done = run_script(script, str(FIXTURES / fixture), "--check", *extra)
    assert done.returncode == 0, done.stderr
    read = run_script(script, str(FIXTURES / fixture), *extra)
    assert read.returncode == 0 and json.loads(read.stdout), read.stderr


@pytest.mark.parametrize(("script", "fixture", "extra"), SCRIPT_RUNS)
def test_fixtures_say_where_they_come_from(script: str, fixture: str, extra: list[str]) -> None:
    lines = (FIXTURES / fixture).read_text(encoding="utf-8").splitlines()
    head = "\n".join(lines[:3])
    assert lines[0].startswith(("#", "<!--")) and re.search(r"https?://|[a-z]/[a-z]|#\d", head), head


def test_script_check_fails_on_a_wrong_table(tmp_path: Path) -> None:
    doc = json.loads((DATA / "torch_wheel_archs.json").read_text(encoding="utf-8"))
    for row in doc["rows"]:
        if row["variant"] == "cu111":
            row["sm"] = [s for s in row["sm"] if s != "8.6"]
    wrong = tmp_path / "torch_wheel_archs.json"
    wrong.write_text(json.dumps(doc), encoding="utf-8")
    done = run_script("torch_wheel_archs.py", str(FIXTURES / "torch_arch_outputs.txt"), "--check", "--table", str(wrong))
    assert done.returncode == 1 and "1.8.1+cu111" in done.stderr


def test_torch_variants_script_reads_pip_listing(tmp_path: Path) -> None:
    # the shape pip prints for -f https://download.pytorch.org/whl/torch_stable.html (and the index's %2B hrefs)
    listing = tmp_path / "listing.txt"
    listing.write_text("(from versions: 1.11.0, 1.11.0+cpu, 1.11.0+cu102, 1.11.0+cu113, 1.11.0+cu115, "
                       "1.11.0+rocm4.3.1, 1.11.0+rocm4.5.2)\n<a href=\"cu115/torch-1.11.0%2Bcu115-cp39-cp39-"
                       "linux_x86_64.whl\">\n", encoding="utf-8")
    done = run_script("torch_variants.py", str(listing))
    assert json.loads(done.stdout)["1.11"]["variants"] == ["cpu", "cu102", "cu113", "cu115", "rocm4.3.1", "rocm4.5.2"]
    assert run_script("torch_variants.py", str(listing), "--check", "--complete").returncode == 0


def test_tensorflow_and_cuda_extra_starts_at_214() -> None:
    """TensorFlow's [and-cuda] extra (CUDA and cuDNN as pip wheels) came with 2.14; older rows say so."""
    for row in rows("tensorflow_cuda"):
        assert row["pip_cuda"] is (mm(row["tf_min"]) >= (2, 14)), row  # type: ignore[operator]
        assert mm(row["tf_max"]) < (2, 14) or mm(row["tf_min"]) >= (2, 14)  # type: ignore[operator]
