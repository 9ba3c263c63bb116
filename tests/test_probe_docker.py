"""The Docker probe's two paths: the engine API over a socket, and the CLI fallback."""

from __future__ import annotations

import json
import os
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from dldoctor.machine import Machine
from dldoctor.probes import Notes
from dldoctor.probes.docker import probe_docker
from dldoctor.runner import Runner

INFO = {"ServerVersion": "27.3.1", "Runtimes": {"runc": {}, "nvidia": {"path": "nvidia-container-runtime"}},
        "DefaultRuntime": "runc", "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"]}


class _Engine(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's name
        body = json.dumps(INFO).encode() if self.path == "/info" else b"{}"
        self.send_response(200 if self.path == "/info" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture()
def fake_engine(tmp_path: Path) -> Iterator[Path]:
    """An HTTP server on a unix socket answering /info like a Docker engine with the NVIDIA runtime."""
    path = tmp_path / "docker.sock"
    server = _UnixServer(str(path), _Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def _machine(env: dict[str, str]) -> Machine:
    local = Machine.this_one()
    env = {"PATH": "/nonexistent", **env}
    return Machine(root=local.root, env=env, runner=Runner(env=env), system=local.system, arch=local.arch,
                   glibc=local.glibc, hostname=local.hostname, user=local.user, own_python=local.own_python,
                   is_local=True)


def test_engine_api_over_unix_socket(fake_engine: Path) -> None:
    result = probe_docker(_machine({"DOCKER_HOST": f"unix://{fake_engine}"}), Notes())
    assert result["source"] == "api" and result["reachable"] is True
    assert result["server_version"] == "27.3.1"
    assert result["nvidia_runtime"] is True and result["runtimes"] == ["nvidia", "runc"]
    assert result["client"] is None  # no docker CLI needed to reach the engine


def test_dead_socket_is_unreachable(tmp_path: Path) -> None:
    dead = tmp_path / "dead.sock"
    dead.write_text("")
    result = probe_docker(_machine({"DOCKER_HOST": f"unix://{dead}"}), Notes())
    assert result["reachable"] is False and result["error"]


@pytest.mark.docker
def test_real_engine_when_one_runs() -> None:
    if not os.path.exists("/var/run/docker.sock") and not os.environ.get("DOCKER_HOST"):
        pytest.skip("no Docker engine here (.ci/run starts one)")
    result = probe_docker(Machine.this_one(), Notes())
    assert result["reachable"] is True, result["error"]
    assert result["source"] == "api" and result["server_version"]
