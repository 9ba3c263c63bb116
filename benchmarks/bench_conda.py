#!/usr/bin/env python3
"""Time the conda backend's solve and install against a large synthetic local channel.

Two measurements, printed as p50 / min over --runs (and as JSON with --json):

- lock: a three-platform lock (linux-64, linux-aarch64, osx-arm64) of a
  PyTorch-sized spec (about 100 packages in the solution) against a channel of
  --records repodata records per subdir (plus noarch), the repodata already on
  local disk (what "cached" means for a remote channel). Target: < 3 s.
- install: the same environment from a warm package cache (archives verified,
  extracted) into a fresh prefix, and the no-op re-install. Target: < 10 s.

    python benchmarks/bench_conda.py [--records 30000] [--runs 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dldoctor.setup.conda.backend import CondaBackend
from dldoctor.setup.pipeline import LockResult
from dldoctor.setup.plan import Plan
from tests.channels import Pkg, build_package, index_channel

PLATFORMS = ("linux-64", "linux-aarch64", "osx-arm64")
DEPS = 100  # packages in the solved environment, about PyTorch's size on conda-forge


def fake_hash(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def synthetic_repodata(subdir: str, records: int, rng: random.Random) -> dict[str, object]:
    """`records` records: `lib<i>` in several versions, each depending on lower-numbered libs."""
    names = max(records // 8, DEPS + 1)
    packages: dict[str, dict[str, object]] = {}
    for i in range(names):
        for v in range(8):
            deps = [f"lib{j} >={rng.randint(0, 3)}" for j in rng.sample(range(i), min(i, 3))] if i else []
            fn = f"lib{i}-{v}.0-h{v}_0.tar.bz2"
            packages[fn] = {
                "name": f"lib{i}", "version": f"{v}.0", "build": f"h{v}_0", "build_number": 0, "subdir": subdir,
                "depends": deps, "md5": fake_hash(fn + "md5", 32), "sha256": fake_hash(fn, 64), "size": 1_000_000,
                "timestamp": 1_700_000_000_000,
            }
            if len(packages) >= records:
                break
    for version in ("2.4.1", "2.5.1", "2.6.0"):
        for build in ("cuda126_py311_h1_300", "cpu_generic_py311_h1_0"):
            fn = f"pytorch-{version}-{build}.tar.bz2"
            deps = [f"lib{j}" for j in range(DEPS - 5)] + ["python >=3.11,<3.12.0a0"]
            if build.startswith("cuda"):
                deps += ["__cuda", "cuda-version >=12.6,<13"]
            packages[fn] = {"name": "pytorch", "version": version, "build": build,
                            "build_number": 300 if build.startswith("cuda") else 0, "subdir": subdir, "depends": deps,
                            "md5": fake_hash(fn + "md5", 32), "sha256": fake_hash(fn, 64), "size": 500_000_000}
    fn = "python-3.11.9-h0.tar.bz2"
    packages[fn] = {"name": "python", "version": "3.11.9", "build": "h0", "build_number": 0, "subdir": subdir,
                    "depends": [], "md5": fake_hash(fn + "md5", 32), "sha256": fake_hash(fn, 64), "size": 30_000_000}
    return {"info": {"subdir": subdir}, "packages": packages, "packages.conda": {}, "repodata_version": 1}


def build_solve_channel(root: Path, records: int) -> Path:
    rng = random.Random(42)
    for subdir in PLATFORMS:
        (root / subdir).mkdir(parents=True, exist_ok=True)
        (root / subdir / "repodata.json").write_text(json.dumps(synthetic_repodata(subdir, records, rng)))
    (root / "noarch").mkdir(parents=True, exist_ok=True)
    noarch = {"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}
    for cv in ("12.6", "13.0"):
        fn = f"cuda-version-{cv}-h0.tar.bz2"
        noarch["packages"][fn] = {  # type: ignore[index]
            "name": "cuda-version", "version": cv, "build": "h0", "build_number": 0, "subdir": "noarch",
            "depends": [], "constrains": [f"__cuda >={cv.split('.')[0]}"], "md5": fake_hash(fn + "m", 32),
            "sha256": fake_hash(fn, 64), "size": 20_000, "noarch": "generic"}
    (root / "noarch" / "repodata.json").write_text(json.dumps(noarch))
    return root


def build_install_channel(root: Path, files_per_package: int, file_bytes: int) -> Path:
    """Real packages for linux-64: python, cuda-version, pytorch and its DEPS libraries."""
    rng = random.Random(7)
    pkgs = [Pkg("python", "3.11.9", "h0", "linux-64", files={"bin/python": b"#!/bin/sh\nexit 0\n"},
                executables=("bin/python",)),
            Pkg("cuda-version", "12.6", "h0", "noarch", constrains=("__cuda >=12",))]
    for i in range(DEPS - 5):
        block = rng.randbytes(4096)
        pkgs.append(Pkg(f"lib{i}", "1.0", "h0", "linux-64",
                        files={f"lib/lib{i}/f{k}.so": block * (file_bytes // 4096) for k in range(files_per_package)}))
    pkgs.append(Pkg("pytorch", "2.5.1", "cuda126_py311_h1_300", "linux-64", build_number=300,
                    depends=(*(f"lib{i}" for i in range(DEPS - 5)), "python >=3.11,<3.12.0a0", "__cuda",
                             "cuda-version >=12.6,<13"),
                    files={"lib/python3.11/site-packages/torch/__init__.py": b"__version__ = '2.5.1'\n"}))
    for pkg in pkgs:
        build_package(pkg, root)
    index_channel(root)
    return root


def plan_for(work: Path, channel: Path, platforms: tuple[str, ...]) -> Plan:
    return Plan(framework="pytorch", version="2.5", python="3.11", variant="cuda12.6", backend="conda",
                platforms=platforms, channel=str(channel), index_url=None, extra_index_urls=(), find_links=(),
                prefix=work / "env", out_dir=work / "out", cuda_driver_version="12.8", capabilities=("9.0",),
                gfx_targets=(), glibc="2.35")


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_s": round(statistics.median(values), 3), "min_s": round(min(values), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000, help="repodata records per platform subdir")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=40, help="files per installed package")
    parser.add_argument("--file-kb", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    quiet = lambda line: None  # noqa: E731  (progress lines are not what is timed)
    work = Path(tempfile.mkdtemp(prefix="bench-conda-"))
    try:
        started = time.perf_counter()
        solve_channel = build_solve_channel(work / "big", args.records)
        print(f"synthetic channel: {args.records} records x {len(PLATFORMS)} subdirs, "
              f"built in {time.perf_counter() - started:.1f}s")
        backend = CondaBackend(cache_dir=work / "cache")
        plan = plan_for(work / "lock", solve_channel, PLATFORMS)
        spec = backend.write_spec(plan, quiet)
        locks = []
        for i in range(args.runs + 1):
            t = time.perf_counter()
            lock = backend.lock(replace(plan, update=True), spec, quiet)
            if i:  # the first run reads the repodata from disk into the page cache
                locks.append(time.perf_counter() - t)
        t = time.perf_counter()
        backend.lock(plan, spec, quiet)
        reuse = time.perf_counter() - t
        print(f"lock, 3 platforms, {lock.packages} packages: {summary(locks)} (target < 3 s); "
              f"unchanged spec (no re-solve): {reuse:.3f}s")

        started = time.perf_counter()
        inst_channel = build_install_channel(work / "real", args.files, args.file_kb * 1024)
        size = sum(p.stat().st_size for p in inst_channel.rglob("*.tar.bz2"))
        print(f"install channel: {DEPS} packages, {DEPS * args.files} files, {size / 1e6:.1f} MB compressed, "
              f"built in {time.perf_counter() - started:.1f}s")
        iplan = plan_for(work / "inst", inst_channel, ("linux-64",))
        ispec = backend.write_spec(iplan, quiet)
        ilock: LockResult = backend.lock(iplan, ispec, quiet)
        t = time.perf_counter()
        backend.install(iplan, ilock, quiet)
        cold = time.perf_counter() - t
        warm = []
        for _ in range(args.runs):
            shutil.rmtree(iplan.prefix)
            t = time.perf_counter()
            backend.install(iplan, ilock, quiet)
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = backend.install(iplan, ilock, quiet)
        noop = time.perf_counter() - t
        assert not result.changed
        print(f"install, cold cache: {cold:.3f}s; warm cache into a new prefix: {summary(warm)} (target < 10 s); "
              f"unchanged (no-op): {noop:.3f}s")
        figures = {"records_per_subdir": args.records, "lock_3_platforms": summary(locks), "lock_reused_s": round(reuse, 3),
                   "lock_packages": lock.packages, "install_cold_s": round(cold, 3), "install_warm": summary(warm),
                   "install_noop_s": round(noop, 3), "install_packages": DEPS, "install_files": DEPS * args.files,
                   "install_compressed_mb": round(size / 1e6, 1), "cpus": os.cpu_count()}
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n")
        print(json.dumps(figures))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
