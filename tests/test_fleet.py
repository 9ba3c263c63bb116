"""The fleet's pure parts: rules over real snapshots of simulated machines, hostlists, GRES, the all-reduce
figures; and the CLI's guards (no Ray import unless --ray, one-line errors)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dldoctor.fleet.check import drain_commands, groups
from dldoctor.fleet.rules import TRAITS, NodeView, compress, finding_ids, fleet_findings, traits
from dldoctor.fleet.smoke import analyse, bus_bandwidth, interconnect, link_pairs
from dldoctor.fleet.transport import NodeInfo
from dldoctor.fleet.transport.slurm import gres_gpus, node_state_usable
from dldoctor.snapshot import take_snapshot
from tests.simulate import load_machine


@pytest.fixture(scope="module")
def h100(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return take_snapshot(load_machine("h100-driver-580-cuda13", tmp_path_factory.mktemp("h100")))


def test_the_odd_driver_is_named_against_the_majority(h100: dict[str, Any]) -> None:
    old = copy.deepcopy(h100)
    old["nvidia"]["driver_version"] = "535.183.01"
    views = [NodeView(f"gpu{i}", h100) for i in (1, 2, 4)] + [NodeView("gpu3", old)]
    found = fleet_findings(views, "slurm")
    assert [f.id for f in found] == ["fleet.odd-driver"]
    assert found[0].evidence["nodes"] == ["gpu3"] and found[0].evidence["majority"] == "580.95.05"
    assert found[0].title == "NVIDIA driver 535.183.01 on gpu3 (the others: 580.95.05)"
    assert "install NVIDIA driver 580.95.05 on gpu3" in found[0].fix[0]


def test_gpus_missing_against_the_scheduler_and_silent_nodes(h100: dict[str, Any]) -> None:
    seen = len(h100["nvidia"]["gpus"])
    views = [NodeView("a1", h100, gpus_expected=seen + 1), NodeView("a2", h100, gpus_expected=seen),
             NodeView("a3", None, status="unreachable", error="slurmd does not answer")]
    found = {f.id: f for f in fleet_findings(views, "slurm")}
    assert found["fleet.gpus-missing"].evidence == {"nodes": ["a1"], "expected": seen + 1, "seen": seen}
    assert "Slurm GRES says a1 has" in found["fleet.gpus-missing"].detail
    assert found["fleet.unreachable"].evidence["nodes"] == ["a3"]


def _every_kind_of_finding(h100: dict[str, Any]) -> list[str]:
    """The ids fleet_findings reports over a fleet where every trait is odd on one node, one node lacks a
    GPU and one node is silent in each way a transport reports (the silent kinds from the transport's own
    statuses, so a new status shows up here)."""
    from dldoctor.fleet import transport

    odd = copy.deepcopy(h100)
    odd["nvidia"]["driver_version"] = "535.183.01"
    odd["nvidia"]["cuda_driver_version"] = "12.2"
    odd["nvidia"]["gpus"] = odd["nvidia"]["gpus"][:1] + copy.deepcopy(odd["nvidia"]["gpus"][:1])
    odd["nvidia"]["gpus"][0]["name"] = "NVIDIA A100-SXM4-80GB"
    odd["frameworks"]["installed"] = []
    odd["host"]["kernel"] = "5.4.0-odd"
    odd["host"]["python"]["version"] = "3.8.10"
    odd["environment"]["variables"] = {**(odd["environment"].get("variables") or {}), "NCCL_DEBUG": "INFO"}
    same, other = traits(h100), traits(odd)
    assert [k for k in TRAITS if same[k] == other[k]] == [], "the odd node must differ in every trait"
    silent = [NodeView(f"s{i}", None, status=status, error="x") for i, status in enumerate(transport.STATUSES)
              if status != transport.ANSWERED]
    seen = len(h100["nvidia"]["gpus"])
    views = [NodeView(f"g{i}", h100, gpus_expected=seen + (i == 1)) for i in (1, 2, 3)]
    return [f.id for f in fleet_findings([*views, NodeView("odd", odd), *silent], "slurm")]


def test_every_fleet_finding_id_is_explainable(h100: dict[str, Any]) -> None:
    emitted = set(_every_kind_of_finding(h100))
    # finding_ids() is read from the rules' own tables; what the rules report must be exactly that
    assert emitted == set(finding_ids())
    ids = finding_ids()
    listed = subprocess.run([sys.executable, "-m", "dldoctor", "explain", "--list"], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    for fid in ids:
        assert f"\n{fid}  " in "\n" + listed, fid
        done = subprocess.run([sys.executable, "-m", "dldoctor", "explain", fid], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{fid}: ") and len(done.stdout.splitlines()) > 3, done.stdout


def test_groups_fold_and_drain_only_broken(h100: dict[str, Any]) -> None:
    nodes: list[dict[str, Any]] = [
        {"name": n, "status": s, "cause": c, "fix": [], "gpus": "1x H100", "driver": "580", "framework": "t"}
        for n, s, c in (("n1", "ok", None), ("n2", "ok", None), ("n3", "error", 'say "x"'))]
    folded = groups(nodes)
    assert [(g["hostlist"], g["status"]) for g in folded] == [("n3", "error"), ("n[1-2]", "ok")]
    assert drain_commands({"engine": "slurm", "groups": folded}) == [
        "scontrol update NodeName=n3 State=DRAIN Reason=\"dldoctor: say 'x'\""]


@pytest.mark.parametrize(("names", "expected"), [
    (["node1", "node2", "node3", "node7"], "node[1-3,7]"),
    (["gpu01", "gpu02", "login"], "login,gpu[01-02]"),
    (["a5"], "a5"),
])
def test_compress(names: list[str], expected: str) -> None:
    assert compress(names) == expected


def test_gres_and_states() -> None:
    assert gres_gpus("gpu:4") == 4 and gres_gpus("gpu:a100:2(S:0-1),shard:8") == 2 and gres_gpus("(null)") == 0
    assert node_state_usable("idle") and node_state_usable("mix")
    assert not node_state_usable("down*") and not node_state_usable("drain") and not node_state_usable("idle*")


def test_busbw_is_nccl_tests_formula() -> None:
    assert bus_bandwidth(10.0, 8) == pytest.approx(17.5) and bus_bandwidth(3.0, 1) == 3.0
    assert link_pairs(3, 2) == [[0, 2], [2, 4], [4, 0]] and link_pairs(2, 4) == [[0, 4]]


def test_analyse_names_the_slowest_link_and_node() -> None:
    nodes = [NodeInfo(f"n{i}", "idle", True) for i in range(3)]
    pairs = {(0, 1): 0.01, (1, 2): 0.04, (2, 0): 0.05}  # n2 sits on both slow links
    ranks = [{"rank": r, "node": f"n{r}", "sizes": [{"bytes": 1 << 20, "seconds": 0.001 * (r + 1), "wrong": 0}],
              "pairs": [{"ranks": list(k), "bytes": 1 << 20, "seconds": v} for k, v in pairs.items() if r in k]}
             for r in range(3)]
    out = analyse(ranks, nodes, 1, "gloo", interconnect("ib-ndr"), 2)
    assert out["status"] == "pass"
    assert out["sizes"][0]["time_us"] == 3000.0  # the slowest rank sets the time
    assert out["slowest_link"]["nodes"] == ["n2", "n0"] and out["slowest_node"] == "n2"
    assert out["expected"]["line_rate_gbs"] == 100.0
    broken = analyse([{"error": "RuntimeError: gloo timeout"}], nodes, 1, "gloo", None, 1)
    assert broken["status"] == "fail" and broken["reason"] == "RuntimeError: gloo timeout"


def run_cli(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1])})


def test_ray_is_not_imported_unless_asked(tmp_path: Path) -> None:
    done = run_cli("import sys; from dldoctor.cli import app\n"
                   "try:\n    app(['fleet', '--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
                   "print('ray' in sys.modules)", tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


def test_missing_ray_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    done = run_cli("import sys; sys.modules['ray'] = None; sys.argv = ['dldoctor', 'fleet', 'check', '--ray']\n"
                   "from dldoctor.cli import main; main()", tmp_path)
    assert done.returncode == 8
    assert done.stderr == "dldoctor: error: --ray needs Ray, an optional extra: pip install 'dldoctor[ray]'\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--slurm", "--ray"], "give one of --slurm or --ray"),
    ([], "give one of --slurm or --ray"),
    (["--slurm", "--timeout", "nan"], "--timeout nan"),
    (["--slurm", "--node-timeout", "100", "--timeout", "10"], "is longer than the whole run's --timeout"),
])
def test_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    done = run_cli(f"import sys; sys.argv = ['dldoctor', 'fleet', 'check', *{args!r}]\n"
                   "from dldoctor.cli import main; main()", tmp_path)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_unknown_interconnect_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("import sys; sys.argv = ['dldoctor', 'fleet', 'smoke', '--slurm', '--interconnect', 'ib-foo']\n"
                   "from dldoctor.cli import main; main()", tmp_path)
    assert done.returncode == 2 and "choose from nvlink3" in done.stderr
