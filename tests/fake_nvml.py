"""`FakeNvml(spec)`: NVIDIA's real pynvml bound to the fake libnvidia-ml.so.1 of tests/fake_libnvml.

What used to be here was a Python stand-in for the whole `pynvml` module, so the
bindings' own code (versioned wrappers, throwOnVersionMismatch, struct versions)
never ran in the tests. This name is kept only because tests/test_probes.py
still imports it; new tests use `tests.fake_libnvml.install` with
`dldoctor.machine.load_nvml_bindings`. Delete the file once nothing imports it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from dldoctor.machine import load_nvml_bindings
from tests import fake_libnvml


def FakeNvml(spec: dict[str, Any]) -> Any:
    """The real bindings over a fresh copy of the fake library whose state is `spec` (a machine.json `nvml`)."""
    folder = Path(tempfile.mkdtemp(prefix="dldoctor-fake-nvml-"))
    atexit.register(shutil.rmtree, folder, True)
    return load_nvml_bindings(fake_libnvml.install(spec, folder))
