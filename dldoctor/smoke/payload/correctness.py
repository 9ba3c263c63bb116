"""The correctness cases: which ones run, the planted faults, and the judge of one result.
"""

from __future__ import annotations

from typing import Any

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
