#!/usr/bin/env python3
"""Time `dldoctor fleet check --slurm` on 1, 3 and 8 nodes of a real Slurm cluster on this host.

Starts its own cluster with .ci/slurm.sh (8 slurmd, own folder and ports, no odd node), runs the real CLI
--runs times per size and prints, per size, the median of: the wall time, the scheduler's part (srun from
start to the last node's answer), the slowest node's snapshot, dldoctor's own time on the driver side
(listing the nodes, diagnosing every snapshot, the fleet rules: total - scheduler) and that per node.
The fan-out is srun's, in parallel: dldoctor's own time per node must stay flat as nodes are added.
All slurmd share this host's cores, so the nodes' snapshots compete for them (a real cluster has its own).

    python benchmarks/bench_fleet.py [--runs 3] [--json FILE]   (needs root or sudo for the daemons)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIR = "/tmp/dldoctor-slurm-bench"
PORT = 17100
SIZES = {1: "node1", 3: "node[1-3]", 8: "node[1-8]"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    env = dict(os.environ, DLDOCTOR_SLURM_DIR=DIR, DLDOCTOR_SLURM_PORT=str(PORT), DLDOCTOR_SLURM_ODD_NODE="",
               DLDOCTOR_SLURM_GRES_NODE="")
    subprocess.run(["bash", str(ROOT / ".ci" / "slurm.sh"), "8"], env=env, check=True, timeout=900)
    env["SLURM_CONF"] = f"{DIR}/slurm.conf"
    rows = []
    try:
        for count, nodelist in SIZES.items():
            runs = []
            for _ in range(args.runs):
                started = time.monotonic()
                done = subprocess.run([sys.executable, "-m", "dldoctor", "-q", "fleet", "check", "--slurm", "--nodelist",
                                       nodelist, "--json"], env=env, capture_output=True, text=True, timeout=600,
                                      check=False, cwd="/tmp")
                wall = time.monotonic() - started
                result = json.loads(done.stdout)
                assert result["nodes_answered"] == count, done.stdout[-500:] + done.stderr[-500:]
                runs.append({"wall_s": wall, **result["timings"]})
            row = {"nodes": count, **{k: round(statistics.median(r[k] for r in runs), 3)
                                      for k in ("wall_s", "scheduler_run_s", "slowest_node_snapshot_s", "dldoctor_s",
                                                "dldoctor_per_node_s")}}
            rows.append(row)
            print(f"{count} node(s): wall {row['wall_s']:.2f}s  scheduler {row['scheduler_run_s']:.2f}s  "
                  f"slowest node snapshot {row['slowest_node_snapshot_s']:.2f}s  dldoctor's own {row['dldoctor_s']:.3f}s "
                  f"({row['dldoctor_per_node_s'] * 1000:.1f} ms per node)", flush=True)
    finally:
        subprocess.run(["bash", str(ROOT / ".ci" / "slurm.sh"), "--stop"], env=env, check=False, timeout=120)
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
