"""Run the payload in a target, read its one JSON line, judge it.

The payload reports what happened; this module decides what it means: the
host-side figures (fraction of the GPU's datasheet and achievable peaks), the
findings, the verdict and the exit code of `dldoctor smoke`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from dldoctor.errors import (
    ExitCode,
    TargetError,
    TimeoutExpired,
    UnavailableError,
    UsageError,
)
from dldoctor.runner import CommandResult, Runner
from dldoctor.smoke.payload.markers import PROGRESS_MARKER, RESULT_MARKER
from dldoctor.smoke.target import (
    HostAccelerators,
    Invocation,
    SmokeOptions,
    SmokeTarget,
    build_invocation,
)

SCHEMA = "dldoctor.smoke/1"
#: Below this fraction of the best achievable figure, speed is a warning.
SLOW_FRACTION = 0.70
SLOW_CAUSES = (
    "GPU clocks throttled (power cap, temperature, or application clocks set low: nvidia-smi -q -d CLOCK,PERFORMANCE)",
    "PCIe/NVLink link degraded (nvidia-smi -q -d PCIE shows the current vs max link width/speed)",
    "another process is using the GPU (nvidia-smi shows its processes)",
)
#: Which peak figure a measured speed is compared with.
PEAK_FIELDS = {
    ("matmul", "bf16"): ("bf16_tflops", "best_bf16_tflops"),
    ("matmul", "fp16"): ("fp16_tflops", None),
    ("matmul", "fp32"): ("fp32_tflops", None),
    ("copy", None): ("memory_bandwidth_gbs", "best_copy_gbs"),
}
#: Top-level keys of a `dldoctor.smoke/1` result, pinned by tests/test_smoke_contract.py.
RESULT_KEYS = (
    "schema", "target", "framework", "framework_version", "backend", "python", "quick",
    "allow_cpu", "accelerator", "discovery", "fp32_mode", "timer", "devices", "collective",
    "findings", "verdict", "exit_code", "duration_s",
)


def _gpu_peaks(name: str) -> Any:
    """`dldoctor.knowledge.gpu_peaks(name)`, or None when that query is unavailable."""
    try:
        import dldoctor.knowledge.gpus as knowledge
    except ImportError:
        return None
    query = getattr(knowledge, "gpu_peaks", None)
    if query is None:
        return None
    try:
        return query(name)
    except Exception:  # noqa: BLE001  (a broken knowledge table must not lose the smoke result)
        return None


def run_smoke(
    target: SmokeTarget,
    options: SmokeOptions,
    *,
    runner: Runner | None = None,
    host: HostAccelerators | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the smoke test in `target` and return the `dldoctor.smoke/1` result.

    Returns when the tests ran: result["verdict"] is "pass", "fail" or
    "no-accelerator" (only a CPU was found and `options.allow_cpu` is false),
    and result["exit_code"] the matching code. Raises TargetError when the
    target cannot run the payload or lacks the framework, TimeoutExpired when
    the whole run passes its time limit.
    """
    runner = runner or Runner()
    host = host or HostAccelerators.detect()
    invocation = build_invocation(
        target, options, host=host, current_python=sys.executable, env=runner.env
    )
    extra_env = {"PYTHONUNBUFFERED": "1", **options.extra_env}
    started = time.monotonic()
    if target.kind == "python" and target.value and options.effective_timeout_s > INTERPRETER_ANSWER_S:
        _answers(runner, target.value, INTERPRETER_ANSWER_S)
    if progress is not None:
        progress(f"smoke: starting {target.describe()}")

    def on_line(stream: str, line: str) -> None:
        if progress is not None and stream == "stderr" and line.startswith(PROGRESS_MARKER):
            progress(f"smoke: {line[len(PROGRESS_MARKER):].strip()[:160]}")

    done = runner.run(
        invocation.argv,
        timeout_s=options.effective_timeout_s,
        extra_env=extra_env,
        stdin_text=invocation.stdin_text,
        on_line=on_line if progress is not None else None,
    )
    payload = _payload_result(target, options, invocation, done, runner)
    result = assemble(payload, target, options, invocation)
    result["duration_s"] = round(time.monotonic() - started, 3)
    if progress is not None:
        progress(f"smoke: {result['verdict']} in {result['duration_s']:.1f}s")
    return result


#: How long `--python X` may take to print its version before it is called no interpreter (a script that
#: hangs must not cost the whole smoke timeout).
INTERPRETER_ANSWER_S = 30.0


