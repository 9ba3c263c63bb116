"""The human form of a check report, in the style of `flutter doctor`.

One line per area with a mark (ok / warning / error), the findings under it,
the recommendations, then every fix in one numbered list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dldoctor.report import AREA_TITLES, AREAS, Finding, Report, Severity
from dldoctor.snapshot.facts import Facts, pick

MARKS = {"ok": "[green][✓][/]", "warning": "[yellow][!][/]", "error": "[red][✗][/]", "info": "[blue][i][/]"}
SEVERITY_MARK = {Severity.ERROR: "[red]✗[/]", Severity.WARNING: "[yellow]![/]", Severity.INFO: "[blue]•[/]"}


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _host_summary(facts: Facts, findings: list[Finding]) -> str | None:
    distro = pick(facts.raw, "host", "distro", "name", kind=str) or facts.os
    parts = [distro, facts.arch]
    kernel = pick(facts.raw, "host", "kernel", kind=str)
    if kernel:
        parts.append(f"kernel {kernel}")
    if facts.cloud:
        parts.append(f"cloud: {facts.cloud}")
    if facts.in_container:
        parts.append(f"in a {facts.in_container} container")
    if facts.wsl:
        parts.append("WSL2")
    return ", ".join(parts)


def _driver_summary(facts: Facts, findings: list[Finding]) -> str | None:
    if not facts.nvidia.get("present"):
        return None
    gpus = facts.working_gpus
    names = ", ".join(
        f"{g.get('name')} (sm_{str(g.get('compute_capability', '?')).replace('.', '')}"
        f", {round((pick(g, 'memory_total_mib', kind=int) or 0) / 1024)} GiB)" for g in gpus
    )
    cuda = f" (CUDA {facts.cuda_driver_version})" if facts.cuda_driver_version else ""
    if not facts.gpus and facts.nvml_error_code:
        return f"driver {facts.driver_version or 'unknown'}{cuda}; GPUs unreadable (NVML: {facts.nvml_error_code})"
    return f"driver {facts.driver_version or 'unknown'}{cuda}; {len(gpus)} GPU{'s' if len(gpus) != 1 else ''}" + (
        f": {names}" if names else "")


def _cuda_summary(facts: Facts, findings: list[Finding]) -> str | None:
    kits = [t for t in facts.toolkits if t.get("version")]
    cudnn = facts.libraries("cudnn")
    if not kits and not cudnn:
        return None
    parts = []
    if kits:
        parts.append("toolkit " + ", ".join(sorted({str(t["version"]) for t in kits})))
    if cudnn:
        parts.append("cuDNN " + ", ".join(sorted({str(c.get("version")) for c in cudnn})))
    return "; ".join(parts)


def _amd_summary(facts: Facts, findings: list[Finding]) -> str | None:
    if not facts.amd.get("present"):
        return None
    rocm = pick(facts.amd, "rocm_version", kind=str)
    return f"ROCm {rocm or 'not installed'}; GPUs: " + (", ".join(
        f"{g.get('name') or 'AMD GPU'} ({g.get('gfx_target')})" for g in facts.amd_gpus) or "none visible")


def _frameworks_summary(facts: Facts, findings: list[Finding]) -> str | None:
    fws = facts.frameworks
    if not fws:
        if facts.python.get("error") and not facts.python.get("executable"):
            return "no Python to inspect: " + str(facts.python.get("error"))
        return "none installed in " + str(facts.python.get("executable") or "this Python")
    return ", ".join(
        f"{f.get('name')} {f.get('version')}" + (f" ({f.get('variant')})" if f.get("variant") else "") for f in fws
    )


def _python_summary(facts: Facts, findings: list[Finding]) -> str | None:
    py = facts.python
    if not py:
        return None
    return f"Python {py.get('version') or '?'} at {py.get('executable')}"


def _containers_summary(facts: Facts, findings: list[Finding]) -> str | None:
    docker = facts.docker
    if not docker.get("client"):
        return None
    if not docker.get("reachable"):
        return "Docker client only; no engine reachable"
    gpu = "NVIDIA runtime" if docker.get("nvidia_runtime") else ("CDI" if docker.get("cdi_nvidia_spec") else "no GPU support")
    return f"Docker {docker.get('server_version')}, {gpu}"


def _health_summary(facts: Facts, findings: list[Finding]) -> str | None:
    health = [f for f in findings if f.id.startswith("health.")]
    if not facts.working_gpus or any(f.severity is not Severity.INFO for f in health):
        return None
    notes = f"; {len(health)} note{'s' if len(health) > 1 else ''} (-v shows {'them' if len(health) > 1 else 'it'})"
    return "no ECC, throttling or link problems seen" + (notes if health else "")


#: One summary per area. A table keyed by area rather than a chain of steps: an area has exactly one
#: summary, so there is no "first that settles it" to order.
AREA_SUMMARIES: dict[str, Callable[[Facts, list[Finding]], str | None]] = {
    "host": _host_summary, "driver": _driver_summary, "cuda": _cuda_summary, "amd": _amd_summary,
    "frameworks": _frameworks_summary, "python": _python_summary, "containers": _containers_summary,
    "health": _health_summary,
}


def area_summary(area: str, facts: Facts, findings: list[Finding] | None = None) -> str | None:
    """A one-line account of an area, or None when there is nothing to say about it.

    `findings` are the area's findings (all severities): a summary never claims
    "no problems" over a finding listed under it.
    """
    summary = AREA_SUMMARIES.get(area)
    return summary(facts, list(findings or ())) if summary is not None else None


def other_environment_lines(facts: Facts) -> list[str]:
    """One line per environment found besides the inspected one, with its frameworks."""
    others = pick(facts.raw, "frameworks", "other_environments", kind=list) or []
    lines = []
    for env in others:
        if not isinstance(env, dict):
            continue
        fws = [f for f in env.get("frameworks") or [] if isinstance(f, dict)]
        names = ", ".join(f"{f.get('name')} {f.get('version')}" + (f" ({f.get('variant')})" if f.get("variant") else "")
                          for f in fws) or "no frameworks"
        python = f", Python {env['python_version']}" if env.get("python_version") else ""
        lines.append(f"also {env.get('prefix')} ({env.get('kind')}{python}): {names}; "
                     f"--python {env.get('prefix')}/bin/python inspects it")
    return lines


def _flat(value: Any, prefix: str = "") -> list[str]:
    """`key=value` for every leaf of a section; a list of records is counted and each record flattened."""
    if isinstance(value, dict):
        return [part for key, item in value.items() for part in _flat(item, f"{prefix}{key}.")]
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return [f"{prefix[:-1]}=[{', '.join(str(v) for v in value)}]"] if value else []
        return [part for i, item in enumerate(value) for part in _flat(item, f"{prefix[:-1]}[{i}].")]
    return [] if value is None else [f"{prefix[:-1]}={value}"]


def probe_detail_lines(snapshot: dict[str, Any]) -> list[str]:
    """-vv: every probe's facts, a line per section, its leaves spelt out (`gpus[0].name=...`)."""
    from dldoctor.snapshot import SECTIONS

    lines = ["", "[bold]Probes[/]"]
    for section in SECTIONS:
        value = snapshot.get(section)
        parts = _flat(value) if isinstance(value, dict) else []
        lines.append(f"  [bold]{section}[/]: {_esc('; '.join(parts)) if parts else '[dim](nothing found)[/]'}")
    return lines


