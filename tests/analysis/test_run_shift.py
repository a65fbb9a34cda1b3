"""The run-wide shift: the median ratio, and the warning when the whole run moved."""

from __future__ import annotations

import pandas as pd

from harness.analysis.run_shift import run_shift_line


def test_a_run_that_moved_as_a_whole_is_named_and_one_change_is_not():
    moved = pd.DataFrame({"ratio": [1.15, 1.2, 1.18, 1.3, 1.1, None]})
    line = run_shift_line(moved, 0.10)
    assert line.startswith("run shift: the median benchmark moved 1.180x over 5 compared")
    assert "(4 beyond ±10%)" in line and "the whole run moved" in line
    one_change = pd.DataFrame({"ratio": [1.0, 0.98, 1.02, 1.4, 1.01]})
    line = run_shift_line(one_change, 0.10)
    assert "1.010x" in line and "(1 beyond" in line and "warning" not in line
    assert run_shift_line(pd.DataFrame({"ratio": [1.5, 1.5]}), 0.10) == ""
