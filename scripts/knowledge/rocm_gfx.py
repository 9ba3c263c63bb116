"""Read the gfx targets of PyTorch ROCm wheels from pasted torch.cuda.get_arch_list() outputs; check rocm_gfx.json.

SOURCE: text holding, for each wheel, its version string and then its arch list, as a Python session prints
them (`torch.__version__` -> '2.5.1+rocm6.2', then `torch.cuda.get_arch_list()` -> ['gfx900', ...]); such
sessions are pasted in public issues (e.g. astral-sh/uv#14086). The builder script alternative is the
`PYTORCH_ROCM_ARCH=` line of pytorch/builder `manywheel/build_docker.sh` on `release/X.Y` (read it by eye: it
depends on the ROCm version).
"""

from __future__ import annotations

import re
import sys

from _common import finish, load, parser, vt

BLOCK = re.compile(r"'\d+\.\d+\.\d+[^']*\+rocm(\d[\d.]*\d)'(.*?)\]", re.S)


def read(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rocm, body in BLOCK.findall(text):
        targets = re.findall(r"'(gfx[0-9a-f]+)'", body)
        if targets:
            out[rocm] = sorted(set(targets))
    return out


def compare(found: dict[str, list[str]], rows: list[dict[str, object]]) -> list[str]:
    problems = []
    for rocm, targets in found.items():
        row = next((r for r in rows if vt(str(r["rocm"])) == vt(rocm)), None)
        if row is None:
            problems.append(f"rocm{rocm}: in the source, not in the table")
        elif sorted(row.get("targets") or []) != targets:  # type: ignore[call-overload]
            problems.append(f"rocm{rocm}: {targets} in the source, {row.get('targets')} in the table")
    return problems


def main() -> int:
    args = parser(__doc__ or "", "rocm_gfx").parse_args()
    found = read(args.source.read_text(encoding="utf-8", errors="replace"))
    problems = compare(found, load(args.table)) if args.check else []
    return finish(found, problems, args.check)


if __name__ == "__main__":
    sys.exit(main())