def no_gpu_at_all(facts: Facts) -> bool:
    """No NVIDIA, AMD or Apple GPU was found (not one that is there but unusable); an Intel GPU, which no
    recommended build uses, does not count."""
    other = facts.section("other_accelerators")
    found = [facts.has_nvidia_hardware, bool(facts.nvidia.get("present")), bool(facts.amd.get("present")),
             bool(facts.amd_gpus), bool(pick(other, "mps", "available", kind=bool))]
    return not any(found)


def _intel_gpus(facts: Facts) -> list[str]:
    """The Intel GPUs on the bus (the recommended builds do not use them), as `bus id (driver)`."""
    gpus = pick(facts.section("other_accelerators"), "intel_xpu", "gpus", kind=list) or []
    return [f"{g.get('bus_id')} ({g.get('driver') or 'no driver'})" for g in gpus if isinstance(g, dict)]


def _no_gpu_sentence(report: Report) -> str | None:
    """The one "why the CPU builds" sentence the recommendations share, when they do (said once, not per
    framework)."""
    from dldoctor.variants import target_from_facts

    reason = target_from_facts(Facts(report.snapshot)).no_gpu_reason
    return reason if any(reason in rec.reason for rec in report.recommendations) else None


def _without(text: str, sentence: str | None) -> str:
    if not sentence:
        return text
    return text.replace(f": {sentence}", "").replace(sentence, "").rstrip(": ")


