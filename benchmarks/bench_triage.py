"""Time `dldoctor triage` on a 1 MB issue body (issue 15: target < 200 ms).

The body is built from the real pasted outputs in tests/triage/ (collect_env,
nvidia-smi, error messages), wrapped in markdown the way issue bodies are,
repeated to 1 MB with a traceback-like filler between them. The figure is the
in-process time of `dldoctor.triage.triage` (parse, evidence, snapshot, rules,
chooser) and of rendering it, the median of --runs runs after one warm-up.

    python benchmarks/bench_triage.py [--runs 11] [--size-mb 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from dldoctor.triage import triage
from dldoctor.triage.render import render_markdown

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "triage"

FILLER = """\
Traceback (most recent call last):
  File "/home/user/app/main.py", line 42, in <module>
    model = load_model(args.checkpoint).cuda()
  File "/home/user/venv/lib/python3.11/site-packages/torch/nn/modules/module.py", line 915, in cuda
    return self._apply(lambda t: t.cuda(device))
I have tried reinstalling everything, any help is appreciated. | a | b |
|---|---|
| 1 | 2 |
"""


def issue_body(size: int) -> str:
    """A markdown issue body of about `size` characters made of the real fixtures."""
    parts = []
    for path in sorted(FIXTURES.glob("*.txt")):
        parts.append(f"### {path.stem}\n\n<details><summary>output</summary>\n\n```text\n"
                     f"{path.read_text(encoding='utf-8')}\n```\n</details>\n\n{FILLER}")
    unit = "\n".join(parts)
    return (unit * (size // len(unit) + 1))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--size-mb", type=float, default=1.0)
    args = parser.parse_args()
    body = issue_body(int(args.size_mb * 1024 * 1024))
    render_markdown(triage(body))  # warm-up: rules and knowledge loaded once
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = triage(body)
        render_markdown(result)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(f"body: {len(body) / 1024 / 1024:.2f} MB, {body.count(chr(10)) + 1} lines, {len(result.parsed.facts)} facts, "
          f"{len(result.evidence)} evidence lines")
    print(f"triage + render: p50 {statistics.median(times):.0f} ms, min {times[0]:.0f} ms, max {times[-1]:.0f} ms "
          f"({args.runs} runs; target < 200 ms)")


if __name__ == "__main__":
    main()
