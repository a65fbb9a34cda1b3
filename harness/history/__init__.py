"""The history of many runs: an embedded database over the run folders (`store`), the series
of a case across commits (`trends`), the steps found in them (`steps`), and the rolling
baseline a CI gate compares against (`baseline`). Where a run's commit sits in git is read
when the run is made (`harness.machine.provenance`), so reading a history needs no git.

May import: `results`, `measure` (statistics), `machine` (fingerprints, commits), `errors`.
Imported by `report`, `ci` and the CLI; never by a case's process.
"""

#: Runs of a rolling baseline (`harness.history.baseline`).
DEFAULT_BASELINE_RUNS = 5
#: The main line's branch; runs recorded on no branch count as on it.
MAIN_BRANCH = "main"
#: Smallest step reported, and how many commits a new level must last (`harness.history.steps`).
STEP_THRESHOLD = 0.10
MIN_PERSISTENCE = 3
#: Output formats of `history show`, `history regressions` and `compare`.
FORMATS = ("text", "markdown", "json")
