"""Machines from public bug reports (tests/realworld/*.json): dldoctor must give the verdict an expert gives.

Each case's `expected` was derived from the report's facts and the compatibility
reference, not from what dldoctor prints. A case dldoctor gets wrong fails: the
failure is a bug in dldoctor (or in its knowledge tables), not in the case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dldoctor.check import diagnose
from tests.realworld.build import build, case_paths, load_case

CASES = case_paths()
REQUIRED = ("source", "title", "stated", "assumed", "machine", "expected")


def _id(path: Path) -> str:
    return path.stem


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40, f"only {len(CASES)} real-world cases"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_case_file_is_complete(path: Path) -> None:
    case = load_case(path)
    missing = [key for key in REQUIRED if key not in case]
    assert not missing, f"{path.name} lacks {missing}"
    assert str(case["source"]).startswith("https://"), "source must be the report's URL"
    assert isinstance(case["stated"], dict) and case["stated"], "stated must copy the report's facts"
    assert isinstance(case["assumed"], list) and all(isinstance(a, str) and a for a in case["assumed"])
    expected = case["expected"]
    for key in ("status", "cause", "severity", "recommend", "why"):
        assert key in expected, f"expected lacks {key}"
    assert expected["status"] in ("ok", "warning", "error")
    assert expected["severity"] in ("info", "warning", "error")
    assert isinstance(expected["why"], str) and len(expected["why"]) > 20, "expected.why must give the reasoning"
    for framework, rec in expected["recommend"].items():
        assert framework in ("pytorch", "tensorflow", "jax")
        assert set(rec) == {"release", "variant"}, f"{framework}: recommend needs release and variant"


def _mismatches(case: dict[str, Any]) -> list[str]:
    report = diagnose(build(case)).to_json()
    expected = case["expected"]
    problems: list[str] = []
    findings = {f["id"]: f["severity"] for f in report["findings"]}
    said = ", ".join(f"{i} ({s})" for i, s in sorted(findings.items())) or "no findings"
    if report["status"] != expected["status"]:
        problems.append(f"status {report['status']!r}, expected {expected['status']!r}")
    cause = expected["cause"]
    if cause not in findings:
        problems.append(f"{cause} not reported")
    elif findings[cause] != expected["severity"]:
        problems.append(f"{cause} at {findings[cause]}, expected {expected['severity']}")
    recs = {r["framework"]: r for r in report["recommendations"]}
    for framework, want in expected["recommend"].items():
        got = recs.get(framework)
        if got is None:
            problems.append(f"no {framework} recommendation")
            continue
        got_pair = (got.get("release"), got.get("variant"))
        if got_pair != (want["release"], want["variant"]):
            problems.append(f"{framework} recommended {got_pair[0]!r} {got_pair[1]!r}, expected "
                            f"{want['release']!r} {want['variant']!r}")
    if problems:
        problems.append(f"dldoctor said: {said}")
    return problems


#: Open bugs: cases dldoctor still gets wrong, each with why. strict: the day one is fixed, its mark must go.
KNOWN_BUGS = {
    "tf24-cuda112-missing-libcusolver10": "dldoctor checks only cuDNN for TensorFlow builds that use the system CUDA; "
    "it does not know which library sonames each CUDA release ships (11.0's libcusolver.so.10 vs 11.1+'s .so.11)",
}


def _verdict_params() -> list[Any]:
    return [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[p.stem])) if p.stem in KNOWN_BUGS
            else p for p in CASES]


@pytest.mark.parametrize("path", _verdict_params(), ids=_id)
def test_verdict(path: Path) -> None:
    case = load_case(path)
    problems = _mismatches(case)
    assert not problems, f"{path.stem} ({case['source']}): " + "; ".join(problems)
