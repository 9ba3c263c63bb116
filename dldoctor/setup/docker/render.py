"""The Dockerfile of a plan: its base image, labels and accelerator settings, rendered from `docker/`.

Pure functions over the plan, the knowledge table `base_images` and the
template `docker/Dockerfile.in`; nothing here talks to an engine, so tests
check every rendered line for CUDA and ROCm plans on a machine with neither.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dldoctor import __version__
from dldoctor.errors import InputError, UsageError
from dldoctor.setup.docker.base_images import base_rows
from dldoctor.setup.plan import Plan

#: The template folder (readable, `docker/` in the source tree); $DLDOCTOR_DOCKER_TEMPLATES overrides it.
TEMPLATES_ENV = "DLDOCTOR_DOCKER_TEMPLATES"
TEMPLATE_NAME = "Dockerfile.in"
#: Set on every stage, so containers of these images (build steps included) can be found and removed.
MANAGED_LABEL = "io.dldoctor.managed"
LABEL_PREFIX = "io.dldoctor."
#: The manylinux level of the wheels fetched for a base image the table does not know.
DEFAULT_GLIBC = "2.28"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class BaseImage:
    """The runtime base of the image and what the Dockerfile needs to know about it."""

    image: str  # "python:3.11-slim-bookworm"
    digest: str | None  # "sha256:..."; None for an override given without one
    pythons: tuple[str, ...]  # the Python versions it has or installs with apt
    python_preinstalled: bool | None  # None: unknown (an override): install only when missing
    glibc: str
    from_table: bool

    @property
    def reference(self) -> str:
        """What `FROM` names: the image pinned by digest when the digest is known."""
        if self.digest and "@" not in self.image:
            return f"{self.image}@{self.digest}"
        return self.image


def choose_base_image(plan: Plan) -> BaseImage:
    """The runtime base for the plan: `--base-image`, else the table's row for its kind, accelerator and Python."""
    override = plan.options.get("base_image")
    if override:
        image, _, digest = str(override).partition("@")
        return BaseImage(str(override) if digest else image, digest or None, (plan.python,), None, DEFAULT_GLIBC, False)
    rows = base_rows(plan.variant, plan.require_cuda)
    if not rows:
        raise UsageError(f"dldoctor knows no runtime base image for {plan.variant}: pass --base-image IMAGE "
                         f"(an image with python{plan.python}, or Debian/Ubuntu where apt installs it)")
    for row in rows:
        if plan.python in row.get("pythons", ()):
            return _row_image(row)
    offered = sorted({p for r in rows for p in r.get("pythons", ())})
    raise UsageError(
        f"the {plan.variant} base images dldoctor knows ({', '.join(r['image'] for r in rows)}) offer Python "
        f"{', '.join(offered)}, not {plan.python}: pass --python {offered[-1]}, or --base-image an image with "
        f"python{plan.python}"
    )


def _row_image(row: dict[str, Any]) -> BaseImage:
    try:
        return BaseImage(str(row["image"]), str(row["digest"]), tuple(row["pythons"]),
                         bool(row["python_preinstalled"]), str(row.get("glibc") or DEFAULT_GLIBC), True)
    except (KeyError, TypeError) as exc:
        raise InputError(f"knowledge table base_images: a row lacks {exc}: {row}") from exc


def nvidia_require_cuda(cuda_version: str) -> str:
    """The NVIDIA_REQUIRE_CUDA constraint: the container toolkit refuses a driver older than this CUDA."""
    return f"cuda>={cuda_version}"


def image_labels(plan: Plan, lock_sha256: str, base: BaseImage) -> dict[str, str]:
    """The labels recording what the image holds and where it came from."""
    return {
        f"{LABEL_PREFIX}version": __version__,
        f"{LABEL_PREFIX}framework": plan.framework,
        f"{LABEL_PREFIX}variant": plan.variant,
        f"{LABEL_PREFIX}python": plan.python,
        f"{LABEL_PREFIX}lock-sha256": lock_sha256,
        "org.opencontainers.image.base.name": base.reference,
    }


def default_tag(plan: Plan) -> str:
    return str(plan.options.get("tag") or f"dldoctor/{plan.framework}:{plan.variant}-py{plan.python}")


def run_flags(kind: str) -> list[str]:
    """The `docker run` flags that hand the GPUs of a `kind` image to its container."""
    if kind == "cuda":
        return ["--gpus", "all"]
    if kind == "rocm":
        return ["--device", "/dev/kfd", "--device", "/dev/dri", "--group-add", "video",
                "--security-opt", "seccomp=unconfined"]
    return []


def device_options(kind: str) -> dict[str, Any]:
    """The same as `run_flags`, as keyword arguments of the SDK's `containers.run`/`create`."""
    if kind == "cuda":
        types: Any = importlib.import_module("docker.types")
        return {"device_requests": [types.DeviceRequest(count=-1, capabilities=[["gpu"]])]}
    if kind == "rocm":
        return {"devices": ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"], "group_add": ["video"],
                "security_opt": ["seccomp=unconfined"]}
    return {}


def activate_line(kind: str, tag: str) -> str:
    return " ".join(["docker", "run", "--rm", "-it", *run_flags(kind), tag])


def templates_dir() -> Path:
    override = os.environ.get(TEMPLATES_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "templates" / "docker"  # ../docker in a checkout (a link)


def _python_setup(plan: Plan, base: BaseImage) -> str:
    if base.python_preinstalled:
        return ""
    py = plan.python
    # Only when missing: an override that already has the interpreter builds offline.
    return (
        f'RUN if ! python{py} -c "import ensurepip, venv" >/dev/null 2>&1; then \\\n'
        "        apt-get update \\\n"
        f"     && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python{py} python{py}-venv \\\n"
        "     && rm -rf /var/lib/apt/lists/*; \\\n"
        "    fi\n"
    )


def accelerator_env(plan: Plan) -> str:
    """The ENV lines the NVIDIA container toolkit reads: GPUs, driver parts and the CUDA the host must have."""
    if plan.kind != "cuda" or not (plan.require_cuda or plan.cuda_version):
        return ""
    return (" \\\n    NVIDIA_VISIBLE_DEVICES=all \\\n    NVIDIA_DRIVER_CAPABILITIES=compute,utility \\\n"
            f'    NVIDIA_REQUIRE_CUDA="{nvidia_require_cuda(plan.require_cuda or plan.cuda_version or "")}"')


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dockerfile(plan: Plan, base: BaseImage, *, lock_sha256: str, tag: str, pip_platforms: tuple[str, ...],
                      template: str | None = None) -> str:
    """The Dockerfile text for the plan (multi-stage, venv from the lock, non-root, labelled)."""
    if template is None:
        path = templates_dir() / TEMPLATE_NAME
        try:
            template = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the Dockerfile template {path}: {exc.strerror or exc}") from exc
    labels = image_labels(plan, lock_sha256, base)
    values = {
        "dldoctor_version": __version__, "framework": plan.framework, "variant": plan.variant, "python": plan.python,
        "pip_platforms": " ".join(f"--platform {p}" for p in pip_platforms), "tag": tag,
        "activate": activate_line(plan.kind, tag),
        "base_image": base.reference, "python_setup": _python_setup(plan, base),
        "accelerator_env": accelerator_env(plan),
        "labels": " \\\n      ".join(f"{k}={_quote(v)}" for k, v in labels.items()),
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise InputError(f"the Dockerfile template names an unknown value {{{{{name}}}}}")
        return values[name]

    return _PLACEHOLDER.sub(fill, template)
