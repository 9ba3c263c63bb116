"""The triage result as text for a terminal and as markdown to paste as a reply in the issue."""

from __future__ import annotations

from typing import Any

from dldoctor.report import Finding, Recommendation
from dldoctor.triage.core import Triage
from dldoctor.triage.gpu_models import first_cuda


def _facts_line(result: Triage) -> list[str]:
    snap = result.snapshot
    nv = snap.get("nvidia") or {}
    amd = snap.get("amd") or {}
    out: list[str] = []
    gpus = [g for g in nv.get("gpus") or [] if g.get("name")]
    if gpus:
        names = sorted({f"{g['name']} (sm_{str(g.get('compute_capability') or '?').replace('.', '')})" for g in gpus})
        out.append(f"GPU: {len(gpus)} x {', '.join(names)}" if len(gpus) > 1 else f"GPU: {names[0]}")
    for g in amd.get("gpus") or []:
        out.append(f"GPU: {g.get('name') or 'AMD GPU'} ({g.get('gfx_target') or 'gfx unknown'})")
    if nv.get("present"):
        cuda = f" (CUDA {nv['cuda_driver_version']})" if nv.get("cuda_driver_version") else ""
        out.append(f"driver: {nv.get('driver_version') or 'unknown'}{cuda}")
    for fw in (snap.get("frameworks") or {}).get("installed") or []:
        build = fw.get("variant") or "build unknown"
        if fw.get("cuda_version"):
            build += f" {fw['cuda_version']}"
        out.append(f"{fw.get('name')}: {fw.get('version')} ({build})")
    for kit in (snap.get("cuda_toolkits") or {}).get("toolkits") or []:
        out.append(f"CUDA toolkit: {kit.get('version')}")
    return out


def _recommendations(result: Triage) -> list[Recommendation]:
    installed = {fw.get("name") for fw in (result.snapshot.get("frameworks") or {}).get("installed") or []}
    # a CPU build is never the answer to a pasted GPU problem: the report just did not name the GPU
    recs = [r for r in result.report.recommendations if r.framework in installed and r.variant != "cpu"]
    if not recs and _build_is_fix(result):
        recs = [r for r in result.report.recommendations if r.framework == "pytorch" and r.variant != "cpu"]
    return recs


#: causes whose fix is another build of the framework: only then is the build to install part of the fix
_BUILD_CAUSES = ("frameworks.", "driver.too-old-for-framework", "amd.gfx-not-in-build", "host.windows-tensorflow")


def _build_is_fix(result: Triage) -> bool:
    return result.cause is not None and result.cause.id.startswith(_BUILD_CAUSES)


def _build_hint(result: Triage) -> str | None:
    """What to install when the chooser cannot pick a CUDA build (the report does not give the driver)."""
    nv = result.snapshot.get("nvidia") or {}
    if not nv.get("present") or nv.get("driver_version") or nv.get("cuda_driver_version"):
        return None
    caps = [g.get("compute_capability") for g in nv.get("gpus") or [] if g.get("compute_capability")]
    need = max((first_cuda(c) or "" for c in caps), key=lambda v: tuple(int(x) for x in v.split(".")) if v else (0,),
               default="")
    gpu = f"sm_{caps[0].replace('.', '')}" if caps else "this GPU"
    if need:
        return (f"a build with CUDA >= {need} (cu{need.replace('.', '')} or newer) has kernels for {gpu}; which one "
                "the driver can run is not in the report: ask for `nvidia-smi`")
    return "which CUDA build fits depends on the driver version, which is not in the report: ask for `nvidia-smi`"


def _fix(result: Triage) -> list[str]:
    """The cause's fix commands, a placeholder for the build replaced by the build the chooser picked."""
    if result.cause is None:
        return []
    recs = _recommendations(result)
    out: list[str] = []
    for command in result.cause.fix:
        if "<the build below>" in command:
            out += [rec.install for rec in recs] or [command]
        else:
            out.append(command)
    return out


