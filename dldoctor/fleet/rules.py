"""Fleet rules: pure functions over every node's snapshot -> findings about the fleet (no I/O).

Each node is first diagnosed alone with the rules `check` uses (health: ECC, retired pages, throttling,
PCIe link; driver; CUDA; frameworks ...). These rules then compare the nodes: the odd ones out against
the majority (driver, CUDA, GPU model and count, framework builds, NCCL/CUDA environment variables,
kernel, interpreter), the GPUs each node lacks against what the scheduler says it has, and the nodes
that gave no answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dldoctor.report import Finding, Severity
from dldoctor.snapshot.facts import Facts, pick

#: Environment variables compared across nodes: what decides which CUDA, which GPUs and how NCCL talks.
ENV_PREFIXES = ("NCCL_", "CUDA_", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "LD_PRELOAD")
#: Variables whose odd value breaks a node (the others only make it behave differently).
BREAKING_ENV = ("LD_LIBRARY_PATH", "LD_PRELOAD", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "NCCL_P2P_DISABLE")
UNSET = "(unset)"
#: trait -> (label, severity of an odd value, what fixes it)
TRAITS: dict[str, tuple[str, Severity, str]] = {
    "driver": ("NVIDIA driver", Severity.ERROR,
               "install NVIDIA driver {majority} on {nodes} (the version the rest of the fleet runs), then reboot it"),
    "cuda": ("CUDA driver API", Severity.ERROR, "install the driver that gives CUDA {majority} on {nodes}"),
    "gpus": ("GPUs", Severity.ERROR,
             "ssh {first} 'nvidia-smi -L; dmesg | grep -iE \"NVRM|Xid|fallen off\"'  # a GPU gone from the bus "
             "needs a reset or a reseat"),
    "frameworks": ("framework builds", Severity.WARNING,
                   "install the same builds as the other nodes on {nodes} ({majority}), or share one environment"),
    "kernel": ("kernel", Severity.WARNING, "boot {nodes} into kernel {majority}, as the other nodes run"),
    "python": ("Python", Severity.WARNING, "use the interpreter the other nodes use ({majority}) on {nodes}"),
}


@dataclass(frozen=True)
class NodeView:
    """One node as the fleet rules see it."""

    name: str
    #: None when the node gave no snapshot (unreachable, no answer, failed).
    snapshot: dict[str, Any] | None
    gpus_expected: int | None = None
    #: Why there is no snapshot (set with one of the transport statuses).
    status: str = "answered"
    error: str | None = None


def traits(snapshot: dict[str, Any]) -> dict[str, str]:
    """The facts two healthy nodes of one fleet share, as comparable strings."""
    facts = Facts(snapshot)
    models = Counter(str(g.get("name") or "?") for g in facts.gpus)
    builds = []
    for fw in facts.frameworks:
        if fw.get("status") not in (None, "active"):
            continue
        variant = fw.get("variant") or "?"
        cuda = f" cuda {fw['cuda_version']}" if fw.get("cuda_version") else ""
        rocm = f" rocm {fw['rocm_version']}" if fw.get("rocm_version") else ""
        builds.append(f"{fw.get('name')} {fw.get('version')} ({variant}{cuda}{rocm})")
    out = {
        "driver": facts.driver_version or "none",
        "cuda": facts.cuda_driver_version or "none",
        "gpus": ", ".join(f"{n}x {m}" for m, n in sorted(models.items())) or "none",
        "frameworks": "; ".join(sorted(builds)) or "none",
        "kernel": pick(snapshot, "host", "kernel", kind=str) or "?",
        "python": pick(snapshot, "host", "python", "version", kind=str) or "?",
    }
    variables = facts.section("environment").get("variables")
    if isinstance(variables, dict):
        for name, value in variables.items():
            if isinstance(name, str) and name.startswith(ENV_PREFIXES):
                out[f"env {name}"] = UNSET if value is None else repr(value)
    return out


def compress(names: Sequence[str]) -> str:
    """Slurm's hostlist form: node1,node2,node3,gpu7 -> node[1-3],gpu7."""
    import re

    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    plain: list[str] = []
    for name in names:
        match = re.fullmatch(r"(.*?)(\d+)", name)
        if match is None:
            plain.append(name)
            continue
        prefix, digits = match.groups()
        groups.setdefault((prefix, ""), []).append((int(digits), digits))
    parts = list(plain)
    for (prefix, _), numbers in groups.items():
        numbers.sort()
        if len(numbers) == 1:
            parts.append(prefix + numbers[0][1])
            continue
        runs: list[str] = []
        start = prev = numbers[0]
        for item in numbers[1:] + [(-10, "")]:
            if item[0] == prev[0] + 1 and len(item[1]) == len(prev[1]):
                prev = item
                continue
            runs.append(start[1] if start == prev else f"{start[1]}-{prev[1]}")
            start = prev = item
        parts.append(f"{prefix}[{','.join(runs)}]")
    return ",".join(parts)


