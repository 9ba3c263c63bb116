"""A new user's first ten minutes: the README's Quickstart followed line by line in a fresh copy and fresh venvs.

The commands come from README.md itself (tests/test_readme.py's reading of the Quickstart), so this follows
the README, not a copy of it. Each line runs in a shell exactly as written, with nothing active (no
VIRTUAL_ENV, no CONDA_PREFIX, none of this test run's venv on PATH). One change, said here: the test-suite
line's last step (`pytest`, the whole suite, which CI runs word for word) runs a few quick test files, so the
walkthrough does not run itself inside itself; the install before it runs as written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_readme import quickstart_commands

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: What the test-suite line's `pytest` step runs instead of the whole suite (see the docstring).
SUITE_SAMPLE = "tests/test_readme.py tests/test_options.py::test_cases_cover_every_code_the_readme_documents"


def _fresh_copy(dest: Path) -> None:
    """The files a clone has: tracked ones and untracked ones git does not ignore (no .venv, no caches)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _new_user_env() -> dict[str, str]:
    """This environment without any venv or conda env active, and without this test run's venv on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONPATH", "COLUMNS", "FORCE_COLOR")}
    ours = {os.path.realpath(sys.prefix), os.path.realpath(os.environ.get("VIRTUAL_ENV", sys.prefix))}
    entries = [e for e in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
               if e and not any(os.path.realpath(e).startswith(p + os.sep) for p in ours)]
    env["PATH"] = os.pathsep.join(entries)
    env["NO_COLOR"] = "1"
    return env


def _readme_check_example() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("\n    $ dldoctor check\n", 1)[1].split("\n\n(", 1)[0]
    return [line[4:] for line in block.splitlines()]


def test_the_quickstart_works_for_a_new_user(tmp_path: Path) -> None:
    clone = tmp_path / "dldoctor"
    _fresh_copy(clone)
    env = _new_user_env()
    assert shutil.which("python3", path=env["PATH"]), "no python3 on a new user's PATH"
    commands = quickstart_commands()
    assert len(commands) == 2
    check_line, test_line = commands

    # 1. Install and run the check: exit 0 (no error-level finding on this machine) or 1 with one (README).
    ran = subprocess.run(check_line, shell=True, cwd=clone, env=env, capture_output=True, text=True,  # noqa: S602  (the README's line, run as a user types it)
                         timeout=900, check=False)
    output = ran.stdout
    errors = re.search(r"^(\d+) error\(s\)", output.splitlines()[-1] if output else "")
    assert ran.returncode == (1 if errors else 0), f"{check_line}: exit {ran.returncode}\n{output}\n{ran.stderr}"
    assert "Traceback" not in ran.stderr
    assert not [line for line in ran.stderr.splitlines() if line.startswith("dldoctor: error")], ran.stderr
    # The output reads like the README's example where it does not depend on the machine.
    example = _readme_check_example()
    lines = output.splitlines()
    area = re.compile(r"^\[[✓!✗i]\] [A-Z][A-Za-z ]+(: .+)?$")
    assert area.match(example[0]) and example[0].startswith("[✓] Machine: ")
    assert lines[0].startswith("[✓] Machine: "), output
    assert all(area.match(line) for line in lines if line.startswith("[")), output
    assert "Recommended builds for this machine" in example and "Recommended builds for this machine" in lines
    assert lines[-1].endswith(example[-1].split(". ", 1)[1]), (lines[-1], example[-1])
    # The check looked at the user's python3, not at the .venv it was just installed into (listed apart).
    frameworks = next(line for line in lines if line.startswith("[✓] Frameworks") or line.startswith("[!] Frame"))
    assert str(clone / ".venv") not in frameworks, frameworks
    assert f"also {clone}/.venv (venv" in output, output

    # 2. The test dependencies, installed as written, then pytest from that venv.
    steps = test_line.split(" && ")
    assert steps[-1].endswith("python -m pytest"), test_line
    sampled = " && ".join([*steps[:-1], f"{steps[-1]} -q -p no:cacheprovider {SUITE_SAMPLE}"])
    suite = subprocess.run(sampled, shell=True, cwd=clone, env=env, capture_output=True, text=True,  # noqa: S602  (the README's line, run as a user types it)
                           timeout=1800, check=False)
    assert suite.returncode == 0, f"{sampled}: exit {suite.returncode}\n{suite.stdout[-3000:]}\n{suite.stderr[-3000:]}"
    assert re.search(r"\d+ passed", suite.stdout), suite.stdout
    for tool in ("ruff", "mypy", "pytest"):
        assert (clone / ".venv/bin" / tool).exists(), f"[test] does not install {tool}"
