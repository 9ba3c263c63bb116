"""The venv backend: variant selection on simulated machines, locking and installing from a fake wheel index.

The fake index (tests/fixtures/venv/fake_index.json) holds tiny valid wheels
named like the real ones (torch-2.7.1+cu126-cp311-...), laid out like
download.pytorch.org/whl/<variant>/, beside a PyPI-like index whose torch is
the unlabelled build and a find-links folder. No test here needs the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dldoctor import variants
from dldoctor.errors import TargetError, UnavailableError, UsageError
from dldoctor.runner import Runner
from dldoctor.setup.pipeline import run_setup
from dldoctor.setup.plan import Plan, SetupRequest, make_plan
from dldoctor.setup.platforms import target_platform
from dldoctor.setup.venv.backend import MARKER, VenvBackend
from dldoctor.setup.venv.wheels import (
    TORCH_INDEX,
    LockedPackage,
    Sources,
    parse_requirements_lock,
    pin,
    plan_sources,
    read_lock_header,
    render_lock,
    requirement_lines,
)
from dldoctor.snapshot import take_snapshot
from dldoctor.snapshot.facts import Facts
from tests.simulate import SCENARIOS, load_machine

FIXTURE = Path(__file__).parent / "fixtures" / "venv" / "fake_index.json"
HERE_PY = f"{sys.version_info.major}.{sys.version_info.minor}"
_SNAPSHOTS: dict[str, dict[str, Any]] = {}


def facts_of(name: str, tmp_path: Path) -> Facts:
    if not (SCENARIOS / name / "machine.json").is_file():
        pytest.fail(f"scenario {name} is missing from tests/scenarios")
    if name not in _SNAPSHOTS:
        _SNAPSHOTS[name] = take_snapshot(load_machine(name, tmp_path))
    return Facts(_SNAPSHOTS[name])


def plan_for(name: str, tmp_path: Path, framework: str, variant: str = "auto", **kw: Any) -> Plan:
    request = SetupRequest(framework=framework, backend="venv", variant=variant, prefix=tmp_path / "env",
                           out_dir=tmp_path / "out", **kw)
    return make_plan(facts_of(name, tmp_path), request)


# ---- selection on simulated machines ---------------------------------------------------------------------

SELECTION = [
    # (scenario, framework, variant, requirement, index tail or None for PyPI)
    ("gtx1080ti-sm61-torch-cu130", "pytorch==2.7.1", "cuda12.6", "torch==2.7.1", "/cu126"),
    ("gtx1080ti-sm61-torch-cu130", "pytorch", "cuda12.6", None, "/cu126"),
    ("rtx5090-sm120-torch-cu124", "pytorch==2.7.1", "cuda12.8", "torch==2.7.1", "/cu128"),
    ("t4-driver-470-torch-cu126", "pytorch==2.7.1", "cuda11.8", "torch==2.7.1", "/cu118"),
    ("amd-mi300x-rocm", "pytorch==2.7.1", "rocm6.3", "torch==2.7.1", "/rocm6.3"),
    ("cpu-only-laptop", "pytorch==2.13", "cpu", "torch==2.13.*", "/cpu"),
    ("h100-driver-580-cuda13", "jax", "cuda13.0", "jax[cuda13]", None),
    ("gtx1080ti-sm61-torch-cu130", "jax", "cuda12.0", "jax[cuda12]", None),
    ("h100-driver-580-cuda13", "tensorflow==2.21", "cuda12.5", "tensorflow[and-cuda]==2.21.*", None),
    # before 2.14 TensorFlow has no [and-cuda] extra (tensorflow/tensorflow#61993): plain tensorflow, system CUDA
    ("t4-driver-470-torch-cu126", "tensorflow==2.11", "cuda11.2", "tensorflow==2.11.*", None),
    # no version asked: the newest release dldoctor knows is pinned, as the conda backend pins it
    ("cpu-only-laptop", "tensorflow", "cpu", f"tensorflow=={variants.newest('tensorflow')}.*", None),
]


@pytest.mark.parametrize(("scenario", "framework", "variant", "requirement", "index_tail"), SELECTION)
def test_selection_picks_variant_and_index(tmp_path: Path, scenario: str, framework: str, variant: str,
                                           requirement: str | None, index_tail: str | None) -> None:
    plan = plan_for(scenario, tmp_path, framework)
    assert plan.variant == variant, plan.reasons
    lines = requirement_lines(plan)
    assert lines[1:] == ["numpy"]  # what the framework expects beside it, in every environment
    if requirement is not None:
        assert lines[0] == requirement
    else:
        assert re.fullmatch(r"torch==\d+\.\d+\.\*", lines[0]), lines  # newest known release, never unpinned
        assert lines[0] == f"torch=={plan.release}.*"
    sources = plan_sources(plan)
    if index_tail is None:
        assert sources.index_url == "https://pypi.org/simple"
    else:
        assert sources.index_url == TORCH_INDEX + index_tail


def test_gtx1080ti_on_new_driver_never_gets_a_build_without_sm61(tmp_path: Path) -> None:
    from dldoctor.knowledge.pytorch import capability_runs, torch_wheel_archs

    plan = plan_for("gtx1080ti-sm61-torch-cu130", tmp_path, "pytorch==2.7.1")
    archs = torch_wheel_archs(plan.torch_index_variant, "2.7.1", "x86_64")
    assert archs is not None and capability_runs("6.1", archs)
    # cu128 is newer and the driver runs it, but it has no sm_61 kernels: asking for it is refused.
    with pytest.raises(UsageError, match="sm_61"):
        plan_for("gtx1080ti-sm61-torch-cu130", tmp_path, "pytorch==2.7.1", variant="cuda12.8")


def test_rtx50_on_old_torch_moves_to_sm120_build_or_says_none_exists(tmp_path: Path) -> None:
    assert plan_for("rtx5090-sm120-torch-cu124", tmp_path, "pytorch==2.7.1").variant == "cuda12.8"
    with pytest.raises(UsageError, match="sm_120"):
        plan_for("rtx5090-sm120-torch-cu124", tmp_path, "pytorch==2.7.1", variant="cuda12.6")
    # a pinned release without a build for this GPU is refused, naming the releases that would work
    with pytest.raises(UsageError, match=r"sm_120.*releases that would run here: 2\.11 \(cu128\)"):
        plan_for("rtx5090-sm120-torch-cu124", tmp_path, "pytorch==2.5")
    old = plan_for("rtx5090-sm120-torch-cu124", tmp_path, "pytorch==2.5", force=True)
    assert old.variant == "cpu"
    assert any("sm_120" in why for _c, why in old.reasons), old.reasons
    said: list[str] = []
    VenvBackend().write_spec(old, said.append)
    assert any(line.startswith("warning:") and "sm_120" in line for line in said), said


def test_amd_gfx_no_build_covers_is_said_not_silent(tmp_path: Path) -> None:
    plan = plan_for("amd-gfx-not-covered-not-in-render-group", tmp_path, "pytorch==2.7.1")
    assert plan.variant == "cpu"
    said: list[str] = []
    VenvBackend().write_spec(plan, said.append)
    warning = [line for line in said if line.startswith("warning:")]
    assert warning and "gfx1032" in warning[0] and "CPU build" in warning[0], said


def test_tensorflow_and_jax_from_a_small_facts_dict(tmp_path: Path) -> None:
    facts = Facts({"host": {"os": "Linux", "arch": "x86_64", "glibc": "2.31"},
                   "nvidia": {"present": True, "driver_version": "550.54.14", "cuda_driver_version": "12.4",
                              "gpus": [{"index": 0, "compute_capability": "8.6"}]}})
    plan = make_plan(facts, SetupRequest(framework="jax", backend="venv", out_dir=tmp_path))
    assert requirement_lines(plan) == ["jax[cuda12]", "numpy"]
    assert target_platform(plan).uv == "x86_64-manylinux_2_31"
    rocm = replace(plan, framework="jax", variant="rocm7.2")
    with pytest.raises(UsageError, match="ROCm"):
        requirement_lines(rocm)


# ---- pure helpers ------------------------------------------------------------------------------------------

def test_pin_and_platform_tags(tmp_path: Path) -> None:
    assert pin("2.13") == "==2.13.*" and pin("2.13.0") == "==2.13.0"
    plan = _plan(tmp_path, "cpu", glibc="2.30")
    tp = target_platform(plan)
    assert tp.uv == "x86_64-manylinux_2_28" and tp.pip[0] == "manylinux_2_28_x86_64" and "manylinux2014_x86_64" in tp.pip
    assert target_platform(replace(plan, glibc=None)).uv == "x86_64-manylinux_2_28"
    assert target_platform(replace(plan, glibc="2.41")).uv == "x86_64-manylinux_2_40"
    with pytest.raises(TargetError):
        target_platform(replace(plan, glibc="2.12"))


def test_lock_render_parse_round_trip() -> None:
    pkgs = [LockedPackage("Jinja2", "3.1.6", ("sha256:" + "a" * 64, "sha256:" + "b" * 64)),
            LockedPackage("torch", "2.7.1+cu126", ("sha256:" + "c" * 64,))]
    text = render_lock({"input-hash": "sha256:x", "python": "3.11"}, Sources("https://i/simple", (), ("/w",)), pkgs)
    assert read_lock_header(text)["input-hash"] == "sha256:x"
    assert "--index-url https://i/simple\n--find-links /w\n" in text
    back = parse_requirements_lock(text)
    assert [(p.name, p.version, p.hashes) for p in back] == [
        ("jinja2", "3.1.6", pkgs[0].hashes), ("torch", "2.7.1+cu126", pkgs[1].hashes)]
    uv_style = ("filelock==4.2.12 \\\n    --hash=sha256:" + "d" * 64 + "\n    # via torch\n"
                "torch==2.13.0+cpu \\\n    --hash=sha256:" + "e" * 64 + "\n    # via -r req.in\n")
    assert [p.name for p in parse_requirements_lock(uv_style)] == ["filelock", "torch"]


# ---- the fake wheel index ----------------------------------------------------------------------------------

def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _fake_wheel(folder: Path, spec: dict[str, Any]) -> Path:
    name, version, tag = spec["name"], spec["version"], spec["tag"]
    path = folder / f"{name}-{version}-{tag}.whl"
    info = f"{name}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
            f"Requires-Python: {spec['requires_python']}", *[f"Requires-Dist: {r}" for r in spec["requires"]]]
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": "\n".join(meta) + "\n",
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: dldoctor-tests\nRoot-Is-Purelib: false\nTag: {tag}\n",
    }
    record = [f"{p},{_record_hash(t.encode())},{len(t.encode())}" for p, t in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(path, "w") as zf:
        for p, t in files.items():
            zf.writestr(p, t)
    return path


class FakeIndex:
    def __init__(self, root: Path) -> None:
        self.root = root
        files = root / "whl" / "files"
        files.mkdir(parents=True)
        self.flat = root / "flat"
        self.flat.mkdir()
        self.sha: dict[str, str] = {}
        pages: dict[str, dict[str, list[str]]] = {}
        for spec in json.loads(FIXTURE.read_text())["wheels"]:
            wheel = _fake_wheel(files, spec)
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            self.sha[f"{spec['name']}=={spec['version']}"] = digest
            for where in spec["in"]:
                if where == "flat":
                    (self.flat / wheel.name).write_bytes(wheel.read_bytes())
                    continue
                link = (f'<a href="../../{"whl/" if where == "pypi" else ""}files/{wheel.name}#sha256={digest}" '
                        f'data-requires-python="{spec["requires_python"].replace(">", "&gt;")}">{wheel.name}</a>')
                pages.setdefault(where, {}).setdefault(spec["name"], []).append(link)
        for where, projects in pages.items():
            base = root / "pypi" if where == "pypi" else root / "whl" / where
            for project, links in projects.items():
                (base / project).mkdir(parents=True)
                (base / project / "index.html").write_text("<html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n")
            (base / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))

    @property
    def torch_index(self) -> str:
        return (self.root / "whl").as_uri()

    @property
    def pypi(self) -> str:
        return (self.root / "pypi").as_uri()


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> FakeIndex:
    return FakeIndex(tmp_path_factory.mktemp("fake-index"))


def _has_uv() -> bool:
    return VenvBackend(installer="auto")._uv() is not None


INSTALLERS = [pytest.param("uv", marks=pytest.mark.skipif(not _has_uv(), reason="uv is not installed here")), "pip"]


def _backend(tmp_path: Path, fake: FakeIndex, installer: str) -> VenvBackend:
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "PIP_NO_CACHE_DIR": "1",
           "UV_HTTP_RETRIES": "0"}
    return VenvBackend(runner=Runner(env=env), installer=installer, torch_index=fake.torch_index)


def _plan(tmp_path: Path, variant: str, **kw: Any) -> Plan:
    fields: dict[str, Any] = {
        "framework": "pytorch", "version": "2.7.1", "python": HERE_PY, "variant": variant, "backend": "venv",
        "platforms": ("linux-64",), "channel": None, "index_url": None, "extra_index_urls": (), "find_links": (),
        "prefix": tmp_path / "env", "out_dir": tmp_path / "out", "cuda_driver_version": None, "capabilities": (),
        "gfx_targets": (), "glibc": "2.35",
    }
    fields.update(kw)
    return Plan(**fields)


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.rglob("*") if ".new-" in p.name or ".old-" in p.name or p.name.endswith(".tmp"))


def _venv_torch(prefix: Path) -> str:
    out = subprocess.run([str(prefix / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


needs_cp311 = pytest.mark.skipif(HERE_PY != "3.11", reason="the fake wheels are cp311 (this Python is " + HERE_PY + ")")


@needs_cp311
@pytest.mark.parametrize("installer", INSTALLERS)
def test_gtx1080ti_plan_locks_and_installs_the_cu126_wheel(tmp_path: Path, fake_index: FakeIndex, installer: str) -> None:
    """The whole path on the fake index: the plan's variant picks the index, the lock pins its torch by hash."""
    plan = replace(plan_for("gtx1080ti-sm61-torch-cu130", tmp_path, "pytorch==2.7.1", python=HERE_PY), glibc="2.35")
    backend = _backend(tmp_path, fake_index, installer)
    said: list[str] = []
    result = run_setup(plan, backend, said.append, verify=False)
    assert result.lock is not None and result.install is not None
    text = result.lock.path.read_text()
    assert "torch==2.7.1+cu126 \\\n" in text and "+cu128" not in text
    assert f"--hash=sha256:{fake_index.sha['torch==2.7.1+cu126']}" in text
    assert f"--hash=sha256:{fake_index.sha['filelock==3.18.0']}" in text
    assert f"--index-url {fake_index.torch_index}/cu126" in text
    assert read_lock_header(text)["resolved-by"].startswith(installer)
    assert f"--hash=sha256:{fake_index.sha['numpy==2.2.6']}" in text  # what torch expects beside it
    assert result.lock.packages == 3 and not result.lock.reused
    # what the environment holds, read from it (its dist-info), not from the plan
    assert result.install.details["framework"] == {"name": "torch", "version": "2.7.1+cu126", "build": "cu126"}
    assert result.ready_line().startswith(f"Ready: torch 2.7.1+cu126 (cu126) in {plan.prefix} — ")
    assert _venv_torch(plan.prefix) == "2.7.1+cu126"
    assert result.install.activate == f"source {plan.prefix.absolute()}/bin/activate"
    assert (plan.prefix / MARKER).is_file()
    assert str(plan.prefix) in (plan.prefix / "bin" / "activate").read_text()
    assert ".new-" not in (plan.prefix / "bin" / "activate").read_text()
    assert _leftovers(tmp_path) == []

    again = run_setup(plan, backend, said.append, verify=False)
    assert again.lock is not None and again.lock.reused
    assert again.install is not None and not again.install.changed


