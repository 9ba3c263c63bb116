#!/usr/bin/env python3
"""Time locking and installing the CPU PyTorch venv with uv and with pip, side by side in one run.

Each round builds the same environment (torch==2.13.0 CPU from a local wheel
folder, its dependencies from the index) from scratch with each installer,
interleaved so machine noise hits both alike: a fresh lock (`--update`), then
a fresh venv (creation included; the same `python -m venv` for both). Caches
stay warm after the first round, as they would on a developer's machine; the
first round is reported separately. Also times an unchanged re-run (lock
reused, environment kept). No smoke test: that is the same for both.

    python benchmarks/bench_venv.py [--rounds 3] [--find-links /opt/wheels] [--torch 2.13.0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dldoctor.setup.plan import Plan
from dldoctor.setup.venv.backend import VenvBackend


def plan_for(root: Path, torch: str, find_links: list[str], index_url: str | None) -> Plan:
    return Plan(
        framework="pytorch", version=torch, python=f"{sys.version_info.major}.{sys.version_info.minor}", variant="cpu",
        backend="venv", platforms=("linux-64",), channel=None, index_url=index_url, extra_index_urls=(),
        find_links=tuple(find_links), prefix=root / "env", out_dir=root / "out", cuda_driver_version=None,
        capabilities=(), gfx_targets=(), glibc="2.28", update=True,
    )


def one_round(installer: str, torch: str, find_links: list[str], index_url: str | None) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix=f"bench-venv-{installer}-"))
    try:
        backend = VenvBackend(installer=installer)
        plan = plan_for(root, torch, find_links, index_url)
        quiet = lambda _line: None  # noqa: E731  (a progress sink)
        started = time.perf_counter()
        spec = backend.write_spec(plan, quiet)
        lock = backend.lock(plan, spec, quiet)
        locked = time.perf_counter()
        installed = backend.install(plan, lock, quiet)
        done = time.perf_counter()
        assert installed.changed
        again = replace(plan, update=False)
        backend.install(again, backend.lock(again, backend.write_spec(again, quiet), quiet), quiet)
        rerun = time.perf_counter()
        return {"lock_s": locked - started, "install_s": done - locked, "total_s": done - started,
                "unchanged_rerun_s": rerun - done, "packages": float(lock.packages)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch", default="2.13.0")
    parser.add_argument("--find-links", action="append", default=None)
    parser.add_argument("--index-url", default=None)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    find_links = args.find_links or ["/opt/wheels"]
    installers = ["uv", "pip"] if VenvBackend()._uv() else ["pip"]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in installers}
    for _ in range(args.rounds):
        for name in installers:
            samples[name].append(one_round(name, args.torch, find_links, args.index_url))
    rows: dict[str, Any] = {}
    for name, runs in samples.items():
        rows[name] = {"first": runs[0]} | {
            f"median_{key}": statistics.median(r[key] for r in runs)
            for key in ("lock_s", "install_s", "total_s", "unchanged_rerun_s")}
    print(f"CPU PyTorch {args.torch} venv, Python {sys.version.split()[0]}, {args.rounds} rounds, "
          f"find-links {', '.join(find_links)}, index {args.index_url or 'PyPI'}")
    print(f"{'installer':<10}{'lock s':>10}{'install s':>12}{'total s':>10}{'re-run s':>10}{'1st total s':>13}")
    for name, row in rows.items():
        print(f"{name:<10}{row['median_lock_s']:>10.2f}{row['median_install_s']:>12.2f}{row['median_total_s']:>10.2f}"
              f"{row['median_unchanged_rerun_s']:>10.2f}{row['first']['total_s']:>13.2f}")
    if "uv" in rows and "pip" in rows:
        print(f"uv/pip total: {rows['uv']['median_total_s'] / rows['pip']['median_total_s']:.2f}x")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"schema": "dldoctor.bench_venv/1", "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
