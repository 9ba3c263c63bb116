"""`dldoctor fleet check`: one `dldoctor snapshot` per node through the scheduler, each diagnosed with the
rules `check` uses, then compared by the fleet rules; the result is a `dldoctor.fleet/1` document."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dldoctor import __version__
from dldoctor.errors import UsageError
from dldoctor.fleet import SCHEMA
from dldoctor.fleet.rules import NodeView, compress, fleet_findings, traits
from dldoctor.fleet.transport import ANSWERED, FAILED, UNREACHABLE, NodeAnswer, NodeInfo, Progress, Transport
from dldoctor.report import Finding, Severity

#: Seconds each node's command may take, and the whole run, unless told otherwise.
NODE_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 300.0
MAX_TIMEOUT_S = 86400.0


@dataclass(frozen=True)
class FleetOptions:
    #: The interpreter that has dldoctor on the nodes (None: this one, as on a shared filesystem).
    node_python: str | None = None
    #: The framework interpreter the nodes' snapshot / smoke inspects (`--python` of those commands).
    python: str | None = None
    node_timeout_s: float = NODE_TIMEOUT_S
    timeout_s: float = RUN_TIMEOUT_S
    #: `--timeout` of each node's snapshot (seconds each external command there may take).
    probe_timeout_s: float = 5.0

    def validate(self) -> FleetOptions:
        for name, value in (("--node-timeout", self.node_timeout_s), ("--timeout", self.timeout_s)):
            if not 0 < value <= MAX_TIMEOUT_S:  # nan, inf and 0 too
                raise UsageError(f"{name} {value}: give a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}")
        if self.node_timeout_s > self.timeout_s:
            raise UsageError(f"--node-timeout {self.node_timeout_s:g} is longer than the whole run's --timeout "
                             f"{self.timeout_s:g}")
        return self


def node_command(transport: Transport, options: FleetOptions, *args: str) -> list[str]:
    """`python -m dldoctor ARGS` with the interpreter that has dldoctor on the nodes."""
    if options.node_python:
        python = options.node_python
    elif transport.engine == "ray":
        from dldoctor.fleet.transport.ray import WORKER_PYTHON

        python = WORKER_PYTHON
    else:
        python = sys.executable
    argv = [python, "-m", "dldoctor", *args]
    if options.python:
        argv += ["--python", options.python]
    return argv


def answer_error(answer: NodeAnswer, python: str) -> str:
    """Why a node's dldoctor gave no document: one line naming the cause."""
    if answer.error:
        return answer.error
    text = answer.stderr + answer.stdout
    if "No module named dldoctor" in text or "No module named 'dldoctor'" in text:
        return (f"dldoctor is not installed for {python} on this node (install it on the shared filesystem, "
                "or give --node-python)")
    if answer.returncode in (126, 127):
        return f"{python} cannot be run on this node (exit {answer.returncode}: not found or not executable)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    telling = [ln for ln in lines if ln.startswith("dldoctor: error") or "Error" in ln]
    return (telling or lines or [f"exited with {answer.returncode} and printed nothing"])[-1][:300]


def parse_document(answer: NodeAnswer, schema: str) -> dict[str, Any] | None:
    """The JSON document a node printed, when it is one of `schema`."""
    if answer.status != ANSWERED:
        return None
    text = answer.stdout
    start = text.find("{")
    if start < 0:
        return None
    try:
        doc = json.loads(text[start:])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("schema") == schema else None


def _silent_status(info: NodeInfo, answer: NodeAnswer | None) -> tuple[str, str]:
    if answer is None:
        return UNREACHABLE, f"the scheduler reports it {info.state}: it runs no work"
    if answer.status == ANSWERED:
        return FAILED, ""
    return answer.status, answer.error or ""


def node_status(findings: Sequence[Finding], silent: str | None) -> tuple[str, str | None, tuple[str, ...]]:
    """(status, the one cause, its fix) of a node from every finding that names it, worst first."""
    if silent:
        return silent, findings[0].title if findings else None, ()
    worst = sorted(findings, key=lambda f: -f.severity.rank)
    if not worst or worst[0].severity is Severity.INFO:
        return "ok", None, ()
    top = worst[0]
    return top.severity.value, top.title, top.fix


def _naming(findings: Sequence[Finding], node: str) -> list[Finding]:
    return [f for f in findings if node in (f.evidence.get("nodes") or [])]


def collect(
    transport: Transport,
    options: FleetOptions,
    args: Sequence[str],
    progress: Progress | None,
) -> tuple[list[NodeInfo], dict[str, NodeAnswer], dict[str, float]]:
    """List the nodes and run `dldoctor ARGS` on each usable one; with the timings of both steps."""
    started = time.monotonic()
    infos = transport.nodes()
    listed = time.monotonic()
    usable = [n for n in infos if n.usable]
    argv = node_command(transport, options, *args)
    left = options.timeout_s - (listed - started)
    answers = transport.run_per_node(usable, argv, node_timeout_s=min(options.node_timeout_s, left),
                                     deadline_s=max(1.0, left), progress=progress) if usable else {}
    ran = time.monotonic()
    return infos, answers, {"list_nodes_s": listed - started, "scheduler_run_s": ran - listed}


