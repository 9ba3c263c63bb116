"""The conda backend against tiny local channels (tests/channels.py): plan, spec, lock, install, verify."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dldoctor.errors import InputError, OutputError, TargetError, UnavailableError, UsageError
from dldoctor.runner import Runner
from dldoctor.setup import staging
from dldoctor.setup.conda.backend import CondaBackend, host_platform
from dldoctor.setup.conda.solve import read_lock
from dldoctor.setup.conda.spec import read_spec, render_spec
from dldoctor.setup.pipeline import run_setup
from dldoctor.setup.plan import Plan, SetupRequest, make_plan
from dldoctor.snapshot import take_snapshot
from dldoctor.snapshot.facts import Facts
from tests.channels import Pkg, build_package, index_channel, pytorch_channel
from tests.simulate import load_machine
from tests.torch_env import torch_python_or_skip

ROOT = Path(__file__).resolve().parents[1]
HOST = "linux-64"
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the local test channels are built for Linux")


@pytest.fixture(scope="session")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The conda-forge-like PyTorch channel, built once per session."""
    return pytorch_channel(tmp_path_factory.mktemp("channel") / "forge")


def make(tmp_path: Path, forge: Path, **changes: Any) -> Plan:
    """A plan for the host platform against the local channel, into tmp_path."""
    plan = Plan(
        framework="pytorch", version="2.5", python="3.11", variant="cuda12.6", backend="conda",
        platforms=(HOST,), channel=str(forge), index_url=None, extra_index_urls=(), find_links=(),
        prefix=tmp_path / "envs" / "torch", out_dir=tmp_path / "out", cuda_driver_version="12.8",
        capabilities=("9.0",), gfx_targets=(), glibc="2.35",
    )
    return replace(plan, **changes)


def backend(tmp_path: Path) -> CondaBackend:
    return CondaBackend(cache_dir=tmp_path / "cache", runner=Runner(env={"PATH": ""}))


def lines() -> tuple[list[str], Any]:
    seen: list[str] = []
    return seen, seen.append


def locked(plan: Plan, platform: str = HOST) -> dict[str, str]:
    """name -> build of the lock's packages for `platform`."""
    lock = read_lock(plan.out_dir / "conda-lock.yml")
    return {p.name: str(p.build) for p in lock.package if p.platform == platform}


# -- the plan on simulated machines -> the spec --------------------------------------------------


@pytest.mark.parametrize(("scenario", "want"), [("h100-driver-580-cuda13", "cuda"), ("cpu-only-laptop", "cpu")])
def test_plan_on_simulated_machines_pins_the_build(tmp_path: Path, scenario: str, want: str) -> None:
    facts = Facts(take_snapshot(load_machine(scenario, tmp_path)))
    plan = make_plan(facts, SetupRequest("pytorch==2.5", out_dir=tmp_path))
    text = render_spec(plan)
    assert plan.kind == want
    if want == "cuda":
        assert "pytorch=2.5.*=cuda*" in text and f"cuda-version={plan.cuda_version}" in text
        assert "=cpu*" not in text
        (spec,) = read_spec(_write(tmp_path / "environment.yml", text), plan)
        assert ("__cuda", "13.0", "0") in spec.virtual_packages  # the snapshot's driver, not conda-lock's 11.4
        assert ("__glibc", "2.35", "0") in spec.virtual_packages
    else:
        assert "pytorch=2.5.*=cpu*" in text and "cuda" not in text.split("dependencies:")[1]


def test_unpinned_request_pins_the_planned_release_in_both_backends(tmp_path: Path, channel: Path) -> None:
    from dldoctor import variants
    from dldoctor.setup.venv.wheels import requirement_lines

    plan = make(tmp_path, channel, version=None, variant="cpu")
    newest = variants.newest("pytorch")
    assert newest and plan.release == newest
    text = render_spec(plan)
    assert f"  - pytorch={newest}.*=cpu*\n" in text and f"PyTorch {newest} for Python" in text
    assert requirement_lines(replace(plan, backend="venv"))[0] == f"torch=={newest}.*"  # the same release


