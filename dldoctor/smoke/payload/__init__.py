"""The smoke-test payload: runs inside the target environment.

These modules need only the standard library and the framework under test.
They must never import dldoctor: the host joins them into one source text
(`payload_source()`, see source.py) and pipes it into the target interpreter
(`python - ARGS`), and the target need not have dldoctor installed. The host
imports `markers` for the lines it reads back.

Test hooks (for dldoctor's own test suite, never set them in real use):

- `DLDOCTOR_SMOKE_FAULT=wrong|unwritten|nan[@op/dtype/mode]` corrupts one
  result (default `matmul/fp32/eager` on the first device) after it comes back
  from the framework, so the tests can prove the checks catch a wrong number,
  an output element that was never written, and a NaN.
- `DLDOCTOR_SMOKE_COMPILE_BACKEND=name` hands `torch.compile` that backend (a
  bogus name forces a compile failure).
"""

from __future__ import annotations

from .correctness import FaultHook
from .device_loop import run_device
from .discovery import parse_visible
from .framework import Framework
from .markers import PROGRESS_MARKER, RANK_MARKER, RESULT_MARKER
from .source import payload_source

__all__ = [
    "PROGRESS_MARKER", "RANK_MARKER", "RESULT_MARKER", "FaultHook", "Framework",
    "parse_visible", "payload_source", "run_device",
]
