"""Fleet rules: pure functions over every node's snapshot -> findings about the fleet (no I/O).

Each node is first diagnosed alone with the rules `check` uses (health: ECC, retired pages, throttling,
PCIe link; driver; CUDA; frameworks ...). These rules then compare the nodes: the odd ones out against
the majority (driver, CUDA, GPU model and count, framework builds, NCCL/CUDA environment variables,
kernel, interpreter), the GPUs each node lacks against what the scheduler says it has, and the nodes
that gave no answer.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dldoctor.report import Finding, Severity
from dldoctor.rules import explains
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
    """One id per trait; every environment variable shares `fleet.odd-env` (the variable is in evidence)."""
    return "fleet.odd-env" if key.startswith("env ") else f"fleet.odd-{key}"


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
        out.append(Finding(id=GPUS_MISSING, severity=Severity.ERROR,
                           title=f"{view.gpus_expected - seen} of {view.gpus_expected} GPU(s) missing on {view.name}",
                           detail=f"{source} says {view.name} has {view.gpus_expected} GPU(s); {why}",
                           fix=tuple(fix), evidence={"nodes": [view.name], "expected": view.gpus_expected,
                                                     "seen": seen}))
    return out


#: transport status of a node without a snapshot -> (finding id, title); any other status is "node-error".
SILENT: dict[str, tuple[str, str]] = {
    "unreachable": ("fleet.unreachable", "{name} is unreachable"),
    "no-answer": ("fleet.no-answer", "{name} did not answer in time"),
}
NODE_ERROR = ("fleet.node-error", "dldoctor failed on {name}")
GPUS_MISSING = "fleet.gpus-missing"


def _silent(views: Sequence[NodeView]) -> list[Finding]:
    out = []
    for view in views:
        if view.snapshot is not None:
            continue
        finding_id, title = SILENT.get(view.status, NODE_ERROR)
        out.append(Finding(id=finding_id, severity=Severity.ERROR, title=title.format(name=view.name),
                           detail=view.error or "", evidence={"nodes": [view.name]}))
    return out


def fleet_findings(views: Sequence[NodeView], engine: str) -> list[Finding]:
    """Every finding about the fleet as a whole (each names its nodes in evidence["nodes"])."""
    return [*_silent(views), *_gpus_missing(views, engine), *_odd_ones(views)]


def finding_ids() -> list[str]:
    """Every id the fleet rules can report, from the tables they report from."""
    silent = [fid for fid, _ in (*SILENT.values(), NODE_ERROR)]
    return sorted({*silent, GPUS_MISSING, *(_finding_id(key) for key in (*TRAITS, "env "))})


def _explains(finding_id: str, title: str, text: str) -> None:
    explains(finding_id, title, textwrap.fill(" ".join(text.split()), width=80))


_ODD = """This node differs in {what} from the majority of the nodes that answered. dldoctor compares
every node's snapshot with the others: the value most nodes share is taken as the fleet's, and each node
with another value is named, with both values in the title. When no value holds a majority the finding
says the nodes disagree and names no odd one: run again on a larger --nodelist. {why}"""
for _key, (_label_text, _severity, _how) in TRAITS.items():
    _fix = _how.format(majority="<the majority value>", nodes="<the odd nodes>", first="<node>")
    _explains(_finding_id(_key), f"The nodes differ in their {_label_text}",
              _ODD.format(what=f"its {_label_text}", why=f"What to do: {_fix}"))
_VARIABLES = ", ".join(p + "*" if p.endswith("_") else p for p in ENV_PREFIXES)
_explains(_finding_id("env "), "An NCCL/CUDA environment variable differs on some nodes",
          _ODD.format(what=f"an environment variable that decides which CUDA, which GPUs or how NCCL talks "
                           f"({_VARIABLES})",
                      why=f"An odd {', '.join(BREAKING_ENV)} is an error (it breaks the node); the others are "
                          "warnings. Find what sets it on those nodes: an environment module, /etc/profile.d, "
                          "the Slurm TaskProlog, ~/.bashrc."))
_explains(GPUS_MISSING, "A node has fewer GPUs than the scheduler says", """The scheduler (Slurm GRES, or
Ray's GPU resource) says this node has more GPUs than its NVIDIA driver lists. A GPU that fell off the bus
(dmesg: "fallen off the bus", an Xid) needs a reset or a reseat; jobs scheduled there fail or run on fewer
GPUs. If it is gone for good, lower Gres=gpu:N for the node in slurm.conf until it is replaced.""")
_explains(SILENT["unreachable"][0], "A node could not be reached", """The scheduler could not run dldoctor
on this node: its slurmd or Ray raylet does not answer, the node is down or off the network. The other
nodes are still reported. Check the node: `scontrol show node NAME` (Slurm) or `ray status` (Ray), then its
daemon's log.""")
_explains(SILENT["no-answer"][0], "A node did not answer in time", """dldoctor started on this node but gave
no answer within --node-timeout. The node may be overloaded, its file system hung (a stale NFS mount), or a
probe stuck on a driver that does not answer. Run `dldoctor snapshot` on the node itself to see which probe
hangs; raise --node-timeout if the node is only slow.""")
_explains(NODE_ERROR[0], "dldoctor failed on a node", """The task on this node ran but gave no usable
snapshot: dldoctor is not installed there (the interpreter running fleet must exist on every node), it
exited with an error, or its output was not a dldoctor snapshot. The detail holds what it printed.""")
