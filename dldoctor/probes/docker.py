"""The Docker engine: reachable or not, its version, and GPU support (NVIDIA runtime, CDI).

The engine is asked directly over its API socket (`GET /info`, a few
milliseconds); the `docker` CLI is the fallback for what a plain socket cannot
reach (ssh:// hosts, contexts) and costs a process start.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes

DEFAULT_SOCKET = "/var/run/docker.sock"


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the Docker engine's default endpoint)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._socket_path)
        self.sock = sock


def _engine_info_over_api(machine: Machine) -> dict[str, Any] | None:
    """`GET /info` from the engine; None when the endpoint is not a socket we can reach."""
    host = machine.env.get("DOCKER_HOST", "")
    timeout = min(machine.timeout_s, 3.0)
    conn: http.client.HTTPConnection
    if host.startswith("unix://"):
        conn = _UnixHTTPConnection(str(machine.path(host[len("unix://"):])), timeout)
    elif host.startswith("tcp://"):
        address = host[len("tcp://"):].rstrip("/")
        hostname, _, port = address.partition(":")
        conn = http.client.HTTPConnection(hostname, int(port or 2375), timeout=timeout)
    elif not host:
        conn = _UnixHTTPConnection(str(machine.path(DEFAULT_SOCKET)), timeout)
    else:
        return None  # ssh:// and friends: leave them to the CLI
    try:
        conn.request("GET", "/info")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        data = json.loads(body)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _engine_info_over_cli(machine: Machine, result: dict[str, Any]) -> dict[str, Any] | None:
    run = machine.runner.run(["docker", "info", "--format", "{{json .}}"])
    info: dict[str, Any] = {}
    if run.ok:
        try:
            parsed = json.loads(run.stdout)
            info = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            info = {}
    if not run.ok or not info.get("ServerVersion"):
        message = (info.get("ServerErrors") or [None])[0] if info else None
        result["error"] = message or run.describe_failure()
        return None
    return info


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
        "source": None,
        "error": None,
    }
    host = machine.env.get("DOCKER_HOST", "")
    info = _engine_info_over_api(machine)
    if info is not None:
        result["source"] = "api"
    elif result["client"] is not None and (host or machine.exists(DEFAULT_SOCKET)):
        info = _engine_info_over_cli(machine, result)
        result["source"] = "docker cli" if info is not None else None
    elif not host and not machine.exists(DEFAULT_SOCKET):
        result["error"] = f"no Docker engine socket at {DEFAULT_SOCKET} and DOCKER_HOST is not set"
    else:
        result["error"] = f"the Docker engine at {host or DEFAULT_SOCKET} does not answer"
    if not info or not info.get("ServerVersion"):
        return result
    runtimes = info.get("Runtimes") or {}
    result.update({
        "reachable": True,
        "server_version": info.get("ServerVersion"),
        "runtimes": sorted(runtimes),
        "default_runtime": info.get("DefaultRuntime"),
        "nvidia_runtime": "nvidia" in runtimes,
        "cdi_spec_dirs": info.get("CDISpecDirs") or [],
        "error": None,
    })
    return result
