"""Where suites come from: the built-ins and users' own files, and what a bad file says."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from harness.errors import UsageError
from harness.names import is_valid_name
from suites.base import Suite
from suites.registry import BUILTIN, available_suites, get_suite, load_suite_file
from tests.conftest import FAULTY_SUITE_FILE, MLP_SUITE_FILE
from tests.test_names import HOSTILE


def test_user_suite_file_loads_by_path() -> None:
    (suite,) = load_suite_file(MLP_SUITE_FILE)
    assert isinstance(suite, Suite)
    assert suite.name == "mlp" and set(suite.sizes) == {"tiny", "small", "large"}
    assert suite.source == str(MLP_SUITE_FILE.resolve())
    data = suite.data("tiny")
    model = suite.model("tiny", data, seed=0)
    assert isinstance(model, nn.Module)
    assert model(data.x_test[:4]).shape == (4, 10)


def test_a_file_may_define_several_suites() -> None:
    names = {suite.name for suite in load_suite_file(FAULTY_SUITE_FILE)}
    assert names == {"raises", "aborts", "hangs", "bf16-unsupported", "hungry", "killed-hungry"}


def test_builtins_keep_their_source() -> None:
    assert all(suite.source == "builtin" for suite in BUILTIN.values())


def test_available_suites_adds_user_suites_to_the_builtins() -> None:
    suites = available_suites([MLP_SUITE_FILE])
    assert list(suites) == ["cnn", "rnn", "transformer", "mlp"]
    assert get_suite("mlp", [MLP_SUITE_FILE]).source.endswith("mlp_suite.py")


def test_unknown_suite_names_every_valid_one() -> None:
    with pytest.raises(UsageError, match="unknown suite 'nope'; valid suites: "
                                         "cnn, rnn, transformer, mlp$"):
        get_suite("nope", [MLP_SUITE_FILE])


CLASH = """
from suites.cnn import SUITE as BUILTIN_CNN
from dataclasses import replace
SUITE = replace(BUILTIN_CNN, description="my own cnn")
"""

MALFORMED = {
    "syntax error": ("SUITE = Suite(name='x',\n", "SyntaxError"),
    "no suite": ("from torch import nn\nMODEL = nn.Linear(2, 2)\n", "defines no Suite"),
    "import error": ("import archbench_no_such_package\n", "ModuleNotFoundError"),
    "error while running": ("raise ValueError('bad size table')\n", "bad size table"),
    "multi-line error": ("raise RuntimeError('first line\\nsecond line')\n", "first line"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_suite_file_is_a_one_line_usage_error(case: str, write_suite_file) -> None:
    source, expected = MALFORMED[case]
    path = write_suite_file(source)
    with pytest.raises(UsageError) as info:
        available_suites([path])
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert len(message.splitlines()) == 1, message


def test_suite_named_like_a_builtin_is_refused(write_suite_file) -> None:
    path = write_suite_file(CLASH)
    with pytest.raises(UsageError, match="suite 'cnn' .* clashes") as info:
        available_suites([path])
    assert len(str(info.value).splitlines()) == 1


def test_two_user_files_with_the_same_suite_name_clash(tmp_path: Path) -> None:
    copy = tmp_path / "mlp_copy.py"
    copy.write_text(MLP_SUITE_FILE.read_text())
    with pytest.raises(UsageError, match="suite 'mlp' .* clashes"):
        available_suites([MLP_SUITE_FILE, copy])


def test_missing_suite_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_suite_file(tmp_path / "absent.py")


def test_builtin_suite_and_size_names_follow_the_name_rule() -> None:
    names = [(suite.name, size) for suite in BUILTIN.values() for size in suite.sizes]
    assert names and all(is_valid_name(suite) and is_valid_name(size) for suite, size in names)


RENAMED_CNN = """
from dataclasses import replace
from suites.cnn import SUITE as CNN
SUITE = replace(CNN, name={name!r}, sizes={{{size!r}: CNN.sizes["tiny"]}},
                default_sizes=({size!r},))
"""


@pytest.mark.parametrize("kind", ["suite", "size"])
@pytest.mark.parametrize("name", HOSTILE)
def test_a_suite_file_name_that_would_become_a_path_is_refused(kind: str, name: str,
                                                                write_suite_file) -> None:
    """Suite and size names become file names: `../../tmp/pwned` wrote outside the run folder,
    `x<b>ss</b>` made a sub-folder of cases/ whose case vanished from the table."""
    names = {"name": "mine", "size": "tiny", **{"name" if kind == "suite" else "size": name}}
    path = write_suite_file(RENAMED_CNN.format(**names))
    with pytest.raises(UsageError) as info:
        available_suites([path])
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert f"invalid {kind} name {name!r}" in message and str(path) in message
    assert "letters, digits, '_', '.', '+' or '-'" in message