def _other(result: Triage) -> list[Finding]:
    cause = result.cause.id if result.cause else None
    return [f for f in result.report.findings if f.id != cause and f.severity.rank > 0]


def _evidence_lines(result: Triage) -> list[str]:
    cause = result.cause.id if result.cause else None
    return [f"line {e.line}: {e.text}" for e in result.evidence if e.cause == cause] or \
        [f"line {e.line}: {e.text}" for e in result.evidence]


def render_text(result: Triage) -> str:
    """The plain-text diagnosis: the cause, the evidence, the fix, the build, what is missing."""
    lines: list[str] = []
    cause = result.cause
    if cause is None:
        lines.append(f"status: {result.status}: no cause found in the report")
    else:
        lines.append(f"cause ({cause.severity.value}): {cause.title}  [{cause.id}]")
        if cause.detail:
            lines += [f"  {d}" for d in cause.detail.splitlines()]
    evidence = _evidence_lines(result)
    if evidence:
        lines.append("evidence:")
        lines += [f"  {e}" for e in evidence]
    fix = _fix(result)
    if fix:
        lines.append("fix:")
        lines += [f"  {c}" for c in fix]
    label = "install" if _build_is_fix(result) else "the build that fits this machine"
    for rec in _recommendations(result):
        release = f" {rec.release}" if rec.release else ""
        lines.append(f"{label}: {rec.framework}{release} {rec.variant}: {rec.install}")
    hint = _build_hint(result)
    if hint and _build_is_fix(result) and not _recommendations(result):
        lines.append(f"install: {hint}")
    other = _other(result)
    if other:
        lines.append("also:")
        lines += [f"  {f.severity.value}: {f.title}  [{f.id}]" for f in other]
    facts = _facts_line(result)
    if facts:
        lines.append("read from the report:")
        lines += [f"  {f}" for f in facts]
    if result.missing:
        lines.append("missing to be sure:")
        lines += [f"  {m}" for m in result.missing]
    if result.skipped:
        count = sum(b - a + 1 for a, b in result.skipped)
        shown = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in result.skipped[:8])
        more = ", ..." if len(result.skipped) > 8 else ""
        lines.append(f"skipped: about {count} lines not understood (lines {shown}{more})")
    return "\n".join(lines) + "\n"


def render_markdown(result: Triage) -> str:
    """A reply ready to paste in the issue: short, the fix first, the details folded."""
    cause = result.cause
    out: list[str] = []
    if cause is None:
        out.append("**dldoctor triage:** no cause found in what was posted.")
    else:
        out.append(f"**Likely cause:** {cause.title} (`{cause.id}`)")
        out.append("")
        commands = _fix(result)
        if _build_is_fix(result):
            commands += [rec.install for rec in _recommendations(result) if rec.install not in commands]
        if commands:
            out.append("**Fix:**")
            out.append("```sh")
            out += commands
            out.append("```")
        hint = _build_hint(result)
        if hint and _build_is_fix(result) and not _recommendations(result):
            out.append("")
            out.append(f"**Build:** {hint}")
    if result.missing:
        out.append("")
        out.append("To be sure, please also post: " + "; ".join(result.missing))
    out.append("")
    out.append("<details><summary>Why (dldoctor triage)</summary>")
    out.append("")
    evidence = _evidence_lines(result)
    if evidence:
        out.append("Evidence from the report:")
        out.append("")
        out += [f"- `{e.replace('`', '')}`" for e in evidence]
        out.append("")
    if cause is not None and cause.detail:
        out += [f"> {d}" for d in cause.detail.splitlines()]
        out.append("")
    facts = _facts_line(result)
    if facts:
        out.append("Read from the report: " + "; ".join(facts))
        out.append("")
    for f in _other(result):
        out.append(f"- {f.severity.value}: {f.title} (`{f.id}`)")
    out.append("")
    out.append("</details>")
    return "\n".join(out) + "\n"


def render(result: Triage, fmt: str) -> str:
    if fmt == "markdown":
        return render_markdown(result)
    return render_text(result)


def to_json(result: Triage) -> dict[str, Any]:
    return result.to_json()
