"""Ray: the nodes from `ray.nodes()`, one task per node pinned there with node affinity (soft=False).

Ray is an optional extra (`pip install 'dldoctor[ray]'`): nothing imports it until `--ray` is used.
Each task runs the command through dldoctor's Runner on its node, with the node timeout; the driver
waits for the tasks with `ray.wait` until the run's deadline and cancels what is left. A node Ray marks
dead, or that dies while its task runs, is unreachable; the others still report.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dldoctor.errors import UnavailableError
from dldoctor.fleet.transport import (
    ANSWERED,
    FAILED,
    NO_ANSWER,
    UNREACHABLE,
    NodeAnswer,
    NodeInfo,
    Progress,
    RankJob,
    parse_rank_lines,
)

#: In argv, the interpreter the Ray worker runs on its node (the same installation as the driver's).
WORKER_PYTHON = "@worker-python"
INIT_TIMEOUT_S = 30.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UnavailableError("--ray needs Ray, an optional extra: pip install 'dldoctor[ray]'") from None
    return ray


def _run_here(argv: list[str], timeout_s: float, env: dict[str, str] | None) -> dict[str, Any]:
    """Runs inside the Ray task, on its node."""
    from dldoctor.runner import Runner

    argv = [sys.executable if a == WORKER_PYTHON else a for a in argv]
    done = Runner().run(argv, timeout_s=timeout_s, extra_env=env)
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
            "duration_s": done.duration_s, "timed_out": done.timed_out,
            "start_error": done.start_error, "failure": None if done.ok else done.describe_failure()}


@dataclass
class RayTransport:
    address: str | None = None
    engine: str = "ray"

    def _ray(self) -> Any:
        ray = import_ray()
        if ray.is_initialized():
            return ray
        where = self.address or "auto (RAY_ADDRESS or a local cluster)"
        failure: list[BaseException] = []

        def connect() -> None:
            try:
                ray.init(address=self.address or "auto", logging_level="ERROR", log_to_driver=False,
                         configure_logging=False)
            except BaseException as exc:  # noqa: BLE001  (ConnectionError, ValueError ...: no cluster there)
                failure.append(exc)

        # ray.init retries a GCS that does not answer for minutes: it gets INIT_TIMEOUT_S, in a thread.
        thread = threading.Thread(target=connect, name="ray-init", daemon=True)
        thread.start()
        thread.join(INIT_TIMEOUT_S)
        if thread.is_alive():
            raise UnavailableError(f"--ray: the Ray cluster at {where} did not answer within {INIT_TIMEOUT_S:g}s")
        if failure:
            first = (str(failure[0]).strip().splitlines() or [type(failure[0]).__name__])[0]
            raise UnavailableError(f"--ray: no Ray cluster at {where}: {first[:200]}")
        return ray

    def nodes(self) -> list[NodeInfo]:
        ray = self._ray()
        raw = ray.nodes()
        hosts = [str(n.get("NodeManagerHostname") or "") for n in raw]
        out = []
        for entry, host in zip(raw, hosts, strict=True):
            node_id = str(entry.get("NodeID"))
            name = host if hosts.count(host) == 1 and host else f"{host or 'ray'}-{node_id[:8]}"
            gpus = entry.get("Resources", {}).get("GPU")
            alive = bool(entry.get("Alive"))
            out.append(NodeInfo(name=name, state="ALIVE" if alive else "DEAD", usable=alive,
                                gpus_expected=int(gpus) if gpus is not None else 0,
                                address=str(entry.get("NodeManagerAddress") or ""), handle=node_id))
        return out

    def _submit(self, node: NodeInfo, argv: Sequence[str], timeout_s: float, env: dict[str, str] | None) -> Any:
        ray = self._ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        task = ray.remote(num_cpus=0, max_retries=0)(_run_here)
        strategy = NodeAffinitySchedulingStrategy(node_id=str(node.handle), soft=False)
        return task.options(scheduling_strategy=strategy, name=f"dldoctor-fleet-{node.name}").remote(
            list(argv), timeout_s, env)

    def _collect(self, refs: dict[Any, NodeInfo], deadline_s: float, node_timeout_s: float,
                 progress: Progress | None) -> dict[str, tuple[str, Any, float]]:
        """ref -> ("ok", value) | ("error", exception text) | ("late", None), waiting until the deadline."""
        ray = self._ray()
        started = time.monotonic()
        pending = list(refs)
        out: dict[str, tuple[str, Any, float]] = {}
        while pending:
            left = deadline_s - (time.monotonic() - started)
            if left <= 0:
                break
            ready, pending = ray.wait(pending, num_returns=1, timeout=left)
            for ref in ready:
                node = refs[ref]
                try:
                    out[node.name] = ("ok", ray.get(ref, timeout=5), time.monotonic() - started)
                except Exception as exc:  # noqa: BLE001  (NodeDiedError, WorkerCrashedError, RayTaskError ...)
                    out[node.name] = ("error", exc, time.monotonic() - started)
                if progress is not None:
                    progress(len(out), len(refs), node.name)
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001  (a task that cannot be cancelled is left to Ray)
                pass
        return out

    def run_per_node(
        self,
        nodes: Sequence[NodeInfo],
        argv: Sequence[str],
        *,
        node_timeout_s: float,
        deadline_s: float,
        progress: Progress | None = None,
    ) -> dict[str, NodeAnswer]:
        refs = {self._submit(node, argv, node_timeout_s, None): node for node in nodes}
        got = self._collect(refs, deadline_s, node_timeout_s, progress)
        answers: dict[str, NodeAnswer] = {}
        for node in nodes:
            if node.name not in got:
                answers[node.name] = NodeAnswer(node.name, NO_ANSWER, error=f"no answer within the run's deadline "
                                                f"({deadline_s:g}s)", duration_s=deadline_s)
                continue
            kind, value, when = got[node.name]
            if kind == "error":
                answers[node.name] = NodeAnswer(node.name, *_task_error(value), duration_s=when)
            elif value["timed_out"]:
                answers[node.name] = NodeAnswer(node.name, NO_ANSWER, value["stdout"], value["stderr"], None,
                                                f"did not answer within the node timeout ({node_timeout_s:g}s)", when)
            elif value["start_error"]:
                answers[node.name] = NodeAnswer(node.name, FAILED, error=value["failure"], duration_s=when)
            else:
                answers[node.name] = NodeAnswer(node.name, ANSWERED, value["stdout"], value["stderr"],
                                                value["returncode"], None, when)
        return answers

    def run_ranks(self, job: RankJob) -> list[dict[str, Any]]:
        world = len(job.nodes) * job.ranks_per_node
        refs: dict[Any, NodeInfo] = {}
        for index, node in enumerate(job.nodes):
            for local in range(job.ranks_per_node):
                rank = index * job.ranks_per_node + local
                env = {**job.env, "RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(local),
                       "DLDOCTOR_FLEET_NODE": node.name}
                rank_node = NodeInfo(f"{node.name}#{local}", node.state, node.usable, node.gpus_expected,
                                     node.address, node.handle)
                refs[self._submit(rank_node, job.argv, job.timeout_s, env)] = rank_node
        got = self._collect(refs, job.timeout_s + 10, job.timeout_s, None)
        ranks: list[dict[str, Any]] = []
        for name in sorted(got):
            kind, value, _ = got[name]
            if kind == "error":
                ranks.append({"error": f"{name}: {_task_error(value)[2]}"})
            else:
                found = parse_rank_lines(value["stdout"])
                ranks.extend(found or [{"error": f"{name}: {value['failure'] or 'printed no result'}"}])
        if len(got) < len(refs):
            ranks.append({"error": f"{len(refs) - len(got)} rank(s) gave no answer within {job.timeout_s:g}s"})
        return ranks


def _task_error(exc: BaseException) -> tuple[str, str, str, int | None, str]:
    """(status, stdout, stderr, returncode, error) for a task that raised instead of returning."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    first = next((ln for ln in text if ln.strip()), name)[:300]
    if any(word in name for word in ("NodeDied", "Unschedulable", "WorkerCrashed", "ObjectLost", "OwnerDied")):
        return UNREACHABLE, "", "", None, f"Ray lost the node ({name}): {first}"
    if "ModuleNotFoundError" in str(exc) and "dldoctor" in str(exc):
        return FAILED, "", "", None, "dldoctor is not importable by the Ray worker on this node (install it there)"
    return FAILED, "", "", None, f"{name}: {first}"
