"""Progress of `setup` and `smoke` for people: one vocabulary of steps, drawn with rich on a terminal.

Every backend says what it does as "<step>: <text>" lines, with the steps of
`STEPS`, and counts (packages) or bytes through `report_count`. On a
terminal, `LiveProgress` shows a spinner naming the current step and a bar
for counts and bytes, and keeps one line per finished step; when stderr is
not a terminal it prints one line per step (its last, which says how it
ended), warnings, and nothing else: no spinners, no escape codes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: The steps of every backend, in order. docker's image build is its `build` (the others' `install`).
STEPS = ("plan", "spec", "solve", "lock", "download", "install", "build", "verify", "smoke")

#: Called with a line of progress for people (the CLI prints it; tests collect it); every backend uses this one.
Progress = Callable[[str], None]


def step_of(line: str) -> str | None:
    """"lock: ..." -> "lock"; None for a line outside the vocabulary (a warning, a note)."""
    head, sep, _ = line.partition(": ")
    return head if sep and head in STEPS else None


def report_count(progress: Progress, step: str, done: int, total: int | None, what: str,
                 unit: str = "packages") -> None:
    """`done` of `total` packages (or bytes, `unit="bytes"`) in `step`; a plain line for plain callables."""
    count = getattr(progress, "count", None)
    if callable(count):
        count(step, done, total, what, unit)
        return
    of = f"/{total}" if total else ""
    progress(f"{step}: [{done}{of}] {what}")


class LiveProgress:
    """The `Progress` callable the CLI hands to `setup` (and `smoke`): rich on a terminal, one line per step else."""

    def __init__(self, console: Any, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.live = bool(getattr(console, "is_terminal", False)) and not quiet
        self._lock = threading.Lock()
        self._step: str | None = None
        self._last: str | None = None
        self._bar: Any = None
        self._task: Any = None
        self._bar_unit = ""
        if self.live:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self._columns = {"packages": (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                          MofNCompleteColumn()),
                             "bytes": (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                       DownloadColumn())}
            self._rich_progress = RichProgress
            self._status: Any = console.status("", spinner="dots")
            self._status.start()

    # -- the Progress protocol ----------------------------------------------------------------------------

    def __call__(self, line: str) -> None:
        with self._lock:
            step = step_of(line)
            if step is None:  # a warning or a note: always shown, as it came
                self._print(line)
                return
            if step != self._step:
                self._finish_step()
                self._step = step
            self._last = line
            if self.live:
                self._status.update(f"[bold]{step}[/]: {_escape(line.partition(': ')[2][:160])}")

    def count(self, step: str, done: int, total: int | None, what: str, unit: str = "packages") -> None:
        with self._lock:
            if step != self._step:
                self._finish_step()
                self._step = step
            of = f"/{total}" if total else ""
            self._last = f"{step}: [{done}{of}] {what}" if unit == "packages" else f"{step}: {what}"
            if not self.live:
                return
            if self._bar is None or self._bar_unit != unit:
                self._stop_bar()
                self._status.stop()
                self._bar = self._rich_progress(*self._columns[unit], console=self.console, transient=True)
                self._bar_unit = unit
                self._bar.start()
                self._task = self._bar.add_task(step, total=total)
            self._bar.update(self._task, completed=done, total=total, description=f"[bold]{step}[/]: {_escape(what[:80])}")

    def close(self) -> None:
        """The last step's line; the spinner stops."""
        with self._lock:
            self._finish_step()
            self._stop_bar()
            if self.live:
                self._status.stop()

    # -- internals ----------------------------------------------------------------------------------------

    def _finish_step(self) -> None:
        if self._last is not None:
            self._print(self._last)
        self._last = None
        self._stop_bar()
        if self.live:
            self._status.start()

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _print(self, line: str) -> None:
        if not self.quiet or line.startswith("warning:"):
            self.console.print(line, markup=False, highlight=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
