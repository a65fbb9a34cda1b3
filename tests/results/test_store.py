"""The results table: schema and types, per-case storage, loading back, and bad files."""

from __future__ import annotations

import errno
import json
import math
import os
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from harness.errors import UsageError
from harness.results.schema import COLUMNS, SCHEMA, STATUSES, to_frame
from harness.results.storage import StorageError
from harness.results.store import (
    CASES_DIR,
    MANIFEST,
    SAMPLES,
    TABLE,
    UnreadableCaseWarning,
    case_path,
    case_records,
    finished_case_ids,
    load_manifest,
    load_results,
    load_samples,
    resolve_run,
    save_case,
    save_record,
    write_json_atomic,
)

OK_ROW = {
    "run_id": "r1", "case_id": "cnn-tiny-cpu-eager-infer-throughput-bs32", "suite": "cnn",
    "size": "tiny", "backend": "cpu-eager", "device": "cpu", "precision": "fp32",
    "phase": "infer", "scenario": "throughput", "batch_size": 32, "params": 1451,
    "flops_per_sample": 15420.0, "status": "ok", "reason": "",
    "n": 3, "median_ms": 1.5, "ci_low_ms": math.nan, "ci_high_ms": math.nan, "noisy": False,
    "parity_ok": True, "accuracy": 0.9, "timestamp": "2025-01-01T00:00:00+00:00",
}
SKIPPED_ROW = {
    "run_id": "r1", "case_id": "cnn-tiny-cuda-eager-infer-throughput-bs32", "suite": "cnn",
    "size": "tiny", "backend": "cuda-eager", "device": "cuda", "precision": "fp32",
    "phase": "infer", "scenario": "throughput", "batch_size": 32, "status": "skipped",
    "reason": "no CUDA device",
}
OK_SAMPLES = {"iter_ms": [1.25, 1.5, 1.75]}


def make_run(results_dir: Path, run_id: str = "r1") -> Path:
    run_dir = results_dir / run_id
    write_json_atomic(run_dir / MANIFEST, {"run_id": run_id, "config": {}})
    return run_dir


def test_schema_documents_every_column() -> None:
    assert list(SCHEMA) == COLUMNS and len(set(COLUMNS)) == len(COLUMNS)
    assert all(isinstance(text, str) and text for text in SCHEMA.values())
    # oom: a batch that did not fit (the batch-sweep scenario's limit), documented in SCHEMA
    assert set(STATUSES) == {"ok", "error", "timeout", "crashed", "skipped", "oom"}
    assert all(status in SCHEMA["status"] for status in STATUSES)


def test_to_frame_has_every_column_in_order_with_its_type() -> None:
    frame = to_frame([OK_ROW, SKIPPED_ROW])
    assert list(frame.columns) == COLUMNS and len(frame) == 2
    assert frame["batch_size"].dtype == "Int64" and frame["n"].dtype == "Int64"
    assert frame["median_ms"].dtype == "float64" and frame["flops_per_sample"].dtype == "float64"
    assert frame["noisy"].dtype == "boolean" and frame["parity_ok"].dtype == "boolean"
    assert frame["status"].dtype == "string" and frame["suite"].dtype == "string"
    assert frame["scenario"].tolist() == ["throughput"] * 2
    # a row from before scenarios existed has none: NA, not a guessed one
    assert pd.isna(to_frame([{k: v for k, v in OK_ROW.items() if k != "scenario"}])
                   .at[0, "scenario"])


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


def test_a_row_from_before_the_deployment_columns_reads_under_their_names() -> None:
    """ORT's `session_s` and `onnx_file_mb` became every deployment backend's `load_s` and
    `artifact_bytes`: an old run keeps its numbers."""
    frame = to_frame([{**OK_ROW, "session_s": 0.25, "onnx_file_mb": 0.5}])
    assert frame.loc[0, "load_s"] == 0.25 and frame.loc[0, "artifact_bytes"] == 2**19


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
    assert list(samples.columns) == ["run_id", "case_id", "metric", "process", "idx", "value"]
    iters = samples[samples["metric"] == "iter_ms"]
    assert iters["idx"].tolist() == [0, 1, 2]
    assert iters["process"].tolist() == [0, 0, 0]  # a case measured once is process 0
    assert iters["value"].tolist() == OK_SAMPLES["iter_ms"]
    assert samples[samples["metric"] == "train_loss"]["value"].tolist() == [2.0, 1.0]
    assert set(samples["case_id"]) == {OK_ROW["case_id"]}


