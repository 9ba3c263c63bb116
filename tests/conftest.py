"""Markers: `gpu` tests run only where an NVIDIA GPU is visible; the reason is printed by -ra."""

from __future__ import annotations

import os

import pytest


def _has_nvidia_gpu() -> bool:
    if not os.path.exists("/dev/nvidiactl"):
        return False
    return any(n.startswith("nvidia") and n[6:].isdigit() for n in os.listdir("/dev"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _has_nvidia_gpu():
        return
    skip = pytest.mark.skip(reason="no NVIDIA GPU on this machine (gpu tests run where one is at hand)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
