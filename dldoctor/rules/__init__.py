"""The rules: pure functions from a snapshot's facts to findings.

One module per theme. Each rule is registered with `@rule`, declares the
finding ids it may report (with their long explanations, for `dldoctor
explain`), does no I/O, and returns findings. A rule that raises becomes an
error-level `internal.rule-crashed` finding naming it; the others still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dldoctor.report import Finding, Severity
from dldoctor.snapshot.facts import Facts

RuleFn = Callable[[Facts], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    fn: RuleFn


@dataclass(frozen=True)
class Explanation:
    id: str
    title: str
    text: str
    docs: str | None = None


RULES: list[Rule] = []
EXPLANATIONS: dict[str, Explanation] = {}


def explains(finding_id: str, title: str, text: str, docs: str | None = None) -> None:
    """Register the long explanation of a finding id (shown by `dldoctor explain`)."""
    EXPLANATIONS[finding_id] = Explanation(finding_id, title, text.strip(), docs)


def rule(fn: RuleFn) -> RuleFn:
    RULES.append(Rule(f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}", fn))
    return fn


explains(
    "internal.rule-crashed", "A dldoctor rule crashed",
    """
    One of dldoctor's own rules raised an exception on this snapshot. The rest
    of the report is still complete, but this rule's verdict is missing. Please
    report it with the snapshot (`dldoctor snapshot --redact`).
    """,
)


def load_rules() -> list[Rule]:
    """Import every rule module once (registration happens at import)."""
    from dldoctor.fleet import rules as fleet_rules  # noqa: F401  (its finding ids, for `dldoctor explain`)
    from dldoctor.rules import (  # noqa: F401  (imported for their @rule registrations)
        amd,
        containers,
        cuda,
        driver,
        frameworks,
        health,
        python_env,
    )

    return RULES


def run_rules(facts: Facts) -> list[Finding]:
    findings: list[Finding] = []
    for item in load_rules():
        try:
            findings.extend(item.fn(facts))
        except Exception as exc:  # noqa: BLE001  (a crashing rule is a finding, not the end of the report)
            findings.append(Finding(
                id="internal.rule-crashed",
                severity=Severity.ERROR,
                title=f"rule {item.name} crashed: {type(exc).__name__}",
                detail=str(exc)[:300],
                evidence={"rule": item.name},
            ))
    order = {s: i for i, s in enumerate((Severity.ERROR, Severity.WARNING, Severity.INFO))}
    return sorted(findings, key=lambda f: (order[f.severity], f.id))
