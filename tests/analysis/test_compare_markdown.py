"""The markdown of a comparison: verdict first, what changed, unchanged collapsed; the same
text through `archbench compare --format markdown`."""

from __future__ import annotations

from harness.analysis.compare import compare_runs
from harness.analysis.compare_markdown import comparison_markdown
from harness.cli import main
from tests.fake_runs import case_id


def test_markdown_puts_the_verdict_first_and_the_regression_in_a_table(fake_run):
    slow = case_id("cnn", "small", "cpu-eager", "infer")
    base, new = fake_run("base", seed=1), fake_run("new", seed=2, slowdown={slow: 1.5})
    text = comparison_markdown(compare_runs(base, new), "archbench ci", ["baseline: run base"])
    lines = text.splitlines()
    assert lines[0].startswith("### ❌ archbench ci: 1 slower") and "exit 1" in lines[0]
    assert "baseline: run base" in text
    changed = text.split("**Changed (1)**", 1)[1].split("<details>", 1)[0]
    assert "`cnn · small · cpu-eager · infer · latency · bs 16`" in changed
    assert "| slower |" in changed and changed.count("\n|") == 3  # header, rule, one row
    assert "unchanged</summary>" in text and "not compared</summary>" in text


def test_markdown_of_a_passing_comparison_says_so(fake_run):
    text = comparison_markdown(compare_runs(fake_run("base", seed=1), fake_run("new", seed=2)))
    assert text.startswith("### ✅ archbench compare: 0 slower") and "**Changed" not in text


def test_compare_prints_markdown_on_request(fake_run, capsys):
    base, new = fake_run("base", seed=1), fake_run("new", seed=2)
    assert main(["compare", str(base), str(new), "--format", "markdown"]) == 0
    assert capsys.readouterr().out == comparison_markdown(compare_runs(base, new))


def test_markdown_links_the_report_when_given_one(fake_run):
    text = comparison_markdown(compare_runs(fake_run("base", seed=1), fake_run("new", seed=2)),
                               report_url="https://ci.example/report/index.html")
    assert "[Report](https://ci.example/report/index.html)" in text.splitlines()[2]
