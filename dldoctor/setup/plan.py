"""The plan: which framework build, for which Python and platforms, where, and why.

`make_plan` reads the machine's facts (this one's snapshot, or one given with
`--snapshot`, or a CUDA version given with `--cuda`) and the knowledge base,
and explains each choice in one line. A variant that cannot work on the
target machine is refused with the reason, unless `force`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dldoctor import variants
from dldoctor.errors import UsageError
from dldoctor.knowledge import vocabulary
from dldoctor.knowledge.versions import release_key
from dldoctor.paths import data_dir
from dldoctor.setup.docker.base_images import base_image_pythons
from dldoctor.setup.platforms import conda_subdir
from dldoctor.snapshot.facts import Facts
from dldoctor.variants.choice import variant_kind

BACKENDS = ("conda", "venv", "docker")
LOCK_MODES = ("auto", "locked", "frozen")
#: What each framework expects to find beside it, in every backend (torch warns "Failed to initialize NumPy"
#: on every import without numpy; TensorFlow and JAX need it too). Same names on PyPI and conda-forge.
COMPANIONS = {"pytorch": ("numpy",), "tensorflow": ("numpy",), "jax": ("numpy",)}
_VARIANT_RE = re.compile(r"^(auto|cpu|cuda(\d+)(\.\d+)?|rocm(\d+(?:\.\d+)*))$")


@dataclass(frozen=True)
class SetupRequest:
    """What the person asked for, as given on the command line."""

    framework: str  # "pytorch", "pytorch==2.5", "tensorflow", "jax"
    backend: str = "conda"  # "auto": the one that can work here (setup.choose.plan_with_usable_backend)
    variant: str = "auto"
    python: str | None = None  # "3.11"
    platforms: tuple[str, ...] = ()
    channel: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    prefix: Path | None = None
    out_dir: Path = Path(".")
    cuda: str | None = None  # lock for a machine whose driver supports this CUDA
    force: bool = False
    update: bool = False
    #: "auto" (re-solve when the input changed), "locked" (fail when the lock is stale), "frozen" (install the
    #: existing lock as it is, no solve), as uv and pixi name them.
    lock_mode: str = "auto"
    #: Backend-specific options (docker: tag, base_image, docker_platform, dockerfile_only).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    framework: str
    version: str | None  # the requested release ("2.5"), None for the newest
    python: str
    variant: str  # "cpu", "cuda12.6", "rocm7.2"
    backend: str
    platforms: tuple[str, ...]
    channel: str | None
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    prefix: Path
    out_dir: Path
    cuda_driver_version: str | None  # what the target machine's driver supports (virtual package __cuda)
    capabilities: tuple[str, ...]
    gfx_targets: tuple[str, ...]
    glibc: str | None
    reasons: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    forced: bool = False
    update: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    #: The CUDA an image must require of its host (NVIDIA_REQUIRE_CUDA); never more than the planned host's driver has.
    require_cuda: str | None = None
    #: The target machine's Linux kernel as X.Y[.Z] (the snapshot's; conda's `__linux`), None when unknown.
    kernel: str | None = None
    lock_mode: str = "auto"  # see SetupRequest.lock_mode

    @property
    def release(self) -> str | None:
        """The release every backend pins: the requested or chosen one, else the newest dldoctor knows."""
        return self.version or variants.newest(self.framework)

    @property
    def kind(self) -> str:
        """"cpu", "cuda" or "rocm"."""
        return variant_kind(self.variant)

    @property
    def cuda_version(self) -> str | None:
        return self.variant.removeprefix("cuda") if self.kind == "cuda" else None

    @property
    def torch_index_variant(self) -> str:
        """The download.pytorch.org index name: "cu126", "rocm7.2", "cpu"."""
        if self.kind == "cuda" and self.cuda_version:
            return "cu" + self.cuda_version.replace(".", "")
        return self.variant

    def to_json(self) -> dict[str, Any]:
        return {
            "framework": self.framework, "version": self.version, "python": self.python, "variant": self.variant,
            "backend": self.backend, "platforms": list(self.platforms), "channel": self.channel,
            "index_url": self.index_url, "prefix": str(self.prefix), "out_dir": str(self.out_dir),
            "cuda_driver_version": self.cuda_driver_version, "capabilities": list(self.capabilities),
            "gfx_targets": list(self.gfx_targets), "reasons": [{"choice": c, "why": w} for c, w in self.reasons],
            "forced": self.forced, "require_cuda": self.require_cuda, "release": self.release,
            "kernel": self.kernel,
        }


def parse_framework(text: str) -> tuple[str, str | None]:
    """"pytorch==2.5" -> ("pytorch", "2.5"); "jax" -> ("jax", None)."""
    name, sep, raw_version = text.partition("==")
    key = vocabulary.canonical(name)
    if key is None:
        raise UsageError(f"unknown framework {name!r}: choose pytorch, tensorflow or jax (optionally ==VERSION)")
    if not sep:
        return key, None
    version = raw_version.strip()
    if not re.fullmatch(r"\d+(\.\d+){0,2}", version):
        raise UsageError(f"{text!r}: the version must look like 2.5 or 2.5.1")
    return key, version


def parse_variant(text: str) -> str:
    value = text.strip().lower()
    match = _VARIANT_RE.match(value)
    if not match:
        raise UsageError(f"--variant {text!r}: use auto, cpu, cudaX.Y (e.g. cuda12.6; cuda13 for JAX) or rocmX.Y")
    if match.group(2) and not match.group(3):
        value += ".0"  # "cuda13" (JAX's naming) is CUDA 13.0 and later minors
    return value


def default_platform(facts: Facts) -> str:
    """The conda subdir of the facts' machine ("linux-64", "osx-arm64", ...)."""
    return conda_subdir(facts.os, facts.arch)


