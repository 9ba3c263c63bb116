"""Options and exit codes, as a user types them: the real CLI in a subprocess, the README's table as the truth."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dldoctor.errors import ExitCode
from tests.simulate import load_machine
from tests.torch_env import torch_python_or_skip

ROOT = Path(__file__).resolve().parent.parent


def dld(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd or ROOT, check=False)


def readme_exit_codes() -> dict[int, str]:
    """code -> meaning, from the README's "Exit codes" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.MULTILINE)
    assert rows, "no table under ## Exit codes"
    return {int(code): meaning for code, meaning in rows}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from dldoctor.snapshot import take_snapshot

    tmp = tmp_path_factory.mktemp("codes")
    healthy = take_snapshot(load_machine("h100-driver-580-cuda13", tmp))
    broken = json.loads(json.dumps(healthy))
    broken["nvidia"]["gpus"][0]["ecc_errors_uncorrected"] = 2
    (tmp / "healthy.json").write_text(json.dumps(healthy))
    (tmp / "broken.json").write_text(json.dumps(broken))
    (tmp / "not-json.json").write_text("{")
    slow = tmp / "slow-python"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "bare")], check=True, timeout=120)
    return {"dir": str(tmp), "healthy": str(tmp / "healthy.json"), "broken": str(tmp / "broken.json"),
            "not_json": str(tmp / "not-json.json"), "slow": str(slow), "bare": str(tmp / "bare/bin/python")}


#: Every documented exit code, with the commands that must end with it. 70 (a bug in dldoctor) has none:
#: a case that reached it would be a bug to fix, not a test.
CASES: dict[int, list[Callable[[dict[str, str]], list[str]]]] = {
    0: [lambda f: ["--version"], lambda f: ["check", "--snapshot", f["healthy"]]],
    1: [lambda f: ["check", "--snapshot", f["broken"]]],
    2: [lambda f: ["check", "--timeout", "-1"], lambda f: ["check", "--bogus"], lambda f: ["explain", "no.such"],
        lambda f: ["check", "--color", "sometimes"], lambda f: ["check", "--python", ""],
        lambda f: ["smoke", "--python", ""], lambda f: ["snapshot", "--timeout", "nan"]],
    3: [lambda f: ["check", "--snapshot", f["not_json"]], lambda f: ["check", "--python", "/nonexist"],
        lambda f: ["smoke", "--python", "/nonexist"], lambda f: ["snapshot", "--python", "/nonexist"],
        lambda f: ["report", "--python", "/nonexist"],
        lambda f: ["setup", "pytorch", "--python", "/nonexist", "--dry-run", "--snapshot", f["healthy"]],
        lambda f: ["check", "--python", "3.99"], lambda f: ["smoke", "--python", "3.99"]],
    4: [lambda f: ["snapshot", "-o", f"{f['dir']}/missing/x.json"], lambda f: ["snapshot", "-o", f["dir"]]],
    5: [lambda f: ["smoke", "--python", f["bare"], "--framework", "torch"]],
    6: [lambda f: ["smoke", "--python", f["slow"], "--timeout", "2"]],
    7: [lambda f: ["smoke", "--python", str(torch_python_or_skip()), "--quick", "--framework", "torch"]],
    8: [lambda f: ["smoke", "--image", "python:3.11"]],
}
ENV = {8: {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}}


def test_cases_cover_every_code_the_readme_documents() -> None:
    documented = readme_exit_codes()
    assert set(documented) == {int(c) for c in ExitCode}, "README table and dldoctor/errors.py disagree"
    assert set(CASES) == set(documented) - {int(ExitCode.INTERNAL), int(ExitCode.INTERRUPTED)}


