"""Reading pip's and uv's failures, said once: was it the network, a hash, or the resolver, and which line says so.

The venv backend (lock and install) and the docker backend (fetching the
locked wheels into the build context) both run pip or uv and both word the
failure from these.
"""

from __future__ import annotations

import re

from dldoctor.runner import CommandResult

#: Lines (lowercased) that mean a package source could not be reached.
NETWORK_SIGNS = (
    "connection refused", "failed to establish a new connection", "network is unreachable", "name or service not known",
    "temporary failure in name resolution", "could not fetch url", "failed to fetch", "error sending request",
    "dns error", "connection reset", "timed out",
    "could not connect", "tcp connect error", "max retries exceeded",
    "connectionerror", "connection aborted", "proxyerror", "cannot connect to proxy",
)
#: Text (lowercased) that means a downloaded file did not match its locked sha256.
HASH_SIGNS = ("do not match the hashes", "hash mismatch", "hashes do not match")
#: Text (lowercased) that means no file of the asked version exists on the sources for this platform.
NO_MATCH_SIGNS = ("no matching distribution", "could not find a version")


def output_of(done: CommandResult) -> str:
    """stderr and stdout together, lowercased, for the checks below."""
    return (done.stderr + done.stdout).lower()


def network_lines(text: str) -> list[str]:
    """The lines of `text` that say a source could not be reached."""
    return [ln.strip() for ln in text.splitlines() if any(sign in ln.lower() for sign in NETWORK_SIGNS)]


def is_network_failure(text: str) -> bool:
    return bool(network_lines(text))


def is_hash_mismatch(text: str) -> bool:
    low = text.lower()
    return any(sign in low for sign in HASH_SIGNS)


def is_no_match(text: str) -> bool:
    low = text.lower()
    return any(sign in low for sign in NO_MATCH_SIGNS)


def network_reason(text: str) -> str:
    """"connection refused at https://pypi.org/simple": the cause in a few words, and where."""
    network = network_lines(text)
    joined = "\n".join(network)
    cause = re.search(r"connection refused|network is unreachable|no route to host|name or service not known|"
                      r"temporary failure in name resolution|timed out|dns error", joined, re.IGNORECASE)
    url = re.search(r"(?:https?|file)://[^\s'\")]+", text)
    head = cause.group(0) if cause else (network[-1][:160] if network else "unreachable")
    return head + (f" at {url.group(0).rstrip('/:.,')}" if url else "")


def resolver_reason(text: str) -> str:
    """The most telling line of pip's or uv's error output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for key in ("because", "no solution found", "could not find a version", "error:", "caused by"):
        for line in lines:
            if key in line.lower() and len(line) > len(key) + 3:
                # uv: "cause: Because X, we can conclude that ..." -> "X"
                reason = re.sub(r"^(cause:\s*)?because\s+", "", line, flags=re.IGNORECASE)
                reason = re.split(r", we can conclude", reason)[0]
                if "(from versions: none)" in reason:
                    reason += " - no wheel fits this Python and platform from these sources"
                return reason[:300]
    return lines[-1][:300] if lines else "the resolver failed without saying why"


def hash_line(done: CommandResult) -> str:
    """The line that shows the expected and the got hash, else the command's failure in words."""
    for line in (done.stderr + done.stdout).splitlines():
        low = line.lower()
        if "expected" in low or "hash mismatch" in low or "got" in low.split():
            return line.strip()[:200]
    return done.describe_failure()


def last_error_line(done: CommandResult) -> str:
    """pip's last "ERROR: ..." line, else the command's failure in words."""
    lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return next((ln.strip() for ln in reversed(lines) if ln.strip().startswith("ERROR")), done.describe_failure())
