"""Names that reach the file system: the rule they must follow, and the encoder for the rest.

A case id (`suite-size-backend-phase-bsN`, `harness.cases.Case`) becomes a file name twice,
`results/RUN/cases/<case-id>.json` and `logs/<case-id>.log`, so every name in it must be one
plain path component: no separator, no `..`, no NUL, nothing a browser or shell reads as markup.
Two kinds of names arrive from outside:

- names a user's suite file gives (suite and size): the user can fix them, so a name outside
  the rule is refused with one line (`check_name`);
- names in an imported pytest-benchmark file: an artefact from another machine, so it is never
  trusted and never refused; `encode_name` turns it into a safe name.

The length limit keeps a case id of four names (all four come from the file on import) plus
".json.tmp" under the 255-byte file-name limit of common file systems.
"""

from __future__ import annotations

import hashlib
import re

from harness.errors import UsageError

MAX_LENGTH = 48
RULE = (f"1 to {MAX_LENGTH} ASCII letters, digits, '_', '.', '+' or '-', not starting with "
        "'.' or '-'")
_VALID = re.compile(rf"[A-Za-z0-9_+][A-Za-z0-9_.+-]{{0,{MAX_LENGTH - 1}}}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
# '~' is outside the rule, so an encoded name never equals a name that was kept as it was;
# the hash of the original keeps two encoded names apart.
_MARK = "~"
_HASH_CHARS = 10


def is_valid_name(name: object) -> bool:
    """True when `name` is a string that follows `RULE`."""
    return isinstance(name, str) and _VALID.fullmatch(name) is not None


def check_name(kind: str, name: object, where: str) -> None:
    """Refuse a name outside the rule, with one line naming it and the rule.

    The name is shown with `repr`, so a newline or NUL in it cannot break the line.
    """
    if not is_valid_name(name):
        raise UsageError(f"invalid {kind} name {name!r} {where}; a name is {RULE}")


def encode_name(name: str) -> str:
    """`name` itself when it follows the rule, else a safe, readable, collision-free stand-in.

    The stand-in keeps the allowed characters (each run of others becomes '_'), drops leading
    '.' and '-', and ends with '~' and a hash of the original: e.g. '../../tmp/x' becomes
    '_.._tmp_x~' plus ten hex digits. It never exceeds `MAX_LENGTH`.
    """
    if is_valid_name(name):
        return name
    readable = _UNSAFE.sub("_", name).lstrip(".-")[:MAX_LENGTH - len(_MARK) - _HASH_CHARS]
    # JSON may carry lone surrogates, which plain UTF-8 cannot encode
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"{readable}{_MARK}{digest}"
