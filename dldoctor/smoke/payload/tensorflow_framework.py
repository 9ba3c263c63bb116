"""TensorFlow: correctness cases (eager and XLA) and speed.
"""

from __future__ import annotations

import platform
import time
from typing import Any

from .framework import Framework, NumpyRefMixin


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
