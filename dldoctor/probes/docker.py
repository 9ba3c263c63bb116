"""The Docker engine: reachable or not, its version, and GPU support (NVIDIA runtime, CDI).

The engine is asked directly over its API socket (`GET /info`, a few
milliseconds); the `docker` CLI is the fallback for what a plain socket cannot
reach (ssh:// hosts, contexts) and costs a process start.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from dldoctor.machine import Machine
from dldoctor.probes import Notes

DEFAULT_SOCKET = "/var/run/docker.sock"


def _dechunk(body: bytes) -> bytes:
    """Undo HTTP/1.1 chunked transfer encoding."""
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return bytes(out)


def _get_json(sock: socket.socket, path: str) -> dict[str, Any] | None:
    """A bare HTTP/1.0 GET on a connected socket (the engine closes the connection after the body)."""
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
    chunks = []
    while data := sock.recv(1 << 16):
        chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    data = json.loads(body)
    return data if isinstance(data, dict) else None


def _engine_info_over_api(machine: Machine) -> dict[str, Any] | None:
    """`GET /info` from the engine; None when the endpoint is not a socket we can reach.

    Spoken over a plain socket: http.client would cost more to import than the call takes.
    """
    host = machine.env.get("DOCKER_HOST", "")
    timeout = min(machine.timeout_s, 3.0)
    if host.startswith("unix://") or not host:
        family, address = socket.AF_UNIX, str(machine.path(host[len("unix://"):] if host else DEFAULT_SOCKET))
        target: Any = address
    elif host.startswith("tcp://"):
        hostname, _, port = host[len("tcp://"):].rstrip("/").partition(":")
        family, target = socket.AF_INET, (hostname, int(port or 2375))
    else:
        return None  # ssh:// and friends: leave them to the CLI
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(target)
            return _get_json(sock, "/info")
    except (OSError, ValueError):
        return None


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
    """The Docker client and engine: reachable, server version, runtimes (nvidia among them), CDI specs and
    the NVIDIA container toolkit."""
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
