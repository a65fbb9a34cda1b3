"""`archbench` as a person meets it: one-line errors, `list`, `run`, `show` and `--resume`."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
import torch

from harness.backends import BACKENDS
from harness.backends.base import no_cuda_reason
from harness.cli import main
from harness.errors import UsageError
from harness.executors import launch as launch_module
from harness.protocol import ProcessResult
from harness.results.store import CASES_DIR, MANIFEST, load_results, save_case, write_json_atomic
from suites.registry import BUILTIN
from tests.conftest import MLP_SUITE_FILE


def run_cli(*argv: str | Path) -> SimpleNamespace:
    """Call `archbench` in-process; capture its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue())


def assert_usage_error(result: SimpleNamespace, *expected: str) -> None:
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("archbench: error: ")
    assert "Traceback" not in result.err + result.out
    for text in expected:
        assert text in lines[0]


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "--suite", "resnet"], ["unknown suite 'resnet'", "cnn, rnn, transformer"]),
    (["run", "--suite", "cnn", "--size", "huge"], ["unknown size 'huge'",
                                                   "tiny, small, medium, large"]),
    (["run", "--backend", "tpu"], ["unknown backend 'tpu'", "cpu-eager", "cuda-amp-fp16"]),
    (["run", "--phase", "eval"], ["unknown phase 'eval'", "train, infer"]),
    (["run", "--scenario", "nope"], ["unknown scenario 'nope'",
                                     "latency, throughput, batch-sweep"]),
    (["run", "--batch-size", "0"], ["batch size must be a positive integer"]),
    (["run", "--batch-size", "many"], ["invalid int value: 'many'"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'", "'list'", "'run'", "'show'"]),
    (["run", "--no-such-option"], ["unrecognized arguments: --no-such-option"]),
    (["show", "no-such-run"], ["no archbench run at 'no-such-run'"]),
    (["run", "--resume", "no-such-run"], ["no archbench run at 'no-such-run'"]),
    (["run", "--processes", "-1"], ["processes must be a positive integer, got -1"]),
    (["ab", "--suite", "cnn", "--size", "tiny", "--new-python", "/no/such/python"],
     ["cannot run cases with python '/no/such/python'"]),
    (["ab", "--resume", "no-such-experiment"], ["no archbench run at 'no-such-experiment-base'"]),
])
def test_bad_input_is_one_line_naming_valid_choices(argv: list[str], expected: list[str],
                                                    results_dir: Path) -> None:
    result = run_cli(*argv, "--results", results_dir)
    assert_usage_error(result, *expected)
    assert not results_dir.exists()  # nothing was started


def test_no_command_at_all_is_a_usage_error() -> None:
    assert_usage_error(run_cli(), "required")


def test_debug_shows_the_exception_instead(results_dir: Path) -> None:
    with pytest.raises(UsageError, match="unknown suite 'resnet'"):
        main(["run", "--suite", "resnet", "--debug", "--results", str(results_dir)])


@pytest.mark.parametrize("source", [
    "def broken(:\n", "x = 1\n", "import archbench_no_such_package\n",
    "from suites.cnn import SUITE\n",  # a suite named like a built-in
    "raise RuntimeError('line one\\nline two')\n",
], ids=["syntax-error", "no-suite", "import-error", "name-clash", "multi-line-error"])
@pytest.mark.parametrize("command", ["run", "list"])
def test_malformed_suite_file_is_a_one_line_error(command: str, source: str,
                                                  write_suite_file, results_dir: Path) -> None:
    path = write_suite_file(source)
    result = run_cli(command, "--suite-file", path, "--results", results_dir)
    assert_usage_error(result, "suite")
    assert not results_dir.exists()


def test_list_shows_suites_sizes_and_backends_with_availability() -> None:
    result = run_cli("list", "--suite-file", MLP_SUITE_FILE)
    assert result.code == 0 and result.err == ""
    lines = result.out.splitlines()
    for name, suite in {**BUILTIN, "mlp": None}.items():
        assert any(line.split()[:1] == [name] for line in lines), name
        for size in (suite.sizes if suite else ["tiny", "small"]):
            assert any(line.strip().lstrip("*").startswith(size) for line in lines)
    cuda = no_cuda_reason() is None  # a machine with CUDA defaults to larger sizes
    for suite in BUILTIN.values():  # this machine's default sizes are marked
        assert all(f"*{size}" in result.out for size in suite.defaults(cuda)), suite.name
    if not cuda:
        assert "*small" in result.out and "*medium" in result.out
    for name, backend in BACKENDS.items():
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        reason = backend.unavailable_reason()
        if reason is None:
            assert "unavailable" not in line
            skips = "".join(f"; {phase}: {skip}" for phase in backend.phases
                            if (skip := backend.default_skip_reason(phase)))
            assert line.endswith(f"available{skips}")
        else:
            assert f"unavailable: {reason}" in line
    if not torch.cuda.is_available():
        (cuda,) = [line for line in lines if line.split()[:1] == ["cuda-eager"]]
        assert "unavailable" in cuda and "CUDA" in cuda


