"""Errors meant for people.

A `UsageError` carries one line that says what was wrong and what is valid; the CLI prints it
and exits with status 2, without a traceback (unless --debug).
"""


class UsageError(Exception):
    """Bad input from the user: unknown names, malformed files. Message is one line."""


def unknown_choice(kind: str, value: str, valid: list[str] | tuple[str, ...],
                   where: str = "") -> UsageError:
    """The standard wording for 'no such X', naming every valid choice."""
    context = f" {where}" if where else ""
    return UsageError(f"unknown {kind} '{value}'{context}; valid {kind}s{context}: "
                      f"{', '.join(valid)}")
