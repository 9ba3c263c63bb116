"""How many devices the driver shows, independent of the framework, and whether the framework agrees.
"""

from __future__ import annotations

import glob
import os
from typing import Any


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
