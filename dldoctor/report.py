"""Findings, recommendations and the report, with their JSON and human renderers.

Rules return findings; commands return a `Report`; the CLI renders it here.
The JSON shape (`dldoctor.report/1`) is a public contract pinned by
`tests/test_report_contract.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dldoctor import __version__

REPORT_SCHEMA = "dldoctor.report/1"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """2 for an error, 1 for a warning, 0 for a note: the worst of a list is its maximum."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


#: The areas of the human report, in the order they are shown.
AREAS = ("host", "driver", "cuda", "amd", "frameworks", "python", "containers", "health", "internal")
AREA_TITLES = {
    "host": "Machine", "driver": "NVIDIA driver", "cuda": "CUDA toolkit and libraries", "amd": "AMD / ROCm",
    "frameworks": "Frameworks", "python": "Python environment", "containers": "Containers",
    "health": "GPU health", "internal": "dldoctor itself",
}


@dataclass(frozen=True)
class Finding:
    """One verdict: what is wrong (or worth knowing), why, and the commands that fix it."""

    id: str
    severity: Severity
    title: str
    detail: str = ""
    fix: tuple[str, ...] = ()
    docs: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def area(self) -> str:
        """The report area the finding is listed under: its id's prefix ("driver" of "driver.not-loaded")."""
        return self.id.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """The finding as the JSON report writes it."""
        return {
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "fix": list(self.fix),
            "docs": self.docs,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Recommendation:
    """The build of a framework that fits this machine, and how to get it."""

    framework: str
    variant: str
    reason: str
    install: str
    setup: str
    rejected: tuple[tuple[str, str], ...] = ()
    release: str | None = None  # the framework release recommended ("2.11")

    def to_json(self) -> dict[str, Any]:
        """The recommendation as the JSON report writes it."""
        return {
            "framework": self.framework,
            "release": self.release,
            "variant": self.variant,
            "reason": self.reason,
            "install": self.install,
            "setup": self.setup,
            "rejected": [{"variant": v, "reason": r} for v, r in self.rejected],
        }


@dataclass(frozen=True)
class Report:
    """What `dldoctor check` found: the snapshot read, the findings over it and the recommended builds."""

    snapshot: dict[str, Any]
    findings: tuple[Finding, ...]
    recommendations: tuple[Recommendation, ...]

    @property
    def status(self) -> str:
        """"error", "warning" or "ok": the worst finding's severity (notes count as ok)."""
        worst = max((f.severity.rank for f in self.findings), default=0)
        return {2: "error", 1: "warning", 0: "ok"}[worst]

    def has(self, severity: Severity) -> bool:
        """Whether any finding has `severity`."""
        return any(f.severity is severity for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """The report as `check --json` writes it (schema REPORT_SCHEMA)."""
        return {
            "schema": REPORT_SCHEMA,
            "dldoctor_version": __version__,
            "status": self.status,
            "snapshot": self.snapshot,
            "findings": [f.to_json() for f in self.findings],
            "recommendations": [r.to_json() for r in self.recommendations],
        }
