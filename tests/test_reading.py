"""How `check` and `knowledge` read on a terminal: words kept whole, hanging indents, each thing said once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.snapshot import take_snapshot
from tests.simulate import load_machine

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("cpu-only-laptop", "t4-driver-470-torch-cu126", "rtx5090-sm120-torch-cu124", "h100-driver-580-cuda13")


def dld(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env["NO_COLOR"] = "1"
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def snaps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("reading")
    out = {}
    for name in SCENARIOS:
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(take_snapshot(load_machine(name, tmp))))
        out[name] = str(path)
    return out


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_check_wraps_at_words_with_a_hanging_indent(snaps: dict[str, str], scenario: str, width: int) -> None:
    whole = dld("check", "--snapshot", snaps[scenario]).stdout  # a pipe: one line per fact, never wrapped
    wrapped = dld("check", "--snapshot", snaps[scenario], columns=width).stdout
    lines = wrapped.splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    assert all(line == line.rstrip() for line in lines), "trailing blanks"
    # Only whitespace changed: the same words in the same order, none broken (no word here is wider than the
    # text column of the narrowest width).
    assert max(len(w) for w in whole.split()) < width - 10
    assert wrapped.split() == whole.split()
    # Each wrapped line continues under the text, deeper than the line it continues.
    long_lines = [line for line in whole.splitlines() if len(line) > width]
    assert long_lines or width == 120
    for long_line in long_lines:
        first_words = long_line.split()[:3]
        start = next(i for i, line in enumerate(lines) if line.split()[:3] == first_words)
        indent = len(long_line) - len(long_line.lstrip())
        continuation = lines[start + 1]
        assert len(continuation) - len(continuation.lstrip()) > indent, (long_line, continuation)


def test_knowledge_keeps_table_names_whole_at_60_columns() -> None:
    names = [t["name"] for t in json.loads(dld("knowledge", "--json").stdout)["tables"]]
    for width in (60, 80, 120):
        text = dld("knowledge", columns=width).stdout
        assert all(len(line) <= width for line in text.splitlines()), width
        first_cells = [line.split()[0] for line in text.splitlines()[2:] if line.strip()]
        assert first_cells == names, (width, text)
        assert re.search(r"^\S+\s+\d+\s+\d{4}-\d\d-\d\d\s+\d+\s+(built-in|override)", text.splitlines()[2]), text


def test_cpu_only_machine_says_no_gpu_once(snaps: dict[str, str]) -> None:
    text = dld("check", "--snapshot", snaps["cpu-only-laptop"]).stdout
    assert text.count("no usable GPU") + text.count("the CPU build is fine for serving") == 1, text
    gpu_lines = [line for line in text.splitlines() if line.startswith("[!] GPU: ")]
    assert gpu_lines == [gpu_lines[0]] and gpu_lines[0].startswith(
        "[!] GPU: none found for these builds (the Intel GPU 0000:00:02.0 (i915) is not used); PyTorch, TensorFlow "
        "and JAX run on the CPU here: the CPU build is fine for serving"), text
    assert "frameworks.no-gpu" not in text  # the GPU line says it, once
    assert "frameworks.no-gpu" in dld("-v", "check", "--snapshot", snaps["cpu-only-laptop"]).stdout
    # Without the Intel GPU too: plainly none.
    doc = json.loads(Path(snaps["cpu-only-laptop"]).read_text())
    doc["other_accelerators"]["intel_xpu"]["gpus"] = []
    bare = Path(snaps["cpu-only-laptop"]).with_name("no-gpu-at-all.json")
    bare.write_text(json.dumps(doc))
    text = dld("check", "--snapshot", str(bare)).stdout
    assert "[!] GPU: none found; PyTorch, TensorFlow and JAX run on the CPU here: the CPU build" in text, text
    assert text.count("the CPU build is fine for serving") == 1
    # A GPU machine gets no such line.
    assert "GPU: none found" not in dld("check", "--snapshot", snaps["h100-driver-580-cuda13"]).stdout


def test_only_the_frameworks_the_user_has_plus_one_line(snaps: dict[str, str]) -> None:
    text = dld("check", "--snapshot", snaps["t4-driver-470-torch-cu126"]).stdout
    recs = text.split("Recommended builds for this machine\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert recs[0].startswith("  pytorch cu118: PyTorch 2.7 cu118")
    assert not any(line.startswith(("  tensorflow ", "  jax ")) for line in recs)
    others = [line for line in recs if line.startswith("  not installed here:")]
    # the backend flag is this machine's (usable_backend: venv where no conda channel answers)
    assert len(others) == 1
    assert re.fullmatch(r'  not installed here: tensorflow cuda \(dldoctor setup "tensorflow==2\.14"( --backend \w+)? '
                        r"--variant cuda11\.8\); jax cpu \(dldoctor setup jax( --backend \w+)? --variant cpu\); "
                        r"-v says why", others[0]), others
    verbose = dld("-v", "check", "--snapshot", snaps["t4-driver-470-torch-cu126"]).stdout
    assert "  tensorflow cuda: TensorFlow 2.14" in verbose and "not installed here" not in verbose
    doc = json.loads(dld("check", "--json", "--snapshot", snaps["t4-driver-470-torch-cu126"]).stdout)
    assert [r["framework"] for r in doc["recommendations"]] == ["pytorch", "tensorflow", "jax"]  # JSON has all
