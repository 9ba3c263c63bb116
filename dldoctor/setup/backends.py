"""The registry of setup backends."""

from __future__ import annotations

from dldoctor.errors import UsageError
from dldoctor.setup.backend import Backend


def get_backend(name: str) -> Backend:
    """The backend called `name`, imported only when asked for."""
    if name == "venv":
        from dldoctor.setup.venv import VenvBackend

        return VenvBackend()
    if name == "conda":
        from dldoctor.setup.conda import CondaBackend

        return CondaBackend()
    if name == "docker":
        from dldoctor.setup.docker import DockerBackend

        return DockerBackend()
    raise UsageError(f"--backend {name!r}: choose conda, venv or docker")