def test_samples_keep_the_process_that_timed_them(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    save_record(run_dir, {"row": OK_ROW, "samples": {"iter_ms": [[1.0, 2.0], [3.0]]},
                          "planned": 2, "processes": [
                              {"process": 0, "status": "ok", "row": {"median_ms": 1.5}},
                              {"process": 1, "status": "ok", "row": {"median_ms": 3.0}}]})
    iters = load_samples(run_dir)
    assert iters[["process", "idx", "value"]].values.tolist() == [[0, 0, 1.0], [0, 1, 2.0],
                                                                 [1, 0, 3.0]]
    assert finished_case_ids(run_dir) == {OK_ROW["case_id"]}


def test_recording_a_process_writes_its_case_file_only_and_a_load_derives_the_tables(
        results_dir: Path) -> None:
    """A sweep records every process; rewriting three tables of every case each time made the
    driver's cost grow with the sweep. The case file is the record; a load rebuilds."""
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    table = run_dir / "results.parquet"
    written = table.stat().st_mtime_ns
    save_record(run_dir, {"row": SKIPPED_ROW, "samples": {}})
    assert table.stat().st_mtime_ns == written
    assert set(load_results(run_dir)["case_id"]) == {OK_ROW["case_id"], SKIPPED_ROW["case_id"]}
    assert table.stat().st_mtime_ns != written


def test_a_case_with_processes_still_to_run_is_not_finished(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    save_record(run_dir, {"row": OK_ROW, "samples": {"iter_ms": [[1.0]]}, "planned": 3,
                          "processes": [{"process": 0, "status": "ok", "row": {}}]})
    assert finished_case_ids(run_dir) == set()
    assert set(case_records(run_dir)) == {OK_ROW["case_id"]}


@pytest.mark.parametrize("processes", [
    [{"process": 0, "status": "ok", "row": {"made_up": 1}}],  # a column outside the schema
    [{"process": "0", "status": "ok", "row": {}}],
    "not a list"])
def test_a_case_file_with_malformed_processes_is_unreadable(results_dir: Path,
                                                            processes: object) -> None:
    run_dir = make_run(results_dir)
    save_record(run_dir, {"row": OK_ROW, "samples": {}, "processes": processes})
    with pytest.warns(UserWarning, match="unreadable"):
        assert finished_case_ids(run_dir) == set()


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


def test_a_deleted_case_file_leaves_both_tables(results_dir: Path) -> None:
    """The README's way to have --resume re-run a case: deleting its file. Deleting makes
    nothing newer, so a table judged by modification time alone kept the case."""
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    save_case(run_dir, SKIPPED_ROW, {})
    assert len(load_results(run_dir)) == 2 and len(load_samples(run_dir)) == 3
    (run_dir / CASES_DIR / f"{OK_ROW['case_id']}.json").unlink()
    assert load_results(run_dir)["case_id"].tolist() == [SKIPPED_ROW["case_id"]]
    assert load_samples(run_dir).empty
    (run_dir / CASES_DIR / f"{SKIPPED_ROW['case_id']}.json").unlink()
    assert load_results(run_dir).empty


def test_a_case_file_rewritten_in_the_same_second_is_seen(results_dir: Path) -> None:
    """Size and nanosecond mtime, not whole seconds: a quick re-run is not missed."""
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    path = run_dir / CASES_DIR / f"{OK_ROW['case_id']}.json"
    stamp = path.stat()
    write_json_atomic(path, {"row": {**OK_ROW, "median_ms": 2.5}, "samples": OK_SAMPLES})
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1))
    assert load_results(run_dir)["median_ms"].tolist() == [2.5]


@pytest.mark.parametrize("name", [TABLE, SAMPLES])
@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_an_unreadable_table_is_rebuilt_from_the_case_files(results_dir: Path, name: str,
                                                            damage: str) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    table = run_dir / name
    table.write_bytes(table.read_bytes()[:40] if damage == "truncated" else b"")
    assert load_results(run_dir)["case_id"].tolist() == [OK_ROW["case_id"]]
    assert load_samples(run_dir)["value"].tolist() == OK_SAMPLES["iter_ms"]
    pd.read_parquet(table)  # and it is whole again on disk


def test_a_table_without_case_files_is_read_as_it_is(results_dir: Path) -> None:
    """Tables written by other tools (no cases/ folder, no record of their source) stand alone."""
    run_dir = make_run(results_dir)
    to_frame([OK_ROW]).to_parquet(run_dir / TABLE, index=False)
    assert load_results(run_dir)["case_id"].tolist() == [OK_ROW["case_id"]]
    (run_dir / TABLE).write_bytes(b"PAR1 not really")
    with pytest.raises(UsageError, match="malformed table .*results.parquet"):
        load_results(run_dir)


