"""One framework vocabulary: the names of each framework, read from frameworks.json.

Every command takes the same names for a framework (its key, display name,
import name or an alias, in any case: `pytorch`, `PyTorch`, `torch`), and every
module asks this one for the names it needs (the pip distribution of the GPU
build, the conda package that pins the build, the import name the smoke
payload takes, the distributions the probe looks for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FrameworkNames:
    """The names one framework goes by."""

    key: str  # "pytorch": the name in snapshots, findings and plans
    display: str  # "PyTorch"
    import_name: str | None  # "torch": also what the smoke payload takes
    aliases: tuple[str, ...]  # ("torch",)
    installed_as: tuple[str, ...]  # the distributions that mean it is installed, preferred first
    gpu_pip: str | None  # "paddlepaddle-gpu": the PyPI distribution of the GPU build
    conda_build_package: str | None  # "jaxlib": the conda package whose build string pins the build
    main: bool  # dldoctor chooses builds for it and the smoke payload tests it
    gpu_capable: bool

    @property
    def build_distribution(self) -> str:
        """The distribution that carries the build ("torch", "jaxlib"); the key when it has none."""
        return self.installed_as[0] if self.installed_as else self.key

    @property
    def typed_names(self) -> tuple[str, ...]:
        """Every name a user may type for it."""
        return tuple(n for n in (self.key, self.display, self.import_name, *self.aliases) if n)


def _key(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text.strip().lower())


def _names(row: dict[str, Any]) -> FrameworkNames:
    return FrameworkNames(
        key=str(row["key"]),
        display=str(row["name"]),
        import_name=str(row["import"]) if row.get("import") else None,
        aliases=tuple(str(a) for a in row.get("aliases") or ()),
        installed_as=tuple(str(d) for d in row.get("installed_as") or ()),
        gpu_pip=str(row["gpu_pip"]) if row.get("gpu_pip") else None,
        conda_build_package=str(row["conda_build_package"]) if row.get("conda_build_package") else None,
        main=bool(row.get("main")),
        gpu_capable=bool(row.get("gpu_capable")),
    )


_read: tuple[object, tuple[FrameworkNames, ...]] | None = None


def all_frameworks() -> tuple[FrameworkNames, ...]:
    """Every framework of the table, in table order."""
    global _read
    from dldoctor.knowledge.tables import table as load

    table = load("frameworks")  # cached there; a new object when --knowledge-dir changes it
    if _read is None or _read[0] is not table:
        _read = (table, tuple(_names(row) for row in table.rows))
    return _read[1]


def main_frameworks() -> tuple[str, ...]:
    """The keys of the frameworks dldoctor chooses builds for and smoke-tests: pytorch, tensorflow, jax."""
    return tuple(fw.key for fw in all_frameworks() if fw.main)


def lookup(name: str) -> FrameworkNames | None:
    """The framework a user means by `name` (key, display name, import name or alias, any case)."""
    wanted = _key(name)
    if not wanted:
        return None
    for fw in all_frameworks():
        if wanted in {_key(n) for n in fw.typed_names}:
            return fw
    return None


def names(key: str) -> FrameworkNames:
    """The names of the framework `key` (a canonical key, as in a snapshot or a plan)."""
    found = lookup(key)
    if found is None:
        raise KeyError(key)
    return found


def build_distribution(name: str) -> str:
    """The distribution that carries the build of framework `name` ("pytorch" -> "torch", "jax" -> "jaxlib");
    `name` itself when the table does not know it."""
    known = lookup(name)
    return known.build_distribution if known is not None else name


def canonical(name: str) -> str | None:
    """The key of the main framework a user means by `name` ("torch", "TF", "jaxlib"); None when
    `name` is no main framework. Each command words its own error for None."""
    found = lookup(name)
    return found.key if found is not None and found.main else None


def accepted_names() -> str:
    """The names `canonical` accepts, for help and error text: "pytorch (torch), tensorflow (tf), jax"."""
    out = []
    for fw in all_frameworks():
        if fw.main:
            others = [a for a in dict.fromkeys((fw.import_name or "", *fw.aliases)) if a and a != fw.key]
            out.append(f"{fw.key} ({', '.join(others)})" if others else fw.key)
    return ", ".join(out)
