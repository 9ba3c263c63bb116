"""The docker backend end to end against a real engine: build offline from a hashed lock, smoke-test, clean up.

Marked `docker`; skipped (with the reason) when no engine answers. `.ci/run`
starts one with `.ci/dockerd.sh`, so in CI these run. Nothing is pulled: the
base image comes from debootstrap (tests/docker_base.py) and the wheels from
the lock, fetched on the host.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dldoctor.errors import DldoctorError, InputError, TargetError, UnavailableError
from dldoctor.setup.docker.backend import DockerBackend
from dldoctor.setup.docker.render import MANAGED_LABEL
from dldoctor.setup.pipeline import LockResult, SpecResult, run_setup
from dldoctor.setup.plan import Plan
from tests import docker_base

pytestmark = pytest.mark.docker

TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
TAG = "dldoctor-test/pytorch:cpu-py3.11"


@pytest.fixture(scope="session", autouse=True)
def _contexts_in_test_cache() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(docker_base.cache_dir() / "xdg"))
        yield


def hashed_lock(wheels: list[Path], sources: list[str]) -> str:
    """A pip lock naming each wheel by name==version with its sha256 (what the venv backend writes)."""
    lines = list(sources)
    for wheel in sorted(wheels):
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def torch_lock(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CPU torch 2.13.0 lock: the local wheel plus its dependencies from the package index."""
    if not TORCH_WHEEL.is_file():
        pytest.skip(f"{TORCH_WHEEL} is not on this machine")
    dest = tmp_path_factory.mktemp("torch-wheels")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(dest), "--find-links",
         str(TORCH_WHEEL.parent), "--python-version", "3.11", "--implementation", "cp", "--platform",
         "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
         "torch==2.13.0+cpu"], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot download torch's dependencies: {done.stderr.strip().splitlines()[-1:]}")
    return hashed_lock(list(dest.glob("*.whl")), ["--index-url https://pypi.org/simple",
                                                   f"--find-links {TORCH_WHEEL.parent}"])


class GivenLock:
    """Stands in for the venv backend's spec and lock steps: the lock is given."""

    def __init__(self, text: str) -> None:
        self.text = text

    def write_spec(self, plan: Plan, progress: Any) -> SpecResult:
        return SpecResult(files=())

    def lock(self, plan: Plan, spec: SpecResult, progress: Any) -> LockResult:
        path = plan.out_dir / "requirements.lock"
        path.write_text(self.text)
        return LockResult(path=path, input_hash="given", reused=False, packages=self.text.count("--hash"))


def make_plan(out: Path, base: str, python: str = "3.11", tag: str = TAG) -> Plan:
    return Plan(framework="pytorch", version="2.13", python=python, variant="cpu", backend="docker",
                platforms=("linux-64",), channel=None, index_url=None, extra_index_urls=(), find_links=(),
                prefix=out, out_dir=out, cuda_driver_version=None, capabilities=(), gfx_targets=(), glibc=None,
                options={"base_image": base, "tag": tag})


def managed_containers(engine: Any) -> list[str]:
    return [c.name for c in engine.containers.list(all=True, filters={"label": MANAGED_LABEL})]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_cpu_torch_image_builds_from_the_lock_offline_and_passes_the_smoke_test(
        engine: Any, base_image: str, torch_lock: str, tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_setup(make_plan(tmp_path, base_image), DockerBackend(GivenLock(torch_lock)), lines.append)
    assert result.install is not None and result.install.location == TAG
    assert result.install.activate == f"docker run --rm -it {TAG}"
    assert (tmp_path / "Dockerfile").is_file()
    smoke = result.smoke
    assert smoke is not None and smoke["exit_code"] == 0, smoke
    assert smoke["framework_version"].startswith("2.13.0") and smoke["verdict"] in ("pass", "warn")
    image = engine.images.get(TAG).attrs
    labels = image["Config"]["Labels"]
    lock_sha = hashlib.sha256((tmp_path / "requirements.lock").read_bytes()).hexdigest()
    assert labels["io.dldoctor.lock-sha256"] == lock_sha
    assert labels["io.dldoctor.variant"] == "cpu" and labels["io.dldoctor.version"]
    assert image["Config"]["User"] == "dldoctor"
    uid = engine.containers.run(TAG, ["id", "-u"], remove=True).decode().strip()
    assert uid == "1000"
    assert image["Size"] < 1.2e9, f"the CPU image is {image['Size'] / 1e9:.2f} GB"
    assert any("image size" in line for line in lines)
    assert managed_containers(engine) == []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_rebuild_with_nothing_changed_comes_from_the_cache(
        engine: Any, base_image: str, torch_lock: str, tmp_path: Path) -> None:
    backend = DockerBackend(GivenLock(torch_lock))
    plan = make_plan(tmp_path, base_image)
    first = run_setup(plan, backend, lambda _: None, verify=False).install
    again = run_setup(plan, backend, lambda _: None, verify=False).install
    assert first is not None and again is not None
    assert again.details["steps_run"] == 0 and again.changed is False
    assert again.details["image_id"] == first.details["image_id"]
    assert again.details["build_s"] < 30


def test_missing_base_image_is_a_clear_error(engine: Any, tmp_path: Path) -> None:
    plan = make_plan(tmp_path, "dldoctor-test/no-such-image:never")
    with pytest.raises((InputError, UnavailableError)) as caught:
        run_setup(plan, DockerBackend(GivenLock("mpmath==1.3.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")),
                  lambda _: None)
    assert "dldoctor-test/no-such-image:never" in caught.value.message
    assert caught.value.exit_code != 0
    assert managed_containers(engine) == []


def test_lock_naming_a_wheel_that_is_not_there_fails_before_building(
        engine: Any, base_image: str, tmp_path: Path) -> None:
    lock = "--index-url https://pypi.org/simple\ndldoctor-no-such-package==9.9.9 \\\n    --hash=sha256:" + "1" * 64 + "\n"
    with pytest.raises(DldoctorError) as caught:
        run_setup(make_plan(tmp_path, base_image, tag="dldoctor-test/never:built"), DockerBackend(GivenLock(lock)),
                  lambda _: None)
    assert "requirements.lock" in caught.value.message and caught.value.exit_code != 0
    assert managed_containers(engine) == []


@pytest.mark.timeout(600)
def test_failing_build_names_the_step_and_leaves_no_containers(
        engine: Any, base_image: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # The test base has Python 3.11 only; asking for 3.12 makes the interpreter step fail inside the build.
    dest = tmp_path_factory.mktemp("small-wheels")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
                    "mpmath==1.3.0"], capture_output=True, timeout=300, check=True)
    lock = hashed_lock(list(dest.glob("*.whl")), ["--index-url https://pypi.org/simple"])
    with pytest.raises(TargetError) as caught:
        run_setup(make_plan(tmp_path, base_image, python="3.12", tag="dldoctor-test/never:built"),
                  DockerBackend(GivenLock(lock)), lambda _: None)
    assert "docker build failed at Step" in caught.value.message
    assert "python3.12" in caught.value.message
    assert managed_containers(engine) == []
