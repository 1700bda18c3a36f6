"""The Evidence table: the one interface between detectors and scoring.

Every detector (rules, graph patterns, outliers) returns a frame made by
:func:`evidence_frame`; scoring, cases, reports and evaluation read only it.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from moneytrail import schema as S


def empty_evidence() -> pl.DataFrame:
    """An Evidence table with no rows."""
    return pl.DataFrame(schema=S.EVIDENCE_SCHEMA)


def evidence_frame(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Bring a detector's output to the Evidence schema and check it.

    Missing optional columns (window, txn_ids, instance_id, role) are filled
    with nulls; columns outside the schema are dropped. Raises ValueError on
    a detector bug: a bad detector name, severity, role or a score outside 0..1.
    """
    df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    required = (S.EV_ACCOUNT, S.EV_DETECTOR, S.EV_CODE, S.EV_SCORE, S.EV_SEVERITY, S.EV_REASON)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"evidence is missing columns {missing}")
    df = df.select(
        [
            (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in S.EVIDENCE_SCHEMA.items()
        ]
    )
    if df.height == 0:
        return df
    _check_values(df, S.EV_DETECTOR, S.DETECTORS)
    _check_values(df, S.EV_SEVERITY, S.SEVERITIES)
    _check_values(df, S.EV_ROLE, S.ROLES, allow_null=True)
    bad = df.filter(~pl.col(S.EV_SCORE).is_between(0.0, 1.0) | pl.col(S.EV_SCORE).is_null())
    if bad.height:
        sample = bad[S.EV_SCORE].head(3).to_list()
        raise ValueError(f"evidence scores must lie in 0..1; got {sample}")
    return df


# Scores are kept to this many decimals: sums taken in a different order (polars
# runs group-bys in parallel) differ in the last bits, and the same export must
# give the same evidence.
SCORE_DECIMALS = 9


def concat_evidence(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Stack the outputs of several detectors into one Evidence table.

    Rows come in a fixed order (account, detector, code, instance, window,
    reason) with each row's transactions sorted, whatever order the detectors'
    parallel group-bys produced, so two scans of one export write the same
    evidence and scoring breaks ties the same way.
    """
    frames = [evidence_frame(f) for f in frames]
    if not frames:
        return empty_evidence()
    return (
        pl.concat(frames, how="vertical")
        .with_columns(
            pl.col(S.EV_SCORE).round(SCORE_DECIMALS),
            pl.col(S.EV_TXN_IDS).list.sort(),
        )
        .sort(
            S.EV_ACCOUNT, S.EV_DETECTOR, S.EV_CODE, S.EV_INSTANCE, S.EV_WINDOW_START,
            S.EV_REASON, S.EV_SCORE, nulls_last=True, maintain_order=True,
        )
    )


def _check_values(df: pl.DataFrame, column: str, allowed: tuple[str, ...], allow_null=False):
    values = df.get_column(column).unique().to_list()
    bad = [v for v in values if (v not in allowed) and not (v is None and allow_null)]
    if bad:
        raise ValueError(f"evidence column {column!r} has {bad}; allowed: {list(allowed)}")
