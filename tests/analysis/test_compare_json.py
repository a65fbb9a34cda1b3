"""A comparison as JSON: the same verdicts as the markdown, as data any JSON reader takes."""

from __future__ import annotations

import json

from harness.analysis.compare import compare_runs
from harness.analysis.compare_json import comparison_json
from harness.cli import main
from tests.fake_runs import case_id


def test_json_carries_the_outcome_and_each_case_verdict(fake_run, capsys):
    slow = case_id("cnn", "small", "cpu-eager", "infer")
    base, new = fake_run("base", seed=1), fake_run("new", seed=2, slowdown={slow: 1.5})
    assert main(["compare", str(base), str(new), "--format", "json",
                 "--report-url", "https://ci.example/r.html"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == 1 and document["base"] == "base"
    assert document["report"] == "https://ci.example/r.html"
    first, *rest = document["cases"]  # slower first
    assert (first["suite"], first["size"], first["backend"], first["phase"],
            first["verdict"]) == ("cnn", "small", "cpu-eager", "infer", "slower")
    assert first["ratio"] > 1.2 and {row["verdict"] for row in rest} <= {"same", None}
    assert document == json.loads(comparison_json(compare_runs(base, new),
                                                  "https://ci.example/r.html"))
