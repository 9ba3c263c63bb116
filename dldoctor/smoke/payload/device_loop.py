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


def run_device(fw: Framework, device: dict[str, Any], args: argparse.Namespace,
               fault: FaultHook, compile_enabled: bool) -> dict[str, Any]:
    device = dict(device)
    device["tests"] = []
    device["compile"] = None
    device["lost"] = False
    compile_failure: str | None = None
    for mode in ("eager", "compiled"):
        if mode == "compiled" and not compile_enabled:
            continue
        for op in OPS:
            for dtype in DTYPES:
                case: dict[str, Any] = {"test": op, "dtype": dtype, "mode": mode, "status": "error"}
                device["tests"].append(case)
                if dtype == "tf32" and device["kind"] == "cpu":
                    case.update(status="skip", reason="TF32 is a GPU tensor-core mode")
                    continue
                if mode == "compiled" and args.quick and (op, dtype) != ("matmul", "fp32"):
                    case.update(status="skip", reason="--quick compiles one case only")
                    continue
                if mode == "compiled" and compile_failure is not None:
                    case.update(status="skip", reason="compiled mode failed earlier on this device")
                    continue
                progress(f"device {device['index']} {op} {dtype} {mode}")
                try:
                    out, fresh, ref = fw.case(device, op, dtype, mode, args.quick)
                except Exception as exc:  # noqa: BLE001  (a test that raises is a result, not a crash)
                    text = error_text(exc)
                    case["error"] = text
                    if looks_device_lost(text):
                        case["status"] = "fail"
                        device["lost"] = True
                        device["lost_reason"] = text
                        return device
                    if mode == "compiled":
                        case["status"] = "compile_error"
                        compile_failure = text
                        device["compile"] = {"ok": False, "error": text, "fix": compile_fix(text),
                                             "traceback_tail": traceback.format_exc().splitlines()[-3:]}
                    else:
                        case["status"] = "fail"
                        case["reason"] = text
                    continue
                kind = fault.wants(op, dtype, mode)
                if kind:
                    apply_fault(kind, out, fresh, ref)
                    case["fault_injected"] = kind
                judge(case, out, fresh, ref)
    if compile_enabled and compile_failure is None:
        device["compile"] = {"ok": True}
    if not args.no_speed:
        try:
            device["speed"] = fw.speed(device, args.quick)
        except Exception as exc:  # noqa: BLE001  (speed never fails the test by itself)
            text = error_text(exc)
            device["speed"] = [{"test": "speed", "error": text}]
            if looks_device_lost(text):
                device["lost"] = True
                device["lost_reason"] = text
    return device