def kernel_version(text: str | None) -> str | None:
    """A kernel release as conda's `__linux` wants it: "6.8.0-1015-aws" -> "6.8.0", "5.15" -> "5.15"."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", (text or "").strip())
    if match is None:
        return None
    return ".".join(g for g in match.groups() if g is not None)


def default_prefix(framework: str, backend: str) -> Path:
    return data_dir("envs", f"{framework}-{backend}")


def stale_lock(path: Path, why: str) -> UsageError:
    """The error of `--locked` when the lock no longer answers the plan."""
    return UsageError(f"{path} is stale ({why}) and --locked forbids re-solving it: run without --locked to update "
                      "the lock (then commit it), or --frozen to install it as it is")


def missing_lock(path: Path) -> UsageError:
    return UsageError(f"--frozen installs an existing lock, and there is no {path}: run once without --frozen to make it")


def with_reason(plan: Plan, choice: str, why: str) -> Plan:
    return replace(plan, reasons=(*plan.reasons, (choice, why)))


def _choose(target: variants.Target, framework: str, version: str | None, requested: str,
            force: bool) -> tuple[variants.Choice | None, str, str]:
    """(the chooser's answer, the variant, why) for the request; a variant that cannot work is refused unless forced."""
    if requested == "auto":
        choice = variants.choose(target, framework, version)
        if version and choice.kind == "cpu" and choice.alternatives and not force:
            raise UsageError(f"{framework}=={version} cannot use this machine's GPU: {choice.reason} "
                             f"(--variant cpu builds the CPU one)")
        return choice, choice.variant, choice.reason
    release = version or variants.newest(framework) or ""
    refusal = variants.refusal(target, framework, release, requested)
    if refusal and not force:
        raise UsageError(f"{requested} cannot work on the target machine: {refusal} (--force builds it anyway)")
    return None, requested, "as requested" + (f", forced although {refusal}" if refusal else "")


def make_plan(facts: Facts, request: SetupRequest) -> Plan:
    """Choose everything the setup needs and say why; refuse what cannot work unless forced."""
    if request.lock_mode not in LOCK_MODES:
        raise UsageError(f"lock mode {request.lock_mode!r}: choose {', '.join(LOCK_MODES)}")
    if request.lock_mode != "auto" and request.update:
        raise UsageError(f"--{request.lock_mode} keeps the lock as it is; --update re-solves it: choose one")
    framework, version = parse_framework(request.framework)
    if request.backend not in BACKENDS:
        raise UsageError(f"--backend {request.backend!r}: choose {', '.join(BACKENDS)}")
    requested_variant = parse_variant(request.variant)
    if request.python is not None and not re.fullmatch(r"3\.\d{1,2}", request.python):
        raise UsageError(f"--python {request.python!r}: give a Python version such as 3.11")
    target = variants.target_from_facts(facts, request.cuda)
    choice, variant, why = _choose(target, framework, version, requested_variant, request.force)
    # The chooser may pick an older release than the newest (the newest has no build for this driver): pin it.
    chosen = variants.pinned(choice) if choice is not None and not version else None
    release = version or chosen
    reasons: list[tuple[str, str]] = [
        (f"{framework} {release or 'newest'}",
         "as requested" if version else "the newest release with a build that fits" if chosen else
         "the newest release dldoctor knows"),
        (variant, why),
    ]
    require_cuda = choice.require_cuda if choice is not None else (variant.removeprefix("cuda") if
                                                                   variant.startswith("cuda") else None)
    python, python_why = _python_for(request, framework, release or variants.newest(framework), variant, require_cuda)
    reasons.insert(1, (f"Python {python}", python_why))
    platforms = request.platforms or (default_platform(facts),)
    reasons.append((", ".join(platforms), "as requested" if request.platforms else "this machine's platform"))
    prefix = request.prefix or default_prefix(framework, request.backend)
    return Plan(
        framework=framework, version=release, python=python, variant=variant, backend=request.backend,
        platforms=tuple(platforms), channel=request.channel, index_url=request.index_url,
        extra_index_urls=request.extra_index_urls, find_links=request.find_links, prefix=prefix,
        out_dir=request.out_dir, cuda_driver_version=target.cuda_driver, capabilities=target.capabilities,
        gfx_targets=target.gfx, glibc=target.glibc, reasons=tuple(reasons), forced=request.force,
        update=request.update, options=dict(request.options), require_cuda=require_cuda, lock_mode=request.lock_mode,
        kernel=kernel_version(facts.raw.get("host", {}).get("kernel") if isinstance(facts.raw.get("host"), dict)
                              else None),
    )


DEFAULT_PYTHON = "3.11"


def _python_for(request: SetupRequest, framework: str, release: str | None, variant: str,
                require_cuda: str | None) -> tuple[str, str]:
    """The Python version and why: as asked; for an image, one its runtime base has; one the release
    publishes wheels for; else the default."""
    from dldoctor.knowledge.pytorch import torch_python_range

    span = torch_python_range(release) if framework == "pytorch" and release else None
    if request.python:
        if span and not _within(request.python, span):
            raise UsageError(f"--python {request.python}: PyTorch {release} publishes wheels for Python {span[0]} to "
                             f"{span[1]} only")
        return request.python, "as requested"
    if request.backend == "docker" and not request.options.get("base_image"):
        offered = base_image_pythons(variant, require_cuda)
        if offered and DEFAULT_PYTHON not in offered:
            return offered[-1], f"the Python of the {variant} runtime base image (it offers {', '.join(offered)})"
    if span and not _within(DEFAULT_PYTHON, span):
        return span[1], f"the newest Python PyTorch {release} publishes wheels for ({span[0]} to {span[1]})"
    return DEFAULT_PYTHON, "a version every recent release supports"


def _within(python: str, span: tuple[str, str]) -> bool:
    return release_key(span[0]) <= release_key(python) <= release_key(span[1])
