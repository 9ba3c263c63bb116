"""Random and malformed snapshots: `diagnose` never raises and no rule crashes."""

from __future__ import annotations

import copy
import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dldoctor.check import diagnose
from dldoctor.snapshot import take_snapshot
from tests.simulate import load_machine, scenario_names

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["", "12.6", "580.95.05", "sm_90", "cpu", "cuda", "9.0",
                                                           "-1", "GPU-", "x.y.z", "rocm7.2", "gfx1100"]))
json_trees = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                          st.dictionaries(st.text(max_size=10), kids, max_size=4)),
                          max_leaves=20)


@cache
def _scenario_json(name: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return json.dumps(take_snapshot(load_machine(name, Path(tmp))))


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out += _paths(value, (*prefix, i))
    return out


def _assert_survives(snapshot: Any) -> None:
    report = diagnose(snapshot)
    crashed = [f"{f.title}: {f.detail}" for f in report.findings if f.id == "internal.rule-crashed"]
    assert not crashed, crashed
    json.dumps(report.to_json(), default=str)


@SETTINGS
@given(json_trees)
def test_random_trees(tree: Any) -> None:
    _assert_survives(tree)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["host", "nvidia", "amd", "cuda_toolkits", "environment", "docker", "frameworks",
                                        "probe_failures"]), json_trees, max_size=8))
def test_random_sections(doc: dict[str, Any]) -> None:
    _assert_survives(doc)


@SETTINGS
@given(st.sampled_from(scenario_names()), st.data())
def test_scenario_with_garbage_subtrees(name: str, data: st.DataObject) -> None:
    snapshot = json.loads(_scenario_json(name))
    paths = [p for p in _paths(snapshot) if p]
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths))
        node = snapshot
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = data.draw(json_trees)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    _assert_survives(copy.deepcopy(snapshot))
