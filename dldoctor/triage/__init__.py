"""Diagnose a machine from what its owner pasted: collect_env, nvidia-smi, pip list, error messages."""

from __future__ import annotations

from dldoctor.triage.core import TRIAGE_SCHEMA, Triage, decode, read_text, triage

__all__ = ["TRIAGE_SCHEMA", "Triage", "decode", "read_text", "triage"]
