"""The history store: what it keeps of a run, that adding twice changes nothing, and the one
line for every run or store it cannot take."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from harness.errors import UsageError
from harness.history.store import NOT_RECORDED, SCHEMA_VERSION, HistoryStore, machine_fingerprint
from harness.history.trends import ENERGY, load_points
from harness.machine.environment import PROJECT_ROOT
from harness.machine.fingerprint import fingerprint_id
from harness.machine.provenance import checked_out, in_utc, resolve_commit
from harness.results.store import MANIFEST, TABLE
from tests.history.history_runs import MACHINE, case_id, commit, write_history_run


def test_a_run_is_kept_with_its_commit_machine_rows_and_process_medians(tmp_path: Path) -> None:
    run = write_history_run(tmp_path, "r1", {"cpu-eager": [2.0, 2.2, 1.8], "ort-cpu": [1.0]},
                            commit(7, dirty=True))
    with HistoryStore(tmp_path / "h.duckdb") as store:
        added = store.add_run(run)
        assert added.outcome == "added"
        assert "2 cases" in added.line and "0007abab" in added.line and "dirty" in added.line
        runs = store.runs()
        assert list(runs["run_id"]) == ["r1"]
        assert runs.loc[0, "position"] == 7 and runs.loc[0, "branch"] == "main"
        assert bool(runs.loc[0, "dirty"]) is True
        assert runs.loc[0, "fingerprint_id"] == fingerprint_id(MACHINE)
        assert store.fingerprints() == {fingerprint_id(MACHINE): MACHINE}
        cases = store.query("SELECT case_id, status, processes FROM cases ORDER BY case_id")
        assert list(cases["case_id"]) == [case_id("cpu-eager"), case_id("ort-cpu")]
        medians = store.query("SELECT case_id, process, median_ms FROM process_medians "
                              "ORDER BY case_id, process")
        assert medians["median_ms"].round(9).tolist() == [2.0, 2.2, 1.8, 1.0]
        assert medians["process"].tolist() == [0, 1, 2, 0]


def test_adding_a_run_twice_changes_nothing_and_a_changed_run_replaces_its_rows(
        tmp_path: Path) -> None:
    run = write_history_run(tmp_path, "r1", {"cpu-eager": [2.0, 2.2]}, commit(1))
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert store.add_run(run).outcome == "added"
        again = store.add_run(run)
        assert again.outcome == "unchanged" and "already in the history" in again.line
        assert len(store.query("SELECT * FROM process_medians")) == 2
    # the same run id, resumed since: one more case
    changed = write_history_run(tmp_path / "later", "r1",
                                {"cpu-eager": [2.0, 2.2], "ort-cpu": [1.0, 1.1]}, commit(1))
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert store.add_run(changed).outcome == "replaced"
        assert len(store.runs()) == 1
        assert len(store.query("SELECT * FROM cases")) == 2
        assert len(store.query("SELECT * FROM process_medians")) == 4


def test_a_foreign_or_corrupt_run_is_refused_in_one_line_and_others_still_added(
        tmp_path: Path) -> None:
    good = write_history_run(tmp_path, "good", {"cpu-eager": [1.0, 1.1]}, commit(1))
    not_a_run = tmp_path / "photos"
    not_a_run.mkdir()
    broken = write_history_run(tmp_path, "broken", {"cpu-eager": [1.0]}, commit(2))
    (broken / TABLE).write_bytes(b"this is not parquet")
    with HistoryStore(tmp_path / "h.duckdb") as store:
        outcomes = [store.add_run(run) for run in (not_a_run, broken, good)]
        assert [added.outcome for added in outcomes] == ["refused", "refused", "added"]
        for added in outcomes[:2]:
            assert "\n" not in added.line and "left out" in added.line
        assert list(store.runs()["run_id"]) == ["good"]


def test_a_run_without_a_commit_is_refused_unless_one_is_given(tmp_path: Path) -> None:
    run = write_history_run(tmp_path, "r1", {"cpu-eager": [1.0, 1.1]}, commit_record=None)
    with HistoryStore(tmp_path / "h.duckdb") as store:
        refused = store.add_run(run)
        assert refused.outcome == "refused" and "--commit" in refused.line
        added = store.add_run(run, commit="feedbeef", branch="main")
        assert added.outcome == "added" and "sorts by time" in added.line
        runs = store.runs()
        assert runs.loc[0, "commit"] == "feedbeef" and runs.loc[0, "branch"] == "main"
        assert runs["position"].isna().all()


def test_an_archbench_ci_run_s_short_commit_and_branch_are_read(tmp_path: Path) -> None:
    run = write_history_run(tmp_path, "ci", {"cpu-eager": [1.0, 1.1]}, commit_record=None)
    manifest = json.loads((run / MANIFEST).read_text())
    manifest["ci"] = {"commit": "0123456789ab-dirty", "branch": "feature"}
    (run / MANIFEST).write_text(json.dumps(manifest))
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert store.add_run(run).outcome == "added"
        runs = store.runs()
        assert runs.loc[0, "commit"] == "0123456789ab"
        assert runs.loc[0, "branch"] == "feature" and bool(runs.loc[0, "dirty"])


def test_a_store_from_a_newer_archbench_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    HistoryStore(path).close()
    with duckdb.connect(str(path)) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                           [str(SCHEMA_VERSION + 1)])
    with pytest.raises(UsageError, match="newer than this archbench") as raised:
        HistoryStore(path)
    assert "\n" not in str(raised.value)


def test_a_duckdb_file_that_is_not_a_history_and_a_missing_store_are_refused(
        tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as connection:
        connection.execute("CREATE TABLE sales (amount INTEGER)")
    with pytest.raises(UsageError, match="not an archbench history"):
        HistoryStore(other)
    with pytest.raises(UsageError, match="no history store at"):
        HistoryStore(tmp_path / "missing.duckdb", create=False)
    assert not (tmp_path / "missing.duckdb").exists()


def test_columns_a_newer_archbench_brings_are_added_to_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        store.add_run(write_history_run(tmp_path, "old", {"cpu-eager": [1.0, 1.1]}, commit(1)))
        store.connection.execute('ALTER TABLE cases DROP COLUMN "peak_rss_mb"')
    with HistoryStore(path) as store:
        added = store.add_run(write_history_run(tmp_path, "new", {"cpu-eager": [1.0]},
                                                commit(2)))
        assert added.outcome == "added"
        kept = store.query("SELECT run_id, peak_rss_mb FROM cases ORDER BY run_id")
        assert list(kept["run_id"]) == ["new", "old"]


def test_a_run_from_before_fingerprints_forms_its_own_machine_kind() -> None:
    old = machine_fingerprint({"environment": {"cpu_model": "Test CPU", "cpu_cores": 2}})
    assert old["cpu_model"] == "Test CPU" and old["cpu_cores"] == "2"
    assert old["memory_gib"] == NOT_RECORDED and old["torch_version"] == NOT_RECORDED
    recorded = machine_fingerprint({"fingerprint": MACHINE, "environment": {}})
    assert recorded == MACHINE and fingerprint_id(old) != fingerprint_id(recorded)


def test_a_store_whose_every_run_was_refused_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    not_a_run = tmp_path / "photos"
    not_a_run.mkdir()
    with HistoryStore(path) as store:
        assert store.add_run(not_a_run).outcome == "refused"
    with HistoryStore(path, create=False) as store:
        assert load_points(store).empty and store.runs().empty


def test_a_ci_run_added_again_from_outside_the_repository_keeps_its_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An `archbench ci` run records a short sha; git places it where the run is first added.
    Added again from a folder git cannot place it in, it is the same run, still placed."""
    head = checked_out(PROJECT_ROOT)
    if head is None or head.position is None:
        pytest.skip("needs archbench's own git history (a clone, not an exported tree)")
    run = write_history_run(tmp_path, "ci", {"cpu-eager": [1.0, 1.1]}, commit_record=None)
    manifest = json.loads((run / MANIFEST).read_text())
    manifest["ci"] = {"commit": head.sha[:12], "branch": "main"}
    (run / MANIFEST).write_text(json.dumps(manifest))
    path = tmp_path / "h.duckdb"
    monkeypatch.chdir(PROJECT_ROOT)
    with HistoryStore(path) as store:
        assert store.add_run(run).outcome == "added"
    monkeypatch.chdir(tmp_path)  # outside any repository
    assert resolve_commit(head.sha[:12]) is None
    with HistoryStore(path) as store:
        assert store.add_run(run).outcome == "unchanged"
        # resumed since: one more case; its commit keeps the place git gave it
        resumed = write_history_run(tmp_path / "later", "ci",
                                    {"cpu-eager": [1.0, 1.1], "ort-cpu": [1.0]},
                                    commit_record=None)
        (resumed / MANIFEST).write_text(json.dumps({**manifest, "note": "resumed"}))
        replaced = store.add_run(resumed)
        assert replaced.outcome == "replaced" and "sorts by time" not in replaced.line
        runs = store.runs()
        assert runs.loc[0, "commit"] == head.sha and runs.loc[0, "position"] == head.position