@pytest.mark.parametrize(("scenario", "kernel"), [("cpu-only-laptop", "6.8.0"), ("h100-driver-580-cuda13", "5.15.0")])
def test_linux_virtual_package_is_the_target_machines_kernel(tmp_path: Path, scenario: str, kernel: str) -> None:
    facts = Facts(take_snapshot(load_machine(scenario, tmp_path)))
    plan = make_plan(facts, SetupRequest("pytorch==2.5", out_dir=tmp_path))
    assert plan.kernel == kernel
    (spec,) = read_spec(_write(tmp_path / "environment.yml", render_spec(plan)), plan)
    assert ("__linux", kernel, "0") in spec.virtual_packages  # not a fixed 5.10


def test_this_machines_plan_carries_its_real_kernel(tmp_path: Path) -> None:
    import platform

    from dldoctor.machine import Machine
    from dldoctor.setup.plan import kernel_version

    plan = make_plan(Facts(take_snapshot(Machine.this_one())), SetupRequest("pytorch==2.5", variant="cpu", out_dir=tmp_path))
    assert plan.kernel == kernel_version(platform.release()) and plan.kernel
    assert kernel_version("5.15.167.4-microsoft-standard-WSL2") == "5.15.167"
    assert kernel_version("6.1") == "6.1" and kernel_version("garbage") is None


def test_cuda_option_locks_for_another_machine(tmp_path: Path) -> None:
    facts = Facts(take_snapshot(load_machine("cpu-only-laptop", tmp_path)))
    plan = make_plan(facts, SetupRequest("pytorch==2.5", variant="cuda12.4", cuda="12.6", out_dir=tmp_path))
    (spec,) = read_spec(_write(tmp_path / "environment.yml", render_spec(plan)), plan)
    assert ("__cuda", "12.6", "0") in spec.virtual_packages


def test_spec_templates_are_readable_and_cover_every_framework() -> None:
    for framework in ("pytorch", "tensorflow", "jax"):
        text = (ROOT / "envs" / f"{framework}.yml").read_text()
        assert "${pins}" in text and "${channels}" in text and "${platforms}" in text


def test_jax_pins_jaxlib_build_and_cuda_major(tmp_path: Path, channel: Path) -> None:
    text = render_spec(make(tmp_path, channel, framework="jax", version=None, variant="cuda12.0"))
    assert "  - jax=*\n  - jaxlib=*=cuda*\n  - cuda-version=12\n  - numpy\n" in text


def test_rocm_is_refused_with_a_pointer_to_venv(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, variant="rocm7.2", cuda_driver_version=None, gfx_targets=("gfx942",))
    with pytest.raises(UsageError, match="--backend venv"):
        backend(tmp_path).write_spec(plan, print)
    assert not plan.out_dir.exists()


def test_unknown_framework_is_refused(tmp_path: Path) -> None:
    facts = Facts(take_snapshot(load_machine("cpu-only-laptop", tmp_path)))
    with pytest.raises(UsageError, match="unknown framework"):
        make_plan(facts, SetupRequest("pytorch-nightly"))


# -- the solve: GPU vs CPU under virtual packages -------------------------------------------------


def test_gpu_plan_locks_the_cuda_build(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel)
    run_setup(plan, backend(tmp_path), print, lock_only=True)
    builds = locked(plan)
    assert builds["pytorch"].startswith("cuda126_py311")
    assert builds["cuda-version"] == "h0"
    assert "__cuda" not in builds  # virtual packages are not locked


def test_cpu_plan_on_a_gpu_machine_locks_the_cpu_build(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, variant="cpu")
    run_setup(plan, backend(tmp_path), print, lock_only=True)
    assert locked(plan)["pytorch"].startswith("cpu_generic_py311")
    assert "cuda-version" not in locked(plan)


def test_gpu_spec_without_cuda_driver_fails_instead_of_falling_back(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, cuda_driver_version=None, forced=True)
    with pytest.raises(TargetError, match=r"no NVIDIA driver \(__cuda\).*will not fall back to the CPU build"):
        run_setup(plan, backend(tmp_path), print, lock_only=True)
    assert not (plan.out_dir / "conda-lock.yml").exists()
    assert not (plan.out_dir / "environment.yml").exists()  # a failed run leaves nothing behind


