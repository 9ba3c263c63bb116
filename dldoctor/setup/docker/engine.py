"""The Docker Engine API, through the docker SDK: connect, check the base, build with progress, clean up.

Every engine failure becomes one of dldoctor's errors with the remedy in its
message: no engine (how to start one), a base image that is neither here nor
pullable, a failed build (the step and its log tail), a full disk. Containers
left by a failed build are removed by id.
"""

from __future__ import annotations

import importlib
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.errors import InputError, OutputError, TargetError, UnavailableError
from dldoctor.setup.progress import Progress

#: Seconds the SDK waits for one API answer (a build streams, so this bounds silence, not the build).
API_TIMEOUT_S = 600
CONNECT_TIMEOUT_S = 10
START_ENGINE_HINT = ("start one (`sudo systemctl start docker`, or `sudo dockerd &`), or point DOCKER_HOST at "
                     "a running engine")
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]{12,64})")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DISK_FULL = ("no space left on device", "disk quota exceeded")
LOG_TAIL_LINES = 25


def sdk() -> Any:
    """The docker SDK package (untyped: it ships no type information)."""
    module: Any = importlib.import_module("docker")
    importlib.import_module("docker.errors")
    return module


def connect(timeout_s: float = API_TIMEOUT_S) -> Any:
    """A `docker.DockerClient` whose engine answered a ping; UnavailableError when none does."""
    docker = sdk()
    try:
        client = docker.from_env(timeout=int(timeout_s))
    except docker.errors.DockerException as exc:
        raise UnavailableError(f"no Docker engine reachable ({_short(exc)}): {START_ENGINE_HINT}") from exc
    try:
        client.api.timeout = CONNECT_TIMEOUT_S
        client.ping()
    except Exception as exc:
        client.close()
        raise UnavailableError(f"no Docker engine answers at {client.api.base_url} ({_short(exc)}): "
                               f"{START_ENGINE_HINT}") from exc
    client.api.timeout = int(timeout_s)
    return client


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]


def engine_arch(client: Any) -> str | None:
    try:
        info = client.info()
    except Exception:  # noqa: BLE001  (the architecture is a default only; the build says more)
        return None
    arch = info.get("Architecture")
    return str(arch) if arch else None


def has_nvidia_runtime(client: Any) -> bool:
    """Whether `--gpus all` can work: the engine knows the nvidia runtime (or CDI devices)."""
    try:
        info = client.info()
    except Exception:  # noqa: BLE001  (unknown counts as no)
        return False
    runtimes = info.get("Runtimes") or {}
    return "nvidia" in runtimes or bool(info.get("CDISpecDirs"))


def ensure_image(client: Any, reference: str, progress: Progress) -> None:
    """Make `reference` present in the engine, pulling it when missing; clear errors when it cannot be had."""
    docker = sdk()
    try:
        client.images.get(reference)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise UnavailableError(f"the Docker engine cannot look up {reference}: {_short(exc)}") from exc
    progress(f"build: pulling the base image {reference}")
    repository, tag = _split_reference(reference)
    try:
        for _event in client.api.pull(repository, tag=tag, stream=True, decode=True):
            pass
        client.images.get(reference)
    except (docker.errors.APIError, docker.errors.ImageNotFound) as exc:
        reason = _short(exc)
        hint = ("pull it where a registry is reachable and `docker save`/`docker load` it here, or pass "
                "--base-image an image this engine has")
        if any(s in reason.lower() for s in ("not found", "manifest unknown", "does not exist", "pull access denied")):
            raise InputError(f"base image {reference} does not exist (the registry says: {reason}); {hint}") from exc
        raise UnavailableError(f"base image {reference} is not on this machine and cannot be pulled "
                               f"({reason}); {hint}") from exc
    except Exception as exc:
        raise UnavailableError(f"pulling the base image {reference} failed: {_short(exc)}") from exc


def _split_reference(reference: str) -> tuple[str, str | None]:
    """"img:tag@sha256:x" -> ("img", "sha256:x"); "img:tag" -> ("img", "tag")."""
    name, at, digest = reference.partition("@")
    if at:
        return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name, digest
    if ":" in name.rsplit("/", 1)[-1]:
        repo, tag = name.rsplit(":", 1)
        return repo, tag
    return name, "latest"


@dataclass
class BuildOutcome:
    """What one build did: the image, how many steps ran and how many came from the cache."""

    image_id: str
    steps: int = 0
    cached: int = 0
    ran: int = 0
    duration_s: float = 0.0
    log_tail: list[str] = field(default_factory=list)


