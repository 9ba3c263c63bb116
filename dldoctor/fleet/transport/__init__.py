"""How dldoctor reaches the nodes: one module per engine, each a `Transport`.

A transport lists the nodes the scheduler knows (with the GPUs it believes each has), runs one command
on each of them at once (the fan-out is the scheduler's), and launches the ranks of a multi-node job.
It never hangs: every node has a timeout and the whole run a deadline; a node that does not answer in
time, or that the scheduler cannot reach, comes back as such. A Kubernetes Job transport is the next
one to add (see the README).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: What became of the command on one node.
ANSWERED, FAILED, UNREACHABLE, NO_ANSWER = "answered", "failed", "unreachable", "no-answer"
#: Every status a transport gives a node.
STATUSES = (ANSWERED, FAILED, UNREACHABLE, NO_ANSWER)


@dataclass(frozen=True)
class NodeInfo:
    """A node as the scheduler sees it."""

    name: str
    #: The scheduler's own word for its state ("idle", "down*", "ALIVE" ...).
    state: str
    #: Whether the scheduler will run work there now (a down or drained node is not asked).
    usable: bool
    #: The GPUs the scheduler says the node has (Slurm GRES, Ray's GPU resource); None: it does not say.
    gpus_expected: int | None = None
    #: The address other nodes reach it at (the rendezvous of a multi-node job).
    address: str | None = None
    #: Engine-specific handle (Ray's node id).
    handle: str | None = None


@dataclass(frozen=True)
class NodeAnswer:
    """The outcome of one command on one node."""

    node: str
    status: str  # ANSWERED, FAILED, UNREACHABLE or NO_ANSWER
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    #: Why the command gave no usable answer (one line), None when it answered.
    error: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class RankJob:
    """A multi-node job: `ranks_per_node` copies of `argv` on each node, with torch.distributed's variables."""

    argv: tuple[str, ...]
    nodes: tuple[NodeInfo, ...]
    ranks_per_node: int
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 300.0


Progress = Callable[[int, int, str], None]


class Transport(Protocol):
    engine: str

    def nodes(self) -> list[NodeInfo]:
        """Every node the scheduler offers for this run."""
        ...

    def run_per_node(
        self,
        nodes: Sequence[NodeInfo],
        argv: Sequence[str],
        *,
        node_timeout_s: float,
        deadline_s: float,
        progress: Progress | None = None,
    ) -> dict[str, NodeAnswer]:
        """Run `argv` once on each of `nodes`, all at once; an answer for every node, in time."""
        ...

    def run_ranks(self, job: RankJob) -> list[dict[str, Any]]:
        """Run `job` and return the one-line JSON each rank printed (marker `RANK_MARKER`), or its error."""
        ...


#: The line a rank of a multi-node job prints its result on.
RANK_MARKER = "DLDOCTOR-FLEET-RANK "


def parse_rank_lines(text: str) -> list[dict[str, Any]]:
    """The rank results in `text` (one JSON document per marked line; labels before the marker are ignored)."""
    import json

    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        at = line.find(RANK_MARKER)
        if at < 0:
            continue
        try:
            value = json.loads(line[at + len(RANK_MARKER):])
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def engine_for(name: str) -> str:
    return {"slurm": "dldoctor.fleet.transport.slurm", "ray": "dldoctor.fleet.transport.ray"}[name]