def _answers(runner: Runner, python: str, timeout_s: float) -> None:
    """Refuse an interpreter that does not answer a trivial question in time; other failures the run reports."""
    asked = runner.run([python, "-c", "import sys; print(sys.version_info[0])"], timeout_s=timeout_s)
    if asked.timed_out:
        raise TimeoutExpired(f"--python {python} did not answer `print(sys.version_info[0])` within "
                             f"{timeout_s:.0f}s: it is not a working Python interpreter")


def _last_progress(stderr: str) -> str | None:
    lines = [ln[len(PROGRESS_MARKER):] for ln in stderr.splitlines() if ln.startswith(PROGRESS_MARKER)]
    return lines[-1] if lines else None


def _payload_result(
    target: SmokeTarget, options: SmokeOptions, invocation: Invocation, done: CommandResult, runner: Runner
) -> dict[str, Any]:
    """The payload's JSON, or the error that explains why there is none."""
    where = target.describe()
    step = _last_progress(done.stderr)
    during = f" (last step: {step})" if step else ""
    if done.timed_out:
        if invocation.cleanup_argv:
            runner.run(invocation.cleanup_argv, timeout_s=15)
        raise TimeoutExpired(
            f"smoke test in {where} did not finish within {options.effective_timeout_s:.0f}s{during}; "
            "a hung GPU or a slow first compile: raise --timeout or try --quick"
        )
    if done.start_error:
        if target.kind == "image":
            raise UnavailableError(f"cannot run docker: {done.start_error}")
        raise TargetError(f"{where} could not start: {done.start_error}")
    line = next(
        (ln for ln in reversed(done.stdout.splitlines()) if ln.startswith(RESULT_MARKER)), None
    )
    if line is None:
        if target.kind == "image" and done.returncode == 125:
            raise UnavailableError(f"docker could not run {target.value}: {done.describe_failure()}")
        if target.kind == "image" and done.returncode == 127:
            raise TargetError(f"{where} has no `python` on its PATH")
        crashed = done.returncode is not None and (done.returncode < 0 or done.returncode > 128)
        detail = done.describe_failure() if done.returncode else "it printed no result"
        hint = "; the process died (a lost GPU, a driver fault or a framework crash)" if crashed and step else ""
        raise TargetError(f"smoke payload in {where} failed: {detail}{during}{hint}")
    try:
        payload: dict[str, Any] = json.loads(line[len(RESULT_MARKER):])
    except ValueError as exc:
        raise TargetError(f"smoke payload in {where} printed an unreadable result: {exc}") from exc
    error = payload.get("error")
    if error:
        message = error.get("message", "unknown error")
        if error.get("kind") == "import":
            framework = options.framework if options.framework != "auto" else "a framework"
            raise TargetError(
                f"{where} cannot import {framework}: {message}. Install it there, or pick another "
                "--python/--prefix/--image"
            )
        if error.get("kind") == "device":
            raise UsageError(f"--device {options.device}: {message}")
        raise TargetError(f"smoke payload in {where} failed{during}: {message}")
    return payload


def _add_peaks(device: dict[str, Any], findings: list[dict[str, Any]]) -> None:
    peaks = _gpu_peaks(device.get("name") or "") if device.get("kind") != "cpu" else None
    device["peaks_known"] = peaks is not None
    for entry in device.get("speed") or []:
        if entry.get("error"):
            findings.append(_finding("warning", "speed-error", device["index"],
                                     f"the {entry.get('test')} speed test raised: {entry['error']}"))
            continue
        key = (entry["test"], entry.get("dtype"))
        if key not in PEAK_FIELDS or peaks is None:
            continue
        peak_field, best_field = PEAK_FIELDS[key]
        if entry.get("fp32_mode") == "tf32":
            peak_field = "tf32_tflops"
        measured = entry.get("tflops") if entry["test"] == "matmul" else entry.get("gbs")
        peak = getattr(peaks, peak_field, None)
        best = getattr(peaks, best_field, None) if best_field else None
        if measured is None:
            continue
        if peak:
            entry["peak"] = peak
            entry["fraction_of_peak"] = round(measured / peak, 4)
        if best:
            entry["best"] = best
            entry["fraction_of_best"] = round(measured / best, 4)
            if measured / best < SLOW_FRACTION:
                unit = "TFLOP/s" if entry["test"] == "matmul" else "GB/s"
                what = f"{entry['test']} {entry.get('dtype') or ''}".strip()
                findings.append(_finding(
                    "warning", "slow", device["index"],
                    f"{what} reached {measured:.1f} {unit}, {measured / best:.0%} of the "
                    f"{best:.0f} {unit} this GPU achieves",
                    fix="likely causes: " + "; ".join(SLOW_CAUSES),
                ))


