"""The committed scenario folders are exactly what tests/make_scenarios.py writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "tests" / "scenarios"


def _tree(top: Path) -> dict[str, tuple[str, bytes | str]]:
    """Relative path -> ("file", bytes) / ("link", target) / ("dir", ""), expected.json left out."""
    out: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(top))
            if name == "expected.json" and path.parent.parent == top:
                continue
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", "")
            else:
                out[rel] = ("file", path.read_bytes())
    return out


def test_committed_scenarios_match_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "scenarios"
    subprocess.run([sys.executable, "-m", "tests.make_scenarios", "--out", str(out)], cwd=REPO, check=True,
                   timeout=60)
    written, committed = _tree(out), _tree(SCENARIOS)
    assert sorted(set(written) - set(committed)) == [], "run `python3 -m tests.make_scenarios` and commit the result"
    assert sorted(set(committed) - set(written)) == [], "committed files the generator no longer writes"
    differ = sorted(rel for rel in written if written[rel] != committed[rel])
    assert differ == [], "committed scenario files differ from tests/make_scenarios.py; regenerate them"
