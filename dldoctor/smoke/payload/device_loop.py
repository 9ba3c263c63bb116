"""The generic test loop over one device: every case in every mode, then speed.
"""

from __future__ import annotations

import argparse
import traceback
from typing import Any

from .compiled import compile_fix
from .correctness import DTYPES, OPS, FaultHook, apply_fault, judge, looks_device_lost
from .framework import Framework
from .markers import error_text, progress


def _skip_reason(device: dict[str, Any], op: str, dtype: str, mode: str, args: argparse.Namespace,
                 compile_failure: str | None) -> str | None:
    """Why a case is not run on this device, or None when it is."""
    if dtype == "tf32" and device["kind"] == "cpu":
        return "TF32 is a GPU tensor-core mode"
    if mode == "compiled" and args.quick and (op, dtype) != ("matmul", "fp32"):
        return "--quick compiles one case only"
    if mode == "compiled" and compile_failure is not None:
        return "compiled mode failed earlier on this device"
    return None


def _case_failed(device: dict[str, Any], case: dict[str, Any], text: str) -> str | None:
    """Record a case that raised: a lost device, a compile error (returned, so compiled mode stops), or a fail."""
    case["error"] = text
    if looks_device_lost(text):
        case["status"] = "fail"
        device["lost"] = True
        device["lost_reason"] = text
        return None
    if case["mode"] == "compiled":
        case["status"] = "compile_error"
        device["compile"] = {"ok": False, "error": text, "fix": compile_fix(text),
                             "traceback_tail": traceback.format_exc().splitlines()[-3:]}
        return text
    case["status"] = "fail"
    case["reason"] = text
    return None


def _run_case(fw: Framework, device: dict[str, Any], case: dict[str, Any], args: argparse.Namespace,
              fault: FaultHook) -> str | None:
    """Run one case and judge it; the compile error's text when compiled mode failed."""
    op, dtype, mode = case["test"], case["dtype"], case["mode"]
    progress(f"device {device['index']} {op} {dtype} {mode}")
    try:
        out, fresh, ref = fw.case(device, op, dtype, mode, args.quick)
    except Exception as exc:  # noqa: BLE001  (a test that raises is a result, not a crash)
        return _case_failed(device, case, error_text(exc))
    kind = fault.wants(op, dtype, mode)
    if kind:
        apply_fault(kind, out, fresh, ref)
        case["fault_injected"] = kind
    judge(case, out, fresh, ref)
    return None


def _run_speed(fw: Framework, device: dict[str, Any], args: argparse.Namespace) -> None:
    try:
        device["speed"] = fw.speed(device, args.quick)
    except Exception as exc:  # noqa: BLE001  (speed never fails the test by itself)
        text = error_text(exc)
        device["speed"] = [{"test": "speed", "error": text}]
        if looks_device_lost(text):
            device["lost"] = True
            device["lost_reason"] = text


def run_device(fw: Framework, device: dict[str, Any], args: argparse.Namespace,
               fault: FaultHook, compile_enabled: bool) -> dict[str, Any]:
    """Every case of every mode on one device (stopping when the device is lost), then its speed."""
    device = dict(device)
    device["tests"] = []
    device["compile"] = None
    device["lost"] = False
    compile_failure: str | None = None
    modes = ("eager", "compiled") if compile_enabled else ("eager",)
    for mode in modes:
        for op in OPS:
            for dtype in DTYPES:
                case: dict[str, Any] = {"test": op, "dtype": dtype, "mode": mode, "status": "error"}
                device["tests"].append(case)
                reason = _skip_reason(device, op, dtype, mode, args, compile_failure)
                if reason is not None:
                    case.update(status="skip", reason=reason)
                    continue
                failure = _run_case(fw, device, case, args, fault)
                if device["lost"]:
                    return device
                compile_failure = compile_failure or failure
    if compile_enabled and compile_failure is None:
        device["compile"] = {"ok": True}
    if not args.no_speed:
        _run_speed(fw, device, args)
    return device
