"""Install a conda environment from the lock only: verified downloads, then an all-or-nothing prefix swap.

No solve happens here. Each package is fetched by the lock's URL into
dldoctor's package cache and its sha256 checked against the lock before
anything uses it; rattler then links the verified archives into a staging
prefix next to the target (same filesystem), with the final path patched into
the files. Only a complete staging prefix replaces the old environment, by
two renames; an interrupted or failed install leaves the old environment as
it was, and the next run removes what the interrupted one left behind (or
puts the old prefix back if the kill fell between the two renames).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from dldoctor.errors import InputError, OutputError, TargetError, TimeoutExpired, UnavailableError
from dldoctor.paths import cache_dir
from dldoctor.setup.progress import Progress, report_count
from dldoctor.setup.staging import clean_leftovers, prefix_lock, staging_path, swap_into

if TYPE_CHECKING:
    from conda_lock.lockfile.v2prelim.models import LockedDependency  # type: ignore[import-untyped]  # conda-lock ships no type information


DOWNLOAD_TIMEOUT_S = 60.0
LINK_TIMEOUT_S = 1800.0
#: Free space wanted per byte of compressed packages: the archive plus its extracted copy in the cache,
#: and the linked files in the prefix when hard links are impossible (conda packages expand ~3x).
SPACE_FACTOR_CACHE = 4
SPACE_FACTOR_PREFIX = 3
_MARKER = "conda-meta/dldoctor-lock.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InstallOutcome:
    prefix: Path
    changed: bool
    downloaded: int  # packages fetched (not already in the cache)
    packages: int
    seconds: float


def cache_root() -> Path:
    """dldoctor's conda cache (repodata and packages): $XDG_CACHE_HOME/dldoctor/conda."""
    return cache_dir("conda")