def _finding(severity: str, code: str, device: int | None, message: str, fix: str | None = None) -> dict[str, Any]:
    return {"severity": severity, "code": code, "device": device, "message": message, "fix": fix}


def assemble(
    payload: dict[str, Any], target: SmokeTarget, options: SmokeOptions, invocation: Invocation
) -> dict[str, Any]:
    """The `dldoctor.smoke/1` result: the payload's facts plus findings and verdict."""
    findings: list[dict[str, Any]] = []
    discovery = payload.get("discovery") or {}
    if discovery and not discovery.get("ok", True):
        findings.append(_finding("error", "device-discovery", None, discovery.get("reason", "device count mismatch")))
    devices = payload.get("devices") or []
    for device in devices:
        index = device.get("index")
        for case in device.get("tests", []):
            label = f"{case['test']} {case['dtype']} {case['mode']}"
            if case["status"] == "fail":
                findings.append(_finding("error", "wrong-result", index,
                                         f"{label}: {case.get('reason') or case.get('error')}"))
            elif case["status"] == "error":
                findings.append(_finding("error", "test-error", index, f"{label}: {case.get('error')}"))
        if device.get("lost"):
            findings.append(_finding("error", "device-lost", index,
                                     f"device {index} was lost mid-run: {device.get('lost_reason')}",
                                     fix="check dmesg for Xid errors and nvidia-smi for the GPU's state; "
                                         "a reset or reboot may be needed"))
        compile_info = device.get("compile")
        if compile_info and not compile_info.get("ok"):
            findings.append(_finding("warning", "compile-failed", index,
                                     f"compiled mode failed (eager results still count): {compile_info.get('error')}",
                                     fix=compile_info.get("fix")))
        _add_peaks(device, findings)
    collective = payload.get("collective")
    if collective and collective.get("status") != "pass":
        findings.append(_finding("error", "collective", None,
                                 f"all-reduce across {collective.get('world_size')} devices failed: "
                                 f"{collective.get('reason')}",
                                 fix="check NCCL_DEBUG=INFO output, peer access and /dev/shm size"))
    accelerator = bool(payload.get("accelerator"))
    if not accelerator:
        severity = "info" if options.allow_cpu else "error"
        findings.append(_finding(severity, "no-accelerator", None,
                                 f"{payload.get('framework')} found no accelerator; the tests ran on the CPU",
                                 fix=None if options.allow_cpu else "pass --allow-cpu to accept a CPU-only run"))
    correctness_ok = not any(
        f["severity"] == "error" and f["code"] != "no-accelerator" for f in findings
    )
    if not correctness_ok:
        exit_code, verdict = ExitCode.FINDINGS, "fail"
    elif not accelerator and not options.allow_cpu:
        exit_code, verdict = ExitCode.NO_ACCELERATOR, "no-accelerator"
    else:
        exit_code, verdict = ExitCode.OK, "pass"
    return {
        "schema": SCHEMA,
        "target": {"kind": target.kind, "value": target.value, "argv": list(invocation.argv)},
        "framework": payload.get("framework"),
        "framework_version": payload.get("framework_version"),
        "backend": payload.get("backend"),
        "python": payload.get("python"),
        "quick": options.quick,
        "allow_cpu": options.allow_cpu,
        "accelerator": accelerator,
        "discovery": discovery,
        "fp32_mode": payload.get("fp32_mode") or {},
        "timer": payload.get("timer"),
        "devices": devices,
        "collective": collective,
        "findings": findings,
        "verdict": verdict,
        "exit_code": int(exit_code),
        "duration_s": payload.get("duration_s"),
    }


def no_accelerator_message(result: dict[str, Any]) -> str:
    speed = next((s for d in result["devices"] for s in d.get("speed") or [] if s.get("gflops")), None)
    rate = f", {speed['gflops']:.1f} GFLOP/s fp32" if speed else ""
    return (
        f"no accelerator: {result['framework']} {result['framework_version']} sees no GPU "
        f"(CPU correctness tests passed{rate}); pass --allow-cpu to accept a CPU-only run"
    )
