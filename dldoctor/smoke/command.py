"""`dldoctor smoke`: the function the CLI calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dldoctor.errors import UsageError
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
    options = SmokeOptions(framework=framework, device=device, quick=quick,
                           allow_cpu=allow_cpu, timeout_s=timeout_s)
    result = run_smoke(target, options, runner=runner, progress=progress)
    return result, int(result["exit_code"])
