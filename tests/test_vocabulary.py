"""One framework vocabulary: frameworks.json names each framework once, and every command takes the same names."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from dldoctor import knowledge, variants
from dldoctor.errors import UsageError
from dldoctor.knowledge import vocabulary
from dldoctor.probes.frameworks import framework_dists
from dldoctor.setup.plan import parse_framework
from dldoctor.smoke.payload import source
from dldoctor.smoke.target import payload_framework
from tests.simulate import load_machine
from tests.torch_env import torch_python_or_skip

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {"key", "name", "import", "aliases", "distributions", "installed_as", "gpu_pip", "conda_build_package",
          "main", "gpu_capable"}


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dldoctor", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(home)}, check=False)


def test_every_row_has_every_name_field() -> None:
    for row in knowledge.table("frameworks").rows:
        assert FIELDS <= set(row), (row["key"], FIELDS - set(row))


def test_every_installed_distribution_is_a_listed_distribution() -> None:
    for row in knowledge.table("frameworks").rows:
        listed = [d["name"] for d in row["distributions"]]
        for dist in row["installed_as"]:
            assert any(fnmatchcase(dist, pattern) for pattern in listed), (row["key"], dist)
        if row["gpu_pip"]:
            assert any(fnmatchcase(row["gpu_pip"], p) or fnmatchcase(p, row["gpu_pip"] + "*") for p in listed), row


def test_no_typed_name_means_two_frameworks() -> None:
    seen: dict[str, str] = {}
    for fw in vocabulary.all_frameworks():
        for name in fw.typed_names:
            key = name.lower()
            assert seen.setdefault(key, fw.key) == fw.key, (name, seen[key], fw.key)


def test_main_frameworks_are_the_ones_with_a_chooser_and_a_payload() -> None:
    main = vocabulary.main_frameworks()
    assert main == variants.FRAMEWORKS == ("pytorch", "tensorflow", "jax")
    tree = ast.parse((source.HERE / "main.py").read_text())
    choices = next(kw.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                   for kw in node.keywords if kw.arg == "choices")
    assert ast.literal_eval(choices) == ("auto", *(vocabulary.names(k).import_name for k in main))
    for key in main:
        names = vocabulary.names(key)
        assert names.import_name and names.gpu_pip and names.conda_build_package, key


def test_the_probe_looks_for_the_tables_distributions() -> None:
    rows = {row["key"]: tuple(row["installed_as"]) for row in knowledge.table("frameworks").rows if row["installed_as"]}
    assert framework_dists() == rows
    assert framework_dists()["tensorflow"][:2] == ("tensorflow", "tensorflow-cpu")
    assert framework_dists()["jax"] == ("jaxlib",)


@pytest.mark.parametrize(("typed", "key"), [("pytorch", "pytorch"), ("torch", "pytorch"), ("PyTorch", "pytorch"),
                                            ("tf", "tensorflow"), ("TensorFlow", "tensorflow"), ("jax", "jax"),
                                            ("jaxlib", "jax")])
def test_same_names_everywhere(typed: str, key: str) -> None:
    from dldoctor.check import normalize_framework

    assert vocabulary.canonical(typed) == key
    assert normalize_framework(typed) == key
    assert parse_framework(typed + "==2.5") == (key, "2.5")
    assert payload_framework(typed) == vocabulary.names(key).import_name


@pytest.mark.parametrize("typed", ["caffe", "keras", "paddle", ""])
def test_unknown_or_not_main_names_are_usage_errors(typed: str) -> None:
    from dldoctor.check import normalize_framework

    assert vocabulary.canonical(typed) is None
    for call in (normalize_framework, parse_framework, payload_framework):
        with pytest.raises(UsageError):
            call(typed)


def test_setup_takes_torch_and_pytorch_through_the_cli(tmp_path: Path) -> None:
    from dldoctor.snapshot import take_snapshot

    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(take_snapshot(load_machine("h100-driver-580-cuda13", tmp_path / "m"))))
    plans = []
    for typed in ("torch", "pytorch", "PyTorch==2.9"):
        done = run("setup", typed, "--dry-run", "--json", "--snapshot", str(snap), "--backend", "venv",
                   "--out", str(tmp_path / typed), home=tmp_path)
        assert done.returncode == 0, done.stderr
        plans.append(json.loads(done.stdout)["plan"])
    same = ("framework", "version", "variant", "python")
    assert [plans[0][k] for k in same] == [plans[1][k] for k in same]
    assert {p["framework"] for p in plans} == {"pytorch"}
    assert plans[2]["version"] == "2.9"
    done = run("setup", "caffe", "--dry-run", "--snapshot", str(snap), home=tmp_path)
    assert done.returncode == 2 and "unknown framework" in done.stderr


def test_smoke_takes_torch_and_pytorch_through_the_cli(tmp_path: Path) -> None:
    python = str(torch_python_or_skip())
    for typed in ("pytorch", "torch"):
        done = run("smoke", "--framework", typed, "--python", python, "--quick", "--allow-cpu", "--json", home=tmp_path)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["framework"] == "torch"
    done = run("smoke", "--framework", "caffe", "--python", python, home=tmp_path)
    assert done.returncode == 2 and "--framework must be one of" in done.stderr
