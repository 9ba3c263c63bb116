"""Progress: one vocabulary of steps, counts parsed from the installers' real output, rich only on a terminal.

The installer here is a fake `uv` (an executable replaying uv's recorded
output without a terminal) run through the real Runner, so the lines arrive
as a real child prints them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rich.console import Console

from dldoctor.runner import Runner
from dldoctor.setup.progress import STEPS, LiveProgress, report_count, step_of
from dldoctor.setup.venv.backend import VenvBackend, _InstallWatcher

#: What `uv pip install --require-hashes --no-deps -r requirements.lock` prints on stderr when it is not a terminal.
UV_OUTPUT = """Resolved 3 packages in 4ms
Prepared 3 packages in 1.21s
Installed 3 packages in 35ms
 + filelock==3.18.0
 + numpy==2.2.6
 + torch==2.13.0+cpu
"""
#: pip 23's lines for the same install (--progress-bar off).
PIP_OUTPUT = """Processing /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
Collecting filelock==3.18.0 (from -r requirements.lock (line 4))
  Downloading filelock-3.18.0-py3-none-any.whl (16 kB)
Collecting numpy==2.2.6 (from -r requirements.lock (line 7))
  Downloading numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (16.8 MB)
Installing collected packages: numpy, filelock, torch
Successfully installed filelock-3.18.0 numpy-2.2.6 torch-2.13.0+cpu
"""


def _fake_tool(tmp_path: Path, name: str, output: str) -> Path:
    """An executable that prints `output` on stderr line by line, slowly, as the real tool does."""
    tool = tmp_path / name
    lines = "".join(f"sys.stderr.write({line!r} + '\\n'); sys.stderr.flush(); time.sleep(0.02)\n"
                    for line in output.splitlines())
    tool.write_text(f"#!{sys.executable}\nimport sys, time\n{lines}")
    tool.chmod(0o755)
    return tool


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.counts: list[tuple[str, int, int | None, str]] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def count(self, step: str, done: int, total: int | None, what: str, unit: str = "packages") -> None:
        self.counts.append((step, done, total, what))


def test_uv_output_streams_as_download_and_install_counts(tmp_path: Path) -> None:
    uv = _fake_tool(tmp_path, "uv", UV_OUTPUT)
    seen = Recorder()
    backend = VenvBackend(runner=Runner(), installer="uv")
    backend._install_lock(("uv", [str(uv)], "uv (recorded)"), tmp_path / "env", tmp_path / "requirements.lock",
                          _InstallWatcher(seen, 3))
    assert seen.counts == [
        ("download", 3, 3, "prepared 3 packages in 1.21s"), ("install", 3, 3, "installed 3 packages in 35ms"),
        ("install", 1, 3, "filelock==3.18.0"), ("install", 2, 3, "numpy==2.2.6"), ("install", 3, 3, "torch==2.13.0+cpu"),
    ]


def test_pip_output_streams_as_download_counts_with_sizes(tmp_path: Path) -> None:
    seen = Recorder()
    watcher = _InstallWatcher(seen, 3)
    pip = _fake_tool(tmp_path, "pip", PIP_OUTPUT)
    done = Runner().run([str(pip)], timeout_s=30, on_line=watcher)
    assert done.ok and "Successfully installed" in done.stderr  # the caps and the captured text are unchanged
    downloads = [c for c in seen.counts if c[0] == "download"]
    assert [c[1] for c in downloads] == [1, 2, 2, 3, 3]
    assert downloads[-1][3] == "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (16.8 MB)"
    assert seen.counts[-1] == ("install", 0, 3, "numpy, filelock, torch")


def test_runner_hands_over_lines_as_they_come_cr_and_unterminated_last_line_too(tmp_path: Path) -> None:
    got: list[tuple[str, str]] = []
    script = "import sys; sys.stdout.write('a\\rb\\nc'); sys.stdout.flush(); sys.stderr.write('e1\\ne2\\n')"
    done = Runner(max_output_bytes=2).run([sys.executable, "-c", script], timeout_s=30,
                                          on_line=lambda s, ln: got.append((s, ln)))
    assert sorted(got) == [("stderr", "e1"), ("stderr", "e2"), ("stdout", "a"), ("stdout", "b"), ("stdout", "c")]
    assert done.stdout.startswith("a\n") and "truncated" in done.stdout  # the cap still holds for what is kept


def test_piped_progress_is_one_line_per_step_and_warnings() -> None:
    out = io.StringIO()
    live = LiveProgress(Console(file=out, force_terminal=False, width=200))
    for line in ("spec: wrote environment.yml", "solve: linux-64 for the target machine", "lock: linux-64: 40 packages",
                 "warning: the engine runs arm64"):
        live(line)
    for i in range(1, 4):
        report_count(live, "download", i, 3, f"downloaded pkg{i}")
    live("install: linking pkg1")
    live("install: installed 3 packages into /env")
    live("verify: smoke passed")
    live.close()
    assert out.getvalue().splitlines() == [
        "spec: wrote environment.yml", "solve: linux-64 for the target machine", "warning: the engine runs arm64",
        "lock: linux-64: 40 packages", "download: [3/3] downloaded pkg3", "install: installed 3 packages into /env",
        "verify: smoke passed",
    ]
    assert "\x1b" not in out.getvalue()  # no escape codes, no spinner frames


def test_terminal_progress_draws_a_spinner_and_bars_and_keeps_step_lines() -> None:
    out = io.StringIO()
    live = LiveProgress(Console(file=out, force_terminal=True, width=100))
    assert live.live
    live("solve: resolving torch==2.13.* numpy")
    report_count(live, "download", 1, 2, "numpy")
    report_count(live, "download", 2, 2, "torch")
    live("install: done")
    live.close()
    text = out.getvalue()
    assert "solve: resolving torch==2.13.* numpy" in text and "download: [2/2] torch" in text and "install: done" in text


def test_every_backend_line_is_in_the_vocabulary() -> None:
    assert step_of("download: [1/2] x") == "download" and step_of("warning: x") is None
    assert {"plan", "solve", "lock", "download", "install", "verify", "smoke"} <= set(STEPS)
    source = "".join(p.read_text() for p in (Path(__file__).parents[1] / "dldoctor" / "setup").glob("*.py"))
    import re

    said = re.findall(r'progress\(f?"([a-z-]+): ', source)
    assert said and set(said) <= set(STEPS) | {"warning"}, sorted(set(said) - set(STEPS))
