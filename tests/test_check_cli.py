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
