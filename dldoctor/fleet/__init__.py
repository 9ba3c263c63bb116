"""`dldoctor fleet`: check and smoke-test every node of a cluster through the scheduler it already has.

The flow is the one of `check`, once per node, then across nodes:
transport (Slurm, Ray: one module each in `transport/`) -> one `dldoctor snapshot` per node ->
`check.diagnose` per node -> fleet rules across the nodes (`rules.py`) -> `dldoctor.fleet/1` -> render.
"""

from __future__ import annotations

SCHEMA = "dldoctor.fleet/1"
