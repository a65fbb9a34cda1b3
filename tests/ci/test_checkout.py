"""The base version of `archbench ci --base`: a folder as it is, a git commit checked out into
a worktree for the with block and removed after it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.ci.checkout import base_checkout
from harness.errors import UsageError


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_a_folder_is_the_base_as_it_is(tmp_path):
    with base_checkout(str(tmp_path)) as folder:
        assert folder == tmp_path.resolve()
    assert tmp_path.is_dir()


def test_a_commit_is_checked_out_for_the_block_and_removed_after(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for depth in (10, 13):
        (repo / "suite.py").write_text(f"DEPTH = {depth}\n")
        _git(repo, "add", "suite.py")
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"{depth}")
    monkeypatch.chdir(repo)
    with base_checkout("HEAD~1") as folder:
        assert (folder / "suite.py").read_text() == "DEPTH = 10\n"
        assert str(folder) in _git(repo, "worktree", "list")
    assert not folder.exists() and str(folder) not in _git(repo, "worktree", "list")
    assert (repo / "suite.py").read_text() == "DEPTH = 13\n"


def test_neither_folder_nor_commit_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a repository
    with (pytest.raises(UsageError, match="neither a folder nor a git commit"),
          base_checkout("origin/main")):
        pass
