"""`dldoctor smoke`: run tensors on the accelerator inside a target environment.

`payload/` runs inside the target (stdlib + the framework only) and prints
one JSON line; `run.py` runs it through the Runner and judges it; `render.py`
draws the human table; `command.py` is what the CLI calls.
"""

from __future__ import annotations

from dldoctor.smoke.render import render_smoke
from dldoctor.smoke.run import RESULT_KEYS, SCHEMA, no_accelerator_message, run_smoke
from dldoctor.smoke.target import (
    HostAccelerators,
    SmokeOptions,
    SmokeTarget,
    build_invocation,
    docker_device_flags,
)

__all__ = [
    "RESULT_KEYS",
    "SCHEMA",
    "HostAccelerators",
    "SmokeOptions",
    "SmokeTarget",
    "build_invocation",
    "docker_device_flags",
    "no_accelerator_message",
    "render_smoke",
    "run_smoke",
]
