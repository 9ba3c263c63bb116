"""Read the PyTorch wheel variants per release from a copy of the wheel index, and check torch_variants.json.

SOURCE is any of (saved by hand; this project's machines cannot reach these hosts):
  * https://download.pytorch.org/whl/torch_stable.html or https://download.pytorch.org/whl/torch/ (the index HTML);
  * pip's "(from versions: ...)" line after `pip install torch==0 -f https://download.pytorch.org/whl/torch_stable.html`;
  * pytorch.github.io's _get_started/previous-versions.md (raw markdown), which also says which CUDA the plain
    PyPI wheel carries ("# CUDA 10.2" over a `pip install torch==X` without an index, or "##### Linux CUDA 11.7").
--check: every variant the source lists must be in the table's row for that release, and a PyPI CUDA the source
states must match the row's pypi_linux_cuda; --complete also flags table variants the source lacks.
"""

from __future__ import annotations

import re
import sys

from _common import finish, load, mm, parser

WHEEL = re.compile(r"torch(?:==|-)(\d+\.\d+\.\d+)(?:\+|%2B)(cu\d+|rocm\d[\d.]*\d|cpu|xpu)\b")
LISTING = re.compile(r"from versions: ([^)]*)\)")
BARE = re.compile(r"(?<![\w.])([1-9]\d*\.\d+\.\d+)\+(cu\d+|rocm\d[\d.]*\d|cpu|xpu)\b")
PYPI_COMMENT = re.compile(r"#\s*CUDA (\d+\.\d+)\s*\n\s*pip3? install torch==(\d+\.\d+\.\d+) (?!.*index-url)(?!.*-f )")
PYPI_HEADER = re.compile(r"#+ Linux CUDA (\d+\.\d+)\s*\n```\s*\npip3? install torch==(\d+\.\d+\.\d+)")


def read(text: str) -> dict[str, dict[str, object]]:
    """{"1.10": {"variants": [...], "pypi_linux_cuda": "10.2" or None}} for every release the text names."""
    out: dict[str, dict[str, object]] = {}

    def entry(version: str) -> dict[str, object]:
        major, minor = mm(version) or (0, 0)
        return out.setdefault(f"{major}.{minor}", {"variants": [], "pypi_linux_cuda": None})

    # pip's listing names bare versions; torchvision's 0.x listings are left out by the major >= 1
    bare = [pair for listing in LISTING.findall(text) for pair in BARE.findall(listing)]
    for version, variant in WHEEL.findall(text) + bare:
        variants = entry(version)["variants"]
        assert isinstance(variants, list)
        if variant not in variants:
            variants.append(variant)
    for pattern in (PYPI_COMMENT, PYPI_HEADER):
        for cuda, version in pattern.findall(text):
            entry(version)["pypi_linux_cuda"] = cuda
    for row in out.values():
        row["variants"] = sorted(row["variants"])  # type: ignore[type-var]
    return out


def compare(found: dict[str, dict[str, object]], rows: list[dict[str, object]], complete: bool) -> list[str]:
    by_release = {mm(str(r["torch"])): r for r in rows}
    problems = []
    for release, got in sorted(found.items(), key=lambda kv: mm(kv[0]) or (0, 0)):
        row = by_release.get(mm(release))
        if row is None:
            problems.append(f"{release}: in the source, not in the table")
            continue
        have = {str(v["name"]) for v in row["variants"]}  # type: ignore[attr-defined]
        listed = set(got["variants"])  # type: ignore[call-overload]
        problems += [f"{release}: {v} is in the source, not in the table" for v in sorted(listed - have)]
        if complete:
            problems += [f"{release}: {v} is in the table, not in the source" for v in sorted(have - listed - {"cpu"})]
        if got["pypi_linux_cuda"] and got["pypi_linux_cuda"] != row.get("pypi_linux_cuda"):
            problems.append(f"{release}: PyPI wheel CUDA {got['pypi_linux_cuda']} in the source, "
                            f"{row.get('pypi_linux_cuda')} in the table")
    return problems


def main() -> int:
    p = parser(__doc__ or "", "torch_variants")
    p.add_argument("--complete", action="store_true", help="the source is the whole index: flag table variants it lacks")
    args = p.parse_args()
    found = read(args.source.read_text(encoding="utf-8", errors="replace"))
    problems = compare(found, load(args.table), args.complete) if args.check else []
    return finish(found, problems, args.check)


if __name__ == "__main__":
    sys.exit(main())