_FRAMEWORK_NAMES = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX"}


def _shown_recommendations(report: Report, facts: Facts, verbose: int) -> tuple[list[Any], list[Any]]:
    """The recommendations printed in full (the frameworks the user has; PyTorch when there is none; all with
    -v) and the others, which get one line."""
    recs = list(report.recommendations)
    if verbose or len(recs) <= 1:
        return recs, []
    have = {str(f.get("name")) for f in facts.frameworks}
    shown = [r for r in recs if r.framework in have] or recs[:1]
    return shown, [r for r in recs if r not in shown]


def _area_findings(report: Report) -> dict[str, list[Finding]]:
    by_area: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_area.setdefault(finding.area if finding.area in AREAS else "internal", []).append(finding)
    return by_area


def _area_lines(report: Report, facts: Facts, verbose: int, quiet: bool, no_gpu: str | bool) -> list[str]:
    """One line per area with its mark and summary, the area's findings under it."""
    lines: list[str] = []
    by_area = _area_findings(report)
    for area in AREAS:
        everything = by_area.get(area, [])
        # On a machine without a GPU, the GPU line says once what frameworks.no-gpu would say per framework.
        findings = [f for f in everything if verbose or (f.severity is not Severity.INFO or area == "frameworks")
                    and not (no_gpu and f.id == "frameworks.no-gpu")]
        summary = area_summary(area, facts, everything)
        if summary is None and not findings:
            continue
        worst = max((f.severity.rank for f in findings), default=-1)
        if area == "frameworks":
            # A framework that will not use the GPU marks its own line, whatever area explains why.
            worst = max([worst, *(f.severity.rank for f in report.findings
                                  if f.evidence.get("framework") and f.severity is not Severity.INFO)])
        mark = {2: "error", 1: "warning", 0: "ok", -1: "ok"}[worst]
        if quiet and mark == "ok":
            continue
        lines.append(f"{MARKS[mark]} [bold]{AREA_TITLES[area]}[/]" + (f": {_esc(summary)}" if summary else ""))
        lines.extend(_finding_lines(findings, verbose))
        if area == "frameworks" and not quiet:
            lines.extend(f"    [dim]•[/] {_esc(text)}" for text in other_environment_lines(facts))
    return lines


def _finding_lines(findings: list[Finding], verbose: int) -> list[str]:
    lines: list[str] = []
    for finding in findings:
        lines.append(f"    {SEVERITY_MARK[finding.severity]} {_esc(finding.title)} [dim]({finding.id})[/]")
        if finding.detail and (verbose or finding.severity is Severity.ERROR):
            lines.append(f"      [dim]{_esc(finding.detail)}[/]")
    return lines


def _gpu_line(report: Report, facts: Facts, sentence: str | None) -> str:
    """A CPU-only machine's one GPU line: what no GPU means for the recommended builds, and why."""
    frameworks = [_FRAMEWORK_NAMES.get(r.framework, r.framework) for r in report.recommendations]
    meaning = (f"{', '.join(frameworks[:-1])} and {frameworks[-1]}" if len(frameworks) > 1
               else "".join(frameworks)) or "every framework"
    why = sentence.removeprefix("no usable GPU here: ") if sentence else ""
    intel = _intel_gpus(facts)
    found = f" for these builds (the Intel GPU {', '.join(intel)} is not used)" if intel else ""
    return f"{MARKS['warning']} [bold]GPU[/]: none found{_esc(found)}; {_esc(meaning)} run on the CPU here" + (
        f": {_esc(why)}" if why else "")


def _recommendation_lines(report: Report, facts: Facts, verbose: int, sentence: str | None,
                          no_gpu: str | bool) -> list[str]:
    shown, others = _shown_recommendations(report, facts, verbose)
    lines = ["", "[bold]Recommended builds for this machine[/]"]
    if sentence and not no_gpu:
        lines.append(f"  [dim]CPU builds: {_esc(sentence)}[/]")
    for rec in shown:
        reason = _without(rec.reason, sentence)
        lines.append(f"  {_esc(rec.framework)} [bold]{_esc(rec.variant)}[/]: {_esc(reason)}")
        lines.append(f"      {_esc(rec.install)}")
        lines.append(f"      {_esc(rec.setup)}")
        if verbose:
            lines.extend(f"      [dim]not {variant}: {_esc(why)}[/]" for variant, why in rec.rejected)
    if others:
        listed = "; ".join(f"{r.framework} {r.variant} ({r.setup})" for r in others)
        lines.append(f"  [dim]not installed here: {_esc(listed)}; -v says why[/]")
    return lines


