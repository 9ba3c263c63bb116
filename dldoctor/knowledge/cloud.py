"""Which cloud a machine runs in, from DMI strings: kept apart so the snapshot loads only this."""

from __future__ import annotations

from dataclasses import dataclass

from dldoctor.knowledge.tables import table


@dataclass(frozen=True)
class CloudRule:
    field: str
    contains: str
    cloud: str


def cloud_dmi_rules() -> list[CloudRule]:
    """The DMI substring rules that tell which cloud a machine runs in, first match wins."""
    return [CloudRule(r["field"], r["contains"], r["cloud"]) for r in table("cloud_dmi").rows]
