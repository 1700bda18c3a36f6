"""The two views rules run over: ``transactions`` and ``movements``.

Both are lazy frames built once per run from the canonical table; every rule's
query starts from one of them, so ``collect_all`` shares the scan.
"""

from __future__ import annotations

import polars as pl

from moneytrail import schema as S

# Columns the views add (names of the rule language, not of the canonical table).
ACCOUNT = "account"
COUNTERPARTY = "counterparty"
DIRECTION = "direction"
HOUR = "hour"
WEEKDAY = "weekday"
ACCOUNT_PREFIX = "account_"
COUNTERPARTY_PREFIX = "counterparty_"
DIRECTION_IN = "in"
DIRECTION_OUT = "out"

# Columns a rule may use without listing them in `requires`.
ALWAYS_PRESENT_TRANSACTIONS = frozenset(
    set(S.REQUIRED_TRANSACTION_COLUMNS) | {S.TXN_ID, HOUR, WEEKDAY}
)
ALWAYS_PRESENT_MOVEMENTS = ALWAYS_PRESENT_TRANSACTIONS | {ACCOUNT, COUNTERPARTY, DIRECTION}

# Ground truth never reaches a rule.
_HIDDEN = set(S.LABEL_COLUMNS)
VIEW_TRANSACTION_COLUMNS: dict[str, pl.DataType] = {
    name: dtype for name, dtype in S.TRANSACTION_SCHEMA.items() if name not in _HIDDEN
}
# KYC columns joined for both sides; the key itself is `account` / `counterparty`.
KYC_COLUMNS: dict[str, pl.DataType] = {
    name: dtype for name, dtype in S.ACCOUNT_SCHEMA.items() if name != S.ACCOUNT_ID
}


def canonical(transactions: pl.LazyFrame) -> pl.LazyFrame:
    """The canonical columns a view needs, missing ones as typed nulls, labels left out."""
    have = set(transactions.collect_schema().names())
    columns = []
    for name, dtype in VIEW_TRANSACTION_COLUMNS.items():
        if name in have:
            columns.append(pl.col(name))
        elif name == S.TXN_ID:
            # Ingest derives txn ids; a frame handed in without them gets row numbers.
            columns.append(pl.int_range(pl.len()).cast(pl.String).alias(S.TXN_ID))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
    return transactions.select(columns).with_columns(
        pl.col(S.TIMESTAMP).dt.hour().cast(pl.Int8).alias(HOUR),
        pl.col(S.TIMESTAMP).dt.weekday().cast(pl.Int8).alias(WEEKDAY),
    )


def canonical_accounts(accounts: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame:
    """The accounts table with every KYC column (typed nulls when absent), one row per id."""
    frame = pl.LazyFrame(schema=S.ACCOUNT_SCHEMA) if accounts is None else accounts.lazy()
    have = set(frame.collect_schema().names())
    return frame.select(
        [
            pl.col(name).cast(dtype) if name in have else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in S.ACCOUNT_SCHEMA.items()
        ]
    ).unique(subset=S.ACCOUNT_ID, keep="first", maintain_order=True)


def transactions_view(canonical_txns: pl.LazyFrame) -> pl.LazyFrame:
    return canonical_txns


def movements_view(canonical_txns: pl.LazyFrame) -> pl.LazyFrame:
    """Each transaction from both sides; the cash node is never the `account`."""
    sent = canonical_txns.with_columns(
        pl.col(S.FROM_ACCOUNT).alias(ACCOUNT),
        pl.col(S.TO_ACCOUNT).alias(COUNTERPARTY),
        pl.lit(DIRECTION_OUT).alias(DIRECTION),
    )
    received = canonical_txns.with_columns(
        pl.col(S.TO_ACCOUNT).alias(ACCOUNT),
        pl.col(S.FROM_ACCOUNT).alias(COUNTERPARTY),
        pl.lit(DIRECTION_IN).alias(DIRECTION),
    )
    return pl.concat([sent, received], how="vertical").filter(
        pl.col(ACCOUNT) != pl.lit(S.CASH_NODE)
    )


def with_kyc(movements: pl.LazyFrame, accounts: pl.LazyFrame) -> pl.LazyFrame:
    """Join the KYC columns of both sides as ``account_<col>`` / ``counterparty_<col>``.

    ``account_age`` falls back to the age at the transaction's date when only a
    birth date is known.
    """
    joined = movements
    for key, prefix in ((ACCOUNT, ACCOUNT_PREFIX), (COUNTERPARTY, COUNTERPARTY_PREFIX)):
        side = accounts.select(
            pl.col(S.ACCOUNT_ID).alias(key),
            *[pl.col(name).alias(prefix + name) for name in KYC_COLUMNS],
        )
        joined = joined.join(side, on=key, how="left", maintain_order="left")
        birth, age = pl.col(prefix + S.BIRTH_DATE), pl.col(prefix + S.AGE)
        years = (pl.col(S.TIMESTAMP).dt.year() - birth.dt.year()) - (
            (pl.col(S.TIMESTAMP).dt.ordinal_day() < birth.dt.ordinal_day()).cast(pl.Int32)
        )
        joined = joined.with_columns(pl.coalesce(age, years.cast(pl.Int32)).alias(prefix + S.AGE))
    return joined


def view_schema(view: str, with_accounts: bool = True) -> dict[str, pl.DataType]:
    """The columns and dtypes of a view (what the checker compiles SQL against)."""
    empty = canonical(pl.LazyFrame(schema=S.TRANSACTION_SCHEMA))
    if view == "transactions":
        frame = transactions_view(empty)
    else:
        frame = movements_view(empty)
        if with_accounts:
            frame = with_kyc(frame, canonical_accounts(None))
    return dict(frame.collect_schema())


def base_columns(rules_columns: set[str]) -> list[str]:
    """The canonical columns (plus `hour`, `weekday`) a set of rules reads."""
    wanted = set(ALWAYS_PRESENT_TRANSACTIONS) | (rules_columns & set(VIEW_TRANSACTION_COLUMNS))
    return [name for name in [*VIEW_TRANSACTION_COLUMNS, HOUR, WEEKDAY] if name in wanted]


def present_columns(base: pl.DataFrame, accounts: pl.LazyFrame | None) -> set[str]:
    """Columns that hold at least one value (an all-null column counts as missing)."""
    nulls = {name: base[name].null_count() for name in base.columns}
    return present_by_nulls(nulls, base.height, accounts)


def present_by_nulls(
    null_counts: dict[str, int], height: int, accounts: pl.LazyFrame | None
) -> set[str]:
    """``present_columns`` from each base column's null count and the row count."""
    present = {name for name, nulls in null_counts.items() if nulls < height}
    if height == 0:  # nothing to judge by: no rule is skipped, none can fire
        present = set(null_counts)
    present |= {ACCOUNT, COUNTERPARTY, DIRECTION}
    if accounts is not None:
        kyc_names = list(KYC_COLUMNS)
        kyc_row = accounts.select([pl.col(n).is_not_null().any() for n in kyc_names]).collect()
        kyc_present = {name for name in kyc_names if kyc_row[name][0]}
        if S.BIRTH_DATE in kyc_present:
            kyc_present.add(S.AGE)
        for name in kyc_present:
            present |= {ACCOUNT_PREFIX + name, COUNTERPARTY_PREFIX + name}
    return present
