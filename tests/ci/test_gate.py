"""`archbench ci`'s verdict on fixed pytest-benchmark output (no pytest is run: the processes'
files are synthetic, `tests.ci.synthetic`), and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from harness.analysis.baseline import FAILED, NO_BASELINE, PASSED
from harness.analysis.compare import compare_runs
from harness.ci import gate
from harness.ci.gate import GateOptions, run_gate
from harness.cli import main
from harness.errors import UsageError
from harness.history.store import HistoryStore
from harness.machine.fingerprint import this_machine
from harness.results.store import MANIFEST, load_results
from tests.ci import synthetic


def _gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_id: str, seed: int,
          baseline: str = "", record: bool = False, **changes) -> gate.GateOutcome:
    """Run the gate on synthetic processes instead of pytest's."""
    def fake_run_processes(benchmarks, pytest_args, processes, out_dir, timeout_s, say):
        return synthetic.write_processes(out_dir, seed, processes, **changes)

    monkeypatch.setattr(gate, "run_processes", fake_run_processes)
    # 7 processes, not the default: the seeds below were chosen to show the rules at 7
    options = GateOptions(results_dir=tmp_path / "results", run_id=run_id, processes=7,
                          markdown_path=tmp_path / f"{run_id}.md",
                          json_path=tmp_path / f"{run_id}.json", baseline=baseline,
                          record=record)
    return run_gate(options, say=lambda line: None)


def _verdict(run_dir: Path) -> str:
    return json.loads((run_dir / MANIFEST).read_text())["ci"]["verdict"]


def test_first_run_has_no_baseline_and_becomes_one(tmp_path, monkeypatch):
    first = _gate(tmp_path, monkeypatch, "first", seed=1)
    assert (first.verdict, first.exit_code) == (NO_BASELINE, 0)
    assert first.lines[0].startswith("no baseline:")
    rows = load_results(first.run_dir)
    assert len(rows) == synthetic.COUNT and (rows["processes"] == 7).all()
    second = _gate(tmp_path, monkeypatch, "second", seed=2)
    assert second.lines[0].startswith("baseline: run first (commit 0123456789ab on main")
    assert json.loads((second.run_dir / MANIFEST).read_text())["ci"]["baseline"] == "first"
    merged = json.loads((tmp_path / "second.json").read_text())["benchmarks"][0]
    assert merged["stats"]["rounds"] == 7 * synthetic.ROUNDS
    assert merged["extra_info"]["archbench_processes"] == 7


def test_noisy_aa_pair_passes_where_per_case_tests_cry_wolf(tmp_path, monkeypatch):
    """36 benchmarks whose processes spread by 10%, a third with an outlier process: the
    per-case rule calls a false alarm in this pair (the test could fail), the gate does not."""
    base = _gate(tmp_path, monkeypatch, "base", seed=15, cv=0.12)
    new = _gate(tmp_path, monkeypatch, "new", seed=16, cv=0.12)
    per_case = compare_runs(base.run_dir, new.run_dir, 0.10)
    assert per_case.has_regression or (per_case.table["verdict"] == "faster").any()
    assert (new.verdict, new.exit_code) == (PASSED, 0), "\n".join(new.lines)


def test_real_slowdown_fails_and_names_the_benchmark(tmp_path, monkeypatch):
    _gate(tmp_path, monkeypatch, "base", seed=3, cv_of={7: 0.03})
    new = _gate(tmp_path, monkeypatch, "new", seed=4, cv_of={7: 0.03}, slower={7: 1.3})
    assert (new.verdict, new.exit_code) == (FAILED, 1)
    text = "\n".join(new.lines)
    assert "synthetic · tiny · b07" in text and "1 slower" in text
    assert "slower" in (tmp_path / "new.md").read_text().split("Changed", 1)[1]
    # a failed run is never a baseline: the next run is judged against `base` again
    again = _gate(tmp_path, monkeypatch, "again", seed=5, cv_of={7: 0.03}, slower={7: 1.3})
    assert again.lines[0].startswith("baseline: run base ") and again.exit_code == 1
    assert "1 that failed their gate" in again.lines[1]


