"""`dldoctor fleet smoke`: `dldoctor smoke` on every node, then one all-reduce across the nodes through
torch.distributed (NCCL on GPUs, gloo on CPUs), launched by the scheduler with one rank per GPU.

The all-reduce reports algbw and busbw per message size as nccl-tests does (busbw = algbw * 2(n-1)/n),
times each link between neighbouring nodes on its own to name the slowest one, and sets the figure
against what the interconnect should give (knowledge table `interconnects`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from dldoctor.errors import UsageError
from dldoctor.fleet.check import BROKEN, FleetOptions, answer_error, collect, document, node_command, parse_document
from dldoctor.fleet.rules import compress
from dldoctor.fleet.transport import RANK_MARKER, NodeInfo, Progress, RankJob, Transport
from dldoctor.report import Finding, Severity

#: Message sizes of the all-reduce, in bytes (64 KiB to 16 MiB; nccl-tests' figures flatten out above).
SIZES = (1 << 16, 1 << 20, 1 << 24)

#: Runs on every rank: stdlib + torch only, like the smoke payload. Prints one marked JSON line.
WORKER = r'''
import datetime, json, os, socket, time
result = {"rank": int(os.environ.get("RANK", "-1")), "node": os.environ.get("DLDOCTOR_FLEET_NODE") or socket.gethostname(),
          "sizes": [], "pairs": []}
try:
    import torch
    import torch.distributed as dist
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = os.environ["DLDOCTOR_FLEET_BACKEND"]
    sizes = [int(s) for s in os.environ["DLDOCTOR_FLEET_SIZES"].split(",")]
    pairs = json.loads(os.environ.get("DLDOCTOR_FLEET_PAIRS", "[]"))
    timeout = datetime.timedelta(seconds=float(os.environ.get("DLDOCTOR_FLEET_COLLECTIVE_TIMEOUT", "120")))
    gpu = backend == "nccl"
    if gpu:
        torch.cuda.set_device(local)
    dev = torch.device("cuda", local) if gpu else torch.device("cpu")
    dist.init_process_group(backend, rank=rank, world_size=world, timeout=timeout)
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    def timed(x, group, iters):
        dist.all_reduce(x, group=group)
        sync()
        dist.barrier(group=group)
        start = time.perf_counter()
        for _ in range(iters):
            dist.all_reduce(x, group=group)
        sync()
        return (time.perf_counter() - start) / iters

    for nbytes in sizes:
        x = torch.full((nbytes // 4,), float(rank + 1), dtype=torch.float32, device=dev)
        dist.all_reduce(x)
        sync()
        expected = world * (world + 1) / 2
        wrong = int((x != expected).sum())
        x.fill_(1.0 / world)
        seconds = timed(x, None, 5 if nbytes <= (1 << 20) else 3)
        result["sizes"].append({"bytes": nbytes, "seconds": seconds, "wrong": wrong})
    groups = [dist.new_group(p) for p in pairs]
    for pair, group in zip(pairs, groups):
        dist.barrier()
        if rank in pair:
            x = torch.ones(sizes[-1] // 4, dtype=torch.float32, device=dev)
            result["pairs"].append({"ranks": pair, "bytes": sizes[-1], "seconds": timed(x, group, 3)})
    dist.barrier()
    dist.destroy_process_group()
except Exception as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"[:600]
print("''' + RANK_MARKER + '''" + json.dumps(result), flush=True)
'''


def bus_bandwidth(algbw_gbs: float, world: int) -> float:
    """nccl-tests' all-reduce bus bandwidth: algbw * 2(n-1)/n (doc/PERFORMANCE.md)."""
    return algbw_gbs * 2 * (world - 1) / world if world > 1 else algbw_gbs


def interconnect(name: str) -> dict[str, Any]:
    from dldoctor import knowledge

    rows = knowledge.table("interconnects").rows
    for row in rows:
        if row["name"] == name:
            return dict(row)
    raise UsageError(f"--interconnect {name!r}: choose from {', '.join(r['name'] for r in rows)}")


def link_pairs(nodes: int, ranks_per_node: int) -> list[list[int]]:
    """The first ranks of neighbouring nodes, around the ring (one pair for two nodes)."""
    if nodes < 2:
        return []
    count = nodes if nodes > 2 else 1
    return [[i * ranks_per_node, ((i + 1) % nodes) * ranks_per_node] for i in range(count)]


