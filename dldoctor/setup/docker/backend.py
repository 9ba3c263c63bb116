"""The docker backend: the plan's lock built into an image, then smoke-tested inside it.

plan -> spec and lock (the venv backend's hashed requirements.lock, for the
image's platform and the base's glibc) -> Dockerfile (rendered from
`docker/Dockerfile.in`, written next to the lock) -> build through the Docker
Engine API, from a context holding every locked wheel, offline -> the smoke
test in a container of the new image, with the host's GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from dldoctor.setup.docker.render import (
    BaseImage,
    activate_line,
    choose_base_image,
    default_tag,
    render_dockerfile,
)
from dldoctor.setup.pipeline import InstallResult, LockResult, SpecResult
from dldoctor.setup.plan import Plan
from dldoctor.setup.platforms import PLATFORMS, docker_platform
from dldoctor.setup.progress import Progress

DOCKERFILE_NAME = "Dockerfile"
#: The first line of every Dockerfile dldoctor writes; any other Dockerfile is never overwritten.
RENDERED_MARK = "# Rendered by dldoctor"


def lock_plan(plan: Plan, base: BaseImage) -> Plan:
    """The plan the lock is made for: the image's platform and the base image's glibc, not this machine's."""
    return replace(plan, platforms=(PLATFORMS[docker_platform(plan)],), glibc=base.glibc)


class Locker(Protocol):
    """The spec and lock steps the image is built from: the venv backend's (`VenvBackend`)."""

    def write_spec(self, plan: Plan, progress: Progress) -> SpecResult: ...

    def lock(self, plan: Plan, spec: SpecResult, progress: Progress) -> LockResult: ...


@dataclass(frozen=True)
class ImageTarget:
    """What the image is built on and for, worked out once per plan: every stage reads it from here."""

    base: BaseImage
    platform: str  # "linux/amd64"
    lock_plan: Plan  # the plan the lock is made for (the image's platform and the base's glibc)

    @classmethod
    def of(cls, plan: Plan) -> ImageTarget:
        base = choose_base_image(plan)
        return cls(base=base, platform=docker_platform(plan), lock_plan=lock_plan(plan, base))


def write_dockerfile(path: Path, text: str) -> None:
    """Write the Dockerfile, refusing to replace one that dldoctor did not write (or a link)."""
    from dldoctor.output import write_owned

    write_owned(path, text, ours=lambda old: old.startswith(RENDERED_MARK), make_parents=True)


class DockerBackend:
    """Builds the plan's image from the venv backend's lock; verifies it with the smoke test."""

    name = "docker"

    def __init__(self, lock_backend: Locker | None = None) -> None:
        self._lock_backend = lock_backend
        self._targets: dict[int, tuple[Plan, ImageTarget]] = {}

    def _locker(self) -> Locker:
        if self._lock_backend is None:
            from dldoctor.setup.venv.backend import VenvBackend

            self._lock_backend = VenvBackend()
        return self._lock_backend

    def target(self, plan: Plan) -> ImageTarget:
        """The plan's base image and platform, chosen at its first stage and reused by the others."""
        known = self._targets.get(id(plan))
        if known is None or known[0] is not plan:
            known = (plan, ImageTarget.of(plan))
            self._targets[id(plan)] = known
        return known[1]

    def write_spec(self, plan: Plan, progress: Progress) -> SpecResult:
        """requirements.in for the image's platform (the Dockerfile follows the lock, in `install`)."""
        return self._locker().write_spec(self.target(plan).lock_plan, progress)

    def lock(self, plan: Plan, spec: SpecResult, progress: Progress) -> LockResult:
        return self._locker().lock(self.target(plan).lock_plan, spec, progress)

    def install(self, plan: Plan, lock: LockResult, progress: Progress) -> InstallResult:
        """Render the Dockerfile next to the lock; unless --dockerfile-only, build the image from it."""
        from dldoctor.output import sha256_file as file_sha256
        from dldoctor.setup.docker.context import prepare_context
        from dldoctor.setup.platforms import target_platform

        image = self.target(plan)
        base, platform = image.base, image.platform
        target = target_platform(image.lock_plan)
        tag = default_tag(plan)
        lock_sha256 = file_sha256(lock.path)
        text = render_dockerfile(plan, base, lock_sha256=lock_sha256, tag=tag, pip_platforms=target.pip)
        dockerfile = lock.path.parent / DOCKERFILE_NAME
        write_dockerfile(dockerfile, text)
        progress(f"build: {dockerfile} (base {base.reference})")
        activate = activate_line(plan.kind, tag)
        details: dict[str, Any] = {"dockerfile": str(dockerfile), "base_image": base.reference, "platform": platform,
                                   "lock_sha256": lock_sha256, "built": False}
        if plan.options.get("dockerfile_only"):
            progress(f"build: --dockerfile-only: nothing built; build it with `docker build -t {tag} .` "
                     "(see the Dockerfile's header for fetching the wheels)")
            return InstallResult(location=tag, python=None, changed=False, activate=activate, details=details)

        from dldoctor.setup.docker import engine

        client = engine.connect()
        try:
            arch = engine.engine_arch(client)
            if arch and docker_platform(replace(plan, options={}), arch) != platform:
                progress(f"warning: the engine runs {arch}; building {platform} needs binfmt/qemu emulation there")
            engine.ensure_image(client, base.reference, progress)
            context = prepare_context(lock.path, text, lock_sha256=lock_sha256, pip_platforms=target.pip,
                                      python_version=plan.python, progress=progress)
            outcome = engine.build_image(client, context, tag=tag, platform=platform, progress=progress)
            facts = engine.image_facts(client, tag)
        finally:
            client.close()
        state = "all steps cached" if outcome.ran == 0 else f"{outcome.ran} steps run, {outcome.cached} cached"
        progress(f"build: {tag} built in {outcome.duration_s:.1f}s ({state}); image size "
                 f"{facts['size_bytes'] / 1e9:.2f} GB")
        details.update(built=True, image_id=facts["id"], size_bytes=facts["size_bytes"], steps=outcome.steps,
                       steps_run=outcome.ran, steps_cached=outcome.cached, build_s=round(outcome.duration_s, 1),
                       context=str(context))
        return InstallResult(location=tag, python=None, changed=outcome.ran > 0, activate=activate, details=details)

    def verify(self, plan: Plan, installed: InstallResult, progress: Progress) -> dict[str, Any]:
        """The smoke test in a container of the new image, with the host's GPUs (`--allow-cpu` for a CPU image)."""
        if not installed.details.get("built", True):
            progress("verify: skipped, nothing was built (--dockerfile-only)")
            return {"verdict": "skipped", "exit_code": 0, "reason": "--dockerfile-only: no image was built"}
        from dldoctor.smoke.command import smoke_command

        if plan.kind == "cuda":
            from dldoctor.setup.docker import engine

            client = engine.connect()
            try:
                if not engine.has_nvidia_runtime(client):
                    progress("warning: this engine has no nvidia runtime; `--gpus all` needs the NVIDIA Container "
                             "Toolkit (nvidia-ctk runtime configure --runtime=docker)")
            finally:
                client.close()
        progress(f"verify: smoke test in {installed.location}")
        result, _code = smoke_command(plan.framework, image=installed.location,
                                      quick=True, allow_cpu=plan.kind == "cpu", progress=progress)
        return result
