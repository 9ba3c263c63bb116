"""Read the CUDA requirements JAX's changelog states per jaxlib release, and check jax_releases.json.

SOURCE: JAX's CHANGELOG.md (https://github.com/jax-ml/jax/blob/main/CHANGELOG.md, raw), or an excerpt with its
"## jax X" / "## jaxlib X" headers. Statements read: "The minimum CuDNN version is vX.Y", "The CUDA 12 wheels
now require CUDA X.Y or newer and cuDNN A.B.C or newer", "JAX now supports CUDA X.Y or newer only". Each is
checked against the CUDA 12 row whose jaxlib range holds the release that states it.
"""

from __future__ import annotations

import re
import sys

from _common import finish, in_range, load, parser, vt

HEADER = re.compile(r"^## (?:jax|jaxlib) (\d+\.\d+\.\d+)", re.M | re.I)
STATEMENTS = [
    (re.compile(r"minimum CuDNN version is v(\d+(?:\.\d+)+)", re.I), ("cudnn_min",)),
    (re.compile(r"CUDA 12 wheels now require CUDA (\d+\.\d+) or newer and\s+cuDNN (\d+(?:\.\d+)+) or newer"),
     ("min_cuda", "cudnn_min")),
    (re.compile(r"supports CUDA (\d+\.\d+) or newer only"), ("min_cuda",)),
]


def read(text: str) -> list[dict[str, str]]:
    heads = [(m.start(), m.group(1)) for m in HEADER.finditer(text)]
    out = []
    for pattern, fields in STATEMENTS:
        for match in pattern.finditer(text):
            release = next((v for pos, v in reversed(heads) if pos < match.start()), None)
            if release:
                out += [{"jaxlib": release, "field": f, "value": val} for f, val in zip(fields, match.groups(), strict=True)]
    return sorted(out, key=lambda s: vt(s["jaxlib"]))


def compare(found: list[dict[str, str]], rows: list[dict[str, object]]) -> list[str]:
    problems = []
    for got in found:
        version = vt(got["jaxlib"])
        row = next((r for r in rows
                    if r["cuda_major"] == 12 and in_range(version, r["jaxlib_min"], r["jaxlib_max"], vt)), None)  # type: ignore[arg-type]
        if row is None:
            problems.append(f"jaxlib {got['jaxlib']}: no CUDA 12 row")
        elif str(row.get(got["field"])) != got["value"]:
            problems.append(f"jaxlib {got['jaxlib']}: {got['field']} {got['value']} in the changelog, "
                            f"{row.get(got['field'])} in the table")
    return problems


def main() -> int:
    args = parser(__doc__ or "", "jax_releases").parse_args()
    found = read(args.source.read_text(encoding="utf-8", errors="replace"))
    problems = compare(found, load(args.table)) if args.check else []
    return finish(found, problems, args.check)


if __name__ == "__main__":
    sys.exit(main())
