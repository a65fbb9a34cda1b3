"""`archbench import`: pytest-benchmark JSON -> an ordinary run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.results.pytest_benchmark import (
    BenchmarkProcess,
    import_benchmark_json,
    import_processes,
    merge_benchmark_json,
)
from harness.results.store import load_manifest, load_results, load_samples
from tests.test_names import HOSTILE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def benchmark_json(tmp_path_factory) -> Path:
    """A file written by pytest-benchmark itself, from archbench's benchmark suite."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "benchmarks"), "-q", "-p", "no:cacheprovider",
         "-k", "cnn-tiny-cpu-eager", "--archbench-rounds=9", "--benchmark-save-data",
         f"--benchmark-json={out}"], check=True, cwd=ROOT, capture_output=True)
    return out


def test_import_rebuilds_rows_with_identity_and_statistics(benchmark_json, tmp_path):
    run_dir = import_benchmark_json(benchmark_json, tmp_path, run_id="imported")
    table = load_results(run_dir).set_index("phase")
    assert sorted(table.index) == ["infer", "train"]
    row = table.loc["infer"]
    assert (row["suite"], row["size"], row["backend"], row["scenario"], row["batch_size"]) == (
        "cnn", "tiny", "cpu-eager", "latency", 32)
    assert row["case_id"] == "cnn-tiny-cpu-eager-infer-latency-bs32"
    assert row["status"] == "ok" and row["n"] == 9
    assert row["params"] > 0 and row["flops_per_sample"] > 0
    samples = load_samples(run_dir)
    infer = samples[(samples.case_id == row["case_id"]) & (samples.metric == "iter_ms")]
    assert len(infer) == 9
    # statistics are recomputed from the raw rounds, consistently with the file's own median
    raw = json.loads(benchmark_json.read_text())["benchmarks"]
    medians = sorted(b["stats"]["median"] * 1e3 for b in raw)
    assert sorted(load_results(run_dir)["median_ms"]) == pytest.approx(medians)
    assert row["ci_low_ms"] <= row["median_ms"] <= row["ci_high_ms"]


