"""The conda spec: `environment.yml` rendered from `envs/<framework>.yml`, read back per platform.

The spec pins the build the plan chose: a GPU plan pins the framework's
`cuda*` build and `cuda-version`, so the solver fails (clearly) instead of
falling back to the CPU build; a CPU plan pins `cpu*`. Platforms without
CUDA builds (macOS) get the CPU pins under a conda-lock platform selector.

The machine the lock is solved for is described by virtual packages taken
from the plan (the target's snapshot, or `--cuda`), never from the machine
that happens to run the solver, and never from conda-lock's stale defaults.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from dldoctor.errors import InputError, UsageError
from dldoctor.knowledge import vocabulary
from dldoctor.setup.plan import COMPANIONS, Plan
from dldoctor.setup.platforms import archspec

CONDA_FORGE = "conda-forge"
ENVS_DIR = Path(__file__).resolve().parents[2] / "templates" / "envs"  # ../envs in a checkout (a link), packaged in a wheel
SPEC_NAME = "environment.yml"
#: Bumped when the meaning of the input hash changes, so old locks are re-solved.
HASH_SCHEMA = "dldoctor.conda-spec/1"

#: The package whose build string carries the variant (jax: jaxlib), and packages that follow its version.
_VERSION_FOLLOWERS = {"jax": ("jax",)}

#: Baselines for virtual packages the snapshot does not record (conda-forge's current floors).
_DEFAULT_GLIBC = "2.28"
_DEFAULT_LINUX = "5.10"
_DEFAULT_OSX = {"osx-arm64": "11.0", "osx-64": "10.15"}


@dataclass(frozen=True)
class PlatformSpec:
    """What one platform of the lock is solved from."""

    platform: str
    channels: tuple[str, ...]  # channel URLs or names, as written in the spec
    specs: tuple[str, ...]  # match specs in rattler's syntax ("pytorch 2.5.* cuda*")
    virtual_packages: tuple[tuple[str, str, str], ...]  # (name, version, build)

    def input_hash(self) -> str:
        """The lock's `content_hash` for this platform: it changes when anything the solve sees changes."""
        content = {"schema": HASH_SCHEMA, "platform": self.platform, "channels": list(self.channels),
                   "specs": sorted(self.specs), "virtual_packages": [list(v) for v in self.virtual_packages]}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def virtual_packages_text(self) -> str:
        return " ".join(f"{n}={v}={b}" for n, v, b in self.virtual_packages)


def not_on_conda(plan: Plan) -> str | None:
    """Why the plan's variant cannot come from conda, or None when it can."""
    if plan.kind == "rocm":
        name = vocabulary.names(plan.framework).display
        return (f"{name} ROCm builds ({plan.variant}) are not published on conda channels; a conda environment "
                f"would not use the AMD GPU. Use `dldoctor setup {plan.framework} --backend venv` instead")
    return None


def has_cuda_builds(platform: str) -> bool:
    """conda-forge publishes CUDA builds for Linux and Windows, not for macOS."""
    return platform.startswith(("linux-", "win-"))


def channel_url(channel: str | None) -> str:
    """The channel as the solver and the lock name it: a local folder becomes a file:// URL."""
    if not channel:
        return CONDA_FORGE
    if "://" in channel:
        return channel.rstrip("/")
    path = Path(channel).expanduser()
    if channel.startswith((".", "/", "~")) or path.is_dir():
        if not path.is_dir():
            raise UsageError(f"--channel {channel!r}: no such folder")
        return path.resolve().as_uri()
    return channel  # a channel name on conda.anaconda.org


def _version_glob(version: str | None) -> str:
    if version is None:
        return "*"
    return version if version.count(".") >= 2 else f"{version}.*"


def _cuda_version_pin(plan: Plan) -> str:
    cuda = plan.cuda_version or ""
    # JAX's plan names only the CUDA major (cuda12.0): any 12.x runtime will do.
    return cuda.split(".")[0] if plan.framework == "jax" else cuda


def _pins(plan: Plan, gpu: bool) -> list[str]:
    version = _version_glob(plan.release)
    pinned = vocabulary.names(plan.framework).conda_build_package
    lines = [f"{name}={version}" for name in _VERSION_FOLLOWERS.get(plan.framework, ())]
    if gpu:
        lines += [f"{pinned}={version}=cuda*", f"cuda-version={_cuda_version_pin(plan)}"]
    else:
        lines.append(f"{pinned}={version}=cpu*")
    return lines


