"""What the generic test loop needs from one framework, and the helpers the frameworks share.
"""

from __future__ import annotations

from typing import Any


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
