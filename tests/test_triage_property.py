"""Mutated real reports must never crash triage: cut lines, reordered sections, Windows line ends, extra markdown."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dldoctor.triage import triage
from dldoctor.triage.render import render_markdown, render_text

FIXTURES = sorted((Path(__file__).resolve().parent / "triage").glob("*.txt"))
TEXTS = [p.read_text(encoding="utf-8") for p in FIXTURES]

WRAPPERS = ["```", "```text", "~~~", "<details>", "</details>", "<summary>env</summary>", "> ", "    ", "<br>",
            "&gt;", "| a | b |", "---", "**", "\t", "\x1b[31m", "\u00a0", "\ufeff"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for text in draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3)):
        lines += text.splitlines()
    if len(lines) > 0 and draw(st.booleans()):  # cut a run of lines
        start = draw(st.integers(0, len(lines) - 1))
        del lines[start:start + draw(st.integers(1, 10))]
    if draw(st.booleans()):
        lines = draw(st.permutations(lines))
    for _ in range(draw(st.integers(0, 8))):  # extra markdown, prefixes and truncated lines
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.integers(0, 2))
        if action == 0:
            lines.insert(i, draw(st.sampled_from(WRAPPERS)))
        elif action == 1:
            lines[i] = draw(st.sampled_from(WRAPPERS)) + lines[i]
        else:
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]), 0)))]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return end.join(lines) + draw(st.sampled_from(["", end]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_never_crash(text: str) -> None:
    result = triage(text)
    assert result.status in ("ok", "warning", "error")
    render_text(result)
    render_markdown(result)
    result.to_json()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_any_text_never_crashes(text: str) -> None:
    result = triage(text)
    render_text(result)


def test_crlf_gives_the_same_verdict() -> None:
    for text in TEXTS:
        a, b = triage(text), triage(text.replace("\n", "\r\n"))
        assert (a.status, a.cause and a.cause.id) == (b.status, b.cause and b.cause.id)