def _odd_ones(views: Sequence[NodeView]) -> list[Finding]:
    answered = [(v, traits(v.snapshot)) for v in views if v.snapshot is not None]
    if len(answered) < 2:
        return []
    keys = sorted({k for _, t in answered for k in t}, key=lambda k: (k.startswith("env "), k))
    out: list[Finding] = []
    for key in keys:
        values = Counter(t.get(key, UNSET) for _, t in answered)
        if len(values) < 2:
            continue
        (majority, top), *rest = values.most_common()
        if rest[0][1] == top:  # no majority: say that they disagree, name no odd one
            out.append(_disagree(key, {value: [v.name for v, t in answered if t.get(key, UNSET) == value]
                                       for value in values}))
            continue
        for value, _count in values.most_common()[1:]:
            nodes = [v.name for v, t in answered if t.get(key, UNSET) == value]
            out.append(_odd_finding(key, value, majority, nodes, top, len(answered)))
    return out


def _label(key: str) -> str:
    return key[4:] if key.startswith("env ") else TRAITS[key][0]


def _shown(key: str, value: str) -> str:
    if key.startswith("env "):
        return f"{key[4:]} unset" if value == UNSET else f"{key[4:]}={value}"
    return f"{TRAITS[key][0]} {value}"


def _finding_id(key: str) -> str:
    return f"fleet.odd-{key.replace('env ', 'env-').lower()}"


def _disagree(key: str, by_value: dict[str, list[str]]) -> Finding:
    parts = "; ".join(f"{_shown(key, value)} on {compress(nodes)}" for value, nodes in by_value.items())
    nodes = [n for names in by_value.values() for n in names]
    return Finding(id=_finding_id(key), severity=Severity.WARNING, title=f"the nodes disagree on {_label(key)}: {parts}",
                   detail="no value holds a majority, so dldoctor cannot tell the odd one out: compare them with the "
                          "rest of the cluster (a larger --nodelist)",
                   evidence={"nodes": nodes, "trait": key, "values": by_value, "majority": None})


def _odd_finding(key: str, value: str, majority: str, nodes: list[str], top: int, total: int) -> Finding:
    where = compress(nodes)
    if key.startswith("env "):
        var = key[4:]
        severity = Severity.ERROR if var in BREAKING_ENV else Severity.WARNING
        should = "unset" if majority == UNSET else majority
        fix: tuple[str, ...] = (
            f"find what sets {var} on {where} (an environment module, /etc/profile.d, the Slurm TaskProlog, "
            f"~/.bashrc) and make it {'unset' if majority == UNSET else 'match: ' + should}",
        )
        title = f"{_shown(key, value)} on {where}"
    else:
        label, severity, how = TRAITS[key]
        fix = (how.format(majority=majority, nodes=where, first=nodes[0]),)
        title = f"{_shown(key, value)} on {where}"
    was = "unset" if majority == UNSET else majority
    detail = f"{title}, where the other {top} of {total} nodes have {was}"
    title += f" (the others: {was})"
    return Finding(id=_finding_id(key), severity=severity, title=title,
                   detail=detail, fix=fix, evidence={"nodes": nodes, "trait": key, "value": value,
                                                     "majority": majority})


def _gpus_missing(views: Sequence[NodeView], engine: str) -> list[Finding]:
    source = {"slurm": "Slurm GRES", "ray": "Ray's GPU resource"}.get(engine, "the scheduler")
    out = []
    for view in views:
        if view.snapshot is None or not view.gpus_expected:
            continue
        facts = Facts(view.snapshot)
        seen = len(facts.gpus)
        if seen >= view.gpus_expected:
            continue
        why = (f"the driver lists {seen}" if facts.driver_version
               else "no NVIDIA driver answers on the node")
        fix = [f"ssh {view.name} 'nvidia-smi -L; dmesg | grep -iE \"NVRM|Xid|fallen off\"'"]
        if engine == "slurm":
            fix.append(f"if the GPU is gone for good, set Gres=gpu:{seen} for NodeName={view.name} in slurm.conf "
                       "until it is replaced")
        out.append(Finding(id="fleet.gpus-missing", severity=Severity.ERROR,
                           title=f"{view.gpus_expected - seen} of {view.gpus_expected} GPU(s) missing on {view.name}",
                           detail=f"{source} says {view.name} has {view.gpus_expected} GPU(s); {why}",
                           fix=tuple(fix), evidence={"nodes": [view.name], "expected": view.gpus_expected,
                                                     "seen": seen}))
    return out


def _silent(views: Sequence[NodeView]) -> list[Finding]:
    out = []
    for view in views:
        if view.snapshot is not None:
            continue
        kind = {"unreachable": "unreachable", "no-answer": "no-answer"}.get(view.status, "node-error")
        title = {"unreachable": f"{view.name} is unreachable", "no-answer": f"{view.name} did not answer in time"}.get(
            kind, f"dldoctor failed on {view.name}")
        out.append(Finding(id=f"fleet.{kind}", severity=Severity.ERROR, title=title, detail=view.error or "",
                           evidence={"nodes": [view.name]}))
    return out


def fleet_findings(views: Sequence[NodeView], engine: str) -> list[Finding]:
    """Every finding about the fleet as a whole (each names its nodes in evidence["nodes"])."""
    return [*_silent(views), *_gpus_missing(views, engine), *_odd_ones(views)]
