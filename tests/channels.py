"""Tiny local conda channels for the conda backend's tests (no network).

The packages are real `.tar.bz2` conda packages (`info/index.json`,
`info/paths.json`, `info/files` and the payload), indexed by py-rattler's
`index_fs` into a `repodata.json` per subdir, so the solver and the installer
see exactly what they would see on conda-forge, only smaller. The channel
mimics conda-forge's PyTorch layout:

- `pytorch` in several versions, each with a `cuda126*` build that depends on
  `__cuda` and `cuda-version >=12.6,<13`, a `cuda130*` build for CUDA 13, and a
  `cpu_*` build; the `pytorch-gpu` / `pytorch-cpu` metapackages;
- `cuda-version` 12.6 / 13.0, constraining `__cuda` like the real one;
- `python` 3.11 / 3.12 stand-ins whose `bin/python` is a launcher for the
  host's interpreter (which has the CPU build of torch in CI), so the smoke
  test can run inside an installed test environment;
- a `noarch` helper (`filelock`) and a `libtorch-payload` package with a
  larger file, so an install has something to link.

linux-64, linux-aarch64 and osx-arm64 get the same packages (osx-arm64 has no
CUDA builds, as on conda-forge).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SUBDIRS = ("linux-64", "linux-aarch64", "osx-arm64")


@dataclass(frozen=True)
class Pkg:
    """One package to build: its index.json fields and its files."""

    name: str
    version: str
    build: str
    subdir: str
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    build_number: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    executables: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.tar.bz2"


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000  # fixed, so the same package builds to the same bytes
    tar.addfile(info, io.BytesIO(data))


def build_package(pkg: Pkg, channel: Path) -> Path:
    """Write `pkg` as a .tar.bz2 into `channel/<subdir>/` and return its path."""
    index = {
        "name": pkg.name, "version": pkg.version, "build": pkg.build, "build_number": pkg.build_number,
        "subdir": pkg.subdir, "depends": list(pkg.depends), "constrains": list(pkg.constrains),
        "license": "BSD-3-Clause", "timestamp": 1_700_000_000_000,
    }
    if pkg.subdir == "noarch":
        index["noarch"] = "generic"
    else:
        index["platform"], _, arch = pkg.subdir.partition("-")
        index["arch"] = {"64": "x86_64"}.get(arch, arch)
    paths = [
        {"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(), "size_in_bytes": len(data)}
        for p, data in sorted(pkg.files.items())
    ]
    out = channel / pkg.subdir / pkg.filename
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:bz2") as tar:
        _add(tar, "info/index.json", json.dumps(index, indent=1).encode())
        _add(tar, "info/paths.json", json.dumps({"paths": paths, "paths_version": 1}).encode())
        _add(tar, "info/files", "".join(p + "\n" for p in sorted(pkg.files)).encode())
        for path, data in sorted(pkg.files.items()):
            _add(tar, path, data, 0o755 if path in pkg.executables else 0o644)
    return out


def index_channel(channel: Path) -> None:
    """Write repodata.json for every subdir of `channel` (and an empty noarch if there is none)."""
    import asyncio

    from rattler.index import index_fs

    (channel / "noarch").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))


def python_launcher(host_python: str) -> bytes:
    """A `bin/python` that runs the host's interpreter (the stand-in for conda-forge's python)."""
    return f'#!/bin/sh\nexec "{host_python}" "$@"\n'.encode()


def pytorch_packages(subdirs: Iterable[str] = SUBDIRS, versions: Iterable[str] = ("2.4.1", "2.5.1", "2.6.0"),
                     host_python: str = sys.executable, payload_bytes: int = 64 * 1024) -> list[Pkg]:
    """The packages of a conda-forge-like PyTorch channel."""
    pkgs: list[Pkg] = [Pkg("filelock", "3.16.1", "pyhd8ed1ab_0", "noarch", depends=("python >=3.9",),
                           files={"site-packages/filelock/__init__.py": b"__version__ = '3.16.1'\n"})]
    for cv in ("12.6", "13.0"):  # noarch on conda-forge too
        # As on conda-forge: from CUDA 12 on, minor-version compatibility means only the major is constrained.
        pkgs.append(Pkg("cuda-version", cv, "h0", "noarch",
                        constrains=(f"__cuda >={cv.split('.')[0]}", f"cudatoolkit {cv}|{cv}.*")))
    for subdir in subdirs:
        linux = subdir.startswith("linux")
        for py in ("3.11", "3.12"):
            pkgs.append(Pkg("python", f"{py}.9", "h_standin_0", subdir, depends=(),
                            files={"bin/python": python_launcher(host_python),
                                   f"lib/python{py}/dldoctor-standin.txt": f"python {py} stand-in\n".encode()},
                            executables=("bin/python",)))
        for py in ("3.11", "3.12"):  # what a framework expects beside it (dldoctor's spec asks for it)
            pkgs.append(Pkg("numpy", "2.1.3", f"py{py.replace('.', '')}_h0", subdir,
                            depends=(f"python >={py},<3.{int(py.split('.')[1]) + 1}.0a0",),
                            files={f"lib/python{py}/site-packages/numpy_standin/__init__.py": b"version = '2.1.3'\n"}))
        pkgs.append(Pkg("libtorch-payload", "1.0", "h0", subdir,
                        files={"lib/libtorch-payload.so": bytes(range(256)) * (payload_bytes // 256)}))
        for version in versions:
            for py in ("3.11", "3.12"):
                pyt = "py" + py.replace(".", "")
                major, minor = py.split(".")
                common = (f"python >={py},<{major}.{int(minor) + 1}.0a0", "filelock", "libtorch-payload")
                files = {f"lib/python{py}/site-packages/torch_standin/__init__.py":
                         f"version = '{version}'\n".encode()}
                if linux:
                    pkgs.append(Pkg("pytorch", version, f"cuda126_{pyt}_h1_300", subdir, build_number=300,
                                    depends=(*common, "__cuda", "cuda-version >=12.6,<13"), files=files))
                    if version >= "2.6":
                        pkgs.append(Pkg("pytorch", version, f"cuda130_{pyt}_h1_300", subdir, build_number=300,
                                        depends=(*common, "__cuda", "cuda-version >=13.0,<14"), files=files))
                # The CPU build carries a lower build number, as on conda-forge, so that a
                # solver left free picks the GPU build where it can.
                pkgs.append(Pkg("pytorch", version, f"cpu_generic_{pyt}_h1_0", subdir, build_number=0,
                                depends=common, files=files))
            pkgs.append(Pkg("pytorch-cpu", version, "cpu_generic_h1_0", subdir,
                            depends=(f"pytorch {version} cpu*",)))
            if linux:
                pkgs.append(Pkg("pytorch-gpu", version, "cuda126_h1_300", subdir,
                                depends=(f"pytorch {version} cuda*",)))
    return pkgs


def build_channel(root: Path, pkgs: Iterable[Pkg]) -> Path:
    """Build and index a channel of `pkgs` under `root`; return its folder."""
    root.mkdir(parents=True, exist_ok=True)
    for pkg in pkgs:
        build_package(pkg, root)
    index_channel(root)
    return root


def pytorch_channel(root: Path, **kwargs: object) -> Path:
    """A conda-forge-like PyTorch channel under `root`."""
    return build_channel(root, pytorch_packages(**kwargs))  # type: ignore[arg-type]  # kwargs pass through
