"""Naive baselines a user could write in ten minutes, to measure moneytrail against.

Both score accounts on four numbers only: how many transfers an account received
and sent, and their totals (log-scaled). One runs a seeded IsolationForest, the
other ECOD; neither knows anything about typologies, rules or time. Input is the
canonical transaction table (a scan's ``transactions.parquet``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from moneytrail import schema as S

BASELINE_FEATURES = ("in_count", "out_count", "in_sum", "out_sum")
SEED = 0


def account_counts(
    transactions: pl.LazyFrame | pl.DataFrame, accounts: pl.Series | None = None
) -> pl.DataFrame:
    """Per-account in/out counts and sums; ``accounts`` fixes the rows (zeros if idle)."""
    lazy = transactions.lazy() if isinstance(transactions, pl.DataFrame) else transactions
    out_side = lazy.group_by(pl.col(S.FROM_ACCOUNT).alias(S.ACCOUNT_ID)).agg(
        pl.len().alias("out_count"), pl.col(S.AMOUNT).sum().alias("out_sum")
    )
    in_side = lazy.group_by(pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID)).agg(
        pl.len().alias("in_count"), pl.col(S.AMOUNT).sum().alias("in_sum")
    )
    both = out_side.join(in_side, on=S.ACCOUNT_ID, how="full", coalesce=True)
    if accounts is not None:
        both = (
            accounts.cast(pl.String)
            .rename(S.ACCOUNT_ID)
            .unique()
            .to_frame()
            .lazy()
            .join(both, on=S.ACCOUNT_ID, how="left")
        )
    else:
        both = both.filter(pl.col(S.ACCOUNT_ID) != S.CASH_NODE)
    return (
        both.select(
            S.ACCOUNT_ID,
            *[pl.col(name).cast(pl.Float64).fill_null(0.0) for name in BASELINE_FEATURES],
        )
        .sort(S.ACCOUNT_ID)
        .collect()
    )


def _scores_frame(ids: pl.Series, raw: np.ndarray) -> pl.DataFrame:
    """Rank like scores.csv: higher raw score = riskier; risk scaled to 0..1."""
    span = float(raw.max() - raw.min()) or 1.0
    frame = pl.DataFrame({S.SC_ACCOUNT: ids, S.SC_RISK: (raw - raw.min()) / span}).sort(
        [S.SC_RISK, S.SC_ACCOUNT], descending=[True, False]
    )
    return frame.with_row_index(S.SC_RANK, offset=1).with_columns(pl.col(S.SC_RANK).cast(pl.Int64))


def _baseline(model_factory: Callable[[], object]):
    def run(
        transactions: pl.LazyFrame | pl.DataFrame, accounts: pl.Series | None = None
    ) -> pl.DataFrame:
        counts = account_counts(transactions, accounts)
        x = np.log1p(counts.select(BASELINE_FEATURES).to_numpy())
        model = model_factory()
        model.fit(x)
        return _scores_frame(counts.get_column(S.ACCOUNT_ID), model.decision_scores_)

    return run


def _iforest():
    from pyod.models.iforest import IForest

    return IForest(random_state=SEED, n_estimators=200)


def _ecod():
    from pyod.models.ecod import ECOD

    return ECOD()


isolation_forest_baseline = _baseline(_iforest)
ecod_baseline = _baseline(_ecod)

def alert_structure_ceiling(alert_transactions, accounts: pl.Series) -> pl.DataFrame:
    """Not a detector: the ranking of someone who already knows every alert's transactions.

    AMLSim writes laundering alerts (is_sar=True) and legitimate look-alike alerts
    (is_sar=False) with the same generator and the same parameters, and some members of
    an alert never take part in its transactions. An account scores 1 when it takes part
    in any alert transaction, SAR or not, else 0: the best a method that sees structure
    but not the labels could do. Its average precision bounds what detection from
    transactions alone can reach on such a set (it is no strict bound: a method can
    still order the accounts inside each group better than at random).
    """
    frame = pl.read_csv(alert_transactions, infer_schema=False)
    involved = pl.concat([frame.get_column("orig_acct"), frame.get_column("bene_acct")]).unique()
    ids = accounts.cast(pl.String).unique().sort()
    raw = ids.is_in(involved.implode()).cast(pl.Float64).to_numpy()
    # within each of the two groups the oracle knows nothing more: seeded random order
    jitter = np.random.default_rng(SEED).random(len(raw)) * 1e-3
    return _scores_frame(ids, raw + jitter)


CEILING = "ceiling: knows every alert's transactions"

BASELINES: dict[str, Callable[..., pl.DataFrame]] = {
    "iforest(in/out counts+sums)": isolation_forest_baseline,
    "ecod(in/out counts+sums)": ecod_baseline,
}
