"""Read compiled CUDA architectures of PyTorch wheels, and check torch_wheel_archs.json.

SOURCE is one of (saved by hand):
  * PyTorch's manywheel build script, whose TORCH_CUDA_ARCH_LIST per CUDA version is what the wheels were built
    with: pytorch/builder `manywheel/build_cuda.sh` (`manywheel/build.sh` before 1.11) on the branch
    `release/X.Y` for PyTorch X.Y, or pytorch/pytorch `.ci/manywheel/build_cuda.sh` at tag vX.Y.Z for 2.6 and
    later. Give the release with --torch; each CUDA variant of that release in torch_variants.json is checked.
  * Pasted outputs, one per line as `<torch version>+<variant>: <text>`, where the text is a
    torch.cuda.get_arch_list() result, the "NVCC architecture flags" line of torch.__config__.show(), or the
    "supports CUDA capabilities ..." warning; sm_XY entries are cubins, compute_XY entries PTX.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path

from _common import finish, in_range, load, mm, parser

CODE = re.compile(r"(?<![=_a-z])(sm|compute)_(\d+)[af]?\b|code=(sm|compute)_(\d+)")
ASSIGN = re.compile(r'TORCH_CUDA_ARCH_LIST="([^"]*)"')
ARM = re.compile(r"^\s*([0-9][0-9.\[\]*|]*)\)\s*$")


def _cc(digits: str) -> str:
    return f"{digits[:-1]}.{digits[-1]}"


def from_outputs(text: str) -> dict[str, dict[str, list[str]]]:
    """{"1.8.1+cu111": {"sm": [...], "ptx": [...]}} from pasted lines."""
    out: dict[str, dict[str, list[str]]] = {}
    for line in text.splitlines():
        head, sep, body = line.partition(": ")
        if not sep or line.lstrip().startswith("#") or "+" not in head:
            continue
        sm: set[str] = set()
        ptx: set[str] = set()
        for kind, digits, kind2, digits2 in CODE.findall(body):
            (sm if (kind or kind2) == "sm" else ptx).add(_cc(digits or digits2))
        key = lambda c: tuple(int(p) for p in c.split("."))  # noqa: E731  (a sort key, used twice)
        out[head.strip()] = {"sm": sorted(sm, key=key), "ptx": sorted(ptx, key=key)}
    return out


def _entries(arch_list: str) -> tuple[set[str], set[str]]:
    sm, ptx = set(), set()
    for item in arch_list.replace("${TORCH_CUDA_ARCH_LIST}", "").split(";"):
        item = item.strip()
        if item:
            sm.add(item.removesuffix("+PTX"))
            if item.endswith("+PTX"):
                ptx.add(item.removesuffix("+PTX"))
    return sm, ptx


def from_build_script(text: str, cudas: list[str]) -> dict[str, dict[str, list[str]]]:
    """{"11.3": {"sm": [...], "ptx": [...]}}: the base list plus the case arm each CUDA version matches (x86_64)."""
    lines = text.splitlines()
    base_sm: set[str] = set()
    base_ptx: set[str] = set()
    arms: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        arm = ARM.match(lines[i])
        if arm:
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(";;"):
                body.append(lines[i])
                i += 1
            assigns = [a for line in body for a in ASSIGN.findall(line)]
            # an aarch64-only override sits in an if; the x86_64 list is the one that extends the base
            chosen = next((a for a in assigns if "${TORCH_CUDA_ARCH_LIST}" in a), assigns[0] if assigns else "")
            arms.append((arm.group(1), chosen))
        elif not base_sm and (found := ASSIGN.search(lines[i])) and "${" not in found.group(1):
            base_sm, base_ptx = _entries(found.group(1))
        i += 1
    out = {}
    for cuda in cudas:
        for pattern, arch_list in arms:
            if any(fnmatch.fnmatchcase(cuda, p) for p in pattern.split("|")):
                sm, ptx = _entries(arch_list)
                if "${TORCH_CUDA_ARCH_LIST}" in arch_list:
                    sm, ptx = sm | base_sm, ptx | base_ptx
                key = lambda c: tuple(int(p) for p in c.split("."))  # noqa: E731  (a sort key, used twice)
                out[cuda] = {"sm": sorted(sm, key=key), "ptx": sorted(ptx, key=key)}
                break
    return out


def _row(rows: list[dict[str, object]], variant: str, release: str) -> dict[str, object] | None:
    wanted = mm(release)
    for row in rows:
        if row["variant"] == variant and wanted is not None and in_range(wanted, row.get("torch_min"), row.get("torch_max")):  # type: ignore[arg-type]
            return row
    return None


def compare(found: dict[str, dict[str, list[str]]], rows: list[dict[str, object]]) -> list[str]:
    problems = []
    for key, got in found.items():
        release, _, variant = key.partition("+")
        row = _row(rows, variant, release)
        if row is None:
            problems.append(f"{key}: no row in the table")
            continue
        for field in ("sm", "ptx"):
            have = {str(c) for c in row.get(field) or ()}  # type: ignore[attr-defined]
            if have != set(got[field]):
                problems.append(f"{key}: {field} {sorted(got[field])} in the source, {sorted(have)} in the table")
    return problems


def main() -> int:
    p = parser(__doc__ or "", "torch_wheel_archs")
    p.add_argument("--torch", help="with a build script: the PyTorch release it built (e.g. 1.12)")
    p.add_argument("--variants", type=Path, default=None, help="torch_variants.json to take the release's CUDA variants from")
    args = p.parse_args()
    text = args.source.read_text(encoding="utf-8", errors="replace")
    if "TORCH_CUDA_ARCH_LIST" in text and "case" in text:
        if not args.torch:
            p.error("a build script needs --torch")
        variants_path = args.variants or args.table.with_name("torch_variants.json")
        row = next((r for r in load(variants_path) if mm(str(r["torch"])) == mm(args.torch)), None)
        names = [str(v["name"]) for v in (row or {}).get("variants", []) if v["kind"] == "cuda"]
        by_cuda = from_build_script(text, [f"{int(n[2:-1])}.{n[-1]}" for n in names])
        found = {f"{args.torch}+cu{c.replace('.', '')}": archs for c, archs in by_cuda.items()}
    else:
        found = from_outputs(text)
    problems = compare(found, load(args.table)) if args.check else []
    return finish(found, problems, args.check)


if __name__ == "__main__":
    sys.exit(main())
