"""The all-reduce across child processes, each running `collective_worker`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

from .markers import RANK_MARKER
from .source import embedded

#: The worker's source, run by each rank with `python -c`: the markers and
#: collective_worker.py joined (payload_source() writes the text in here).
COLLECTIVE_WORKER = embedded("markers", "collective_worker")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_collective(world: int, backend: str, quick: bool, timeout_s: float) -> dict[str, Any]:
    """All-reduce across `world` child processes, checked for the right sum."""
    numel = (1 << 20) if quick else (64 << 20)
    summary: dict[str, Any] = {"test": "all_reduce", "backend": backend, "world_size": world,
                               "bytes": numel * 4, "status": "fail"}
    base_env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                    WORLD_SIZE=str(world), DLDOCTOR_SMOKE_BACKEND=backend,
                    DLDOCTOR_SMOKE_NUMEL=str(numel))
    procs = []
    for rank in range(world):
        env = dict(base_env, RANK=str(rank), LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, "-c", COLLECTIVE_WORKER], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + timeout_s
    ranks: list[dict[str, Any]] = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            summary["reason"] = (f"all-reduce did not finish within {timeout_s:.0f}s "
                                 "(a hang in NCCL init or in the collective)")
            return summary
        line = next((ln for ln in out.splitlines() if ln.startswith(RANK_MARKER)), None)
        if line is None:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            ranks.append({"error": f"worker exited with {proc.returncode}: {tail[:300]}"})
        else:
            ranks.append(json.loads(line[len(RANK_MARKER):]))
    summary["ranks"] = ranks
    errors = [r["error"] for r in ranks if r.get("error")]
    wrong = sum(int(r.get("wrong", 0)) for r in ranks)
    if errors:
        summary["reason"] = errors[0]
    elif wrong:
        summary["reason"] = f"{wrong} elements hold the wrong sum (expected {ranks[0]['expected']})"
    else:
        summary["status"] = "pass"
        summary["expected_sum"] = ranks[0]["expected"]
        summary["busbw_gbs"] = min(float(r["busbw_gbs"]) for r in ranks)
    return summary