RUN_ARGS = ("--quick", "--suite-file", MLP_SUITE_FILE, "--suite", "mlp", "--size", "tiny",
            "--backend", "cpu-eager", "--phase", "train", "--scenario", "latency",
            "--batch-size", "8", "--threads", "1", "--no-progress")
CASE = "mlp-tiny-cpu-eager-train-latency-bs8"  # --scenario reaches the case


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """`archbench run --quick` of one tiny case of a user suite."""
    results = tmp_path_factory.mktemp("cli") / "results"
    result = run_cli("run", *RUN_ARGS, "--run-id", "cli-run", "--price", "3.6",
                     "--results", results)
    result.results = results
    result.run_dir = results / "cli-run"
    return result


def test_run_quick_prints_the_table_and_keeps_the_run(cli_run: SimpleNamespace) -> None:
    assert cli_run.code == 0, cli_run.err
    assert "run cli-run" in cli_run.err and "Traceback" not in cli_run.err
    (row,) = [line for line in cli_run.out.splitlines()
              if line.split()[:3] == ["mlp", "tiny", "cpu-eager"]]
    assert row.split()[:7] == ["mlp", "tiny", "cpu-eager", "train", "latency", "8", "ok"]
    assert "1 cases (1 ok)" in cli_run.out
    assert (cli_run.run_dir / CASES_DIR / f"{CASE}.json").is_file()


def test_a_run_given_a_price_shows_the_cost_and_the_cheapest_backend(
        cli_run: SimpleNamespace) -> None:
    frame = load_results(cli_run.run_dir)
    assert frame["usd_per_hour"][0] == 3.6
    cost = f"{frame['usd_per_million_samples'][0]:.3g}"
    assert cost == f"{3.6 / 3600 * 1e6 / frame['throughput_sps'][0]:.3g}"
    header, row = cli_run.out.splitlines()[:2]
    assert "$/M samples" in header and f" {cost} " in row
    assert "cheapest backend per million samples (parity passed):" in cli_run.out
    assert f"  mlp tiny train latency bs8: cpu-eager ${cost}" in cli_run.out


