"""The Docker engine: reachable or not, its version, and GPU support (NVIDIA runtime, CDI)."""

from __future__ import annotations

import json
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes


def probe_docker(machine: Machine, notes: Notes) -> dict[str, Any]:
    result: dict[str, Any] = {
        "client": machine.runner.which("docker"),
        "reachable": False,
        "server_version": None,
        "runtimes": [],
        "default_runtime": None,
        "nvidia_runtime": False,
        "cdi_spec_dirs": [],
        "cdi_nvidia_spec": bool(machine.glob("/etc/cdi/nvidia*.yaml") or machine.glob("/var/run/cdi/nvidia*.yaml")),
        "daemon_json_nvidia": "nvidia" in (machine.read_text("/etc/docker/daemon.json") or ""),
        "nvidia_ctk": machine.runner.which("nvidia-ctk"),
        "nvidia_container_runtime": machine.runner.which("nvidia-container-runtime"),
        "error": None,
    }
    if result["client"] is None:
        return result
    host = machine.env.get("DOCKER_HOST", "")
    if not host and not machine.exists("/var/run/docker.sock"):
        result["error"] = "no Docker engine socket at /var/run/docker.sock and DOCKER_HOST is not set"
        return result
    run = machine.runner.run(["docker", "info", "--format", "{{json .}}"])
    info: dict[str, Any] = {}
    if run.ok:
        try:
            info = json.loads(run.stdout)
        except ValueError:
            info = {}
    if not run.ok or not info.get("ServerVersion"):
        message = (info.get("ServerErrors") or [None])[0] if info else None
        result["error"] = message or run.describe_failure()
        return result
    runtimes = info.get("Runtimes") or {}
    result.update({
        "reachable": True,
        "server_version": info.get("ServerVersion"),
        "runtimes": sorted(runtimes),
        "default_runtime": info.get("DefaultRuntime"),
        "nvidia_runtime": "nvidia" in runtimes,
        "cdi_spec_dirs": info.get("CDISpecDirs") or [],
    })
    return result
