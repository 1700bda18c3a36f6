"""Errors a user can act on.

Library code raises these with the file, row and column at fault and a hint;
the CLI prints them as one clear message and exits 1, never a traceback.
"""

from __future__ import annotations


class MoneytrailError(Exception):
    """An error caused by input, a rule or a setting, not by a bug."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        text = f"{': '.join([', '.join(where)])}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputError(MoneytrailError):
    """An export, accounts table, profile or label file cannot be used."""


class RuleError(MoneytrailError):
    """A rule file or a rule parameter is wrong."""


class ParamsError(MoneytrailError):
    """A params file or a --param override is wrong."""
