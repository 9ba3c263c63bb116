"""Simulated machines for the probe tests: a scenario folder becomes a `Machine`.

A scenario (tests/scenarios/<what-it-reproduces>/) holds:
- `machine.json`: what has no file of its own (OS, arch, glibc, host and user
  names, environment variables), the state of its libnvidia-ml (`nvml`), and
  the commands the machine has, each with its recorded output (or
  `"hang": true`);
- `root/`: the machine's files (proc, sys, dev, etc, usr, opt ...);
- `expected.json` (optional): the findings `dldoctor check` must report.

Commands become real executables in a temporary bin folder that is the
simulated machine's whole PATH, so the real runner runs them, with real
timeouts. The interpreter's answers to dldoctor's snippets are recorded the
same way (`python3` is such a command).

NVML is NVIDIA's real `pynvml` bindings loading a fake libnvidia-ml.so.1
(tests/fake_libnvml), built for the driver generation of the scenario's
`nvml` section and given that section as its state. A scenario without one
loads the root's own libnvidia-ml.so.1 like any machine seen through a root:
an empty placeholder or no file at all, so nvmlInit raises LibraryNotFound.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path
from typing import Any

from dldoctor.machine import Machine, UserInfo, load_nvml_bindings
from dldoctor.runner import Runner
from tests import fake_libnvml

SCENARIOS = Path(__file__).parent / "scenarios"


def scenario_names() -> list[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "machine.json").is_file())


def _write_command(bin_dir: Path, name: str, spec: dict[str, Any] | list[dict[str, Any]], data_dir: Path) -> None:
    """A shell script that replays the recorded output; `match` picks a case by its arguments."""
    cases = spec if isinstance(spec, list) else [spec]
    lines = ["#!/bin/sh", "PATH=/usr/bin:/bin", 'args="$*"']
    for i, case in enumerate(cases):
        body = []
        if case.get("hang"):
            body.append("exec sleep 600")
        else:
            for stream, target in (("stdout", ""), ("stderr", " >&2")):
                text = case.get(stream)
                if text is None and case.get(f"{stream}_file"):
                    text = (data_dir / case[f"{stream}_file"]).read_text()
                if text is not None:
                    path = bin_dir / f".{name}.{i}.{stream}"
                    path.write_text(text)
                    body.append(f"cat {shlex.quote(str(path))}{target}")
            body.append(f"exit {int(case.get('rc', 0))}")
        match = case.get("match")
        if match:
            lines.append(f'case "$args" in *{shlex.quote(match)}*) {"; ".join(body)};; esac')
        else:
            lines.extend(body)
    if all(case.get("match") for case in cases):
        lines.append(f'echo "{name}: no recorded output for: $args" >&2; exit 97')
    script = bin_dir / name
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def load_machine(name: str, tmp_path: Path, timeout_s: float = 5.0) -> Machine:
    """The simulated machine of scenario `name`; `tmp_path` receives its bin folder."""
    folder = SCENARIOS / name
    spec = json.loads((folder / "machine.json").read_text())
    bin_dir = tmp_path / f"{name}-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    root = folder / "root"
    commands: dict[str, Any] = dict(spec.get("commands", {}))
    python = spec.get("python")
    if python is not None and "python3" not in commands:
        commands["python3"] = {"match": "dldoctor-inspect", "stdout": json.dumps(python) + "\n"}
    for command, command_spec in commands.items():
        _write_command(bin_dir, command, command_spec, folder)
    env = {k: str(v) for k, v in spec.get("env", {}).items()}
    env["PATH"] = str(bin_dir)
    env.setdefault("HOME", spec.get("user", {}).get("home", "/home/user"))
    user = spec.get("user", {})
    nvml_spec = spec.get("nvml")
    nvml_dir = tmp_path / f"{name}-nvml"

    def load_nvml() -> Any:
        assert nvml_spec is not None
        return load_nvml_bindings(fake_libnvml.install(nvml_spec, nvml_dir))

    return Machine(
        root=root,
        env=env,
        runner=Runner(env=env, default_timeout_s=timeout_s),
        system=spec.get("system", "Linux"),
        arch=spec.get("arch", "x86_64"),
        glibc=spec.get("glibc"),
        hostname=spec.get("hostname", "sim"),
        user=UserInfo(
            name=user.get("name", "user"), uid=int(user.get("uid", 1000)),
            gids=tuple(user.get("gids", [1000])), home=user.get("home", "/home/user"),
        ),
        own_python=str(bin_dir / "python3") if "python3" in commands else os.devnull,
        load_nvml=load_nvml if nvml_spec is not None else None,
        is_local=False,
        timeout_s=timeout_s,
    )
