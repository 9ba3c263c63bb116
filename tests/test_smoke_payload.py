"""The payload package joins into one stdlib-only source that runs as it is sent."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.smoke import payload as payload_mod
from dldoctor.smoke import run as run_mod
from dldoctor.smoke.payload import source
from dldoctor.smoke.payload.collective import COLLECTIVE_WORKER

FRAMEWORKS = {"torch", "tensorflow", "jax", "numpy"}


def imported_modules(text: str) -> set[str]:
    tree = ast.parse(text)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import left in the joined text: line {node.lineno}"
            found.add((node.module or "").split(".")[0])
    return found


@pytest.mark.parametrize("text", [payload_mod.payload_source(), COLLECTIVE_WORKER], ids=["payload", "worker"])
def test_joined_text_compiles_and_imports_only_stdlib_and_frameworks(text: str) -> None:
    compile(text, "<payload>", "exec")
    left = [n.lineno for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "embedded"]
    assert left == []  # every embedded() was replaced by its text
    imported = imported_modules(text)
    assert "dldoctor" not in imported
    assert imported - FRAMEWORKS <= set(sys.stdlib_module_names), imported - FRAMEWORKS


def test_every_module_of_the_package_is_joined() -> None:
    on_disk = {p.stem for p in source.HERE.glob("*.py")} - {"__init__", "source", "collective_worker"}
    assert on_disk == set(source.PAYLOAD_MODULES)


def test_the_worker_is_embedded_with_its_marker() -> None:
    assert "def all_reduce_rank" in COLLECTIVE_WORKER
    assert repr(payload_mod.RANK_MARKER)[1:-1] in COLLECTIVE_WORKER


def test_host_reads_the_markers_the_payload_prints() -> None:
    assert vars(run_mod)["RESULT_MARKER"] is payload_mod.RESULT_MARKER
    assert vars(run_mod)["PROGRESS_MARKER"] is payload_mod.PROGRESS_MARKER


def test_a_name_defined_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one.py").write_text("X = 1\n")
    (tmp_path / "two.py").write_text("def X() -> None: ...\n")
    monkeypatch.setattr(source, "HERE", tmp_path)
    with pytest.raises(ValueError, match="both define X"):
        source.join(["one", "two"])


def test_joined_text_runs_in_an_interpreter_without_dldoctor() -> None:
    """`python -I -S -` (no site-packages: neither dldoctor nor a framework to find) still runs
    to its one marked result line."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-", "--framework", "jax", "--quick"],
        input=payload_mod.payload_source(), capture_output=True, text=True, timeout=60,
        cwd="/", env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    marked = [ln for ln in done.stdout.splitlines() if ln.startswith(payload_mod.RESULT_MARKER)]
    assert len(marked) == 1
    result = json.loads(marked[0][len(payload_mod.RESULT_MARKER):])
    assert result["requested_framework"] == "jax"
    assert result["error"]["kind"] == "import"
    assert payload_mod.PROGRESS_MARKER + "importing jax" in done.stderr
