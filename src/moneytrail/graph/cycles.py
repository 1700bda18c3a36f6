"""Cycles: money that leaves an account and comes back through others.

Time-respecting and bounded: each hop happens no earlier than the previous one,
the whole round trip within a window, at most ``cycle_max_length`` accounts.
The search is a polars self-join chain over candidate edges only (one-off
transfers between accounts that both send and receive such transfers), run in
batches of start accounts so memory stays bounded on big exports.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from moneytrail import schema as S
from moneytrail.graph._common import MEMBERS, ONE_OFF, ROLES, TOTAL, temporal_prune

_START = "start"
_CUR = "cur"
_T0 = "t0"
_TLAST = "t_last"
_PATH = "path"
_TXNS = "txns"
_AMTS = "amounts"
_KEY = "_key"

# Start edges per batch of the join chain: bounds the intermediate frames.
_BATCH_EDGES = 200_000
# A hub of one-off transfers with more partners than this is a payment
# processor or a payroll account, not a cycle member: it would only blow up
# the search.
_MAX_CANDIDATE_DEGREE = 200


def candidate_edges(edges: pl.LazyFrame, window: timedelta, *, big: bool = False) -> pl.DataFrame:
    """One-off transfers among accounts that could lie on a cycle.

    Each hop of a loop has a transfer out of its receiver and into its sender
    within the window (as-of joins, whole table); then an account on a cycle
    both sends and receives within what is left (a few cheap rounds).

    ``big`` (an input scanned from a file): the one-off transfers are not held
    whole, only the narrow columns of the time test and then the rows that pass
    it (see :func:`temporal_prune`); the same result.
    """
    one_off = edges.filter(pl.col(ONE_OFF)).select(
        S.FROM_ACCOUNT, S.TO_ACCOUNT, S.TIMESTAMP, S.AMOUNT, S.TXN_ID
    )
    # Cheap first: an account on a loop both sends and receives one-off.
    # (Matched on 64-bit hashes of the ids, cheaper than strings; a collision
    # would only keep an edge the exact search rejects later.)
    sender, receiver = pl.col(S.FROM_ACCOUNT).hash(seed=5), pl.col(S.TO_ACCOUNT).hash(seed=5)
    if big:
        ids = one_off.select(
            sender.unique().implode().alias("_f"), receiver.unique().implode().alias("_t")
        ).collect()
        sends, receives = ids.get_column("_f"), ids.get_column("_t")
        cand = temporal_prune(
            one_off.filter(sender.is_in(receives) & receiver.is_in(sends)),
            window,
            loop=True,
            rounds=2,
        )
    else:
        cand = one_off.collect()
        keys = cand.select(sender.alias("_f"), receiver.alias("_t"))
        sends, receives = keys.get_column("_f").unique(), keys.get_column("_t").unique()
        cand = cand.filter(
            keys.get_column("_f").is_in(receives.implode())
            & keys.get_column("_t").is_in(sends.implode())
        )
        cand = temporal_prune(cand, window, loop=True, rounds=2)
    for _ in range(4):
        senders = cand.get_column(S.FROM_ACCOUNT).unique()
        receivers = cand.get_column(S.TO_ACCOUNT).unique()
        before = cand.height
        cand = cand.filter(
            pl.col(S.FROM_ACCOUNT).is_in(receivers.implode())
            & pl.col(S.TO_ACCOUNT).is_in(senders.implode())
        )
        if cand.height == before:
            break
    busy = pl.concat(
        [cand.get_column(S.FROM_ACCOUNT), cand.get_column(S.TO_ACCOUNT)]
    ).value_counts()
    busy = busy.filter(pl.col("count") > _MAX_CANDIDATE_DEGREE).to_series()
    if busy.len():
        cand = cand.filter(
            ~pl.col(S.FROM_ACCOUNT).is_in(busy.implode())
            & ~pl.col(S.TO_ACCOUNT).is_in(busy.implode())
        )
    return cand


def detect_cycles(
    edges: pl.LazyFrame,
    *,
    window: timedelta,
    max_length: int,
    max_amount_drift: float,
    min_length: int = 2,
    big: bool = False,
) -> pl.DataFrame:
    """Round trips of ``min_length`` to ``max_length`` accounts within ``window``
    (``big``: see :func:`candidate_edges`)."""
    cand = candidate_edges(edges, window, big=big)
    if cand.height == 0:
        return pl.DataFrame()
    n_batches = max(1, -(-cand.height // _BATCH_EDGES))
    found = []
    nxt = cand.lazy().select(
        pl.col(S.FROM_ACCOUNT).alias(_CUR),
        pl.col(S.TO_ACCOUNT).alias("_dst"),
        pl.col(S.TIMESTAMP).alias("_ts"),
        pl.col(S.AMOUNT).alias("_amt"),
        pl.col(S.TXN_ID).alias("_txn"),
    )
    for batch in range(n_batches):
        starts = cand.filter((pl.col(S.FROM_ACCOUNT).hash(seed=7) % n_batches) == batch).lazy()
        frontier = starts.select(
            pl.col(S.FROM_ACCOUNT).alias(_START),
            pl.col(S.TO_ACCOUNT).alias(_CUR),
            pl.col(S.TIMESTAMP).alias(_T0),
            pl.col(S.TIMESTAMP).alias(_TLAST),
            pl.concat_list(S.FROM_ACCOUNT, S.TO_ACCOUNT).alias(_PATH),
            pl.concat_list(S.TXN_ID).alias(_TXNS),
            pl.concat_list(S.AMOUNT).alias(_AMTS),
        ).collect()
        for _hop in range(2, max_length + 1):
            if frontier.height == 0:
                break
            step = (
                frontier.lazy()
                .join(nxt, on=_CUR)
                .filter(
                    (pl.col("_ts") >= pl.col(_TLAST))
                    & (pl.col("_ts") <= pl.col(_T0) + window)
                    & ~pl.col(_TXNS).list.contains(pl.col("_txn"))
                )
                .with_columns(
                    pl.concat_list(_TXNS, "_txn"),
                    pl.concat_list(_AMTS, "_amt"),
                    pl.col("_ts").alias(_TLAST),
                )
            )
            if _hop >= min_length:
                closed = step.filter(pl.col("_dst") == pl.col(_START))
                found.append(closed.select(_PATH, _TXNS, _AMTS, _T0, _TLAST).collect())
            frontier = (
                step.filter(
                    (pl.col("_dst") != pl.col(_START))
                    & ~pl.col(_PATH).list.contains(pl.col("_dst"))
                )
                .with_columns(
                    pl.concat_list(_PATH, "_dst"),
                    pl.col("_dst").alias(_CUR),
                )
                .select(_START, _CUR, _T0, _TLAST, _PATH, _TXNS, _AMTS)
                .collect()
            )
    cycles = pl.concat(found) if found else pl.DataFrame()
    if cycles.height == 0:
        return cycles
    # The same round trip is found once from each of its accounts: keep the one
    # read from its first transfer.
    cycles = (
        cycles.with_columns(pl.col(_TXNS).list.sort().list.join(",").alias(_KEY))
        .sort(pl.col(_KEY), pl.col(_T0), pl.col(_PATH).list.join(","))
        .unique(_KEY, keep="first", maintain_order=True)
    )
    # Relative difference of the first and the returning amount, over the larger
    # of the two: 0 when the money comes back whole, at most 1 (so a limit of 1.0
    # accepts every loop, also one that brings back more than it sent).
    first, last = pl.col(_AMTS).list.first(), pl.col(_AMTS).list.last()
    drift = (first - last).abs() / pl.max_horizontal(first, last)
    cycles = cycles.with_columns(drift.alias("_drift")).filter(pl.col("_drift") <= max_amount_drift)
    # Several cycles through the same accounts (repeated rounds) are one instance.
    cycles = (
        cycles.with_columns(pl.col(_PATH).list.sort().list.join(",").alias(_KEY))
        # one round trip per instance read the same way every run: the earliest
        # (its transactions' ids break ties), however the joins ordered rows
        .with_columns(pl.col(_TXNS).list.sort().list.join(",").alias("_round"))
        .sort(_T0, "_round")
        .group_by(_KEY, maintain_order=True)
        .agg(
            pl.col(_PATH).first(),
            pl.col(_TXNS)
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .alias(S.EV_TXN_IDS),
            pl.col(_T0).min().alias(S.EV_WINDOW_START),
            pl.col(_TLAST).max().alias(S.EV_WINDOW_END),
            pl.col("_drift").min(),
            pl.col(_AMTS).list.first().sum().alias(TOTAL),
            (pl.col(_AMTS).list.last() / pl.col(_AMTS).list.first())
            .sort_by("_drift", maintain_order=True)
            .first()
            .alias("_returned"),
            pl.len().alias("_rounds"),
        )
        .sort(_KEY)
    )
    span_days = (pl.col(S.EV_WINDOW_END) - pl.col(S.EV_WINDOW_START)).dt.total_seconds() / 86400
    window_days = window.total_seconds() / 86400
    length = pl.col(_PATH).list.len()
    # Longer loops and tighter round trips are less likely by chance; amounts
    # that come back nearly whole are the classic layering signature.
    score = (
        0.55
        + 0.1 * ((length - 2) / max(1, max_length - 2)).clip(0, 1)
        + 0.15 * (1 - (span_days / window_days).clip(0, 1))
        + 0.2 * (1 - pl.col("_drift").clip(0, 1))
    )
    return cycles.select(
        pl.col(_PATH).alias(MEMBERS),
        pl.col(_PATH).list.eval(pl.lit("launderer")).alias(ROLES),
        score.alias(S.EV_SCORE),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "money went round {} accounts ({}) and came back within {} days; "
            "{} of the first amount returned",
            length,
            pl.col(_PATH).list.join(" → "),
            (span_days.round(0) + 1).cast(pl.Int64),
            pl.format("{}%", (pl.col("_returned") * 100).round(0).cast(pl.Int64)),
        ).alias(S.EV_REASON),
    )
