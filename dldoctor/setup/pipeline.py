"""The Protocol every setup backend (conda, venv, docker) implements, the registry, and the pipeline that drives it.

plan -> spec -> lock -> install (or build) -> verify: each step takes the
previous step's result, as plain data. `--dry-run` stops after the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dldoctor.errors import ExitCode, UsageError
from dldoctor.setup.plan import Plan
from dldoctor.setup.progress import Progress


@dataclass(frozen=True)
class SpecResult:
    files: tuple[Path, ...]  # what was written (environment.yml, requirements.in, Dockerfile, ...)


@dataclass(frozen=True)
class LockResult:
    path: Path
    input_hash: str
    reused: bool  # True when the spec was unchanged and the lock was not re-solved
    packages: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstallResult:
    location: str  # a prefix, a venv folder or an image tag
    python: str | None  # the interpreter inside, for the smoke test (None for an image)
    changed: bool  # False when the environment already matched the lock
    activate: str  # the one line that activates or runs it
    details: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    name: str

    def write_spec(self, plan: Plan, progress: Progress) -> SpecResult: ...

    def lock(self, plan: Plan, spec: SpecResult, progress: Progress) -> LockResult: ...

    def install(self, plan: Plan, lock: LockResult, progress: Progress) -> InstallResult: ...

    def verify(self, plan: Plan, installed: InstallResult, progress: Progress) -> dict[str, Any]: ...


def get_backend(name: str) -> Backend:
    """The backend called `name`, imported only when asked for."""
    if name == "venv":
        from dldoctor.setup.venv.backend import VenvBackend

        return VenvBackend()
    if name == "conda":
        from dldoctor.setup.conda.backend import CondaBackend

        return CondaBackend()
    if name == "docker":
        from dldoctor.setup.docker.backend import DockerBackend

        return DockerBackend()
    raise UsageError(f"--backend {name!r}: choose conda, venv or docker")


@dataclass
class SetupResult:
    plan: Plan
    spec: SpecResult | None = None
    lock: LockResult | None = None
    install: InstallResult | None = None
    smoke: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "dldoctor.setup/1",
            "plan": self.plan.to_json(),
            "files": [str(p) for p in self.spec.files] if self.spec else [],
            "lock": None if self.lock is None else {
                "path": str(self.lock.path), "input_hash": self.lock.input_hash, "reused": self.lock.reused,
                "packages": self.lock.packages,
            },
            "install": None if self.install is None else {
                "location": self.install.location, "python": self.install.python, "changed": self.install.changed,
                "activate": self.install.activate, "details": self.install.details,
            },
            "smoke": self.smoke,
            "verdict": self.verdict,
        }

    @property
    def verdict(self) -> str:
        """"planned" (--dry-run), "locked" (--lock-only), "not-verified" (--no-verify), else the smoke test's:
        "pass", "fail", "no-accelerator" (the same for every backend), "skipped"."""
        if self.install is None:
            return "locked" if self.lock is not None else "planned"
        if self.smoke is None:
            return "not-verified"
        return str(self.smoke.get("verdict") or "fail")

    def exit_code(self) -> ExitCode:
        """One exit code per verdict, whichever backend built it (no accelerator: 7, as `smoke`)."""
        if self.verdict == "no-accelerator":
            return ExitCode.NO_ACCELERATOR
        return ExitCode.FINDINGS if self.verdict == "fail" else ExitCode.OK

    def installed_framework(self) -> str | None:
        """"torch 2.13.0+cpu (cpu)": what the built environment holds (read from it), else what the smoke test saw."""
        if self.install is not None:
            found = self.install.details.get("framework")
            if isinstance(found, dict) and found.get("version"):
                build = found.get("build")
                return f"{found.get('name')} {found['version']}" + (f" ({build})" if build else "")
        if self.smoke and self.smoke.get("framework_version"):
            return f"{self.smoke.get('framework')} {self.smoke['framework_version']}"
        return None

    def verify_line(self) -> str:
        """What the smoke test said, in a few words."""
        smoke = self.smoke
        if smoke is None:
            return "not verified (--no-verify)"
        verdict = smoke.get("verdict")
        if verdict == "pass":
            return "smoke passed" + ("" if smoke.get("accelerator") else " (CPU only)")
        if verdict == "skipped":
            return f"smoke skipped ({smoke.get('reason')})"
        if verdict == "no-accelerator":
            return "smoke found no accelerator (it ran on the CPU)"
        failed = [f["message"] for f in smoke.get("findings") or [] if f.get("severity") == "error"]
        return "smoke FAILED" + (f": {failed[0]}" if failed else "")

    def ready_line(self) -> str:
        """The last line of a setup: what was installed, where, and what the smoke test said."""
        assert self.install is not None
        what = self.installed_framework() or self.plan.framework
        said = self.verify_line()
        return f"Ready: {what} in {self.install.location} — {said}"


def run_setup(plan: Plan, backend: Backend, progress: Progress, *, dry_run: bool = False,
              lock_only: bool = False, verify: bool = True) -> SetupResult:
    """Run the pipeline as far as asked; each step's result feeds the next."""
    result = SetupResult(plan=plan)
    if dry_run:
        return result
    result.spec = backend.write_spec(plan, progress)
    result.lock = backend.lock(plan, result.spec, progress)
    if lock_only:
        return result
    result.install = backend.install(plan, result.lock, progress)
    if verify:
        result.smoke = backend.verify(plan, result.install, progress)
        progress(f"verify: {result.verify_line()}")
    return result