def test_ctrl_c_exits_with_the_documented_code(files: dict[str, str]) -> None:
    import signal
    import time

    code = readme_exit_codes()[int(ExitCode.INTERRUPTED)]
    proc = subprocess.Popen([sys.executable, "-m", "dldoctor", "smoke", "--python", files["slow"]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, (code, err)
    assert "Traceback" not in err


@pytest.mark.parametrize("code", sorted(CASES))
def test_exit_code_matches_the_readme_table(code: int, files: dict[str, str]) -> None:
    meaning = readme_exit_codes()[code]
    for make in CASES[code]:
        args = make(files)
        proc = dld(*args, env=ENV.get(code))
        assert proc.returncode == code, f"dldoctor {' '.join(args)}: {proc.returncode}, README says {code} " \
                                        f"({meaning}): {proc.stderr[-500:]}"
        assert "Traceback" not in proc.stderr
        if code >= 2:
            assert proc.stderr.strip().splitlines()[-1].startswith("dldoctor: error:"), proc.stderr


def test_python_accepts_a_version_everywhere(tmp_path: Path) -> None:
    # A venv first on PATH: its python3.X is what "--python 3.X" must find.
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")], check=True, timeout=120)
    bin_dir = tmp_path / "v/bin"
    assert (bin_dir / f"python{version}").exists()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    snap = dld("snapshot", "--python", version, env=env)
    assert snap.returncode == 0, snap.stderr
    assert json.loads(snap.stdout)["frameworks"]["python"]["executable"].startswith(str(tmp_path)), snap.stdout
    for spelling in (f"python{version}", f"cpython@{version}"):
        again = dld("snapshot", "--python", spelling, env=env)
        assert json.loads(again.stdout)["frameworks"]["python"]["prefix"] == str(tmp_path / "v"), spelling
    check = dld("check", "--python", version, env=env)
    assert f"at {bin_dir}/python{version}" in check.stdout, check.stdout
    smoke = dld("smoke", "--python", version, "--framework", "torch", env=env)
    assert smoke.returncode == ExitCode.TARGET and "cannot import torch" in smoke.stderr, smoke.stderr


def test_setup_python_accepts_a_path_as_its_version(tmp_path: Path, files: dict[str, str]) -> None:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    by_path = dld("setup", "pytorch", "--backend", "venv", "--variant", "cpu", "--dry-run", "--json",
                  "--snapshot", files["healthy"], "--force", "--python", sys.executable, "-o", str(tmp_path))
    by_version = dld("setup", "pytorch", "--backend", "venv", "--variant", "cpu", "--dry-run", "--json",
                     "--snapshot", files["healthy"], "--force", "--python", version, "--out", str(tmp_path))
    assert by_path.returncode == 0, by_path.stderr
    assert json.loads(by_path.stdout)["plan"]["python"] == version
    assert json.loads(by_path.stdout)["plan"] == json.loads(by_version.stdout)["plan"]
    assert json.loads(by_path.stdout)["plan"]["out_dir"] == str(tmp_path)


def test_verbose_is_a_count_and_quiet_and_vv_change_check(files: dict[str, str]) -> None:
    helped = dld("--help")
    assert re.search(r"--verbose\s+-v\s+More detail", helped.stdout), helped.stdout
    assert "<int>" not in helped.stdout and "INTEGER" not in helped.stdout
    plain = dld("check", "--snapshot", files["broken"]).stdout
    quiet = dld("check", "-q", "--snapshot", files["broken"]).stdout
    vv = dld("check", "-vv", "--snapshot", files["broken"]).stdout
    # quiet: the area with the problem, the problem, the verdict; nothing healthy, no recommendations.
    assert "health.ecc-uncorrected" in quiet and "error(s)" in quiet.splitlines()[-1]
    assert "Machine" not in quiet and "Recommended builds" not in quiet and len(quiet) < len(plain)
    assert "[✓]" not in quiet
    # -vv: every probe's facts.
    assert "Probes" in vv and "Probes" not in plain
    for section in ("host", "nvidia", "cuda_toolkits", "frameworks"):
        assert re.search(rf"^  {section}: ", vv, re.MULTILINE), section
    assert "gpus[0].name=NVIDIA H100" in vv


def test_color_option(files: dict[str, str]) -> None:
    args = ("check", "--snapshot", files["healthy"])
    assert "\x1b[" in dld("--color", "always", *args).stdout
    assert "\x1b[" in dld(*args, "--color", "always").stdout  # after the command too
    assert "\x1b[" not in dld("--color", "never", *args, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in dld(*args).stdout  # auto: a pipe is not a terminal
    assert "\x1b[" in dld(*args, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in dld(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout


def test_shell_completion() -> None:
    script = dld("--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "complete" in script.stdout and "_DLDOCTOR_COMPLETE" in script.stdout.upper()
    env = {"_DLDOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": "dldoctor check --fr", "COMP_CWORD": "2"}
    answer = subprocess.run([sys.executable, "-c", "from dldoctor.cli import main; main()"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, **env}, check=False)
    assert answer.stdout.split() == ["--framework"], answer.stdout + answer.stderr
    assert "--install-completion" in dld("--help").stdout


def test_one_output_spelling(tmp_path: Path) -> None:
    for spelling in ("-o", "--output", "--out"):
        target = tmp_path / f"snap{spelling}.json"
        proc = dld("snapshot", spelling, str(target))
        assert proc.returncode == 0, proc.stderr
        assert json.loads(target.read_text())["schema"] == "dldoctor.snapshot/1"
    assert "--out " not in dld("setup", "--help").stdout.replace("--output", "")
