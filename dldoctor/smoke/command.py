"""`dldoctor smoke`: the function the CLI calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dldoctor.errors import TargetError, UsageError
from dldoctor.runner import Runner
from dldoctor.smoke.run import run_smoke
from dldoctor.smoke.target import SmokeOptions, SmokeTarget


def smoke_command(
    framework: str = "auto",
    python: str | None = None,
    prefix: str | None = None,
    image: str | None = None,
    device: int | None = None,
    quick: bool = False,
    json_out: bool = False,
    allow_cpu: bool = False,
    timeout_s: float | None = None,
    *,
    runner: Runner | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], int]:
    """Run the smoke test; return the `dldoctor.smoke/1` result and the exit code.

    `json_out` does not change the result: the caller prints it as JSON or
    through `render_smoke`. No accelerator is a verdict of the result
    ("no-accelerator", exit code 7), not an error. Raises the DldoctorError
    subclasses of `run_smoke` (TargetError, TimeoutExpired, UnavailableError,
    UsageError) for the entry point to report.
    """
    if timeout_s is not None and not 0 < timeout_s < float("inf"):  # nan, inf and 1e309 too
        raise UsageError("--timeout must be a finite number of seconds above 0")
    target = SmokeTarget.from_options(python, prefix, image)
    if target.kind == "current":
        target = default_target()
    options = SmokeOptions(framework=framework, device=device, quick=quick,
                           allow_cpu=allow_cpu, timeout_s=timeout_s)
    result = run_smoke(target, options, runner=runner, progress=progress)
    return result, int(result["exit_code"])


def default_target() -> SmokeTarget:
    """With no target named, the interpreter `check` inspects: the active environment, else `python3`
    (then `python`) on PATH; never dldoctor's own environment (install.sh's venv)."""
    from dldoctor.machine import Machine
    from dldoctor.probes.python_target import NO_PYTHON_ON_PATH, choose_interpreter

    python, _why = choose_interpreter(Machine.this_one(), None)
    if python is None:
        raise TargetError(f"nothing to smoke-test: {NO_PYTHON_ON_PATH}")
    return SmokeTarget("python", python)
