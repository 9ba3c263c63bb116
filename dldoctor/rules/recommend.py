"""Recommendations: the build of each framework that fits this machine."""

from __future__ import annotations

from dldoctor.report import Recommendation
from dldoctor.rules.facts import Facts


def recommend(facts: Facts, focus: str | None) -> list[Recommendation]:
    return []
