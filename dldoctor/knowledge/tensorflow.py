"""TensorFlow's tested builds: the CUDA and cuDNN of each release, and its native-Windows GPU builds."""

from __future__ import annotations

from typing import Any, NamedTuple

from dldoctor.knowledge.tables import rows
from dldoctor.knowledge.versions import major_minor


class TensorflowRequirements(NamedTuple):
    """The CUDA and cuDNN a TensorFlow release was built and tested with."""

    cuda: str
    cudnn: str


def tensorflow_requirements(tf_version: str) -> TensorflowRequirements | None:
    """(cuda, cudnn) for TensorFlow `tf_version` ("2.15.1"); None when unknown."""
    row = _tf_row(tf_version)
    return TensorflowRequirements(str(row["cuda"]), str(row["cudnn"])) if row is not None else None


def _tf_row(tf_version: str) -> dict[str, Any] | None:
    wanted = major_minor(tf_version)
    for row in rows("tensorflow_cuda"):
        low, high = major_minor(row["tf_min"]), major_minor(row["tf_max"])
        if wanted is not None and low is not None and high is not None and low <= wanted <= high:
            return row
    return None


def tensorflow_releases() -> list[str]:
    """Every TensorFlow minor release the table covers ("2.4" ... "2.21"), oldest first."""
    out: list[str] = []
    for row in rows("tensorflow_cuda"):
        low, high = major_minor(row["tf_min"]), major_minor(row["tf_max"])
        if low is not None and high is not None and low[0] == high[0]:
            out += [f"{low[0]}.{minor}" for minor in range(low[1], high[1] + 1)]
    return out


def tensorflow_windows_gpu(tf_version: str) -> bool | None:
    """Whether TensorFlow `tf_version` published a GPU build for native Windows (2.10 was the last);
    None when the table has no row for it."""
    row = _tf_row(tf_version)
    return bool(row.get("windows_native_gpu")) if row is not None else None


def tensorflow_pip_cuda(tf_version: str) -> bool | None:
    """Whether TensorFlow `tf_version` has the `[and-cuda]` extra that brings CUDA and cuDNN as pip wheels
    (2.14 and later); False: they must be installed on the system. None when the table has no row for it."""
    row = _tf_row(tf_version)
    if row is None:
        return None
    return bool(row.get("pip_cuda", True))  # an override table without the field keeps the [and-cuda] answer
