"""Where and how a run measured, and the differences that make two runs' timings incomparable.

A median measured on another machine, with another torch, another thread count or another
timing budget differs for that reason alone, so `archbench compare` warns about each such
difference (and refuses it with ``--strict``) before any verdict is read. The facts come from
the manifest *and* from the rows: a resumed run stamps the environment of the session that ran
each case on its rows, so a run can contradict its own manifest, and itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd

from harness.measure.timing import TimingPolicy

#: Environment fields, recorded in the manifest and on every row.
MACHINE_FIELDS = ("hostname", "cpu_model", "cpu_isa", "gpu_name")
LIBRARY_FIELDS = ("torch_version", "onnxruntime_version", "python_version", "cuda_version")
ENVIRONMENT_FIELDS = (*MACHINE_FIELDS, "cpu_cores", *LIBRARY_FIELDS)
#: The manifest records the timing policy as a dict of `TimingPolicy` fields.
POLICY_FIELDS = tuple(f"timing_policy.{f.name}" for f in fields(TimingPolicy))
#: Thread counts: asked for (0: all CPUs), used by the sweep, set in each finished case.
THREAD_FIELDS = ("config.threads", "threads", "torch_threads")
#: Facts only a sweep records (from its configuration); an import has none to compare.
SWEEP_FIELDS = ("config.threads", "threads", "config.quick", *POLICY_FIELDS)
#: One warning line per group whose facts differ: how the line starts, and the facts it names.
FACT_GROUPS = (
    ("the runs come from different machines", MACHINE_FIELDS),
    ("the runs had different CPU core counts", ("cpu_cores",)),
    ("the runs used different library versions", LIBRARY_FIELDS),
    ("the runs used different thread counts", THREAD_FIELDS),
    ("a quick run against a full run", ("config.quick",)),
    ("the runs used different timing policies", POLICY_FIELDS),
    ("an import against a sweep", ("kind",)),
)
#: What a run recorded about where and how it measured: fact -> its distinct values, as text.
Facts = dict[str, tuple[str, ...]]


def run_facts(manifest: Mapping[str, Any], results: pd.DataFrame) -> Facts:
    """Where and how a run measured, from its manifest and its rows (pure: dict and frame in).

    Each fact maps to every distinct value the run recorded for it, as text; a fact the run
    never recorded is absent, and one with several values is a run that contradicts itself.
    The environment comes from the manifest *and* from every row. Thread counts come from the
    configuration (``config.threads``, 0 for all CPUs), from the manifest (``threads``, what
    the sweep used) and from the rows that finished (``torch_threads``; the others never set
    it); ``config.quick`` and the timing policy from the manifest. ``kind`` tells a sweep from
    an import (a manifest with a ``source``), which has no configuration.
    """
    environment = manifest.get("environment") or {}
    config = manifest.get("config") or {}
    policy = manifest.get("timing_policy") or {}
    found: dict[str, set[str]] = {}

    def add(fact: str, values: Any) -> None:
        found.setdefault(fact, set()).update(_fact_text(value) for value in values)

    for name in ENVIRONMENT_FIELDS:
        add(name, [environment[name]] if environment.get(name) is not None else [])
        if name in results:
            add(name, results[name].dropna().unique())
    if "torch_threads" in results:
        finished = results[results["status"].eq("ok").fillna(False)]
        add("torch_threads", finished["torch_threads"].dropna().unique())
    for key in ("threads", "quick"):
        add(f"config.{key}", [config[key]] if config.get(key) is not None else [])
    add("threads", [manifest["threads"]] if manifest.get("threads") is not None else [])
    for key, value in policy.items():
        add(f"timing_policy.{key}", [value] if value is not None else [])
    add("kind", ["imported" if "source" in manifest else "sweep"])
    return {fact: tuple(sorted(values)) for fact, values in found.items() if values}


def fact_warnings(base_id: str, base: Facts, new_id: str, new: Facts) -> list[str]:
    """One line per run that contradicts itself, then one per group of facts that differ.

    A fact recorded by neither run is no difference; one recorded by one run only is (the
    other may have measured differently, and nothing says it did not). Between an import and
    a sweep, the sweep's configuration facts are not compared one by one: the import has none,
    and "an import against a sweep" already says that the timing rules differ.
    """
    warnings = []
    for run_id, facts in ((base_id, base), (new_id, new)):
        mixed = [f"{fact} {_values_text(values)}" for fact, values in facts.items()
                 if len(values) > 1]
        if mixed:
            warnings.append(f"run '{run_id}' contradicts itself: {', '.join(mixed)}; it holds "
                            "rows from sessions in different environments (a resumed run?), "
                            "so its cases are not comparable with each other")
    skip = SWEEP_FIELDS if base.get("kind") != new.get("kind") else ()
    for opening, facts in FACT_GROUPS:
        changed = [f"{fact} {_values_text(base.get(fact))} vs {_values_text(new.get(fact))}"
                   for fact in facts if fact not in skip and base.get(fact) != new.get(fact)]
        if changed:
            warnings.append(f"{opening}: {', '.join(changed)} (base '{base_id}' vs new "
                            f"'{new_id}'); timings may differ for that reason alone")
    return warnings


def _fact_text(value: object) -> str:
    """A recorded value as text; numbers by value, so that 5 and 5.0 are the same fact."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value)
    return f"{float(value):.15g}"


def _values_text(values: tuple[str, ...] | None) -> str:
    if values is None:
        return "not recorded"
    return " + ".join(f"'{value}'" for value in values)
