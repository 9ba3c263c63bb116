"""Solve the conda spec with py-rattler and keep the result in conda-lock's unified lock file.

No conda binary is involved: rattler's solver sees the channels' repodata and
the target machine's virtual packages (from the plan), and the result is
written and read through conda-lock's own models, so `conda-lock install`,
`conda-lock render` and `micromamba create -f conda-lock.yml` accept it.

Each platform's `content_hash` is the hash of what its solve saw (channels,
specs, virtual packages); a platform whose hash is unchanged is not
re-solved. `custom_metadata` carries what conda-lock's format has no field
for: each platform's download size (for the free-space check), its virtual
packages, and a digest of its locked packages that catches hand edits.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dldoctor.errors import DldoctorError, InputError, OutputError, TargetError, TimeoutExpired, UnavailableError
from dldoctor.output import write_atomic
from dldoctor.setup.conda.spec import PlatformSpec

if TYPE_CHECKING:
    from conda_lock.lockfile.v2prelim.models import LockedDependency, Lockfile  # type: ignore[import-untyped]  # conda-lock ships no type information

LOCK_NAME = "conda-lock.yml"
SOLVE_TIMEOUT_S = 300.0
_META_SIZE = "dldoctor.download-bytes."
_META_VIRTUAL = "dldoctor.virtual-packages."
_META_DIGEST = "dldoctor.packages-sha256."


@dataclass(frozen=True)
class LockOutcome:
    """What `lock_platforms` did."""

    path: Path
    hashes: dict[str, str]
    reused: tuple[str, ...]  # platforms kept from the previous lock
    solved: dict[str, float]  # platform -> seconds its solve took
    packages: dict[str, int]
    sizes: dict[str, int]

    @property
    def input_hash(self) -> str:
        joined = "\n".join(f"{p} {h}" for p, h in sorted(self.hashes.items()))
        return hashlib.sha256(joined.encode()).hexdigest()


def read_lock(path: Path) -> Lockfile:
    """The lock file at `path`, validated by conda-lock's parser; InputError when it is not one."""
    from conda_lock.lockfile import parse_conda_lock_file  # type: ignore[import-untyped]  # conda-lock ships no type information
    from pydantic import ValidationError
    from yaml import YAMLError  # type: ignore[import-untyped]  # PyYAML (via conda-lock) ships no stubs

    try:
        return parse_conda_lock_file(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such lock file") from exc
    except (ValidationError, YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        first = "; ".join(line.strip() for line in str(exc).strip().splitlines()[:3]) or type(exc).__name__
        raise InputError(f"{path} is not a valid conda-lock file ({first[:300]}); "
                         "delete it or run with --update to re-solve") from exc


def packages_digest(packages: list[LockedDependency]) -> str:
    """A digest of one platform's locked packages: it changes when any entry is edited."""
    rows = sorted(f"{p.name} {p.version} {p.build} {p.url} {p.hash.sha256} {p.hash.md5}" for p in packages)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def platform_packages(lock: Lockfile, platform: str) -> list[LockedDependency]:
    return [p for p in lock.package if p.platform == platform and p.manager == "conda"]


def check_integrity(lock: Lockfile, path: Path, platform: str) -> None:
    """Refuse a platform whose packages were edited after dldoctor wrote them."""
    meta = lock.metadata.custom_metadata or {}
    expected = meta.get(_META_DIGEST + platform)
    packages = platform_packages(lock, platform)
    if not packages:
        raise InputError(f"{path} locks no packages for {platform}; run with --update to re-solve")
    missing = [p.name for p in packages if not p.hash.sha256]
    if missing:
        raise InputError(f"{path}: {missing[0]} has no sha256; dldoctor installs only what it can verify "
                         "(run with --update to re-solve)")
    if expected is not None and expected != packages_digest(packages):
        raise InputError(f"{path} was edited after it was solved (the {platform} packages no longer match "
                         "their recorded digest); run with --update to re-solve")


def download_size(lock: Lockfile, platform: str) -> int | None:
    value = (lock.metadata.custom_metadata or {}).get(_META_SIZE + platform)
    return int(value) if value and value.isdigit() else None


def lock_platforms(specs: list[PlatformSpec], out_dir: Path, *, update: bool, cache_dir: Path,
                   timeout_s: float = SOLVE_TIMEOUT_S, locked: bool = False) -> LockOutcome:
    """Write `out_dir/conda-lock.yml` for `specs`, re-solving only the platforms whose input changed
    (`locked`: refuse to, naming what is stale)."""
    path = out_dir / LOCK_NAME
    hashes = {s.platform: s.input_hash() for s in specs}
    previous: Lockfile | None = None
    if path.exists() and not update:
        previous = read_lock(path)
    keep: list[str] = []
    if previous is not None:
        for spec in specs:
            if previous.metadata.content_hash.get(spec.platform) == hashes[spec.platform] \
                    and spec.platform in previous.metadata.platforms:
                check_integrity(previous, path, spec.platform)
                keep.append(spec.platform)
    todo = [s for s in specs if s.platform not in keep]
    if locked and (todo or previous is None or set(previous.metadata.platforms) != set(hashes)):
        from dldoctor.setup.plan import stale_lock

        why = "there is no lock yet" if previous is None else \
            f"the input of {', '.join(s.platform for s in todo) or 'its platforms'} changed"
        raise stale_lock(path, why)
    if not todo and previous is not None and set(previous.metadata.platforms) == set(hashes):
        return LockOutcome(path, hashes, tuple(keep), {}, _counts(previous, list(hashes)), _sizes(previous, list(hashes)))
    solved, timings = solve(todo, cache_dir=cache_dir, timeout_s=timeout_s)
    lock = _build_lockfile(specs, hashes, solved, previous, keep)
    _write_atomically(lock, path)
    return LockOutcome(path, hashes, tuple(keep), timings, _counts(lock, list(hashes)), _sizes(lock, list(hashes)))


def _counts(lock: Lockfile, platforms: list[str]) -> dict[str, int]:
    return {p: len(platform_packages(lock, p)) for p in platforms}


def _sizes(lock: Lockfile, platforms: list[str]) -> dict[str, int]:
    return {p: download_size(lock, p) or 0 for p in platforms}


def solve(specs: list[PlatformSpec], *, cache_dir: Path, timeout_s: float = SOLVE_TIMEOUT_S
          ) -> tuple[dict[str, list[Any]], dict[str, float]]:
    """Solve every platform at once (one gateway, so shared repodata is read once); records per platform."""
    if not specs:
        return {}, {}
    import rattler
    from rattler.exceptions import GatewayError, SolverError

    timings: dict[str, float] = {}

    async def one(gateway: Any, spec: PlatformSpec) -> tuple[str, list[Any]]:
        started = time.monotonic()
        virtual = [rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b))
                   for n, v, b in spec.virtual_packages]
        failed: str | None = None
        try:
            records = await rattler.solve(
                [rattler.Channel(c) for c in spec.channels], list(spec.specs), gateway=gateway,
                platforms=[rattler.Subdir(spec.platform), rattler.Subdir("noarch")], virtual_packages=virtual,
                timeout=timedelta(seconds=timeout_s),
                timestamp_policy="allow-missing",
            )
        except SolverError as exc:
            failed = _solver_message(spec, str(exc))
        if failed is not None:
            raise TargetError(failed)  # raised outside the except: no reference to rattler's error survives
        timings[spec.platform] = time.monotonic() - started
        return spec.platform, list(records)

    async def everything() -> list[tuple[str, list[Any]]]:
        gateway = rattler.Gateway(cache_dir=cache_dir / "repodata", show_progress=False)
        return list(await asyncio.gather(*(one(gateway, s) for s in specs)))

    # rattler's exceptions are never chained onto dldoctor's: one kept alive until the interpreter shuts
    # down is dropped by a finalizing runtime, which aborts ("PyGILState_Release ... finalizing") instead of
    # exiting with the error's code.
    failure: DldoctorError | None = None
    try:
        results = asyncio.run(asyncio.wait_for(everything(), timeout_s))
    except asyncio.TimeoutError:
        failure = TimeoutExpired(f"solving the conda environment took longer than {timeout_s:.0f}s")
    except GatewayError as exc:
        failure = UnavailableError(channel_error(specs[0].channels, str(exc)))
    except DldoctorError as exc:
        failure = type(exc)(exc.message)
    except Exception as exc:  # noqa: BLE001  (rattler raises many unrelated types: one clear line instead)
        failure = TargetError(f"the conda solve failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    if failure is not None:
        raise failure
    return dict(results), timings


#: What to do when a channel cannot be read: the next step, always named.
CHANNEL_NEXT_STEP = ("give --channel URL (a reachable mirror, or a local channel folder), "
                     "or use --backend venv (wheels from a package index)")


def channel_error(channels: tuple[str, ...], chain: str) -> str:
    """rattler's "X Caused by: Y Caused by: Z" chain as one line: the channel, the URL's host, the root cause."""
    parts = [" ".join(p.split()) for p in re.split(r"\s*Caused by:\s*", chain) if p.strip()]
    root = parts[-1] if parts else "no answer"
    url = re.search(r"https?://([^/\s)]+)", chain)
    where = f"{url.group(1)}: " if url else ""
    return f"cannot read the conda channel {', '.join(channels)} ({where}{root[:200]}): {CHANNEL_NEXT_STEP}"


def _solver_message(spec: PlatformSpec, detail: str) -> str:
    names = {n for n, _, _ in spec.virtual_packages}
    hint = ""
    if any(" cuda*" in s for s in spec.specs) and "__cuda" not in names:
        hint = (" The spec pins a CUDA build but the target machine has no NVIDIA driver (__cuda); dldoctor will not "
                "fall back to the CPU build: use --variant cpu, or --cuda X.Y to lock for another machine.")
    elif "__cuda" in detail and "__cuda" in names:
        cuda = next(v for n, v, _ in spec.virtual_packages if n == "__cuda")
        hint = f" The target driver supports CUDA {cuda}; choose a --variant it can run."
    if not hint:
        hint = (" The channel may not publish this release or build yet: ask for another release "
                "(pytorch==X.Y), --channel URL, or --backend venv.")
    detail = " ".join(detail.split())
    return f"no {spec.platform} environment satisfies {', '.join(spec.specs)}.{hint} (solver: {detail[:400]})"


def _dependencies(depends: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for dep in depends:
        name, _, constraint = dep.strip().partition(" ")
        out[name] = constraint.strip() or "*"
    return out


def _build_lockfile(specs: list[PlatformSpec], hashes: dict[str, str], solved: dict[str, list[Any]],
                    previous: Lockfile | None, keep: list[str]) -> Lockfile:
    from conda_lock.lockfile.v1.models import HashModel  # type: ignore[import-untyped]  # conda-lock ships no type information
    from conda_lock.lockfile.v2prelim.models import LockedDependency, Lockfile, LockMeta
    from conda_lock.models.channel import Channel  # type: ignore[import-untyped]  # conda-lock ships no type information

    packages: list[LockedDependency] = []
    custom: dict[str, str] = {}
    for platform in keep:
        assert previous is not None
        packages += platform_packages(previous, platform)
        for key in (_META_SIZE, _META_VIRTUAL, _META_DIGEST):
            value = (previous.metadata.custom_metadata or {}).get(key + platform)
            if value is not None:
                custom[key + platform] = value
    for spec in specs:
        if spec.platform not in solved:
            continue
        mine = []
        for record in solved[spec.platform]:
            if not record.md5 or not record.sha256:
                raise TargetError(f"the channel publishes no md5/sha256 for {record.file_name}; it cannot be locked")
            mine.append(LockedDependency(
                name=record.name.normalized, version=str(record.version), manager="conda", platform=spec.platform,
                dependencies=_dependencies(list(record.depends)), url=record.url,
                hash=HashModel(md5=record.md5.hex(), sha256=record.sha256.hex()), build=str(record.build),
                categories={"main"},
            ))
        packages += mine
        custom[_META_SIZE + spec.platform] = str(sum(int(r.size or 0) for r in solved[spec.platform]))
        custom[_META_VIRTUAL + spec.platform] = spec.virtual_packages_text()
        custom[_META_DIGEST + spec.platform] = packages_digest(mine)
    return Lockfile(
        package=packages,
        metadata=LockMeta(
            content_hash=dict(sorted(hashes.items())),
            channels=[Channel.from_string(c) for c in specs[0].channels],
            platforms=[s.platform for s in specs],
            sources=["environment.yml"],
            custom_metadata=dict(sorted(custom.items())),
        ),
    )


def _write_atomically(lock: Lockfile, path: Path) -> None:
    """Render the lock with conda-lock's writer (in a scratch folder), then write it through `output.write_atomic`."""
    from conda_lock.lockfile import write_conda_lock_file

    try:
        scratch = Path(tempfile.mkdtemp(prefix=".dldoctor-lock-"))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        # Rendered under its final name (conda-lock's help text quotes it), then written over the old one.
        write_conda_lock_file(lock, scratch / path.name, metadata_choices=None)
        text = (scratch / path.name).read_text(encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_atomic(path, text, make_parents=True)