@needs_cp311
@pytest.mark.parametrize("installer", INSTALLERS)
def test_hash_mismatch_is_refused_and_the_old_env_stays(tmp_path: Path, fake_index: FakeIndex, installer: str) -> None:
    plan = _plan(tmp_path, "cpu")
    backend = _backend(tmp_path, fake_index, installer)
    first = run_setup(plan, backend, lambda _l: None, verify=False)
    assert first.lock is not None and _venv_torch(plan.prefix) == "2.7.1+cpu"
    marker = (plan.prefix / MARKER).read_text()
    good = fake_index.sha["torch==2.7.1+cpu"]
    text = first.lock.path.read_text()
    assert good in text
    first.lock.path.write_text(text.replace(good, "0" * 64))
    with pytest.raises(TargetError, match="hash mismatch"):
        backend.install(plan, first.lock, lambda _l: None)
    assert (plan.prefix / MARKER).read_text() == marker and _venv_torch(plan.prefix) == "2.7.1+cpu"
    assert _leftovers(tmp_path) == []


@needs_cp311
def test_interrupt_during_install_leaves_nothing_half_made(tmp_path: Path, fake_index: FakeIndex,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(tmp_path, "cpu")
    backend = _backend(tmp_path, fake_index, "pip")
    spec = backend.write_spec(plan, lambda _l: None)
    lock = backend.lock(plan, spec, lambda _l: None)

    def interrupted(*_a: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(backend, "_install_lock", interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.install(plan, lock, lambda _l: None)
    assert not plan.prefix.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("installer", INSTALLERS)
def test_unreachable_index_is_a_clear_error_with_nothing_made(tmp_path: Path, fake_index: FakeIndex, installer: str) -> None:
    plan = _plan(tmp_path, "cpu", index_url="http://127.0.0.1:9/simple")
    with pytest.raises(UnavailableError, match="cannot reach the package sources"):
        run_setup(plan, _backend(tmp_path, fake_index, installer), lambda _l: None, verify=False)
    assert not (plan.out_dir / "requirements.lock").exists()
    assert sorted(p.name for p in plan.out_dir.iterdir()) == ["requirements.in"]
    assert not plan.prefix.exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("installer", INSTALLERS)
def test_unsupported_python_is_refused_at_lock(tmp_path: Path, fake_index: FakeIndex, installer: str) -> None:
    plan = _plan(tmp_path, "cpu", python="3.8")
    with pytest.raises(TargetError, match=r"Python 3\.8.*--python or --variant, or give --index-url/--find-links"):
        run_setup(plan, _backend(tmp_path, fake_index, installer), lambda _l: None, verify=False)  # the next step
    assert not (plan.out_dir / "requirements.lock").exists() and not plan.prefix.exists()


@pytest.mark.parametrize("installer", INSTALLERS)
def test_override_that_yields_the_wrong_torch_build_is_refused(tmp_path: Path, fake_index: FakeIndex,
                                                              installer: str) -> None:
    """A mirror override (PyPI-like, unlabelled torch) must not pass for the planned cu126 build."""
    plan = _plan(tmp_path, "cuda12.6", index_url=fake_index.pypi)
    backend = _backend(tmp_path, fake_index, installer)
    with pytest.raises(TargetError, match="not the planned cu126 build"):
        run_setup(plan, backend, lambda _l: None, lock_only=True)
    assert not (plan.out_dir / "requirements.lock").exists()
    said: list[str] = []
    forced = run_setup(replace(plan, forced=True), backend, said.append, lock_only=True)
    assert forced.lock is not None and any(line.startswith("warning:") for line in said)


@pytest.mark.parametrize("installer", INSTALLERS)
def test_find_links_supplies_the_variant_and_index_supplies_the_rest(tmp_path: Path, fake_index: FakeIndex,
                                                                    installer: str) -> None:
    """Offline use: a local wheel folder for torch, a mirror for its dependencies."""
    plan = _plan(tmp_path, "cpu", index_url=fake_index.pypi, find_links=(str(fake_index.flat),))
    result = run_setup(plan, _backend(tmp_path, fake_index, installer), lambda _l: None, lock_only=True)
    assert result.lock is not None
    text = result.lock.path.read_text()
    assert "torch==2.7.1+cpu \\\n" in text and f"--find-links {fake_index.flat}" in text


def test_update_re_solves_an_unchanged_spec(tmp_path: Path, fake_index: FakeIndex) -> None:
    plan = _plan(tmp_path, "cpu")
    backend = _backend(tmp_path, fake_index, "pip")
    spec = backend.write_spec(plan, lambda _l: None)
    assert not backend.lock(plan, spec, lambda _l: None).reused
    assert backend.lock(plan, spec, lambda _l: None).reused
    assert not backend.lock(replace(plan, update=True), spec, lambda _l: None).reused
    # A different question (another variant) is not answered by the old lock.
    other = replace(plan, variant="cuda12.6")
    assert not backend.lock(other, backend.write_spec(other, lambda _l: None), lambda _l: None).reused


def test_prefix_that_is_not_a_venv_is_not_replaced(tmp_path: Path, fake_index: FakeIndex) -> None:
    from dldoctor.errors import OutputError

    plan = _plan(tmp_path, "cpu")
    plan.prefix.mkdir()
    (plan.prefix / "thesis.tex").write_text("precious")
    backend = _backend(tmp_path, fake_index, "pip")
    lock = backend.lock(plan, backend.write_spec(plan, lambda _l: None), lambda _l: None)
    with pytest.raises(OutputError, match="not a virtual environment"):
        backend.install(plan, lock, lambda _l: None)
    assert (plan.prefix / "thesis.tex").read_text() == "precious"


def test_uv_is_a_regular_dependency_and_pip_the_fallback(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

    deps = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.match(r"uv\b", d) for d in deps), deps
    assert VenvBackend(installer="auto")._tool()[0] == "uv"  # installed with dldoctor, so found
    # a uv that does not start (a broken install on PATH): pip takes over
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text("#!/bin/sh\necho 'uv: cannot execute' >&2\nexit 126\n")
    (bin_dir / "uv").chmod(0o755)
    runner = Runner(env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"})
    assert VenvBackend(runner=runner, installer="auto")._tool()[0] == "pip"


@needs_cp311
def test_locked_and_frozen(tmp_path: Path, fake_index: FakeIndex) -> None:
    from dldoctor.setup.pipeline import run_setup as run

    backend = _backend(tmp_path, fake_index, "uv" if _has_uv() else "pip")
    plan = _plan(tmp_path, "cpu")
    with pytest.raises(UsageError, match="stale .*there is no lock yet"):
        run(replace(plan, lock_mode="locked"), backend, lambda _l: None, lock_only=True)
    with pytest.raises(UsageError, match="--frozen installs an existing lock"):
        run(replace(plan, lock_mode="frozen"), backend, lambda _l: None, lock_only=True)
    assert not (tmp_path / "out").exists()  # neither writes anything
    run(plan, backend, lambda _l: None, lock_only=True)
    lock = tmp_path / "out" / "requirements.lock"
    before = lock.read_bytes()
    current = run(replace(plan, lock_mode="locked"), backend, lambda _l: None, lock_only=True).lock
    assert current is not None and current.reused
    stale = replace(plan, variant="cuda12.6", cuda_driver_version="12.8", lock_mode="locked")
    with pytest.raises(UsageError, match="stale"):
        run(stale, backend, lambda _l: None, lock_only=True)
    # --frozen installs the lock as it is, whatever the plan now says; no resolver runs (no index reachable)
    frozen = replace(stale, lock_mode="frozen", index_url="http://127.0.0.1:9/simple")
    result = run(frozen, backend, lambda _l: None, verify=False)
    assert lock.read_bytes() == before
    assert result.install is not None and result.install.details["framework"]["version"] == "2.7.1+cpu"
