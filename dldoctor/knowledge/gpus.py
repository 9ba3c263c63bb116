"""Datasheet and measured peaks of GPU models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dldoctor.knowledge.tables import rows


@dataclass(frozen=True)
class GpuPeaks:
    """Dense datasheet peaks (TFLOPS, GB/s) and best measured figures of one GPU model; None = unknown."""

    name: str
    fp32_tflops: float | None
    tf32_tflops: float | None
    bf16_tflops: float | None
    fp16_tflops: float | None
    memory_bandwidth_gbs: float | None
    best_bf16_tflops: float | None
    best_copy_gbs: float | None
    verified: bool = True


def gpu_peaks(gpu_name: str) -> GpuPeaks | None:
    """The peaks of the GPU NVML or amdsmi names `gpu_name` ("NVIDIA H100 80GB HBM3"); None when unknown.

    Only exact models match: an H100 PCIe is not an H100 SXM.
    """
    name = " ".join(gpu_name.split())
    if not name:
        return None

    def num(row: dict[str, Any], key: str) -> float | None:
        value = row.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    for row in rows("gpu_peaks"):
        patterns = [str(p) for p in row.get("match") or ()]
        if name.lower() == str(row["name"]).lower() or any(re.fullmatch(p, name, re.IGNORECASE) for p in patterns):
            return GpuPeaks(
                str(row["name"]), num(row, "fp32_tflops"), num(row, "tf32_tflops"), num(row, "bf16_tflops"),
                num(row, "fp16_tflops"), num(row, "memory_bandwidth_gbs"), num(row, "best_bf16_tflops"),
                num(row, "best_copy_gbs"), bool(row.get("verified", True)),
            )
    return None
