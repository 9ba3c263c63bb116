"""PyTorch: correctness cases (eager and torch.compile) and speed, timed with device events.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

from .framework import Framework, sizes
from .markers import error_text, progress


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
