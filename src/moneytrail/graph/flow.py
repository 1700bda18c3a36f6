"""Flow patterns: rapid pass-through chains and funnel accounts.

- pass-through chain: money hops A → B → C → D through one-off transfers, each
  hop soon after the one before (mules forwarding what they just received);
- funnel: an account fed by many deposits (cash in several places, or many
  different payers) whose money leaves soon after to one or two destinations
  (FinCEN FIN-2020-A008 typology 3, FINTRAC 2016 P-8).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from moneytrail import schema as S
from moneytrail.graph._common import (
    HUB,
    MEMBERS,
    ONE_OFF,
    ROLES,
    N,
    gap_cv,
    in_window,
    temporal_prune,
)

_START = "start"
_CUR = "cur"
_TLAST = "t_last"
_PATH = "path"
_TXNS = "txns"
_AMTS = "amounts"
_T0 = "t0"
_DELAYS = "delays"
_BATCH_EDGES = 200_000


def _chain_paths(
    cand: pl.DataFrame, *, max_hop_delay: timedelta, min_hops: int, max_hops: int
) -> pl.DataFrame:
    """Time-respecting simple paths of ``min_hops``..``max_hops`` one-off hops."""
    nxt = cand.lazy().select(
        pl.col(S.FROM_ACCOUNT).alias(_CUR),
        pl.col(S.TO_ACCOUNT).alias("_dst"),
        pl.col(S.TIMESTAMP).alias("_ts"),
        pl.col(S.AMOUNT).alias("_amt"),
        pl.col(S.TXN_ID).alias("_txn"),
    )
    # Chains start at a head: a transfer whose sender received nothing shortly
    # before (otherwise the path is the tail of a longer one).
    heads = (
        cand.sort(S.TIMESTAMP)
        .join_asof(
            cand.select(
                pl.col(S.TO_ACCOUNT).alias("_acct"), pl.col(S.TIMESTAMP).alias("_prev")
            ).sort("_prev"),
            left_on=S.TIMESTAMP,
            right_on="_prev",
            by_left=S.FROM_ACCOUNT,
            by_right="_acct",
            strategy="backward",
            tolerance=max_hop_delay,
            check_sortedness=False,
        )
        .filter(pl.col("_prev").is_null())
        .drop("_prev")
    )
    n_batches = max(1, -(-heads.height // _BATCH_EDGES))
    found = []
    for batch in range(n_batches):
        frontier = (
            heads.filter((pl.col(S.FROM_ACCOUNT).hash(seed=11) % n_batches) == batch)
            .select(
                pl.concat_list(S.FROM_ACCOUNT, S.TO_ACCOUNT).alias(_PATH),
                pl.col(S.TO_ACCOUNT).alias(_CUR),
                pl.col(S.TIMESTAMP).alias(_T0),
                pl.col(S.TIMESTAMP).alias(_TLAST),
                pl.concat_list(S.TXN_ID).alias(_TXNS),
                pl.concat_list(S.AMOUNT).alias(_AMTS),
                pl.lit([], pl.List(pl.Float64)).alias(_DELAYS),
            )
            .with_row_index("_id")
        )
        for hop in range(2, max_hops + 1):
            if frontier.height == 0:
                break
            longer = (
                frontier.lazy()
                .join(nxt, on=_CUR)
                .filter(
                    (pl.col("_ts") >= pl.col(_TLAST))
                    & (pl.col("_ts") - pl.col(_TLAST) <= max_hop_delay)
                    & ~pl.col(_PATH).list.contains(pl.col("_dst"))
                )
                .select(
                    pl.col("_id").alias("_parent"),
                    pl.concat_list(_PATH, "_dst").alias(_PATH),
                    pl.col("_dst").alias(_CUR),
                    _T0,
                    pl.col("_ts").alias(_TLAST),
                    pl.concat_list(_TXNS, "_txn").alias(_TXNS),
                    pl.concat_list(_AMTS, "_amt").alias(_AMTS),
                    pl.concat_list(
                        _DELAYS, ((pl.col("_ts") - pl.col(_TLAST)).dt.total_seconds() / 3600)
                    ).alias(_DELAYS),
                )
                .collect()
            )
            # Only maximal paths are reported: those that went no further.
            if hop - 1 >= min_hops:
                ended = frontier.filter(~pl.col("_id").is_in(longer["_parent"].implode()))
                found.append(ended.drop(_CUR, "_id"))
            frontier = longer.drop("_parent").with_row_index("_id")
        if frontier.height and max_hops >= min_hops:
            found.append(frontier.drop(_CUR, "_id"))
    return pl.concat(found) if found else pl.DataFrame()


def detect_chains(
    cand: pl.DataFrame | pl.LazyFrame,
    *,
    max_hop_delay: timedelta,
    min_hops: int,
    max_hops: int,
    min_total: float,
) -> pl.DataFrame:
    cand = temporal_prune(cand, max_hop_delay, loop=False, rounds=2)
    paths = _chain_paths(cand, max_hop_delay=max_hop_delay, min_hops=min_hops, max_hops=max_hops)
    if paths.height == 0:
        return pl.DataFrame()
    # Small change passed between friends is no laundering chain.
    paths = paths.filter(pl.col(_AMTS).list.sum() >= min_total)
    if paths.height == 0:
        return pl.DataFrame()
    # How much of each amount the next hop carried on (1 = all of it, capped).
    ratio = pl.element().shift(-1) / pl.element()
    hop_ratios = pl.col(_AMTS).list.eval(pl.min_horizontal(ratio, 1 / ratio).drop_nulls())
    paths = paths.with_columns(
        hop_ratios.list.mean().alias("_conserved"),
        pl.col(_DELAYS).list.median().alias("_delay_h"),
        (pl.col(_PATH).list.len() - 1).alias("_hops"),
    )
    delay_h = max_hop_delay.total_seconds() / 3600
    # Longer and faster chains are less likely by chance; and the strength is
    # scaled by the share of the money each hop carried on: a hop that passes
    # on a quarter of what came in is more likely an unrelated payment than
    # the same money moving (in random one-off traffic most chains carry on
    # under half; planted and AMLSim chains most of it). Scaling instead of
    # adding 0.25 x the share: AP 0.500 -> 0.513 and 0.445 -> 0.455 on two
    # 5,000-account generated sets, 0.621 -> 0.633 sample_data, 0.684 ->
    # 0.688 AMLSim small.
    paths = paths.with_columns(
        (
            (
                0.6
                + 0.2 * ((pl.col("_hops") - min_hops + 1) / (max_hops - min_hops + 1)).clip(0, 1)
                + 0.2 * (1 - pl.col("_delay_h") / delay_h).clip(0, 1)
            )
            * pl.col("_conserved")
        ).alias(S.EV_SCORE)
    )
    # Branches from one head transfer are one flow: keep its strongest path
    # (of equally strong ones, the first by its accounts: with day-resolution
    # timestamps two branches often tie, and the row order must not choose).
    inst = (
        paths.with_columns(
            pl.col(_TXNS).list.first().alias(HUB),
            pl.col(_PATH).list.join("\x1f").alias("_path_key"),
        )
        .sort([S.EV_SCORE, "_hops", HUB, "_path_key"], descending=[True, True, False, False])
        .unique(HUB, keep="first", maintain_order=True)
        .select(
            pl.col(_PATH).alias(MEMBERS),
            pl.col(_TXNS).alias(S.EV_TXN_IDS),
            pl.col(_T0).alias(S.EV_WINDOW_START),
            pl.col(_TLAST).alias(S.EV_WINDOW_END),
            S.EV_SCORE,
            "_hops",
            "_conserved",
            "_delay_h",
            pl.col(_PATH).alias("_best"),
        )
        .sort(S.EV_WINDOW_START, "_best")
    )
    return inst.select(
        MEMBERS,
        pl.col(MEMBERS).list.eval(pl.lit("facilitator")).alias(ROLES),
        S.EV_SCORE,
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "money passed through {} accounts in {} one-off hops ({}), a median {} h "
            "between hops, each hop carrying on {}% of the amount before it on average",
            pl.col("_hops") + 1,
            pl.col("_hops"),
            pl.col("_best").list.join(" → "),
            pl.col("_delay_h").round(0).cast(pl.Int64),
            (pl.col("_conserved") * 100).round(0).cast(pl.Int64),
        ).alias(S.EV_REASON),
    )


def standing_payees(
    edges: pl.LazyFrame, *, min_transfers: int, min_span: timedelta, max_gap_cv: float
) -> pl.DataFrame:
    """(sender, receiver) pairs of a standing order: at least ``min_transfers``
    transfers over at least ``min_span``, at regular intervals (gaps varying by
    at most ``max_gap_cv`` of their mean)."""
    return (
        edges.group_by(S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .agg(
            pl.len().alias(N),
            (pl.col(S.TIMESTAMP).max() - pl.col(S.TIMESTAMP).min()).alias("_span"),
            gap_cv(pl.col(S.TIMESTAMP)).alias("_cv"),
        )
        .filter(
            (pl.col(N) >= min_transfers)
            & (pl.col("_span") >= min_span)
            & (pl.col("_cv") <= max_gap_cv)
        )
        .select(S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .collect()
    )


def _bucket(window: timedelta) -> pl.Expr:
    """Calendar bucket of the window's length (integer division: cheap)."""
    return pl.col(S.TIMESTAMP).dt.epoch("s") // max(1, int(window.total_seconds()))


