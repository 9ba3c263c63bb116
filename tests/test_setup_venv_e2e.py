"""One real end-to-end venv setup: the CPU build of PyTorch, locked, installed in a fresh venv, smoke-tested.

This machine's pip can install torch==2.13.0 CPU from its local wheel store
(/opt/wheels); torch's dependencies come from PyPI. Nothing is skipped on a
machine that has the store: a failure to reach PyPI fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

WHEELS = Path("/opt/wheels")
TORCH = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (WHEELS / TORCH).is_file(), reason=f"no {TORCH} in {WHEELS} (the CI machine's wheel store)"),
    pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the stored torch wheel is cp311"),
]


def _setup(prefix: Path, out: Path, *extra: str) -> tuple[int, dict[str, object], float]:
    argv = [sys.executable, "-m", "dldoctor", "setup", "pytorch==2.13.0", "--backend", "venv", "--variant", "cpu",
            "--python", "3.11", "--find-links", str(WHEELS), "--prefix", str(prefix), "--out", str(out), "--json", *extra]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    assert done.stdout.strip(), f"no JSON on stdout; stderr: {done.stderr[-2000:]}"
    # piped: nothing on stderr but one line per step (the shared vocabulary), warnings and errors
    from dldoctor.setup.progress import step_of

    assert all(step_of(ln) or ln.startswith(("warning:", "dldoctor: error:")) for ln in done.stderr.splitlines()), \
        done.stderr
    if "--no-verify" not in extra:
        assert "verify: smoke passed" in done.stderr, done.stderr  # the verify step says its result
    return done.returncode, json.loads(done.stdout), took


@pytest.mark.timeout(900)
def test_cpu_torch_venv_end_to_end(tmp_path: Path) -> None:
    prefix, out = tmp_path / "torch-cpu", tmp_path / "files"
    code, result, _took = _setup(prefix, out)
    assert code == 0, result
    smoke = result["smoke"]
    assert isinstance(smoke, dict) and smoke["exit_code"] == 0, smoke
    lock_text = (out / "requirements.lock").read_text()
    assert "torch==2.13.0+cpu \\\n    --hash=sha256:" in lock_text
    pinned = [line for line in lock_text.splitlines() if "==" in line and not line.startswith("#")]
    assert len(pinned) >= 5 and all(line.endswith("\\") for line in pinned), pinned  # every package has a hash
    imported = subprocess.run([str(prefix / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True, timeout=120, check=True)
    assert imported.stdout.strip() == "2.13.0+cpu"
    assert "numpy" not in imported.stderr.lower(), imported.stderr  # numpy is there: no "Failed to initialize NumPy"
    assert "numpy==" in lock_text
    details = result["install"]["details"]  # type: ignore[index]
    assert details["framework"] == {"name": "torch", "version": "2.13.0+cpu", "build": "cpu"}
    # nothing staged left behind; the prefix's lock file stays (README: one setup per prefix at a time)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".torch-cpu.dldoctor-lock", "files", "torch-cpu"]

    # Nothing changed: the lock is reused, the environment kept, and it is quick.
    code, again, took = _setup(prefix, out, "--no-verify")
    assert code == 0, again
    assert again["lock"]["reused"] is True and again["install"]["changed"] is False  # type: ignore[index]
    assert took < 30, f"an unchanged re-run took {took:.1f}s"
