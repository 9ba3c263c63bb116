"""install.sh for real, in a clean container with no network, from a locally built wheel.

The container is the test base image (Debian with Python, made without a
registry by tests/docker_base.py); a wheelhouse of dldoctor and everything it
needs (torch's CPU build included, for --setup) is mounted read-only and pip is
told to use nothing else.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SCRIPT = r"""
set -eu
export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1
export DLDOCTOR_SOURCE="$(ls /wheels/dldoctor-*.whl)"
echo "== first install"
sh /install.sh --quiet --no-check
test -x /opt/dldoctor/venv/bin/dldoctor
test -L /usr/local/bin/dldoctor
dldoctor --version
dldoctor check --json > /tmp/report.json || test $? -eq 1
python3 -c "import json; r = json.load(open('/tmp/report.json')); assert r['schema'] == 'dldoctor.report/1'"
echo "== re-run"
sh /install.sh --quiet --no-check
test -x /opt/dldoctor/venv/bin/dldoctor
echo "== setup"
sh /install.sh --quiet --no-check --setup "pytorch==2.13.0" -- --backend venv --variant cpu \
    --index-url none --find-links /wheels --prefix /opt/envs/torch --out /tmp/setup
/opt/envs/torch/bin/python -c "import torch; print('torch', torch.__version__)"
echo "== uninstall"
sh /install.sh --uninstall
test ! -e /opt/dldoctor
test ! -e /usr/local/bin/dldoctor
echo "== all done"
"""


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dldoctor's wheel and every wheel it and CPU torch (with numpy beside it) need, for Python 3.11 on x86_64."""
    if not TORCH_WHEEL.exists():
        pytest.skip(f"the CPU torch wheel is not at {TORCH_WHEEL}")
    house = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(house),
                    str(ROOT)], check=True, timeout=300)
    wheel = next(house.glob("dldoctor-*.whl"))
    shutil.copy(TORCH_WHEEL, house / TORCH_WHEEL.name)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(house), "--only-binary=:all:",
                    "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "--platform",
                    "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64",
                    "--find-links", str(house), str(wheel), "pip", "setuptools", "wheel",
                    str(house / TORCH_WHEEL.name), "numpy"],  # setup installs numpy beside the framework
                   check=True, timeout=900)
    return house


def test_install_rerun_setup_uninstall_offline(base_image: str, engine: Any, wheelhouse: Path) -> None:
    name = "dldoctor-test-installer"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
    try:
        proc = subprocess.run(
            ["docker", "run", "--name", name, "--network", "none",
             "-v", f"{wheelhouse}:/wheels:ro", "-v", f"{ROOT / 'install.sh'}:/install.sh:ro",
             base_image, "sh", "-c", SCRIPT],
            capture_output=True, text=True, timeout=1500, check=False,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "== all done" in proc.stdout
    assert "torch 2.13.0+cpu" in proc.stdout