def test_import_via_cli_then_show(benchmark_json, tmp_path, capsys):
    assert main(["import", str(benchmark_json), "--results", str(tmp_path)]) == 0
    assert main(["show", f"pytest-benchmark-{benchmark_json.stem}", "--results",
                 str(tmp_path)]) == 0
    assert "cpu-eager" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("not json at all", "not JSON"),
    ('{"machine_info": {}}', "'benchmarks' list"),
    ('{"benchmarks": [{"name": "x"}]}', "benchmark #0"),
    # a batch size this long would make the case id too long for a file name
    ('{"benchmarks": [{"stats": {"median": 1, "rounds": 1}, "extra_info": {"batch_size": '
     + str(10**300) + "}}]}", "benchmark #0"),
])
def test_malformed_file_is_one_clear_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        import_benchmark_json(path, tmp_path)
    assert main(["import", str(path), "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("archbench: error:") and message in err[0]
    assert not (tmp_path / "pytest-benchmark-bad").exists()


def test_foreign_benchmarks_are_kept_under_their_group_and_name(tmp_path):
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps({"benchmarks": [
        {"name": "test_sort", "group": "algos",
         "stats": {"median": 0.002, "rounds": 3, "min": 0.001, "max": 0.003, "mean": 0.002,
                   "stddev": 0.001, "iqr": 0.0005, "total": 0.006}}]}))
    table = load_results(import_benchmark_json(path, tmp_path))
    assert list(table["suite"]) == ["algos"] and list(table["backend"]) == ["test_sort"]
    # pytest-benchmark times one synchronised call per round: the latency scenario
    assert list(table["scenario"]) == ["latency"] and list(table["phase"]) == ["infer"]
    assert table["median_ms"].iloc[0] == pytest.approx(2.0)
    assert table["ci_low_ms"].isna().all()  # no raw data: no interval, not a guessed one


def test_imported_run_gets_the_html_report(benchmark_json, tmp_path):
    from harness.report import write_report

    run_dir = import_benchmark_json(benchmark_json, tmp_path, run_id="for-report")
    index = write_report([run_dir], tmp_path / "report")
    summary = (tmp_path / "report" / "summary.csv").read_text()
    assert "cnn-tiny-cpu-eager-infer-latency-bs32" in summary
    assert index.stat().st_size > 0


def _benchmarks_named(name: str) -> list[dict]:
    """The name in each field of an archbench benchmark's case id, and as a foreign one's."""
    stats = {"median": 0.002, "rounds": 3}
    identity = {"suite": "cnn", "size": "tiny", "backend": "cpu-eager", "phase": "infer",
                "batch_size": 1}
    return [*({"name": "test_backend", "stats": stats, "extra_info": {**identity, field: name}}
              for field in ("suite", "size", "backend", "phase", "scenario")),
            {"name": name, "group": name, "stats": stats}]


@pytest.mark.parametrize("name", HOSTILE)
def test_no_imported_name_writes_outside_the_run_folder(name: str, tmp_path: Path) -> None:
    """Imported names are untrusted: `test_x[../../../../tmp/pwned]` wrote outside the run
    folder. Every name is encoded instead, the import still succeeds with every row, and the
    manifest maps each stand-in back to the original."""
    if name.startswith("/"):  # absolute names point into tmp_path, so the walk sees a write
        name = f"{tmp_path}{name}"
    source = tmp_path / "hostile.json"
    source.write_text(json.dumps({"benchmarks": _benchmarks_named(name)}))
    results = tmp_path / "deep" / "er" / "results"  # so '../../../..' stays inside tmp_path
    results.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    run_dir = import_benchmark_json(source, results, run_id="imported")
    written = set(tmp_path.rglob("*")) - before
    assert written and all(path.is_relative_to(run_dir) for path in written), sorted(written)
    cases_dir = run_dir / "cases"
    cases = [path for path in written if path.is_relative_to(cases_dir) and path != cases_dir]
    assert all(path.parent == cases_dir and path.is_file() for path in cases)  # no sub-folder
    table = load_results(run_dir)
    assert len(table) == len(cases) == 6 and table["case_id"].is_unique
    assert set(load_manifest(run_dir)["renamed"].values()) == {name}


# --- several processes, and what did not finish --------------------------------------------------


def _process_file(folder: Path, index: int, medians_ms: dict[str, float]) -> Path:
    """A pytest-benchmark file of one process: benchmark -> its rounds' median, 5 rounds."""
    benchmarks = []
    for backend, median in medians_ms.items():
        data = [median / 1e3 * f for f in (0.98, 0.99, 1.0, 1.01, 1.02)]
        benchmarks.append({"name": f"test_backend[{backend}]", "group": "g", "extra_info": {
            "suite": "cnn", "size": "tiny", "backend": backend, "phase": "infer",
            "scenario": "latency", "batch_size": 32, "params": 123},
            "stats": {"median": median / 1e3, "rounds": 5, "total": sum(data), "data": data}})
    path = folder / f"process-{index}.json"
    path.write_text(json.dumps({"benchmarks": benchmarks, "datetime": "2026-12-04T10:00:00"}))
    return path


def _outcomes(folder: Path, index: int, events: list[tuple[str, str, str]]) -> Path:
    """An outcome log: (backend, event, outcome) lines, as harness.ci.outcome_log writes."""
    path = folder / f"process-{index}.outcomes.jsonl"
    lines = []
    for backend, event, outcome in events:
        case = {"suite": "cnn", "size": "tiny", "backend": backend, "phase": "infer",
                "scenario": "latency", "batch_size": 32, "hardware": ""}
        lines.append(json.dumps({"case": case, "event": event, "outcome": outcome,
                                 "message": "RuntimeError: boom" if outcome == "failed"
                                 else ""}))
    path.write_text("\n".join(lines) + "\n{\"cut short")  # a dying process's last line
    return path


def test_several_files_are_the_processes_of_one_run(tmp_path):
    files = [_process_file(tmp_path, i, {"cpu-eager": m}) for i, m in
             enumerate((1.0, 1.2, 0.9), start=1)]
    run_dir = import_benchmark_json(files, tmp_path / "results", run_id="three")
    row = load_results(run_dir).iloc[0]
    assert (row["status"], row["processes"], row["n"], row["params"]) == ("ok", 3, 15, 123)
    assert row["median_ms"] == pytest.approx((1.0 * 1.2 * 0.9) ** (1 / 3))  # geometric mean
    assert row["ci_low_ms"] < row["median_ms"] < row["ci_high_ms"]
    samples = load_samples(run_dir)
    assert sorted(samples["process"].unique()) == [0, 1, 2]
    assert load_manifest(run_dir)["processes"] == 3


def test_several_files_need_their_raw_rounds(tmp_path):
    files = [_process_file(tmp_path, i, {"cpu-eager": 1.0}) for i in (1, 2)]
    document = json.loads(files[1].read_text())
    del document["benchmarks"][0]["stats"]["data"]
    files[1].write_text(json.dumps(document))
    with pytest.raises(UsageError, match="--benchmark-save-data"):
        import_benchmark_json(files, tmp_path / "results")


def test_failed_crashed_and_unreached_benchmarks_are_rows_that_say_so(tmp_path):
    ok = {"a": 1.0, "b": 2.0, "c": 3.0}
    processes = [
        BenchmarkProcess(_process_file(tmp_path, 1, ok), None, 0),
        # process 2: 'b' failed; 'c' was running when the process died by SIGABRT
        BenchmarkProcess(_process_file(tmp_path, 2, {"a": 1.1}),
                         _outcomes(tmp_path, 2, [("a", "start", ""), ("a", "end", "passed"),
                                                 ("b", "start", ""), ("b", "end", "failed"),
                                                 ("c", "start", "")]), -6, "Fatal abort"),
        # process 3 died before it wrote anything
        BenchmarkProcess(tmp_path / "process-3.json", None, -9, "killed after the timeout"),
    ]
    rows = load_results(import_processes(processes, tmp_path / "results", "faulty"))
    rows = rows.set_index("backend")
    assert rows.loc["b", "status"] == "error"
    assert rows.loc["b", "reason"] == "process 2 of 3: RuntimeError: boom"
    assert rows.loc["c", "status"] == "crashed"
    assert rows.loc["c", "reason"] == ("process 2 of 3: the pytest process died while this "
                                       "benchmark ran (status -6): Fatal abort")
    assert rows.loc["a", "status"] == "crashed"  # process 3 never reached it
    assert rows.loc["a", "reason"].startswith("process 3 of 3: the pytest process ended "
                                              "(status -9) before reaching this benchmark")
    assert rows.loc["a", "processes"] == 2  # the two that finished are kept


def test_merged_json_holds_every_process_rounds_for_pytest_benchmark_readers(tmp_path):
    files = [_process_file(tmp_path, i, {"cpu-eager": m}) for i, m in ((1, 1.0), (2, 2.0))]
    (bench,) = merge_benchmark_json(files)["benchmarks"]
    assert bench["stats"]["rounds"] == 10 and len(bench["stats"]["data"]) == 10
    assert bench["extra_info"]["archbench_processes"] == 2
    assert bench["extra_info"]["archbench_process_medians"] == pytest.approx([1e-3, 2e-3])
    assert bench["stats"]["min"] == pytest.approx(0.98e-3)
