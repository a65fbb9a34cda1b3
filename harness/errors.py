"""Errors meant for people.

A `UsageError` carries one line that says what was wrong and what is valid; the CLI prints it
and exits with status 2, without a traceback (unless --debug).
"""


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, cut to a readable length."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class UsageError(Exception):
    """Bad input from the user: unknown names, malformed files. Message is one line."""


def unknown_choice(kind: str, value: str, valid: list[str] | tuple[str, ...],
                   where: str = "") -> UsageError:
    """The standard wording for 'no such X', naming every valid choice."""
    context = f" {where}" if where else ""
    return UsageError(f"unknown {kind} '{value}'{context}; valid {kind}s{context}: "
                      f"{', '.join(valid)}")
