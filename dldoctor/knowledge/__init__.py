"""What dldoctor knows about compatibility, kept as data.

Each table is one JSON file in `knowledge/data/`, loaded by `tables` (which also holds the
`--knowledge-dir` override). One module per table family reads its rows: `cuda` (driver floors),
`pytorch` (wheel variants and arch lists), `rocm`, `tensorflow`, `jax`, `gpus` (peaks), `cloud`,
`frameworks` and `vocabulary` (the framework names), `catalog` (the tables themselves); `versions`
parses version numbers, capabilities and CUDA tags for the whole project. Import from those modules.
"""

from __future__ import annotations

from dldoctor.knowledge.tables import DATA_DIR as DATA_DIR
from dldoctor.knowledge.tables import OVERRIDE_ENV as OVERRIDE_ENV
from dldoctor.knowledge.tables import Table as Table
from dldoctor.knowledge.tables import set_override_dir as set_override_dir
from dldoctor.knowledge.tables import table as table
from dldoctor.knowledge.tables import table_names as table_names