def detect_funnels(
    transactions: pl.LazyFrame,
    edges: pl.LazyFrame,
    *,
    window: timedelta,
    min_deposits: int,
    min_sources: int,
    max_destinations: int,
    min_passed_share: float,
    min_total: float,
    standing_min_transfers: int = 0,
    standing_min_span: timedelta = timedelta(days=60),
    standing_max_gap_cv: float = 0.35,
    big: bool = False,
) -> pl.DataFrame:
    """Accounts fed by many deposits from many sources (cash in many cities,
    or one-off payers) that send most of it on within the window to at most a
    few places. ``transactions`` are the non-card transfers, cash included;
    ``edges`` the account-to-account ones with ONE_OFF.

    A transfer to a standing payee (at least ``standing_min_transfers`` to the
    same account, spread over at least ``standing_min_span``, at regular
    intervals: gaps varying by at most ``standing_max_gap_cv`` of their mean)
    is the holder's own savings, rent or a bill, not money passed on; such
    transfers are left out of the outflow (0 turns this off).

    ``big`` (inputs scanned from files): the deposits are not held, only
    those of the accounts that pass the prefilter (found streaming, on 64-bit
    hashes of the ids: a collision only lets one more account through to the
    exact test); the same result.
    """
    names = transactions.collect_schema().names()
    city = pl.col(S.LOCATION_CITY) if S.LOCATION_CITY in names else pl.lit(None, pl.String)
    # A deposit is cash paid in, or a transfer from a payer with no standing
    # relationship; its source is the payer, or for cash the city it was paid
    # in (the deposit itself when the export has no location).
    deposits = pl.concat(
        [
            transactions.filter(
                (pl.col(S.FROM_ACCOUNT) == S.CASH_NODE) & (pl.col(S.TO_ACCOUNT) != S.CASH_NODE)
            ).select(
                pl.col(S.TO_ACCOUNT).alias(HUB),
                S.TIMESTAMP,
                S.AMOUNT,
                S.TXN_ID,
                pl.concat_str(
                    [pl.lit("cash@"), pl.when(city.is_null()).then(S.TXN_ID).otherwise(city)]
                ).alias("_source"),
            ),
            edges.filter(pl.col(ONE_OFF)).select(
                pl.col(S.TO_ACCOUNT).alias(HUB),
                S.TIMESTAMP,
                S.AMOUNT,
                S.TXN_ID,
                pl.col(S.FROM_ACCOUNT).alias("_source"),
            ),
        ]
    )
    if not big:
        deposits = deposits.collect().lazy()

    def key(account: pl.Expr) -> pl.Expr:
        return account.hash(seed=13) if big else account

    # Cheap prefilter before the rolling window: any window of that length
    # lies within two consecutive calendar buckets of the same length, so one
    # of them holds at least half of its deposits.
    dense = (
        deposits.group_by(key(pl.col(HUB)).alias("_key"), _bucket(window).alias("_b"))
        .agg(pl.len().alias(N))
        .filter(pl.col(N) >= -(-min_deposits // 2))
        .select("_key")
        .unique()
        .collect(engine="streaming" if big else "auto")
        .get_column("_key")
        .implode()
    )

    def in_dense(account: str) -> pl.Expr:
        return key(pl.col(account)).is_in(dense)

    inflow = deposits.filter(in_dense(HUB)).with_columns(pl.lit(1, pl.Int8).alias("_dir"))
    outflow = transactions.filter(in_dense(S.FROM_ACCOUNT))
    if standing_min_transfers > 0:
        outflow = outflow.join(
            standing_payees(
                edges.filter(in_dense(S.FROM_ACCOUNT)),
                min_transfers=standing_min_transfers,
                min_span=standing_min_span,
                max_gap_cv=standing_max_gap_cv,
            ).lazy(),
            on=[S.FROM_ACCOUNT, S.TO_ACCOUNT],
            how="anti",
        )
    outflow = outflow.select(
        pl.col(S.FROM_ACCOUNT).alias(HUB),
        S.TIMESTAMP,
        S.AMOUNT,
        S.TXN_ID,
        pl.col(S.TO_ACCOUNT).alias("_source"),
        pl.lit(-1, pl.Int8).alias("_dir"),
    )
    flows = pl.concat([inflow, outflow]).collect().lazy()
    rolled = (
        flows.sort(HUB, S.TIMESTAMP)
        .rolling(index_column=S.TIMESTAMP, period=window, group_by=HUB)
        .agg(
            (pl.col("_dir") == 1).sum().alias("_n_in"),
            pl.col("_source").filter(pl.col("_dir") == 1).n_unique().alias("_n_src"),
            pl.col("_source").filter(pl.col("_dir") == -1).n_unique().alias("_n_dst"),
            pl.col(S.AMOUNT).filter(pl.col("_dir") == 1).sum().alias("_in"),
            pl.col(S.AMOUNT).filter(pl.col("_dir") == -1).sum().alias("_out"),
        )
    )
    best = (
        rolled.filter(
            (pl.col("_n_in") >= min_deposits)
            & (pl.col("_n_src") >= min_sources)
            & (pl.col("_n_dst") >= 1)
            & (pl.col("_n_dst") <= max_destinations)
            & (pl.col("_out") >= min_passed_share * pl.col("_in"))
            & (pl.col("_in") >= min_total)
        )
        .with_columns((pl.col("_out") / pl.col("_in")).clip(0, 1).alias("_share"))
        .sort([HUB, "_n_src", "_in"], descending=[False, True, True])
        .unique(HUB, keep="first")
        .collect()
    )
    if best.height == 0:
        return pl.DataFrame()
    windowed = (
        flows.join(best.lazy().select(HUB, pl.col(S.TIMESTAMP).alias("_end")), on=HUB)
        .filter(
            in_window(S.TIMESTAMP, "_end", window)
        )
        .group_by(HUB)
        .agg(
            pl.col(S.TXN_ID).sort().alias(S.EV_TXN_IDS),
            pl.col(S.TIMESTAMP).min().alias(S.EV_WINDOW_START),
            pl.col(S.TIMESTAMP).max().alias(S.EV_WINDOW_END),
            pl.col("_source")
            .filter((pl.col("_dir") == -1) & (pl.col("_source") != S.CASH_NODE))
            .unique()
            .sort()
            .alias("_dests"),
            (pl.col("_source").filter(pl.col("_dir") == -1) == S.CASH_NODE)
            .any()
            .alias("_cash_out"),
        )
        .collect()
    )
    inst = best.join(windowed, on=HUB).sort(HUB)
    score = (
        0.3
        + 0.3 * (1 - 0.5 ** (pl.col("_n_src") / min_sources))
        + 0.2 * pl.col("_share")
        + 0.15 * (1 - (pl.col("_n_dst") - 1) / max(1, max_destinations))
    )
    return inst.with_columns(pl.col("_n_in").alias(N)).select(
        pl.concat_list(HUB, "_dests").alias(MEMBERS),
        pl.concat_list(
            pl.lit("facilitator"), pl.col("_dests").list.eval(pl.lit("controller"))
        ).alias(ROLES),
        score.alias(S.EV_SCORE),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "{} took {} deposits totalling {} from {} sources and sent {}% of it on to {} "
            "destination(s){} within {} days",
            pl.col(HUB),
            pl.col("_n_in"),
            pl.col("_in").round(2),
            pl.col("_n_src"),
            (pl.col("_share") * 100).round(0).cast(pl.Int64),
            pl.col("_n_dst"),
            pl.when(pl.col("_cash_out"))
            .then(pl.lit(" (cash withdrawals among them)"))
            .otherwise(pl.lit("")),
            pl.lit(round(window.total_seconds() / 86400, 1)),
        ).alias(S.EV_REASON),
    )
