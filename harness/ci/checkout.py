"""The base version of the code for `archbench ci --base`: a folder, or a git commit checked out.

The gate measures the base in the same job as the code under test (`harness.ci.processes`), so
it needs the base's files on disk. A folder is used as it is (a `git worktree` a CI job made,
or any copy). Anything else is taken as a git commit of the repository here (``origin/main``,
a tag, a sha) and checked out into a temporary worktree for the gate's length, removed after it
even when the gate is interrupted: nothing is left behind in the user's repository but git's
own prune record.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import UsageError

_GIT_TIMEOUT_S = 300


@contextmanager
def base_checkout(base: str) -> Iterator[Path]:
    """The folder of the base version named by `base` (module docstring), for a with block."""
    if Path(base).is_dir():
        yield Path(base).resolve()
        return
    commit = _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if commit is None:
        raise UsageError(f"--base '{base}' is neither a folder nor a git commit of the "
                         "repository here: give a checkout of the base version, or a "
                         "branch, tag or commit (e.g. --base origin/main)")
    with tempfile.TemporaryDirectory(prefix="archbench-base-") as parent:
        folder = Path(parent) / "base"
        if _git("worktree", "add", "--detach", str(folder), commit) is None:
            raise UsageError(f"could not check out --base '{base}' ({commit[:12]}) with git "
                             "worktree; check it out yourself and give its folder")
        try:
            yield folder
        finally:
            _git("worktree", "remove", "--force", str(folder))


def _git(*args: str) -> str | None:
    """git's output, stripped, or None when git failed or is not there."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
