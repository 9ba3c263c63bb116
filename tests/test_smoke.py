"""`dldoctor smoke`: the payload against the real CPU build of PyTorch, planted
faults, broken and hanging targets, the docker argv, and the renderer."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import io
import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dldoctor.errors import ExitCode, TargetError, TimeoutExpired, UnavailableError, UsageError
from dldoctor.runner import CommandResult, Runner
from dldoctor.smoke import (
    HostAccelerators,
    SmokeOptions,
    SmokeTarget,
    build_invocation,
    docker_device_flags,
    no_accelerator_message,
    render_smoke,
    run_smoke,
)
from dldoctor.smoke import payload as payload_mod
from dldoctor.smoke import run as run_mod
from dldoctor.smoke.command import smoke_command
from tests.torch_env import torch_python_or_skip


@pytest.fixture(scope="module")
def payload_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The joined payload source written to a file, as a user would run it by hand."""
    path = tmp_path_factory.mktemp("payload") / "payload.py"
    path.write_text(payload_mod.payload_source(), encoding="utf-8")
    return path


CURRENT = SmokeTarget("current")


@pytest.fixture(scope="module")
def torch_target() -> SmokeTarget:
    """An interpreter with the CPU build of torch (made by tests/torch_env.py when this one has none)."""
    return SmokeTarget("python", str(torch_python_or_skip()))

QUICK = SmokeOptions(framework="torch", quick=True, allow_cpu=True, compile=False, timeout_s=120)


def quick(**changes: Any) -> SmokeOptions:
    return dataclasses.replace(QUICK, **changes)


def fake_interpreter(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture(scope="module")
def cpu_result(torch_target: SmokeTarget) -> dict[str, Any]:
    return run_smoke(torch_target, QUICK)


# ------------------------------------------------------------ real CPU torch


def test_cpu_correctness_passes_with_allow_cpu(cpu_result: dict[str, Any]) -> None:
    assert cpu_result["exit_code"] == ExitCode.OK
    assert cpu_result["verdict"] == "pass"
    assert cpu_result["accelerator"] is False
    (device,) = cpu_result["devices"]
    ran = {(c["test"], c["dtype"]): c for c in device["tests"] if c["status"] != "skip"}
    assert set(ran) == {(op, dt) for op in ("matmul", "conv2d") for dt in ("fp32", "fp16", "bf16")}
    for case in ran.values():
        assert case["status"] == "pass"
        assert case["written_check"] is True
        assert case["rel_error"] < case["threshold"]
    assert ran[("matmul", "fp32")]["rel_error"] < 1e-5
    assert [s["test"] for s in device["speed"]] == ["matmul"]
    assert device["speed"][0]["gflops"] > 0
    assert any(f["code"] == "no-accelerator" and f["severity"] == "info" for f in cpu_result["findings"])


def test_cpu_without_allow_cpu_is_no_accelerator(torch_target: SmokeTarget) -> None:
    result = run_smoke(torch_target, quick(allow_cpu=False))  # a verdict of the result, not an exception
    assert result["exit_code"] == ExitCode.NO_ACCELERATOR
    assert result["verdict"] == "no-accelerator"
    assert "--allow-cpu" in no_accelerator_message(result)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("wrong", "relative error"),
        ("unwritten", "never written"),
        ("nan", "NaN/Inf"),
        ("wrong@conv2d/bf16/eager", "relative error"),
    ],
)
def test_planted_faults_are_caught(torch_target: SmokeTarget, fault: str, expected: str) -> None:
    result = run_smoke(torch_target, quick(speed=False, extra_env={"DLDOCTOR_SMOKE_FAULT": fault}))
    assert result["exit_code"] == ExitCode.FINDINGS
    assert result["verdict"] == "fail"
    failed = [c for c in result["devices"][0]["tests"] if c["status"] == "fail"]
    assert len(failed) == 1
    assert failed[0]["fault_injected"] == fault.split("@")[0]
    assert expected in failed[0]["reason"]
    (finding,) = [f for f in result["findings"] if f["code"] == "wrong-result"]
    assert expected in finding["message"]


