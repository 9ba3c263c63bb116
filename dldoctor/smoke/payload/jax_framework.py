"""JAX: correctness cases (eager and jit) and speed.
"""

from __future__ import annotations

import time
from typing import Any

from .framework import Framework, NumpyRefMixin


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
