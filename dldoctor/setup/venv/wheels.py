"""Wheel-index plumbing for the venv backend: what to ask for, where from, for which target, and the lock file.

Everything here is pure (no subprocess): the requirement lines for a plan,
the package sources (the PyTorch variant index, PyPI, mirrors, local wheel
folders), the target's platform tags, the input hash that decides whether a
lock is still current, and the lock file itself (pip's hash-checking
requirements format, so `pip install --require-hashes -r` reproduces it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from dldoctor import __version__
from dldoctor.knowledge.versions import release_key
from dldoctor.output import sha256_file
from dldoctor.errors import TargetError, UsageError
from dldoctor.probes.frameworks import canonical as canonical_name
from dldoctor.setup.plan import COMPANIONS, Plan
from dldoctor.setup.platforms import TargetPlatform
from dldoctor.variants.tensorflow import pip_name as tensorflow_pip_name

PYPI = "https://pypi.org/simple"
TORCH_INDEX = "https://download.pytorch.org/whl"
#: A mirror of download.pytorch.org/whl (same <variant>/ layout) used instead of it.
TORCH_INDEX_ENV = "DLDOCTOR_TORCH_INDEX"
#: `--index-url none`: use no index at all (offline, with --find-links).
NO_INDEX = ("none", "no", "off")
LOCK_SCHEMA = "1"
SPEC_NAME = "requirements.in"
LOCK_NAME = "requirements.lock"



@dataclass(frozen=True)
class Sources:
    """Where packages come from; written at the top of both the spec and the lock."""

    index_url: str | None  # None: no index (--no-index)
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The requirements-file option lines pip and uv both read."""
        out = [f"--index-url {self.index_url}" if self.index_url else "--no-index"]
        out += [f"--extra-index-url {u}" for u in self.extra_index_urls]
        out += [f"--find-links {f}" for f in self.find_links]
        return out

    def describe(self) -> str:
        parts = [f"index {self.index_url}" if self.index_url else "no index"]
        parts += [f"extra index {u}" for u in self.extra_index_urls]
        parts += [f"find-links {f}" for f in self.find_links]
        return ", ".join(parts)


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    hashes: tuple[str, ...]  # "sha256:<hex>"
    size: int | None = None  # bytes, when the resolver knew it (local files)


def torch_index_base(override: str | None = None) -> str:
    """download.pytorch.org/whl, or the mirror named by the argument or $DLDOCTOR_TORCH_INDEX."""
    return (override or os.environ.get(TORCH_INDEX_ENV) or TORCH_INDEX).rstrip("/")


def plan_sources(plan: Plan, torch_index: str | None = None) -> Sources:
    """The package sources for a plan.

    With no --index-url/--extra-index-url/--find-links, PyTorch comes from its
    variant index (which also hosts torch's dependencies) and JAX and
    TensorFlow from PyPI. Any of those options hands the choice to the person:
    the index is theirs (PyPI when only extras or find-links are given); the
    lock step then proves the torch it got is the planned variant.
    """
    finds = tuple(_absolute_link(f) for f in plan.find_links)
    overridden = bool(plan.index_url or plan.extra_index_urls or plan.find_links)
    if not overridden:
        return Sources(default_index(plan.framework, plan.torch_index_variant, torch_index))
    index: str | None = plan.index_url or PYPI
    if index is not None and index.strip().lower() in NO_INDEX:
        index = None
    return Sources(index, tuple(plan.extra_index_urls), finds)


def default_index(framework: str, torch_variant: str, torch_index: str | None = None) -> str:
    """The index a framework's wheels come from when no source is given: PyTorch's variant index, else PyPI."""
    if framework == "pytorch":
        return f"{torch_index_base(torch_index)}/{torch_variant}"
    return PYPI


def _absolute_link(link: str) -> str:
    """A find-links folder as an absolute path, so the lock works from any directory."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", link, re.IGNORECASE):
        return link
    return str(Path(link).expanduser().resolve())


def pin(version: str) -> str:
    """"2.13" -> "==2.13.*"; "2.13.0" -> "==2.13.0"."""
    return f"=={version}" if version.count(".") >= 2 else f"=={version}.*"


def newest_torch() -> str:
    """The newest PyTorch release the knowledge base has a row for."""
    from dldoctor.knowledge.pytorch import torch_releases

    versions = [v for v in torch_releases() if v]
    if not versions:
        raise TargetError("the knowledge base lists no PyTorch release")
    return max(versions, key=release_key)


def requirement_lines(plan: Plan) -> list[str]:
    """The top-level requirements: the framework's build, then what it expects beside it (numpy)."""
    return [*_framework_lines(plan), *COMPANIONS.get(plan.framework, ())]


def _framework_lines(plan: Plan) -> list[str]:
    """The framework's requirement for the plan's release and variant.

    torch is always pinned: an unpinned `torch` on Linux can resolve to a
    multi-GB CUDA build from PyPI whatever variant was planned.
    """
    if plan.framework == "pytorch":
        return [f"torch{pin(plan.release or newest_torch())}"]
    version = pin(plan.release) if plan.release else ""
    if plan.framework == "jax":
        if plan.kind == "rocm":
            raise UsageError("the venv backend has no JAX ROCm build (AMD publishes it as a container: use --backend docker)")
        if plan.kind == "cuda":
            major = (plan.cuda_version or "12").split(".")[0]
            return [f"jax[cuda{major}]{version}"]
        return [f"jax{version}"]
    if plan.framework == "tensorflow":
        if plan.kind == "rocm":
            return [f"tensorflow-rocm{version}"]
        if plan.kind == "cuda":  # before 2.14 there is no [and-cuda] extra: CUDA and cuDNN come from the system
            return [f"{tensorflow_pip_name(plan.release, 'cuda')}{version}"]
        return [f"tensorflow{version}"]
    raise UsageError(f"the venv backend cannot install {plan.framework!r}")