def fail_parquet_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk as pyarrow meets it: half a file written, then ENOSPC."""
    def write_table(table, where, *args, **kwargs):
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pq, "write_table", write_table)


def test_a_full_disk_while_writing_the_tables_keeps_everything_readable(
        results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    with monkeypatch.context() as patch:
        fail_parquet_writes(patch)
        with pytest.raises(StorageError, match=f"cannot write .*{TABLE}: No space left"):
            save_case(run_dir, SKIPPED_ROW, {})
    after = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    late = run_dir / CASES_DIR / f"{SKIPPED_ROW['case_id']}.json"
    assert after == {**before, late: after[late]}  # the tables as they were; no temporaries
    assert len(pd.read_parquet(run_dir / TABLE)) == 1  # still whole
    assert len(load_results(run_dir)) == 2  # once there is space: the new case is in


def test_a_full_disk_while_writing_a_case_file_leaves_no_half_file(
        results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    real_write_text = Path.write_text

    def write_text(self: Path, text: str, *args, **kwargs) -> int:
        real_write_text(self, text[:10], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(StorageError, match=f"cannot write .*{SKIPPED_ROW['case_id']}.json: No "):
        save_case(run_dir, SKIPPED_ROW, {})
    monkeypatch.undo()
    assert sorted(p.name for p in (run_dir / CASES_DIR).iterdir()) == [f"{OK_ROW['case_id']}.json"]
    assert finished_case_ids(run_dir) == {OK_ROW["case_id"]}


@pytest.mark.parametrize("content", [
    '{"row": {"case_id": "x"', "not json at all", '{"samples": {}}', "[1, 2, 3]", "",
    '{"row": {"case_id": "broken-case", "median_msec": 1}, "samples": {}}',
    '{"row": {"case_id": "another-case"}, "samples": {}}',
    '{"row": {"case_id": "broken-case"}, "samples": {"iter_ms": ["fast"]}}',
    b"\xff\xfe",
], ids=["truncated", "not-json", "no-row", "not-an-object", "empty", "unknown-column",
        "other-case-id", "bad-sample", "not-utf8"])
def test_an_unreadable_case_file_is_left_out_with_a_warning(results_dir: Path,
                                                            content: str | bytes) -> None:
    run_dir = make_run(results_dir)
    save_case(run_dir, OK_ROW, OK_SAMPLES)
    bad = run_dir / CASES_DIR / "broken-case.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    for _ in range(2):  # rebuilt, then read in sync: the warning comes with every load
        with pytest.warns(UnreadableCaseWarning, match="broken-case.json") as caught:
            frame = load_results(run_dir)
        assert len(caught) == 1 and "--resume r1" in str(caught[0].message)
        assert frame["case_id"].tolist() == [OK_ROW["case_id"]]
    with pytest.warns(UnreadableCaseWarning, match="broken-case.json"):
        assert finished_case_ids(run_dir) == {OK_ROW["case_id"]}  # resume runs it again


def test_malformed_manifest_is_a_usage_error(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    (run_dir / MANIFEST).write_text("{ not json")
    with pytest.raises(UsageError, match="malformed run manifest"):
        load_manifest(run_dir)
    with pytest.raises(UsageError, match="malformed run manifest"):
        resolve_run(run_dir)  # a folder with a broken manifest is not a run to show


@pytest.mark.parametrize("case_id", [
    "../escape", "a/b", "a\\b", "..", ".", ".hidden", "nul\0byte", "", "/abs"])
@pytest.mark.parametrize("suffix", [".json", ".log"])
def test_a_case_id_that_is_not_a_plain_file_name_is_refused(results_dir: Path, case_id: str,
                                                           suffix: str) -> None:
    with pytest.raises(UsageError, match=re.escape(repr(case_id))):
        case_path(results_dir / "r1" / CASES_DIR, case_id, suffix)


def test_save_case_refuses_a_case_id_that_would_leave_the_run(results_dir: Path) -> None:
    run_dir = make_run(results_dir)
    with pytest.raises(UsageError, match="'../../outside'"):
        save_case(run_dir, {**OK_ROW, "case_id": "../../outside"}, {})
    assert not (results_dir.parent / "outside.json").exists()
    assert not (run_dir / CASES_DIR).exists()


def test_a_plain_case_id_maps_into_the_folder(results_dir: Path) -> None:
    folder = results_dir / "r1" / CASES_DIR
    assert case_path(folder, "cnn-tiny-cpu-eager-infer-throughput-bs32", ".json") == \
        folder / "cnn-tiny-cpu-eager-infer-throughput-bs32.json"


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
