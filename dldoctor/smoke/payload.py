"""The smoke-test payload: runs inside the target environment.

This file needs only the standard library and the framework under test. It
must never import dldoctor: the host pipes its source into the target
interpreter (`python - ARGS`) or runs it as a file (`python payload.py ARGS`),
and the target need not have dldoctor installed.

It prints exactly one result line on stdout, prefixed with `RESULT_MARKER`, so
that whatever the framework prints on stdout cannot be mistaken for it.
Progress lines go to stderr (prefixed with `PROGRESS_MARKER`) so the host can
say what was running when a target hung or crashed.

Test hooks (for dldoctor's own test suite, never set them in real use):

- `DLDOCTOR_SMOKE_FAULT=wrong|unwritten|nan[@op/dtype/mode]` corrupts one
  result (default `matmul/fp32/eager` on the first device) after it comes back
  from the framework, so the tests can prove the checks catch a wrong number,
  an output element that was never written, and a NaN.
- `DLDOCTOR_SMOKE_COMPILE_BACKEND=name` hands `torch.compile` that backend (a
  bogus name forces a compile failure).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

RESULT_MARKER = "DLDOCTOR-SMOKE-JSON "
PROGRESS_MARKER = "dldoctor-smoke: "
PAYLOAD_VERSION = 1

DTYPES = ("fp32", "tf32", "fp16", "bf16")
OPS = ("matmul", "conv2d")
#: Largest accepted relative error ||out-ref||/||ref|| against a float64 reference
#: computed from the same (already rounded) inputs. Typical errors: fp32 ~1e-6,
#: tf32 ~3e-4, fp16 ~5e-4..1e-3, bf16 ~2e-3..1e-2.
THRESHOLDS = {"fp32": 1e-4, "tf32": 2e-3, "fp16": 1e-2, "bf16": 3e-2}

#: Error text that means the device itself went away, not that one test failed.
DEVICE_LOST_SIGNS = (
    "device-side assert",
    "unspecified launch failure",
    "illegal memory access",
    "gpu is lost",
    "fallen off the bus",
    "ecc error",
    "cudaerrorlaunchfailure",
    "hipErrorLaunchFailure".lower(),
    "an illegal instruction",
    "device not ready",
    "cuda error: unknown error",
)


def progress(text: str) -> None:
    print(PROGRESS_MARKER + text, file=sys.stderr, flush=True)


def error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 600 else text[:600] + "..."


def looks_device_lost(text: str) -> bool:
    low = text.lower()
    return any(sign in low for sign in DEVICE_LOST_SIGNS)


# --------------------------------------------------------------------- faults


def parse_fault(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    kind, _, where = value.partition("@")
    if kind not in ("wrong", "unwritten", "nan"):
        return None
    parts = (where or "matmul/fp32/eager").split("/")
    op, dtype, mode = (parts + ["matmul", "fp32", "eager"][len(parts):])[:3]
    return {"kind": kind, "op": op, "dtype": dtype, "mode": mode}


class FaultHook:
    """Corrupts one result, once, on the first device (a test hook)."""

    def __init__(self, fault: dict[str, str] | None) -> None:
        self.fault = fault
        self.used = False

    def wants(self, op: str, dtype: str, mode: str) -> str | None:
        f = self.fault
        if f is None or self.used or (f["op"], f["dtype"], f["mode"]) != (op, dtype, mode):
            return None
        self.used = True
        return f["kind"]


def apply_fault(kind: str, out: Any, fresh: Any, ref: Any) -> None:
    """Works on torch tensors and numpy arrays alike (flat views of float64 copies)."""
    flat_out = out.reshape(-1)
    flat_fresh = fresh.reshape(-1) if fresh is not None else None
    if kind == "wrong":
        norm = float((ref * ref).sum()) ** 0.5
        for flat in (flat_out, flat_fresh):
            if flat is not None:
                flat[0] = flat[0] + 0.05 * norm
    elif kind == "nan":
        for flat in (flat_out, flat_fresh):
            if flat is not None:
                flat[0] = float("nan")
    elif kind == "unwritten":
        # As if a kernel skipped its last tile: the poison stays in the out= buffer.
        tail = max(1, flat_out.shape[0] // 16)
        flat_out[-tail:] = float("nan")


# ---------------------------------------------------------------------- judge


def count_nonfinite(x: Any) -> int:
    return int(((x != x) | (abs(x) == float("inf"))).sum())


def rel_error(out: Any, ref: Any) -> float:
    diff = out - ref
    num = float((diff * diff).sum()) ** 0.5
    den = float((ref * ref).sum()) ** 0.5
    return float(num / den if den > 0 else num)


def judge(case: dict[str, Any], out: Any, fresh: Any, ref: Any) -> None:
    """Fill `case` from float64 host copies of the outputs and the reference."""
    threshold = THRESHOLDS[case["dtype"]]
    case["threshold"] = threshold
    total = int(out.reshape(-1).shape[0])
    bad_out = count_nonfinite(out)
    bad_fresh = count_nonfinite(fresh) if fresh is not None else None
    case["elements"] = total
    case["written_check"] = fresh is not None
    if bad_out:
        case["status"] = "fail"
        if bad_fresh == 0:
            case["unwritten"] = bad_out
            case["reason"] = (
                f"{bad_out} of {total} output elements were never written "
                "(the NaN poison in the out= buffer survived)"
            )
        else:
            case["nonfinite"] = bad_out
            case["reason"] = f"result has {bad_out} NaN/Inf elements of {total}"
        return
    if bad_fresh:
        case["status"] = "fail"
        case["nonfinite"] = bad_fresh
        case["reason"] = f"result has {bad_fresh} NaN/Inf elements of {total}"
        return
    err = rel_error(out, ref)
    if fresh is not None:
        err = max(err, rel_error(fresh, ref))
    case["rel_error"] = err
    if err <= threshold:
        case["status"] = "pass"
    else:
        case["status"] = "fail"
        case["reason"] = f"relative error {err:.3g} exceeds {threshold:g} for {case['dtype']}"


def compile_fix(text: str) -> str:
    """The likely remedy for a compile failure, from its error text."""
    low = text.lower()
    if "triton" in low:
        return "install the Triton build that matches this framework (pip install triton), or run eager"
    if "python.h" in low:
        return "install the Python development headers (e.g. apt install python3-dev)"
    if "compiler" in low or "gcc" in low or "g++" in low or "cxx" in low or "cc1" in low:
        return "install a C/C++ compiler (e.g. apt install build-essential) or point CC/CXX at one"
    if "backend" in low:
        return "check the compile backend name (torch._dynamo.list_backends())"
    if "xla" in low or "ptxas" in low or "nvvm" in low:
        return "XLA could not build the kernel: check CUDA toolkit pieces (ptxas/nvvm) match the framework build"
    return "compiled mode failed; eager results still count. Re-run with the error above and report it upstream"


# ----------------------------------------------------------- device discovery


def parse_visible(value: str | None, driver_count: int | None) -> int | None:
    """How many devices a CUDA/HIP *_VISIBLE_DEVICES value leaves visible.

    Follows CUDA's rule: the list ends at the first invalid entry.
    """
    if value is None:
        return None
    count = 0
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            break
        if entry.isdigit() or (entry.startswith("-") and entry[1:].isdigit()):
            index = int(entry)
            if index < 0 or (driver_count is not None and index >= driver_count):
                break
        elif not (entry.startswith("GPU-") or entry.startswith("MIG-")):
            break
        count += 1
    return count if driver_count is None else min(count, driver_count)


def driver_devices(backend: str, expected: int | None) -> dict[str, Any]:
    """What the driver reports, independent of the framework."""
    info: dict[str, Any] = {"expected_from_host": expected}
    if backend == "rocm" or (backend == "cpu" and os.path.exists("/dev/kfd")):
        nodes = 0
        for props in glob.glob("/sys/class/kfd/kfd/topology/nodes/*/properties"):
            try:
                with open(props, encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("gfx_target_version") and line.split()[-1] != "0":
                            nodes += 1
            except OSError:
                continue
        info.update(source="/sys/class/kfd topology", driver_count=nodes)
        var = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in os.environ else "ROCR_VISIBLE_DEVICES"
    else:
        nodes = len([p for p in glob.glob("/dev/nvidia[0-9]*") if p[len("/dev/nvidia"):].isdigit()])
        info.update(source="/dev/nvidia[0-9]*", driver_count=nodes)
        var = "CUDA_VISIBLE_DEVICES"
    value = os.environ.get(var)
    info["visible_devices_var"] = var
    info["visible_devices"] = value
    driver_count = expected if expected is not None else info["driver_count"]
    visible = parse_visible(value, driver_count)
    info["expected_count"] = driver_count if visible is None else visible
    return info


def compare_discovery(info: dict[str, Any], framework_count: int, build_note: str | None) -> None:
    info["framework_count"] = framework_count
    expected = info["expected_count"]
    info["ok"] = framework_count == expected
    if info["ok"]:
        return
    reason = (
        f"the framework sees {framework_count} device(s) but {expected} are expected "
        f"(driver: {info['driver_count']} via {info['source']}"
        + (f", host said {info['expected_from_host']}" if info["expected_from_host"] is not None else "")
        + (f", {info['visible_devices_var']}={info['visible_devices']!r}"
           if info["visible_devices"] is not None else "")
        + ")"
    )
    if build_note:
        reason += f"; {build_note}"
    elif framework_count < expected:
        reason += ("; likely a driver/runtime mismatch, a GPU in a bad state, "
                   "or the container was started without all GPUs")
    info["reason"] = reason


# ----------------------------------------------------------------- frameworks


class Framework:
    """What the generic test loop needs from one framework."""

    name = ""
    version = ""
    backend = "cpu"
    timer = "wall"

    def devices(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def framework_count(self) -> int:
        """Accelerators the framework sees (0 on a CPU-only build or machine)."""
        raise NotImplementedError

    def build_note(self) -> str | None:
        return None

    def fp32_mode(self) -> dict[str, Any]:
        return {}

    def case(self, device: dict[str, Any], op: str, dtype: str, mode: str, quick: bool) -> tuple[Any, Any, Any]:
        """(out, fresh, ref) as float64 host arrays; fresh is None without an out= check."""
        raise NotImplementedError

    def speed(self, device: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
        return []

    def compiled_supported(self, dtype: str) -> bool:
        return True


def sizes(op: str, quick: bool) -> tuple[int, ...]:
    if op == "matmul":
        return (96, 160, 128) if quick else (512, 768, 640)  # m, k, n: not multiples of each other
    return (2, 8, 16, 20, 20, 3) if quick else (4, 32, 64, 56, 56, 3)  # N, Cin, Cout, H, W, K


class TorchFramework(Framework):
    timer = "device events"

    def __init__(self, compile_backend: str | None) -> None:
        import torch  # the framework under test

        self.torch = torch
        self.name = "torch"
        self.version = torch.__version__
        self.compile_backend = compile_backend
        self._compiled: dict[tuple[str, str], Callable[..., Any]] = {}
        hip = getattr(torch.version, "hip", None)
        self.backend = "rocm" if hip else ("cuda" if torch.cuda.is_available() else "cpu")
        if self.backend == "cpu":
            self.timer = "wall clock"
        self.gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(6), "little"))

    def build_note(self) -> str | None:
        t = self.torch
        if getattr(t.version, "cuda", None) is None and not getattr(t.version, "hip", None):
            return f"this torch build ({t.__version__}) is CPU-only"
        return None

    def devices(self) -> list[dict[str, Any]]:
        t = self.torch
        if self.backend == "cpu":
            return [{"index": 0, "kind": "cpu", "name": platform.processor() or platform.machine()}]
        found = []
        for i in range(t.cuda.device_count()):
            props = t.cuda.get_device_properties(i)
            found.append({
                "index": i,
                "kind": self.backend,
                "name": props.name,
                "memory_bytes": int(props.total_memory),
                "capability": f"{props.major}.{props.minor}",
                "multiprocessors": int(props.multi_processor_count),
            })
        return found

    def framework_count(self) -> int:
        return 0 if self.backend == "cpu" else int(self.torch.cuda.device_count())

    def _set_tf32(self, on: bool) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy flags warn on newer torch
            self.torch.backends.cuda.matmul.allow_tf32 = on
            self.torch.backends.cudnn.allow_tf32 = on

    def fp32_mode(self) -> dict[str, Any]:
        t = self.torch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mode = {
                "matmul_allow_tf32": bool(t.backends.cuda.matmul.allow_tf32),
                "cudnn_allow_tf32": bool(t.backends.cudnn.allow_tf32),
                "float32_matmul_precision": t.get_float32_matmul_precision(),
            }
        precision = getattr(t.backends.cuda.matmul, "fp32_precision", None)
        if precision is not None:
            mode["matmul_fp32_precision"] = str(precision)
        return mode

    def _dtype(self, dtype: str) -> Any:
        t = self.torch
        return {"fp32": t.float32, "tf32": t.float32, "fp16": t.float16, "bf16": t.bfloat16}[dtype]

    def compiled_supported(self, dtype: str) -> bool:
        return True

    def _compiled_fn(self, op: str, dtype: str) -> Callable[..., Any]:
        t = self.torch
        key = (op, dtype)
        if key not in self._compiled:
            if op == "matmul":
                def body(a: Any, b: Any, out: Any) -> Any:
                    return out.copy_(t.matmul(a, b))
            else:
                def body(a: Any, b: Any, out: Any) -> Any:
                    return out.copy_(t.nn.functional.conv2d(a, b))
            kwargs: dict[str, Any] = {"backend": self.compile_backend} if self.compile_backend else {}
            self._compiled[key] = t.compile(body, **kwargs)
        return self._compiled[key]

    def case(self, device: dict[str, Any], op: str, dtype: str, mode: str, quick: bool) -> tuple[Any, Any, Any]:
        t = self.torch
        dev = "cpu" if device["kind"] == "cpu" else f"cuda:{device['index']}"
        dt = self._dtype(dtype)
        if op == "matmul":
            m, k, n = sizes(op, quick)
            a = t.randn(m, k, generator=self.gen).to(dt)
            b = t.randn(k, n, generator=self.gen).to(dt)
            ref = a.double() @ b.double()
        else:
            nb, cin, cout, h, w, ks = sizes(op, quick)
            a = t.randn(nb, cin, h, w, generator=self.gen).to(dt)
            b = (t.randn(cout, cin, ks, ks, generator=self.gen) / (cin * ks * ks) ** 0.5).to(dt)
            ref = t.nn.functional.conv2d(a.double(), b.double())
        a_dev, b_dev = a.to(dev), b.to(dev)
        out = t.full(tuple(ref.shape), float("nan"), dtype=dt, device=dev)
        self._set_tf32(dtype == "tf32")
        try:
            if mode == "compiled":
                self._compiled_fn(op, dtype)(a_dev, b_dev, out)
                fresh = None
            elif op == "matmul":
                t.matmul(a_dev, b_dev, out=out)
                fresh = t.matmul(a_dev, b_dev)
            else:
                t.ops.aten.convolution.out(a_dev, b_dev, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, out=out)
                fresh = t.nn.functional.conv2d(a_dev, b_dev)
            if dev != "cpu":
                t.cuda.synchronize(dev)
        finally:
            self._set_tf32(False)
        return (
            out.double().cpu(),
            fresh.double().cpu() if fresh is not None else None,
            ref,
        )

    def speed(self, device: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
        if device["kind"] == "cpu":
            return [self._cpu_matmul_speed(quick)]
        t = self.torch
        dev = f"cuda:{device['index']}"
        results = []
        dtypes = ("bf16",) if quick else ("bf16", "fp16", "fp32")
        n = 4096 if quick else 8192
        for dtype in dtypes:
            progress(f"device {device['index']} speed matmul {dtype}")
            try:
                results.append(self._matmul_speed(dev, dtype, n, quick))
            except Exception as exc:  # noqa: BLE001  (a failed measurement is reported, never fatal)
                results.append({"test": "matmul", "dtype": dtype, "error": error_text(exc)})
        progress(f"device {device['index']} speed copy")
        try:
            nbytes = (256 if quick else 1024) * 2**20
            src = t.empty(nbytes, dtype=t.uint8, device=dev).fill_(1)
            dst = t.empty_like(src)
            seconds = self._time_events(dev, lambda: dst.copy_(src), 3, 5 if quick else 20)
            results.append({"test": "copy", "bytes": nbytes, "seconds": seconds,
                            "gbs": 2 * nbytes / seconds / 1e9, "timer": self.timer})
        except Exception as exc:  # noqa: BLE001  (a failed measurement is reported, never fatal)
            results.append({"test": "copy", "error": error_text(exc)})
        t.cuda.empty_cache()
        return results

    def _matmul_speed(self, dev: str, dtype: str, n: int, quick: bool) -> dict[str, Any]:
        # fp32 runs in whatever mode the framework defaults to; the entry says which.
        t = self.torch
        a = t.randn(n, n, device=dev, dtype=self._dtype(dtype))
        b = t.randn(n, n, device=dev, dtype=self._dtype(dtype))
        c = t.empty(n, n, device=dev, dtype=self._dtype(dtype))
        seconds = self._time_events(dev, lambda: t.matmul(a, b, out=c), 3, 5 if quick else 20)
        entry = {"test": "matmul", "dtype": dtype, "n": n, "seconds": seconds,
                 "tflops": 2 * n**3 / seconds / 1e12, "timer": self.timer}
        if dtype == "fp32":
            entry["fp32_mode"] = "tf32" if self.fp32_mode()["matmul_allow_tf32"] else "ieee"
        return entry

    def _time_events(self, dev: str, fn: Callable[[], Any], warmup: int, iters: int) -> float:
        t = self.torch
        with t.cuda.device(dev):
            for _ in range(warmup):
                fn()
            start, end = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
            t.cuda.synchronize()
            start.record()
            for _ in range(iters):
                fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end)) / 1000.0 / iters

    def _cpu_matmul_speed(self, quick: bool) -> dict[str, Any]:
        t = self.torch
        n = 512 if quick else 2048
        a, b = t.randn(n, n), t.randn(n, n)
        c = t.empty(n, n)
        t.matmul(a, b, out=c)
        iters = 3 if quick else 10
        start = time.perf_counter()
        for _ in range(iters):
            t.matmul(a, b, out=c)
        seconds = (time.perf_counter() - start) / iters
        return {"test": "matmul", "dtype": "fp32", "n": n, "seconds": seconds,
                "gflops": 2 * n**3 / seconds / 1e9, "timer": "wall clock"}


class NumpyRefMixin:
    """Inputs and float64 references for frameworks that hand back numpy arrays."""

    def _inputs(self, np: Any, rng: Any, op: str, quick: bool) -> tuple[Any, Any]:
        if op == "matmul":
            m, k, n = sizes(op, quick)
            return rng.standard_normal((m, k)), rng.standard_normal((k, n))
        nb, cin, cout, h, w, ks = sizes(op, quick)
        x = rng.standard_normal((nb, h, w, cin))  # NHWC, the layout TF and JAX default to
        k = rng.standard_normal((ks, ks, cin, cout)) / (cin * ks * ks) ** 0.5
        return x, k

    @staticmethod
    def _reference(np: Any, op: str, a: Any, b: Any) -> Any:
        if op == "matmul":
            return a @ b
        ks = b.shape[0]
        oh, ow = a.shape[1] - ks + 1, a.shape[2] - ks + 1
        out = np.zeros((a.shape[0], oh, ow, b.shape[3]))
        for i in range(ks):
            for j in range(ks):
                out += np.tensordot(a[:, i:i + oh, j:j + ow, :], b[i, j], axes=([3], [0]))
        return out


class TensorFlowFramework(NumpyRefMixin, Framework):
    def __init__(self) -> None:
        import numpy as np  # type: ignore[import-not-found,unused-ignore]  # comes with tensorflow; not a dldoctor dependency
        import tensorflow as tf  # type: ignore[import-untyped,unused-ignore]  # not installed here; no stubs

        self.tf, self.np = tf, np
        self.name, self.version = "tensorflow", tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        build = tf.sysconfig.get_build_info() if hasattr(tf.sysconfig, "get_build_info") else {}
        self.backend = ("rocm" if build.get("is_rocm_build") else "cuda") if gpus else "cpu"
        self.rng = np.random.default_rng()

    def build_note(self) -> str | None:
        if not self.tf.test.is_built_with_cuda() and not self.tf.test.is_built_with_rocm():
            return f"this TensorFlow build ({self.version}) has no GPU support"
        return None

    def framework_count(self) -> int:
        return len(self.tf.config.list_physical_devices("GPU"))

    def devices(self) -> list[dict[str, Any]]:
        gpus = self.tf.config.list_physical_devices("GPU")
        if not gpus:
            return [{"index": 0, "kind": "cpu", "name": platform.processor() or platform.machine()}]
        found = []
        for i, gpu in enumerate(gpus):
            details = self.tf.config.experimental.get_device_details(gpu)
            cap = details.get("compute_capability")
            found.append({"index": i, "kind": self.backend, "name": details.get("device_name", gpu.name),
                          "capability": f"{cap[0]}.{cap[1]}" if cap else None})
        return found

    def fp32_mode(self) -> dict[str, Any]:
        return {"tensor_float_32_execution": bool(self.tf.config.experimental.tensor_float_32_execution_enabled())}

    def case(self, device: dict[str, Any], op: str, dtype: str, mode: str, quick: bool) -> tuple[Any, Any, Any]:
        tf, np = self.tf, self.np
        dt = {"fp32": tf.float32, "tf32": tf.float32, "fp16": tf.float16, "bf16": tf.bfloat16}[dtype]
        a, b = self._inputs(np, self.rng, op, quick)
        name = "/CPU:0" if device["kind"] == "cpu" else f"/GPU:{device['index']}"
        before = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(dtype == "tf32")
        try:
            with tf.device(name):
                ta, tb = tf.cast(tf.constant(a), dt), tf.cast(tf.constant(b), dt)
                a64 = tf.cast(ta, tf.float64).numpy()
                b64 = tf.cast(tb, tf.float64).numpy()

                def body(x: Any, y: Any) -> Any:
                    if op == "matmul":
                        return tf.matmul(x, y)
                    return tf.nn.conv2d(x, y, strides=1, padding="VALID")

                fn = tf.function(body, jit_compile=True) if mode == "compiled" else body
                # Write into a NaN-poisoned variable: tf tensors are immutable, so
                # assign() is the only in-place write TF offers.
                ref = self._reference(np, op, a64, b64)
                poisoned = tf.Variable(tf.fill(ref.shape, tf.constant(float("nan"), dt)))
                poisoned.assign(fn(ta, tb))
                fresh = tf.cast(fn(ta, tb), tf.float64).numpy()
                out = tf.cast(poisoned, tf.float64).numpy()
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(before)
        return out.copy(), fresh.copy(), ref

    def speed(self, device: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
        tf = self.tf
        if device["kind"] == "cpu":
            n, dtype, iters = (512 if quick else 2048), tf.float32, 3
        else:
            n, dtype, iters = (4096 if quick else 8192), tf.bfloat16, 10
        name = "/CPU:0" if device["kind"] == "cpu" else f"/GPU:{device['index']}"
        with tf.device(name):
            a = tf.random.normal((n, n), dtype=tf.float32)
            a = tf.cast(a, dtype)
            tf.matmul(a, a)[0, 0].numpy()
            start = time.perf_counter()
            for _ in range(iters):
                c = tf.matmul(a, a)
            c[0, 0].numpy()  # waits for the queue to drain
            seconds = (time.perf_counter() - start) / iters
        key, scale = ("gflops", 1e9) if device["kind"] == "cpu" else ("tflops", 1e12)
        return [{"test": "matmul", "dtype": "fp32" if device["kind"] == "cpu" else "bf16", "n": n,
                 "seconds": seconds, key: 2 * n**3 / seconds / scale, "timer": "wall clock"}]


class JaxFramework(NumpyRefMixin, Framework):
    def __init__(self) -> None:
        import jax  # type: ignore[import-not-found,unused-ignore]  # optional framework, not installed here
        import jax.numpy as jnp  # type: ignore[import-not-found,unused-ignore]  # as above
        import numpy as np  # a dependency of jax

        self.jax, self.jnp, self.np = jax, jnp, np
        self.name, self.version = "jax", jax.__version__
        self.backend_name = jax.default_backend()
        self.backend = {"gpu": "cuda", "cuda": "cuda", "rocm": "rocm"}.get(self.backend_name, "cpu")
        if self.backend == "cuda" and "rocm" in str(getattr(jax.devices()[0], "client", "")).lower():
            self.backend = "rocm"
        self.rng = np.random.default_rng()

    def framework_count(self) -> int:
        return 0 if self.backend == "cpu" else len(self.jax.devices())

    def devices(self) -> list[dict[str, Any]]:
        found = []
        for i, dev in enumerate(self.jax.devices()):
            found.append({"index": i, "kind": self.backend, "name": getattr(dev, "device_kind", str(dev))})
        return found if self.backend != "cpu" else found[:1]

    def fp32_mode(self) -> dict[str, Any]:
        return {"jax_default_matmul_precision": str(self.jax.config.jax_default_matmul_precision)}

    def case(self, device: dict[str, Any], op: str, dtype: str, mode: str, quick: bool) -> tuple[Any, Any, Any]:
        jax, jnp, np = self.jax, self.jnp, self.np
        dt = {"fp32": jnp.float32, "tf32": jnp.float32, "fp16": jnp.float16, "bf16": jnp.bfloat16}[dtype]
        a, b = self._inputs(np, self.rng, op, quick)
        dev = self.jax.devices()[device["index"]]
        ja = jax.device_put(jnp.asarray(a, dtype=dt), dev)
        jb = jax.device_put(jnp.asarray(b, dtype=dt), dev)
        a64 = np.asarray(ja.astype(jnp.float32), dtype=np.float64)
        b64 = np.asarray(jb.astype(jnp.float32), dtype=np.float64)

        def body(x: Any, y: Any) -> Any:
            if op == "matmul":
                return jnp.matmul(x, y)
            return jax.lax.conv_general_dilated(x, y, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))

        fn = jax.jit(body) if mode == "compiled" else body
        with jax.default_matmul_precision("tensorfloat32" if dtype == "tf32" else "highest"):
            res = fn(ja, jb).block_until_ready()
        out = np.asarray(res.astype(jnp.float32), dtype=np.float64)
        # jax arrays are immutable: there is no out= buffer to poison.
        return out, None, self._reference(np, op, a64, b64)

    def speed(self, device: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
        jax, jnp = self.jax, self.jnp
        cpu = device["kind"] == "cpu"
        n = (512 if quick else 2048) if cpu else (4096 if quick else 8192)
        dt = jnp.float32 if cpu else jnp.bfloat16
        dev = jax.devices()[device["index"]]
        a = jax.device_put(jnp.ones((n, n), dtype=dt), dev)
        mm = jax.jit(jnp.matmul)
        mm(a, a).block_until_ready()
        iters = 3 if cpu else 10
        start = time.perf_counter()
        for _ in range(iters):
            c = mm(a, a)
        c.block_until_ready()
        seconds = (time.perf_counter() - start) / iters
        key, scale = ("gflops", 1e9) if cpu else ("tflops", 1e12)
        return [{"test": "matmul", "dtype": "fp32" if cpu else "bf16", "n": n, "seconds": seconds,
                 key: 2 * n**3 / seconds / scale, "timer": "wall clock"}]


FRAMEWORK_MODULES = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}


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


# ------------------------------------------------------------------ collective

COLLECTIVE_WORKER = r'''
import json, os, sys, time
import torch
import torch.distributed as dist
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
backend, numel = os.environ["DLDOCTOR_SMOKE_BACKEND"], int(os.environ["DLDOCTOR_SMOKE_NUMEL"])
result = {"rank": rank}
try:
    if backend == "nccl":
        torch.cuda.set_device(rank)
        dev = torch.device("cuda", rank)
    else:
        dev = torch.device("cpu")
    dist.init_process_group(backend, rank=rank, world_size=world)
    x = torch.full((numel,), float(rank + 1), dtype=torch.float32, device=dev)
    dist.all_reduce(x)
    if backend == "nccl":
        torch.cuda.synchronize()
    expected = world * (world + 1) / 2
    wrong = int((x != expected).sum())
    result.update(expected=expected, wrong=wrong, first=float(x[0]))
    dist.barrier()
    start = time.perf_counter()
    iters = 5
    for _ in range(iters):
        dist.all_reduce(x)
    if backend == "nccl":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / iters
    nbytes = numel * 4
    result.update(seconds=seconds, bytes=nbytes, busbw_gbs=2 * (world - 1) / world * nbytes / seconds / 1e9)
    dist.destroy_process_group()
except Exception as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"[:600]
print("DLDOCTOR-SMOKE-RANK " + json.dumps(result), flush=True)
'''


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_collective(world: int, backend: str, quick: bool, timeout_s: float) -> dict[str, Any]:
    """All-reduce across `world` child processes, checked for the right sum."""
    numel = (1 << 20) if quick else (64 << 20)
    summary: dict[str, Any] = {"test": "all_reduce", "backend": backend, "world_size": world,
                               "bytes": numel * 4, "status": "fail"}
    base_env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                    WORLD_SIZE=str(world), DLDOCTOR_SMOKE_BACKEND=backend,
                    DLDOCTOR_SMOKE_NUMEL=str(numel))
    procs = []
    for rank in range(world):
        env = dict(base_env, RANK=str(rank), LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, "-c", COLLECTIVE_WORKER], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + timeout_s
    ranks: list[dict[str, Any]] = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            summary["reason"] = (f"all-reduce did not finish within {timeout_s:.0f}s "
                                 "(a hang in NCCL init or in the collective)")
            return summary
        line = next((ln for ln in out.splitlines() if ln.startswith("DLDOCTOR-SMOKE-RANK ")), None)
        if line is None:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            ranks.append({"error": f"worker exited with {proc.returncode}: {tail[:300]}"})
        else:
            ranks.append(json.loads(line[len("DLDOCTOR-SMOKE-RANK "):]))
    summary["ranks"] = ranks
    errors = [r["error"] for r in ranks if r.get("error")]
    wrong = sum(int(r.get("wrong", 0)) for r in ranks)
    if errors:
        summary["reason"] = errors[0]
    elif wrong:
        summary["reason"] = f"{wrong} elements hold the wrong sum (expected {ranks[0]['expected']})"
    else:
        summary["status"] = "pass"
        summary["expected_sum"] = ranks[0]["expected"]
        summary["busbw_gbs"] = min(float(r["busbw_gbs"]) for r in ranks)
    return summary


# ------------------------------------------------------------------ main loop


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