def input_hash(plan: Plan, requirements: list[str], sources: Sources, platform: TargetPlatform) -> str:
    """What the lock depends on: the same hash means the same question, so the old answer stands."""
    doc: dict[str, Any] = {
        "schema": LOCK_SCHEMA, "framework": plan.framework, "variant": plan.variant, "python": plan.python,
        "platform": platform.uv, "requirements": requirements, "sources": sources.lines(),
    }
    return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def render_spec(plan: Plan, requirements: list[str], sources: Sources) -> str:
    """requirements.in: what was asked, readable, with where it comes from."""
    reasons = "".join(f"#   {choice}: {why}\n" for choice, why in plan.reasons)
    return (
        f"# What `dldoctor setup {plan.framework} --backend venv` asked for (dldoctor {__version__}).\n"
        f"# The resolved, hash-pinned answer is {LOCK_NAME}; edit this file's inputs through dldoctor's options.\n"
        f"# Why:\n{reasons}"
        + "\n".join(sources.lines()) + "\n\n" + "\n".join(requirements) + "\n"
    )


def render_lock(header: dict[str, str], sources: Sources, packages: list[LockedPackage]) -> str:
    """requirements.lock: header comments, source lines, then every package pinned with its hashes."""
    lines = [f"# {LOCK_NAME} written by dldoctor {__version__} (venv backend). Do not edit:"
             " `dldoctor setup --update` re-solves it."]
    lines += [f"# {key}: {value}" for key, value in header.items()]
    lines += sources.lines()
    lines.append("")
    for pkg in sorted(packages, key=lambda p: canonical_name(p.name)):
        lines.append(f"{canonical_name(pkg.name)}=={pkg.version} \\")
        lines += [f"    --hash={h}" + (" \\" if i < len(pkg.hashes) - 1 else "") for i, h in enumerate(pkg.hashes)]
    return "\n".join(lines) + "\n"


def read_lock_header(text: str) -> dict[str, str]:
    """The `# key: value` lines at the top of a lock."""
    header: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(": ")
        if sep and re.fullmatch(r"[a-z-]+", key):
            header[key] = value.strip()
    return header


_PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_HASH_RE = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def parse_requirements_lock(text: str) -> list[LockedPackage]:
    """The pinned packages of a hash-checking requirements file (ours, or `uv pip compile --generate-hashes`)."""
    packages: list[LockedPackage] = []
    name = version = None
    hashes: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.lstrip().startswith("-") and "--hash=" not in line:
            continue
        match = _PIN_RE.match(line)
        if match:
            if name and version:
                packages.append(LockedPackage(name, version, tuple(hashes)))
            name, version, hashes = match.group(1), match.group(2), []
        hashes += _HASH_RE.findall(line)
    if name and version:
        packages.append(LockedPackage(name, version, tuple(hashes)))
    return packages


def parse_pip_report(doc: dict[str, Any]) -> list[LockedPackage]:
    """The packages of `pip install --dry-run --report`, each with the sha256 of the file pip chose."""
    packages: list[LockedPackage] = []
    for item in doc.get("install", []):
        meta = item.get("metadata", {})
        info = item.get("download_info", {})
        url = str(info.get("url", ""))
        digest = (info.get("archive_info") or {}).get("hashes", {}).get("sha256")
        size: int | None = None
        local = _local_path(url)
        if local is not None and local.is_file():
            size = local.stat().st_size
            if not digest:
                digest = sha256_file(local)
        if not digest:
            raise TargetError(f"the index gave {meta.get('name')} without a sha256 and it is not a local file: "
                              "cannot lock it with a hash")
        packages.append(LockedPackage(str(meta["name"]), str(meta["version"]), (f"sha256:{digest}",), size))
    return packages


def _local_path(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None



def check_torch_variant(plan: Plan, packages: list[LockedPackage], platform: TargetPlatform) -> str | None:
    """Prove the locked torch is the planned build; return a warning when forced past a mismatch.

    download.pytorch.org labels every Linux build (2.13.0+cu126, +rocm7.2, +cpu);
    PyPI's unlabelled Linux torch is a CUDA build of its own choosing, the very
    mix-up this backend exists to prevent.
    """
    if plan.framework != "pytorch":
        return None
    torch = next((p for p in packages if canonical_name(p.name) == "torch"), None)
    if torch is None:
        raise TargetError("the lock has no torch package: the sources did not provide it")
    label = torch.version.partition("+")[2]
    want = plan.torch_index_variant
    if label == want or (not label and want == "cpu" and not platform.name.startswith("linux-")):
        return None
    got = f"a +{label} build" if label else "an unlabelled build (on Linux, PyPI's default CUDA build)"
    message = (f"the sources gave torch {torch.version}, {got}, not the planned {want} build: add "
               f"--extra-index-url {TORCH_INDEX}/{want} (or its mirror) or a --find-links folder holding it")
    if plan.forced:
        return message
    raise TargetError(message)
