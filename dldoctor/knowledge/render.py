"""The human form of `dldoctor knowledge`: one table of the compatibility tables, their sources and age."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def render_knowledge(rows: list[dict[str, Any]], width: int) -> Table:
    """The tables of `catalog.summary()` as one rich Table fitted to `width` cells.

    Names, dates and numbers are never broken; the source, last, gets what the terminal leaves (cut with an
    ellipsis), and no column at all when that is too little to read.
    """
    cells = [[str(row["name"]), str(row["rows"]), str(row["verified"]), str(row["age_days"]),
              "override" if row["overridden"] else "built-in", _shorten(str(row["source"]), 60)] for row in rows]
    headers = ("table", "rows", "verified", "age (days)", "from", "source")
    widths = [max(len(headers[i]), *(len(c[i]) for c in cells)) for i in range(5)]
    left = width - sum(widths) - 2 * 5
    table = Table(title="dldoctor knowledge", show_lines=False, box=None, title_justify="left", pad_edge=False)
    for header, column_width in zip(headers[:5], widths, strict=True):
        table.add_column(header, no_wrap=True, min_width=column_width)
    if left >= 12:
        table.add_column("source", no_wrap=True, overflow="ellipsis", max_width=left)
    for cell in cells:
        table.add_row(*(cell if left >= 12 else cell[:5]))
    return table