def analyse(ranks: Sequence[dict[str, Any]], nodes: Sequence[NodeInfo], ranks_per_node: int, backend: str,
            expected: dict[str, Any] | None, nics: int) -> dict[str, Any]:
    """The all-reduce's figures from what every rank printed: the slowest rank sets each size's time."""
    world = len(nodes) * ranks_per_node
    out: dict[str, Any] = {"test": "all_reduce", "backend": backend, "world_size": world, "nodes": [n.name for n in nodes],
                           "ranks_per_node": ranks_per_node, "status": "fail", "sizes": [], "links": [],
                           "slowest_link": None, "slowest_node": None, "expected": None}
    errors = [str(r["error"]) for r in ranks if r.get("error")]
    good = [r for r in ranks if not r.get("error")]
    if errors or len(good) < world:
        out["reason"] = errors[0] if errors else f"{len(good)} of {world} ranks reported"
        return out
    wrong = sum(int(s.get("wrong", 0)) for r in good for s in r["sizes"])
    if wrong:
        out["reason"] = f"{wrong} elements hold the wrong sum after the all-reduce"
        return out
    for i, size in enumerate(good[0]["sizes"]):
        seconds = max(float(r["sizes"][i]["seconds"]) for r in good)
        algbw = size["bytes"] / seconds / 1e9
        out["sizes"].append({"bytes": size["bytes"], "time_us": round(seconds * 1e6, 1), "algbw_gbs": round(algbw, 6),
                             "busbw_gbs": round(bus_bandwidth(algbw, world), 6)})
    node_of = {int(r["rank"]): str(r["node"]) for r in good}
    seen: dict[tuple[int, ...], float] = {}
    for rank in good:
        for pair in rank.get("pairs", []):
            key = tuple(pair["ranks"])
            seen[key] = max(seen.get(key, 0.0), float(pair["seconds"]))
    for key, seconds in sorted(seen.items()):
        busbw = bus_bandwidth(int(good[0]["sizes"][-1]["bytes"]) / seconds / 1e9, 2)
        out["links"].append({"nodes": [node_of.get(k, str(k)) for k in key], "busbw_gbs": round(busbw, 6)})
    if out["links"]:
        slowest = min(out["links"], key=lambda link: link["busbw_gbs"])
        out["slowest_link"] = slowest
        if len(out["links"]) >= 3:  # the node on both of the two slowest links
            two = sorted(out["links"], key=lambda link: link["busbw_gbs"])[:2]
            common = set(two[0]["nodes"]) & set(two[1]["nodes"])
            out["slowest_node"] = sorted(common)[0] if common else None
    out["status"] = "pass"
    if expected is not None:
        line = float(expected["per_direction_gbs"]) * nics
        best = float(out["sizes"][-1]["busbw_gbs"])
        out["expected"] = {"interconnect": expected["name"], "title": expected["title"], "nics": nics,
                           "line_rate_gbs": line, "healthy_fraction": expected["expected_fraction"],
                           "measured_fraction": round(best / line, 3), "source": expected["source"]}
    return out


def _collective_findings(collective: dict[str, Any] | None) -> list[Finding]:
    if collective is None:
        return []
    nodes = list(collective.get("nodes", []))
    if collective["status"] != "pass":
        return [Finding("fleet.allreduce-failed", Severity.ERROR, f"all-reduce across {compress(nodes)} failed",
                        str(collective.get("reason", "")), evidence={"nodes": nodes})]
    exp = collective.get("expected")
    if exp and exp["measured_fraction"] < 0.5 * float(exp["healthy_fraction"]):
        slow = collective.get("slowest_node") or "-".join((collective.get("slowest_link") or {}).get("nodes", []))
        return [Finding("fleet.allreduce-slow", Severity.WARNING,
                        f"all-reduce busbw is {exp['measured_fraction']:.0%} of {exp['title']} (healthy: about "
                        f"{float(exp['healthy_fraction']):.0%}); slowest: {slow or 'not known'}",
                        "NCCL_DEBUG=INFO shows the transport NCCL chose (a fallback to sockets is the usual cause)",
                        ("NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET srun ... (look for 'NET/Socket' or 'via P2P')",),
                        evidence={"nodes": nodes})]
    return []


def _ranks_per_node(results: dict[str, dict[str, Any]]) -> tuple[int, str]:
    accelerated = [r for r in results.values() if r.get("accelerator")]
    if results and len(accelerated) == len(results):
        counts = [len(r.get("devices") or []) for r in accelerated]
        return max(1, min(counts)), "nccl"
    return 1, "gloo"


