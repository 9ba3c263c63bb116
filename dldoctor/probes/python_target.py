"""The Python interpreter whose packages dldoctor inspects.

By default: the active virtual environment, else the active conda
environment, else the interpreter the user runs (`python3`, then `python`, on
PATH); `--python` names another. dldoctor's own private environment (the one
install.sh makes) is never inspected unless `--python` names it. Another
interpreter is asked for its `sys.path` with a stdlib-only snippet in a child
process (nothing is imported into dldoctor).

`other_environments` lists the environments a user may mean instead (the
active ones, `.venv` in the current folder, conda's environments), read from
their files alone.
"""

from __future__ import annotations

import json
import os
import re
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


#: The marker install.sh writes into DLDOCTOR_HOME, beside dldoctor's own `venv/`.
INSTALLER_MARKER = ".dldoctor-installer"
#: What `choose_interpreter` says when nothing is active and PATH has no Python.
NO_PYTHON_ON_PATH = ("no python3 or python on PATH (dldoctor's own environment is not inspected; "
                     "--python names an interpreter)")


def own_environments(machine: Machine) -> set[str]:
    """The prefixes of dldoctor's own private environment: install.sh's `venv/` (DLDOCTOR_HOME, the user's
    default, root's default) and, when dldoctor runs from such an environment, its own sys.prefix."""
    homes = {machine.env.get("DLDOCTOR_HOME") or "", f"{machine.home()}/.local/share/dldoctor", "/opt/dldoctor"}
    own = {os.path.normpath(f"{home}/venv") for home in homes if home}
    if machine.is_local and sys.prefix != sys.base_prefix \
            and os.path.exists(os.path.join(os.path.dirname(sys.prefix), INSTALLER_MARKER)):
        own.add(os.path.normpath(sys.prefix))
    return own


def _prefix_of(executable: str) -> str:
    """The environment an interpreter path belongs to (`<prefix>/bin/python3`), without following the link
    a venv's interpreter is."""
    return os.path.normpath(os.path.dirname(os.path.dirname(os.path.abspath(executable))))


def choose_interpreter(machine: Machine, explicit: str | None) -> tuple[str | None, str]:
    """The interpreter to inspect and why it was chosen (None: there is none to inspect)."""
    if explicit:
        return explicit, "--python"
    for var, label in (("VIRTUAL_ENV", "active virtual environment"), ("CONDA_PREFIX", "active conda environment")):
        prefix = machine.env.get(var)
        if prefix:
            candidate = os.path.join(prefix, "bin", "python")
            if os.access(machine.path(candidate), os.X_OK):
                return str(machine.path(candidate)), f"{label} ({var})"
    own = own_environments(machine)
    for name in ("python3", "python"):
        for candidate in machine.which_all(name):
            if _prefix_of(candidate) not in own:
                return candidate, f"{name} on PATH"
    return None, "PATH"


def inspect_python(machine: Machine, explicit: str | None = None) -> PythonTarget:
    """Ask the target interpreter for its version and `sys.path` (memoized per machine)."""
    return machine.memo(f"python_target:{explicit}", lambda: _inspect(machine, explicit))  # type: ignore[no-any-return]  # memo is untyped


def _inspect(machine: Machine, explicit: str | None) -> PythonTarget:
    executable, why = choose_interpreter(machine, explicit)
    if executable is None:
        return PythonTarget("", None, None, None, (), None, False, why, error=NO_PYTHON_ON_PATH)
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


@dataclass(frozen=True)
class OtherEnvironment:
    """An environment found on the machine that is not the one inspected."""

    prefix: str  # machine path
    kind: str  # "venv" or "conda"
    found_by: str  # "VIRTUAL_ENV", ".venv in the current folder", "conda", ...

    def target(self, machine: Machine) -> PythonTarget:
        """Its interpreter as read from its files (no child process): the site-packages folders on its path."""
        sites = [*machine.glob(f"{self.prefix}/lib/python3*/site-packages"),
                 *machine.glob(f"{self.prefix}/Lib/site-packages")]
        version = None
        for site_dir in sites:
            match = re.search(r"/python(3\.\d+)/site-packages$", site_dir)
            if match:
                version = match.group(1)
                break
        return PythonTarget(f"{self.prefix}/bin/python", version, self.prefix, None, tuple(sites), None, False,
                            f"found: {self.found_by}")


#: At most this many other environments are listed (a machine with hundreds of conda envs).
MAX_OTHER_ENVIRONMENTS = 32


def other_environments(machine: Machine, inspected: PythonTarget) -> list[OtherEnvironment]:
    """The environments a user may mean besides the inspected one: the active ones, `.venv` in the current
    folder, and conda's (its base, its `envs/` folders, `~/.conda/environments.txt`). dldoctor's own private
    environment is never listed."""
    found: list[OtherEnvironment] = []
    for var, kind in (("VIRTUAL_ENV", "venv"), ("CONDA_PREFIX", "conda")):
        if machine.env.get(var):
            found.append(OtherEnvironment(machine.env[var], kind, var))
    if machine.cwd:
        found.append(OtherEnvironment(f"{machine.cwd.rstrip('/')}/.venv", "venv", ".venv in the current folder"))
    for prefix in _conda_prefixes(machine):
        found.append(OtherEnvironment(prefix, "conda", "conda"))
    skip = own_environments(machine)
    if inspected.prefix:
        skip.add(os.path.normpath(inspected.prefix))
    out: list[OtherEnvironment] = []
    for env in found:
        key = os.path.normpath(env.prefix)
        marker = "pyvenv.cfg" if env.kind == "venv" else "conda-meta"
        if key in skip or not machine.exists(f"{key}/{marker}"):
            continue
        skip.add(key)
        out.append(OtherEnvironment(key, env.kind, env.found_by))
    return out[:MAX_OTHER_ENVIRONMENTS]


def _conda_prefixes(machine: Machine) -> list[str]:
    """conda's environments, read from its files: every root (CONDA_EXE, MAMBA_ROOT_PREFIX, a conda, mamba or
    micromamba on PATH, ~/miniforge3 and the like), its `envs/*`, and those listed in ~/.conda/environments.txt."""
    roots: list[str] = []
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        if machine.env.get(var):
            roots.append(os.path.dirname(os.path.dirname(machine.env[var])))
    if machine.env.get("MAMBA_ROOT_PREFIX"):
        roots.append(machine.env["MAMBA_ROOT_PREFIX"])
    for name in ("conda", "mamba", "micromamba"):
        path = machine.runner.which(name)
        if path:
            roots.append(os.path.dirname(os.path.dirname(os.path.realpath(path))))
    home = machine.home()
    roots.extend(f"{home}/{name}" for name in ("miniforge3", "miniconda3", "anaconda3", "mambaforge", "micromamba"))
    prefixes: list[str] = []
    for root in roots:
        prefixes.append(root)
        prefixes.extend(machine.glob(f"{root}/envs/*"))
    listed = machine.read_text(f"{home}/.conda/environments.txt", limit=1 << 16) or ""
    prefixes.extend(line.strip() for line in listed.splitlines() if line.strip().startswith("/"))
    return prefixes