def installed_matches(prefix: Path, packages: list[LockedDependency]) -> bool:
    """True when `prefix` holds exactly the locked packages (by name, version, build and sha256)."""
    try:
        marker = json.loads((prefix / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    wanted = sorted(_identity(p) for p in packages)
    if marker.get("packages") != wanted:
        return False
    # The marker says what was installed; conda-meta says what is there now (a user may have changed it).
    present = sorted(p.name for p in (prefix / "conda-meta").glob("*.json") if p.name != Path(_MARKER).name)
    return present == sorted(f"{p.name}-{p.version}-{p.build}.json" for p in packages)


def _identity(p: LockedDependency) -> str:
    return f"{p.name} {p.version} {p.build} {p.hash.sha256}"


def check_free_space(prefix: Path, cache: Path, download_bytes: int, uncached_bytes: int) -> None:
    """Refuse to start when the disks cannot hold the environment (better than failing midway)."""
    needs: dict[int, tuple[Path, int]] = {}
    for path, need in ((cache, uncached_bytes * SPACE_FACTOR_CACHE), (prefix.parent, download_bytes * SPACE_FACTOR_PREFIX)):
        probe = path
        while not probe.exists():
            probe = probe.parent
        device = probe.stat().st_dev
        held, total = needs.get(device, (probe, 0))
        needs[device] = (held, total + need)
    for probe, need in needs.values():
        free = shutil.disk_usage(probe).free
        if free < need:
            raise OutputError(f"not enough free disk space at {probe}: the environment needs about {_mb(need)}, "
                              f"{_mb(free)} is free")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


def _cache_path(cache: Path, pkg: LockedDependency) -> Path:
    return cache / "pkgs" / Path(urlsplit(pkg.url).path).name


def _verified(path: Path, sha256: str) -> bool:
    """True when `path` is in the cache and was verified against `sha256` since it last changed."""
    stamp = path.with_name(path.name + ".verified")
    try:
        st = path.stat()
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def _stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    path.with_name(path.name + ".verified").write_text(
        json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def fetch_package(pkg: LockedDependency, cache: Path, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> tuple[Path, bool]:
    """The verified archive of `pkg` in the cache, downloading it if needed; (path, downloaded)."""
    target = _cache_path(cache, pkg)
    expected = (pkg.hash.sha256 or "").lower()
    if _verified(target, expected):
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with _open_url(pkg.url, timeout_s) as src, open(partial, "wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
        if digest.hexdigest() != expected:
            raise InputError(f"sha256 mismatch for {pkg.name} {pkg.version} ({pkg.url}): the lock says {expected}, "
                             f"the download is {digest.hexdigest()}; the package changed or the lock was edited. "
                             "Nothing was installed")
        partial.replace(target)
        _stamp(target, expected)
    except OSError as exc:
        raise OutputError(f"cannot store {target.name} in {target.parent}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target, True


def _open_url(url: str, timeout_s: float) -> Any:
    parts = urlsplit(url)
    if parts.scheme == "file":
        try:
            return open(unquote(parts.path), "rb")
        except OSError as exc:
            raise UnavailableError(f"cannot read {url}: {exc.strerror}") from exc
    if parts.scheme not in ("http", "https"):
        raise InputError(f"cannot download {url}: only https, http and file URLs are supported")
    try:
        return urllib.request.urlopen(url, timeout=timeout_s)
    except TimeoutError as exc:
        raise TimeoutExpired(f"downloading {url} took longer than {timeout_s:.0f}s") from exc
    except OSError as exc:
        raise UnavailableError(f"cannot download {url}: {getattr(exc, 'reason', None) or exc}") from exc


def _record(archive: Path, pkg: LockedDependency) -> Any:
    """rattler's record of a verified archive: its own index.json, the lock's hashes, the cached file's URL."""
    from rattler import PackageRecord, RepoDataRecord
    from rattler.package import IndexJson

    index = IndexJson.from_package_archive(archive)
    record = PackageRecord(
        name=index.name, version=str(index.version), build=index.build, build_number=index.build_number,
        subdir=index.subdir or "noarch", arch=index.arch, platform=index.platform, noarch=index.noarch,
        depends=list(index.depends), constrains=list(index.constrains), sha256=bytes.fromhex(pkg.hash.sha256 or ""),
        md5=bytes.fromhex(pkg.hash.md5 or ""), size=archive.stat().st_size, license=index.license,
    )
    channel = pkg.url.rsplit("/", 2)[0]
    return RepoDataRecord(record, archive.name, archive.resolve().as_uri(), channel)


class _Reporter:
    """rattler's installer callbacks, turned into progress lines (rattler calls them from its threads)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.linked = 0

    def on_link_start(self, operation: int, package_name: str) -> int:
        self.progress(f"install: linking {package_name}")
        return operation

    def on_link_complete(self, index: int) -> None:
        self.linked += 1


def install_from_lock(packages: list[LockedDependency], prefix: Path, *, platform: str, cache: Path,
                      download_bytes: int | None, progress: Progress,
                      link_timeout_s: float = LINK_TIMEOUT_S) -> InstallOutcome:
    """Make `prefix` hold exactly `packages` (one platform of the lock); see the module docstring."""
    started = time.monotonic()
    prefix = prefix.expanduser().absolute()
    with prefix_lock(prefix):
        clean_leftovers(prefix, progress)
        _refuse_foreign(prefix)
        if installed_matches(prefix, packages):
            progress(f"install: {prefix} already matches the lock")
            return InstallOutcome(prefix, False, 0, len(packages), time.monotonic() - started)
        uncached = [p for p in packages if not _verified(_cache_path(cache, p), (p.hash.sha256 or "").lower())]
        total = download_bytes if download_bytes is not None else 0
        share = total // max(len(packages), 1)
        check_free_space(prefix, cache, total, share * len(uncached))
        archives = []
        for i, pkg in enumerate(packages, 1):
            path, fetched = fetch_package(pkg, cache)
            report_count(progress, "download", i, len(packages),
                         f"{'downloaded' if fetched else 'cached'} {pkg.name} {pkg.version} "
                         f"({_mb(path.stat().st_size)}), sha256 verified")
            archives.append((path, pkg))
        records = [_record(path, pkg) for path, pkg in archives]
        staging = staging_path(prefix)
        try:
            _link(records, staging, prefix, platform, cache, progress, link_timeout_s)
            (staging / _MARKER).write_text(json.dumps({"packages": sorted(_identity(p) for p in packages)}, indent=1))
            swap_into(staging, prefix)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        progress(f"install: installed {len(packages)} packages into {prefix}")
        return InstallOutcome(prefix, True, len(uncached), len(packages), time.monotonic() - started)


def _link(records: list[Any], staging: Path, prefix: Path, platform: str, cache: Path, progress: Progress,
          timeout_s: float) -> None:
    import rattler

    reporter = _Reporter(progress)
    try:
        asyncio.run(asyncio.wait_for(rattler.install(
            records, staging, cache_dir=cache / "extracted", installed_packages=[],
            platform=rattler.Subdir(platform), execute_link_scripts=False, show_progress=False,
            reporter=reporter,  # type: ignore[arg-type]  # structural: only the callbacks it needs
            alternative_target_prefix=prefix,
        ), timeout_s))
    except asyncio.TimeoutError as exc:
        raise TimeoutExpired(f"linking the environment took longer than {timeout_s:.0f}s") from exc
    except OSError as exc:
        raise OutputError(f"cannot write the environment next to {prefix}: {exc.strerror or exc}") from exc
    except Exception as exc:
        full = " ".join(str(exc).split())
        detail = full[:300]
        if "No space left" in full or "os error 28" in full:
            raise OutputError(f"the disk filled up while installing into {prefix}; nothing was changed "
                              f"({detail})") from exc
        raise TargetError(f"installing into {prefix} failed, nothing was changed: {detail}") from exc


def _refuse_foreign(prefix: Path) -> None:
    """Never replace a folder dldoctor did not make (an empty one is fine)."""
    if not prefix.exists() and not prefix.is_symlink():
        return
    if prefix.is_dir() and not prefix.is_symlink() and ((prefix / _MARKER).is_file() or not any(prefix.iterdir())):
        return
    raise OutputError(f"{prefix} exists and is not an environment dldoctor installed; "
                      "remove it or choose another --prefix")