def test_impossible_version_fails_clearly(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, version="9.9", variant="cpu")
    with pytest.raises(TargetError, match=r"no linux-64 environment satisfies.*pytorch 9\.9\.\* cpu\*"):
        run_setup(plan, backend(tmp_path), print, lock_only=True)
    assert not plan.out_dir.joinpath("conda-lock.yml").exists()


def test_unreachable_channel_is_a_clear_error_and_writes_nothing(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, channel="http://127.0.0.1:9/forge")
    with pytest.raises(UnavailableError, match="cannot read the conda channel http://127.0.0.1:9/forge"):
        run_setup(plan, backend(tmp_path), print, lock_only=True)
    assert not plan.out_dir.exists() or not any(plan.out_dir.iterdir())


# -- the lock ------------------------------------------------------------------------------------


def test_multi_platform_lock_read_back_and_rendered_by_conda_lock(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, platforms=("linux-64", "linux-aarch64", "osx-arm64"))
    result = run_setup(plan, backend(tmp_path), print, lock_only=True)
    assert result.lock is not None and not result.lock.reused
    lock = read_lock(result.lock.path)  # conda-lock's own parser
    assert sorted(lock.metadata.platforms) == ["linux-64", "linux-aarch64", "osx-arm64"]
    assert set(lock.metadata.content_hash) == set(lock.metadata.platforms)
    assert locked(plan, "linux-aarch64")["pytorch"].startswith("cuda126")
    assert locked(plan, "osx-arm64")["pytorch"].startswith("cpu_generic")  # no CUDA builds on macOS
    assert all(p.hash.sha256 and p.hash.md5 for p in lock.package)
    conda_lock = shutil.which("conda-lock") or str(Path(sys.executable).with_name("conda-lock"))
    for platform in lock.metadata.platforms:
        done = Runner().run([conda_lock, "render", "--kind", "explicit", "-p", platform, "conda-lock.yml"],
                            cwd=str(plan.out_dir), timeout_s=120)
        assert done.ok, done.describe_failure()
        explicit = (plan.out_dir / f"conda-{platform}.lock").read_text()
        assert "@EXPLICIT" in explicit and f"input_hash: {lock.metadata.content_hash[platform]}" in explicit


def test_unchanged_spec_is_not_resolved_and_update_resolves(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, platforms=("linux-64", "osx-arm64"))
    b = backend(tmp_path)
    first = run_setup(plan, b, print, lock_only=True).lock
    mtime = (plan.out_dir / "conda-lock.yml").stat().st_mtime_ns
    again = run_setup(plan, b, print, lock_only=True).lock
    assert first is not None and again is not None
    assert again.reused and again.input_hash == first.input_hash
    assert (plan.out_dir / "conda-lock.yml").stat().st_mtime_ns == mtime
    updated = run_setup(replace(plan, update=True), b, print, lock_only=True).lock
    assert updated is not None and not updated.reused
    # another machine (the driver's CUDA) is another input: re-solved
    other = run_setup(replace(plan, cuda_driver_version="13.0"), b, print, lock_only=True).lock
    assert other is not None and other.input_hash != first.input_hash and not other.reused


def test_hand_edited_lock_is_refused(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel)
    b = backend(tmp_path)
    run_setup(plan, b, print, lock_only=True)
    path = plan.out_dir / "conda-lock.yml"
    text = path.read_text()
    sha = read_lock(path).package[0].hash.sha256
    assert sha
    path.write_text(text.replace(sha, "f" * 64))
    with pytest.raises(InputError, match="edited after it was solved"):
        run_setup(plan, b, print, lock_only=True)
    run_setup(replace(plan, update=True), b, print, lock_only=True)  # --update re-solves over it
    assert read_lock(path).package[0].hash.sha256 != "f" * 64


