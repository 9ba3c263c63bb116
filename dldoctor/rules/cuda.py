"""Rules: cuda (filled in by the rules work)."""

from __future__ import annotations
