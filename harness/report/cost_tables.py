"""The table of the report's cost section: what a case costs per million samples and per joule,
beside how fast it is, with the cases no other case beats on both marked (the Pareto front).
A pure function, frames in and out, as `tables`."""

from __future__ import annotations

import pandas as pd

from harness.report.tables import CASE_COLUMNS, ROW_KEY

#: The axes a case can be cheaper on: dollars (a run given prices) and energy (where the
#: hardware counted it); each is weighed against the time of a step.
COSTS = ("usd_per_million_samples", "energy_j_per_sample")


def cost_table(results: pd.DataFrame) -> pd.DataFrame:
    """Every finished case with a cost, its time, throughput and parity, and per cost whether it
    is on the Pareto front of its comparable cases (`ROW_KEY`: the same model, phase, scenario
    and batch size, on any backend or kind of machine)."""
    columns = [*CASE_COLUMNS, "median_ms", "throughput_sps", "parity_ok", "usd_per_hour",
               *COSTS, *(f"front_{cost}" for cost in COSTS)]
    finished = results[results["status"] == "ok"]
    priced = finished[finished[list(COSTS)].notna().any(axis=1)].copy()
    if priced.empty:
        return pd.DataFrame(columns=columns)
    for cost in COSTS:
        priced[f"front_{cost}"] = False
        for _, group in priced.groupby(ROW_KEY, dropna=False):
            priced.loc[group.index, f"front_{cost}"] = pareto_front(group[[cost, "median_ms"]])
    return priced[columns].sort_values([*ROW_KEY, "usd_per_million_samples"]).reset_index(
        drop=True)


def pareto_front(points: pd.DataFrame) -> pd.Series:
    """Per point (row) of two columns, both lower-is-better: whether no other point is at
    least as low on both and lower on one. A point missing either value is not on it."""
    cost, time = (points[c].astype(float) for c in points.columns)
    known = cost.notna() & time.notna()
    front = pd.Series(False, index=points.index)
    for index in points.index[known]:
        beaten = ((cost[known] <= cost[index]) & (time[known] <= time[index])
                  & ((cost[known] < cost[index]) | (time[known] < time[index])))
        front[index] = not beaten.any()
    return front
