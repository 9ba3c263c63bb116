"""The payload's entry point: parse the arguments, run every device, print one result line.

It prints exactly one result line on stdout, prefixed with `RESULT_MARKER`, so
that whatever the framework prints on stdout cannot be mistaken for it.
Progress lines go to stderr (prefixed with `PROGRESS_MARKER`) so the host can
say what was running when a target hung or crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from typing import Any

from .collective import run_collective
from .correctness import FaultHook, parse_fault
from .device_loop import run_device
from .discovery import compare_discovery, driver_devices
from .framework import Framework
from .jax_framework import JaxFramework
from .markers import PAYLOAD_VERSION, RESULT_MARKER, error_text, progress
from .tensorflow_framework import TensorFlowFramework
from .torch_framework import TorchFramework


def load_framework(name: str, compile_backend: str | None) -> Framework:
    if name == "auto":
        import importlib.util

        for candidate in ("torch", "tensorflow", "jax"):
            if importlib.util.find_spec(candidate) is not None:
                name = candidate
                break
        else:
            raise ImportError("none of torch, tensorflow, jax is installed in this interpreter")
    if name == "torch":
        return TorchFramework(compile_backend)
    if name == "tensorflow":
        return TensorFlowFramework()
    if name == "jax":
        return JaxFramework()
    raise ValueError(f"unknown framework {name!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dldoctor-smoke-payload")
    parser.add_argument("--framework", default="auto", choices=("auto", "torch", "tensorflow", "jax"))
    parser.add_argument("--device", type=int, default=None, help="test only this device index")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--expected-devices", type=int, default=None)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--collective-timeout", type=float, default=120.0)
    # Test hooks: run the collective on CPU with gloo (dldoctor's own tests).
    parser.add_argument("--collective-world", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    started = time.monotonic()
    result: dict[str, Any] = {
        "payload_version": PAYLOAD_VERSION,
        "python": {"executable": sys.executable, "version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "platform": platform.platform(),
        "requested_framework": args.framework,
        "quick": bool(args.quick),
        "error": None,
        "devices": [],
        "collective": None,
    }
    fault = FaultHook(parse_fault(os.environ.get("DLDOCTOR_SMOKE_FAULT")))
    result["fault_hook"] = fault.fault
    try:
        try:
            progress(f"importing {args.framework}")
            fw = load_framework(args.framework, os.environ.get("DLDOCTOR_SMOKE_COMPILE_BACKEND") or None)
        except Exception as exc:  # noqa: BLE001  (a framework that fails to import can raise anything)
            result["error"] = {"kind": "import", "message": error_text(exc)}
            return emit(result, started)
        result.update(framework=fw.name, framework_version=fw.version, backend=fw.backend, timer=fw.timer)
        result["fp32_mode"] = fw.fp32_mode()
        discovery = driver_devices(fw.backend, args.expected_devices)
        compare_discovery(discovery, fw.framework_count(), fw.build_note())
        result["discovery"] = discovery
        result["accelerator"] = fw.backend != "cpu"
        devices = fw.devices()
        if args.device is not None:
            devices = [d for d in devices if d["index"] == args.device]
            if not devices:
                result["error"] = {"kind": "device", "message": f"device {args.device} is not among the "
                                   f"{fw.framework_count()} device(s) {fw.name} sees"}
                return emit(result, started)
        compile_enabled = not args.no_compile
        for device in devices:
            result["devices"].append(run_device(fw, device, args, fault, compile_enabled))
        world = args.collective_world
        if world is None and fw.name == "torch" and fw.backend != "cpu" and args.device is None:
            world = len(devices) if len(devices) >= 2 else None
        if world and fw.name == "torch" and not any(d["lost"] for d in result["devices"]):
            progress(f"collective all-reduce across {world}")
            backend = "gloo" if fw.backend == "cpu" else "nccl"
            result["collective"] = run_collective(world, backend, args.quick, args.collective_timeout)
    except Exception as exc:  # noqa: BLE001  (anything outside one test is still reported as JSON)
        result["error"] = {"kind": "internal", "message": error_text(exc),
                           "traceback_tail": traceback.format_exc().splitlines()[-4:]}
    return emit(result, started)


def emit(result: dict[str, Any], started: float) -> int:
    result["duration_s"] = round(time.monotonic() - started, 3)
    sys.stdout.write(RESULT_MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
