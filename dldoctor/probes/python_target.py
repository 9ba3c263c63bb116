"""The Python interpreter whose packages dldoctor inspects.

By default: the active virtual environment, else the active conda
environment, else the interpreter dldoctor itself runs under; `--python`
names another. Another interpreter is asked for its `sys.path` with a
stdlib-only snippet in a child process (nothing is imported into dldoctor).
"""

from __future__ import annotations

import json
import os
import site
import sys
from dataclasses import dataclass
from typing import Any

from dldoctor.machine import Machine

_INSPECT_SNIPPET = r"""
import json, site, sys
try:
    user_site = site.getusersitepackages()
except Exception:
    user_site = None
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "path": [p for p in sys.path if p],
    "user_site": user_site,
    "user_site_enabled": bool(site.ENABLE_USER_SITE),
    "platform": sys.platform,
}))
"""


@dataclass(frozen=True)
class PythonTarget:
    executable: str
    version: str | None
    prefix: str | None
    base_prefix: str | None
    sys_path: tuple[str, ...]
    user_site: str | None
    user_site_enabled: bool
    chosen_because: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "executable": self.executable,
            "version": self.version,
            "prefix": self.prefix,
            "is_venv": self.prefix != self.base_prefix if self.prefix and self.base_prefix else None,
            "is_conda": None,
            "sys_path": list(self.sys_path),
            "user_site": self.user_site,
            "user_site_enabled": self.user_site_enabled,
            "chosen_because": self.chosen_because,
            "error": self.error,
        }


def choose_interpreter(machine: Machine, explicit: str | None) -> tuple[str, str]:
    """The interpreter to inspect and why it was chosen."""
    if explicit:
        return explicit, "--python"
    for var, label in (("VIRTUAL_ENV", "active virtual environment"), ("CONDA_PREFIX", "active conda environment")):
        prefix = machine.env.get(var)
        if prefix:
            candidate = os.path.join(prefix, "bin", "python")
            if os.access(machine.path(candidate), os.X_OK):
                return str(machine.path(candidate)), f"{label} ({var})"
    return machine.own_python, "the interpreter dldoctor runs under"


def inspect_python(machine: Machine, explicit: str | None = None) -> PythonTarget:
    """Ask the target interpreter for its version and `sys.path` (memoized per machine)."""
    return machine.memo(f"python_target:{explicit}", lambda: _inspect(machine, explicit))  # type: ignore[no-any-return]  # memo is untyped


def _inspect(machine: Machine, explicit: str | None) -> PythonTarget:
    executable, why = choose_interpreter(machine, explicit)
    # A venv interpreter is a symlink to its base one: compare the paths, not the files.
    if machine.is_local and os.path.abspath(executable) == os.path.abspath(sys.executable):
        return PythonTarget(
            executable=sys.executable,
            version=".".join(str(n) for n in sys.version_info[:3]),
            prefix=sys.prefix,
            base_prefix=sys.base_prefix,
            sys_path=tuple(p for p in sys.path if p),
            user_site=site.getusersitepackages(),
            user_site_enabled=bool(site.ENABLE_USER_SITE),
            chosen_because=why,
        )
    run = machine.runner.run([executable, "-c", _INSPECT_SNIPPET, "dldoctor-inspect"], cwd=str(machine.root))
    if not run.ok:
        return PythonTarget(executable, None, None, None, (), None, False, why, error=run.describe_failure())
    try:
        data = json.loads(run.stdout.strip().splitlines()[-1])
        return PythonTarget(
            executable=str(data.get("executable") or executable),
            version=data.get("version"),
            prefix=data.get("prefix"),
            base_prefix=data.get("base_prefix"),
            sys_path=tuple(str(p) for p in data.get("path", [])),
            user_site=data.get("user_site"),
            user_site_enabled=bool(data.get("user_site_enabled")),
            chosen_because=why,
        )
    except (ValueError, IndexError, AttributeError, TypeError):
        return PythonTarget(executable, None, None, None, (), None, False, why,
                            error=f"not a Python interpreter (unexpected output {run.stdout[:80]!r})")