def test_compile_failure_is_its_own_finding_and_eager_still_counts(torch_target: SmokeTarget) -> None:
    options = quick(compile=True, speed=False, extra_env={"DLDOCTOR_SMOKE_COMPILE_BACKEND": "no-such-backend"})
    result = run_smoke(torch_target, options)
    assert result["exit_code"] == ExitCode.OK
    device = result["devices"][0]
    assert device["compile"]["ok"] is False
    assert device["compile"]["fix"]
    (finding,) = [f for f in result["findings"] if f["code"] == "compile-failed"]
    assert finding["severity"] == "warning"
    assert all(c["status"] in ("pass", "skip") for c in device["tests"] if c["mode"] == "eager")
    assert [c["status"] for c in device["tests"] if c["mode"] == "compiled" and c["status"] != "skip"] == [
        "compile_error"
    ]


@pytest.mark.slow
def test_torch_compile_runs_on_cpu(torch_target: SmokeTarget) -> None:
    result = run_smoke(torch_target, quick(compile=True, speed=False, timeout_s=240))
    device = result["devices"][0]
    assert device["compile"] == {"ok": True}
    (compiled,) = [c for c in device["tests"] if c["mode"] == "compiled" and c["status"] != "skip"]
    assert compiled["status"] == "pass"
    assert result["exit_code"] == ExitCode.OK


def test_collective_all_reduce_over_gloo(torch_target: SmokeTarget) -> None:
    result = run_smoke(torch_target, quick(speed=False, collective_world=2))
    collective = result["collective"]
    assert collective["status"] == "pass", collective
    assert collective["expected_sum"] == 3.0
    assert all(rank["wrong"] == 0 for rank in collective["ranks"])


def test_discovery_mismatch_fails_with_reason(torch_target: SmokeTarget) -> None:
    result = run_smoke(torch_target, quick(speed=False, expected_devices=2))
    assert result["exit_code"] == ExitCode.FINDINGS
    assert result["discovery"]["ok"] is False
    (finding,) = [f for f in result["findings"] if f["code"] == "device-discovery"]
    assert "sees 0 device(s) but 2 are expected" in finding["message"]
    assert "CPU-only" in finding["message"]


def test_unknown_device_index_is_a_usage_error(torch_target: SmokeTarget) -> None:
    with pytest.raises(UsageError, match="--device 5"):
        run_smoke(torch_target, quick(device=5))


def test_payload_runs_as_a_file_and_prints_one_marked_line(torch_target: SmokeTarget, payload_file: Path) -> None:
    done = subprocess.run(
        [str(torch_target.value), str(payload_file), "--framework", "torch", "--quick", "--no-compile", "--no-speed"],
        capture_output=True, text=True, timeout=120,
    )
    marked = [ln for ln in done.stdout.splitlines() if ln.startswith(payload_mod.RESULT_MARKER)]
    assert len(marked) == 1
    assert json.loads(marked[0][len(payload_mod.RESULT_MARKER):])["framework"] == "torch"
    assert payload_mod.PROGRESS_MARKER in done.stderr


# ---------------------------------------------------------- broken targets


def test_target_without_torch_is_a_target_error(tmp_path: Path) -> None:
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    with pytest.raises(TargetError, match="cannot import torch"):
        run_smoke(SmokeTarget("python", str(venv / "bin" / "python")), quick())


def test_prefix_without_python_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="has no bin/python"):
        run_smoke(SmokeTarget("prefix", str(tmp_path)), quick())


def test_interpreter_that_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="could not start"):
        run_smoke(SmokeTarget("python", str(tmp_path / "missing-python")), quick())


def test_hanging_target_times_out_within_the_limit(tmp_path: Path) -> None:
    python = fake_interpreter(tmp_path, "echo 'dldoctor-smoke: device 0 matmul bf16 eager' >&2\nexec sleep 60")
    started = time.monotonic()
    with pytest.raises(TimeoutExpired, match="within 2s") as caught:
        run_smoke(SmokeTarget("python", python), quick(timeout_s=2))
    assert time.monotonic() - started < 10
    assert "device 0 matmul bf16 eager" in caught.value.message


