"""Pins the keys of `dldoctor check --json` (schema dldoctor.report/1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dldoctor.check import diagnose
from dldoctor.output import to_json
from dldoctor.snapshot import take_snapshot
from tests.simulate import load_machine

TOP = {"schema", "dldoctor_version", "status", "snapshot", "findings", "recommendations"}
FINDING = {"id", "severity", "title", "detail", "fix", "docs"}
FINDING_EXTRA = {"evidence"}  # the found/required values behind the verdict
RECOMMENDATION = {"framework", "variant", "install", "setup"}
RECOMMENDATION_EXTRA = {"reason", "rejected", "release"}


@pytest.mark.parametrize("name", ["h100-driver-580-cuda13", "cpu-only-laptop"])
def test_report_keys(name: str, tmp_path: Path) -> None:
    snapshot = take_snapshot(load_machine(name, tmp_path))
    snapshot["environment"]["variables"]["CUDA_VISIBLE_DEVICES"] = "7"  # one finding at least
    doc = json.loads(to_json(diagnose(snapshot).to_json()))
    assert set(doc) == TOP
    assert doc["schema"] == "dldoctor.report/1"
    assert isinstance(doc["dldoctor_version"], str)
    assert doc["status"] in ("ok", "warning", "error")
    assert doc["snapshot"]["schema"] == "dldoctor.snapshot/1"
    assert doc["findings"] and doc["recommendations"]
    for finding in doc["findings"]:
        assert FINDING <= set(finding) <= FINDING | FINDING_EXTRA
        assert finding["severity"] in ("error", "warning", "info")
        assert isinstance(finding["fix"], list) and all(isinstance(c, str) for c in finding["fix"])
        assert finding["docs"] is None or isinstance(finding["docs"], str)
        assert "." in finding["id"]
    for rec in doc["recommendations"]:
        assert RECOMMENDATION <= set(rec) <= RECOMMENDATION | RECOMMENDATION_EXTRA
        assert rec["framework"] in ("pytorch", "tensorflow", "jax")
        assert rec["install"].startswith("pip install") and rec["setup"].startswith("dldoctor setup ")
