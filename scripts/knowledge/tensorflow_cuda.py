"""Read TensorFlow's "Tested build configurations" GPU tables, and check tensorflow_cuda.json.

SOURCE: the GPU table of https://www.tensorflow.org/install/source#gpu (Linux) or
https://www.tensorflow.org/install/source_windows#gpu (native Windows; pass --windows), copied as text: one
release per line, "tensorflow-2.15.0  3.9-3.11  Clang 16.0.0  Bazel 6.1.0  8.9  12.2", the last two fields
being cuDNN and CUDA. --check: each release's cuDNN and CUDA must match its row; with --windows its row must
also say windows_native_gpu true.
"""

from __future__ import annotations

import re
import sys

from _common import finish, in_range, load, mm, parser

LINE = re.compile(r"^\W*tensorflow(?:_gpu)?-(\d+\.\d+)\.\d+\b.*?(\d+\.\d+)\s*\|?\s+(\d+\.\d+)\s*\|?\s*$", re.M)


def read(text: str) -> dict[str, dict[str, str]]:
    return {tf: {"cudnn": cudnn, "cuda": cuda} for tf, cudnn, cuda in LINE.findall(text)}


def compare(found: dict[str, dict[str, str]], rows: list[dict[str, object]], windows: bool) -> list[str]:
    problems = []
    for tf, got in found.items():
        wanted = mm(tf)
        row = next((r for r in rows if wanted and in_range(wanted, r["tf_min"], r["tf_max"])), None)  # type: ignore[arg-type]
        if row is None:
            problems.append(f"TF {tf}: in the source, not in the table")
            continue
        for field in ("cuda", "cudnn"):
            if str(row[field]) != got[field]:
                problems.append(f"TF {tf}: {field} {got[field]} in the source, {row[field]} in the table")
        if windows and row.get("windows_native_gpu") is not True:
            problems.append(f"TF {tf}: a native Windows GPU build in the source, windows_native_gpu "
                            f"{row.get('windows_native_gpu')} in the table")
    return problems


def main() -> int:
    p = parser(__doc__ or "", "tensorflow_cuda")
    p.add_argument("--windows", action="store_true", help="the source is the native Windows table")
    args = p.parse_args()
    found = read(args.source.read_text(encoding="utf-8", errors="replace"))
    problems = compare(found, load(args.table), args.windows) if args.check else []
    return finish(found, problems, args.check)


if __name__ == "__main__":
    sys.exit(main())
