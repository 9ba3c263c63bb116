"""The machine a build is chosen for, built once from a snapshot's facts (or from `--cuda` for another machine)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dldoctor.errors import UsageError
from dldoctor.knowledge.cuda import driver_runs_cuda, max_cuda_for_driver, min_driver
from dldoctor.knowledge.versions import version
from dldoctor.snapshot.facts import Facts

_NO_GPU = ("no usable GPU here: the CPU build is fine for serving most models; for training, use a cloud GPU "
           "instance or a consumer NVIDIA card")


_v = version


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class Target:
    """What the chooser needs to know about the machine a build is for.

    `driver` is the NVIDIA driver version ("570.124.06") when known; `cuda_driver`
    the newest CUDA that driver supports ("12.8"), which is all that is known when
    planning for another machine with `--cuda`. `driver_os` is the OS whose driver
    table applies: Windows under WSL2, since the driver there is the Windows one.
    """

    os: str = "Linux"
    driver_os: str = "Linux"
    arch: str = "x86_64"
    driver: str | None = None
    cuda_driver: str | None = None
    capabilities: tuple[str, ...] = ()
    gfx: tuple[str, ...] = ()
    nvidia_usable: bool = False
    no_gpu_reason: str = _NO_GPU
    python: str | None = None
    glibc: str | None = None

    @property
    def amd_usable(self) -> bool:
        return bool(self.gfx) and not self.nvidia_usable

    def tier(self, cuda: str | None) -> str | None:
        """How this machine's driver runs CUDA `cuda` binaries: "full", "minor" (minor-version
        compatibility) or None (too old, or nothing known)."""
        if not cuda:
            return None
        if self.driver is not None:
            return driver_runs_cuda(self.driver, cuda, self.driver_os)
        have, want = _v(self.cuda_driver), _v(cuda)
        if have is None or want is None:
            return None
        if want.release[:2] <= have.release[:2]:
            return "full"
        if have.major != want.major:
            return None
        # Only the CUDA version is known: the driver is at least that version's full-support floor.
        implied = _v(min_driver(f"{have.major}.{have.minor}", "full", self.driver_os))
        floor = _v(min_driver(cuda, "minor", self.driver_os))
        if floor is None:
            return None
        return "minor" if implied is None or implied >= floor else None

    def describe_driver(self) -> str:
        if self.driver is None:
            return f"your driver (CUDA {self.cuda_driver})" if self.cuda_driver else "an unknown driver"
        return f"driver {self.driver}" + (f" (CUDA {self.cuda_driver})" if self.cuda_driver else "")

    def with_driver(self, driver: str) -> Target:
        """The same machine with driver `driver`: what an upgrade would unlock."""
        return replace(self, driver=driver, cuda_driver=max_cuda_for_driver(driver, self.driver_os))


def _no_gpu_reason(facts: Facts) -> str:
    from dldoctor.rules.containers import container_without_gpus

    if container_without_gpus(facts):
        return "no GPU is passed into this container: start it with --gpus all, then check again"
    if facts.has_nvidia_hardware:
        return ("the NVIDIA GPU is not usable until the driver problems above are fixed; check again then "
                "(or plan for it with --cuda X.Y)")
    return _NO_GPU


def target_from_facts(facts: Facts, cuda: str | None = None) -> Target:
    """The target machine of `facts`; `cuda` ("12.6", from `--cuda`) plans for a machine whose driver
    is known only by the CUDA version it supports."""
    from dldoctor.rules.containers import container_without_gpus

    host = facts.section("host")
    glibc = host.get("glibc") if isinstance(host.get("glibc"), str) else None
    base = Target(os=facts.os, driver_os=facts.driver_os, arch=facts.arch, gfx=_unique(facts.gfx_targets),
                  glibc=glibc, no_gpu_reason=_no_gpu_reason(facts))
    if cuda is not None:
        if not re.fullmatch(r"\d+\.\d+", cuda):
            raise UsageError(f"--cuda {cuda!r}: give the driver's CUDA version as X.Y, e.g. 12.6")
        return replace(base, cuda_driver=cuda, capabilities=_unique(facts.capabilities), nvidia_usable=True)
    usable = bool(facts.working_gpus) and not container_without_gpus(facts)
    if not usable:
        return base
    driver = facts.driver_version
    cuda_driver = facts.cuda_driver_version
    if driver is not None and cuda_driver is None:
        cuda_driver = max_cuda_for_driver(driver, facts.driver_os)
    if driver is None and cuda_driver is None:
        return replace(base, no_gpu_reason="the NVIDIA driver's version is unknown, so no CUDA build can be matched "
                                           "to it (plan for it with --cuda X.Y)")
    return replace(base, driver=driver, cuda_driver=cuda_driver, capabilities=_unique(facts.capabilities),
                   nvidia_usable=True)
