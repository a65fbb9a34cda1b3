"""The results table: schema and types, per-case storage, loading back, and bad files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import UsageError
from harness.results import (
    CASES_DIR,
    MANIFEST,
    SAMPLES,
    TABLE,
    finished_case_ids,
    load_manifest,
    load_results,
    load_samples,
    resolve_run,
    save_case,
    write_json_atomic,
)
from harness.schema import COLUMNS, SCHEMA, STATUSES, to_frame

OK_ROW = {
    "run_id": "r1", "case_id": "cnn-tiny-cpu-eager-infer-bs32", "suite": "cnn", "size": "tiny",
    "backend": "cpu-eager", "device": "cpu", "precision": "fp32", "phase": "infer",
    "batch_size": 32, "params": 1451, "flops_per_sample": 15420.0, "status": "ok", "reason": "",
    "n": 3, "median_ms": 1.5, "ci99_low_ms": math.nan, "ci99_high_ms": math.nan, "noisy": False,
    "parity_ok": True, "accuracy": 0.9, "timestamp": "2025-01-01T00:00:00+00:00",
}
SKIPPED_ROW = {
    "run_id": "r1", "case_id": "cnn-tiny-cuda-eager-infer-bs32", "suite": "cnn", "size": "tiny",
    "backend": "cuda-eager", "device": "cuda", "precision": "fp32", "phase": "infer",
    "batch_size": 32, "status": "skipped", "reason": "no CUDA device",
}
OK_SAMPLES = {"iter_ms": [1.25, 1.5, 1.75]}


def make_run(results_dir: Path, run_id: str = "r1") -> Path:
    run_dir = results_dir / run_id
    write_json_atomic(run_dir / MANIFEST, {"run_id": run_id, "config": {}})
    return run_dir


def test_schema_documents_every_column() -> None:
    assert list(SCHEMA) == COLUMNS and len(set(COLUMNS)) == len(COLUMNS)
    assert all(isinstance(text, str) and text for text in SCHEMA.values())
    assert set(STATUSES) == {"ok", "error", "timeout", "crashed", "skipped"}


def test_to_frame_has_every_column_in_order_with_its_type() -> None:
    frame = to_frame([OK_ROW, SKIPPED_ROW])
    assert list(frame.columns) == COLUMNS and len(frame) == 2
    assert frame["batch_size"].dtype == "Int64" and frame["n"].dtype == "Int64"
    assert frame["median_ms"].dtype == "float64" and frame["flops_per_sample"].dtype == "float64"
    assert frame["noisy"].dtype == "boolean" and frame["parity_ok"].dtype == "boolean"
    assert frame["status"].dtype == "string" and frame["suite"].dtype == "string"


def test_missing_values_are_na_not_zero() -> None:
    frame = to_frame([SKIPPED_ROW])
    skipped = frame.iloc[0]
    assert pd.isna(skipped["median_ms"]) and pd.isna(skipped["n"])
    assert pd.isna(skipped["noisy"]) and pd.isna(skipped["hostname"])
    assert skipped["reason"] == "no CUDA device"


def test_empty_table_still_has_the_schema() -> None:
    frame = to_frame([])
    assert list(frame.columns) == COLUMNS and frame.empty


def test_unknown_columns_are_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="median_msec"):
        to_frame([{**OK_ROW, "median_msec": 1.0}])


def test_save_case_and_load_results_round_trip(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    save_case(run_dir, SKIPPED_ROW, {})
    assert (run_dir / TABLE).is_file() and (run_dir / SAMPLES).is_file()
    assert finished_case_ids(run_dir) == {OK_ROW["case_id"], SKIPPED_ROW["case_id"]}

    frame = load_results(run_dir)
    pd.testing.assert_frame_equal(frame, to_frame([OK_ROW, SKIPPED_ROW]))  # sorted by case id


def test_load_samples_is_long_format_in_iteration_order(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, {**OK_SAMPLES, "train_loss": [2.0, 1.0]})
    samples = load_samples(run_dir)
    assert list(samples.columns) == ["run_id", "case_id", "metric", "idx", "value"]
    iters = samples[samples["metric"] == "iter_ms"]
    assert iters["idx"].tolist() == [0, 1, 2]
    assert iters["value"].tolist() == OK_SAMPLES["iter_ms"]
    assert samples[samples["metric"] == "train_loss"]["value"].tolist() == [2.0, 1.0]
    assert set(samples["case_id"]) == {OK_ROW["case_id"]}


def test_case_file_holds_row_and_samples_and_no_temporary_is_left(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    files = sorted(p.name for p in (run_dir / CASES_DIR).iterdir())
    assert files == [f"{OK_ROW['case_id']}.json"]
    record = json.loads((run_dir / CASES_DIR / files[0]).read_text())
    assert record["row"]["median_ms"] == 1.5 and record["samples"] == OK_SAMPLES


def test_stale_table_is_rebuilt_from_case_files(results_dir: Path) -> None:
    """The case files are the record: a case written after the table still shows up."""
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    late = run_dir / CASES_DIR / f"{SKIPPED_ROW['case_id']}.json"
    write_json_atomic(late, {"row": SKIPPED_ROW, "samples": {}})
    table_mtime = (run_dir / TABLE).stat().st_mtime
    os.utime(late, (table_mtime + 10, table_mtime + 10))
    assert set(load_results(run_dir)["status"]) == {"ok", "skipped"}


@pytest.mark.parametrize("content", [
    '{"row": {"case_id": "x"', "not json at all", '{"samples": {}}', "[1, 2, 3]",
], ids=["truncated", "not-json", "no-row", "not-an-object"])
def test_malformed_case_file_is_a_usage_error(results_dir: Path, content: str) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    bad = run_dir / CASES_DIR / "broken-case.json"
    bad.write_text(content)
    with pytest.raises(UsageError, match="broken-case.json"):
        load_results(run_dir)


def test_malformed_manifest_is_a_usage_error(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    (run_dir / MANIFEST).write_text("{ not json")
    with pytest.raises(UsageError, match="malformed run manifest"):
        load_manifest(run_dir)


def test_resolve_run_accepts_a_folder_a_table_path_or_a_bare_id(results_dir: Path,
                                                                  monkeypatch) -> None:
    run_dir = make_run(results_dir, "20250101-000000")
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    assert resolve_run(run_dir, results_dir) == run_dir
    assert resolve_run(run_dir / TABLE, results_dir) == run_dir
    assert resolve_run("20250101-000000", results_dir) == run_dir
    assert len(load_results("20250101-000000", results_dir)) == 1
    monkeypatch.chdir(results_dir.parent)  # the default results folder is ./results
    assert resolve_run("20250101-000000").resolve() == run_dir.resolve()


def test_unknown_run_names_the_recent_runs(results_dir: Path) -> None:
    for i in range(7):
        make_run(results_dir, f"2025010{i}-000000")
    (results_dir / "not-a-run").mkdir()
    with pytest.raises(UsageError) as info:
        resolve_run("no-such-run", results_dir)
    message = str(info.value)
    assert "no archbench run at 'no-such-run'" in message
    assert all(f"2025010{i}-000000" in message for i in range(2, 7))  # the five latest
    assert "20250100-000000" not in message and "not-a-run" not in message


def test_unknown_run_with_no_runs_at_all(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="none"):
        resolve_run("x", tmp_path / "empty")
