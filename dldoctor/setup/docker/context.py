"""The build context of an image: the Dockerfile, the lock and every locked wheel, fetched on the host.

The wheels are downloaded (and their sha256 checked against the lock) before
the build, with the image's platform and Python tags, so the build itself runs
offline and the same context rebuilds the same image. Contexts live under the
cache folder, one per lock, and are reused while the lock is unchanged.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dldoctor.errors import InputError, OutputError, TargetError, UnavailableError
from dldoctor.paths import cache_dir
from dldoctor.runner import CommandResult, Runner
from dldoctor.setup import pip_errors
from dldoctor.setup.progress import Progress

FETCH_TIMEOUT_S = 3600.0
#: Contexts of older locks kept besides the current one (each holds a full set of wheels).
KEEP_OLD_CONTEXTS = 1


def cache_root() -> Path:
    """Where build contexts are kept: $XDG_CACHE_HOME/dldoctor/docker-context."""
    return cache_dir("docker-context")




def fetch_argv(python: str, lock: Path, dest: Path, *, pip_platforms: tuple[str, ...],
               python_version: str) -> list[str]:
    """`pip download` of exactly the locked files, for the image's platform tags and Python."""
    platform_args = [arg for tag in pip_platforms for arg in ("--platform", tag)]
    return [python, "-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary=:all:",
            *platform_args, "--python-version", python_version, "--implementation", "cp",
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
            "--dest", str(dest), "-r", str(lock)]


def prepare_context(lock: Path, dockerfile_text: str, *, lock_sha256: str, pip_platforms: tuple[str, ...],
                    python_version: str,
                    progress: Progress, runner: Runner | None = None, root: Path | None = None) -> Path:
    """A folder holding Dockerfile, requirements.lock and wheels/ (every locked wheel, hash-checked)."""
    root = root or cache_root()
    context = root / f"{lock_sha256[:16]}-{pip_platforms[0] if pip_platforms else 'any'}"
    wheels = context / "wheels"
    try:
        wheels.mkdir(parents=True, exist_ok=True)
        (context / "requirements.lock").write_text(_without_sources(lock.read_text(encoding="utf-8")), encoding="utf-8")
        (context / "Dockerfile").write_text(dockerfile_text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the build context {context}: {exc.strerror or exc}") from exc
    progress(f"build: fetching the locked wheels ({', '.join(pip_platforms[:1])}) into {wheels}")
    runner = runner or Runner()
    done = runner.run(fetch_argv(sys.executable, context / "requirements.lock", wheels, pip_platforms=pip_platforms,
                                 python_version=python_version), timeout_s=FETCH_TIMEOUT_S)
    if not done.ok:
        raise _fetch_error(done, lock)
    _prune_old_contexts(root, keep=context)
    return context


_SOURCE_OPTIONS = ("--index-url", "--extra-index-url", "--find-links", "--no-index", "-i ", "-f ")


def _without_sources(lock_text: str) -> str:
    """The lock without its index and find-links lines: in the image the wheels are in /build/wheels.

    Every requirement line and hash stays as it is (pip would warn about each host path otherwise).
    """
    return "".join(line for line in lock_text.splitlines(keepends=True)
                   if not line.lstrip().startswith(_SOURCE_OPTIONS))


def _fetch_error(done: CommandResult, lock: Path) -> Exception:
    detail = pip_errors.last_error_line(done)
    text = pip_errors.output_of(done)
    if done.start_error or "no module named pip" in text:
        return UnavailableError(f"cannot run pip to fetch the locked wheels: {done.describe_failure()}")
    if done.timed_out:
        return UnavailableError(f"fetching the wheels of {lock} did not finish: {done.describe_failure()}")
    if "no space left on device" in text:
        return OutputError(f"no space left to fetch the wheels of {lock}: {detail}")
    if pip_errors.is_hash_mismatch(text):
        return TargetError(f"a wheel does not match its sha256 in {lock}: {detail}; refused, nothing built")
    if pip_errors.is_no_match(text):
        return InputError(f"{lock} names a wheel that its sources do not have for the image's platform: {detail}")
    if pip_errors.is_network_failure(text):
        return UnavailableError(f"cannot download the wheels of {lock}: {detail}")
    return InputError(f"cannot fetch the wheels of {lock}: {detail}")


def _prune_old_contexts(root: Path, keep: Path) -> None:
    """Keep the newest few contexts: each one holds every wheel of its lock."""
    others = sorted((p for p in root.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    for old in others[:-KEEP_OLD_CONTEXTS] if KEEP_OLD_CONTEXTS else others:
        shutil.rmtree(old, ignore_errors=True)