@pytest.mark.parametrize(("batch", "expected"), [
    ([], ["mlp-tiny-cpu-eager-infer-throughput-bs32"]),  # the CPU's default plan
    (["--scenario", "throughput", "latency"], ["mlp-tiny-cpu-eager-infer-throughput-bs32",
                                               "mlp-tiny-cpu-eager-infer-latency-bs1"]),
    (["--scenario", "throughput", "latency", "--batch-size", "4"],
     ["mlp-tiny-cpu-eager-infer-throughput-bs4", "mlp-tiny-cpu-eager-infer-latency-bs4"]),
])
def test_run_measures_each_scenario_at_its_batch(
        batch: list[str], expected: list[str], results_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scenario at its own batch, or every one at the batch sizes given."""

    ran: list[str] = []

    def launch_case_process(case, config, cache_dir, log_path, process=0, python=None, **_):
        ran.append(case.case_id)
        return ProcessResult(process, "ok", "", 1.0, {"stop_reason": "converged"},
                             {"iter_ms": [1.0]})

    monkeypatch.setattr(launch_module, "launch_case_process", launch_case_process)
    result = run_cli("run", "--suite-file", MLP_SUITE_FILE, "--suite", "mlp", "--size", "tiny",
                     "--backend", "cpu-eager", "--phase", "infer", *batch, "--processes", "1",
                     "--no-progress", "--run-id", "plan", "--results", results_dir)
    assert result.code == 0, result.err
    assert ran == expected
    assert sorted(path.stem for path in (results_dir / "plan" / CASES_DIR).iterdir()) == (
        sorted(expected))


@pytest.mark.parametrize("how", ["id", "folder", "table"])
def test_show_prints_the_same_table(cli_run: SimpleNamespace, how: str) -> None:
    run = {"id": "cli-run", "folder": cli_run.run_dir,
           "table": cli_run.run_dir / "results.parquet"}[how]
    result = run_cli("show", run, "--results", cli_run.results)
    assert result.code == 0 and result.err == ""
    assert result.out.splitlines()[0].split()[:7] == ["suite", "size", "backend", "phase",
                                                     "scenario", "bs", "status"]
    assert [ln for ln in result.out.splitlines() if "cpu-eager" in ln] == \
           [ln for ln in cli_run.out.splitlines() if "cpu-eager" in ln]
    assert f"1 cases (1 ok); run {cli_run.run_dir}" in result.out


def test_run_refuses_an_existing_run_id(cli_run: SimpleNamespace) -> None:
    result = run_cli("run", *RUN_ARGS, "--run-id", "cli-run", "--results", cli_run.results)
    assert_usage_error(result, "already exists", "--resume")


@pytest.mark.parametrize("selection", [["--suite", "cnn"], ["--size", "tiny"],
                                       ["--backend", "cpu-eager"], ["--phase", "infer"],
                                       ["--scenario", "latency"], ["--batch-size", "4"],
                                       ["--suite-file", "x.py"]])
def test_resume_refuses_selection_options(cli_run: SimpleNamespace, selection: list[str]) -> None:
    result = run_cli("run", "--resume", "cli-run", *selection, "--results", cli_run.results)
    assert_usage_error(result, "--resume")


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_resume_finishes_an_interrupted_run(cli_run: SimpleNamespace, tmp_path: Path,
                                            damage: str) -> None:
    """A case file that is gone, or cut short, is a case still to run."""
    results = tmp_path / "results"
    shutil.copytree(cli_run.run_dir, results / "cli-run")
    case_file = results / "cli-run" / CASES_DIR / f"{CASE}.json"
    if damage == "deleted":
        case_file.unlink()
    else:
        case_file.write_text(case_file.read_text()[:50])
    result = run_cli("run", "--resume", "cli-run", "--no-progress", "--results", results)
    assert result.code == 0, result.err
    assert json.loads(case_file.read_text())["row"]["status"] == "ok"
    assert "1 cases (1 ok); 1 run now" in result.out
    warnings = [line for line in result.err.splitlines() if "warning" in line]
    assert len(warnings) == (damage == "truncated"), result.err
    assert all(f"{CASE}.json" in line for line in warnings)


@pytest.mark.parametrize(("manifest", "expected"), [
    ('{"run_id": "bad"}', "manifest"), ("[]", "manifest"), ("{ truncated", "manifest"),
    ('{"config": {"fast": 1, "scenarios": []}}', "unknown keys ['fast']"),
], ids=["no-config", "not-an-object", "not-json", "unknown-key"])
def test_resume_of_a_malformed_manifest_is_one_line(manifest: str, expected: str,
                                                    results_dir: Path) -> None:
    (results_dir / "bad").mkdir(parents=True)
    (results_dir / "bad" / MANIFEST).write_text(manifest)
    result = run_cli("run", "--resume", "bad", "--results", results_dir)
    assert_usage_error(result, expected)


SKIPPED_ARGS = ("--suite-file", MLP_SUITE_FILE, "--suite", "mlp", "--size", "tiny", "--backend",
                "ort-cpu", "--phase", "train", "--batch-size", "8", "--no-progress")
# ONNX Runtime does not train: no process is started. Training's default scenario: throughput.
SKIPPED_CASE = "mlp-tiny-ort-cpu-train-throughput-bs8"


def test_a_corrupt_case_file_is_one_warning_and_the_rest_is_shown(results_dir: Path,
                                                                 tmp_path: Path) -> None:
    assert run_cli("run", *SKIPPED_ARGS, "--run-id", "r", "--results", results_dir).code == 0
    (results_dir / "r" / CASES_DIR / "x.json").write_text('{"row": ')
    for argv in (["show", "r"], ["report", "r", "--out", tmp_path / "report"]):
        result = run_cli(*argv, "--results", results_dir)  # report loads it twice: one line
        assert result.code == 0, result.err
        (line,) = result.err.splitlines()
        assert line.startswith("archbench: warning: ") and "x.json" in line
        assert "archbench run --resume r" in line
    result = run_cli("show", "r", "--results", results_dir)
    assert "1 cases (1 skipped)" in result.out and "ort-cpu" in result.out
    assert "(no case ran)" in result.out and "skipped: 1 case" in result.out  # grouped
    every = run_cli("show", "r", "--all", "--results", results_dir).out
    assert "(no case ran)" not in every and " skipped " in every  # the case's own line


def test_show_of_a_run_whose_manifest_is_not_json_is_one_line(results_dir: Path) -> None:
    (results_dir / "r" / CASES_DIR).mkdir(parents=True)
    (results_dir / "r" / MANIFEST).write_text("{ cut short")
    assert_usage_error(run_cli("show", "r", "--results", results_dir), "malformed run manifest")


def test_results_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "results.txt"
    not_a_folder.write_text("notes")
    result = run_cli("run", *SKIPPED_ARGS, "--results", not_a_folder)
    assert_usage_error(result, str(not_a_folder), "not a folder")
    assert not_a_folder.read_text() == "notes"


def disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def assert_sweep_stopped(result: SimpleNamespace, run_id: str, *expected: str) -> None:
    """The sweep started (its notice names the run), then stopped on one error line."""
    notice, error = result.err.splitlines()
    assert notice.startswith(f"run {run_id}: results in ")
    assert_usage_error(SimpleNamespace(code=result.code, out=result.out, err=error), *expected)


def test_a_full_disk_while_writing_the_tables_is_one_line_and_resumable(
        results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow raises OSError(ENOSPC) while it writes results.parquet; the case file is kept."""
    with monkeypatch.context() as patch:
        patch.setattr(pq, "write_table", disk_full)
        result = run_cli("run", *SKIPPED_ARGS, "--run-id", "full", "--results", results_dir)
    assert_sweep_stopped(result, "full", "results.parquet", "No space left on device",
                         f"archbench run --resume full --results {results_dir}")
    case_file = results_dir / "full" / CASES_DIR / f"{SKIPPED_CASE}.json"
    assert json.loads(case_file.read_text())["row"]["status"] == "skipped"
    result = run_cli("run", "--resume", "full", "--no-progress", "--results", results_dir)
    assert result.code == 0 and "1 cases (1 skipped); 0 run now" in result.out


def test_a_full_disk_while_writing_a_case_file_stops_the_sweep_resumably(
        results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write_text = Path.write_text

    def write_text(self: Path, *args, **kwargs) -> int:
        if CASES_DIR in self.parts:
            disk_full()
        return real_write_text(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_text", write_text)
        result = run_cli("run", *SKIPPED_ARGS, "--batch-size", "16", "--run-id", "full",
                         "--results", results_dir)
    assert_sweep_stopped(result, "full", f"{SKIPPED_CASE}.json", "No space left on device",
                         "archbench run --resume full")
    assert list((results_dir / "full" / CASES_DIR).iterdir()) == []  # stopped at the first
    result = run_cli("run", "--resume", "full", "--no-progress", "--results", results_dir)
    assert result.code == 0 and "2 cases (2 skipped); 2 run now" in result.out


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "--threads", "-1"], "threads must be 0 (all available CPUs) or a positive integer"),
    (["run", "--timeout", "0"], "timeout must be a positive number of seconds"),
    (["run", "--scenario", "server", "--slo-ms", "0"],
     "--slo-ms must be a positive number of ms, got 0"),
    (["run", "--scenario", "server", "--server-qps", "-5"],
     "--server-qps must be a positive number of queries a second, got -5"),
    (["run", "--scenario", "server", "--max-wait-ms", "-1"],
     "--max-wait-ms must be a number of ms >= 0, got -1"),
    (["run", "--scenario", "server", "--in-flight", "0"],
     "--in-flight must be a positive integer, got 0"),
    (["run", "--max-memory", "-1"], "max memory must be a positive number of GB"),
    (["run", "--max-retries", "-1"], "max retries must be 0 or a positive integer"),
    (["run", "--price", "a=-1"], "--price takes KIND=USD_PER_HOUR or USD_PER_HOUR"),
    (["run", "--precision", "0"], "precision must be a share of the centre between 0 and 1"),
    (["run", "--precision", "5"], "precision must be a share of the centre between 0 and 1"),
    (["run", "--budget-min", "-2"], "budget must be a positive number of minutes (0: none)"),
    (["run", "--processes", "4", "--max-processes", "3"],
     "max processes must be an integer at least --processes (4), got 3"),
    (["run", "--executor", "ray", "--budget-min", "5"],
     "--budget-min spends a budget one process at a time"),
])
def test_bad_numbers_are_one_line_errors(argv: list[str], expected: str, results_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--results", str(results_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
    assert not results_dir.exists()  # refused before any run folder was made


def test_resume_refuses_options_it_would_ignore(results_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", "anything", "--quick", "--threads", "2",
                 "--results", str(results_dir)]) == 2
    assert "drop --quick, --threads" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "code"), [([], 1), (["--allow-broken"], 0)])
def test_compare_fails_on_a_case_that_broke_unless_allowed(results_dir: Path, flags: list[str],
                                                           code: int) -> None:
    """BASE finished the case, NEW has no row for it: newly broken."""
    row = {"case_id": CASE, "suite": "mlp", "size": "tiny", "backend": "cpu-eager",
           "device": "cpu", "precision": "fp32", "phase": "train", "scenario": "latency",
           "batch_size": 8,
           "status": "ok", "reason": "", "n": 3, "median_ms": 1.5}
    for run_id in ("base", "new"):
        write_json_atomic(results_dir / run_id / MANIFEST, {"run_id": run_id, "config": {}})
    save_case(results_dir / "base", {**row, "run_id": "base"}, {"iter_ms": [1.4, 1.5, 1.6]})
    result = run_cli("compare", "base", "new", *flags, "--results", results_dir)
    assert result.code == code, result.err
    assert "1 newly broken" in result.out
