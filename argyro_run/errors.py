"""Exceptions that the command line turns into clean messages (no traceback)."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for: printed as ``error: ...`` and exit code 2.

    ``problems`` is an optional list of one-line messages (one per problem), each naming the
    TOML key path, what was found and what is allowed.
    """

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class NotBuiltYet(UserError):
    """A verb whose stage does not exist yet. Says so, exits 2, never pretends to work."""

    def __init__(self, what: str, issue: str):
        super().__init__(f"'{what}' is not built yet in this version of argyro-run ({issue}).")
