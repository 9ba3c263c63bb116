"""`dldoctor fleet --ray` against a real local Ray cluster (ray.cluster_utils.Cluster, three nodes on 127.0.0.1):
one node's workers see an old CUDA's LD_LIBRARY_PATH, one is told it has a GPU the machine lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import dldoctor
from tests.torch_env import torch_python_or_skip

pytestmark = pytest.mark.slow


def node_named(result: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in result["nodes"] if n["name"].endswith(node_id[:8]))


def test_check_finds_the_odd_node_and_the_missing_gpu(ray_cluster: dict[str, Any], tmp_path: Path) -> None:
    done = dldoctor("fleet", "check", "--ray", "--address", ray_cluster["address"], "--json",
                    env=ray_cluster["env"], cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["engine"] == "ray" and result["nodes_total"] == 3
    odd = node_named(result, ray_cluster["odd"])
    assert odd["status"] == "error" and "LD_LIBRARY_PATH='/usr/local/cuda-10.2/lib64'" in odd["cause"]
    gpu = node_named(result, ray_cluster["gpu"])
    assert gpu["gpus_expected"] == 1 and gpu["cause"].startswith("1 of 1 GPU(s) missing")
    assert node_named(result, ray_cluster["head"])["status"] == "ok"
    assert "3 of 3 nodes answered" in done.stderr


def test_smoke_allreduce_over_ray(ray_cluster: dict[str, Any], tmp_path: Path) -> None:
    python = torch_python_or_skip()
    done = dldoctor("fleet", "smoke", "--ray", "--address", ray_cluster["address"], "--python", python,
                    "--json", env=ray_cluster["env"], cwd=tmp_path, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    coll = json.loads(done.stdout)["collective"]
    assert coll["status"] == "pass" and coll["backend"] == "gloo" and coll["world_size"] == 3
    assert all(s["busbw_gbs"] > 0 for s in coll["sizes"]) and coll["slowest_link"] in coll["links"]


def test_drain_commands_are_slurms(ray_cluster: dict[str, Any], tmp_path: Path) -> None:
    done = dldoctor("fleet", "check", "--ray", "--address", ray_cluster["address"], "--drain-commands",
                    env=ray_cluster["env"], cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("dldoctor: error: --drain-commands")


def test_a_dead_node_is_unreachable_and_the_others_report(ray_cluster: dict[str, Any], tmp_path: Path) -> None:
    # runs last in this module: the cluster loses a node for good
    ray_cluster["cluster"].remove_node(ray_cluster["gpu_node"])
    done = dldoctor("fleet", "check", "--ray", "--address", ray_cluster["address"], "--json", "--timeout", "120",
                    env=ray_cluster["env"], cwd=tmp_path)
    result = json.loads(done.stdout)
    dead = node_named(result, ray_cluster["gpu"])
    assert dead["status"] == "unreachable" and "DEAD" in dead["cause"]
    assert node_named(result, ray_cluster["odd"])["snapshot"] is not None
    assert node_named(result, ray_cluster["head"])["snapshot"] is not None
