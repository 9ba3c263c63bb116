"""Slurm: the nodes from `sinfo`, one task per node through one `srun --nodes=N --ntasks-per-node=1`.

Every task prints a marker with its node's name before the command and one with the command's exit
status after it (`srun --label` keeps the tasks' lines apart), so the answers are matched to nodes by
what the nodes say, and a node whose task never started (its slurmd is dead: "Task launch ... failed on
node X") or never finished is named as such. Each node's command runs under `timeout`; srun itself
runs under the whole run's deadline (and gets a Slurm time limit to match).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dldoctor.errors import UnavailableError, UsageError
from dldoctor.fleet.transport import (
    ANSWERED,
    NO_ANSWER,
    UNREACHABLE,
    NodeAnswer,
    NodeInfo,
    Progress,
    RankJob,
    parse_rank_lines,
)
from dldoctor.runner import CommandResult, Runner

NODE_MARK = "DLDOCTOR-FLEET-NODE "
EXIT_MARK = "DLDOCTOR-FLEET-EXIT "
#: Runs on each node: name the node, run the command under a timeout, say how it ended.
NODE_SCRIPT = (
    'echo "' + NODE_MARK + '${SLURMD_NODENAME:-$(hostname)}"; '
    'timeout -k 5 "$DLDOCTOR_FLEET_NODE_TIMEOUT" "$@"; echo "' + EXIT_MARK + '$?"'
)
RANK_SCRIPT = ('RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=$SLURM_LOCALID '
               'DLDOCTOR_FLEET_NODE=${SLURMD_NODENAME:-$(hostname)} exec "$@"')
#: States in which Slurm runs nothing on a node (sinfo's short names, flags stripped).
UNUSABLE_STATES = ("down", "drain", "drained", "draining", "drng", "fail", "failing", "maint", "future", "futr",
                   "inval", "boot", "powered_down", "powering_down", "pow_dn", "npc", "unk", "unknown")
_LABEL = re.compile(r"^\s*(\d+): ?(.*)$")
_LAUNCH_FAILED = re.compile(r"failed on node (\S+?):? (.*)$")
SINFO_TIMEOUT_S = 20.0


def gres_gpus(gres: str) -> int:
    """The GPUs in a GRES string: "gpu:4", "gpu:a100:2(S:0-1),shard:8" -> 4, 2; "(null)" -> 0."""
    total = 0
    for item in gres.split(","):
        parts = item.split("(", 1)[0].split(":")
        if parts[0] == "gpu" and len(parts) >= 2 and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def node_state_usable(state: str) -> bool:
    bare = state.rstrip("*~#!%$@^-+").lower()
    return not state.endswith("*") and not any(bare.startswith(s) for s in UNUSABLE_STATES)


@dataclass
class SlurmTransport:
    """`srun`/`sinfo` on this host's PATH; `partition`, `nodelist`, `account`, `time_limit` and `extra`
    (the SRUN_ARGS after `--`) are passed to srun as given."""

    runner: Runner = field(default_factory=Runner)
    partition: str | None = None
    nodelist: str | None = None
    account: str | None = None
    time_limit: str | None = None
    extra: tuple[str, ...] = ()
    engine: str = "slurm"

    def _require(self, tool: str) -> None:
        if self.runner.which(tool) is None:
            raise UnavailableError(f"--slurm: {tool} is not on PATH (run from a Slurm login node, or install slurm-client)")

    def nodes(self) -> list[NodeInfo]:
        self._require("sinfo")
        argv = ["sinfo", "--noheader", "--Node", "--format=%N|%t|%G|%o"]
        if self.partition:
            argv.append(f"--partition={self.partition}")
        if self.nodelist:
            argv.append(f"--nodes={self.nodelist}")
        done = self.runner.run(argv, timeout_s=SINFO_TIMEOUT_S)
        if not done.ok:
            raise UnavailableError(f"--slurm: cannot list the nodes: {done.describe_failure()}")
        seen: dict[str, NodeInfo] = {}
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) != 4 or parts[0] in seen:
                continue  # a node in two partitions is listed twice
            name, state, gres, addr = parts
            seen[name] = NodeInfo(name=name, state=state, usable=node_state_usable(state),
                                  gpus_expected=gres_gpus(gres), address=addr or name)
        if not seen:
            where = f" in partition {self.partition}" if self.partition else ""
            raise UsageError(f"--slurm: sinfo lists no node{where}{' matching ' + self.nodelist if self.nodelist else ''}")
        return list(seen.values())

    def _srun(self, nodes: Sequence[NodeInfo], per_node: int, deadline_s: float) -> list[str]:
        minutes = max(1, math.ceil(deadline_s / 60))
        argv = ["srun", f"--nodes={len(nodes)}", f"--ntasks-per-node={per_node}",
                f"--nodelist={','.join(n.name for n in nodes)}", "--label", "--job-name=dldoctor-fleet",
                f"--immediate={max(1, min(30, int(deadline_s)))}",
                f"--time={self.time_limit or minutes}"]
        if self.partition:
            argv.append(f"--partition={self.partition}")
        if self.account:
            argv.append(f"--account={self.account}")
        return [*argv, *self.extra]

    def run_per_node(
        self,
        nodes: Sequence[NodeInfo],
        argv: Sequence[str],
        *,
        node_timeout_s: float,
        deadline_s: float,
        progress: Progress | None = None,
    ) -> dict[str, NodeAnswer]:
        self._require("srun")
        if not nodes:
            return {}
        started = time.monotonic()
        srun = [*self._srun(nodes, 1, deadline_s), "--kill-on-bad-exit=0", "sh", "-c", NODE_SCRIPT,
                "dldoctor-fleet", *argv]
        stream = _Stream(len(nodes), progress)
        done = self.runner.run(srun, timeout_s=deadline_s, on_line=stream.feed,
                               extra_env={"DLDOCTOR_FLEET_NODE_TIMEOUT": f"{node_timeout_s:g}"})
        elapsed = time.monotonic() - started
        tasks = _by_label(done.stdout)
        errs = _by_label(done.stderr)
        launch_failed = _launch_failures(done.stderr)
        started_any = any(ln.startswith(NODE_MARK) for lines in tasks.values() for ln in lines)
        if not started_any and not launch_failed and not done.timed_out:
            # No task ran anywhere: the job itself was refused (busy nodes, bad partition or account), which
            # says nothing about any one node.
            raise UnavailableError(f"--slurm: srun ran nothing: {_srun_reason(done.stderr, done.describe_failure())}")
        limits = _Limits(node_timeout_s, deadline_s, elapsed)
        answers: dict[str, NodeAnswer] = {}
        for label, lines in tasks.items():
            answer = _task_answer(lines, "\n".join(errs.get(label, [])) + "\n", limits, stream.finished)
            if answer is not None:
                answers[answer.node] = answer
        for node in nodes:
            if node.name not in answers:
                answers[node.name] = _silent_node(node.name, launch_failed, done, limits)
        return answers

    def run_ranks(self, job: RankJob) -> list[dict[str, Any]]:
        self._require("srun")
        srun = [*self._srun(job.nodes, job.ranks_per_node, job.timeout_s), "--kill-on-bad-exit=1",
                "sh", "-c", RANK_SCRIPT, "dldoctor-fleet-rank", *job.argv]
        done = self.runner.run(srun, timeout_s=job.timeout_s, extra_env=dict(job.env))
        ranks = parse_rank_lines(done.stdout)
        world = len(job.nodes) * job.ranks_per_node
        if len(ranks) < world:
            why = (f"srun did not finish within {job.timeout_s:g}s" if done.timed_out
                   else _srun_reason(done.stderr, done.describe_failure()))
            ranks.append({"error": why})
        return ranks


@dataclass(frozen=True)
class _Limits:
    node_timeout_s: float
    deadline_s: float
    elapsed_s: float


def _launch_failures(stderr: str) -> dict[str, str]:
    """The nodes srun could not launch a task on, with srun's words."""
    failed: dict[str, str] = {}
    for line in stderr.splitlines():
        match = _LAUNCH_FAILED.search(line)
        if match and "srun: error" in line:
            failed[match.group(1)] = match.group(2).strip()
    return failed


