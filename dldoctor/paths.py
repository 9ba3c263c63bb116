"""Where dldoctor keeps its files on the machine it runs on: the XDG base folders, said once.

$XDG_CACHE_HOME (else ~/.cache) holds what can be fetched again (conda
packages, docker build contexts, the reachability memory); $XDG_DATA_HOME
(else ~/.local/share) holds what `setup` builds (its environments).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_base() -> str:
    """$XDG_CACHE_HOME, else ~/.cache (as text: it may be relative, and callers decide whether to trust it)."""
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def data_base() -> str:
    """$XDG_DATA_HOME, else ~/.local/share."""
    return os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")


def cache_dir(*parts: str) -> Path:
    """dldoctor's cache folder `parts` under the cache base: cache_dir("conda") -> ~/.cache/dldoctor/conda."""
    return Path(cache_base(), "dldoctor", *parts)


def data_dir(*parts: str) -> Path:
    """dldoctor's data folder `parts` under the data base: data_dir("envs") -> ~/.local/share/dldoctor/envs."""
    return Path(data_base(), "dldoctor", *parts)
