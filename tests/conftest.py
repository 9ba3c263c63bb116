"""Markers: `gpu` tests run only where an NVIDIA GPU is visible; the reason is printed by -ra."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests import docker_base


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


# --- a real Docker engine (started by .ci/dockerd.sh in CI) ------------------------------

@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    try:
        import docker

        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # noqa: BLE001  (any failure means no engine here)
        pytest.skip(f"no Docker engine reachable ({type(exc).__name__}); .ci/dockerd.sh starts one")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(engine: Any) -> str:
    try:
        return docker_base.ensure_base_image(engine)
    except docker_base.BaseImageUnavailable as exc:
        pytest.skip(f"cannot make the test base image: {exc}")
