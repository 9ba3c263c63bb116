"""Writing results: atomic files and the console. Only the CLI calls this."""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dldoctor.errors import OutputError


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def write_atomic(path: Path, text: str, *, make_parents: bool = False) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never half.

    A temporary file made with `mkstemp` (O_EXCL, so no planted name or link is
    followed) beside it, given the mode an ordinary new file gets (0666 less the
    umask; mkstemp's is 0600) or the old file's, then a rename; on any failure (Ctrl-C included) the
    temporary file is removed and the old file is left as it was. A symbolic
    link at `path` is refused: root must not write wherever a link points.
    """
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    mode = _existing_mode(path)
    try:
        if make_parents:
            directory.mkdir(parents=True, exist_ok=True)
        elif not directory.is_dir():
            raise OutputError(f"cannot write {path}: folder {directory} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def current_umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, and the probes' threads create files
    meanwhile): Linux says it in /proc/self/status; elsewhere the set-and-restore is the only way."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _existing_mode(path: Path) -> int:
    """The mode the new file gets: the old file's, or what the umask allows; refuses links and non-files."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0o666 & ~current_umask()
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"refusing to write {path}: it is a symbolic link (remove it, or pass another path)")
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"refusing to write {path}: it is not a regular file")
    return stat.S_IMODE(st.st_mode)


def write_output(path: Path, text: str) -> None:
    """Write a result where the user asked: `-` is standard output; a device, FIFO or a link to one
    (/dev/null, /dev/stdout) is written to, never replaced; a regular file is replaced atomically."""
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        st = os.stat(path)  # follows links: /dev/stdout -> /proc/self/fd/1 -> a pipe
        linked = os.path.islink(path)
    except FileNotFoundError:
        st, linked = None, False
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory")
    if st is None or (stat.S_ISREG(st.st_mode) and not linked):
        write_atomic(path, text)
        return
    try:
        fd = _open_for_writing(path, st)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(f"cannot write {path}: it is a FIFO with no reader") from None
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


#: How long a FIFO may take to get its reader before `-o FIFO` gives up.
FIFO_WAIT_S = 5.0


def _open_for_writing(path: Path, st: os.stat_result) -> int:
    """Open a device, FIFO or linked file for writing; a FIFO waits FIFO_WAIT_S for a reader, never forever."""
    import time

    flags = os.O_WRONLY | os.O_NOCTTY | (os.O_TRUNC if stat.S_ISREG(st.st_mode) else 0)
    if not stat.S_ISFIFO(st.st_mode):
        return os.open(path, flags)
    deadline = time.monotonic() + FIFO_WAIT_S
    while True:
        try:
            # O_NONBLOCK for the open only: without a reader it fails with ENXIO instead of hanging.
            return os.open(path, flags | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def write_owned(path: Path, text: str, *, ours: Callable[[str], bool], make_parents: bool = False) -> bool:
    """Write a file dldoctor generates, refusing to replace one that is not its own (or was edited since).

    `ours(old_text)` says whether the file on disk is what dldoctor wrote; an
    identical file is left alone (so its mtime means something). Returns
    whether the file was written.
    """
    _existing_mode(path)  # refuses a link, a directory or a device before anything is read through it
    try:
        old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if old == text:
        return False
    if old is not None and not ours(old):
        raise OutputError(f"{path} exists and was not written by dldoctor or was edited since: "
                          "move it, or pass --out DIR")
    write_atomic(path, text, make_parents=make_parents)
    return True


#: The last line of generated files whose first line cannot carry a mark: the sha256 of everything above it.
STAMP_PREFIX = "# dldoctor-sha256: "


def stamped(text: str) -> str:
    """`text` with a last line holding its sha256, so an edit by hand can be told from dldoctor's own."""
    import hashlib

    body = text if text.endswith("\n") else text + "\n"
    return f"{body}{STAMP_PREFIX}{hashlib.sha256(body.encode()).hexdigest()}\n"


def is_stamped(text: str) -> bool:
    """True when `text` ends with dldoctor's stamp and nothing above it changed."""
    import hashlib

    body, sep, last = text.rstrip("\n").rpartition("\n")
    if not sep or not last.startswith(STAMP_PREFIX):
        return False
    return hashlib.sha256((body + "\n").encode()).hexdigest() == last[len(STAMP_PREFIX):].strip()


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
