"""`dldoctor check` and `explain` run as a user runs them: a subprocess, exit codes, output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dldoctor.check import diagnose
from dldoctor.report import Finding, Severity
from dldoctor.rules import RULES, Rule
from dldoctor.snapshot import take_snapshot
from dldoctor.snapshot.facts import Facts
from tests.simulate import load_machine

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(ROOT)}, check=False)


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("snaps")
    out: dict[str, Any] = {}
    h100 = take_snapshot(load_machine("h100-driver-580-cuda13", tmp))
    broken = json.loads(json.dumps(h100))
    broken["nvidia"]["gpus"][0]["ecc_errors_uncorrected"] = 2  # an error
    warn = json.loads(json.dumps(h100))
    warn["environment"]["variables"]["PYTHONPATH"] = "/usr/lib/python3/dist-packages"  # a warning only
    for name, doc in (("healthy", h100), ("broken", broken), ("warn", warn)):
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(doc))
        out[name] = path
    out["dir"] = tmp
    return out


def test_healthy_exits_0(snapshots: dict[str, Any]) -> None:
    result = run("check", "--snapshot", str(snapshots["healthy"]))
    assert result.returncode == 0, result.stdout + result.stderr


def test_error_exits_1(snapshots: dict[str, Any]) -> None:
    result = run("check", "--snapshot", str(snapshots["broken"]), "--json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "error"
    assert any(f["id"] == "health.ecc-uncorrected" and f["severity"] == "error" for f in doc["findings"])


def test_strict_fails_on_warnings(snapshots: dict[str, Any]) -> None:
    assert run("check", "--snapshot", str(snapshots["warn"])).returncode == 0
    assert run("check", "--snapshot", str(snapshots["warn"]), "--strict").returncode == 1


def test_only_and_ignore(snapshots: dict[str, Any]) -> None:
    result = run("check", "--snapshot", str(snapshots["broken"]), "--json", "--ignore", "health")
    assert result.returncode == 0
    assert not [f for f in json.loads(result.stdout)["findings"] if f["id"].startswith("health.")]
    result = run("check", "--snapshot", str(snapshots["broken"]), "--json", "--only", "health.ecc-uncorrected")
    assert [f["id"] for f in json.loads(result.stdout)["findings"]] == ["health.ecc-uncorrected"]


def test_unknown_id_suggests_close_matches(snapshots: dict[str, Any]) -> None:
    result = run("check", "--snapshot", str(snapshots["healthy"]), "--only", "health.ecc-uncorected")
    assert result.returncode == 2
    assert "health.ecc-uncorrected" in result.stderr + result.stdout


def test_framework_focus(snapshots: dict[str, Any]) -> None:
    result = run("check", "--snapshot", str(snapshots["healthy"]), "--json", "--framework", "pytorch")
    doc = json.loads(result.stdout)
    assert all(r["framework"] == "pytorch" for r in doc["recommendations"])
    assert all(f.get("evidence", {}).get("framework") in (None, "pytorch") for f in doc["findings"])
    assert run("check", "--snapshot", str(snapshots["healthy"]), "--framework", "caffe").returncode == 2


def test_explain() -> None:
    result = run("explain", "frameworks.capability-not-compiled")
    assert result.returncode == 0 and "no kernel image" in result.stdout
    bogus = run("explain", "bogus")
    assert bogus.returncode == 2 and "Traceback" not in bogus.stderr


@pytest.mark.parametrize("kind", ["missing", "not-json", "other-schema", "truncated"])
def test_bad_snapshot_files(kind: str, snapshots: dict[str, Any]) -> None:
    path: Path = snapshots["dir"] / f"bad-{kind}.json"
    text = snapshots["healthy"].read_text()
    if kind == "not-json":
        path.write_text("this is not { json")
    elif kind == "other-schema":
        path.write_text(text.replace("dldoctor.snapshot/1", "dldoctor.snapshot/2"))
    elif kind == "truncated":
        path.write_text(text[: len(text) // 2])
    result = run("check", "--snapshot", str(path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_crashing_rule_is_a_finding(tmp_path: Path) -> None:
    def explodes(facts: Facts) -> Iterator[Finding]:
        raise RuntimeError("boom")
        yield  # a generator like the real rules

    snapshot = take_snapshot(load_machine("h100-driver-580-cuda13", tmp_path))
    snapshot["nvidia"]["gpus"][0]["ecc_errors_uncorrected"] = 1
    diagnose(snapshot)  # load the real rules first
    item = Rule("test.explodes", explodes)
    RULES.append(item)
    try:
        report = diagnose(snapshot)
    finally:
        RULES.remove(item)
    crashed = [f for f in report.findings if f.id == "internal.rule-crashed"]
    assert len(crashed) == 1 and crashed[0].severity is Severity.ERROR and "test.explodes" in crashed[0].title
    assert "health.ecc-uncorrected" in {f.id for f in report.findings}


# --- which interpreter `check` and `snapshot` inspect --------------------------------------------------------

def _venv_with(prefix: Path, dists: dict[str, str]) -> Path:
    """A real venv at `prefix` with the named distributions planted in its site-packages (dist-info only)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    site = next((prefix / "lib").glob("python3*/site-packages"))
    for name, version in dists.items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("pip\n")
    return prefix / "bin"


