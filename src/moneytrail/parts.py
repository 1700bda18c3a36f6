"""Split a big per-transaction table by account into parts run one after another.

Stages whose results per account depend only on that account's own rows (the
rule engine's movements, the account features' legs) stay within bounded
memory on any input size: the rows are written once, streaming, into one
Parquet file per part (all rows of an account in the same part), and each part
is read, worked on and let go before the next. Small inputs skip all this (one
part, no files).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

# Column of the part number while the rows are written (never stored in a part).
_PART = "__part"
# Seed of the account hash that assigns parts (any fixed value: the split must
# not change from run to run).
_SEED = 11


def parts_needed(rows: int, rows_per_part: int) -> int:
    """How many parts hold ``rows`` rows with at most about ``rows_per_part`` in each."""
    return max(1, -(-int(rows) // max(1, int(rows_per_part))))


def part_of(account: pl.Expr, parts: int) -> pl.Expr:
    """The part (0 .. parts - 1) of the account in ``account``."""
    return (account.hash(seed=_SEED) % parts).cast(pl.UInt32)


@contextmanager
def split_by_account(
    rows: pl.LazyFrame, account: pl.Expr, parts: int, *, prefix: str = "moneytrail-parts-"
) -> Iterator[list[Path]]:
    """Write ``rows`` split by ``account`` into ``parts`` Parquet parts in a temporary
    directory; yield the parts' paths in part order (a part no account fell into is
    left out). The directory is removed on leaving the block.

    Read a part with ``pl.scan_parquet(path)`` / ``pl.read_parquet(path)``.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        rows.with_columns(part_of(account, parts).alias(_PART)).sink_parquet(
            pl.PartitionBy(root, key=_PART, include_key=False),
            mkdir=True,
            engine="streaming",
            # a frame built from several scans of one input (the two sides of a
            # transaction) must not share one: that caches the whole input
            optimizations=pl.QueryOptFlags(comm_subplan_elim=False),
        )
        paths = [root / f"{_PART}={part}" for part in range(parts)]
        yield [p for p in paths if p.exists()]
