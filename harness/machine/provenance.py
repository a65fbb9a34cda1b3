"""Which commit a run measured, and where that commit sits in git's history.

A history is ordered by commits, not by clocks: two branches measured on the same afternoon,
or a commit re-measured a week later, must land where the code puts them. So a run records the
commit of the code it measured: the repository holding its suite files (a user's suites live
in their own repository), else archbench's own. With it the commit's **position**, the number
of commits it reaches (``git rev-list --count``): an ancestor always has a smaller position
than its descendants, so sorting by position follows every line of history; two commits on
parallel branches may share one, and then the commit's time breaks the tie.

`git` may be absent where a history is read (a CI job restoring only the store), so everything
the history needs is read once, when the run is recorded, and kept in the manifest (``commit``)
and in the store. A commit given by hand (``--commit``) is placed by the repository in the
current folder if it knows the commit, else it has no position and sorts by its time.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.machine.environment import PROJECT_ROOT

#: Seconds a git command may take (a huge repository counts its commits in well under that).
_GIT_TIMEOUT_S = 20


@dataclass(frozen=True)
class Commit:
    """A commit as the history keeps it."""

    sha: str
    #: commits reachable from it, itself included (git rev-list --count); None: not placed
    position: int | None = None
    #: the first line of its message
    subject: str = ""
    #: committer time, ISO 8601 in UTC
    time: str = ""
    #: the branch checked out when the run was made ('' when detached or unknown)
    branch: str = ""
    #: the working tree differed from the commit: the run measured uncommitted code
    dirty: bool = False

    @property
    def short(self) -> str:
        return self.sha[:10]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Commit:
        position = data.get("position")
        return cls(sha=str(data.get("sha") or ""),
                   position=int(position) if position is not None else None,
                   subject=str(data.get("subject") or ""), time=str(data.get("time") or ""),
                   branch=str(data.get("branch") or ""), dirty=bool(data.get("dirty")))


def _git(folder: Path, *args: str) -> str | None:
    """git's output in `folder`, or None where git or the repository is missing or refuses."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_commit(rev: str, folder: Path = Path("."), branch: str | None = None,
                   dirty: bool = False) -> Commit | None:
    """The commit `rev` names in the repository holding `folder` with its position, subject
    and time; None where git cannot resolve it there. `branch`: recorded as given."""
    sha = _git(folder, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if not sha:
        return None
    position = _git(folder, "rev-list", "--count", sha)
    details = _git(folder, "show", "-s", "--format=%cI%n%s", sha) or ""
    time, _, subject = details.partition("\n")
    return Commit(sha=sha, position=int(position) if position and position.isdigit() else None,
                  subject=subject, time=in_utc(time), branch=branch or "", dirty=dirty)


def in_utc(iso_time: object) -> str:
    """An ISO 8601 time (git's committer time carries the committer's offset) in UTC; ''
    when it is none: the history sorts unplaced commits by this text, and text only sorts as
    time when every value has one offset."""
    try:
        parsed = dt.datetime.fromisoformat(str(iso_time))
    except ValueError:
        return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).isoformat()


def branch_name(recorded: object) -> str:
    """A recorded branch, '' for none: git (and pytest-benchmark, which asks git) says "HEAD"
    for a detached checkout, as a CI job makes."""
    text = str(recorded or "")
    return "" if text == "HEAD" else text


def checked_out(folder: Path) -> Commit | None:
    """The commit checked out in the repository holding `folder`, with its branch and whether
    tracked files differ from it; None outside a repository."""
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return resolve_commit("HEAD", folder, branch=branch_name(branch), dirty=bool(status))


def measured_code_folder(suite_files: Sequence[str], model: str | None = None) -> Path:
    """Where the code a run measures lives: its first suite file's folder, else the folder of
    a ``--model path/file.py:factory``, else archbench's own (its built-in suites)."""
    for name in suite_files:
        return Path(name).resolve().parent
    if model and ".py:" in model:
        return Path(model.rsplit(":", 1)[0]).resolve().parent
    return PROJECT_ROOT
