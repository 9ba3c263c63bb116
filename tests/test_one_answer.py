"""check and setup give one answer: the build check recommends is the build setup plans, on every machine.

Every simulated machine goes through the real CLI (`check --json --snapshot`,
`setup --dry-run --json --snapshot`); a few hundred generated machines go
through the same functions in-process. For each framework the recommended
`dldoctor setup ...` command must be accepted by setup and plan the same
release and variant as setup left to choose by itself.
"""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dldoctor import knowledge, variants
from dldoctor.check import diagnose
from dldoctor.knowledge.cuda import max_cuda_for_driver
from dldoctor.setup.plan import SetupRequest, make_plan
from dldoctor.snapshot.facts import Facts
from tests.simulate import scenario_names
from tests.test_rules import snapshot_of


def _cli(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode in (0, 1), f"dldoctor {' '.join(args)} exited {done.returncode}: {done.stderr[-800:]}"
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _setup_args(command: str) -> list[str]:
    """`dldoctor setup "pytorch==2.7" --variant cuda11.8` -> ["pytorch==2.7", "--variant", "cuda11.8"]."""
    words = shlex.split(command)
    assert words[:2] == ["dldoctor", "setup"], command
    return words[2:]


def _same(plan: dict[str, Any], other: dict[str, Any]) -> tuple[Any, Any]:
    return (plan["version"], plan["variant"]), (other["version"], other["variant"])


@pytest.mark.parametrize("name", scenario_names())
def test_check_and_setup_agree_on_every_simulated_machine(name: str, tmp_path: Path) -> None:
    snap = tmp_path / "snapshot.json"
    snap.write_text(json.dumps(snapshot_of(name, tmp_path)))
    report = _cli("check", "--json", "--snapshot", str(snap))
    for rec in report["recommendations"]:
        common = ["--dry-run", "--json", "--snapshot", str(snap), "--backend", "venv", "--out", str(tmp_path)]
        auto = _cli("setup", rec["framework"], *common)["plan"]
        told = _cli("setup", *_setup_args(rec["setup"]), *common)["plan"]
        assert told["variant"] == auto["variant"], f"{rec['framework']}: check says {rec['setup']}, setup plans {auto}"
        assert (auto["version"] or variants.newest(rec["framework"])) == (rec["release"] or None) or \
            rec["framework"] == "jax", f"{rec['framework']}: check recommends {rec['release']}, setup plans {auto['version']}"


_BASE: dict[str, dict[str, Any]] = {}


def _base(tmp_path: Path) -> dict[str, Any]:
    if "snap" not in _BASE:
        _BASE["snap"] = snapshot_of("h100-driver-580-cuda13", tmp_path)
    return copy.deepcopy(_BASE["snap"])


_DRIVERS = sorted({r["linux"] for r in knowledge.table("cuda_driver").rows if r.get("linux")} |
                  {"470.82.01", "525.60.13", "535.104.05", "550.127.05", "570.124.06", "580.95.05"})
_WINDOWS = sorted({r["windows"] for r in knowledge.table("cuda_driver").rows if r.get("windows")})
_CAPS = ["3.7", "5.0", "6.1", "7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0", "12.1"]
_GFX = ["gfx803", "gfx900", "gfx906", "gfx90a", "gfx942", "gfx1030", "gfx1032", "gfx1100", "gfx1151", "gfx1201"]


@st.composite
def machines(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["nvidia", "nvidia", "nvidia", "wsl", "amd", "cpu", "cuda-only"]))
    return {
        "kind": kind,
        "driver": draw(st.sampled_from(_WINDOWS if kind == "wsl" else _DRIVERS)),
        "caps": draw(st.lists(st.sampled_from(_CAPS), min_size=1, max_size=3)),
        "gfx": draw(st.lists(st.sampled_from(_GFX), min_size=1, max_size=2)),
        "arch": draw(st.sampled_from(["x86_64", "x86_64", "aarch64"])),
    }


def _snapshot(spec: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    snap = base
    nvidia = snap["nvidia"]
    gpu = nvidia["gpus"][0]
    snap["host"]["arch"] = spec["arch"]
    snap["host"]["wsl"] = spec["kind"] == "wsl"
    if spec["kind"] in ("amd", "cpu"):
        snap["nvidia"] = {"present": False, "gpus": [], "pci_devices": [], "device_nodes": [], "libraries": []}
    else:
        nvidia["driver_version"] = None if spec["kind"] == "cuda-only" else spec["driver"]
        nvidia["cuda_driver_version"] = max_cuda_for_driver(
            spec["driver"], "Windows" if spec["kind"] == "wsl" else "Linux")
        nvidia["gpus"] = [dict(gpu, index=i, compute_capability=cc) for i, cc in enumerate(spec["caps"])]
    if spec["kind"] == "amd":
        snap["amd"] = {"present": True, "gpus": [{"gfx_target": g} for g in spec["gfx"]], "kfd_present": True,
                       "user_groups": {"render": True, "video": True}}
    return snap


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(machines())
def test_check_and_setup_agree_on_generated_machines(tmp_path: Path, spec: dict[str, Any]) -> None:
    snap = _snapshot(spec, _base(tmp_path))
    report = diagnose(snap)
    for rec in report.recommendations:
        request = SetupRequest(framework=rec.framework, backend="venv", prefix=tmp_path / "env", out_dir=tmp_path)
        auto = make_plan(Facts(snap), request)
        args = _setup_args(rec.setup)
        told_request = SetupRequest(framework=args[0], backend="venv", variant=args[args.index("--variant") + 1],
                                    prefix=tmp_path / "env", out_dir=tmp_path)
        told = make_plan(Facts(snap), told_request)
        assert told.variant == auto.variant, f"{spec}: check says {rec.setup}, setup plans {auto.variant}"
        if rec.framework != "jax":
            assert (auto.version or variants.newest(rec.framework)) == rec.release, \
                f"{spec}: check recommends {rec.framework} {rec.release}, setup plans {auto.version}"
            assert told.version == auto.version
