"""`dldoctor report`: the markdown block a bug report should carry, so that `dldoctor triage` reads it perfectly.

The block states the facts that matter in the words `triage` parses (collect_env's
and nvidia-smi's own lines), the verdict, and folds in the redacted snapshot
itself, which `triage` prefers over any other text when it finds one.
"""

from __future__ import annotations

import json
from typing import Any

from dldoctor import __version__
from dldoctor.report import Report


def _facts(doc: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    host = doc.get("host") or {}
    distro = (host.get("distro") or {}).get("name") or host.get("os")
    if distro:
        lines.append(f"OS: {distro} ({host.get('arch') or '?'})")
    python = (host.get("python") or {}).get("version")
    if python:
        lines.append(f"Python version: {python}")
    nv = doc.get("nvidia") or {}
    if nv.get("driver_version"):
        lines.append(f"Nvidia driver version: {nv['driver_version']}")
        cuda = nv.get("cuda_driver_version")
        lines.append(f"NVIDIA-SMI {nv.get('nvml_library_version') or nv['driver_version']}  "
                     f"Driver Version: {nv['driver_version']}" + (f"  CUDA Version: {cuda}" if cuda else ""))
    gpus = [g for g in nv.get("gpus") or [] if isinstance(g, dict)]
    if gpus:
        lines.append("GPU models and configuration:")
        lines += [f"GPU {g.get('index', i)}: {g.get('name')}" for i, g in enumerate(gpus)]
    for fw in (doc.get("frameworks") or {}).get("installed") or []:
        if fw.get("name") == "pytorch":
            lines.append(f"PyTorch version: {fw.get('version')}")
            if fw.get("variant") == "cuda":
                lines.append(f"CUDA used to build PyTorch: {fw.get('cuda_version')}")
        else:
            lines.append(f"{fw.get('distribution') or fw.get('name')}=={fw.get('version')}")
    return lines


def render_report_block(doc: dict[str, Any], report: Report) -> str:
    """A markdown block to paste into a new bug report."""
    worst = [f for f in report.findings if f.severity.rank == max((x.severity.rank for x in report.findings),
                                                                   default=0) and f.severity.rank > 0]
    verdict = "; ".join(f"{f.severity.value}: {f.title} (`{f.id}`)" for f in worst) or "no problem found"
    out = [
        f"**dldoctor {__version__} report** - {report.status}: {verdict}",
        "",
        "```text",
        *_facts(doc),
        "```",
        "",
        "<details><summary>dldoctor snapshot (redacted)</summary>",
        "",
        "```json",
        json.dumps(doc, indent=1, sort_keys=False, default=str),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(out) + "\n"