def test_reading_never_writes_and_readers_share_the_store(tmp_path: Path) -> None:
    """Read-only opens: a second process reading the store at the same time is no lock
    conflict, and reading changes no byte of it."""
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        store.add_run(write_history_run(tmp_path, "r1", {"cpu-eager": [1.0, 1.1]}, commit(1)))
    before = path.read_bytes()
    reader = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from harness.history.store import HistoryStore\n"
         f"store = HistoryStore({str(path)!r}, create=False)\n"
         "print('open', flush=True)\n"
         "sys.stdin.readline()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    try:
        assert reader.stdout.readline().strip() == "open"
        with HistoryStore(path, create=False) as store:
            assert list(store.runs()["run_id"]) == ["r1"]
            with pytest.raises(duckdb.Error):
                store.connection.execute("DELETE FROM runs")
    finally:
        reader.communicate("\n", timeout=60)
    assert reader.returncode == 0
    assert path.read_bytes() == before


def test_commit_times_are_kept_in_utc() -> None:
    assert in_utc("2026-12-04T15:00:00+02:00") == "2026-12-04T13:00:00+00:00"
    assert in_utc("2026-12-04T13:00:00") == "2026-12-04T13:00:00+00:00"
    assert in_utc("") == "" and in_utc(None) == ""


def test_energy_readings_are_kept_per_process_and_an_older_store_has_none(
        tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        store.add_run(write_history_run(tmp_path, "r1", {"cpu-eager": [1.0, 1.1],
                                                         "ort-cpu": [0.5, 0.6]}, commit(1),
                                        energy={"cpu-eager": [0.2, 0.25]}))
        kept = store.query("SELECT case_id, process, j_per_sample FROM process_energy "
                           "ORDER BY process")
        assert list(kept["j_per_sample"]) == [0.2, 0.25]
        assert set(kept["case_id"]) == {case_id("cpu-eager")}
        store.connection.execute("DROP TABLE process_energy")  # as a store from before it
    with HistoryStore(path, create=False) as store:
        assert load_points(store, quantity=ENERGY).empty
        assert len(load_points(store)) == 2
