"""No accelerator is a verdict of the setup result, with one exit code whichever backend built it.

The conda and venv backends' verify steps run the real smoke test with a
real CPU-only PyTorch (tests/torch_env.py) for a CUDA plan: both come back
with the verdict "no-accelerator" and exit code 7, the code `smoke` uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dldoctor.errors import ExitCode
from dldoctor.setup.conda.backend import CondaBackend
from dldoctor.setup.pipeline import InstallResult, SetupResult
from dldoctor.setup.plan import Plan
from dldoctor.setup.venv.backend import VenvBackend
from tests.torch_env import torch_python_or_skip


def _plan(tmp_path: Path, backend: str, variant: str = "cuda12.6") -> Plan:
    return Plan(framework="pytorch", version="2.13", python="3.11", variant=variant, backend=backend,
                platforms=("linux-64",), channel=None, index_url=None, extra_index_urls=(), find_links=(),
                prefix=tmp_path / "env", out_dir=tmp_path, cuda_driver_version="12.8", capabilities=("9.0",),
                gfx_targets=(), glibc="2.35")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["conda", "venv"])
def test_gpu_plan_verified_on_a_cpu_only_torch_is_no_accelerator_in_every_backend(tmp_path: Path, backend: str) -> None:
    python = torch_python_or_skip()
    plan = _plan(tmp_path, backend)
    installed = InstallResult(location=str(tmp_path / "env"), python=str(python), changed=True, activate="")
    said: list[str] = []
    chosen = CondaBackend() if backend == "conda" else VenvBackend()
    smoke = chosen.verify(plan, installed, said.append)  # returns the result: no exception carries it
    assert smoke["verdict"] == "no-accelerator" and smoke["exit_code"] == ExitCode.NO_ACCELERATOR
    assert any(line.startswith("verify: ") for line in said), said
    result = SetupResult(plan=plan, install=installed, smoke=smoke)
    assert result.verdict == "no-accelerator" and result.exit_code() == ExitCode.NO_ACCELERATOR
    assert int(ExitCode.NO_ACCELERATOR) == 7
    assert result.to_json()["verdict"] == "no-accelerator"
    assert result.ready_line().endswith("smoke found no accelerator (it ran on the CPU)")


def test_verdicts_map_to_one_exit_code_each(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "docker")
    image = InstallResult(location="dldoctor/pytorch:cu126", python=None, changed=True, activate="docker run ...")
    cases = {"pass": ExitCode.OK, "fail": ExitCode.FINDINGS, "no-accelerator": ExitCode.NO_ACCELERATOR,
             "skipped": ExitCode.OK}
    for verdict, code in cases.items():
        assert SetupResult(plan=plan, install=image, smoke={"verdict": verdict}).exit_code() == code
    assert SetupResult(plan=plan, install=image).verdict == "not-verified"
    assert SetupResult(plan=plan).verdict == "planned"
