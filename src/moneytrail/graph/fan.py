"""Fan-in and fan-out: many one-off counterparties into (or out of) one account.

A hub that, within one window, receives from (or sends to) many accounts it has
no standing relationship with is the collector of a fan-in (victims' earnings,
buyers' payments, mule deposits) or the distributor of a fan-out. Whole-graph
polars: each counterparty is counted once, at its first one-off transfer with
the hub, and a rolling window per hub finds the densest stretch.
"""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl

from moneytrail import schema as S
from moneytrail.graph._common import (
    FIRST_TS,
    HUB,
    MEMBER_SCORES,
    MEMBERS,
    ONE_OFF,
    ROLES,
    SPOKE,
    TOTAL,
    N,
    gap_cv,
)

DEG_ALL = "deg_all"
_MIN_POPULATION = 50


def detect_fan(
    edges: pl.LazyFrame,
    direction: str,
    *,
    window: timedelta,
    min_counterparties: int,
    scheduled_min_transfers: int,
    scheduled_max_gap_cv: float,
    population_multiple: float,
    min_total: float,
) -> pl.DataFrame:
    """Instances of fan-in (``direction="in"``) or fan-out (``"out"``), one per hub.

    Returns the instance frame described in :func:`_common.to_evidence`, plus HUB.
    A fan whose transfers run on a fixed schedule (at least
    ``scheduled_min_transfers``, gaps varying by at most ``scheduled_max_gap_cv``
    of their mean) is a standing order or a payroll run, not a burst, and is
    left out.
    """
    hub_col, spoke_col = (
        (S.TO_ACCOUNT, S.FROM_ACCOUNT) if direction == "in" else (S.FROM_ACCOUNT, S.TO_ACCOUNT)
    )
    sparse = edges.filter(pl.col(ONE_OFF)).select(
        pl.col(hub_col).alias(HUB),
        pl.col(spoke_col).alias(SPOKE),
        S.TIMESTAMP,
        S.AMOUNT,
        S.TXN_ID,
    )
    firsts = sparse.group_by(HUB, SPOKE).agg(pl.col(S.TIMESTAMP).min().alias(FIRST_TS)).collect()
    # New counterparties per hub per calendar bucket of the window's length.
    bucket = pl.col(FIRST_TS).dt.epoch("s") // max(1, int(window.total_seconds()))
    per_bucket = firsts.group_by(HUB, bucket.alias("_b")).agg(pl.len().alias(N))
    # A fan is several times what a typical hub does: where one-off transfers
    # are everyday business (every account pays new people all the time), the
    # fixed minimum alone would call every account a hub.
    busiest = per_bucket.group_by(HUB).agg(pl.col(N).max()).get_column(N)
    # every account that ever takes that side counts, the ones with no
    # one-off counterparty at all as zero
    active = edges.select(pl.col(hub_col).n_unique()).collect().item()
    zeros = pl.zeros(max(0, active - busiest.len()), dtype=busiest.dtype, eager=True)
    # a typical hub needs a population to be typical of
    typical = (pl.concat([busiest, zeros]).median() or 0) if active >= _MIN_POPULATION else 0
    min_counterparties = max(min_counterparties, math.ceil(population_multiple * typical))
    # Cheap prefilter: any window lies within two consecutive calendar buckets
    # of its length, so a hub with a fan has half of it in one bucket.
    dense = per_bucket.filter(pl.col(N) >= -(-min_counterparties // 2)).select(HUB).unique()
    firsts = firsts.join(dense, on=HUB, how="semi").lazy()
    rolled = (
        firsts.sort(HUB, FIRST_TS)
        .rolling(index_column=FIRST_TS, period=window, group_by=HUB)
        .agg(pl.len().alias(N))
    )
    best = (
        rolled.filter(pl.col(N) >= min_counterparties)
        .sort([HUB, N, FIRST_TS], descending=[False, True, False])
        .unique(HUB, keep="first")
        .select(HUB, pl.col(FIRST_TS).alias("_end"))
    )
    members = firsts.join(best, on=HUB).filter(
        (pl.col(FIRST_TS) > pl.col("_end") - window) & (pl.col(FIRST_TS) <= pl.col("_end"))
    )
    txns = (
        sparse.join(members.select(HUB, SPOKE, "_end"), on=[HUB, SPOKE])
        .filter(
            (pl.col(S.TIMESTAMP) > pl.col("_end") - window)
            & (pl.col(S.TIMESTAMP) <= pl.col("_end"))
        )
        .group_by(HUB)
        .agg(
            pl.col(SPOKE).unique(maintain_order=True).alias(MEMBERS),
            pl.col(S.TXN_ID).alias(S.EV_TXN_IDS),
            pl.col(S.TIMESTAMP).min().alias(S.EV_WINDOW_START),
            pl.col(S.TIMESTAMP).max().alias(S.EV_WINDOW_END),
            pl.col(S.AMOUNT).sum().alias(TOTAL),
            (pl.col(S.AMOUNT).std(ddof=0) / pl.col(S.AMOUNT).mean()).fill_null(0).alias("_cv"),
            gap_cv(pl.col(S.TIMESTAMP)).alias("_gap_cv"),
        )
        .filter(
            (pl.col(S.EV_TXN_IDS).list.len() < scheduled_min_transfers)
            | (pl.col("_gap_cv") > scheduled_max_gap_cv)
            | pl.col("_gap_cv").is_null()
        )
        .with_columns(pl.col(MEMBERS).list.len().alias(N))
    )
    out = txns.filter(pl.col(TOTAL) >= min_total).collect()
    if out.height == 0:
        return out
    hubs = out.get_column(HUB).implode()
    degree = (
        edges.filter(pl.col(hub_col).is_in(hubs))
        .group_by(hub_col)
        .agg(pl.col(spoke_col).n_unique().alias(DEG_ALL))
        .rename({hub_col: HUB})
        .collect()
    )
    out = out.join(degree, on=HUB, how="left")
    span_days = (pl.col(S.EV_WINDOW_END) - pl.col(S.EV_WINDOW_START)).dt.total_seconds() / 86400
    window_days = window.total_seconds() / 86400
    # Strength: how far the count is beyond the threshold, how much of the hub's
    # counterparties the burst accounts for, and how tight it is in time.
    degree_term = 1 - 0.5 ** (pl.col(N) / min_counterparties)
    focus = pl.col(N) / pl.max_horizontal(pl.col(DEG_ALL), pl.col(N))
    tight = 1 - (span_days / window_days).clip(0, 1)
    # A fan alone has many innocent explanations (a marketplace seller, a
    # payout platform), so it tops out below the layered structures; and in a
    # very wide fan each single spoke is less likely to be in on it.
    score = 0.25 + 0.5 * (0.5 * degree_term + 0.3 * focus + 0.2 * tight)
    spoke_share = (2 * min_counterparties / pl.col(N)).clip(0, 1).sqrt()
    spoke_score = score * 0.85 * spoke_share
    word = "from" if direction == "in" else "to"
    verb = "received" if direction == "in" else "sent"
    hub_role, spoke_role = (
        ("collector", "facilitator")
        if direction == "in"
        else (
            "launderer",
            "facilitator",
        )
    )
    out = out.with_columns(score.alias(S.EV_SCORE))
    out = out.select(
        HUB,
        pl.concat_list(pl.col(HUB), pl.col(MEMBERS)).alias(MEMBERS),
        pl.concat_list(pl.lit(hub_role), pl.col(MEMBERS).list.eval(pl.lit(spoke_role))).alias(
            ROLES
        ),
        S.EV_SCORE,
        pl.concat_list(pl.col(S.EV_SCORE), spoke_score.repeat_by(pl.col(MEMBERS).list.len())).alias(
            MEMBER_SCORES
        ),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "{} {} {} transfers totalling {} {} {} one-off counterparties within {} days "
            "({} of its {} counterparties)",
            pl.col(HUB),
            pl.lit(verb),
            pl.col(S.EV_TXN_IDS).list.len(),
            pl.col(TOTAL).round(2),
            pl.lit(word),
            pl.col(N),
            (span_days.round(0) + 1).cast(pl.Int64),
            pl.col(N),
            pl.col(DEG_ALL),
        ).alias(S.EV_REASON),
    )
    return out
