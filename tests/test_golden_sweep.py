"""The golden sweep (`tests.golden_sweep`) gives the cases, statuses, filled columns, stable
values, sample metrics and files that the code before the restructuring gave."""

from __future__ import annotations

import json

import pytest

from harness.results.schema import COLUMNS
from tests.golden_sweep import FIXTURE, describe, run_golden_sweep


@pytest.mark.slow
def test_the_golden_sweep_gives_what_it_gave_before_the_restructuring(tmp_path):
    expected = json.loads(FIXTURE.read_text())
    got = describe(run_golden_sweep(tmp_path / "results"))
    assert got["columns"] == expected["columns"] and set(COLUMNS) <= set(got["columns"])
    assert got["files"] == expected["files"]
    assert got["cases"].keys() == expected["cases"].keys()
    for case_id, case in expected["cases"].items():
        mine = got["cases"][case_id]
        assert mine["values"] == case["values"], case_id
        assert mine["reason_start"] == case["reason_start"], case_id
        assert mine["metrics"] == case["metrics"], case_id
        missing = set(case["filled"]) - set(mine["filled"])
        assert not missing, f"{case_id} no longer fills {sorted(missing)}"