@pytest.mark.parametrize("damage", ["garbage", "missing-field", "no-version"])
def test_corrupt_lock_is_refused(tmp_path: Path, channel: Path, damage: str) -> None:
    plan = make(tmp_path, channel)
    b = backend(tmp_path)
    run_setup(plan, b, print, lock_only=True)
    path = plan.out_dir / "conda-lock.yml"
    text = path.read_text()
    if damage == "garbage":
        path.write_text("version: 1\nmetadata: [\n")
    elif damage == "missing-field":
        path.write_text(text.replace("  manager: conda\n", "", 1))
    else:
        path.write_text(text.replace("version: 1\n", ""))
    with pytest.raises(InputError, match="not a valid conda-lock file"):
        run_setup(plan, b, print, lock_only=True)


# -- the install ---------------------------------------------------------------------------------


def test_install_reinstall_and_update(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel)
    b = backend(tmp_path)
    seen, say = lines()
    first = run_setup(plan, b, say, verify=False).install
    assert first is not None and first.changed
    assert any(line.startswith("install: linking pytorch") for line in seen)
    assert any("downloaded pytorch 2.5.1" in line and "sha256 verified" in line for line in seen)
    assert (plan.prefix / "conda-meta" / "pytorch-2.5.1-cuda126_py311_h1_300.json").is_file()
    assert (plan.prefix / "lib" / "libtorch-payload.so").stat().st_size == 64 * 1024
    assert first.python == str(plan.prefix / "bin" / "python")
    assert (plan.prefix / "conda-meta" / "numpy-2.1.3-py311_h0.json").is_file()  # what torch expects beside it
    # what the prefix holds, read from its conda-meta records, not from the plan
    assert first.details["framework"] == {"name": "pytorch", "version": "2.5.1", "build": "cuda126_py311_h1_300"}
    assert first.activate.startswith(str(plan.prefix / "bin" / "python"))

    started = time.monotonic()
    again = run_setup(plan, b, print, verify=False)
    assert again.install is not None and not again.install.changed and again.lock is not None and again.lock.reused
    assert time.monotonic() - started < 5

    newer = run_setup(replace(plan, version="2.6"), b, print, verify=False).install
    assert newer is not None and newer.changed
    assert (plan.prefix / "conda-meta" / "pytorch-2.6.0-cuda126_py311_h1_300.json").is_file()
    assert not (plan.prefix / "conda-meta" / "pytorch-2.5.1-cuda126_py311_h1_300.json").exists()
    assert _leftovers(plan.prefix) == []


