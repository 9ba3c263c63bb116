"""The snapshot: the versioned, JSON-serialisable facts of one machine.

`take_snapshot` runs every probe in parallel, each in its own daemon thread,
and waits for them until a deadline; a probe that raises or is still running
at the deadline becomes an entry in `probe_failures` and the others go on.
The JSON keys are a public contract (`dldoctor.snapshot/1`).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dldoctor import __version__
from dldoctor.errors import InputError
from dldoctor.machine import Machine
from dldoctor.probes import Notes, ProbeFailure

SCHEMA = "dldoctor.snapshot/1"
SECTIONS = ("host", "nvidia", "amd", "other_accelerators", "cuda_toolkits", "environment", "docker", "frameworks")

ProbeFn = Callable[[Machine, Notes], dict[str, Any]]


def _probes(python: str | None) -> list[tuple[str, ProbeFn]]:
    from dldoctor.probes.accelerators import probe_other_accelerators
    from dldoctor.probes.amd import probe_amd
    from dldoctor.probes.docker import probe_docker
    from dldoctor.probes.environment import probe_environment
    from dldoctor.probes.frameworks import probe_frameworks
    from dldoctor.probes.host import probe_host
    from dldoctor.probes.nvidia import probe_nvidia
    from dldoctor.probes.toolkits import probe_cuda_toolkits

    return [
        ("host", probe_host),
        ("nvidia", probe_nvidia),
        ("amd", probe_amd),
        ("other_accelerators", probe_other_accelerators),
        ("cuda_toolkits", lambda m, n: probe_cuda_toolkits(m, n, python)),
        ("environment", probe_environment),
        ("docker", probe_docker),
        ("frameworks", lambda m, n: probe_frameworks(m, n, python)),
    ]


def take_snapshot(
    machine: Machine,
    *,
    python: str | None = None,
    deep: bool = False,
    redact: bool = False,
    deadline_s: float | None = None,
) -> dict[str, Any]:
    """Probe `machine` and return the snapshot document."""
    started = time.monotonic()
    notes = Notes()
    results: dict[str, dict[str, Any] | None] = {name: None for name in SECTIONS}
    lock = threading.Lock()

    def run(name: str, probe: ProbeFn) -> None:
        try:
            value = probe(machine, notes)
        except Exception as exc:  # noqa: BLE001  (a crashing probe is a result, not the end of the snapshot)
            notes.fail(name, f"{type(exc).__name__}: {exc}")
            return
        with lock:
            results[name] = value

    threads = [
        threading.Thread(target=run, args=(name, probe), name=f"probe-{name}", daemon=True)
        for name, probe in _probes(python)
    ]
    # The probes are short and mostly wait on files, sockets and children: a short GIL switch
    # interval lets the one that has work run instead of queueing behind the default 5 ms.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    # One deadline for the whole snapshot: the probes run side by side and every command's timeout is cut
    # to what is left, so tools that all hang cost one --timeout (and a little), not one per command.
    limit = deadline_s if deadline_s is not None else machine.timeout_s + 2.0
    runner = machine.runner
    previous = getattr(runner, "deadline", None)
    if hasattr(runner, "deadline"):
        runner.deadline = started + max(0.1, limit - 0.5)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, limit - (time.monotonic() - started)))
    finally:
        sys.setswitchinterval(switch)
        if hasattr(runner, "deadline"):
            runner.deadline = previous
    with lock:
        for thread in threads:
            if thread.is_alive():
                name = thread.name.removeprefix("probe-")
                notes.fail(name, f"did not finish within {limit:.1f}s")
        sections = dict(results)
    frameworks = sections.get("frameworks")
    if deep and frameworks:
        from dldoctor.probes.deep import deep_probe

        sections["frameworks"] = deep_probe(machine, notes, frameworks)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "dldoctor_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
        "deep": deep,
        "redacted": False,
        **sections,
        "probe_failures": [f.to_json() for f in sorted(notes.failures, key=lambda f: f.probe)],
    }
    doc = clean_strings(doc)  # credentials never recorded, redacted or not; no terminal control characters
    return redact_snapshot(doc) if redact else doc


# --- redaction ---------------------------------------------------------------

#: The userinfo of a URL (`https://user:token@host/...`): up to the last `@` before the path.
_URL_USERINFO_RE = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@]+(?:@[^\s/?#@]*)*@")
_IPV4_RE = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.]|\.\d)")
_IPV6_RE = re.compile(r"(?<![\w:])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
                      r"|(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4})(?![\w:])")
#: Keys whose text is an error message: --redact also removes the IP addresses in them.
_ERROR_KEYS = frozenset({"error", "errors", "message", "nvml_error", "stderr", "detail"})


def url_without_credentials(text: str) -> str:
    """`text` with the user and password of every URL in it replaced by `<credentials>`."""
    return _URL_USERINFO_RE.sub(r"\1<credentials>@", text) if "@" in text else text


#: Terminal control characters (C0 but tab and newline, DEL, C1): an escape sequence in a GPU name or a
#: tool's output must not reach a terminal (`\x1b]0;title\x07`).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without terminal control characters."""
    return _CONTROL_RE.sub("", text)


