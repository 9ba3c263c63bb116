"""`dldoctor triage`: pasted text -> facts and evidence -> a partial snapshot -> the same rules as `check`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.check import diagnose
from dldoctor.errors import InputError
from dldoctor.report import Finding, Report, Severity
from dldoctor.snapshot import SCHEMA
from dldoctor.triage.evidence import Evidence, find_evidence
from dldoctor.triage.parse import Parsed, parse, unwrap
from dldoctor.triage.snapshot import build_snapshot, to_machine

TRIAGE_SCHEMA = "dldoctor.triage/1"
MAX_BYTES = 10 * 1024 * 1024

#: The fix for a cause stated by a message when the rules, short of facts, did not conclude it themselves.
FIXES: dict[str, tuple[str, ...]] = {
    "frameworks.capability-not-compiled": ("pip install --force-reinstall torch --index-url "
                                           "https://download.pytorch.org/whl/<the build below>",),
    "driver.too-old-for-framework": ("# a newer NVIDIA driver, or the framework build for the driver's CUDA (below)",
                                     "sudo ubuntu-drivers install  # Ubuntu; elsewhere the distro's driver package"),
    "driver.library-mismatch": ("sudo reboot  # loads the kernel module of the driver now installed",),
    "driver.not-loaded": ("sudo modprobe nvidia", "sudo dmesg | grep -i nvidia  # why it did not load"),
    "driver.not-installed": ("sudo ubuntu-drivers install  # Ubuntu; elsewhere the distro's NVIDIA driver package",),
    "driver.nvml-error": ("nvidia-smi  # on the host: it must work before containers can use the GPU",),
    "containers.docker-no-nvidia-runtime": ("sudo nvidia-ctk runtime configure --runtime=docker && "
                                            "sudo systemctl restart docker  # Docker from apt, not snap",),
    "containers.no-gpus-passed-through": ("docker run --gpus all ...",),
    "frameworks.tensorflow-missing-cuda-libs": ("pip install 'tensorflow[and-cuda]'  # TF 2.14+: the CUDA "
                                                "libraries as pip wheels",),
    "cuda.cudnn-too-old": ("unset LD_LIBRARY_PATH  # or take the older system cuDNN out of it",),
    "cuda.ld-library-path-shadows": ("unset LD_LIBRARY_PATH  # let the framework load its own pip CUDA libraries",),
    "amd.gfx-not-in-build": ("# a ROCm build whose gfx list has this GPU; for a close relative of a listed target:",
                             "export HSA_OVERRIDE_GFX_VERSION=<x.y.z>  # unofficial"),
    "frameworks.cpu-build-on-gpu-machine": ("pip install --force-reinstall torch --index-url "
                                            "https://download.pytorch.org/whl/<the build below>",),
    "cuda.visible-devices-invalid": ("unset CUDA_VISIBLE_DEVICES",),
}

#: Findings that say all is well: never "the cause".
_HEALTHY = {"driver.ok", "frameworks.will-use-gpu"}


@dataclass
class Triage:
    """The outcome of reading one report."""

    parsed: Parsed
    evidence: list[Evidence]
    snapshot: dict[str, Any]
    report: Report
    cause: Finding | None
    missing: list[str]
    skipped: list[tuple[int, int]] = field(default_factory=list)  # line ranges nothing understood

    @property
    def status(self) -> str:
        return self.report.status

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": TRIAGE_SCHEMA,
            "status": self.status,
            "cause": self.cause.to_json() if self.cause else None,
            "kinds": self.parsed.kinds,
            "facts": [f.to_json() for f in self.parsed.facts],
            "evidence": [e.to_json() for e in self.evidence],
            "missing": self.missing,
            "skipped_lines": [[a, b] for a, b in self.skipped],
            "report": self.report.to_json(),
        }


def read_text(source: str, stdin_bytes: bytes | None = None) -> str:
    """The text of FILE, or of standard input for "-"; InputError for what cannot be text."""
    if source == "-":
        data = stdin_bytes if stdin_bytes is not None else b""
        name = "standard input"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{source}: no such file")
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{source}: larger than {MAX_BYTES // (1024 * 1024)} MB; paste only the report's text")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{source}: cannot read it ({exc.strerror})") from exc
        name = source
    return decode(data, name)


def decode(data: bytes, name: str = "the input") -> str:
    if len(data) > MAX_BYTES:
        raise InputError(f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MB; paste only the report's text")
    if b"\x00" in data[:65536]:
        raise InputError(f"{name}: binary data, not text (paste the program's output as text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:65536])
        if printable < 0.9 * min(len(text), 65536):
            raise InputError(f"{name}: binary data, not text (paste the program's output as text)") from None
    if not text.strip():
        raise InputError(f"{name}: empty; paste the output of `python -m torch.utils.collect_env` or `nvidia-smi`")
    return text


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and n <= out[-1][1] + 2:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def _stated_finding(evidence: Evidence) -> Finding:
    from dldoctor.rules import EXPLANATIONS

    item = EXPLANATIONS.get(evidence.cause)
    title = item.title if item else evidence.cause
    return Finding(
        evidence.cause, Severity.ERROR, title,
        f"The report's line {evidence.line} says so: {evidence.meaning}.",
        FIXES.get(evidence.cause, ()), item.docs if item else None,
        evidence={"from": "report", "line": evidence.line, "text": evidence.text},
    )


def _missing(parsed: Parsed, snapshot: dict[str, Any], report: Report, cause: Finding | None) -> list[str]:
    out: list[str] = []
    nvidia = snapshot.get("nvidia") or {}
    amd = snapshot.get("amd") or {}
    installed = (snapshot.get("frameworks") or {}).get("installed") or []
    amd_cause = cause is not None and cause.id.startswith("amd.")
    # a CPU-only or AMD report with no NVIDIA fact at all is not asked for nvidia-smi
    nvidia_side = nvidia.get("present") or not (amd.get("present") or amd_cause or (
        installed and all(fw.get("variant") == "cpu" for fw in installed)))
    if cause is not None and cause.id == "driver.library-mismatch":
        if not nvidia.get("kernel_module_version"):
            out.append("the loaded kernel module's version is not in the report: ask for "
                       "`cat /proc/driver/nvidia/version` (nvidia-smi cannot answer while they differ)")
    elif nvidia_side and not nvidia.get("driver_version") and not (cause and cause.id in (
            "driver.not-installed", "driver.not-loaded")):
        out.append("the driver version is not in the report: ask for `nvidia-smi`")
    if nvidia_side and not any(g.get("name") for g in nvidia.get("gpus") or []) and not amd.get("present"):
        out.append("the GPU model is not in the report: ask for `nvidia-smi`")
    elif any(g.get("name") and not g.get("compute_capability") for g in nvidia.get("gpus") or []):
        out.append("the GPU's compute capability is not known to dldoctor: ask for "
                   "`nvidia-smi --query-gpu=name,compute_cap --format=csv`")
    if (amd.get("present") or amd_cause) and not any(g.get("gfx_target") for g in amd.get("gpus") or []):
        out.append("the AMD GPU's gfx target is not in the report: ask for `rocminfo | grep gfx`")
    if not installed and (parsed.first("warned_gpu") or parsed.first("arch_list")):
        out.append("the PyTorch version and build are not in the report (its warning shows it is installed): ask for "
                   "`python -m torch.utils.collect_env`")
    elif not installed:
        out.append("no framework version is in the report: ask for `python -m torch.utils.collect_env` "
                   "(or `pip list`)")
    for fw in installed:
        if fw.get("variant") is None:
            out.append(f"which build of {fw.get('name')} {fw.get('version')} is installed (CUDA, ROCm or CPU) is not "
                       "in the report: ask for `python -m torch.utils.collect_env`" if fw.get("name") == "pytorch"
                       else f"which build of {fw.get('name')} {fw.get('version')} is installed is not in the report")
    return out


_SNAPSHOT_MARK = f'"schema": "{SCHEMA}"'


def embedded_snapshot(text: str) -> tuple[dict[str, Any], int, int] | None:
    """A dldoctor snapshot pasted in the text (as `dldoctor report` folds it in), and its first line; JSON, never eval."""
    import json

    mark = text.find(_SNAPSHOT_MARK)
    if mark < 0:
        return None
    start = text.rfind("{", 0, mark)
    for _ in range(64):  # the snapshot's own brace is the nearest; a few nested ones at most before it
        if start < 0:
            break
        try:
            doc, end = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            doc, end = None, start
        if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
            return doc, text.count("\n", 0, start) + 1, text.count("\n", 0, end) + 1
        start = text.rfind("{", 0, start)
    return None


def triage(text: str, *, framework: str | None = None) -> Triage:
    """Read `text` (one pasted output or a whole issue body) and diagnose the machine it describes."""
    lines = list(unwrap(text))
    parsed = parse(text, lines)
    evidence = _refine(find_evidence(text, lines), parsed)
    causes = {e.cause for e in evidence}
    pasted = embedded_snapshot(text) if _SNAPSHOT_MARK in text else None
    if pasted is not None:
        # the machine's own snapshot says more than any text around it: diagnose that
        snapshot, line, last = pasted
        parsed.add("dldoctor_snapshot", SCHEMA, line, "{ ... dldoctor snapshot ... }", "dldoctor snapshot")
        parsed.used_lines.update(range(line, last + 1))
        snapshot = dict(snapshot, source="report", provenance=[f.to_json() for f in parsed.facts])
    else:
        machine = to_machine(parsed, causes, text.lower())
        snapshot = build_snapshot(machine, parsed.facts)
    report = diagnose(snapshot, framework=framework)
    findings = list(report.findings)
    have = {f.id for f in findings}
    for item in evidence:
        if item.cause not in have:
            findings.append(_stated_finding(item))
            have.add(item.cause)
    findings = [f for f in findings if not (f.id in _HEALTHY and evidence)]  # a message says it is not well
    report = Report(snapshot=report.snapshot, findings=tuple(findings), recommendations=report.recommendations)
    cause = _choose(report, evidence)
    used = parsed.used_lines | {e.line for e in evidence}
    skipped = _ranges([n for n, _ in lines if n not in used])
    # a pasted snapshot was probed, not written: what it lacks is absent, not left out
    missing = [] if pasted is not None else _missing(parsed, snapshot, report, cause)
    return Triage(parsed, evidence, snapshot, report, cause, missing, skipped)


def _refine(evidence: list[Evidence], parsed: Parsed) -> list[Evidence]:
    """A host driver that answers nvidia-smi in the same report: the container runtime, not the driver, is at fault."""
    if parsed.first("smi_version") is None:
        return evidence
    out = []
    for item in evidence:
        if "nvidia-container-cli" in item.text and item.cause in ("driver.not-installed", "driver.nvml-error"):
            item = Evidence("containers.docker-no-nvidia-runtime", item.line, item.text,
                            "nvidia-smi works on the host, but the NVIDIA container toolkit cannot load its driver "
                            "libraries (Docker from snap or Docker Desktop, or the toolkit not configured)")
        out.append(item)
    return out


def _choose(report: Report, evidence: list[Evidence]) -> Finding | None:
    """The one cause: what a message states (confirmed by the rules first), else the worst finding."""
    by_id = {f.id: f for f in report.findings}
    for item in evidence:
        finding = by_id.get(item.cause)
        if finding is not None and finding.evidence.get("from") != "report":
            return finding
    if evidence:
        return by_id.get(evidence[0].cause)
    ranked = [f for f in report.findings if f.id not in _HEALTHY and f.id != "host.probe-failed"]
    if not ranked:
        return None
    worst = max(f.severity.rank for f in ranked)
    if worst == 0:
        return None
    return next(f for f in ranked if f.severity.rank == worst)
