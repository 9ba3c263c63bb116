"""Build beside, then swap in: the one way every setup backend replaces an environment.

A new environment is built in a staging folder next to the prefix and put in
place with two renames only when complete; a lock file next to the prefix lets
one setup at a time work on it; the next run cleans what a killed one left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from dldoctor.errors import OutputError, UnavailableError
from dldoctor.setup.progress import Progress

_STAGING = ".dldoctor-new-"
_RETIRED = ".dldoctor-old-"


def staging_path(prefix: Path) -> Path:
    """The staging folder this process builds `prefix`'s new environment in."""
    return prefix.parent / f".{prefix.name}{_STAGING}{os.getpid()}"


def _siblings(prefix: Path, kind: str) -> list[Path]:
    parent = prefix.parent
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if p.name.startswith(f".{prefix.name}{kind}"))


@contextlib.contextmanager
def prefix_lock(prefix: Path) -> Iterator[None]:
    """Hold the prefix's install lock; a second dldoctor installing there is refused, not interleaved."""
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        handle = open(prefix.parent / f".{prefix.name}.dldoctor-lock", "a+")
    except OSError as exc:
        raise OutputError(f"cannot create {prefix.parent}: {exc.strerror}") from exc
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise UnavailableError(f"another dldoctor is installing into {prefix}; try again when it is done") from exc
        yield


def clean_leftovers(prefix: Path, progress: Progress) -> None:
    """Undo what an interrupted install left: staging prefixes go; a retired prefix comes back if needed.

    Call with the prefix lock held.
    """
    retired = _siblings(prefix, _RETIRED)
    if retired and not prefix.exists():
        # Killed between the two renames: the old environment is complete, put it back.
        retired[-1].rename(prefix)
        progress(f"install: restored {prefix} (an earlier install was interrupted)")
        retired = retired[:-1]
    for leftover in (*_siblings(prefix, _STAGING), *retired):
        progress(f"install: removing {leftover.name} (left by an interrupted install)")
        shutil.rmtree(leftover, ignore_errors=True)




def swap_into(staging: Path, prefix: Path) -> None:
    """Put the complete staging prefix in place; the old one is removed only after that."""
    retired = None
    if prefix.exists() or prefix.is_symlink():
        retired = prefix.parent / f".{prefix.name}{_RETIRED}{os.getpid()}"
        prefix.rename(retired)
    try:
        staging.rename(prefix)
    except OSError as exc:
        if retired is not None:
            retired.rename(prefix)
        raise OutputError(f"cannot move the new environment into {prefix}: {exc.strerror}") from exc
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
