"""Read NVIDIA's "CUDA Toolkit and Corresponding Driver Versions" table, and check cuda_driver.json.

SOURCE: the table copied as text from the CUDA Toolkit release notes
(https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html, section "CUDA Driver"; older editions
at https://docs.nvidia.com/cuda/archive/<version>/cuda-toolkit-release-notes/), one toolkit per line:
"CUDA 10.2.89 >= 440.33 >= 441.22", "CUDA 9.2 (9.2.148 Update 1) >= 396.37 >= 398.26". RC rows are skipped;
rows older than the table's oldest CUDA are reported, not checked.
"""

from __future__ import annotations

import re
import sys

from _common import finish, load, parser, vt

LINE = re.compile(r"^CUDA (\d+\.\d+)([^>\n]*)>=\s*([\d.]+)(?:\s+>=\s*([\d.]+))?", re.M)


def read(text: str) -> list[dict[str, str | None]]:
    out = []
    for match in LINE.finditer(text):
        if " RC" in match.group(2):
            continue
        cuda, label, linux, windows = match.groups()
        update = re.search(r"Update (\d+)", label)
        update = update.group(1) if update else None
        out.append({"cuda": cuda, "update": f"U{update}" if update else "GA", "linux": linux, "windows": windows})
    return out


def compare(found: list[dict[str, str | None]], rows: list[dict[str, object]]) -> list[str]:
    oldest = min(vt(str(r["cuda"])) for r in rows)
    problems = []
    for got in found:
        if vt(str(got["cuda"])) < oldest:
            continue
        same = [r for r in rows if r["cuda"] == got["cuda"] and str(r["update"]).startswith(str(got["update"]))]
        if not same:
            problems.append(f"CUDA {got['cuda']} {got['update']}: in the source, not in the table")
            continue
        for os_key in ("linux", "windows"):
            if got[os_key] and same[0].get(os_key) != got[os_key]:
                problems.append(f"CUDA {got['cuda']} {got['update']} {os_key}: {got[os_key]} in the source, "
                                f"{same[0].get(os_key)} in the table")
    return problems


def main() -> int:
    args = parser(__doc__ or "", "cuda_driver").parse_args()
    found = read(args.source.read_text(encoding="utf-8", errors="replace"))
    problems = compare(found, load(args.table)) if args.check else []
    return finish(found, problems, args.check)


if __name__ == "__main__":
    sys.exit(main())