def test_crash_mid_run_names_the_last_step(tmp_path: Path) -> None:
    python = fake_interpreter(tmp_path, "echo 'dldoctor-smoke: device 1 conv2d fp16 eager' >&2\nkill -SEGV $$")
    with pytest.raises(TargetError, match="device 1 conv2d fp16 eager") as caught:
        run_smoke(SmokeTarget("python", python), quick())
    assert "died" in caught.value.message


def test_framework_chatter_on_stdout_does_not_confuse_parsing(tmp_path: Path) -> None:
    payload = {"framework": "torch", "framework_version": "x", "backend": "cpu", "accelerator": False,
               "devices": [], "discovery": {"ok": True}, "error": None}
    line = payload_mod.RESULT_MARKER + json.dumps(payload)
    python = fake_interpreter(tmp_path, f"cat >/dev/null\necho '{{\"not\": \"it\"}}'\necho '{line}'\necho done")
    result = run_smoke(SmokeTarget("python", python), quick())
    assert result["framework_version"] == "x"


def test_smoke_command_rejects_two_targets() -> None:
    with pytest.raises(UsageError):
        smoke_command(python="/usr/bin/python3", image="x:1")


# ------------------------------------------------------------------ docker


def test_docker_flags_for_nvidia_amd_and_none() -> None:
    assert docker_device_flags(HostAccelerators(nvidia_devices=2))[:2] == ["--gpus", "all"]
    amd = docker_device_flags(HostAccelerators(amd_kfd=True, dri=True))
    assert ["--device", "/dev/kfd"] == amd[:2]
    assert "/dev/dri" in amd and "video" in amd and "--gpus" not in amd
    assert docker_device_flags(HostAccelerators()) == []


def test_host_accelerators_from_a_fake_root(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    (dev / "dri").mkdir(parents=True)
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "kfd"):
        (dev / name).touch()
    assert HostAccelerators.detect(str(tmp_path)) == HostAccelerators(nvidia_devices=2, amd_kfd=True, dri=True)


def test_image_invocation() -> None:
    inv = build_invocation(
        SmokeTarget("image", "pytorch/pytorch:latest"), quick(device=1),
        host=HostAccelerators(nvidia_devices=8), current_python="/x/python",
        env={"DLDOCTOR_SMOKE_FAULT": "nan"}, name="dldoctor-smoke-test",
    )
    argv = list(inv.argv)
    assert argv[:6] == ["docker", "run", "--rm", "-i", "--name", "dldoctor-smoke-test"]
    assert argv[argv.index("--gpus") + 1] == "all"
    assert argv[argv.index("-e") + 1] == "DLDOCTOR_SMOKE_FAULT"
    tail = argv[argv.index("pytorch/pytorch:latest"):]
    assert tail[1:3] == ["python", "-"]
    assert tail[tail.index("--device") + 1] == "1"
    assert inv.stdin_text.startswith('"""The smoke-test payload')
    assert inv.cleanup_argv == ("docker", "kill", "dldoctor-smoke-test")


