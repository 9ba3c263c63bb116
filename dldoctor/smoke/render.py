"""The human view of a `dldoctor.smoke/1` result: a short table per device."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

_STYLE = {"pass": "green", "fail": "bold red", "error": "bold red", "compile_error": "yellow", "skip": "dim"}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _cell(case: dict[str, Any] | None) -> Text:
    if case is None:
        return Text("-", style="dim")
    status = case["status"]
    label = {"compile_error": "compile failed"}.get(status, status)
    if case.get("rel_error") is not None:
        label += f" {case['rel_error']:.1e}"
    return Text(label, style=_STYLE.get(status, ""))


def _device_table(device: dict[str, Any]) -> Table:
    title = f"device {device.get('index')}: {device.get('name')} ({device.get('kind')})"
    if device.get("lost"):
        title += " - LOST"
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("test")
    table.add_column("dtype")
    table.add_column("eager")
    table.add_column("compiled")
    table.add_column("limit", justify="right")
    cases: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for case in device.get("tests", []):
        cases.setdefault((case["test"], case["dtype"]), {})[case["mode"]] = case
    for (test, dtype), modes in cases.items():
        limit = next((c["threshold"] for c in modes.values() if c.get("threshold") is not None), None)
        table.add_row(test, dtype, _cell(modes.get("eager")), _cell(modes.get("compiled")),
                      f"{limit:g}" if limit is not None else "")
    return table


def _speed_lines(device: dict[str, Any]) -> list[str]:
    lines = []
    for entry in device.get("speed") or []:
        if entry.get("error"):
            lines.append(f"  {entry.get('test')}: measurement failed: {entry['error']}")
            continue
        if "tflops" in entry:
            figure = f"{entry['tflops']:.1f} TFLOP/s"
        elif "gflops" in entry:
            figure = f"{entry['gflops']:.1f} GFLOP/s"
        else:
            figure = f"{entry['gbs']:.0f} GB/s (read + write)"
        what = f"{entry['test']} {entry.get('dtype', '')}".strip()
        if entry.get("fp32_mode"):
            what += f" ({entry['fp32_mode']})"
        extra = []
        if entry.get("fraction_of_peak") is not None:
            extra.append(f"{entry['fraction_of_peak']:.0%} of datasheet")
        if entry.get("fraction_of_best") is not None:
            extra.append(f"{entry['fraction_of_best']:.0%} of achievable")
        lines.append(f"  {what}: {figure}" + (f" - {', '.join(extra)}" if extra else ""))
    return lines


def render_smoke(result: dict[str, Any]) -> RenderableType:
    """A rich renderable for `dldoctor smoke` without --json."""
    parts: list[RenderableType] = []
    target = result["target"]
    head = (f"{result.get('framework')} {result.get('framework_version')} on {result.get('backend')}"
            f" - {target['kind']}" + (f" {target['value']}" if target.get("value") else ""))
    parts.append(Text(head, style="bold"))
    mode = result.get("fp32_mode") or {}
    if mode:
        parts.append(Text("fp32 mode: " + ", ".join(f"{k}={v}" for k, v in mode.items()), style="dim"))
    for device in result.get("devices", []):
        parts.append(_device_table(device))
        speed = _speed_lines(device)
        if speed:
            parts.append(Text(f"speed ({result.get('timer')}):\n" + "\n".join(speed)))
    collective = result.get("collective")
    if collective:
        line = (f"all-reduce across {collective.get('world_size')} ({collective.get('backend')}): "
                f"{collective.get('status')}")
        if collective.get("busbw_gbs") is not None:
            line += f", bus bandwidth {collective['busbw_gbs']:.1f} GB/s"
        parts.append(Text(line, style=_STYLE.get(collective.get("status", ""), "")))
    for finding in result.get("findings", []):
        text = Text(f"{finding['severity']}: ", style=_SEVERITY_STYLE.get(finding["severity"], ""))
        text.append(finding["message"])
        if finding.get("fix"):
            text.append(f"\n  fix: {finding['fix']}", style="dim")
        parts.append(text)
    verdict = result.get("verdict", "?")
    parts.append(Text(f"smoke: {verdict.upper()}", style="bold green" if verdict == "pass" else "bold red"))
    return Group(*parts)