def test_a_history_baseline_pools_the_last_runs_and_records_every_main_line_run(tmp_path,
                                                                               monkeypatch):
    store = tmp_path / "history.duckdb"
    first = _gate(tmp_path, monkeypatch, "h1", seed=3, baseline=f"history:{store}",
                  record=True, cv_of={7: 0.03})
    assert (first.verdict, first.exit_code) == (NO_BASELINE, 0) and store.exists()
    for number, seed in ((2, 4), (3, 5)):
        passed = _gate(tmp_path, monkeypatch, f"h{number}", seed=seed,
                       baseline=f"history:{store}", record=True, cv_of={7: 0.03})
        assert (passed.verdict, passed.exit_code) == (PASSED, 0), "\n".join(passed.lines)
    assert "the rolling baseline history:" in passed.lines[0] and "2 runs" in passed.lines[0]
    assert passed.lines[-1].startswith("history: h3: added")
    slower = _gate(tmp_path, monkeypatch, "h4", seed=6, baseline=f"history:{store}",
                   record=True, cv_of={7: 0.03}, slower={7: 1.3})
    assert (slower.verdict, slower.exit_code) == (FAILED, 1)
    assert "synthetic · tiny · b07" in "\n".join(slower.lines)
    with HistoryStore(store, create=False) as history:
        assert list(history.runs()["run_id"]) == ["h1", "h2", "h3", "h4"]
    # the slower level is now a quarter of the baseline: the next slower run still fails
    again = _gate(tmp_path, monkeypatch, "h5", seed=7, baseline=f"history:{store}",
                  cv_of={7: 0.03}, slower={7: 1.3})
    assert (again.verdict, again.exit_code) == (FAILED, 1) and "4 runs" in again.lines[0]


def test_a_history_that_cannot_be_read_is_an_error_before_measuring(tmp_path, monkeypatch):
    """A store path that is a folder, another DuckDB file or a newer archbench's is the user's
    mistake: one line, exit 2, nothing measured, nothing created. Only a store not there yet
    (a CI job's first run) or one with no run of this machine kind means "no baseline"."""
    measured = []
    monkeypatch.setattr(gate, "run_processes", lambda *args: measured.append(args))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as connection:
        connection.execute("CREATE TABLE sales (amount INTEGER)")
    for store in (folder, other):
        options = GateOptions(results_dir=tmp_path / "results", run_id="bad", processes=7,
                              baseline=f"history:{store}", record=True)
        with pytest.raises(UsageError) as raised:
            run_gate(options, say=lambda line: None)
        assert "\n" not in str(raised.value) and str(store) in str(raised.value)
    assert not measured and not (tmp_path / "results").exists()
    missing = tmp_path / "typo.duckdb"
    with pytest.raises(UsageError, match="no history store at .*typo.duckdb"):
        run_gate(GateOptions(results_dir=tmp_path / "results", run_id="req", processes=7,
                             baseline=f"history:{missing}", require_baseline=True),
                 say=lambda line: None)
    assert not missing.exists()


def test_a_history_of_other_machine_kinds_is_a_first_run_saying_so(tmp_path, monkeypatch):
    store = tmp_path / "history.duckdb"
    first = _gate(tmp_path, monkeypatch, "h1", seed=3, baseline=f"history:{store}",
                  record=True)
    assert first.lines[0].startswith(f"no baseline: no history store at {store} yet")
    with duckdb.connect(str(store)) as connection:
        connection.execute("UPDATE runs SET fingerprint_id = 'another-kind'")
    second = _gate(tmp_path, monkeypatch, "h2", seed=4, baseline=f"history:{store}")
    assert (second.verdict, second.exit_code) == (NO_BASELINE, 0)
    assert "has no run of this machine kind" in second.lines[0]
    assert "another-kind (1 runs)" in second.lines[0] and "--results" not in second.lines[0]


#: The job's machine, 25% slower than when the stored baselines of these tests ran.
DRIFT = [1.25] * 5


def _gate_with_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_id: str, seed: int,
                    **changes) -> gate.GateOutcome:
    """`--base`: the base and the code under test in the same rounds, both synthetic, on the
    same (slower) machine; `changes` apply to the code under test."""
    def fake_run_rounds(benchmarks, pytest_args, versions, rounds, timeout_s, **shuffle_and_say):
        # the data from this test's `seed`, never the gate's random shuffle seed
        base, new = versions
        return {"base": synthetic.write_processes(base.out_dir, 100 + seed, rounds, cv=0.05,
                                                  drift=DRIFT),
                "new": synthetic.write_processes(new.out_dir, 200 + seed, rounds, cv=0.05,
                                                 drift=DRIFT, **changes)}

    monkeypatch.setattr(gate, "run_rounds", fake_run_rounds)
    options = GateOptions(results_dir=tmp_path / "results", run_id=run_id, base=str(tmp_path),
                          processes=len(DRIFT), markdown_path=tmp_path / f"{run_id}.md")
    return run_gate(options, say=lambda line: None)


def test_a_machine_slower_than_at_the_stored_baseline_fails_it(tmp_path, monkeypatch):
    """Why --base exists: identical code on a machine 25% slower than at the baseline's time
    looks like a regression of every benchmark to a stored baseline."""
    _gate(tmp_path, monkeypatch, "base", seed=21, cv=0.05)
    later = _gate(tmp_path, monkeypatch, "later", seed=22, cv=0.05, drift=[1.25] * 7)
    assert later.exit_code == 1
    assert any("the whole run moved beyond the threshold" in line and "--base" in line
               for line in later.lines)