def test_install_refuses_to_replace_a_foreign_folder(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel)
    plan.prefix.mkdir(parents=True)
    (plan.prefix / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not an environment dldoctor installed"):
        run_setup(plan, backend(tmp_path), print, verify=False)
    assert (plan.prefix / "notes.txt").read_text() == "mine"


def test_sha256_mismatch_is_refused_and_the_old_prefix_kept(tmp_path: Path, channel: Path) -> None:
    mine = tmp_path / "forge"
    shutil.copytree(channel, mine)
    plan = make(tmp_path, channel, channel=str(mine))
    b = backend(tmp_path)
    run_setup(replace(plan, version="2.4"), b, print, verify=False)
    before = _tree(plan.prefix)
    run_setup(plan, b, print, lock_only=True)
    # The channel's file changes after the lock was made (a re-upload, a tampered mirror).
    build_package(Pkg("pytorch", "2.5.1", "cuda126_py311_h1_300", "linux-64", build_number=300,
                      files={"evil.txt": b"not what was locked\n"}), mine)
    with pytest.raises(InputError, match="sha256 mismatch for pytorch 2.5.1"):
        b.install(plan, _lock_result(plan), print)
    assert _tree(plan.prefix) == before
    assert _leftovers(plan.prefix) == []


def test_install_killed_midway_keeps_the_old_prefix(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel)
    b = backend(tmp_path)
    run_setup(replace(plan, version="2.4"), b, print, verify=False)
    before = _tree(plan.prefix)
    run_setup(plan, b, print, lock_only=True)
    child = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from dldoctor.setup.conda.install import install_from_lock
        from dldoctor.setup.conda.solve import read_lock
        lock = read_lock(Path({str(plan.out_dir / "conda-lock.yml")!r}))
        def slow(line):
            print(line, flush=True)
            if line.startswith("install: linking"):
                time.sleep(30)  # the parent kills us here, in the middle of linking
        install_from_lock([p for p in lock.package if p.platform == "linux-64"], Path({str(plan.prefix)!r}),
                          platform="linux-64", cache=Path({str(tmp_path / "cache")!r}), download_bytes=None,
                          progress=slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.startswith("install: linking") or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _tree(plan.prefix) == before  # the old environment, untouched
    assert _leftovers(plan.prefix)  # the staging prefix the kill left behind ...
    seen, say = lines()
    result = b.install(plan, _lock_result(plan), say)  # ... is cleaned by the next run, which completes
    assert result.changed and _leftovers(plan.prefix) == []
    assert any("left by an interrupted install" in line for line in seen)
    assert (plan.prefix / "conda-meta" / "pytorch-2.5.1-cuda126_py311_h1_300.json").is_file()


def test_kill_between_the_renames_restores_the_old_prefix(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel)
    run_setup(plan, backend(tmp_path), print, verify=False)
    before = _tree(plan.prefix)
    retired = plan.prefix.parent / f".{plan.prefix.name}.dldoctor-old-999"
    plan.prefix.rename(retired)  # what a kill right after the first rename leaves
    staging.clean_leftovers(plan.prefix, print)
    assert _tree(plan.prefix) == before and not retired.exists()


def test_free_space_is_checked_before_anything_is_written(tmp_path: Path, channel: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    plan = make(tmp_path, channel)
    b = backend(tmp_path)
    run_setup(plan, b, print, lock_only=True)
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(OutputError, match="not enough free disk space"):
        b.install(plan, _lock_result(plan), print)
    assert not plan.prefix.exists() and _leftovers(plan.prefix) == []
    assert not (tmp_path / "cache" / "pkgs").exists()


def test_disk_filling_up_midway_keeps_the_old_prefix(tmp_path: Path, channel: Path) -> None:
    """A real full disk: a 2 MB tmpfs holds the prefix; the payload is bigger (needs root to mount)."""
    disk = tmp_path / "small"
    disk.mkdir()
    done = Runner().run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], timeout_s=10)
    if not done.ok:
        pytest.skip(f"cannot mount a small tmpfs here ({done.describe_failure()})")
    try:
        big = tmp_path / "bigforge"
        pytorch_channel(big, subdirs=("linux-64",), versions=("2.5.1",), payload_bytes=3 * 1024 * 1024)
        plan = make(tmp_path, big, prefix=disk / "torch")
        b = backend(tmp_path)
        run_setup(plan, b, print, lock_only=True)
        lock = _lock_result(plan)
        # The compressed payload is tiny (it is repetitive), so the up-front check passes and the disk
        # fills up while linking: the error must be clear and leave nothing behind.
        with pytest.raises(OutputError, match="disk|space"):
            b.install(plan, lock, print)
        assert not plan.prefix.exists() and _leftovers(plan.prefix) == []
    finally:
        Runner().run(["umount", str(disk)], timeout_s=10)


def test_install_needs_this_machines_platform_in_the_lock(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, platforms=("osx-arm64",))
    with pytest.raises(TargetError, match=f"no packages for this machine \\({host_platform()}\\)"):
        run_setup(plan, backend(tmp_path), print, verify=False)


# -- verify --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_runs_the_smoke_test_inside_the_new_environment(tmp_path: Path) -> None:
    """The channel's python is a launcher for an interpreter with the CPU build of torch (tests/torch_env.py)."""
    forge = pytorch_channel(tmp_path / "forge", host_python=str(torch_python_or_skip()))
    plan = make(tmp_path, forge, variant="cpu")
    b = CondaBackend(cache_dir=tmp_path / "cache")
    result = run_setup(plan, b, print)
    assert result.smoke is not None and result.smoke["exit_code"] == 0, json.dumps(result.smoke)[:2000]
    assert result.smoke["schema"].startswith("dldoctor.smoke/")


# -- helpers -------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _lock_result(plan: Plan) -> Any:
    from dldoctor.setup.pipeline import LockResult

    return LockResult(path=plan.out_dir / "conda-lock.yml", input_hash="", reused=True, packages=0)


def _tree(prefix: Path) -> dict[str, bytes]:
    return {str(p.relative_to(prefix)): p.read_bytes() for p in sorted(prefix.rglob("*")) if p.is_file()}


def _leftovers(prefix: Path) -> list[str]:
    return sorted(p.name for p in prefix.parent.glob(f".{prefix.name}.dldoctor-*") if not p.name.endswith("-lock"))


def test_channel_builder_writes_real_packages(channel: Path) -> None:
    repodata = json.loads((channel / "linux-64" / "repodata.json").read_text())
    builds = {r["build"] for r in repodata["packages"].values() if r["name"] == "pytorch"}
    assert any(b.startswith("cuda126") for b in builds) and any(b.startswith("cpu_") for b in builds)
    assert (channel / "noarch" / "repodata.json").is_file()
    index_channel(channel)  # idempotent


# -- --locked and --frozen (CI) --------------------------------------------------------------------


def test_locked_passes_on_a_current_lock_and_fails_on_a_stale_one(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, variant="cpu")
    b = backend(tmp_path)
    with pytest.raises(UsageError, match="stale .*there is no lock yet|is missing for the plan"):
        run_setup(replace(plan, lock_mode="locked"), b, print, lock_only=True)
    assert not plan.out_dir.exists() or not any(plan.out_dir.iterdir())  # --locked writes nothing
    run_setup(plan, b, print, lock_only=True)
    lock = plan.out_dir / "conda-lock.yml"
    before = lock.read_bytes()
    current = run_setup(replace(plan, lock_mode="locked"), b, print, lock_only=True).lock
    assert current is not None and current.reused
    with pytest.raises(UsageError, match="stale.*--frozen to install it as it is"):
        run_setup(replace(plan, version="2.6", lock_mode="locked"), b, print, lock_only=True)
    assert lock.read_bytes() == before and "2.5.*" in (plan.out_dir / "environment.yml").read_text()


def test_frozen_installs_the_existing_lock_without_solving(tmp_path: Path, channel: Path) -> None:
    plan = make(tmp_path, channel, variant="cpu")
    b = backend(tmp_path)
    with pytest.raises(UsageError, match="--frozen installs an existing lock"):
        run_setup(replace(plan, lock_mode="frozen"), b, print, verify=False)
    run_setup(plan, b, print, lock_only=True)
    spec = (plan.out_dir / "environment.yml").read_text()
    # a plan asking for another release installs the lock as it is: no solve (an unreachable channel proves it)
    frozen = replace(plan, version="2.6", channel="http://127.0.0.1:9/forge", lock_mode="frozen")
    result = run_setup(frozen, b, print, verify=False)
    assert result.install is not None and result.install.details["framework"]["version"] == "2.5.1"
    assert (plan.out_dir / "environment.yml").read_text() == spec  # nothing rewritten


def test_locked_cli_exits_2_on_a_stale_lock(tmp_path: Path, channel: Path) -> None:
    def setup(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dldoctor", "setup", *args, "--backend", "conda", "--variant", "cpu",
                               "--channel", str(channel), "--out", str(tmp_path / "out"), "--prefix",
                               str(tmp_path / "env"), "--lock-only"], capture_output=True, text=True, timeout=120,
                              cwd=ROOT, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})

    assert setup("pytorch==2.5").returncode == 0
    assert setup("pytorch==2.5", "--locked").returncode == 0
    stale = setup("pytorch==2.6", "--locked")
    assert stale.returncode == 2 and "stale" in stale.stderr and "Traceback" not in stale.stderr, stale.stderr
    both = setup("pytorch==2.5", "--locked", "--frozen")
    assert both.returncode == 2 and "choose one" in both.stderr
