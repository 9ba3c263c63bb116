"""`dldoctor fleet` against a real Slurm cluster (.ci/slurm.sh: slurmctld and three `slurmd -N nodeK` on this
host). node2's TaskProlog exports an old CUDA's LD_LIBRARY_PATH; node3 has a GRES GPU the machine lacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import DLDOCTOR, GOOD_NODE, GRES_NODE, ODD_NODE, SLURM_DIR, dldoctor, slurm_env
from tests.torch_env import torch_python_or_skip

pytestmark = pytest.mark.slow


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in result["nodes"]}


def test_check_finds_the_odd_node_and_its_cause(slurm: dict[str, str], tmp_path: Path) -> None:
    done = dldoctor("fleet", "check", "--slurm", "--json", env=slurm, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # broken nodes are findings
    result = json.loads(done.stdout)
    assert result["schema"] == "dldoctor.fleet/1" and result["engine"] == "slurm"
    nodes = by_name(result)
    assert set(nodes) == {GOOD_NODE, ODD_NODE, GRES_NODE}
    assert nodes[GOOD_NODE]["status"] == "ok" and nodes[GOOD_NODE]["cause"] is None
    odd = nodes[ODD_NODE]
    assert odd["status"] == "error"
    assert "LD_LIBRARY_PATH='/usr/local/cuda-10.2/lib64' on node2" in odd["cause"]
    assert odd["fleet_findings"] == ["fleet.odd-env"]
    # every node carries its own snapshot, diagnosed by check's rules
    assert odd["snapshot"]["schema"] == "dldoctor.snapshot/1"
    assert odd["snapshot"]["environment"]["variables"]["LD_LIBRARY_PATH"] == "/usr/local/cuda-10.2/lib64"
    assert nodes[GRES_NODE]["gpus_expected"] == 1
    assert nodes[GRES_NODE]["cause"] == "1 of 1 GPU(s) missing on node3"
    assert "3 of 3 nodes answered" in done.stderr
    timings = result["timings"]
    assert 0 < timings["dldoctor_s"] < timings["total_s"]


def test_table_folds_groups_and_prints_fixes(slurm: dict[str, str], tmp_path: Path) -> None:
    done = dldoctor("fleet", "check", "--slurm", env=slurm, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    row = next(ln for ln in lines if ln.startswith("│ node2 "))
    assert "error" in row and "LD_LIBRARY_PATH='/usr/local/cuda-10.2/lib64' on node2 (the others: unset)" in row
    assert any(ln.startswith("│ node1 ") and " ok " in ln for ln in lines)
    assert "Fixes" in done.stdout and "make it unset" in done.stdout
    assert "set Gres=gpu:0 for NodeName=node3 in slurm.conf" in done.stdout


def test_identical_nodes_fold_into_one_row(slurm: dict[str, str], tmp_path: Path) -> None:
    done = dldoctor("fleet", "check", "--slurm", "--nodelist", "node1,node2", "--json", env=slurm, cwd=tmp_path)
    result = json.loads(done.stdout)
    # two nodes, one odd variable: no majority, so neither is called the odd one; they still fold by cause
    assert [g["hostlist"] for g in result["groups"]] == ["node[1-2]"]
    assert result["groups"][0]["status"] == "warning"
    assert "the nodes disagree on LD_LIBRARY_PATH" in result["groups"][0]["cause"]


def test_drain_commands_name_only_the_broken_nodes(slurm: dict[str, str], tmp_path: Path) -> None:
    done = dldoctor("fleet", "check", "--slurm", "--drain-commands", env=slurm, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        'scontrol update NodeName=node2 State=DRAIN Reason="dldoctor: LD_LIBRARY_PATH=\'/usr/local/cuda-10.2/lib64\' '
        'on node2 (the others: unset)"',
        'scontrol update NodeName=node3 State=DRAIN Reason="dldoctor: 1 of 1 GPU(s) missing on node3"',
    ]


def test_a_node_without_dldoctor_is_a_clear_per_node_error(slurm: dict[str, str], tmp_path: Path) -> None:
    # Debian's own python3 has no dldoctor (and the job runs in tmp_path, so the checkout is not on its path)
    done = dldoctor("fleet", "check", "--slurm", "--node-python", "/usr/bin/python3", "--json", env=slurm, cwd=tmp_path)
    nodes = by_name(json.loads(done.stdout))
    for node in nodes.values():
        assert node["status"] == "failed"
        assert node["cause"].startswith("dldoctor is not installed for /usr/bin/python3 on this node"), node["cause"]


def test_a_node_past_its_timeout_is_reported_not_waited_for(slurm: dict[str, str], tmp_path: Path) -> None:
    python = torch_python_or_skip()
    done = dldoctor("fleet", "smoke", "--slurm", "--python", python, "--node-timeout", "1", "--timeout", "60",
                    "--json", env=slurm, cwd=tmp_path, timeout=120)
    result = json.loads(done.stdout)
    assert done.returncode == 1
    for node in result["nodes"]:
        assert node["status"] == "no-answer" and "node timeout (1s)" in node["cause"], node
    assert result["timings"]["total_s"] < 45


def test_smoke_runs_an_allreduce_across_the_nodes(slurm: dict[str, str], tmp_path: Path) -> None:
    python = torch_python_or_skip()
    done = dldoctor("fleet", "smoke", "--slurm", "--python", python, "--interconnect", "ethernet-10g", "--json",
                    env=slurm, cwd=tmp_path, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert {n["status"] for n in result["nodes"]} == {"ok"}
    assert all(n["smoke"]["schema"] == "dldoctor.smoke/1" for n in result["nodes"])
    coll = result["collective"]
    assert coll["status"] == "pass" and coll["backend"] == "gloo" and coll["world_size"] == 3
    assert [s["bytes"] for s in coll["sizes"]] == [1 << 16, 1 << 20, 1 << 24]
    for size in coll["sizes"]:
        assert size["busbw_gbs"] == pytest.approx(size["algbw_gbs"] * 4 / 3, rel=0.01)
    assert len(coll["links"]) == 3 and coll["slowest_link"] in coll["links"]
    assert coll["slowest_node"] in {"node1", "node2", "node3"}
    assert coll["expected"]["interconnect"] == "ethernet-10g" and coll["expected"]["line_rate_gbs"] == 1.25


def test_a_killed_slurmd_is_unreachable_and_the_others_report(slurm: dict[str, str], tmp_path: Path) -> None:
    pid = int(Path(f"{SLURM_DIR}/run/slurmd-{GOOD_NODE}.pid").read_text())
    subprocess.run(["kill", str(pid)], check=True)
    try:
        done = dldoctor("fleet", "check", "--slurm", "--json", "--timeout", "120", env=slurm, cwd=tmp_path)
        nodes = by_name(json.loads(done.stdout))
        assert nodes[GOOD_NODE]["status"] == "unreachable"
        assert "slurmd does not answer" in nodes[GOOD_NODE]["cause"]
        assert nodes[ODD_NODE]["snapshot"] is not None and nodes[GRES_NODE]["snapshot"] is not None
        # node1 is gone: the two that answered disagree, with no majority, on LD_LIBRARY_PATH
        assert nodes[ODD_NODE]["status"] == "warning"
    finally:
        slurm_env()  # restarts the cluster (its daemons are looked at, not only sinfo)


def _processes_of_node(node: str) -> list[int]:
    """What a crash of `node` takes down: its slurmd and, for each process the node runs a task in (its
    environment names the node and this cluster), that process and its slurmstepd ancestors."""
    conf = f"SLURM_CONF={SLURM_DIR}/slurm.conf".encode()
    pids = {int(Path(f"{SLURM_DIR}/run/slurmd-{node}.pid").read_text())}
    for proc in Path("/proc").iterdir():
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"SLURMD_NODENAME={node}".encode() not in env or conf not in env:
            continue
        pid = int(proc.name)
        while pid > 1:
            pids.add(pid)
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
            if b"slurmstepd" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                break
    return sorted(pids)


def test_a_node_lost_mid_run_is_reported_and_the_others_still_report(slurm: dict[str, str], tmp_path: Path) -> None:
    """node1 is slow (its TaskProlog sleeps); once the other two have answered, node1 crashes: its slurmd,
    slurmstepd and task are SIGKILLed. The run ends at its deadline with node1 reported, the others intact."""
    slow = Path(f"{SLURM_DIR}/slow-{GOOD_NODE}")
    slow.write_text("90\n")
    run = subprocess.Popen(
        [*DLDOCTOR, "fleet", "check", "--slurm", "--json", "--node-timeout", "15", "--timeout", "20"],
        env={**slurm, "COLUMNS": "200", "NO_COLOR": "1"}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert run.stderr is not None
        progress = []
        for line in run.stderr:  # the progress line: "fleet: N of 3 nodes answered (name)"
            progress.append(line)
            if "2 of 3 nodes answered" in line:
                break
        assert GOOD_NODE not in "".join(progress), progress
        killed = _processes_of_node(GOOD_NODE)
        assert len(killed) >= 3, killed  # slurmd, slurmstepd, the task's processes
        subprocess.run(["kill", "-9", *map(str, killed)], check=False)
        out, _ = run.communicate(timeout=60)
        result = json.loads(out)
        nodes = by_name(result)
        assert nodes[GOOD_NODE]["status"] == "no-answer"
        assert "no answer within the run's deadline" in nodes[GOOD_NODE]["cause"]
        assert nodes[GOOD_NODE]["snapshot"] is None
        assert nodes[ODD_NODE]["snapshot"] is not None and nodes[GRES_NODE]["snapshot"] is not None
        assert "GPU(s) missing" in nodes[GRES_NODE]["cause"]
        assert result["timings"]["total_s"] < 40
    finally:
        slow.unlink(missing_ok=True)
        if run.poll() is None:
            run.kill()
            run.wait()
        slurm_env()  # restarts node1's slurmd
