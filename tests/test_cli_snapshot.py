"""The CLI as a user runs it: a real subprocess, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.errors import ExitCode
from tests.torch_env import torch_python_or_skip


def dld(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, check=False)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dldoctor: error:"), proc.stderr


def test_version_and_help() -> None:
    proc = dld("--version")
    assert proc.returncode == 0 and proc.stdout.strip().startswith("dldoctor ")
    for command in ("snapshot", "check", "explain", "knowledge"):
        helped = dld(command, "--help")
        assert helped.returncode == 0 and "Usage" in helped.stdout, command


def test_snapshot_on_this_machine_is_valid_json() -> None:
    proc = dld("snapshot")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "dldoctor.snapshot/1"
    for section in ("host", "nvidia", "amd", "other_accelerators", "cuda_toolkits", "environment", "docker",
                    "frameworks", "probe_failures"):
        assert section in doc
    assert doc["host"]["python"]["executable"]
    assert doc["host"]["cpu"]["logical_cores"] >= 1


def test_snapshot_output_file_is_written_whole(tmp_path: Path) -> None:
    out = tmp_path / "snap.json"
    proc = dld("snapshot", "-o", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["schema"] == "dldoctor.snapshot/1"
    assert proc.stdout == "" and proc.stderr == ""
    assert [p.name for p in tmp_path.iterdir()] == ["snap.json"]  # no temporary file left behind


def test_unwritable_output_path(tmp_path: Path) -> None:
    assert_one_line_error(dld("snapshot", "-o", str(tmp_path / "missing" / "x.json")), ExitCode.OUTPUT)
    assert_one_line_error(dld("snapshot", "-o", str(tmp_path)), ExitCode.OUTPUT)


def test_unknown_option_and_bad_values() -> None:
    assert_one_line_error(dld("snapshot", "--bogus"), ExitCode.USAGE)
    assert_one_line_error(dld("frobnicate"), ExitCode.USAGE)
    assert_one_line_error(dld("snapshot", "--timeout", "abc"), ExitCode.USAGE)
    assert_one_line_error(dld("snapshot", "--timeout", "0"), ExitCode.USAGE)


def test_python_option_must_be_an_interpreter(tmp_path: Path) -> None:
    assert_one_line_error(dld("snapshot", "--python", str(tmp_path / "nope")), ExitCode.INPUT)
    assert_one_line_error(dld("snapshot", "--python", str(tmp_path)), ExitCode.INPUT)
    text_file = tmp_path / "python"
    text_file.write_text("not a program")
    assert_one_line_error(dld("snapshot", "--python", str(text_file)), ExitCode.INPUT)
    assert_one_line_error(dld("snapshot", "--python", "/bin/true"), ExitCode.INPUT)


def test_python_option_inspects_another_interpreter(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    proc = dld("snapshot", "--python", str(venv / "bin" / "python"))
    assert proc.returncode == 0, proc.stderr
    frameworks = json.loads(proc.stdout)["frameworks"]
    assert frameworks["python"]["prefix"] == str(venv)
    assert frameworks["installed"] == []  # a fresh venv has no frameworks, whatever this one has


def test_redact_removes_host_and_user_names() -> None:
    plain = json.loads(dld("snapshot").stdout)
    proc = dld("snapshot", "--redact")
    doc = json.loads(proc.stdout)
    assert doc["redacted"] is True
    hostname = plain["host"]["hostname"]
    if len(hostname) >= 3:
        assert hostname not in proc.stdout
    assert doc["host"]["hostname"] == "<host>"


def test_no_color_is_honoured() -> None:
    proc = dld("check", env={"NO_COLOR": "1", "FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert proc.returncode in (0, 1)
    assert "\x1b[" not in proc.stdout


def test_knowledge_lists_tables() -> None:
    proc = dld("knowledge", "--json")
    assert proc.returncode == 0, proc.stderr
    tables = {t["name"]: t for t in json.loads(proc.stdout)["tables"]}
    assert "cuda_driver" in tables and tables["cuda_driver"]["rows"] > 10
    assert all(t["source"] and t["verified"] for t in tables.values())


def test_knowledge_dir_override(tmp_path: Path) -> None:
    from dldoctor.knowledge import DATA_DIR

    table = json.loads((DATA_DIR / "cuda_driver.json").read_text())
    table["verified"] = "2099-01-01"
    (tmp_path / "cuda_driver.json").write_text(json.dumps(table))
    proc = dld("--knowledge-dir", str(tmp_path), "knowledge", "--json")
    rows = {t["name"]: t for t in json.loads(proc.stdout)["tables"]}
    assert rows["cuda_driver"]["overridden"] is True
    assert str(rows["cuda_driver"]["verified"]) == "2099-01-01"
    assert_one_line_error(dld("--knowledge-dir", str(tmp_path / "none"), "knowledge"), ExitCode.INPUT)


def test_importing_dldoctor_stays_light() -> None:
    code = ("import sys, dldoctor, dldoctor.cli; "
            "heavy = ('torch', 'tensorflow', 'jax', 'pynvml', 'rich.console', 'docker'); "
            "heavy = [m for m in heavy if m in sys.modules]; "
            "print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


def test_snapshot_never_imports_a_framework() -> None:
    code = ("import sys; from dldoctor.machine import Machine; from dldoctor.snapshot import take_snapshot; "
            "take_snapshot(Machine.this_one()); "
            "print([m for m in ('torch', 'tensorflow', 'jax', 'paddle') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
def test_deep_imports_torch_in_a_child_and_reports_it() -> None:
    proc = dld("snapshot", "--deep", "--python", str(torch_python_or_skip()), timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    torch_entry = next(f for f in doc["frameworks"]["installed"] if f["name"] == "pytorch")
    deep = torch_entry["deep"]
    assert deep.get("error") is None, deep
    assert deep["cuda_available"] is False and deep["device_count"] == 0
    assert deep["version"] == torch_entry["version"]
    assert deep["import_s"] > 0
    assert isinstance(deep["loaded_libraries"], list)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_snapshot_output_gets_the_users_umask(tmp_path: Path, umask: int) -> None:
    """mkstemp makes 0600 files; -o FILE must end up like any file the user makes (0666 less the umask)."""
    target = tmp_path / "snap.json"
    proc = subprocess.run([sys.executable, "-m", "dldoctor", "snapshot", "-o", str(target)], capture_output=True,
                          text=True, timeout=120, check=False, preexec_fn=lambda: os.umask(umask))  # umask of the child only
    assert proc.returncode == 0, proc.stderr
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)  # a file that exists keeps its mode
    subprocess.run([sys.executable, "-m", "dldoctor", "snapshot", "-o", str(target)], capture_output=True,
                   timeout=120, check=True, preexec_fn=lambda: os.umask(umask))  # umask of the child only
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_lock_files_get_the_users_umask(tmp_path: Path, umask: int) -> None:
    """The venv backend's requirements.lock is written through the same function as snapshot -o."""
    code = ("import os, sys; from pathlib import Path; os.umask(int(sys.argv[2], 8)); "
            "from dldoctor.output import write_atomic; write_atomic(Path(sys.argv[1]), 'torch==2.13.0\\n', make_parents=True)")
    lock = tmp_path / "out" / "requirements.lock"
    subprocess.run([sys.executable, "-c", code, str(lock), oct(umask)[2:]], check=True, timeout=60)
    assert lock.read_text() == "torch==2.13.0\n"
    assert lock.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in lock.parent.iterdir()] == ["requirements.lock"]  # no temporary left beside it


def test_umask_is_read_without_changing_it() -> None:
    from dldoctor.output import current_umask

    before = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        assert current_umask() == 0o027
    finally:
        os.umask(before)
