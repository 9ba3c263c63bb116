"""The environment probe on a simulated machine: every fact from the machine's files, env and runner."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from dldoctor.machine import Machine, UserInfo
from dldoctor.probes import Notes
from dldoctor.probes.environment import probe_environment
from dldoctor.runner import Runner


def _file(root: Path, path: str, text: str, executable: bool = False) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    if executable:
        target.chmod(target.stat().st_mode | stat.S_IXUSR)


def test_package_managers_are_read_from_the_machines_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    # conda in /opt/conda (a Python entry point: its version is its conda-meta record), pip in a venv (its
    # dist-info), and uv: a native tool, known only to the runner (a recorded command), asked for --version.
    _file(root, "/opt/conda/bin/conda", "#!/opt/conda/bin/python\nimport conda\n", executable=True)
    _file(root, "/opt/conda/conda-meta/conda-24.7.1-py312h7900ff3_0.json", json.dumps({"name": "conda"}))
    _file(root, "/home/u/venv/bin/pip", "#!/home/u/venv/bin/python\nimport pip\n", executable=True)
    _file(root, "/home/u/venv/lib/python3.12/site-packages/pip-24.2.dist-info/METADATA", "Name: pip\n")
    bin_dir = tmp_path / "bin"
    _file(bin_dir, "/uv", "#!/bin/sh\necho 'uv 0.13.9 (x86_64-unknown-linux-gnu)'\n", executable=True)
    env = {"PATH": f"/opt/conda/bin:/home/u/venv/bin:{bin_dir}", "HOME": "/home/u", "CUDA_VISIBLE_DEVICES": "0",
           "NOT_ONE_THAT_MATTERS": "x"}
    machine = Machine(root=root, env=env, runner=Runner(env=env), system="Linux", arch="x86_64", glibc="2.39",
                      hostname="sim", user=UserInfo("u", 1000, (1000,), "/home/u"), own_python=os.devnull)
    notes = Notes()
    doc = probe_environment(machine, notes)
    assert notes.failures == []
    assert doc["variables"] == {"CUDA_VISIBLE_DEVICES": "0"}
    assert doc["package_managers"] == {
        "conda": {"path": "/opt/conda/bin/conda", "version": "24.7.1"},
        "pip": {"path": "/home/u/venv/bin/pip", "version": "24.2"},
        "uv": {"path": str(bin_dir / "uv"), "version": "0.13.9"},
    }


def test_nothing_of_the_host_leaks_into_a_simulated_machine(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/home/u"}  # machine paths: empty in this root
    machine = Machine(root=root, env=env, runner=Runner(env={"PATH": str(tmp_path)}), system="Linux",
                      arch="x86_64", glibc=None, hostname="sim", user=UserInfo("u", 1000, (1000,), "/home/u"),
                      own_python=os.devnull)
    assert probe_environment(machine, Notes()) == {"variables": {}, "package_managers": {}}
