"""The one place dldoctor runs external commands.

Every command gets a timeout (nvidia-smi can hang for tens of seconds on a
wedged GPU), runs without a shell, and comes back as a `CommandResult` whether
it succeeded, failed, could not start or ran out of time: callers decide what a
failure means. On timeout the whole process group is killed, so a command that
left children holding its pipes cannot hang dldoctor either. On Linux a command
also dies with dldoctor (PR_SET_PDEATHSIG): a killed setup leaves no pip or venv
child writing into a staging folder after the next run has cleaned it.
"""

from __future__ import annotations

import functools
import locale
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

DEFAULT_TIMEOUT_S = 5.0
#: Called with ("stdout" or "stderr", one line) as a command prints it.
LineCallback = Callable[[str, str], None]


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
    max_output_bytes: int = 4 * 1024 * 1024  # MAX_OUTPUT_BYTES
    #: A time.monotonic() after which no command may run on: each timeout is cut to what is left of it
    #: (the snapshot sets one, so every tool hanging costs one --timeout, not one per command).
    deadline: float | None = None

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
        on_line: LineCallback | None = None,
    ) -> CommandResult:
        """Run `argv` (argv[0] looked up on PATH unless it has a slash).

        `on_line("stdout" | "stderr", line)` is called with each line as it arrives (a `\r` ends a line too,
        for progress bars), from the reading threads; the timeout and the output caps are the same."""
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        if self.deadline is not None:
            timeout = max(0.0, min(timeout, self.deadline - time.monotonic()))
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
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            return CommandResult(argv, None, "", "", 0.0, start_error=exc.strerror or str(exc))
        assert proc.stdout is not None and proc.stderr is not None
        out = _Capped(proc.stdout, self.max_output_bytes, "stdout", on_line)
        err = _Capped(proc.stderr, self.max_output_bytes, "stderr", on_line)
        try:
            if stdin_text is not None:
                threading.Thread(target=_feed, args=(proc, stdin_text), daemon=True).start()
            proc.wait(timeout=timeout)
        except BaseException as exc:
            # Ctrl-C does not reach a child in its own session: stop it before going on.
            _kill_group(proc)
            if not isinstance(exc, subprocess.TimeoutExpired):
                proc.wait()
                raise
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
            return CommandResult(argv, None, out.text(1.0), err.text(1.0), time.monotonic() - started,
                                 timed_out=True)
        # A child that outlived its parent may still hold the pipes: wait for them only until the timeout.
        until = max(started + timeout, time.monotonic() + 0.5)
        out.join(until - time.monotonic())
        err.join(until - time.monotonic())
        if out.reading() or err.reading():
            _kill_group(proc)  # what is left of its group holds the pipes
        return CommandResult(argv, proc.returncode, out.text(1.0), err.text(1.0), time.monotonic() - started)


#: The most read from a command's stdout and from its stderr; the rest is dropped with a marker.
MAX_OUTPUT_BYTES = 4 * 1024 * 1024
TRUNCATED_MARK = "\n[dldoctor: output truncated after {limit} bytes, {dropped} more dropped]\n"


class _Capped:
    """Reads a pipe to its end in a thread, keeping the first `limit` bytes (a tool printing forever costs
    no memory), and decodes it as text mode would (locale encoding, replaced errors, universal newlines)."""

    def __init__(self, pipe: IO[bytes], limit: int, name: str = "", on_line: LineCallback | None = None) -> None:
        self._pipe, self._fd, self._limit = pipe, pipe.fileno(), limit
        self._name, self._on_line = name, on_line
        self._partial = b""
        self._chunks: list[bytes] = []
        self._kept = 0
        self._dropped = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    if self._on_line is not None and self._partial:
                        self._lines(b"\n")  # the last line had no newline
                    break
                if self._on_line is not None:
                    self._lines(chunk)
                room = self._limit - self._kept
                if room > 0:
                    self._chunks.append(chunk[:room])
                    self._kept += min(room, len(chunk))
                self._dropped += max(0, len(chunk) - max(room, 0))
        except (OSError, ValueError):
            pass
        finally:
            try:
                self._pipe.close()
            except OSError:
                pass

    def _lines(self, chunk: bytes) -> None:
        """Hand each complete line to the callback (the partial one waits; a runaway line is cut at 4 KiB)."""
        assert self._on_line is not None
        data = (self._partial + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > 4096:
            lines.append(self._partial)
            self._partial = b""
        for raw in lines:
            try:
                self._on_line(self._name, raw.decode(locale.getpreferredencoding(False), errors="replace"))
            except Exception:  # noqa: BLE001  (a progress display must never stop the reading)
                pass

    def join(self, wait_s: float) -> None:
        self._thread.join(max(0.0, wait_s))

    def reading(self) -> bool:
        return self._thread.is_alive()

    def text(self, wait_s: float) -> str:
        self._thread.join(wait_s)
        data = b"".join(self._chunks)  # a list append is atomic: safe to read while a reader still runs
        text = data.decode(locale.getpreferredencoding(False), errors="replace")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self._dropped:
            text += TRUNCATED_MARK.format(limit=self._limit, dropped=self._dropped)
        return text


def _feed(proc: subprocess.Popen[bytes], text: str) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(text.encode(locale.getpreferredencoding(False), errors="replace"))
        proc.stdin.close()
    except (OSError, ValueError):
        pass


@functools.cache
def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to SIGKILL the child when dldoctor dies (Linux); None elsewhere.

    The libc function is looked up here, in the parent, so the child only makes one system call
    between fork and exec (nothing that could wait on a lock another thread held at the fork).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1  # <linux/prctl.h>
    kill = int(signal.SIGKILL)

    def hook() -> None:
        prctl(pr_set_pdeathsig, kill, 0, 0, 0)

    return hook


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
