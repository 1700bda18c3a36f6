"""Example rows of rule self-tests → typed canonical frames.

Test rows are few, so plain Python is fine here. A row may carry
``repeat: N`` and ``every: 1h`` to stand for N rows; ``{i}`` in its string
values becomes 1..N.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import RuleError
from moneytrail.rules.sql import parse_window

REPEAT = "repeat"
EVERY = "every"
DEFAULT_EVERY = "1h"
MAX_REPEAT = 10_000


class TestDataError(Exception):
    """A test row that cannot become a canonical row; ``field`` is its path in the test."""

    __test__ = False  # not a pytest test class

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _expand(rows: list[Any], section: str, time_column: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        where = f"{section}[{index}]"
        if not isinstance(row, dict):
            raise TestDataError(where, "a row is a mapping of column names to values")
        repeat = row.get(REPEAT, 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
            raise TestDataError(f"{where}.{REPEAT}", f"must be a whole number 1..{MAX_REPEAT}")
        every_text = row.get(EVERY, DEFAULT_EVERY)
        if EVERY in row and time_column is None:
            raise TestDataError(f"{where}.{EVERY}", "only transaction rows take `every`")
        try:
            every = parse_window(str(every_text))
        except RuleError as exc:
            raise TestDataError(f"{where}.{EVERY}", exc.message) from None
        base = {k: v for k, v in row.items() if k not in (REPEAT, EVERY)}
        start = None
        if time_column is not None and repeat > 1 and time_column in base:
            start = _timestamp(base[time_column], f"{where}.{time_column}")
        for i in range(repeat):
            item = {
                k: (v.replace("{i}", str(i + 1)) if isinstance(v, str) and repeat > 1 else v)
                for k, v in base.items()
            }
            if start is not None:
                item[time_column] = start + i * every
            out.append((where, item))
    return out


def _timestamp(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
        except ValueError:
            pass
    raise TestDataError(where, f"{value!r} is not a date-time like '2024-03-01 10:00'")


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise TestDataError(where, f"{value!r} is not a date like '2024-03-01'")


def _convert(value: Any, dtype: pl.DataType, where: str) -> Any:
    if value is None:
        return None
    if dtype == pl.Datetime("us"):
        return _timestamp(value, where)
    if dtype == pl.Date():
        return _date(value, where)
    if dtype == pl.Float64():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TestDataError(where, f"{value!r} is not a number")
        return float(value)
    if dtype in (pl.Int32(), pl.Int64()):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TestDataError(where, f"{value!r} is not a whole number")
        return value
    if dtype == pl.Boolean():
        if not isinstance(value, bool):
            raise TestDataError(where, f"{value!r} is not true/false")
        return value
    if isinstance(dtype, pl.Enum):
        if value not in dtype.categories.to_list():
            allowed = ", ".join(dtype.categories.to_list())
            raise TestDataError(where, f"{value!r} is not one of {allowed}")
        return value
    if isinstance(value, bool | dict | list):
        raise TestDataError(where, f"{value!r} is not text")
    return str(value)


def _frame(
    rows: list[Any],
    section: str,
    schema: dict[str, pl.DataType],
    required: tuple[str, ...],
    time_column: str | None,
) -> pl.DataFrame:
    expanded = _expand(rows, section, time_column)
    columns: dict[str, list[Any]] = {}
    order: list[str] = []
    for _, row in expanded:
        for key in row:
            if key not in columns:
                columns[key] = []
                order.append(key)
    for where, row in expanded:
        for key in row:
            if key not in schema:
                raise TestDataError(
                    f"{where}.{key}", f"{key!r} is not a canonical column of this table"
                )
        for key in required:
            if row.get(key) is None:
                raise TestDataError(f"{where}.{key}", "missing required column")
        for key in order:
            columns[key].append(_convert(row.get(key), schema[key], f"{where}.{key}"))
    return pl.DataFrame({key: pl.Series(key, columns[key], dtype=schema[key]) for key in order})


def transactions_frame(rows: list[Any]) -> pl.DataFrame:
    """Canonical transactions from test rows; txn ids T1, T2, ... fill in where absent."""
    frame = _frame(
        rows, "transactions", S.TRANSACTION_SCHEMA, S.REQUIRED_TRANSACTION_COLUMNS, S.TIMESTAMP
    )
    generated = pl.format("T{}", pl.int_range(1, pl.len() + 1))
    if S.TXN_ID in frame.columns:
        return frame.with_columns(pl.col(S.TXN_ID).fill_null(generated))
    return frame.with_columns(generated.alias(S.TXN_ID))


def accounts_frame(rows: list[Any]) -> pl.DataFrame:
    return _frame(rows, "accounts", S.ACCOUNT_SCHEMA, S.REQUIRED_ACCOUNT_COLUMNS, None)