def test_prefix_and_python_invocations(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").touch()
    inv = build_invocation(SmokeTarget("prefix", str(tmp_path)), quick(), host=HostAccelerators(),
                           current_python="/x/python")
    assert inv.argv[:2] == (str(tmp_path / "bin" / "python"), "-")
    inv = build_invocation(CURRENT, quick(), host=HostAccelerators(), current_python="/x/python")
    assert inv.argv[:2] == ("/x/python", "-")


def test_no_docker_is_unavailable() -> None:
    runner = Runner(env={"PATH": "/nonexistent"})
    with pytest.raises(UnavailableError):
        run_smoke(SmokeTarget("image", "x:1"), quick(), runner=runner, host=HostAccelerators())


@dataclass
class RecordingRunner(Runner):
    calls: list[tuple[str, ...]] | None = None

    def run(self, argv: Any, **kwargs: Any) -> CommandResult:
        self.calls = (self.calls or []) + [tuple(argv)]
        if argv[1] == "run":
            return CommandResult(tuple(argv), None, "", "", 2.0, timed_out=True)
        return CommandResult(tuple(argv), 0, "", "", 0.1)


def test_image_timeout_kills_the_container() -> None:
    runner = RecordingRunner()
    with pytest.raises(TimeoutExpired):
        run_smoke(SmokeTarget("image", "x:1"), quick(timeout_s=2), runner=runner, host=HostAccelerators())
    assert runner.calls is not None
    name = runner.calls[0][runner.calls[0].index("--name") + 1]
    assert runner.calls[1] == ("docker", "kill", name)


# ----------------------------------------------------------- payload logic


@pytest.mark.parametrize(
    ("value", "driver", "expected"),
    [(None, 2, None), ("", 2, 0), ("0", 2, 1), ("0,1", 2, 2), ("1,5,0", 2, 1), ("-1", 4, 0),
     ("GPU-abc,GPU-def", 4, 2), ("0,1,2,3", 2, 2), ("junk,0", 2, 0)],
)
def test_visible_devices_parsing(value: str | None, driver: int, expected: int | None) -> None:
    assert payload_mod.parse_visible(value, driver) == expected


def test_payload_never_imports_dldoctor(payload_file: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(payload_file.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    frameworks = {"torch", "tensorflow", "jax", "numpy"}
    assert imported - frameworks <= set(sys.stdlib_module_names), imported - frameworks


class LostFramework(payload_mod.Framework):
    calls = 0

    def case(self, device: dict[str, Any], op: str, dtype: str, mode: str, quick: bool) -> tuple[Any, Any, Any]:
        self.calls += 1
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_device_lost_stops_that_device_and_fails() -> None:
    fw = LostFramework()
    args = argparse.Namespace(quick=True, no_speed=False)
    device = payload_mod.run_device(fw, {"index": 0, "kind": "cuda", "name": "X"}, args,
                                    payload_mod.FaultHook(None), compile_enabled=True)
    assert device["lost"] is True and fw.calls == 1
    payload = {"accelerator": True, "devices": [device], "discovery": {"ok": True}}
    result = run_mod.assemble(payload, CURRENT, quick(), build_invocation(
        CURRENT, quick(), host=HostAccelerators(), current_python="python"))
    assert result["exit_code"] == ExitCode.FINDINGS
    assert any(f["code"] == "device-lost" for f in result["findings"])


@dataclass(frozen=True)
class FakePeaks:
    name: str = "NVIDIA H100 80GB HBM3"
    bf16_tflops: float | None = 100.0
    best_bf16_tflops: float | None = 80.0
    memory_bandwidth_gbs: float | None = 1000.0
    best_copy_gbs: float | None = 900.0
    fp16_tflops: float | None = None
    fp32_tflops: float | None = None
    tf32_tflops: float | None = None


def test_host_side_fractions_and_slow_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constructed in the test to exercise the arithmetic; not a measurement.
    monkeypatch.setattr(run_mod, "_gpu_peaks", lambda name: FakePeaks())
    device = {"index": 0, "kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "tests": [], "lost": False,
              "speed": [{"test": "matmul", "dtype": "bf16", "n": 8, "seconds": 1.0, "tflops": 40.0},
                        {"test": "copy", "bytes": 8, "seconds": 1.0, "gbs": 850.0}]}
    payload = {"accelerator": True, "devices": [device], "discovery": {"ok": True}}
    result = run_mod.assemble(payload, CURRENT, quick(), build_invocation(
        CURRENT, quick(), host=HostAccelerators(), current_python="python"))
    matmul, copy = result["devices"][0]["speed"]
    assert matmul["fraction_of_peak"] == 0.4 and matmul["fraction_of_best"] == 0.5
    assert copy["fraction_of_best"] == pytest.approx(0.9444, abs=1e-4)
    slow = [f for f in result["findings"] if f["code"] == "slow"]
    assert len(slow) == 1 and "throttled" in slow[0]["fix"]
    assert result["exit_code"] == ExitCode.OK  # speed never fails the test by itself


def test_missing_peaks_query_is_tolerated() -> None:
    assert run_mod._gpu_peaks("No Such GPU 9000") is None


# ------------------------------------------------------------------ render


def test_render_of_the_real_cpu_result(cpu_result: dict[str, Any]) -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None).print(render_smoke(cpu_result))
    text = buffer.getvalue()
    assert "matmul" in text and "conv2d" in text and "bf16" in text
    assert "GFLOP/s" in text and "smoke: PASS" in text


def test_environment_is_not_leaked() -> None:
    assert "DLDOCTOR_SMOKE_FAULT" not in os.environ
