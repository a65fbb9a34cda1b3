"""`archbench ci` with real pytest processes: a user's suite file through the benchmarks, a
benchmark that fails or kills its process, and pytest's own usage errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

from harness.ci.processes import run_processes
from harness.cli import main
from harness.results.pytest_benchmark import import_processes
from harness.results.store import MANIFEST, load_results
from tests.conftest import FAULTY_SUITE_FILE, MLP_SUITE_FILE

ROOT = Path(__file__).resolve().parents[2]
#: One small benchmark per suite: inference on cpu-eager, 3 rounds.
SMALL = ["--archbench-backends=cpu-eager", "--archbench-phases=infer", "--archbench-rounds=3",
         "--archbench-warmup=1", f"--archbench-suite-file={MLP_SUITE_FILE}",
         f"--archbench-suite-file={FAULTY_SUITE_FILE}"]


def test_own_suite_file_through_the_gate_and_a_broken_benchmark_fails_it(tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.chdir(ROOT)
    results = tmp_path / "results"
    code = main(["ci", "--results", str(results), "--processes", "2", "--run-id", "own",
                 "--json", str(tmp_path / "merged.json"), "--markdown", str(tmp_path / "pr.md"),
                 "--", *SMALL, "--archbench-suites=mlp,raises", "--archbench-sizes=tiny"])
    out = capsys.readouterr().out
    assert code == 1, out
    rows = load_results(results / "own").set_index("suite")
    assert rows.loc["mlp", "status"] == "ok" and rows.loc["mlp", "processes"] == 2
    assert rows.loc["raises", "status"] == "error"
    assert rows.loc["raises", "reason"] == "RuntimeError: forward failed on purpose"
    assert "raises-tiny-cpu-eager-infer-latency-bs32: error" in out
    assert json.loads((results / "own" / MANIFEST).read_text())["ci"]["verdict"] == "fail"
    (bench,) = json.loads((tmp_path / "merged.json").read_text())["benchmarks"]
    assert bench["extra_info"]["suite"] == "mlp" and bench["stats"]["rounds"] == 6
    assert (tmp_path / "pr.md").read_text().startswith("### ❌ archbench ci:")


def test_a_process_that_dies_names_the_benchmark_it_ran_and_the_ones_it_never_reached(
        tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    processes = run_processes(Path("benchmarks"), [
        *SMALL, "--archbench-suites=aborts,mlp", "--archbench-sizes=tiny"], 2,
        tmp_path / "pytest", 300, say=lambda line: None)
    assert [p.exit_code for p in processes] == [-6, -6]  # SIGABRT
    rows = load_results(import_processes(processes, tmp_path / "results", "dies"))
    rows = rows.set_index("suite")
    assert rows.loc["aborts", "status"] == "crashed"
    assert rows.loc["aborts", "reason"].startswith(
        "the pytest process died while this benchmark ran (status -6)")
    assert rows.loc["mlp", "status"] == "crashed"
    assert "before reaching this benchmark" in rows.loc["mlp", "reason"]


def test_pytest_usage_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["ci", "--results", str(tmp_path), "--", "--archbench-suites=nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("archbench: error: pytest refused the benchmark "
                                            "options: unknown suite 'nope'")
    assert len([line for line in err if line.startswith("archbench: error")]) == 1


def test_a_gate_where_no_benchmark_ran_fails_instead_of_passing_on_nothing(tmp_path, capsys):
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "test_dies.py").write_text("import os\nos.abort()\n")
    code = main(["ci", "--results", str(tmp_path / "results"), "--processes", "2",
                 "--benchmarks", str(benchmarks)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("archbench: error: no benchmark ran: every pytest "
                                            "process ended before collecting one (exit "
                                            "statuses [-6, -6]")


def test_rounds_run_one_process_per_version_in_a_shuffled_order(tmp_path, monkeypatch):
    """Each round runs every version once; the order varies between rounds (so no version
    always goes first) and is the same for the same seed; processes come back in round order.
    The processes of a version share one export cache, not the other version's, and the
    caches are gone after the rounds."""
    from harness.ci import processes as module

    ran: list[tuple[str, int]] = []
    caches: dict[str, set[Path]] = {}

    def fake_run_one(benchmarks, pytest_args, version, index, timeout_s, cache):
        ran.append((version.name, index))
        caches.setdefault(version.name, set()).add(cache)
        return module._Ran(module.BenchmarkProcess(version.out_dir / f"{index}.json"), "ok")

    monkeypatch.setattr(module, "_run_one", fake_run_one)
    versions = [module.Version(name, None, tmp_path / name) for name in ("base", "new")]
    done = module.run_rounds(Path("benchmarks"), [], versions, 8, 60, seed=3,
                             say=lambda line: None)
    assert [index for _, index in ran] == sorted(2 * list(range(8)))
    firsts = [ran[2 * r][0] for r in range(8)]
    assert set(firsts) == {"base", "new"}
    assert [p.json_path.name for p in done["base"]] == [f"{r}.json" for r in range(8)]
    (base_cache,), (new_cache,) = caches["base"], caches["new"]
    assert base_cache != new_cache and not base_cache.parent.exists()
    from suites.digits import CACHE_ENV
    assert module.CACHE_ENV == CACHE_ENV  # the folder the suites and benchmarks read
    first_order = list(ran)
    ran.clear()
    module.run_rounds(Path("benchmarks"), [], versions, 8, 60, seed=3, say=lambda line: None)
    assert ran == first_order
