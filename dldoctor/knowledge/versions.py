"""The one place dldoctor reads version numbers, driver versions, compute capabilities and CUDA tags.

Every parser here is total: text it cannot read gives None (or an empty key), never an exception.
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

_DIGITS = re.compile(r"[0-9]+")


def version(text: object) -> Version | None:
    """"2.7.1" / "535.104.05" / "2.13.0+cpu" / 12 -> a comparable Version; None for anything else."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        return None
    raw = str(text).strip()
    if not raw:
        return None
    try:
        return Version(raw)
    except InvalidVersion:
        return None


_LEADING_MINOR = re.compile(r"\s*([0-9]+)\.([0-9]+)")


def major_minor(text: object) -> tuple[int, int] | None:
    """"2.7.1" / "2.13.0+cpu" / "12" / "6.2.41133-dd7f95766" -> (2, 7) / (2, 13) / (12, 0) / (6, 2);
    None when unreadable. Text that is no version but starts with "X.Y" gives that pair."""
    v = version(text)
    if v is None:
        match = _LEADING_MINOR.match(text) if isinstance(text, str) else None
        return (int(match.group(1)), int(match.group(2))) if match else None
    release = (*v.release, 0)
    return release[0], release[1]


def minor_of(text: object) -> str | None:
    """"2.7.1" / "2.13.0+cpu" / "12.6.3" / "12" -> "2.7" / "2.13" / "12.6" / "12.0"."""
    mm = major_minor(text)
    return f"{mm[0]}.{mm[1]}" if mm is not None else None


def major(text: object) -> int | None:
    """"12.6" / "535.104.05" -> 12 / 535; None when unreadable."""
    v = version(text)
    return v.major if v is not None else None


def release_key(text: object) -> tuple[int, ...]:
    """"2.14" -> (2, 14), "535.104.05" -> (535, 104, 5), for sorting; unreadable text gives () and sorts first."""
    v = version(text)
    return v.release if v is not None else ()


def parse_capability(text: object) -> tuple[int, int] | None:
    """"8.6" / "86" / "sm_86" / "compute_90" / "sm_90a" / "12.0" / "120" -> (major, minor); None when unreadable."""
    if not isinstance(text, str):
        return None
    raw = text.strip().lower()
    for prefix in ("sm_", "compute_"):
        raw = raw.removeprefix(prefix)
    raw = raw.rstrip("af")
    if "." in raw:
        major_text, _, minor_text = raw.partition(".")
    else:
        major_text, minor_text = raw[:-1], raw[-1:]
    if not (_DIGITS.fullmatch(major_text) and _DIGITS.fullmatch(minor_text)):
        return None
    return int(major_text), int(minor_text)


def capability_text(cc: tuple[int, int]) -> str:
    """(8, 6) -> "8.6"."""
    return f"{cc[0]}.{cc[1]}"


def sm_name(cc: tuple[int, int]) -> str:
    """(8, 6) -> "sm_86", as `torch.cuda.get_arch_list()` spells a cubin."""
    return f"sm_{cc[0]}{cc[1]}"


def cuda_tag(cuda: object) -> str | None:
    """"12.1" / "12.1.105" / "11.8" -> "cu121" / "cu121" / "cu118" (PyTorch's index names); None when unreadable."""
    mm = major_minor(cuda)
    return f"cu{mm[0]}{mm[1]}" if mm is not None and mm[1] < 10 else None


def cuda_of_tag(tag: object) -> str | None:
    """"cu126" -> "12.6", "cu118" -> "11.8", "cuda12.6" -> "12.6"; None for cpu, rocm, xpu and garbage."""
    if not isinstance(tag, str):
        return None
    text = tag.strip().lower()
    match = re.fullmatch(r"cu([0-9]+)([0-9])", text)
    if match:
        return f"{int(match.group(1))}.{match.group(2)}"
    match = re.fullmatch(r"cuda([0-9]+)\.([0-9]+)", text)
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None
