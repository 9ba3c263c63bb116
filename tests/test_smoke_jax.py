"""The smoke test and --deep with a second framework for real: JAX's CPU build in its own venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jax_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An interpreter with JAX (CPU) and nothing of dldoctor: the payload must need nothing else."""
    venv = tmp_path_factory.mktemp("jax") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "jax"],
                               capture_output=True, text=True, timeout=900, check=False)
    if installed.returncode != 0:
        pytest.fail(f"pip install jax failed: {installed.stderr[-500:]}")
    return python


def dld(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, check=False)


def test_jax_smoke_passes_on_cpu(jax_python: str) -> None:
    proc = dld("smoke", "--framework", "jax", "--python", jax_python, "--allow-cpu", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr[-1000:]
    result = json.loads(proc.stdout)
    assert result["framework"] == "jax" and result["verdict"] == "pass"
    tests = [t for device in result["devices"] for t in device["tests"]]
    passed = [t for t in tests if t["status"] == "pass"]
    assert any(t["mode"] == "compiled" for t in passed), "jax.jit ran"
    assert {t["dtype"] for t in passed} >= {"fp32", "fp16", "bf16"}
    assert not [t for t in tests if t["status"] == "fail"]


def test_jax_smoke_catches_a_wrong_result(jax_python: str) -> None:
    proc = dld("smoke", "--framework", "jax", "--python", jax_python, "--allow-cpu", "--quick", "--json",
               env={"DLDOCTOR_SMOKE_FAULT": "wrong"})
    assert proc.returncode == 1, proc.stderr[-1000:]
    result = json.loads(proc.stdout)
    assert [t for device in result["devices"] for t in device["tests"] if t["status"] == "fail"]


def test_deep_imports_jax_in_its_interpreter(jax_python: str, tmp_path: Path) -> None:
    proc = dld("snapshot", "--python", jax_python, "--deep")
    assert proc.returncode == 0, proc.stderr
    installed = json.loads(proc.stdout)["frameworks"]["installed"]
    jax = next(f for f in installed if f["name"] == "jax")
    assert jax["variant"] == "cpu"
    assert jax["deep"].get("error") is None, jax["deep"]
    assert jax["deep"]["default_backend"] == "cpu" and jax["deep"]["device_count"] == 0
