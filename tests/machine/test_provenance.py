"""The commit a run records: its sha, its place in git's history, its branch and whether the
tree was dirty, read from a real repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.machine.environment import PROJECT_ROOT
from harness.machine.provenance import (
    Commit,
    branch_name,
    checked_out,
    measured_code_folder,
    resolve_commit,
)


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """Three commits on main, a fourth on a side branch."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    for number in (1, 2, 3):
        (tmp_path / "model.py").write_text(f"WIDTH = {number}\n")
        _git(tmp_path, "add", "model.py")
        _git(tmp_path, "commit", "-q", "-m", f"change {number}")
    return tmp_path


def test_a_commit_has_its_position_subject_and_branch(repository: Path) -> None:
    head = checked_out(repository)
    assert head is not None
    assert (head.position, head.subject, head.branch, head.dirty) == (3, "change 3", "main",
                                                                      False)
    assert head.sha == _git(repository, "rev-parse", "HEAD") and head.short == head.sha[:10]
    first = resolve_commit("HEAD~2", repository)
    assert first is not None and first.position == 1 and first.branch == ""
    assert resolve_commit("no-such-rev", repository) is None


def test_edited_tracked_files_make_the_run_dirty_and_a_detached_head_has_no_branch(
        repository: Path) -> None:
    (repository / "model.py").write_text("WIDTH = 4\n")
    assert checked_out(repository).dirty
    _git(repository, "checkout", "-q", "--", "model.py")
    _git(repository, "checkout", "-q", "--detach", "HEAD~1")
    detached = checked_out(repository)
    assert detached.branch == "" and detached.position == 2 and not detached.dirty
    assert branch_name("HEAD") == "" and branch_name(None) == "" and branch_name("x") == "x"


def test_outside_a_repository_there_is_no_commit(tmp_path: Path) -> None:
    assert checked_out(tmp_path) is None


def test_the_json_round_trip_keeps_everything() -> None:
    commit = Commit("a" * 40, 7, "subject", "2026-01-01T00:00:00+00:00", "main", True)
    assert Commit.from_json(commit.to_json()) == commit
    assert Commit.from_json({"sha": "b" * 40}).position is None


def test_the_measured_code_lives_with_the_suite_file_else_the_model_else_archbench(
        tmp_path: Path) -> None:
    suite = tmp_path / "suites" / "mine.py"
    assert measured_code_folder([str(suite)], "other/model.py:build") == suite.parent
    assert measured_code_folder([], str(tmp_path / "m.py") + ":build") == tmp_path
    assert measured_code_folder([], "torchvision.models:resnet18") == PROJECT_ROOT
