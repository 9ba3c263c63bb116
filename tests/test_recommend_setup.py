"""Every `dldoctor setup` command that `check` recommends is one `setup` accepts for that machine."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dldoctor.check import diagnose
from dldoctor.setup.plan import SetupRequest, make_plan
from dldoctor.snapshot import take_snapshot
from dldoctor.snapshot.facts import Facts
from tests.simulate import load_machine, scenario_names


def _request(command: str) -> SetupRequest:
    words = shlex.split(command)
    assert words[:2] == ["dldoctor", "setup"], command
    framework, options = words[2], words[3:]
    values = dict(zip(options[::2], options[1::2], strict=True))
    # the backend `usable_backend` picks here, and the sources it needs (pip's configured find-links)
    assert set(values) <= {"--variant", "--backend", "--find-links", "--extra-index-url"}, command
    return SetupRequest(framework=framework, variant=values.get("--variant", "auto"),
                        backend=values.get("--backend", "conda"),
                        find_links=tuple(v for k, v in zip(options[::2], options[1::2], strict=True)
                                         if k == "--find-links"))


@pytest.mark.parametrize("name", scenario_names())
def test_recommended_setup_commands_plan_cleanly(name: str, tmp_path: Path) -> None:
    snapshot = take_snapshot(load_machine(name, tmp_path))
    report = diagnose(snapshot)
    assert report.recommendations, name
    for rec in report.recommendations:
        plan = make_plan(Facts(snapshot), _request(rec.setup))  # raises UsageError when setup would refuse it
        assert plan.framework == rec.framework
        assert plan.kind == ("cuda" if rec.variant.startswith(("cu", "cuda")) else
                             "rocm" if rec.variant.startswith("rocm") else "cpu"), (rec.setup, plan.variant)
