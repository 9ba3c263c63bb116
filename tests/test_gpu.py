"""On a machine with an NVIDIA GPU: the real probes, the real smoke test, the real --deep.

Marked `gpu`: skipped with the reason elsewhere (tests/conftest.py). Set
DLDOCTOR_RECORD_DIR to keep the redacted snapshot and the smoke JSON, which
then become a scenario and the renderers' recorded result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu


def dld(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _record(name: str, text: str) -> None:
    folder = os.environ.get("DLDOCTOR_RECORD_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_text(text)


def test_snapshot_reads_the_gpus_through_nvml() -> None:
    proc = dld("snapshot", "--redact", "--deep")
    assert proc.returncode == 0, proc.stderr
    _record("snapshot-redacted.json", proc.stdout)
    nvidia = json.loads(proc.stdout)["nvidia"]
    assert nvidia["present"] and nvidia["sources"]["driver_version"] == "nvml"
    assert nvidia["driver_version"] and nvidia["cuda_driver_version"]
    assert nvidia["gpus"] and all(g.get("compute_capability") for g in nvidia["gpus"])


def test_smoke_passes_on_every_gpu() -> None:
    pytest.importorskip("torch")
    proc = dld("smoke", "--json", timeout=900)
    _record("smoke.json", proc.stdout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["schema"] == "dldoctor.smoke/1"
    assert result["exit_code"] == 0


def test_check_sees_a_working_gpu_stack() -> None:
    proc = dld("check", "--json", "--deep")
    report = json.loads(proc.stdout)
    errors = [f["id"] for f in report["findings"] if f["severity"] == "error"]
    assert proc.returncode == 0, errors