def run_fleet_smoke(transport: Transport, options: FleetOptions, *, interconnect_name: str | None = None,
                    nics: int = 1, progress: Progress | None = None) -> dict[str, Any]:
    from dldoctor.smoke.run import SCHEMA as SMOKE_SCHEMA

    expected = interconnect(interconnect_name) if interconnect_name else None
    if nics < 1:
        raise UsageError("--nics must be 1 or more")
    started = time.monotonic()
    # The node's own `timeout` (the node timeout) ends a slow smoke; its --timeout is only a backstop.
    args = ["smoke", "--json", "--quick", "--allow-cpu", "--timeout", f"{options.node_timeout_s + 5:g}"]
    infos, answers, timings = collect(transport, options, args, progress)
    python = node_command(transport, options)[0]
    results: dict[str, dict[str, Any]] = {}
    nodes = []
    for info in infos:
        answer = answers.get(info.name) if info.usable else None
        doc = parse_document(answer, SMOKE_SCHEMA) if answer else None
        if doc is not None:
            results[info.name] = doc
            bad = [f for f in doc.get("findings", []) if f.get("severity") == "error"]
            status = "ok" if doc.get("verdict") == "pass" and not bad else "error"
            cause = bad[0]["message"] if bad else (None if status == "ok" else f"smoke verdict {doc.get('verdict')}")
            fix = [bad[0]["fix"]] if bad and bad[0].get("fix") else []
        else:
            status = (answer.status if answer and answer.status != "answered" else
                      "failed" if answer else "unreachable")
            cause = answer_error(answer, python) if answer else f"the scheduler reports it {info.state}: it runs no work"
            fix = []
        backend = f"{doc.get('framework')} {doc.get('framework_version')} ({doc.get('backend')})" if doc else None
        nodes.append({"name": info.name, "scheduler_state": info.state, "gpus_expected": info.gpus_expected,
                      "status": status, "cause": cause, "fix": fix,
                      "gpus": str(len(doc.get("devices") or [])) + (" GPU" if doc and doc.get("accelerator") else " CPU")
                      if doc else None, "driver": None, "framework": backend,
                      "answer": None if answer is None else {"status": answer.status, "returncode": answer.returncode,
                                                             "duration_s": answer.duration_s},
                      "smoke": doc, "findings": doc.get("findings", []) if doc else []})
    passed = [i for i in infos if i.name in results and next(n for n in nodes if n["name"] == i.name)["status"] == "ok"]
    collective = None
    run_left = options.timeout_s - (time.monotonic() - started)
    if len(passed) >= 2 and run_left > 5:
        per_node, backend = _ranks_per_node({i.name: results[i.name] for i in passed})
        worker_python = options.python or python
        pairs = link_pairs(len(passed), per_node)
        import json

        job = RankJob(argv=(worker_python, "-c", WORKER), nodes=tuple(passed), ranks_per_node=per_node,
                      env={"MASTER_ADDR": passed[0].address or passed[0].name,
                           "MASTER_PORT": str(20000 + secrets.randbelow(20000)),
                           "DLDOCTOR_FLEET_BACKEND": backend, "DLDOCTOR_FLEET_SIZES": ",".join(map(str, SIZES)),
                           "DLDOCTOR_FLEET_PAIRS": json.dumps(pairs),
                           "DLDOCTOR_FLEET_COLLECTIVE_TIMEOUT": f"{max(5.0, run_left - 5):.0f}"},
                      timeout_s=max(5.0, run_left))
        launched = time.monotonic()
        collective = analyse(transport.run_ranks(job), passed, per_node, backend, expected, nics)
        timings["collective_s"] = time.monotonic() - launched
    fleet = _collective_findings(collective)
    for node in nodes:
        if collective and collective["status"] != "pass" and node["name"] in collective["nodes"] and node["status"] == "ok":
            node["status"], node["cause"] = "error", f"all-reduce failed: {collective.get('reason')}"
    doc = document("smoke", transport.engine, nodes, fleet, started, timings, len(infos), collective=collective)
    if collective is None and len(passed) < 2:
        doc["collective_skipped"] = f"{len(passed)} node(s) passed the smoke test; an all-reduce needs 2"
    return doc


__all__ = ["BROKEN", "SIZES", "WORKER", "analyse", "bus_bandwidth", "link_pairs", "run_fleet_smoke"]
