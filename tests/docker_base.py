"""The base image the docker tests build on, made without any registry.

Nothing can be pulled on the CI machine, so the tests make their own Debian
bookworm image with Python 3.11 (the CPU torch wheel's cp311) from
debootstrap and `docker import`. The root filesystem tarball is cached under
`~/.cache/dldoctor-test/` (or `$DLDOCTOR_TEST_CACHE`) and the image is reused
while it exists, so the few minutes this takes are paid once per machine.

Run as a script to build it ahead of the tests: `python3 tests/docker_base.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BASE_IMAGE = "dldoctor-test/debian-python:bookworm"
SUITE = "bookworm"
MIRROR = os.environ.get("DLDOCTOR_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("python3", "python3-venv")
#: What is left out of the image: docs, man pages and apt's caches (about 40 MB).
PRUNE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
         "var/lib/apt/lists")


class BaseImageUnavailable(Exception):
    """The base image cannot be made here; the message says why (the tests skip with it)."""


def cache_dir() -> Path:
    return Path(os.environ.get("DLDOCTOR_TEST_CACHE") or Path.home() / ".cache" / "dldoctor-test")


def _image_exists(client: Any) -> bool:  # a docker.DockerClient
    import docker

    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        return False
    return True


def _rootfs_tarball(progress: object = print) -> Path:
    """The cached tarball of the root filesystem, made by debootstrap when missing."""
    tarball = cache_dir() / f"debian-python-{SUITE}.tar.gz"
    if tarball.is_file():
        return tarball
    if os.geteuid() != 0:
        raise BaseImageUnavailable("debootstrap needs root to make the test base image")
    if shutil.which("debootstrap") is None:
        raise BaseImageUnavailable("debootstrap is not installed (apt-get install debootstrap; .ci/dockerd.sh does)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dldoctor-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        progress(f"debootstrap {SUITE} into {root} (a few minutes, once per machine)")  # type: ignore[operator]
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), MIRROR],
            capture_output=True, text=True, timeout=1200, check=False,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
            raise BaseImageUnavailable(f"debootstrap failed ({done.returncode}):\n{tail}")
        for rel in PRUNE:
            shutil.rmtree(root / rel, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-czf", str(partial), "."], check=True, timeout=600)
        partial.replace(tarball)
    return tarball


def ensure_base_image(client: object, progress: object = print) -> str:
    """Make `BASE_IMAGE` exist in the engine behind `client`; return its name."""
    if _image_exists(client):
        return BASE_IMAGE
    tarball = _rootfs_tarball(progress)
    progress(f"docker import {tarball} {BASE_IMAGE}")  # type: ignore[operator]
    repository, _, tag = BASE_IMAGE.partition(":")
    client.api.import_image_from_file(  # type: ignore[attr-defined]
        str(tarball), repository=repository, tag=tag, changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"],
    )
    if not _image_exists(client):
        raise BaseImageUnavailable(f"docker import did not make {BASE_IMAGE}")
    return BASE_IMAGE


if __name__ == "__main__":
    import docker

    print(ensure_base_image(docker.from_env(timeout=600)))
    sys.exit(0)
