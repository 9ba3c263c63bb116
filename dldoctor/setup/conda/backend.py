"""The conda backend: environment.yml -> conda-lock.yml -> a verified prefix -> the smoke test, no conda needed.

Each step is a module of its own, and this class only strings them together:
`conda_spec` renders and reads the spec, `conda_solve` solves it with
py-rattler into conda-lock's lock file, `conda_install` installs the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.errors import OutputError, TargetError
from dldoctor.output import write_atomic
from dldoctor.runner import Runner
from dldoctor.setup.conda.install import cache_root, install_from_lock
from dldoctor.setup.conda.solve import (
    LOCK_NAME,
    SOLVE_TIMEOUT_S,
    check_integrity,
    download_size,
    lock_platforms,
    platform_packages,
    read_lock,
)
from dldoctor.setup.conda.spec import SPEC_NAME, read_spec, render_spec
from dldoctor.setup.installed import from_conda_prefix
from dldoctor.setup.pipeline import InstallResult, LockResult, SpecResult
from dldoctor.setup.plan import Plan, missing_lock, stale_lock
from dldoctor.setup.progress import Progress


def host_platform() -> str:
    """The conda subdir of the machine dldoctor runs on."""
    import rattler

    return str(rattler.Subdir.current())


@dataclass
class CondaBackend:
    """Builds conda environments from conda-forge (or `--channel`) with py-rattler."""

    name: str = "conda"
    cache_dir: Path | None = None  # default: $XDG_CACHE_HOME/dldoctor/conda
    runner: Runner = field(default_factory=Runner)
    solve_timeout_s: float = SOLVE_TIMEOUT_S
    smoke_timeout_s: float | None = None
    #: The spec file's content before `write_spec` (None: it did not exist), put back when the lock fails,
    #: so a failed run (an unreachable channel, an impossible version) leaves the output folder as it was.
    _previous_spec: dict[Path, str | None] = field(default_factory=dict, repr=False)

    @property
    def cache(self) -> Path:
        return self.cache_dir or cache_root()

    def write_spec(self, plan: Plan, progress: Progress) -> SpecResult:
        """Write `environment.yml` (unchanged files are left alone, so their mtime means something)."""
        text = render_spec(plan)
        path = plan.out_dir / SPEC_NAME
        if plan.lock_mode == "frozen":
            return SpecResult(files=(path,))  # the lock alone is installed; nothing is written
        if plan.lock_mode == "locked":
            try:
                current = path.read_text() if path.is_file() else None
            except OSError as exc:
                raise OutputError(f"cannot read {path}: {exc.strerror}") from exc
            if current != text:
                raise stale_lock(plan.out_dir / LOCK_NAME, f"{path} {'differs from' if current else 'is missing for'} "
                                                           "the plan")
            return SpecResult(files=(path,))
        try:
            old = path.read_text() if path.is_file() else None
            self._previous_spec[path] = old
            if old != text:
                write_atomic(path, text, make_parents=True)  # mkstemp beside it, a link at the path refused
            # Said once the lock is made (`lock`): a failed lock puts the old file back.
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
        return SpecResult(files=(path,))

    def lock(self, plan: Plan, spec: SpecResult, progress: Progress) -> LockResult:
        """Solve the spec for every platform into conda-lock.yml, reusing platforms whose input is unchanged."""
        if plan.lock_mode == "frozen":
            return self._frozen(plan)
        try:
            specs = read_spec(spec.files[0], plan)
            for s in specs:
                progress(f"solve: {s.platform} for the target machine {s.virtual_packages_text()}")
            outcome = lock_platforms(specs, plan.out_dir, update=plan.update, cache_dir=self.cache,
                                     timeout_s=self.solve_timeout_s, locked=plan.lock_mode == "locked")
        except BaseException:
            self._restore_spec(spec.files[0])
            raise
        path = spec.files[0]
        old = self._previous_spec.pop(path, None)
        progress(f"spec: {path} is unchanged" if old is not None and old == path.read_text() else f"spec: wrote {path}")
        for platform in outcome.hashes:
            how = "unchanged, not re-solved" if platform in outcome.reused \
                else f"solved in {outcome.solved.get(platform, 0.0):.2f}s"
            progress(f"lock: {platform}: {outcome.packages[platform]} packages ({how})")
        return LockResult(
            path=outcome.path, input_hash=outcome.input_hash, reused=len(outcome.reused) == len(outcome.hashes),
            packages=sum(outcome.packages.values()),
            details={"platforms": {p: {"packages": outcome.packages[p], "download_bytes": outcome.sizes[p],
                                       "reused": p in outcome.reused, "content_hash": outcome.hashes[p],
                                       "solve_s": round(outcome.solved.get(p, 0.0), 3)} for p in outcome.hashes}},
        )

    def _frozen(self, plan: Plan) -> LockResult:
        """--frozen: the existing lock, read and checked, never re-solved."""
        path = plan.out_dir / LOCK_NAME
        if not path.is_file():
            raise missing_lock(path)
        lockfile = read_lock(path)
        counts = {p: len(platform_packages(lockfile, p)) for p in lockfile.metadata.platforms}
        return LockResult(path=path, input_hash="", reused=True, packages=sum(counts.values()),
                          details={"platforms": {p: {"packages": n, "reused": True} for p, n in counts.items()},
                                   "frozen": True})

    def _restore_spec(self, path: Path) -> None:
        if path not in self._previous_spec:
            return
        old = self._previous_spec.pop(path)
        try:
            if old is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, old)
        except (OSError, OutputError):
            pass  # the lock's own error is the one to report

    def install(self, plan: Plan, lock: LockResult, progress: Progress) -> InstallResult:
        """Install this machine's platform of the lock into the plan's prefix (see `conda_install`)."""
        lockfile = read_lock(lock.path)
        platform = host_platform()
        if platform not in lockfile.metadata.platforms:
            raise TargetError(f"{lock.path} has no packages for this machine ({platform}); lock it with "
                              f"--platform {platform}, or use --lock-only to lock for other machines")
        check_integrity(lockfile, lock.path, platform)
        outcome = install_from_lock(platform_packages(lockfile, platform), plan.prefix, platform=platform,
                                    cache=self.cache, download_bytes=download_size(lockfile, platform),
                                    progress=progress)
        found = from_conda_prefix(outcome.prefix, plan.framework)
        return InstallResult(
            location=str(outcome.prefix), python=str(outcome.prefix / "bin" / "python"), changed=outcome.changed,
            activate=self.activate_line(outcome.prefix),
            details={"platform": platform, "packages": outcome.packages, "downloaded": outcome.downloaded,
                     "seconds": round(outcome.seconds, 3), "framework": found.to_json() if found else None},
        )

    def activate_line(self, prefix: Path) -> str:
        for tool in ("micromamba", "conda"):
            if self.runner.which(tool):
                return f"{tool} activate {prefix}"
        return f"{prefix / 'bin' / 'python'}  (no conda or micromamba here: run the environment's python directly)"

    def verify(self, plan: Plan, installed: InstallResult, progress: Progress) -> dict[str, Any]:
        """Run the smoke test with the new environment's python; its verdict (no-accelerator too) is the result's."""
        from dldoctor.smoke.command import smoke_command

        progress(f"verify: dldoctor smoke --python {installed.python} --quick")
        result, _code = smoke_command(plan.framework, python=installed.python, quick=True,
                                      allow_cpu=plan.kind == "cpu", timeout_s=self.smoke_timeout_s,
                                      runner=self.runner, progress=progress)
        return result
