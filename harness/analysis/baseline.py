"""Which earlier run a CI gate compares against, and why that one.

A baseline that happens to be the latest file on disk says nothing: it may come from another
machine kind, from one process, or from a run that failed its own gate (comparing against a
regression lets the regression pass the second time). So the baseline of `archbench ci` is:

* a run written by `archbench ci` (its manifest's ``ci`` section), timed in >= 2 processes,
  of the code it judged (not the base that ``--base`` measured beside it);
* from the same machine fingerprint (`harness.machine.fingerprint`), never another kind;
* that passed its gate, or had nothing to compare with (the first run of a machine kind);
* the newest such run, by the time it finished.

A baseline named on the command line must meet the first two rules; one that does not is one
line naming what differs. The gate says which baseline it used, its commit and its age.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.machine.fingerprint import differences, fingerprint_id
from harness.results.store import MANIFEST, load_manifest, resolve_run

#: The verdicts of a gate (recorded in its run's manifest); a failed run is never a baseline.
PASSED, FAILED, NO_BASELINE = "pass", "fail", "no baseline"


@dataclass(frozen=True)
class Baseline:
    """A run the gate compares against, with what the gate says about it."""

    run_dir: Path
    manifest: dict[str, Any]

    @property
    def ci(self) -> dict[str, Any]:
        return self.manifest["ci"]

    def describe(self, now: dt.datetime) -> str:
        """'run X (commit abc123 on main, 2 h 5 min old, 5 processes, verdict pass)'."""
        ci = self.ci
        commit = ci.get("commit") or "unknown commit"
        branch = f" on {ci['branch']}" if ci.get("branch") else ""
        return (f"run {self.run_dir.name} (commit {commit}{branch}, "
                f"{_age(ci.get('finished', ''), now)}, {self.manifest.get('processes')} "
                f"processes, its gate: {ci.get('verdict', 'unknown')})")


def ci_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of a run written by `archbench ci`, or None for any other folder."""
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("ci"), dict) \
        else None


def find_baseline(results_dir: Path, fingerprint: Mapping[str, str],
                  exclude: str = "") -> tuple[Baseline | None, str]:
    """The newest passing multi-process CI run of this machine kind in `results_dir`, and a
    note on the runs passed over (empty when none was)."""
    mine = fingerprint_id(fingerprint)
    candidates, passed_over = [], {"from another machine kind": 0,
                                   "that failed their gate": 0, "with one process": 0}
    for run_dir in sorted(Path(results_dir).glob("*")) if Path(results_dir).is_dir() else []:
        manifest = ci_manifest(run_dir) if run_dir.name != exclude else None
        if manifest is None or "verdict" not in manifest["ci"] or manifest["ci"].get("role"):
            continue  # not a CI run, one that never finished, or the base of a --base gate
        ci = manifest["ci"]
        if ci.get("fingerprint_id") != mine:
            passed_over["from another machine kind"] += 1
        elif ci["verdict"] == FAILED:
            passed_over["that failed their gate"] += 1
        elif int(manifest.get("processes") or 0) < 2:
            passed_over["with one process"] += 1
        else:
            candidates.append(Baseline(run_dir, manifest))
    note = ", ".join(f"{count} {why}" for why, count in passed_over.items() if count)
    note = f"passed over {note}" if note else ""
    if not candidates:
        return None, note
    return max(candidates, key=lambda b: str(b.ci.get("finished", ""))), note


def named_baseline(name: str, results_dir: Path, fingerprint: Mapping[str, str]) -> Baseline:
    """The run `--baseline` names, checked: a multi-process CI run of this machine kind."""
    run_dir = resolve_run(name, results_dir)
    manifest = ci_manifest(run_dir)
    if manifest is None:
        load_manifest(run_dir)  # a malformed manifest says so first
        raise UsageError(f"baseline '{name}' was not written by archbench ci, so it records no "
                         "machine fingerprint; name a run of archbench ci from this machine kind")
    recorded = manifest["ci"].get("fingerprint") or {}
    if manifest["ci"].get("fingerprint_id") != fingerprint_id(fingerprint):
        raise UsageError(f"baseline '{name}' comes from another machine kind "
                         f"({'; '.join(differences(recorded, fingerprint))}); its timings are not "
                         "comparable with this machine's: name a run from this machine kind")
    if int(manifest.get("processes") or 0) < 2:
        raise UsageError(f"baseline '{name}' was timed in one process, which cannot show the "
                         "spread between processes; name a run with --processes 2 or more")
    return Baseline(run_dir, manifest)


def _age(finished: str, now: dt.datetime) -> str:
    """How long ago an ISO time was, in words ('3 d 2 h old', '2 h 5 min old')."""
    try:
        then = dt.datetime.fromisoformat(finished)
    except ValueError:
        return "of unknown age"
    seconds = max(0, int((now - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h old"
    if hours:
        return f"{hours} h {minutes} min old"
    return f"{minutes} min {seconds} s old" if minutes else f"{seconds} s old"
