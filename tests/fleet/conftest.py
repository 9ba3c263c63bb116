"""The real clusters the fleet tests run against: Slurm from `.ci/slurm.sh` and a local Ray cluster.

Both are started by the tests themselves (the README's test command alone runs them). Under CI (CI set)
a cluster that cannot start is a failure, never a skip; elsewhere the tests that need it skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLURM_SCRIPT = ROOT / ".ci" / "slurm.sh"
SLURM_DIR = "/tmp/dldoctor-slurm"
#: The nodes .ci/slurm.sh makes odd: a TaskProlog exporting an old CUDA's LD_LIBRARY_PATH, and a GRES GPU
#: the machine does not have.
ODD_NODE, GRES_NODE, GOOD_NODE = "node2", "node3", "node1"
DLDOCTOR = [sys.executable, "-m", "dldoctor"]


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the fleet tests: {reason}")
    pytest.skip(reason)


def slurm_env(nodes: int = 3, directory: str = SLURM_DIR, port: int = 17000, **extra: str) -> dict[str, str]:
    """Start (or find) the cluster and return the environment its clients need."""
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        unavailable("starting slurmd/slurmctld needs root or sudo")
    env = dict(os.environ, DLDOCTOR_SLURM_DIR=directory, DLDOCTOR_SLURM_PORT=str(port), **extra)
    try:
        done = subprocess.run(["bash", str(SLURM_SCRIPT), str(nodes)], env=env, capture_output=True, text=True,
                              timeout=900, check=False)
    except subprocess.TimeoutExpired:
        unavailable(".ci/slurm.sh did not finish within 900s")
    if done.returncode != 0:
        unavailable(f".ci/slurm.sh failed: {(done.stderr.strip() or done.stdout.strip())[-500:]}")
    return dict(os.environ, SLURM_CONF=f"{directory}/slurm.conf")


def dldoctor(*args: str | Path, env: dict[str, str], cwd: Path | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user runs it (COLUMNS wide enough that table cells do not wrap)."""
    return subprocess.run([*DLDOCTOR, *map(str, args)], env={**env, "COLUMNS": "200", "NO_COLOR": "1"}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def slurm() -> dict[str, str]:
    return slurm_env()


RAY_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray keeps everything on 127.0.0.1


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[dict[str, Any]]:
    """Three Ray nodes on 127.0.0.1: the head, one whose workers see an old CUDA's LD_LIBRARY_PATH, and one
    Ray is told has a GPU (num_gpus=1) that the machine lacks."""
    # Without this, Ray swaps 127.0.0.1 for the host's address when it connects, where nothing listens.
    os.environ.update(RAY_LOOPBACK)
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        unavailable("ray is not installed (pip install -e '.[test]' installs it)")
    common: dict[str, Any] = {"num_cpus": 2, "node_ip_address": "127.0.0.1"}
    cluster: Any = Cluster(initialize_head=True, head_node_args={**common, "include_dashboard": False})  # untyped
    try:
        odd = cluster.add_node(**common, env_vars={"LD_LIBRARY_PATH": "/usr/local/cuda-10.2/lib64"})
        gres = cluster.add_node(**common, num_gpus=1)
        cluster.wait_for_nodes(timeout=120)
        yield {"cluster": cluster, "address": cluster.address, "odd": odd.node_id, "gpu": gres.node_id,
               "gpu_node": gres, "head": cluster.head_node.node_id, "env": dict(os.environ)}
    finally:
        cluster.shutdown()
