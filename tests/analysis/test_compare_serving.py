"""`compare` on server rows: the number is 1000 / the peak rate, so a lower peak is "slower"."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.analysis.compare import compare_runs
from harness.protocol import ProcessResult
from harness.results.case_result import CaseResult
from harness.results.store import MANIFEST, write_records

IDENTITY = {"case_id": "transformer-small-cpu-eager-infer-server-bs32", "suite": "transformer",
            "size": "small", "backend": "cpu-eager", "phase": "infer", "scenario": "server",
            "batch_size": 32, "device": "cpu", "status": "ok"}


def _server_run(folder: Path, run_id: str, peaks: list[float]) -> Path:
    run_dir = folder / run_id
    run_dir.mkdir(parents=True)
    (run_dir / MANIFEST).write_text(json.dumps({"run_id": run_id, "config": {}}))
    processes = [ProcessResult(i, "ok", "", 1.0, {"peak_qps": peak, "slo_ms": 25.0},
                               {"iter_ms": [1e3 / peak], "request_ms": [3.0, 4.0, 20.0]})
                 for i, peak in enumerate(peaks)]
    write_records(run_dir, [CaseResult({**IDENTITY, "run_id": run_id}, len(peaks),
                                       processes).to_json()])
    return run_dir


def test_a_lower_peak_load_is_a_slowdown_and_the_same_peak_is_not(tmp_path: Path) -> None:
    base = _server_run(tmp_path, "base", [5000.0, 5200.0, 4900.0, 5100.0, 5050.0])
    same = _server_run(tmp_path, "same", [5100.0, 4950.0, 5150.0, 5000.0, 5050.0])
    lower = _server_run(tmp_path, "lower", [3800.0, 3900.0, 3700.0, 3850.0, 3750.0])
    assert not compare_runs(base, same).has_regression
    comparison = compare_runs(base, lower)
    (verdict,) = comparison.table["verdict"].dropna()
    assert verdict == "slower" and comparison.has_regression


def test_a_peak_row_is_shown_as_its_peak_rate_and_its_verdict_says_so(tmp_path: Path) -> None:
    base = _server_run(tmp_path, "base", [5000.0, 5200.0, 4900.0, 5100.0, 5050.0])
    lower = _server_run(tmp_path, "lower", [3800.0, 3900.0, 3700.0, 3850.0, 3750.0])
    comparison = compare_runs(base, lower)
    assert comparison.table["peak_load"].tolist() == [True]
    text = comparison.format_text()
    assert "slower: lower peak" in text
    # the process medians' centre, as a rate: about 5050 and 3800 queries a second
    (line,) = [line for line in text.splitlines() if "q/s" in line]
    base_qps, new_qps = map(float, re.findall(r"([\d.]+) q/s", line))
    assert 4900 <= base_qps <= 5200 and 3700 <= new_qps <= 3900, line