def _dld_in(cwd: Path, home: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    """dldoctor run from `cwd` with nothing active: no VIRTUAL_ENV, no CONDA_PREFIX, this PATH and HOME."""
    env = {"PATH": path, "HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env, check=False)


def test_nothing_active_inspects_python3_on_path_not_dldoctors_own(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user_bin = _venv_with(tmp_path / "user-python", {"torch": "2.13.0"})
    # install.sh's private environment, first on PATH and holding another torch: it must be skipped.
    own_bin = _venv_with(home / ".local/share/dldoctor/venv", {"torch": "2.1.0"})
    work = tmp_path / "work"
    work.mkdir()
    proc = _dld_in(work, home, f"{own_bin}:{user_bin}:/usr/bin:/bin", "snapshot")
    assert proc.returncode == 0, proc.stderr
    python = json.loads(proc.stdout)["frameworks"]["python"]
    assert python["executable"].startswith(str(tmp_path / "user-python")), python
    assert python["chosen_because"] == "python3 on PATH"
    installed = json.loads(proc.stdout)["frameworks"]["installed"]
    assert [(f["name"], f["version"]) for f in installed] == [("pytorch", "2.13.0")]
    check = _dld_in(work, home, f"{own_bin}:{user_bin}:/usr/bin:/bin", "check")
    assert "Frameworks: pytorch 2.13.0" in check.stdout, check.stdout
    assert ".local/share/dldoctor" not in check.stdout


def test_python_option_may_name_dldoctors_own_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    own_bin = _venv_with(home / ".local/share/dldoctor/venv", {"torch": "2.1.0"})
    proc = _dld_in(tmp_path, home, "/usr/bin:/bin", "snapshot", "--python", str(own_bin / "python"))
    assert proc.returncode == 0, proc.stderr
    assert [f["version"] for f in json.loads(proc.stdout)["frameworks"]["installed"]] == ["2.1.0"]


def test_no_python_on_path_is_said_not_replaced_by_dldoctors_own(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _dld_in(tmp_path, tmp_path, str(empty), "check")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Frameworks: no Python to inspect: no python3 or python on PATH" in proc.stdout, proc.stdout
    assert sys.prefix not in proc.stdout


def test_other_environments_are_listed_with_their_frameworks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user_bin = _venv_with(tmp_path / "user-python", {})
    work = tmp_path / "project"
    _venv_with(work / ".venv", {"jaxlib": "0.4.30", "jax": "0.4.30"})
    # A conda installation: its base and one environment, found from its files (no conda is run).
    base = home / "miniforge3"
    (base / "conda-meta").mkdir(parents=True)
    ml = base / "envs" / "ml"
    (ml / "conda-meta").mkdir(parents=True)
    site = ml / "lib/python3.12/site-packages"
    info = site / "torch-2.5.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1\n")
    _venv_with(home / ".local/share/dldoctor/venv", {"torch": "2.1.0"})  # dldoctor's own: never listed
    proc = _dld_in(work, home, f"{user_bin}:/usr/bin:/bin", "snapshot")
    assert proc.returncode == 0, proc.stderr
    others = {Path(e["prefix"]).relative_to(tmp_path).as_posix(): e
              for e in json.loads(proc.stdout)["frameworks"]["other_environments"]}
    assert set(others) == {"project/.venv", "home/miniforge3", "home/miniforge3/envs/ml"}, others
    assert [(f["name"], f["version"]) for f in others["project/.venv"]["frameworks"]] == [("jax", "0.4.30")]
    assert others["project/.venv"]["found_by"] == ".venv in the current folder"
    assert others["home/miniforge3/envs/ml"]["python_version"] == "3.12"
    assert [f["version"] for f in others["home/miniforge3/envs/ml"]["frameworks"]] == ["2.5.1"]
    assert others["home/miniforge3"]["frameworks"] == []
    text = _dld_in(work, home, f"{user_bin}:/usr/bin:/bin", "check").stdout
    assert f"also {work}/.venv (venv, Python 3." in text and "): jax 0.4.30" in text, text
    assert f"also {ml} (conda, Python 3.12): pytorch 2.5.1" in text, text
    assert ".local/share/dldoctor" not in text


def test_smoke_without_a_target_runs_in_python3_on_path_not_dldoctors_own(tmp_path: Path) -> None:
    from tests.torch_env import torch_python_or_skip

    home = tmp_path / "home"
    own_bin = _venv_with(home / ".local/share/dldoctor/venv", {})  # first on PATH, no torch: must be skipped
    torch_bin = torch_python_or_skip().parent
    proc = _dld_in(tmp_path, home, f"{own_bin}:{torch_bin}:/usr/bin:/bin",
                   "smoke", "--quick", "--allow-cpu", "--json", "--timeout", "240")
    assert proc.returncode == 0, proc.stderr
    target = json.loads(proc.stdout)["target"]
    assert target["kind"] == "python" and target["value"].startswith(str(torch_bin)), target


def test_smoke_without_a_target_and_no_python_on_path_is_a_target_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _dld_in(tmp_path, tmp_path, str(empty), "smoke", "--quick")
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.strip() == ("dldoctor: error: nothing to smoke-test: no python3 or python on PATH "
                                   "(dldoctor's own environment is not inspected; --python names an interpreter)")