def run_fleet_check(transport: Transport, options: FleetOptions, progress: Progress | None = None) -> dict[str, Any]:
    from dldoctor.check import diagnose
    from dldoctor.snapshot import SCHEMA as SNAPSHOT_SCHEMA

    started = time.monotonic()
    args = ["snapshot", "--timeout", f"{options.probe_timeout_s:g}"]
    infos, answers, timings = collect(transport, options, args, progress)
    python = node_command(transport, options)[0]
    views: list[NodeView] = []
    reports: dict[str, Any] = {}
    for info in infos:
        answer = answers.get(info.name) if info.usable else None
        doc = parse_document(answer, SNAPSHOT_SCHEMA) if answer else None
        if doc is not None:
            reports[info.name] = diagnose(doc)
            views.append(NodeView(info.name, doc, info.gpus_expected))
        else:
            status, why = _silent_status(info, answer)
            if answer is not None and not why:
                why = answer_error(answer, python)
            views.append(NodeView(info.name, None, info.gpus_expected, status, why))
    fleet = fleet_findings(views, transport.engine)
    nodes = []
    for info, view in zip(infos, views, strict=True):
        report = reports.get(info.name)
        own = list(report.findings) if report else []
        naming = _naming(fleet, info.name)
        status, cause, fix = node_status([*naming, *own], None if view.snapshot is not None else view.status)
        if view.snapshot is None:
            cause = view.error
        answer = answers.get(info.name)
        summary = traits(view.snapshot) if view.snapshot is not None else {}
        nodes.append({
            "name": info.name, "scheduler_state": info.state, "gpus_expected": info.gpus_expected,
            "status": status, "cause": cause, "fix": list(fix),
            "gpus": summary.get("gpus"), "driver": summary.get("driver"), "framework": summary.get("frameworks"),
            "answer": None if answer is None else {"status": answer.status, "returncode": answer.returncode,
                                                   "error": view.error, "duration_s": _r(answer.duration_s)},
            "snapshot": view.snapshot, "findings": [f.to_json() for f in own],
            "fleet_findings": [f.id for f in naming],
        })
    return document("check", transport.engine, nodes, fleet, started, timings, len(views))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def groups(nodes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identical nodes folded: same status, cause, fix, GPUs, driver and framework build."""
    folded: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for node in nodes:
        key = (node["status"], node["cause"], tuple(node["fix"]), node["gpus"], node["driver"], node["framework"])
        folded.setdefault(key, []).append(node)
    out = []
    for (status, cause, fix, gpus, driver, framework), members in folded.items():
        names = [m["name"] for m in members]
        out.append({"nodes": names, "hostlist": compress(names), "status": status, "cause": cause,
                    "fix": list(fix), "gpus": gpus, "driver": driver, "framework": framework})
    order = {"unreachable": 0, "no-answer": 0, "failed": 0, "error": 1, "warning": 2, "ok": 3}
    return sorted(out, key=lambda g: (order.get(str(g["status"]), 1), g["nodes"][0]))


BROKEN = ("error", "unreachable", "no-answer", "failed")


def document(command: str, engine: str, nodes: list[dict[str, Any]], fleet: Sequence[Finding], started: float,
             timings: dict[str, float], count: int, **extra: Any) -> dict[str, Any]:
    total = time.monotonic() - started
    slowest = max((float(n["snapshot"]["duration_ms"]) / 1000 for n in nodes
                   if isinstance(n.get("snapshot"), dict) and isinstance(n["snapshot"].get("duration_ms"), (int, float))),
                  default=None)
    own = total - timings["scheduler_run_s"] - timings.get("collective_s", 0.0)
    worst = "error" if any(n["status"] in BROKEN for n in nodes) else (
        "warning" if any(n["status"] == "warning" for n in nodes) else "ok")
    return {
        "schema": SCHEMA, "dldoctor_version": __version__, "command": command, "engine": engine, "status": worst,
        "nodes_total": count, "nodes_answered": sum(1 for n in nodes if n["status"] not in BROKEN[1:]),
        "nodes": nodes, "fleet_findings": [f.to_json() for f in fleet], "groups": groups(nodes), **extra,
        "timings": {"total_s": round(total, 3), "list_nodes_s": round(timings["list_nodes_s"], 3),
                    "scheduler_run_s": round(timings["scheduler_run_s"], 3),
                    **({"collective_s": round(timings["collective_s"], 3)} if "collective_s" in timings else {}),
                    "slowest_node_snapshot_s": _r(slowest),
                    "dldoctor_s": round(own, 3), "dldoctor_per_node_s": round(own / max(1, count), 4)},
    }


def drain_commands(result: dict[str, Any]) -> list[str]:
    """The `scontrol update ... State=DRAIN` lines for the broken nodes (printed, never run)."""
    if result.get("engine") != "slurm":
        raise UsageError("--drain-commands: draining is Slurm's (scontrol); this run used " + str(result.get("engine")))
    out = []
    for group in result["groups"]:
        if group["status"] not in BROKEN:
            continue
        cause = str(group["cause"] or group["status"]).replace('"', "'")
        out.append(f'scontrol update NodeName={",".join(group["nodes"])} State=DRAIN Reason="dldoctor: {cause[:200]}"')
    return out
