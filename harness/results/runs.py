"""The runs a report reads, loaded together, and how their cases are ordered and named.

A report never re-measures: it reads what `harness.results.store` stored. Several runs are stacked
into one table; the ``run_id`` column tells their rows apart, and every label a figure shows
carries the run id as soon as there is more than one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.results.schema import ops_frame
from harness.results.store import load_manifest, load_ops, load_results, load_samples, resolve_run

#: What makes two rows "the same case" across runs (a case id also encodes this, but matching
#: on the columns does not depend on how case ids are spelled). `hardware` is "" unless the
#: run ran its matrix per kind of node (--per-hardware; `load_runs` turns NA into "", so
#: that grouping on the key keeps every other run's rows).
CASE_KEY = ["suite", "size", "backend", "phase", "scenario", "batch_size", "hardware"]
#: A case within a run.
CASE_ID = ["run_id", *CASE_KEY]
#: The cases a backend is compared across: same run, model, phase, scenario and batch size
#: (a throughput number and a latency number of one model answer different questions).
ROW_KEY = ["run_id", "suite", "size", "phase", "scenario", "batch_size"]

#: Inference first: it is what most readers compare backends on.
PHASE_ORDER = ("infer", "train")
#: A figure's selector entry: (phase, scenario, batch size), each None where the run recorded
#: none.
Group = tuple[str | None, str | None, int | None]
#: Scenarios in reading order: the pipelined number first, then one request at a time.
SCENARIO_ORDER = ("throughput", "latency", "batch-sweep")


@dataclass(frozen=True)
class RunSet:
    """The rows, raw samples and manifests of one or more runs, in the order they were given,
    with the op tables of profiled runs and where each run's folder is (its traces)."""

    results: pd.DataFrame
    samples: pd.DataFrame
    manifests: dict[str, dict[str, Any]]
    ops: pd.DataFrame = field(default_factory=lambda: ops_frame([]))
    run_dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return list(self.manifests)

    def only(self, run_id: str) -> RunSet:
        """The same data restricted to one run."""
        return RunSet(results=self.results[self.results["run_id"] == run_id],
                      samples=self.samples[self.samples["run_id"] == run_id],
                      manifests={run_id: self.manifests[run_id]},
                      ops=self.ops[self.ops["run_id"] == run_id],
                      run_dirs={k: v for k, v in self.run_dirs.items() if k == run_id})


def load_runs(run_dirs: Sequence[Path]) -> RunSet:
    """Load every run folder; a run given twice is refused (its rows could not be told apart)."""
    if not run_dirs:
        raise UsageError("no run to report on; give one or more run folders or run ids")
    manifests: dict[str, dict[str, Any]] = {}
    results, samples, ops, folders = [], [], [], {}
    for given in run_dirs:
        run_dir = resolve_run(given)
        manifest = load_manifest(run_dir)
        run_id = str(manifest.get("run_id") or run_dir.name)
        if run_id in manifests:
            raise UsageError(f"run '{run_id}' is given twice; give each run once")
        manifests[run_id] = manifest
        # The folder is the run: its rows carry its manifest's id, whatever they say.
        results.append(load_results(run_dir).assign(run_id=run_id).astype({"run_id": "string"}))
        samples.append(load_samples(run_dir).assign(run_id=run_id).astype({"run_id": "string"}))
        ops.append(load_ops(run_dir).assign(run_id=run_id).astype({"run_id": "string"}))
        folders[run_id] = run_dir
    table = pd.concat(results, ignore_index=True)
    table["hardware"] = table["hardware"].fillna("")
    return RunSet(results=order_cases(table, list(manifests)),
                  samples=pd.concat(samples, ignore_index=True), manifests=manifests,
                  ops=pd.concat(ops, ignore_index=True), run_dirs=folders)


def case_name(row: Any) -> str:
    """A case in one line: its key, '·'-separated (comparisons and histories name cases so)."""
    return (f"{row.suite} · {row.size} · {row.backend} · {row.phase} · {row.scenario} · "
            f"bs {row.batch_size}" + (f" · on {row.hardware}" if row.hardware else ""))


def backend_rank(backend: str) -> tuple[int, str]:
    """Sort key for backend names: the registry's order (`harness.backends.BACKENDS`), then any
    other name alphabetically.

    The order lives with the backends so that a new backend needs no change here; names outside
    the registry are normal too (an imported run names its backends after its tests). The
    registry is imported here, when runs are sorted, not with this module: it loads torch and
    onnx (seconds), which commands that only read results (`archbench history`) never need.
    """
    from harness.backends import BACKENDS

    order = list(BACKENDS)
    if backend in order:
        return order.index(backend), ""
    return len(order), backend