def render_spec(plan: Plan, name: str | None = None) -> str:
    """The readable environment.yml for `plan`, from `envs/<framework>.yml`."""
    refusal = not_on_conda(plan)
    if refusal:
        raise UsageError(refusal)
    template_path = ENVS_DIR / f"{plan.framework}.yml"
    try:
        template = Template(template_path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read the spec template {template_path}: {exc.strerror}") from exc
    gpu_platforms = [p for p in plan.platforms if plan.kind == "cuda" and has_cuda_builds(p)]
    cpu_platforms = [p for p in plan.platforms if p not in gpu_platforms]
    pin_lines: list[str] = []
    for platforms, gpu in ((gpu_platforms, True), (cpu_platforms, False)):
        if not platforms:
            continue
        selector = "" if len(platforms) == len(plan.platforms) else f"  # [{_selector(platforms, plan.platforms)}]"
        pin_lines += [f"  - {line}{selector}" for line in _pins(plan, gpu)]
    pin_lines += [f"  - {name}" for name in COMPANIONS.get(plan.framework, ())]
    why = ""
    if gpu_platforms and cpu_platforms:
        why = f"\n# {', '.join(cpu_platforms)}: no CUDA builds are published there, so those platforms get the CPU build."
    return template.substitute(
        release=plan.release or "(newest)", python=plan.python, variant=plan.variant, why=why,
        name=name or f"{plan.framework}-{plan.variant}",
        channels=f"  - {channel_url(plan.channel)}",
        pins="\n".join(pin_lines),
        platforms="\n".join(f"  - {p}" for p in plan.platforms),
    )


def _selector(group: list[str], all_platforms: tuple[str, ...]) -> str:
    """One conda-lock selector that picks exactly `group` out of `all_platforms`."""
    for selector in ("linux", "osx", "win"):
        if {p for p in all_platforms if p.startswith(selector + "-")} == set(group):
            return selector
    raise UsageError(f"cannot lock {', '.join(all_platforms)} together: split the platforms into separate runs")


def _to_rattler(dep: str) -> str:
    """conda's environment.yml syntax ("pytorch=2.5.*=cuda*") as a match spec rattler parses strictly."""
    dep = dep.strip()
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)=([^=<>!~,|\s]+)(?:=(\S+))?", dep)
    if match is None:
        return dep  # already a match spec ("numpy >=2", "python==3.11.9")
    name, version, build = match.groups()
    if not version.endswith("*"):
        version += ".*"  # conda's `name=1.2` means 1.2.*
    return f"{name} {version}" + (f" {build}" if build else "")


def read_spec(path: Path, plan: Plan) -> list[PlatformSpec]:
    """The spec file as each of the plan's platforms sees it (conda-lock's selector rules)."""
    import yaml  # type: ignore[import-untyped]  # PyYAML (via conda-lock) ships no stubs
    from conda_lock.src_parser.selectors import filter_platform_selectors  # type: ignore[import-untyped]  # conda-lock ships no type information

    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    result = []
    quiet = logging.getLogger("conda_lock.src_parser.selectors")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it warns about every line a selector leaves out, which is the point here
    try:
        for platform in plan.platforms:
            result.append(_platform_spec(path, yaml.safe_load, text, platform, plan, filter_platform_selectors))
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from exc
    finally:
        quiet.setLevel(level)
    return result


def _platform_spec(path: Path, load: Any, text: str, platform: str, plan: Plan, select: Any) -> PlatformSpec:
    doc = load("\n".join(select(text, platform)))
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
        raise InputError(f"{path} has no `dependencies` list")
    deps = [d for d in doc["dependencies"] if isinstance(d, str)]
    channels = tuple(channel_url(str(c)) for c in doc.get("channels") or [CONDA_FORGE])
    return PlatformSpec(platform, channels, tuple(_to_rattler(d) for d in deps), virtual_packages(plan, platform))


def virtual_packages(plan: Plan, platform: str) -> tuple[tuple[str, str, str], ...]:
    """The virtual packages of the target machine, for `platform`, from the plan's facts."""
    system, _, arch = platform.partition("-")
    found: list[tuple[str, str, str]] = []
    if system == "linux":
        found += [("__unix", "0", "0"), ("__linux", plan.kernel or _DEFAULT_LINUX, "0"),
                  ("__glibc", plan.glibc or _DEFAULT_GLIBC, "0")]
    elif system == "osx":
        found += [("__unix", "0", "0"), ("__osx", _DEFAULT_OSX.get(platform, "11.0"), "0")]
    elif system == "win":
        found.append(("__win", "0", "0"))
    if plan.cuda_driver_version and has_cuda_builds(platform):
        found.append(("__cuda", plan.cuda_driver_version, "0"))
    found.append(("__archspec", "1", archspec(arch)))
    return tuple(sorted(found))