def _task_answer(lines: list[str], stderr: str, limits: _Limits, finished: dict[str, float]) -> NodeAnswer | None:
    """What one task's labelled lines say about its node (None: the task never said which node it is)."""
    name = next((ln[len(NODE_MARK):].strip() for ln in lines if ln.startswith(NODE_MARK)), None)
    if name is None:
        return None
    exits = [ln for ln in lines if ln.startswith(EXIT_MARK)]
    body = "\n".join(ln for ln in lines if not ln.startswith((NODE_MARK, EXIT_MARK))) + "\n"
    if not exits:
        return NodeAnswer(name, NO_ANSWER, body, stderr, None,
                          f"no answer within the run's deadline ({limits.deadline_s:g}s)", limits.elapsed_s)
    code = int(exits[-1][len(EXIT_MARK):].strip() or -1)
    if code in (124, 137):
        return NodeAnswer(name, NO_ANSWER, body, stderr, code,
                          f"did not answer within the node timeout ({limits.node_timeout_s:g}s)", limits.elapsed_s)
    return NodeAnswer(name, ANSWERED, body, stderr, code, None, finished.get(name, limits.elapsed_s))


def _silent_node(name: str, launch_failed: dict[str, str], done: CommandResult, limits: _Limits) -> NodeAnswer:
    """A node none of whose tasks spoke: unreachable, or out of time."""
    if name in launch_failed:
        why = f"slurmd does not answer: task launch failed ({launch_failed[name]})"
        return NodeAnswer(name, UNREACHABLE, error=why, duration_s=limits.elapsed_s)
    if done.timed_out:
        return NodeAnswer(name, NO_ANSWER, error=f"no answer within the run's deadline ({limits.deadline_s:g}s)",
                          duration_s=limits.elapsed_s)
    return NodeAnswer(name, UNREACHABLE, error=_srun_reason(done.stderr, done.describe_failure()),
                      duration_s=limits.elapsed_s)


def _srun_reason(stderr: str, fallback: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip().startswith("srun: error")]
    return lines[0][:300] if lines else fallback


def _by_label(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match:
            out.setdefault(match.group(1), []).append(match.group(2))
    return out


class _Stream:
    """Counts the nodes that have answered while srun runs (the progress line), from srun's stdout."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress = total, progress
        self.names: dict[str, str] = {}
        self.finished: dict[str, float] = {}
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def feed(self, stream: str, line: str) -> None:
        """The runner's line callback: srun's labelled stdout lines."""
        match = _LABEL.match(line.rstrip("\r\n")) if stream == "stdout" else None
        if not match:
            return
        label, text = match.groups()
        with self._lock:
            if text.startswith(NODE_MARK):
                self.names[label] = text[len(NODE_MARK):].strip()
            elif text.startswith(EXIT_MARK):
                name = self.names.get(label, f"task {label}")
                self.finished[name] = time.monotonic() - self._started
                if self.progress is not None:
                    self.progress(len(self.finished), self.total, name)
