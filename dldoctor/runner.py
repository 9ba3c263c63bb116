"""The one place dldoctor runs external commands.

Every command gets a timeout (nvidia-smi can hang for tens of seconds on a
wedged GPU), runs without a shell, and comes back as a `CommandResult` whether
it succeeded, failed, could not start or ran out of time: callers decide what a
failure means. On timeout the whole process group is killed, so a command that
left children holding its pipes cannot hang dldoctor either.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CommandResult:
    """What one external command did."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    #: Set when the command could not be started at all (not found, not executable).
    start_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.start_error is None

    def describe_failure(self) -> str:
        """One line saying why this command did not succeed."""
        name = os.path.basename(self.argv[0]) if self.argv else "command"
        if self.start_error:
            return f"{name} could not start: {self.start_error}"
        if self.timed_out:
            return f"{name} timed out after {self.duration_s:.1f}s"
        lines = [ln.strip() for ln in (self.stderr.strip() or self.stdout.strip()).splitlines() if ln.strip()]
        # The line that names the failure beats the last one ("Failed to initialize NVML: ..." then a version line).
        telling = [ln for ln in lines if any(w in ln.lower() for w in ("error", "fail", "cannot", "unable"))]
        chosen = telling[0] if telling else (lines[-1] if lines else "")
        detail = f": {chosen[:200]}" if chosen else ""
        return f"{name} exited with {self.returncode}{detail}"


@dataclass
class Runner:
    """Runs commands found on `env['PATH']` with a timeout each.

    `env` is the environment the commands see and the PATH they are looked up
    on; tests hand a runner whose PATH holds a simulated machine's recorded
    commands.
    """

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    default_timeout_s: float = DEFAULT_TIMEOUT_S

    def which(self, name: str) -> str | None:
        """The full path of `name` on this runner's PATH, or None."""
        return shutil.which(name, path=self.env.get("PATH", ""))

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        extra_env: Mapping[str, str] | None = None,
        stdin_text: str | None = None,
        cwd: str | None = None,
    ) -> CommandResult:
        """Run `argv` (argv[0] looked up on PATH unless it has a slash)."""
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        argv = tuple(argv)
        program = argv[0] if "/" in argv[0] else self.which(argv[0])
        if program is None:
            return CommandResult(argv, None, "", "", 0.0, start_error="not found on PATH")
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                (program, *argv[1:]),
                stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except OSError as exc:
            return CommandResult(argv, None, "", "", 0.0, start_error=exc.strerror or str(exc))
        try:
            out, err = proc.communicate(input=stdin_text, timeout=timeout)
        except BaseException as exc:
            if not isinstance(exc, subprocess.TimeoutExpired):
                # Ctrl-C does not reach a child in its own session: stop it before going on.
                _kill_group(proc)
                proc.wait()
                raise
            _kill_group(proc)
            try:
                out, err = proc.communicate(timeout=1.0)
            except subprocess.TimeoutExpired:
                out, err = "", ""
            return CommandResult(
                argv, None, out or "", err or "", time.monotonic() - started, timed_out=True
            )
        return CommandResult(argv, proc.returncode, out, err, time.monotonic() - started)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the command and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
