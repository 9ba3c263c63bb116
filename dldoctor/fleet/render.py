"""The human form of a `dldoctor.fleet/1` result: one row per group of identical nodes, the fixes of each
group, and for `fleet smoke` the all-reduce's figures."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

STYLE = {"ok": "green", "warning": "yellow", "error": "red", "unreachable": "red", "no-answer": "red",
         "failed": "red"}


def _size(nbytes: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes} B"


def render_fleet(result: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    title = f"dldoctor fleet {result['command']} ({result['engine']}, {result['nodes_total']} nodes)"
    table = Table(title=title, title_justify="left")
    for column in ("node", "GPUs", "driver", "framework build", "status", "cause"):
        table.add_column(column, overflow="fold")
    for group in result["groups"]:
        count = len(group["nodes"])
        name = group["hostlist"] + (f" ({count})" if count > 1 else "")
        status = Text(str(group["status"]), style=STYLE.get(str(group["status"]), ""))
        table.add_row(name, group["gpus"] or "-", group["driver"] or "-", group["framework"] or "-", status,
                      group["cause"] or "")
    out.append(table)
    fixes = [g for g in result["groups"] if g["fix"]]
    if fixes:
        out.append(Text("Fixes", style="bold"))
        for group in fixes:
            out.append(Text(f"  {group['hostlist']}: {group['cause']}"))
            for command in group["fix"]:
                out.append(Text(f"      {command}"))
    collective = result.get("collective")
    if collective is not None:
        out.extend(_collective(collective))
    elif result.get("collective_skipped"):
        out.append(Text(f"all-reduce skipped: {result['collective_skipped']}"))
    timings = result["timings"]
    broken = sum(1 for n in result["nodes"] if n["status"] not in ("ok", "warning"))
    out.append(Text(f"{result['nodes_total']} nodes, {broken} broken; {timings['total_s']:.1f}s "
                    f"(scheduler {timings['scheduler_run_s']:.1f}s, dldoctor's own {timings['dldoctor_s']:.2f}s)"))
    return out


def _collective(collective: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    head = (f"all-reduce over {collective['backend']}: {collective['world_size']} ranks on "
            f"{len(collective['nodes'])} nodes ({collective['ranks_per_node']} per node)")
    if collective["status"] != "pass":
        return [Text(f"{head}: FAILED: {collective.get('reason')}", style="red")]
    table = Table(title=head, title_justify="left")
    for column in ("size", "time (us)", "algbw (GB/s)", "busbw (GB/s)"):
        table.add_column(column, justify="right")
    for size in collective["sizes"]:
        table.add_row(_size(int(size["bytes"])), f"{size['time_us']:.0f}", f"{size['algbw_gbs']:.2f}",
                      f"{size['busbw_gbs']:.2f}")
    out.append(table)
    if collective.get("slowest_link"):
        link = collective["slowest_link"]
        node = f"; slowest node {collective['slowest_node']}" if collective.get("slowest_node") else ""
        out.append(Text(f"slowest link {' - '.join(link['nodes'])}: {link['busbw_gbs']:.2f} GB/s{node}"))
    exp = collective.get("expected")
    if exp:
        out.append(Text(f"{exp['title']} x{exp['nics']}: line rate {exp['line_rate_gbs']:g} GB/s per direction; "
                        f"measured busbw {exp['measured_fraction']:.0%} of it (healthy: about "
                        f"{float(exp['healthy_fraction']):.0%}). Source: {exp['source']}"))
    else:
        out.append(Text("give --interconnect (dldoctor knowledge: interconnects) to compare with the link's rate"))
    return out
