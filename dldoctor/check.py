"""`dldoctor check`: snapshot -> rules -> findings and recommendations -> a Report."""

from __future__ import annotations

import difflib
from typing import Any

from dldoctor.errors import UsageError
from dldoctor.knowledge import vocabulary
from dldoctor.report import Finding, Report
from dldoctor.rules import EXPLANATIONS, load_rules, run_rules
from dldoctor.snapshot.facts import Facts


def known_ids() -> list[str]:
    """Every finding id a rule can report, sorted (what --only, --ignore and explain accept)."""
    load_rules()
    return sorted(EXPLANATIONS)


def _unknown(value: str, option: str) -> UsageError:
    close = difflib.get_close_matches(value, known_ids(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `dldoctor explain --list` shows them all"
    return UsageError(f"{option}: no finding id {value!r}{hint}")


def _selector(values: list[str], option: str) -> list[str]:
    """Validate ids or area prefixes ("driver", "health.*") given to --only / --ignore."""
    ids = known_ids()
    areas = {i.split(".", 1)[0] for i in ids}
    out = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            bare = part.removesuffix(".*")
            if bare not in ids and bare not in areas:
                raise _unknown(part, option)
            out.append(bare)
    return out


def _matches(finding: Finding, selectors: list[str]) -> bool:
    return any(finding.id == s or finding.id.startswith(s + ".") for s in selectors)


def normalize_framework(name: str | None) -> str | None:
    """The canonical key of a --framework name ("torch" -> "pytorch"); UsageError for an unknown one."""
    if name is None:
        return None
    key = vocabulary.canonical(name)
    if key is None:
        raise UsageError(f"--framework: unknown framework {name!r} (choose from {vocabulary.accepted_names()})")
    return key


def diagnose(
    snapshot: dict[str, Any],
    *,
    framework: str | None = None,
    only: list[str] | None = None,
    ignore: list[str] | None = None,
) -> Report:
    """Run every rule over `snapshot` and build the report."""
    from dldoctor.rules.recommend import recommend

    only_ids = _selector(only or [], "--only")
    ignore_ids = _selector(ignore or [], "--ignore")
    focus = normalize_framework(framework)
    facts = Facts(snapshot)
    findings = run_rules(facts)
    if focus:
        findings = [f for f in findings if f.evidence.get("framework") in (None, focus)]
    if only_ids:
        findings = [f for f in findings if _matches(f, only_ids)]
    if ignore_ids:
        findings = [f for f in findings if not _matches(f, ignore_ids)]
    recommendations = recommend(facts, focus)
    return Report(snapshot=snapshot, findings=tuple(findings), recommendations=tuple(recommendations))


def explain(finding_id: str) -> str:
    """The text `dldoctor explain ID` prints: the finding's title, why it matters and its docs link."""
    ids = known_ids()
    if finding_id not in ids:
        raise _unknown(finding_id, "explain")
    item = EXPLANATIONS[finding_id]
    text = f"{item.id}: {item.title}\n\n{item.text}\n"
    if item.docs:
        text += f"\nMore: {item.docs}\n"
    return text