def phase_rank(phase: object) -> tuple[int, str]:
    """Sort key for phases: `PHASE_ORDER`, then any other phase by name, then none recorded."""
    if _missing(phase):
        return len(PHASE_ORDER) + 1, ""
    if phase in PHASE_ORDER:
        return PHASE_ORDER.index(phase), ""
    return len(PHASE_ORDER), str(phase)


def order_cases(frame: pd.DataFrame, run_ids: Sequence[str]) -> pd.DataFrame:
    """Rows in reading order: run as given, suite as first seen, size by model size, backend.

    Sizes sort by parameter count rather than by name, so a user suite's sizes (or a size that
    failed before counting parameters, which sorts last) need no fixed vocabulary.
    """
    if frame.empty:
        return frame.reset_index(drop=True)
    suites = list(dict.fromkeys(frame["suite"].dropna()))
    keys = pd.DataFrame({
        "run": frame["run_id"].map({run: i for i, run in enumerate(run_ids)}).fillna(len(run_ids)),
        "suite": frame["suite"].map({suite: i for i, suite in enumerate(suites)}),
        "params": frame.groupby(["suite", "size"], dropna=False)["params"].transform("max"),
        "backend": frame["backend"].map(lambda b: backend_rank(str(b))),
        "hardware": frame["hardware"],  # side by side, per backend
        "phase": frame["phase"].map(phase_rank),
        "scenario": frame["scenario"].map(lambda v: scenario_rank(_text(v))),
        "batch": frame["batch_size"],
    }, index=frame.index)
    keys["params"] = (pd.to_numeric(keys["params"], errors="coerce").astype("float64")
                      .fillna(float("inf")))
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def groups(frame: pd.DataFrame) -> list[Group]:
    """The (phase, scenario, batch size) triples present, in reading order: what a figure's
    selector offers.

    Any may be missing (None): a run imported from another project need not record them, and
    its rows must still be drawn, under a group of their own.
    """
    triples = frame[["phase", "scenario", "batch_size"]].drop_duplicates()
    found = {(_text(phase), _text(scenario), None if _missing(batch) else int(batch))
             for phase, scenario, batch in triples.itertuples(index=False)}
    return sorted(found, key=lambda group: (phase_rank(group[0]), scenario_rank(group[1]),
                                            group[2] is None, group[2] or 0))


def scenario_rank(scenario: str | None) -> tuple[int, str]:
    """Sort key for scenarios: `SCENARIO_ORDER`, then any other scenario by name, then none
    recorded (a run from before scenarios existed, or imported from another tool)."""
    if scenario is None:
        return len(SCENARIO_ORDER) + 1, ""
    if scenario in SCENARIO_ORDER:
        return SCENARIO_ORDER.index(scenario), ""
    return len(SCENARIO_ORDER), scenario


def group_label(group: Group) -> str:
    phase, scenario, batch_size = group
    return (f"{phase or 'phase not recorded'}, {scenario or 'scenario not recorded'}, "
            + ("batch size not recorded" if batch_size is None else f"batch size {batch_size}"))


def in_group(frame: pd.DataFrame, group: Group) -> pd.DataFrame:
    phase, scenario, batch_size = group
    batches = frame["batch_size"]
    same_batch = batches.isna() if batch_size is None else batches == batch_size
    keep = (_same(frame["phase"], phase) & _same(frame["scenario"], scenario) & same_batch)
    return frame[keep.fillna(False).astype(bool)]


def _same(column: pd.Series, value: str | None) -> pd.Series:
    return (column.isna() | (column == "")) if value is None else column == value


def _text(value: object) -> str | None:
    return None if _missing(value) else str(value)


def _missing(value: object) -> bool:
    """NA, None or empty: a field the run did not record (escaped text turns NA into '')."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return True
    return isinstance(value, str) and value == ""


def row_labels(frame: pd.DataFrame, multi_run: bool, *, with_backend: bool = False) -> pd.Series:
    """'suite · size' (and backend, and the kind of node of a --per-hardware run), prefixed by
    the run id when the report holds several runs.

    `multi_run` is a property of the whole report, not of `frame`: a figure's selector may show
    a subset holding one run's rows only, and its labels must still say which run that is.
    """
    parts = [frame["suite"].astype(str), frame["size"].astype(str)]
    if with_backend:
        parts.append(frame["backend"].astype(str))
    if (frame["hardware"] != "").any():
        parts.append(frame["hardware"].astype(str))
    if multi_run:
        parts.insert(0, frame["run_id"].astype(str))
    label = parts[0]
    for part in parts[1:]:
        label = label + " · " + part
    return label