def test_base_in_the_same_job_cancels_the_drift_and_still_finds_a_slowdown(tmp_path,
                                                                           monkeypatch):
    """The machine of `test_a_machine_slower_than_at_the_stored_baseline_fails_it`, 25% slower
    than at a stored baseline's time: measured beside its base, identical code passes."""
    same = _gate_with_base(tmp_path, monkeypatch, "same", seed=1)
    assert (same.verdict, same.exit_code) == (PASSED, 0), "\n".join(same.lines)
    assert same.lines[0].startswith(f"baseline: the base {tmp_path} (commit 0123456789ab)")
    table = compare_runs(same.run_dir.parent / "same-base", same.run_dir, 0.10).table
    assert (table["method"] == "welch").all()  # unpaired: rounds do not share their noise
    slowed = _gate_with_base(tmp_path, monkeypatch, "slowed", seed=2, slower={7: 1.3},
                             cv_of={7: 0.02})
    assert (slowed.verdict, slowed.exit_code) == (FAILED, 1)
    text = "\n".join(slowed.lines)
    assert "synthetic · tiny · b07" in text and "1 slower" in text
    manifests = {run: json.loads((tmp_path / "results" / run / MANIFEST).read_text())
                 for run in ("slowed", "slowed-base")}
    assert manifests["slowed-base"]["ci"]["role"] == "base"
    assert manifests["slowed"]["ci"]["interleaved"] == {
        "seed": manifests["slowed-base"]["ci"]["interleaved"]["seed"], "base": str(tmp_path),
        "with": "slowed-base"}


def test_the_base_measured_beside_a_gate_is_never_a_stored_baseline(tmp_path, monkeypatch):
    """Even with a verdict in its manifest (written by hand here), the base's run is passed
    over for its role alone: it measured the base's code, not a version that passed."""
    _gate_with_base(tmp_path, monkeypatch, "with-base", seed=3)
    (tmp_path / "results" / "with-base" / MANIFEST).unlink()  # as if that gate never finished
    _manifest_with(tmp_path / "results" / "with-base-base", verdict=PASSED)
    later = _gate(tmp_path, monkeypatch, "later", seed=4)
    assert later.verdict == NO_BASELINE


def test_broken_benchmark_fails_with_its_error(tmp_path, monkeypatch):
    _gate(tmp_path, monkeypatch, "base", seed=6)
    new = _gate(tmp_path, monkeypatch, "new", seed=7,
                failing={3: "RuntimeError: forward failed on purpose"})
    assert (new.verdict, new.exit_code) == (FAILED, 1)
    text = "\n".join(new.lines)
    assert "Newly broken (1)" in text and "RuntimeError: forward failed on purpose" in text
    row = load_results(new.run_dir).set_index("backend").loc["b03"]
    assert row["status"] == "error" and row["reason"].startswith("RuntimeError")


def test_broken_benchmark_fails_without_a_baseline(tmp_path, monkeypatch):
    first = _gate(tmp_path, monkeypatch, "first", seed=8, failing={0: "ValueError: bad"})
    assert (first.verdict, first.exit_code) == (FAILED, 1)
    assert any("ValueError: bad" in line for line in first.lines)


def _manifest_with(run_dir: Path, **ci) -> None:
    path = run_dir / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["ci"].update(ci)
    path.write_text(json.dumps(manifest))


def test_baseline_of_another_machine_kind_is_passed_over_or_refused(tmp_path, monkeypatch,
                                                                    capsys):
    first = _gate(tmp_path, monkeypatch, "other-kind", seed=1)
    _manifest_with(first.run_dir, fingerprint_id="ffffffffffff",
                   fingerprint={**this_machine(), "cpu_model": "Another CPU"})
    second = _gate(tmp_path, monkeypatch, "mine", seed=2)
    assert second.verdict == NO_BASELINE
    assert "passed over 1 from another machine kind" in second.lines[0]
    code = main(["ci", "--results", str(tmp_path / "results"), "--baseline", "other-kind"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "comes from another machine kind (cpu_model 'Another CPU' vs" in err[0]


@pytest.mark.parametrize("argv, message", [
    (["--processes", "1"], "at least 2 processes"),
    (["--threshold", "2"], "threshold must be a fraction"),
    (["--baseline", "nope"], "no archbench run at 'nope'"),
    (["--require-baseline"], "no baseline: no passing archbench ci run"),
    (["--benchmarks", "no/such/folder"], "no benchmarks at 'no/such/folder'"),
    (["--base", "no-such-branch"], "--base 'no-such-branch' is neither a folder nor a git"),
    (["--base", "HEAD", "--baseline", "run"], "give one of them"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    assert main(["ci", "--results", str(tmp_path / "results"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("archbench: error:") and message in err[0]


def test_baseline_that_is_not_a_ci_run_is_refused(tmp_path, fake_run):
    fake_run("a-sweep")
    with pytest.raises(UsageError, match="was not written by archbench ci"):
        run_gate(GateOptions(results_dir=tmp_path / "results", baseline="a-sweep"))
