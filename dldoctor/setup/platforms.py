"""Platform tags, said once: conda subdirs ("linux-64"), resolver tags (uv's "x86_64-manylinux_2_28", pip's
"manylinux_2_28_x86_64"), archspec names, and docker platforms ("linux/amd64").

A plan names its platforms as conda subdirs; every backend turns them into
its own tool's words here, and nowhere else.
"""

from __future__ import annotations

import os
import platform as platform_mod
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dldoctor.errors import TargetError, UsageError
from dldoctor.knowledge.versions import major_minor

if TYPE_CHECKING:
    from dldoctor.setup.plan import Plan

#: Machine names (uname -m, platform.machine(), Docker's arch) -> the conda subdir's arch.
_SUBDIR_ARCH = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "aarch64", "ppc64le": "ppc64le"}
#: A conda subdir's arch -> the archspec name of the conda virtual package `__archspec`.
_ARCHSPEC = {"64": "x86_64", "aarch64": "aarch64", "ppc64le": "ppc64le", "arm64": "arm64"}
#: The docker platforms dldoctor builds, and the conda subdir each is locked for.
PLATFORMS = {"linux/amd64": "linux-64", "linux/arm64": "linux-aarch64"}
#: Machine names -> the docker platform.
_ARCH_PLATFORM = {"x86_64": "linux/amd64", "amd64": "linux/amd64", "aarch64": "linux/arm64", "arm64": "linux/arm64"}
# uv knows these manylinux levels for --python-platform (2_18 .. 2_27 and 2_29, 2_30 are not offered).
_UV_MANYLINUX = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)


def conda_subdir(system: str, arch: str) -> str:
    """The conda subdir of a machine: ("Linux", "x86_64") -> "linux-64", ("Darwin", "arm64") -> "osx-arm64"."""
    system, arch = system.lower(), arch.lower()
    if system == "darwin":
        return "osx-arm64" if arch in ("arm64", "aarch64") else "osx-64"
    if system.startswith("win"):
        return "win-64"
    return f"linux-{_SUBDIR_ARCH.get(arch, arch)}"


def this_platform() -> str:
    """The conda subdir of the machine dldoctor runs on."""
    return conda_subdir(sys.platform, platform_mod.machine())


def archspec(subdir_arch: str) -> str:
    """The `__archspec` name of a conda subdir's arch: "64" -> "x86_64"."""
    return _ARCHSPEC.get(subdir_arch, subdir_arch)


@dataclass(frozen=True)
class TargetPlatform:
    """The machine the lock is for, in each resolver's words."""

    name: str  # conda-style, as in the plan: "linux-64"
    uv: str  # uv --python-platform: "x86_64-manylinux_2_28"
    pip: tuple[str, ...]  # pip --platform tags, newest first (pip does not widen manylinux_2_N by itself)


def target_platform(plan: Plan) -> TargetPlatform:
    """The plan's first platform as resolver tags; the glibc of the target picks the manylinux level."""
    if len(plan.platforms) > 1:
        raise UsageError("the venv backend locks one platform at a time: give a single --platform")
    name = plan.platforms[0] if plan.platforms else "linux-64"
    if name.startswith("linux-"):
        arch = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le"}.get(name)
        if arch is None:
            raise UsageError(f"--platform {name}: the venv backend knows linux-64, linux-aarch64, linux-ppc64le, "
                             "osx-64, osx-arm64, win-64")
        level = _manylinux_level(plan.glibc)
        tags = tuple(f"manylinux_2_{m}_{arch}" for m in range(level, 16, -1)) + (f"manylinux2014_{arch}",)
        return TargetPlatform(name, f"{arch}-manylinux_2_{level}", tags)
    table = {
        "osx-arm64": ("aarch64-apple-darwin", tuple(f"macosx_{v}_0_arm64" for v in range(14, 10, -1))),
        "osx-64": ("x86_64-apple-darwin", tuple(f"macosx_{v}_0_x86_64" for v in (13, 12, 11)) + ("macosx_10_15_x86_64",
                                                                                                 "macosx_10_9_x86_64")),
        "win-64": ("x86_64-pc-windows-msvc", ("win_amd64",)),
    }
    if name not in table:
        raise UsageError(f"--platform {name}: the venv backend knows linux-64, linux-aarch64, osx-64, osx-arm64, win-64")
    uv, pip = table[name]
    return TargetPlatform(name, uv, pip)


def _manylinux_level(glibc: str | None) -> int:
    """The newest manylinux_2_N that the target's glibc runs (2.28 when unknown: every current DL wheel's floor)."""
    if not glibc:
        return 28
    parsed = major_minor(glibc)
    if parsed is None or parsed[0] != 2:
        return 28
    minor = parsed[1]
    fitting = [m for m in _UV_MANYLINUX if m <= minor]
    if not fitting:
        raise TargetError(f"glibc {glibc} is older than manylinux2014 (2.17): no current wheel runs there")
    return fitting[-1]


def docker_platform(plan: Plan, engine_arch: str | None = None) -> str:
    """The image platform: --docker-platform, else the engine's (or this machine's) architecture."""
    given = plan.options.get("docker_platform")
    if given:
        if given not in PLATFORMS:
            raise UsageError(f"--docker-platform {given!r}: choose {', '.join(PLATFORMS)}")
        return str(given)
    arch = (engine_arch or os.uname().machine).lower()
    platform = _ARCH_PLATFORM.get(arch)
    if platform is None:
        raise UsageError(f"the Docker engine runs on {arch}; dldoctor builds {', '.join(PLATFORMS)} images")
    return platform
