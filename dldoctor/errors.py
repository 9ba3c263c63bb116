"""Every fatal error dldoctor can end with, and its exit code.

Exit codes are defined here and nowhere else. Errors are raised anywhere and
caught only at the entry point (`dldoctor.cli.main`), which prints one line and
exits with the error's code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes of every dldoctor command."""

    OK = 0
    #: `check` found an error-level finding; `smoke` saw a wrong result.
    FINDINGS = 1
    #: Unknown option, missing argument, bad option value.
    USAGE = 2
    #: An input file or interpreter that cannot be used (missing, unreadable, wrong schema).
    INPUT = 3
    #: An output path that cannot be written.
    OUTPUT = 4
    #: The target environment cannot run what was asked (framework missing, interpreter broken).
    TARGET = 5
    #: An external step ran past its time limit.
    TIMEOUT = 6
    #: `smoke` found no accelerator and `--allow-cpu` was not given.
    NO_ACCELERATOR = 7
    #: A needed external service or tool is unavailable (no Docker engine, no network).
    UNAVAILABLE = 8
    #: A bug in dldoctor itself.
    INTERNAL = 70
    INTERRUPTED = 130


class DldoctorError(Exception):
    """Base of every error that ends a command with a one-line message."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(DldoctorError):
    exit_code = ExitCode.USAGE


class InputError(DldoctorError):
    exit_code = ExitCode.INPUT


class OutputError(DldoctorError):
    exit_code = ExitCode.OUTPUT


class TargetError(DldoctorError):
    exit_code = ExitCode.TARGET


class TimeoutExpired(DldoctorError):
    exit_code = ExitCode.TIMEOUT


class NoAcceleratorError(DldoctorError):
    exit_code = ExitCode.NO_ACCELERATOR


class UnavailableError(DldoctorError):
    exit_code = ExitCode.UNAVAILABLE
