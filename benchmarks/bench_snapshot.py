#!/usr/bin/env python3
"""Time `dldoctor snapshot` and `dldoctor check` against PyTorch's collect_env, side by side.

Each command runs as a fresh process (what a user waits for), interleaved
round by round so that machine noise hits all of them alike. Prints p50/p90
wall times and the ratios the README quotes:

    python benchmarks/bench_snapshot.py [--runs 21] [--python PYTHON] [--json FILE]

`--python` is the interpreter that has dldoctor (and, for the comparison,
torch) installed; default: this one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # check exits 1 when it finds an error; that is a result
        raise SystemExit(f"{' '.join(argv)} failed with exit code {proc.returncode}")
    return elapsed


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    py = args.python
    has_torch = subprocess.run([py, "-c", "import torch.utils.collect_env"], capture_output=True,
                               timeout=120, check=False).returncode == 0
    commands = {
        "dldoctor snapshot": [py, "-m", "dldoctor", "snapshot"],
        "dldoctor check": [py, "-m", "dldoctor", "check", "--json"],
    }
    if has_torch:
        commands["torch collect_env"] = [py, "-m", "torch.utils.collect_env"]
    for argv in commands.values():  # warm the file cache and the bytecode
        timed(argv)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    rows = {name: {"p50_ms": statistics.median(v) * 1000, "p90_ms": quantile(v, 0.9) * 1000,
                   "min_ms": min(v) * 1000} for name, v in samples.items()}
    print(f"{'command':<20} {'p50 ms':>9} {'p90 ms':>9} {'min ms':>9}   ({args.runs} runs each, interleaved)")
    for name, row in rows.items():
        print(f"{name:<20} {row['p50_ms']:>9.1f} {row['p90_ms']:>9.1f} {row['min_ms']:>9.1f}")
    result: dict[str, object] = {"runs": args.runs, "python": py, "results": rows}
    if has_torch:
        base = rows["torch collect_env"]["p50_ms"]
        for name in ("dldoctor snapshot", "dldoctor check"):
            ratio = base / rows[name]["p50_ms"]
            result[f"{name} speedup vs collect_env"] = round(ratio, 1)
            print(f"{name}: {ratio:.1f}x faster than python -m torch.utils.collect_env (p50)")
    else:
        print("torch is not installed for this interpreter: no collect_env comparison")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
