"""The terminal table of `archbench run` and `show`."""

from __future__ import annotations

import math

import pandas as pd

from harness.results.schema import to_frame
from harness.terminal.summary import human_count, precision_summary, status_counts, summary_text

BASE = {"suite": "cnn", "size": "tiny", "backend": "cpu-eager", "phase": "infer",
        "scenario": "throughput", "batch_size": 32}


def test_rows_show_median_with_interval_noise_and_reasons() -> None:
    frame = to_frame([
        {**BASE, "case_id": "a", "status": "ok", "median_ms": 1.234, "ci_low_ms": 1.2,
         "ci_high_ms": 1.3, "noisy": True, "n": 40, "throughput_sps": 25931.0,
         "accuracy": 0.9, "parity_ok": False},
        {**BASE, "case_id": "b", "status": "ok", "median_ms": 2.0, "ci_low_ms": math.nan,
         "ci_high_ms": math.nan, "noisy": False, "n": 5, "parity_ok": True},
        {**BASE, "case_id": "c", "status": "error", "reason": "RuntimeError: " + "x" * 100},
    ])
    lines = summary_text(frame, reason_width=30).splitlines()
    assert len(lines) == 4
    assert "1.23 [1.2, 1.3] noisy" in lines[1] and "25,931" in lines[1] and "FAIL" in lines[1]
    assert "0.900" in lines[1]
    assert " 2 " in lines[2] and "[" not in lines[2] and "noisy" not in lines[2]
    assert lines[2].rstrip().endswith("ok")  # parity ok, no reason
    assert "RuntimeError: xxx" in lines[3] and lines[3].rstrip().endswith("…")
    assert "x" * 30 not in lines[3]


def test_a_server_row_shows_its_peak_load_with_interval_and_target() -> None:
    frame = to_frame([{**BASE, "scenario": "server", "case_id": "s", "status": "ok",
                       "median_ms": 1e3 / 412, "peak_qps": 412.0, "peak_ci_low_qps": 380.0,
                       "peak_ci_high_qps": 440.0, "slo_ms": 50.0},
                      {**BASE, "case_id": "t", "status": "ok", "median_ms": 1.0}])
    lines = summary_text(frame).splitlines()
    assert "peak q/s [CI] @ p99 target" in lines[0]
    assert "412 [380, 440] @ 50 ms" in lines[1] and "@" not in lines[2]


def test_a_case_the_cluster_lost_and_ran_again_says_so() -> None:
    frame = to_frame([{**BASE, "case_id": "r", "status": "ok", "median_ms": 1.0, "retries": 1,
                       "lost_nodes": "process 2: node lost: 4bf60ae5e1f4@10.0.0.2: NodeDiedError",
                       "contention_note": "contended"},
                      {**BASE, "case_id": "q", "status": "ok", "median_ms": 1.0,
                       "contention_note": "contended"}])
    lines = summary_text(frame, reason_width=100).splitlines()
    assert lines[1].rstrip().endswith(
        "retried: process 2: node lost: 4bf60ae5e1f4@10.0.0.2: NodeDiedError; contended")
    assert lines[2].rstrip().endswith("contended") and "retried" not in lines[2]


def test_empty_table_and_status_counts() -> None:
    assert summary_text(to_frame([])) == "(no cases)"
    frame = to_frame([{**BASE, "case_id": str(i), "status": s}
                      for i, s in enumerate(["ok", "ok", "skipped"])])
    assert status_counts(frame) == "2 ok, 1 skipped"


def test_human_count() -> None:
    assert human_count(1_234_567) == "1.23M"
    assert human_count(15_420) == "15.4k"
    assert human_count(2.5e9) == "2.5G"
    assert human_count(999) == "999"
    assert human_count(math.nan) == ""


def test_skipped_cases_are_grouped_by_reason_under_the_cases_that_ran() -> None:
    cuda = "no CUDA device visible to torch"
    rows = [{**BASE, "case_id": "ran", "status": "ok", "median_ms": 1.0},
            {**BASE, "case_id": "err", "status": "error", "reason": "RuntimeError: boom"}]
    rows += [{**BASE, "case_id": f"c{i}", "backend": backend, "size": size, "status": "skipped",
              "reason": cuda}
             for i, (backend, size) in enumerate((b, s) for b in ("cuda-eager", "cuda-compile",
                                                                  "cuda-amp-bf16", "ort-cuda",
                                                                  "cuda-eager-x")
                                                 for s in ("tiny", "small"))]
    rows += [{**BASE, "case_id": f"r{i}", "backend": f"b{i}", "status": "skipped",
              "reason": f"reason {i}"} for i in range(9)]
    frame = to_frame(rows)
    text = summary_text(frame)
    table, grouped = text.split("\n\n")
    assert len(table.splitlines()) == 3  # header, the case that ran, the one that failed
    lines = grouped.splitlines()
    assert lines[0] == "skipped: 19 cases, by reason (archbench show --all lists each one)"
    # most cases first; backends in registry order, the fifth counted
    assert lines[1] == ("    10 cases [cuda-eager, cuda-compile, cuda-amp-bf16, ort-cuda +1]: "
                        + cuda)
    assert lines[2].startswith("     1 case  [b") and len(lines) == 2 + 7 + 1
    assert lines[-1] == "     2 cases under 2 other reasons"
    every = summary_text(frame, all_rows=True)
    assert len(every.splitlines()) == 1 + len(frame) and "skipped:" not in every