def _fix_lines(fixes: list[Finding]) -> list[str]:
    lines = ["", "[bold]Fixes[/]"]
    for number, finding in enumerate(fixes, 1):
        lines.append(f"  {number}. {_esc(finding.title)} [dim]({finding.id})[/]")
        lines.extend(f"       $ {_esc(command)}" for command in finding.fix)
    return lines


def _verdict_line(report: Report) -> str:
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    verdict = {"ok": "[green]No problems found.[/]",
               "warning": f"[yellow]{counts[Severity.WARNING]} warning(s)[/], no errors.",
               "error": f"[red]{counts[Severity.ERROR]} error(s)[/], {counts[Severity.WARNING]} warning(s)."}
    return verdict[report.status] + " [dim]`dldoctor explain ID` says more about a finding.[/]"


def render_check(report: Report, verbose: int = 0, quiet: bool = False) -> list[str]:
    """Rich-markup lines of the human report: `quiet` keeps the problems and the verdict, `verbose` >= 2
    adds every probe's facts."""
    facts = Facts(report.snapshot)
    sentence = _no_gpu_sentence(report)
    # A CPU-only machine gets one GPU line saying what that means, the recommendations' shared reason once.
    no_gpu: str | bool = (sentence or True) if no_gpu_at_all(facts) else False
    lines = _area_lines(report, facts, verbose, quiet, no_gpu)
    if no_gpu:
        lines.insert(1 if lines and "Machine" in lines[0] else 0, _gpu_line(report, facts, sentence))
    if report.recommendations and not quiet:
        lines.extend(_recommendation_lines(report, facts, verbose, sentence, no_gpu))
    fixes = [f for f in report.findings if f.fix and f.severity is not Severity.INFO]
    if fixes and not quiet:
        lines.extend(_fix_lines(fixes))
    if verbose >= 2:
        lines.extend(probe_detail_lines(report.snapshot))
    if lines:
        lines.append("")
    lines.append(_verdict_line(report))
    return lines


def failures_note(snapshot: dict[str, Any]) -> str | None:
    """A dim line counting the probe sources that failed, or None when none did."""
    failures = Facts(snapshot).probe_failures
    if not failures:
        return None
    return f"[dim]{len(failures)} probe source(s) failed; -v lists them[/]"


#: The part of a line its continuation lines hang under: indent plus a mark ("[✓] ", "✗ ", "1. ", "$ ").
_HANG = re.compile(r"^(\s*)(\[[✓✗!i]\] |[✓✗!•] |\d+\. |\$ )?")


def wrap_lines(lines: list[str], width: int) -> list[Any]:
    """Rich-markup lines broken at word boundaries to `width` cells, each continuation hanging under the
    text after the line's indent and mark (a line without a mark hangs two further in)."""
    from rich.console import Console
    from rich.text import Text

    measure = Console(width=max(width, 20), color_system=None, legacy_windows=False)
    out: list[Any] = []
    for line in lines:
        text = Text.from_markup(line)
        plain = text.plain
        if text.cell_len <= width:
            out.append(text)
            continue
        match = _HANG.match(plain)
        indent, mark = (match.group(1), match.group(2)) if match else ("", None)
        hang = len(indent) + (len(mark) if mark else 2)
        if width - hang < 20:  # a terminal too narrow to hang in: plain folding reads better
            hang = 0
        head_len = len(indent) + len(mark or "")
        head, body = text[:head_len], text[head_len:]
        first_width = width - head_len
        pieces = body.wrap(measure, first_width, overflow="fold")
        if not pieces:
            out.append(text)
            continue
        first = pieces[0]
        rest = body[len(first.plain):]
        first.rstrip()
        out.append(Text.assemble(head, first))
        rest = rest[len(rest.plain) - len(rest.plain.lstrip()):]
        if rest.plain:
            for piece in rest.wrap(measure, width - hang, overflow="fold"):
                piece.rstrip()
                out.append(Text.assemble(" " * hang, piece))
    return out
