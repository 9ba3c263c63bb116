"""Where the smoke payload runs, and the command line that gets it there.

Pure functions over small facts (no I/O beyond `HostAccelerators.detect`), so
tests can check every argv without an interpreter or a Docker engine.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dldoctor.errors import TargetError, UsageError
from dldoctor.knowledge import vocabulary
from dldoctor.machine import Machine
from dldoctor.smoke.payload import payload_source

#: Environment variables the payload reads as test hooks; passed into containers when set.
PAYLOAD_HOOK_ENV = ("DLDOCTOR_SMOKE_FAULT", "DLDOCTOR_SMOKE_COMPILE_BACKEND")


@dataclass(frozen=True)
class HostAccelerators:
    """The device nodes on the host that decide a container's device flags."""

    nvidia_devices: int = 0
    amd_kfd: bool = False
    dri: bool = False

    @classmethod
    def on(cls, machine: Machine) -> HostAccelerators:
        """Read the machine's /dev."""
        nvidia = [p for p in machine.glob("/dev/nvidia[0-9]*") if p.rsplit("/", 1)[-1][len("nvidia"):].isdigit()]
        return cls(nvidia_devices=len(nvidia), amd_kfd=machine.exists("/dev/kfd"), dri=machine.is_dir("/dev/dri"))

    @classmethod
    def detect(cls, root: str = "/") -> HostAccelerators:
        """Read `root`/dev of this machine (a fake root in tests)."""
        machine = Machine.this_one()
        return cls.on(machine if root == "/" else replace(machine, root=Path(root), is_local=False))


@dataclass(frozen=True)
class SmokeTarget:
    """The environment under test: this interpreter, another one, a conda prefix or an image."""

    kind: str  # "current" | "python" | "prefix" | "image"
    value: str | None = None

    @classmethod
    def from_options(cls, python: str | None, prefix: str | None, image: str | None) -> SmokeTarget:
        empty = [k for k, v in (("python", python), ("prefix", prefix), ("image", image)) if v is not None and not v]
        if empty:  # `--python ''` must not quietly test the current interpreter
            raise UsageError(f"--{empty[0]} needs a value (an empty one was given)")
        given = [(k, v) for k, v in (("python", python), ("prefix", prefix), ("image", image)) if v]
        if len(given) > 1:
            raise UsageError("give at most one of --python, --prefix, --image")
        if not given:
            return cls("current", None)
        return cls(*given[0])

    def describe(self) -> str:
        return {"current": "the current interpreter", "python": f"interpreter {self.value}",
                "prefix": f"conda prefix {self.value}", "image": f"image {self.value}"}[self.kind]


@dataclass(frozen=True)
class SmokeOptions:
    framework: str = "auto"
    device: int | None = None
    quick: bool = False
    allow_cpu: bool = False
    #: The whole run is bounded by this (None: a default that fits --quick or not).
    timeout_s: float | None = None
    expected_devices: int | None = None
    compile: bool = True
    speed: bool = True
    #: Test hook: run the all-reduce on CPU (gloo) across this many processes.
    collective_world: int | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_timeout_s(self) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        return 300.0 if self.quick else 900.0


def payload_framework(name: str) -> str:
    """The payload's name for the framework a user typed ("pytorch" and "torch" -> "torch"); "auto" stays."""
    if name == "auto":
        return name
    key = vocabulary.canonical(name)
    import_name = vocabulary.names(key).import_name if key is not None else None
    if import_name is None:
        raise UsageError(f"--framework must be one of auto, {vocabulary.accepted_names()}, not {name!r}")
    return import_name


def payload_args(options: SmokeOptions) -> list[str]:
    """The payload's own arguments for these options."""
    args = ["--framework", payload_framework(options.framework)]
    if options.device is not None:
        if options.device < 0:
            raise UsageError("--device must be 0 or more")
        args += ["--device", str(options.device)]
    if options.quick:
        args.append("--quick")
    if options.expected_devices is not None:
        args += ["--expected-devices", str(options.expected_devices)]
    if not options.compile:
        args.append("--no-compile")
    if not options.speed:
        args.append("--no-speed")
    if options.collective_world is not None:
        args += ["--collective-world", str(options.collective_world)]
    # Leave the payload a third of the budget for the collective, so a hung NCCL
    # init is reported by the payload itself rather than as a bare timeout.
    args += ["--collective-timeout", f"{max(10.0, options.effective_timeout_s / 3):.0f}"]
    return args


def docker_device_flags(host: HostAccelerators) -> list[str]:
    """The `docker run` flags that hand the host's GPUs to the container."""
    flags: list[str] = []
    if host.nvidia_devices:
        flags += ["--gpus", "all"]
    if host.amd_kfd:
        flags += ["--device", "/dev/kfd"]
        if host.dri:
            flags += ["--device", "/dev/dri"]
        flags += ["--group-add", "video", "--security-opt", "seccomp=unconfined"]
    if flags:
        # NCCL/RCCL keep their buffers in /dev/shm; Docker's 64 MiB default breaks all-reduce.
        flags += ["--shm-size", "1g"]
    return flags


def container_name() -> str:
    return f"dldoctor-smoke-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    stdin_text: str
    #: Run after a timeout: killing the docker client leaves the container running.
    cleanup_argv: tuple[str, ...] | None = None


def interpreter_for(target: SmokeTarget, current: str) -> str:
    if target.kind == "current":
        return current
    if target.kind == "python":
        assert target.value is not None
        return target.value
    if target.kind == "prefix":
        assert target.value is not None
        python = os.path.join(target.value, "bin", "python")
        if not os.path.exists(python):
            raise TargetError(f"conda prefix {target.value} has no bin/python")
        return python
    raise ValueError(target.kind)


def build_invocation(
    target: SmokeTarget,
    options: SmokeOptions,
    *,
    host: HostAccelerators,
    current_python: str,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
) -> Invocation:
    """The argv and stdin that run the payload in `target`."""
    args = payload_args(options)
    source = payload_source()
    if target.kind != "image":
        return Invocation((interpreter_for(target, current_python), "-", *args), source)
    assert target.value is not None
    name = name or container_name()
    env = env or {}
    hook_flags: list[str] = []
    for var in PAYLOAD_HOOK_ENV:
        if var in env or var in options.extra_env:
            hook_flags += ["-e", var]
    argv = (
        "docker", "run", "--rm", "-i", "--name", name,
        *docker_device_flags(host), *hook_flags,
        target.value, "python", "-", *args,
    )
    return Invocation(argv, source, cleanup_argv=("docker", "kill", name))