def test_a_run_where_nothing_ran_says_so_before_its_skips() -> None:
    frame = to_frame([{**BASE, "case_id": "s", "status": "skipped", "reason": "why"}])
    assert summary_text(frame).splitlines()[0] == "(no case ran)"
    assert summary_text(to_frame([{**BASE, "case_id": "a", "status": "ok"}])).count("\n") == 1


def test_a_speedup_over_eager_comes_with_the_interval_its_processes_support() -> None:
    from harness.measure.stats import log_ratio_test
    from harness.results.schema import samples_frame
    from harness.terminal.summary import speedups

    medians = {"e": [4.0, 4.4, 3.8], "o": [2.0, 2.1, 2.4], "one": [1.0], "srv": [1.0, 1.0]}
    frame = to_frame([
        {**BASE, "run_id": "r", "case_id": "e", "status": "ok", "median_ms": 4.06},
        {**BASE, "run_id": "r", "case_id": "o", "backend": "ort-cpu", "status": "ok",
         "median_ms": 2.16},
        {**BASE, "run_id": "r", "case_id": "one", "backend": "ov-cpu", "status": "ok",
         "median_ms": 1.0},  # one process: the ratio, no interval
        {**BASE, "run_id": "r", "case_id": "srv", "scenario": "server", "status": "ok",
         "median_ms": 1.0},  # no eager server case, and not a step time
        {**BASE, "run_id": "r", "case_id": "x", "size": "small", "backend": "ort-cpu",
         "status": "ok", "median_ms": 1.0},  # no eager case on that row
    ])
    samples = samples_frame({"run_id": "r", "case_id": case, "metric": "iter_ms",
                             "process": p, "idx": i, "value": m * f}
                            for case, ms in medians.items() for p, m in enumerate(ms)
                            for i, f in enumerate((0.99, 1.0, 1.01)))
    got = dict(zip(frame["case_id"], speedups(frame, samples), strict=True))
    test = log_ratio_test(medians["e"], medians["o"], 0.95)
    assert got["o"] == f"{4.06 / 2.16:.2f}x [{1 / test.ci_high:.2f}, {1 / test.ci_low:.2f}]"
    assert got["one"] == "4.06x"
    assert got["e"] == got["srv"] == got["x"] == ""
    assert "× cpu-eager [95% CI]" in summary_text(frame, samples=samples).splitlines()[0]
    assert "× cpu-eager" not in summary_text(frame)  # no samples given: no column


def _precision_frame(notes: list[object], reached: list[float]) -> pd.DataFrame:
    return to_frame([{"run_id": "r", "case_id": f"c{i}", "suite": "cnn", "size": "small",
                      "backend": "cpu-eager", "phase": "infer", "scenario": "throughput",
                      "batch_size": 32, "status": "ok", "processes": 3, "ci_target": 0.05,
                      "ci_rel_half_width": value, "ci_met": value <= 0.05,
                      **({"ci_note": note} if note is not None else {})}
                     for i, (note, value) in enumerate(zip(notes, reached, strict=True))])


def test_the_precision_footer_counts_the_cases_that_met_the_target_and_names_the_others():
    frame = _precision_frame([None, "the budget (6.5 min, --budget-min) was spent", None],
                             [0.03, 0.0503, 0.2])
    lines = precision_summary(frame).splitlines()
    assert lines[0] == ("precision (95% interval within ±5% of its centre): 1 of 3 timed cases "
                        "met it")
    # widest first; ±5.0% is not met and must not read as ±5%; a case the sweep never
    # annotated (stopped before it could) says so instead of failing on a missing note
    assert lines[1] == ("  cnn small cpu-eager infer throughput bs32: ±20.0% ×3: no reason "
                        "recorded (the sweep stopped before it said)")
    assert lines[2].endswith("±5.0% ×3: the budget (6.5 min, --budget-min) was spent")


def test_a_run_from_before_targets_has_no_precision_footer():
    frame = _precision_frame([None], [0.03]).assign(ci_met=pd.NA, ci_target=pd.NA)
    assert precision_summary(frame) is None
