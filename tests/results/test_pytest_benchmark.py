"""`archbench import`: pytest-benchmark JSON -> an ordinary run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.results.pytest_benchmark import import_benchmark_json
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
