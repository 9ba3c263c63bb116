"""The lines the payload prints and the host reads back, defined once for both sides.

The result line goes to stdout prefixed with `RESULT_MARKER`, so whatever the
framework prints on stdout cannot be mistaken for it; progress lines go to
stderr prefixed with `PROGRESS_MARKER`; each collective worker prints one
`RANK_MARKER` line.
"""

from __future__ import annotations

import sys

RESULT_MARKER = "DLDOCTOR-SMOKE-JSON "
PROGRESS_MARKER = "dldoctor-smoke: "
PAYLOAD_VERSION = 1
#: The one line each collective worker prints on stdout.
RANK_MARKER = "DLDOCTOR-SMOKE-RANK "


def progress(text: str) -> None:
    print(PROGRESS_MARKER + text, file=sys.stderr, flush=True)


def error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 600 else text[:600] + "..."
