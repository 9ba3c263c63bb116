"""What a built environment holds: the framework's name, version and build, read from its files.

The `Ready:` line says what was installed, not what was planned: a conda
prefix is read from its `conda-meta/*.json` records, a virtual environment
from its `*.dist-info/METADATA`. Nothing is imported or run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

#: The package that carries each framework's version and build, per packaging world.
CONDA_PACKAGE = {"pytorch": "pytorch", "tensorflow": "tensorflow", "jax": "jaxlib"}
WHEEL_DISTS = {"pytorch": ("torch",), "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-rocm"),
               "jax": ("jaxlib", "jax")}


@dataclass(frozen=True)
class Installed:
    name: str  # "torch", "pytorch", "jaxlib"
    version: str  # "2.13.0+cpu"
    build: str | None  # "cpu", "cu126", "cuda126_py311_h1_300"

    def describe(self) -> str:
        return f"{self.name} {self.version}" + (f" ({self.build})" if self.build else "")

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "version": self.version, "build": self.build}


def from_conda_prefix(prefix: Path, framework: str) -> Installed | None:
    """The framework's record in a conda prefix (`conda-meta/<name>-<version>-<build>.json`)."""
    name = CONDA_PACKAGE.get(framework, framework)
    for record in sorted((prefix / "conda-meta").glob(f"{name}-*.json")):
        try:
            doc = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("name") == name and isinstance(doc.get("version"), str):
            build = doc.get("build")
            return Installed(name, doc["version"], build if isinstance(build, str) else None)
    return None


def from_venv(prefix: Path, framework: str) -> Installed | None:
    """The framework's distribution in a virtual environment's site-packages; the build is the local label."""
    for dist in WHEEL_DISTS.get(framework, (framework,)):
        pattern = dist.replace("-", "_")
        for meta in sorted(prefix.glob(f"lib/python*/site-packages/{pattern}-*.dist-info/METADATA")):
            version = _metadata_version(meta)
            if version is None:
                continue
            label = version.partition("+")[2] or None
            return Installed(dist, version, label)
    return None


def _metadata_version(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(16384)  # the headers come first; a long description may follow
    except OSError:
        return None
    match = re.search(r"^Version:\s*(\S+)\s*$", head, re.MULTILINE)
    return match.group(1) if match else None
