"""Writing results: atomic files and the console. Only the CLI calls this."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dldoctor.errors import OutputError


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def write_atomic(path: Path, text: str, *, make_parents: bool = False) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never half.

    A temporary file beside it, then a rename; on any failure (Ctrl-C included)
    the temporary file is removed and the old file is left as it was.
    """
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    try:
        if make_parents:
            directory.mkdir(parents=True, exist_ok=True)
        elif not directory.is_dir():
            raise OutputError(f"cannot write {path}: folder {directory} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