@dataclass
class _BuildWatch:
    """Follows the build stream: the current step, the tail of the log, the containers it started."""

    progress: Progress
    step: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    containers: list[str] = field(default_factory=list)
    outcome: BuildOutcome = field(default_factory=lambda: BuildOutcome(image_id=""))
    error: str | None = None

    def feed(self, event: Mapping[str, Any]) -> None:
        if "error" in event:
            detail = event.get("errorDetail") or {}
            self.error = str(detail.get("message") or event["error"]).strip()
            return
        aux = event.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.outcome.image_id = str(aux["ID"])
        text = event.get("stream") or event.get("status")
        if not isinstance(text, str):
            return
        for line in _ANSI.sub("", text).splitlines():
            line = line.rstrip()
            if not line:
                continue
            self.tail.append(line)
            step = _STEP.match(line)
            if step:
                self.step = line
                self.outcome.steps = int(step.group(2))
                self.progress(f"build: {line[:160]}")
                continue
            running = _RUNNING_IN.match(line)
            if running:
                self.containers.append(running.group(1))
                self.outcome.ran += 1
            elif line.strip() == "---> Using cache":
                self.outcome.cached += 1
            elif not line.startswith((" ---> ", "Removing intermediate container", "Successfully ")):
                self.progress(f"build:   {line[:200]}")


def build_image(client: Any, context: Path, *, tag: str, platform: str | None, progress: Progress,
                stream: Callable[..., Iterator[Mapping[str, Any]]] | None = None) -> BuildOutcome:
    """Build `context`/Dockerfile as `tag`, streaming the output to `progress`.

    Raises TargetError naming the failing step and the log tail, OutputError
    when the engine's disk is full, UnavailableError when the engine goes away.
    Containers of the build's steps never outlive it (forcerm, then removed by id).
    """
    docker = sdk()
    watch = _BuildWatch(progress)
    started = time.monotonic()
    kwargs: dict[str, Any] = {"path": str(context), "dockerfile": "Dockerfile", "tag": tag, "rm": True,
                              "forcerm": True, "pull": False, "decode": True}
    if platform:
        kwargs["platform"] = platform
    try:
        for event in (stream or client.api.build)(**kwargs):
            watch.feed(event)
    except docker.errors.APIError as exc:
        watch.error = _short(exc)
    except (OSError, ValueError) as exc:
        _remove_containers(client, watch.containers)
        if any(s in str(exc).lower() for s in _DISK_FULL):
            raise OutputError(f"no space left to send the build context {context}: {_short(exc)}") from exc
        raise UnavailableError(f"the Docker engine went away during the build: {_short(exc)}") from exc
    except Exception as exc:
        _remove_containers(client, watch.containers)
        raise UnavailableError(f"the Docker engine went away during the build: {_short(exc)}") from exc
    finally:
        watch.outcome.duration_s = time.monotonic() - started
    _remove_containers(client, watch.containers)
    watch.outcome.log_tail = list(watch.tail)
    if watch.error is not None:
        raise _build_error(watch)
    if not watch.outcome.image_id:
        try:
            watch.outcome.image_id = str(client.images.get(tag).id)
        except docker.errors.DockerException as exc:
            raise TargetError(f"the build of {tag} reported no image: {_short(exc)}") from exc
    return watch.outcome


def _build_error(watch: _BuildWatch) -> Exception:
    error = watch.error or "the build failed"
    tail = "\n".join(f"    {line}" for line in watch.tail)
    where = f" at {watch.step}" if watch.step else ""
    if any(s in error.lower() or s in tail.lower() for s in _DISK_FULL):
        return OutputError(f"the Docker engine ran out of disk space{where}: {error}; free space where it keeps "
                           f"images (`docker system df`, `docker builder prune`, `docker image prune`)")
    return TargetError(f"docker build failed{where}: {error}\n  last lines of the build log:\n{tail}")


def _remove_containers(client: Any, ids: list[str]) -> None:
    """Remove the build's step containers that the engine left (a cancelled or crashed build)."""
    docker = sdk()
    for container_id in ids:
        try:
            client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError:
            continue


def image_facts(client: Any, tag: str) -> dict[str, Any]:
    """The built image's id, size, user and labels, as `docker inspect` has them."""
    image = client.images.get(tag)
    attrs = image.attrs
    config = attrs.get("Config") or {}
    return {"id": image.id, "size_bytes": int(attrs.get("Size") or 0), "user": config.get("User") or "",
            "labels": dict(config.get("Labels") or {})}
