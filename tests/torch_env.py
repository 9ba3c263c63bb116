"""An interpreter with the CPU build of PyTorch, for the tests that run a real framework.

The test suite installs what it needs itself, as it starts its own Docker engine: the smoke
tests and `snapshot --deep` run against a separate venv holding `torch==2.13.0` (the CPU build
on this project's CI machines), made once and kept in a cache folder. The interpreter running
pytest is used instead when it already imports torch, and DLDOCTOR_TEST_TORCH_PYTHON names any
other. Under CI (CI set) an interpreter that cannot be made is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TORCH_REQUIREMENT = "torch==2.13.0"
EXTRA = ("numpy",)  # torch warns "Failed to initialize NumPy" without it
INSTALL_TIMEOUT_S = 1500


def _imports_torch(python: Path) -> bool:
    try:
        probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True, timeout=180, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    tag = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return Path(base) / "dldoctor-tests" / f"{TORCH_REQUIREMENT.replace('==', '-')}-{tag}"


def _build(venv: Path) -> str | None:
    """Make the venv beside its final place and move it in; the reason it failed, or None."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=venv.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True, capture_output=True, timeout=300)
        done = subprocess.run(
            [str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             TORCH_REQUIREMENT, *EXTRA],
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False,
        )
        if done.returncode != 0:
            return f"pip install {TORCH_REQUIREMENT} failed: {(done.stderr or done.stdout).strip()[-400:]}"
        shutil.rmtree(venv, ignore_errors=True)
        staging.rename(venv)
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot make a venv with {TORCH_REQUIREMENT}: {exc}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def find_torch_python() -> tuple[Path | None, str]:
    """The interpreter to use, or None and why there is none."""
    named = os.environ.get("DLDOCTOR_TEST_TORCH_PYTHON")
    if named:
        return (Path(named), "") if _imports_torch(Path(named)) else (None, f"{named} cannot import torch")
    if _imports_torch(Path(sys.executable)):
        return Path(sys.executable), ""
    venv = _cache_dir()
    python = venv / "bin" / "python"
    if python.exists() and _imports_torch(python):
        return python, ""
    failure = _build(venv)
    if failure is None and _imports_torch(python):
        return python, ""
    return None, failure or f"{python} cannot import torch after installing it"


_FOUND: tuple[Path | None, str] | None = None


def torch_python_or_skip() -> Path:
    """The interpreter with torch; skips the test where none can be made, fails under CI."""
    global _FOUND
    if _FOUND is None:
        _FOUND = find_torch_python()
    python, why = _FOUND
    if python is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the CPU build of torch: {why}", pytrace=False)
        pytest.skip(f"needs the CPU build of torch: {why}")
    return python
