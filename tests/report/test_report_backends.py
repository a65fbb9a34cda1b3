"""Backend order and colour in reports come from the backend registry, with fallbacks.

A new backend is added in `harness.backends` only; the report must place and colour it without
a change of its own, and an imported run may name backends the registry never heard of.
"""

from __future__ import annotations

import pytest
from page_reading import plotted_figures

from harness.backends import BACKENDS, COLORS
from harness.report import write_report
from harness.report.plotting import backend_color
from harness.results.runs import backend_rank
from tests.fake_runs import case_id

NEW_BACKEND = "cuda-compile-hypothetical"  # registered below, without a colour


@pytest.fixture
def new_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    # a name the registry really takes would be placed and coloured as itself, proving nothing
    assert NEW_BACKEND not in BACKENDS and NEW_BACKEND not in COLORS
    monkeypatch.setitem(BACKENDS, NEW_BACKEND, BACKENDS["cuda-compile"])
    return NEW_BACKEND


def _registry_colors() -> set[str]:
    return {color.lower() for color in COLORS.values()}


def test_registry_reads_torch_cpu_then_torch_cuda_then_the_deployment_runtimes():
    families = [name.split("-")[0] for name in BACKENDS]
    assert families == sorted(families, key=["cpu", "cuda", "ort", "ov"].index)
    assert list(BACKENDS)[0] == "cpu-eager"


def test_report_order_is_the_registry_order_then_other_names_alphabetically(new_backend):
    names = ["zz-imported", *reversed(list(BACKENDS)), "aa-imported"]
    assert sorted(names, key=backend_rank) == [*BACKENDS, "aa-imported", "zz-imported"]
    # the backend registered after the others sorts with them, before any unknown name
    assert backend_rank(new_backend) < backend_rank("aa-imported")


def test_colours_come_from_the_registry(monkeypatch):
    for name, color in COLORS.items():
        assert backend_color(name) == color
    monkeypatch.setitem(COLORS, "cpu-eager", "#123456")
    assert backend_color("cpu-eager") == "#123456"


def test_a_backend_without_a_colour_gets_a_stable_spare_one_never_a_known_ones(new_backend):
    names = [new_backend, *(f"test_benchmark_{i}" for i in range(40))]
    for name in names:
        assert backend_color(name) == backend_color(name)
        assert backend_color(name).lower() not in _registry_colors(), name


def test_the_report_places_and_colours_a_new_and_an_unknown_backend(new_backend, fake_run,
                                                                    tmp_path):
    renamed = {case_id(suite, size, "cpu-compile", phase): {"backend": new_backend}
               for suite in ("cnn", "rnn") for size in ("tiny", "small")
               for phase in ("infer", "train")}
    renamed.update({case_id("transformer", size, "cpu-compile", phase): {"backend": "bench_x"}
                    for size in ("tiny", "small") for phase in ("infer", "train")})
    page = write_report([fake_run("run-a", rows=renamed)], tmp_path / "out").read_text()
    summary = plotted_figures(page)["fig-summary"][0][0]
    # registry order (the new backend was registered last), then the unknown name
    assert summary["x"] == ["cpu-eager", "ort-cpu-int8", new_backend, "bench_x"]
    lines = {trace["name"]: trace["line"]["color"]
             for trace in plotted_figures(page)["fig-throughput"][0] if "line" in trace}
    assert lines[new_backend] == backend_color(new_backend)
    assert lines["bench_x"] == backend_color("bench_x")
    assert lines["cpu-eager"] == COLORS["cpu-eager"]
