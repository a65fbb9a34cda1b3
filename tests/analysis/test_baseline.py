"""Which run the CI gate compares against: same machine kind, >= 2 processes, not failed,
newest; a named one is checked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from harness.analysis.baseline import FAILED, PASSED, find_baseline, named_baseline
from harness.errors import UsageError
from harness.machine.fingerprint import fingerprint_id

MINE = {"cpu_model": "Test CPU", "torch_version": "2.13.0"}
OTHER = {"cpu_model": "Other CPU", "torch_version": "2.13.0"}


def ci_run(results: Path, run_id: str, finished: str, verdict: str = PASSED,
           fingerprint: dict[str, str] = MINE, processes: int = 5) -> Path:
    run_dir = results / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({
        "run_id": run_id, "config": {}, "processes": processes,
        "ci": {"fingerprint": fingerprint, "fingerprint_id": fingerprint_id(fingerprint),
               "verdict": verdict, "finished": finished, "commit": "abc123", "branch": "main"}}))
    return run_dir


def test_newest_passing_run_of_this_kind_is_the_baseline(tmp_path):
    ci_run(tmp_path, "a", "2026-12-01T10:00:00+00:00")
    ci_run(tmp_path, "b", "2026-12-02T10:00:00+00:00")
    ci_run(tmp_path, "c-failed", "2026-12-03T10:00:00+00:00", verdict=FAILED)
    ci_run(tmp_path, "d-other", "2026-12-03T11:00:00+00:00", fingerprint=OTHER)
    ci_run(tmp_path, "e-one", "2026-12-03T12:00:00+00:00", processes=1)
    (tmp_path / "not-a-run").mkdir()
    baseline, note = find_baseline(tmp_path, MINE)
    assert baseline is not None and baseline.run_dir.name == "b"
    assert note == ("passed over 1 from another machine kind, 1 that failed their gate, "
                    "1 with one process")
    now = dt.datetime(2026, 12, 2, 12, 5, tzinfo=dt.timezone.utc)
    assert baseline.describe(now) == ("run b (commit abc123 on main, 2 h 5 min old, 5 "
                                      "processes, its gate: pass)")


def test_no_baseline_and_the_run_itself_is_never_its_own(tmp_path):
    ci_run(tmp_path, "now", "2026-12-01T10:00:00+00:00")
    assert find_baseline(tmp_path, MINE, exclude="now") == (None, "")
    assert find_baseline(tmp_path / "missing", MINE) == (None, "")


def test_named_baseline_is_checked(tmp_path):
    ci_run(tmp_path, "other", "2026-12-01T10:00:00+00:00", fingerprint=OTHER)
    ci_run(tmp_path, "one", "2026-12-01T10:00:00+00:00", processes=1)
    ci_run(tmp_path, "good", "2026-12-01T10:00:00+00:00", verdict=FAILED)
    assert named_baseline("good", tmp_path, MINE).run_dir.name == "good"  # named: user's call
    with pytest.raises(UsageError, match="another machine kind \\(cpu_model 'Other CPU' vs "
                                         "'Test CPU'\\)"):
        named_baseline("other", tmp_path, MINE)
    with pytest.raises(UsageError, match="timed in one process"):
        named_baseline("one", tmp_path, MINE)
