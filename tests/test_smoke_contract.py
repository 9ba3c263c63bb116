"""The `dldoctor.smoke/1` JSON contract: the keys other tools may rely on.

Adding a key is fine; renaming or removing one needs a new schema version.
The result pinned here is a real run of the payload on the CPU build of torch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dldoctor.smoke import RESULT_KEYS, SCHEMA, SmokeOptions, SmokeTarget, run_smoke
from tests.torch_env import torch_python_or_skip

DEVICE_KEYS = {"index", "kind", "name", "tests", "compile", "lost", "speed", "peaks_known"}
TEST_KEYS = {"test", "dtype", "mode", "status"}
JUDGED_TEST_KEYS = TEST_KEYS | {"threshold", "elements", "written_check", "rel_error"}
FINDING_KEYS = {"severity", "code", "device", "message", "fix"}
DISCOVERY_KEYS = {"source", "driver_count", "expected_count", "framework_count", "ok",
                  "visible_devices_var", "visible_devices", "expected_from_host"}
STATUSES = {"pass", "fail", "error", "compile_error", "skip"}


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    options = SmokeOptions(framework="torch", quick=True, allow_cpu=True, compile=False, timeout_s=120)
    return run_smoke(SmokeTarget("python", str(torch_python_or_skip())), options)


def test_schema_and_top_level_keys(result: dict[str, Any]) -> None:
    assert result["schema"] == SCHEMA == "dldoctor.smoke/1"
    assert set(result) == set(RESULT_KEYS)
    assert set(result["target"]) == {"kind", "value", "argv"}
    assert result["verdict"] in ("pass", "fail", "no-accelerator")
    assert isinstance(result["exit_code"], int)


def test_device_test_and_finding_keys(result: dict[str, Any]) -> None:
    assert DISCOVERY_KEYS <= set(result["discovery"])
    for device in result["devices"]:
        assert DEVICE_KEYS <= set(device)
        for case in device["tests"]:
            assert case["status"] in STATUSES
            assert TEST_KEYS <= set(case)
            if case["status"] == "pass":
                assert JUDGED_TEST_KEYS <= set(case)
        for entry in device["speed"]:
            assert {"test", "seconds", "timer"} <= set(entry)
    for finding in result["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["severity"] in ("error", "warning", "info")


def test_result_is_strict_json(result: dict[str, Any]) -> None:
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
