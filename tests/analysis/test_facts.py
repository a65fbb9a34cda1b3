"""What a run recorded about where and how it measured, and the warnings two runs' facts give.

Pure functions: facts are fed as dicts and frames; the whole-run path (`compare_runs` with
``strict``) is tested in `test_report_compare`.
"""

from __future__ import annotations

import pandas as pd
import pytest

from harness.analysis.facts import fact_warnings, run_facts

FACTS = {"hostname": ("a",), "cpu_model": ("X",), "gpu_name": ("",), "cpu_cores": ("8",),
         "torch_version": ("2.4.0",), "onnxruntime_version": ("1.18.0",),
         "python_version": ("3.11.9",), "config.threads": ("0",), "threads": ("8",),
         "torch_threads": ("8",), "config.quick": ("False",), "timing_policy.t_max": ("5",),
         "kind": ("sweep",)}


def test_identical_facts_give_no_warning():
    assert fact_warnings("b", FACTS, "n", dict(FACTS)) == []


@pytest.mark.parametrize(("changed", "opening", "named"), [
    ({"hostname": ("b",)}, "different machines", "hostname 'a' vs 'b'"),
    ({"cpu_cores": ("4",)}, "different CPU core counts", "cpu_cores '8' vs '4'"),
    ({"torch_version": ("2.5.0",)}, "different library versions",
     "torch_version '2.4.0' vs '2.5.0'"),
    ({"config.threads": ("4",)}, "different thread counts", "config.threads '0' vs '4'"),
    ({"threads": ("4",)}, "different thread counts", "threads '8' vs '4'"),
    ({"torch_threads": ("4",)}, "different thread counts", "torch_threads '8' vs '4'"),
    ({"config.quick": ("True",)}, "a quick run against a full run",
     "config.quick 'False' vs 'True'"),
    ({"timing_policy.t_max": ("0.3",)}, "different timing policies",
     "timing_policy.t_max '5' vs '0.3'"),
])
def test_each_difference_is_one_line_naming_both_values(changed, opening, named):
    (warning,) = fact_warnings("b", FACTS, "n", {**FACTS, **changed})
    assert opening in warning and named in warning and "\n" not in warning


def test_a_fact_recorded_on_one_side_only_warns_and_on_neither_does_not():
    without_policy = {k: v for k, v in FACTS.items() if k != "timing_policy.t_max"}
    (warning,) = fact_warnings("b", without_policy, "n", FACTS)
    assert "timing_policy.t_max not recorded vs '5'" in warning
    assert fact_warnings("b", without_policy, "n", dict(without_policy)) == []


def test_a_run_with_two_values_of_a_fact_contradicts_itself():
    mixed = {**FACTS, "hostname": ("a", "b")}
    warnings = fact_warnings("b", FACTS, "n", mixed)
    assert any(w.startswith("run 'n' contradicts itself: hostname 'a' + 'b'") for w in warnings)
    assert any("hostname 'a' vs 'a' + 'b'" in w for w in warnings)


def test_an_import_against_a_sweep_is_one_warning_not_one_per_sweep_setting():
    sweep_only = ("config.threads", "threads", "config.quick", "timing_policy.t_max")
    imported = {k: v for k, v in FACTS.items() if k not in sweep_only}
    (warning,) = fact_warnings("b", FACTS, "n", {**imported, "kind": ("imported",)})
    assert warning.startswith("an import against a sweep: kind 'sweep' vs 'imported'")


def test_run_facts_read_the_manifest_and_every_row():
    manifest = {"environment": {"hostname": "a", "cpu_cores": 8}, "source": "pytest-benchmark",
                "config": {"quick": True, "threads": 0}, "threads": 8,
                "timing_policy": {"t_max": 5.0, "n_min": 20}}
    rows = pd.DataFrame({"hostname": ["a", "b", None], "cpu_cores": [8, 8, 8],
                         "status": ["ok", "ok", "error"], "torch_threads": [4, 4, 2]})
    facts = run_facts(manifest, rows)
    assert facts["hostname"] == ("a", "b")  # a resumed session on another machine
    assert facts["cpu_cores"] == ("8",)
    assert facts["torch_threads"] == ("4",)  # rows that did not finish set no threads
    assert (facts["config.quick"], facts["kind"]) == (("True",), ("imported",))
    assert (facts["config.threads"], facts["threads"]) == (("0",), ("8",))
    assert (facts["timing_policy.t_max"], facts["timing_policy.n_min"]) == (("5",), ("20",))
    assert "gpu_name" not in facts and "torch_version" not in facts  # not recorded
