"""Names that reach the file system: the rule, its one-line refusal, and the encoder."""

from __future__ import annotations

import pytest

from harness.errors import UsageError
from harness.names import MAX_LENGTH, check_name, encode_name, is_valid_name

#: Names an imported file or a suite file might carry to break out of a folder or a page.
HOSTILE = ["../../../../tmp/pwned", "/etc/passwd", "a/b", "a\\b", "..\\..\\x", "a\x00b",
           "x<b>ss</b>", "x" * 300, "naïve", "数字", "a\ud800b", ".", "..", "", " ", "-rf",
           ".hidden", "a\nb", "~", "%2e%2e%2f", "a b"]


@pytest.mark.parametrize("name", ["cnn", "tiny", "bf16-unsupported", "cpu-amp-bf16", "v1.2",
                                  "a+b", "_x", "9", "x" * MAX_LENGTH])
def test_plain_names_follow_the_rule_and_are_kept(name: str) -> None:
    assert is_valid_name(name)
    check_name("suite", name, "in test")
    assert encode_name(name) == name


@pytest.mark.parametrize("name", [*HOSTILE, None, 3, "cnn\n"])
def test_a_name_outside_the_rule_is_one_line_naming_it_and_the_rule(name: object) -> None:
    assert not is_valid_name(name)
    with pytest.raises(UsageError) as info:
        check_name("size", name, "of suite 'x' in suite file 'f.py'")
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"invalid size name {name!r} of suite 'x' in suite file 'f.py';")
    assert "letters, digits, '_', '.', '+' or '-'" in message


@pytest.mark.parametrize("name", HOSTILE)
def test_an_encoded_name_is_one_plain_path_component(name: str) -> None:
    encoded = encode_name(name)
    assert encoded not in ("", ".", "..")
    assert not {"/", "\\", "\x00", "<", ">", "\n", " "} & set(encoded)
    assert encoded.isascii() and len(encoded) <= MAX_LENGTH
    assert encoded[0] not in ".-"
    assert encode_name(name) == encoded  # stable: a re-import gives the same case ids


def test_encoding_keeps_the_name_readable() -> None:
    assert encode_name("../../tmp/x").startswith("_.._tmp_x~")
    assert encode_name("test_sort[param-1]").startswith("test_sort_param-1_~")


def test_encoded_names_never_collide() -> None:
    """Names that differ only in what is replaced stay apart, and a stand-in never equals a
    name that was kept, even one written to look like a stand-in."""
    originals = ["a/b", "a\\b", "a<b", "a b", "a_b", "x" * 300, "x" * 301]
    encoded = [encode_name(name) for name in originals]
    assert len(set(encoded)) == len(originals)
    lookalike = encode_name("a/b").replace("~", "_")
    assert encode_name(lookalike) == lookalike and lookalike not in encoded
