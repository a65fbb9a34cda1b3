"""A real history: six commits of a toy suite in its own git repository, each measured by
`archbench run --history`, one commit making the model larger: the rolling baseline calls it
slower before it is added (as a CI job would), and the step is found at that commit."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from harness.cli import main

SUITE = Path(__file__).parent.parent / "fixtures" / "toy_history_suite.py"
#: The commit (1-based) that widens the model: 512 -> 768 wide is 2.2x the FLOPs of its
#: hidden layers, a step no machine's noise hides (the closing note measures a 30% one).
WIDER_AT = 4
COMMITS = 6


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.slow
def test_a_commit_that_makes_the_model_larger_is_the_step_found(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, results, store = tmp_path / "toy", tmp_path / "results", tmp_path / "h.duckdb"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    text = SUITE.read_text()
    shas = []
    for number in range(1, COMMITS + 1):
        width = 768 if number >= WIDER_AT else 512
        (repo / "toy_suite.py").write_text(re.sub(r"WIDTH = \d+", f"WIDTH = {width}", text))
        (repo / "log.txt").write_text(f"commit {number}\n")
        _git(repo, "add", ".")
        _git(repo, "commit", "-q", "-m", f"toy {number}: width {width}")
        shas.append(_git(repo, "rev-parse", "HEAD"))
        gate = number == WIDER_AT  # as CI does: compare with the history, then add
        assert main(["run", "--suite-file", str(repo / "toy_suite.py"), "--suite", "toy",
                     "--backend", "cpu-eager", "--phase", "infer", "--scenario", "throughput",
                     "--quick", "--processes", "3", "--threads", "1", "--no-energy",
                     "--no-progress", "--results", str(results), "--run-id", f"c{number}",
                     *([] if gate else ["--history", str(store)])]) == 0
        if gate:
            capsys.readouterr()
            assert main(["compare", f"c{number}", "--baseline", f"history:{store}",
                         "--results", str(results), "--format", "markdown"]) == 1
            verdict = capsys.readouterr().out
            assert verdict.startswith("### ❌") and "1 slower" in verdict
            assert main(["history", "add", f"c{number}", "--history", str(store),
                         "--results", str(results)]) == 0
    capsys.readouterr()

    assert main(["history", "regressions", "--history", str(store), "--format", "json"]) == 1
    found = json.loads(capsys.readouterr().out)["regressions"]
    assert len(found) == 1, found
    step = found[0]
    assert step["commit"] == shas[WIDER_AT - 1]
    assert step["before_commit"] == shas[WIDER_AT - 2]
    assert step["ratio"] > 1.3 and step["subject"] == f"toy {WIDER_AT}: width 768"

    assert main(["history", "show", "--history", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "6 runs, 6 commits, 1 series" in shown
    assert f"{shas[WIDER_AT - 2][:10]}..{shas[WIDER_AT - 1][:10]}" in shown
