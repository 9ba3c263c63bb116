"""The docker backend without an engine: rendered Dockerfiles, base images, device options, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dldoctor import knowledge
from dldoctor.errors import DldoctorError, OutputError, UnavailableError, UsageError
from dldoctor.setup.docker.backend import DockerBackend, write_dockerfile
from dldoctor.setup.docker.context import _without_sources, fetch_argv
from dldoctor.setup.docker.engine import _BuildWatch, _split_reference, build_image, connect
from dldoctor.setup.docker.render import (
    MANAGED_LABEL,
    activate_line,
    choose_base_image,
    device_options,
    render_dockerfile,
)
from dldoctor.setup.plan import Plan
from dldoctor.setup.platforms import docker_platform

LOCK_SHA = "ab" * 32


def make_plan(variant: str = "cpu", python: str = "3.11", **options: Any) -> Plan:
    return Plan(framework="pytorch", version="2.13", python=python, variant=variant, backend="docker",
                platforms=("linux-64",), channel=None, index_url=None, extra_index_urls=(), find_links=(),
                prefix=Path("/tmp/unused"), out_dir=Path("/tmp/unused"), cuda_driver_version=None, capabilities=(),
                gfx_targets=(), glibc=None, options=options)


def render(plan: Plan) -> str:
    return render_dockerfile(plan, choose_base_image(plan), lock_sha256=LOCK_SHA, tag="t:1",
                             pip_platforms=("manylinux_2_28_x86_64",))


def from_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("FROM ")]


@pytest.mark.parametrize(("variant", "python"), [("cpu", "3.11"), ("cuda12.6", "3.12"), ("cuda13.0", "3.11"),
                                                 ("rocm7.2", "3.12")])
def test_rendered_dockerfile_is_multistage_pinned_small_and_not_root(variant: str, python: str) -> None:
    plan = make_plan(variant, python)
    text = render(plan)
    base = choose_base_image(plan)
    assert base.digest and base.digest.startswith("sha256:") and len(base.digest) == 71
    assert f"ARG BASE_IMAGE={base.image}@{base.digest}" in text
    assert from_lines(text) == ["FROM ${BASE_IMAGE} AS python", "FROM python AS build", "FROM python"]
    assert "devel" not in text
    assert "COPY --from=build /opt/venv /opt/venv" in text
    assert "--require-hashes --no-deps" in text and "--no-index" in text
    user = [ln for ln in text.splitlines() if ln.startswith("USER ")]
    assert user == ["USER dldoctor"]
    assert f'io.dldoctor.lock-sha256="{LOCK_SHA}"' in text
    assert f'io.dldoctor.variant="{variant}"' in text and 'io.dldoctor.version="' in text
    assert f'{MANAGED_LABEL}="true"' in text
    assert "{{" not in text


def test_cuda_image_requires_the_plans_cuda_and_uses_a_base_image() -> None:
    text = render(make_plan("cuda12.6", "3.12"))
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=12.6"' in text
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in text
    assert "nvidia/cuda:12.6.3-base-ubuntu24.04@sha256:" in text
    assert "apt-get install -y --no-install-recommends python3.12 python3.12-venv" in text
    assert "docker run --rm -it --gpus all t:1" in text


def test_cpu_and_rocm_images_set_no_nvidia_requirement() -> None:
    assert "NVIDIA_REQUIRE_CUDA" not in render(make_plan("cpu"))
    rocm = render(make_plan("rocm7.2", "3.12"))
    assert "NVIDIA_REQUIRE_CUDA" not in rocm and "rocm/dev-ubuntu-24.04:7.2@sha256:" in rocm
    assert "--device /dev/kfd --device /dev/dri" in rocm


def test_cpu_base_has_python_so_nothing_is_installed() -> None:
    text = render(make_plan("cpu"))
    assert "apt-get" not in text and "python:3.11-slim-bookworm@sha256:" in text


def test_base_image_override_is_used_for_both_stages_and_installs_python_only_when_missing() -> None:
    plan = make_plan("cpu", base_image="dldoctor-test/debian-python:bookworm")
    text = render(plan)
    assert "ARG BASE_IMAGE=dldoctor-test/debian-python:bookworm\n" in text
    assert 'if ! python3.11 -c "import ensurepip, venv"' in text


def test_python_the_cuda_bases_lack_is_refused_with_the_way_out() -> None:
    with pytest.raises(UsageError, match="--python 3.12"):
        choose_base_image(make_plan("cuda12.6", "3.11"))


def test_unknown_variant_needs_a_base_image() -> None:
    with pytest.raises(UsageError, match="--base-image"):
        choose_base_image(make_plan("cuda11.8", "3.11"))


def test_bad_docker_platform_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="linux/amd64"):
        docker_platform(make_plan(docker_platform="linux/s390x"))
    assert docker_platform(make_plan(docker_platform="linux/arm64")) == "linux/arm64"
    assert docker_platform(make_plan(), "aarch64") == "linux/arm64"


def test_device_requests_for_gpus() -> None:
    import docker.types

    cuda = device_options("cuda")
    assert cuda["device_requests"] == [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    rocm = device_options("rocm")
    assert "/dev/kfd:/dev/kfd:rwm" in rocm["devices"] and rocm["group_add"] == ["video"]
    assert device_options("cpu") == {}
    assert activate_line("cuda", "x") == "docker run --rm -it --gpus all x"
    assert activate_line("cpu", "x") == "docker run --rm -it x"


def test_knowledge_table_rows_are_pinned() -> None:
    table = knowledge.table("base_images")
    assert table.source and table.verified
    for row in table.rows:
        assert row["digest"].startswith("sha256:") and len(row["digest"]) == 71
        assert "devel" not in row["image"] and "-complete" not in row["image"]
        if row["kind"] == "cuda":
            assert "-base-" in row["image"]


def test_dockerfile_only_writes_the_dockerfile_and_builds_nothing(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from dldoctor.setup.pipeline import LockResult

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # any engine call would fail
    lock = tmp_path / "requirements.lock"
    lock.write_text("torch==2.13.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    plan = make_plan("cuda12.6", "3.12", dockerfile_only=True)
    backend = DockerBackend()
    lines: list[str] = []
    installed = backend.install(plan, LockResult(lock, "x", False, 1), lines.append)
    assert installed.details["built"] is False and installed.location == "dldoctor/pytorch:cuda12.6-py3.12"
    assert (tmp_path / "Dockerfile").read_text().startswith("# Rendered by dldoctor")
    assert backend.verify(plan, installed, lines.append)["exit_code"] == 0


def test_a_foreign_dockerfile_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\n")
    with pytest.raises(OutputError, match="not written by dldoctor"):
        write_dockerfile(path, "# Rendered by dldoctor x\n")
    assert path.read_text() == "FROM scratch\n"


def test_no_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    with pytest.raises(UnavailableError, match="systemctl start docker") as caught:
        connect()
    assert caught.value.exit_code != 0


def test_context_lock_keeps_requirements_drops_host_sources() -> None:
    text = "--index-url https://pypi.org/simple\n--find-links /opt/wheels\nfoo==1 \\\n    --hash=sha256:aa\n"
    assert _without_sources(text) == "foo==1 \\\n    --hash=sha256:aa\n"
    argv = fetch_argv("py", Path("l"), Path("w"), pip_platforms=("manylinux_2_28_x86_64", "manylinux_2_17_x86_64"),
                      python_version="3.11")
    assert argv.count("--platform") == 2 and "--require-hashes" in argv and "--no-deps" in argv


def test_reference_split() -> None:
    assert _split_reference("nvidia/cuda:12.6.3-base-ubuntu24.04@sha256:ab") == ("nvidia/cuda", "sha256:ab")
    assert _split_reference("localhost:5000/x:1") == ("localhost:5000/x", "1")
    assert _split_reference("x") == ("x", "latest")


class _FakeClient:
    def __init__(self) -> None:
        self.removed: list[str] = []
        self.api = self

    def remove_container(self, cid: str, force: bool = False) -> None:
        self.removed.append(cid)


def test_failed_build_names_the_step_and_tail_and_removes_its_containers(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = [
        {"stream": "Step 1/3 : FROM x\n"}, {"stream": " ---> abc\n"},
        {"stream": "Step 2/3 : RUN false\n"}, {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "\x1b[91mboom: no such wheel\n\x1b[0m"},
        {"error": "The command '/bin/sh -c false' returned a non-zero code: 1",
         "errorDetail": {"message": "The command '/bin/sh -c false' returned a non-zero code: 1"}},
    ]
    client = _FakeClient()
    lines: list[str] = []
    with pytest.raises(DldoctorError) as caught:
        build_image(client, tmp_path, tag="t", platform=None, progress=lines.append,
                    stream=lambda **_: iter(events))
    message = caught.value.message
    assert "Step 2/3 : RUN false" in message and "boom: no such wheel" in message and "\x1b" not in message
    assert client.removed == ["0123456789ab"]


def test_full_disk_is_an_output_error(tmp_path: Path) -> None:
    events = [{"stream": "Step 1/1 : COPY wheels/ /w/\n"},
              {"error": "failed to copy files: write /var/lib/docker/x: no space left on device"}]
    with pytest.raises(OutputError, match="disk space"):
        build_image(_FakeClient(), tmp_path, tag="t", platform=None, progress=lambda _: None,
                    stream=lambda **_: iter(events))


def test_build_watch_counts_cached_and_run_steps() -> None:
    watch = _BuildWatch(lambda _: None)
    for text in ("Step 1/2 : COPY a b\n", " ---> Using cache\n", "Step 2/2 : RUN x\n", " ---> Running in abcdefabcdef\n"):
        watch.feed({"stream": text})
    assert (watch.outcome.steps, watch.outcome.cached, watch.outcome.ran) == (2, 1, 1)


def test_docker_plan_takes_the_python_of_the_cuda_base_image() -> None:
    from dldoctor.setup.plan import SetupRequest, make_plan
    from dldoctor.snapshot.facts import Facts

    facts = Facts({"host": {"os": "Linux", "arch": "x86_64"}, "nvidia": {"present": True, "gpus": []}})
    plan = make_plan(facts, SetupRequest(framework="pytorch", backend="docker", variant="auto", cuda="12.6"))
    assert plan.variant == "cuda12.6" and plan.python == "3.12"  # the only 12.6 base is Ubuntu 24.04
    asked = make_plan(facts, SetupRequest(framework="pytorch", backend="docker", cuda="12.6", python="3.11"))
    assert asked.python == "3.11"  # what was asked is kept (and the base image choice then says what to do)
    cpu = make_plan(facts, SetupRequest(framework="pytorch", backend="docker", variant="cpu"))
    assert cpu.python == "3.11"
