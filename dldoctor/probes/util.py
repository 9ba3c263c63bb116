"""Small parsing helpers shared by the probes."""

from __future__ import annotations

import re

from dldoctor.machine import Machine

_VERSION_RE = re.compile(r"(\d+(?:\.\d+)+)")


def first_version(text: str | None) -> str | None:
    """The first dotted version number in `text` ("Cuda compilation tools, release 12.4, V12.4.131" -> "12.4")."""
    if not text:
        return None
    match = _VERSION_RE.search(text)
    return match.group(1) if match else None


def read_int(machine: Machine, path: str, base: int = 10) -> int | None:
    text = machine.read_text(path)
    if text is None:
        return None
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def read_stripped(machine: Machine, path: str) -> str | None:
    text = machine.read_text(path)
    if text is None:
        return None
    text = text.strip().strip("\x00")
    return text or None


def parse_key_values(text: str, sep: str = "=") -> dict[str, str]:
    """`KEY=value` lines (os-release style, quotes removed)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if sep not in line or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition(sep)
        out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def so_version(filename: str, stem: str) -> str | None:
    """`libcudnn.so.9.1.0` with stem `libcudnn.so.` -> "9.1.0"."""
    if not filename.startswith(stem):
        return None
    rest = filename[len(stem):]
    return rest if re.fullmatch(r"\d+(?:\.\d+)*", rest) else None