def clean_strings(value: Any) -> Any:
    """Every string in `value` (keys too) without URL credentials (PIP_INDEX_URL=https://user:token@host/...)
    and without terminal control characters."""
    if isinstance(value, str):
        return printable(url_without_credentials(value))
    if isinstance(value, dict):
        return {clean_strings(k): clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    return value




def without_ip_addresses(text: str) -> str:
    return _IPV6_RE.sub("<ip>", _IPV4_RE.sub("<ip>", text))

_UUID_RE = re.compile(r"\b(?:GPU-|MIG-)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


class _Scrubber:
    """The text of one snapshot with its secrets replaced: host and user names (given), UUIDs (each distinct
    one a stable placeholder, so a reader can still tell the GPUs apart)."""

    def __init__(self, secrets: list[tuple[str, str, bool]]) -> None:
        self.secrets = secrets  # (text, placeholder, replace it anywhere as a word)
        self.uuids: dict[str, str] = {}

    def _uuid(self, match: re.Match[str]) -> str:
        found = match.group(0)
        prefix = "GPU-" if found.startswith("GPU-") else "MIG-" if found.startswith("MIG-") else ""
        return self.uuids.setdefault(found, f"{prefix}<uuid-{len(self.uuids)}>")

    def text(self, text: str) -> str:
        text = _UUID_RE.sub(self._uuid, text)
        for secret, placeholder, anywhere in self.secrets:
            if text == secret and anywhere:
                return placeholder
            if anywhere and len(secret) >= 3:
                text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", placeholder, text)
            else:  # a user name only as a path component (/home/ubuntu/...), never "ubuntu" the distro
                text = re.sub(rf"(?<=/){re.escape(secret)}(?=/|$)", placeholder, text)
        return text

    def walk(self, value: Any, key: str = "", error: bool = False) -> Any:
        if key in ("serial", "product_serial", "board_serial", "product_uuid"):
            return "<redacted>"
        error = error or key in _ERROR_KEYS
        if isinstance(value, dict):
            return {k: self.walk(v, k, error) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, "", error) for v in value]
        if isinstance(value, str):
            text = self.text(url_without_credentials(value))
            return without_ip_addresses(text) if error else text
        return value


def _host_secrets(host: Any) -> list[tuple[str, str, bool]]:
    secrets: list[tuple[str, str, bool]] = []
    if isinstance(host, dict):
        if isinstance(host.get("hostname"), str) and host["hostname"]:
            secrets.append((host["hostname"], "<host>", True))
        if isinstance(host.get("user"), str) and host["user"] and host["user"] not in ("root",):
            secrets.append((host["user"], "<user>", False))
    return secrets


def redact_snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """Remove host names, user names, serial numbers, UUIDs, URL credentials and the IP addresses in
    error text, so the snapshot can go into a bug report.

    Each distinct UUID becomes a stable placeholder, so a reader can still tell
    the GPUs apart.
    """
    redacted: dict[str, Any] = _Scrubber(_host_secrets(doc.get("host") or {})).walk(doc)
    if isinstance(redacted.get("host"), dict):
        for key, placeholder in (("hostname", "<host>"), ("user", "<user>")):
            if redacted["host"].get(key):
                redacted["host"][key] = placeholder
    redacted["redacted"] = True
    return redacted


# --- reading a snapshot file --------------------------------------------------

#: The largest snapshot file read (a real one is tens of kB); /dev/zero or a 100 MB file is refused.
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
#: How deep a snapshot's JSON may nest (a real one is under 10 levels).
MAX_DEPTH = 64
#: How long a FIFO (`check --snapshot <(ssh host dldoctor snapshot)`) may take to deliver the snapshot.
PIPE_TIMEOUT_S = 30.0


def _read_bounded(path: Path) -> bytes:
    """The bytes of `path`, at most MAX_SNAPSHOT_BYTES; a FIFO or device is read without hanging forever."""
    import os
    import select
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if stat.S_ISREG(st.st_mode) and st.st_size > MAX_SNAPSHOT_BYTES:
            raise InputError(f"snapshot file {path} is {st.st_size / 2**20:.0f} MiB; a snapshot is at most "
                             f"{MAX_SNAPSHOT_BYTES // 2**20} MiB")
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + PIPE_TIMEOUT_S
        while size <= MAX_SNAPSHOT_BYTES:
            if not stat.S_ISREG(st.st_mode):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise InputError(f"snapshot file {path} sent no complete snapshot within {PIPE_TIMEOUT_S:.0f}s")
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SNAPSHOT_BYTES:
            raise InputError(f"snapshot file {path} is larger than {MAX_SNAPSHOT_BYTES // 2**20} MiB; "
                             "it is not a snapshot")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _depth(doc: Any) -> int:
    """How deep `doc` nests, without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _snapshot_text(path: Path) -> str:
    """The text of a snapshot file; InputError when it is missing, a directory, unreadable or empty."""
    try:
        text = _read_bounded(path).decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"snapshot file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"snapshot file {path} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"snapshot file {path} cannot be read: {exc}") from None
    if not text.strip():
        raise InputError(f"snapshot file {path} is empty")
    return text


def _snapshot_json(path: Path, text: str) -> dict[str, Any]:
    """The JSON object of a snapshot file; InputError when it is not JSON, truncated, too deep or not an object."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Unterminated") or exc.pos >= len(text.rstrip()) - 1:
            raise InputError(f"snapshot file {path} is truncated (the JSON ends early, line {exc.lineno})") from None
        raise InputError(f"snapshot file {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise InputError(f"snapshot file {path} nests deeper than any snapshot ({MAX_DEPTH} levels at most)") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise InputError(f"snapshot file {path} is not a snapshot: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise InputError(f"snapshot file {path} is not a snapshot (a JSON {type(doc).__name__}, not an object)")
    if _depth(doc) > MAX_DEPTH:
        raise InputError(f"snapshot file {path} nests deeper than any snapshot ({MAX_DEPTH} levels at most)")
    return doc


def _check_schema(path: Path, doc: dict[str, Any]) -> None:
    """InputError unless `doc` is a snapshot of this schema with every section an object (or null)."""
    schema = doc.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("dldoctor.snapshot/"):
            raise InputError(f"snapshot file {path} has schema {schema}; this dldoctor reads {SCHEMA}")
        raise InputError(f"snapshot file {path} is not a dldoctor snapshot (schema {schema!r})")
    missing = [name for name in SECTIONS if name not in doc]
    if missing:
        raise InputError(f"snapshot file {path} lacks the section(s) {', '.join(missing)}: nothing can be said "
                         "about them (take it again with `dldoctor snapshot`)")
    wrong = [name for name in SECTIONS if doc[name] is not None and not isinstance(doc[name], dict)]
    if wrong:
        raise InputError(f"snapshot file {path}: section {wrong[0]} is a JSON {type(doc[wrong[0]]).__name__}, "
                         "not an object")


def load_snapshot(path: Path) -> dict[str, Any]:
    """Read a snapshot written by `dldoctor snapshot`; InputError names what is wrong."""
    doc = _snapshot_json(path, _snapshot_text(path))
    if "schema" not in doc and isinstance(doc.get("snapshot"), dict):
        doc = doc["snapshot"]  # a `check --json` report carries the snapshot inside
    _check_schema(path, doc)
    return clean_strings(doc)  # type: ignore[no-any-return]  # checked to be a dict above


__all__ = ["SCHEMA", "SECTIONS", "ProbeFailure", "load_snapshot", "redact_snapshot", "take_snapshot"]
