"""Layered flows: scatter-gather, gather-scatter, bipartite and stack.

- scatter-gather: one account sends to several intermediaries that each pass
  money on to the same final account (the classic layering diamond);
- gather-scatter: several accounts pay one hub, which pays several others
  soon after (a collection point that redistributes);
- bipartite: a group of senders that all pay the same group of receivers
  with one-off transfers (a dense block with no standing relationships);
- stack: bipartite blocks in layers, the receivers of one block being the
  senders of the next.

All are polars joins over one-off transfers; networkx only groups the few
candidate sender pairs of bipartite blocks into components.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import networkx as nx
import polars as pl

from moneytrail import schema as S
from moneytrail.graph._common import (
    HUB,
    MEMBER_SCORES,
    MEMBERS,
    ONE_OFF,
    ROLES,
    SPOKE,
    TOTAL,
    N,
    in_window,
)
from moneytrail.parts import part_of

_K = "mid"
_T1 = "t1"
_T2 = "t2"
_KIND = "kind"


def sparse_edges(edges: pl.LazyFrame, max_degree: int) -> pl.LazyFrame:
    """One-off transfers, without accounts that have more one-off partners than
    ``max_degree`` (processors and payroll hubs would only blow up the joins)."""
    sparse = edges.filter(pl.col(ONE_OFF))
    busy = (
        pl.concat(
            [
                sparse.select(pl.col(S.FROM_ACCOUNT).alias(HUB)),
                sparse.select(pl.col(S.TO_ACCOUNT).alias(HUB)),
            ]
        )
        .group_by(HUB)
        .agg(pl.len().alias(N))
        .filter(pl.col(N) > max_degree)
        .select(HUB)
        .collect()
    )
    if busy.height == 0:  # nothing to leave out: skip the two anti-joins
        return sparse
    busy = busy.lazy()
    # in the order of the edges, whichever engine runs it: a big input's chains
    # are pruned by row position over two scans of this (temporal_prune)
    return sparse.join(
        busy, left_on=S.FROM_ACCOUNT, right_on=HUB, how="anti", maintain_order="left"
    ).join(busy, left_on=S.TO_ACCOUNT, right_on=HUB, how="anti", maintain_order="left")


def _concat_parts(found: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """The instances of all parts (a part without any gives a frame without columns)."""
    found = [frame for frame in found if frame.height]
    return pl.concat(found) if found else pl.DataFrame()


def _span_days() -> pl.Expr:
    return (pl.col(S.EV_WINDOW_END) - pl.col(S.EV_WINDOW_START)).dt.total_seconds() / 86400


def detect_scatter_gather(
    sparse: pl.LazyFrame, *, window: timedelta, min_intermediaries: int, parts: int = 1
) -> pl.DataFrame:
    """source → ≥ m intermediaries → sink, each leg after the one before, within the window.

    With ``parts`` > 1 (big inputs) a part of the sources at a time (split by
    account, :func:`moneytrail.parts.part_of`): an instance is one source's."""
    if parts > 1:
        return _concat_parts(
            _scatter_gather(
                sparse,
                window=window,
                min_intermediaries=min_intermediaries,
                sources=part_of(pl.col(S.FROM_ACCOUNT), parts) == part,
            )
            for part in range(parts)
        )
    return _scatter_gather(sparse, window=window, min_intermediaries=min_intermediaries)


def _scatter_gather(
    sparse: pl.LazyFrame,
    *,
    window: timedelta,
    min_intermediaries: int,
    sources: pl.Expr | None = None,
) -> pl.DataFrame:
    """:func:`detect_scatter_gather` of the sources where ``sources`` holds (all when None)."""
    legs1 = (sparse if sources is None else sparse.filter(sources)).select(
        pl.col(S.FROM_ACCOUNT).alias(HUB),
        pl.col(S.TO_ACCOUNT).alias(_K),
        pl.col(S.TIMESTAMP).alias(_T1),
        pl.col(S.TXN_ID).alias("_x1"),
        pl.col(S.AMOUNT).alias("_a1"),
    )
    legs2 = sparse
    if sources is not None:
        # only the intermediaries these sources paid
        legs2 = legs2.join(
            legs1.select(pl.col(_K).alias(S.FROM_ACCOUNT)).unique(), on=S.FROM_ACCOUNT, how="semi"
        )
    legs2 = legs2.select(
        pl.col(S.FROM_ACCOUNT).alias(_K),
        pl.col(S.TO_ACCOUNT).alias(SPOKE),
        pl.col(S.TIMESTAMP).alias(_T2),
        pl.col(S.TXN_ID).alias("_x2"),
    )
    # Prefilter: only intermediaries with one-off in and out can carry a diamond.
    paths = (
        legs1.join(legs2, on=_K)
        .filter(
            (pl.col(HUB) != pl.col(SPOKE))
            & (pl.col(_T2) >= pl.col(_T1))
            & (pl.col(_T2) - pl.col(_T1) <= window)
        )
        .filter(pl.col(_K).n_unique().over(HUB, SPOKE) >= min_intermediaries)
        .collect()
    )
    if paths.height == 0:
        return pl.DataFrame()
    inst = (
        paths.group_by(HUB, SPOKE)
        .agg(
            pl.col(_K).unique().sort().alias("_mids"),
            pl.concat_list("_x1", "_x2").explode().unique().sort().alias(S.EV_TXN_IDS),
            pl.col(_T1).min().alias(S.EV_WINDOW_START),
            pl.col(_T2).max().alias(S.EV_WINDOW_END),
            pl.col("_a1").sum().alias(TOTAL),
        )
        .with_columns(pl.col("_mids").list.len().alias(N))
        .filter(_span_days() <= 2 * window.total_seconds() / 86400)
        .sort(HUB, SPOKE)
    )
    window_days = window.total_seconds() / 86400
    score = (
        0.5
        + 0.3 * (1 - 0.5 ** (pl.col(N) - min_intermediaries + 1))
        + 0.2 * (1 - (_span_days() / (2 * window_days)).clip(0, 1))
    )
    return inst.select(
        pl.concat_list(pl.col(HUB), pl.col("_mids"), pl.col(SPOKE)).alias(MEMBERS),
        pl.concat_list(
            pl.lit("controller"),
            pl.col("_mids").list.eval(pl.lit("facilitator")),
            pl.lit("collector"),
        ).alias(ROLES),
        score.alias(S.EV_SCORE),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "{} sent {} to {} intermediaries who each passed money on to {} within {} days",
            pl.col(HUB),
            pl.col(TOTAL).round(2),
            pl.col(N),
            pl.col(SPOKE),
            (_span_days().round(0) + 1).cast(pl.Int64),
        ).alias(S.EV_REASON),
    )


def detect_gather_scatter(
    sparse: pl.LazyFrame,
    *,
    window: timedelta,
    min_each_side: int,
    min_flow_ratio: float,
    min_total: float,
    member_amount_ratio: float | None = None,
    loose_member_weight: float = 1.0,
    parts: int = 1,
    hubs: pl.Expr | None = None,
) -> pl.DataFrame:
    """A hub with ≥ m one-off payers and ≥ m one-off payees in one window, paying after.

    With ``member_amount_ratio``, a payer (payee) whose amount is within that
    ratio of at least m - 1 other payers' (payees') carries the instance's full
    score, any other member ``loose_member_weight`` of it: the mules of a
    gather-scatter are told what to pay and are paid even shares, while one
    ordinary payment into or out of a busy account says little about its payer.

    With ``parts`` > 1 (big inputs) a part of the hubs at a time (split by
    account, :func:`moneytrail.parts.part_of`), each reading only the transfers
    into and out of its hubs; ``hubs`` (internal) limits a run to the hubs
    where it holds.
    """
    if parts > 1:
        return _concat_parts(
            detect_gather_scatter(
                sparse.filter(
                    (part_of(pl.col(S.FROM_ACCOUNT), parts) == part)
                    | (part_of(pl.col(S.TO_ACCOUNT), parts) == part)
                ),
                window=window,
                min_each_side=min_each_side,
                min_flow_ratio=min_flow_ratio,
                min_total=min_total,
                member_amount_ratio=member_amount_ratio,
                loose_member_weight=loose_member_weight,
                hubs=part_of(pl.col(HUB), parts) == part,
            )
            for part in range(parts)
        )
    # first transfer of each pair: one group-by serves both sides of the hub
    first_ts = pl.col(S.TIMESTAMP).min()
    ins = outs = sparse.group_by(S.FROM_ACCOUNT, S.TO_ACCOUNT).agg(first_ts).collect().lazy()
    events = pl.concat(
        [
            ins.select(
                pl.col(S.TO_ACCOUNT).alias(HUB),
                pl.col(S.FROM_ACCOUNT).alias(SPOKE),
                S.TIMESTAMP,
                pl.lit(1, pl.Int8).alias(_KIND),
            ),
            outs.select(
                pl.col(S.FROM_ACCOUNT).alias(HUB),
                pl.col(S.TO_ACCOUNT).alias(SPOKE),
                S.TIMESTAMP,
                pl.lit(-1, pl.Int8).alias(_KIND),
            ),
        ]
    )
    if hubs is not None:
        events = events.filter(hubs)
    # Cheap prefilter: a window lies within two calendar buckets of its
    # length, so a hub with a gather-scatter has half of each side in one.
    half = -(-min_each_side // 2)
    bucket = pl.col(S.TIMESTAMP).dt.epoch("s") // max(1, int(window.total_seconds()))
    dense = (
        events.group_by(HUB, _KIND, bucket.alias("_b"))
        .agg(pl.len().alias(N))
        .filter(pl.col(N) >= half)
        .group_by(HUB)
        .agg(pl.col(_KIND).n_unique().alias(N))
        .filter(pl.col(N) == 2)
        .select(HUB)
    )
    events = events.join(dense, on=HUB, how="semi").collect().lazy()
    rolled = (
        # ties in time (exports with day-resolution timestamps) in a fixed
        # order, payers first: which event comes first decides _in_first
        events.sort([HUB, S.TIMESTAMP, _KIND, SPOKE], descending=[False, False, True, False])
        .rolling(index_column=S.TIMESTAMP, period=window, group_by=HUB)
        .agg(
            (pl.col(_KIND) == 1).sum().alias("_nin"),
            (pl.col(_KIND) == -1).sum().alias("_nout"),
            # payouts should follow the collection: the first payer comes first
            (pl.col(_KIND).first() == 1).alias("_in_first"),
        )
    )
    best = (
        rolled.filter(
            (pl.col("_nin") >= min_each_side)
            & (pl.col("_nout") >= min_each_side)
            & pl.col("_in_first")
        )
        .with_columns(pl.min_horizontal("_nin", "_nout").alias(N))
        .sort([HUB, N, S.TIMESTAMP], descending=[False, True, False])
        .unique(HUB, keep="first")
        .select(HUB, pl.col(S.TIMESTAMP).alias("_end"))
    )
    members = events.join(best, on=HUB).filter(
        in_window(S.TIMESTAMP, "_end", window)
    )
    def leg(kind: int, hub_col: str, spoke_col: str) -> pl.LazyFrame:
        """The hub's transfers with its payers (kind 1) or its payees (kind -1)."""
        return sparse.join(
            members.filter(pl.col(_KIND) == kind).select(
                pl.col(HUB).alias(hub_col), pl.col(SPOKE).alias(spoke_col), "_end"
            ),
            on=[hub_col, spoke_col],
        ).select(
            pl.col(hub_col).alias(HUB),
            pl.col(spoke_col).alias(SPOKE),
            S.TXN_ID,
            S.TIMESTAMP,
            S.AMOUNT,
            "_end",
            pl.lit(kind, pl.Int8).alias(_KIND),
        )

    txn_in = leg(1, S.TO_ACCOUNT, S.FROM_ACCOUNT)
    txn_out = leg(-1, S.FROM_ACCOUNT, S.TO_ACCOUNT)
    windowed = (
        pl.concat([txn_in, txn_out]).filter(in_window(S.TIMESTAMP, "_end", window)).collect().lazy()
    )
    txns = (
        windowed.group_by(HUB)
        .agg(
            pl.col(S.TXN_ID).sort().alias(S.EV_TXN_IDS),
            pl.col(S.TIMESTAMP).min().alias(S.EV_WINDOW_START),
            pl.col(S.TIMESTAMP).max().alias(S.EV_WINDOW_END),
            pl.col(S.AMOUNT).filter(pl.col(_KIND) == 1).sum().alias("_in_total"),
            pl.col(S.AMOUNT).filter(pl.col(_KIND) == -1).sum().alias("_out_total"),
        )
    )
    sides = members.group_by(HUB).agg(
        pl.col(SPOKE).filter(pl.col(_KIND) == 1).unique().sort().alias("_payers"),
        pl.col(SPOKE).filter(pl.col(_KIND) == -1).unique().sort().alias("_payees"),
    )
    # What goes out must be of the order of what came in (a hub that collects
    # pocket money and pays its rent is no gather-scatter), and be worth a look.
    flow_ratio = pl.min_horizontal("_in_total", "_out_total") / pl.max_horizontal(
        "_in_total", "_out_total"
    )
    inst = (
        sides.join(txns, on=HUB)
        .filter((flow_ratio >= min_flow_ratio) & (pl.col("_in_total") >= min_total))
        .sort(HUB)
        .collect()
    )
    if inst.height == 0:
        return pl.DataFrame()
    n_in, n_out = pl.col("_payers").list.len(), pl.col("_payees").list.len()
    passed = flow_ratio
    score = (
        0.45
        + 0.25 * (1 - 0.5 ** (pl.min_horizontal(n_in, n_out) - min_each_side + 1))
        + 0.3 * passed
    )
    inst = inst.with_columns(score.alias(S.EV_SCORE))
    if member_amount_ratio is None:
        member_scores = pl.concat_list(
            S.EV_SCORE,
            pl.col("_payers").list.eval(pl.lit(1.0)) * pl.col(S.EV_SCORE),
            pl.col("_payees").list.eval(pl.lit(1.0)) * pl.col(S.EV_SCORE),
        )
    else:
        inst = _with_member_weights(
            inst, windowed, min_each_side, member_amount_ratio, loose_member_weight
        )
        member_scores = pl.concat_list(
            S.EV_SCORE,
            pl.col("_payer_w") * pl.col(S.EV_SCORE),
            pl.col("_payee_w") * pl.col(S.EV_SCORE),
        )
    return inst.select(
        pl.concat_list(pl.col(HUB), "_payers", "_payees").alias(MEMBERS),
        pl.concat_list(
            pl.lit("collector"),
            pl.col("_payers").list.eval(pl.lit("facilitator")),
            pl.col("_payees").list.eval(pl.lit("facilitator")),
        ).alias(ROLES),
        S.EV_SCORE,
        member_scores.alias(MEMBER_SCORES),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "{} collected {} from {} one-off payers and paid {} to {} one-off payees "
            "within {} days",
            pl.col(HUB),
            pl.col("_in_total").round(2),
            n_in,
            pl.col("_out_total").round(2),
            n_out,
            (_span_days().round(0) + 1).cast(pl.Int64),
        ).alias(S.EV_REASON),
    )


def _with_member_weights(
    inst: pl.DataFrame,
    windowed: pl.LazyFrame,
    min_each_side: int,
    amount_ratio: float,
    loose_weight: float,
) -> pl.DataFrame:
    """Add _payer_w and _payee_w (lists aligned with _payers and _payees): 1 for
    a member whose amount is within ``amount_ratio`` of at least
    ``min_each_side - 1`` others on its side, ``loose_weight`` otherwise."""
    amounts = (
        windowed.join(inst.lazy().select(HUB), on=HUB, how="semi")
        .group_by(HUB, _KIND, SPOKE)
        .agg(pl.col(S.AMOUNT).sum())
        .collect()
    )
    # hubs have dozens of members at most: a self-join per hub and side is small
    pairs = amounts.join(amounts, on=[HUB, _KIND], suffix="_o").filter(
        (pl.col(SPOKE) != pl.col(f"{SPOKE}_o"))
        & (
            pl.max_horizontal(S.AMOUNT, f"{S.AMOUNT}_o")
            <= amount_ratio * pl.min_horizontal(S.AMOUNT, f"{S.AMOUNT}_o")
        )
    )
    kin = pairs.group_by(HUB, _KIND, SPOKE).agg(pl.len().alias("_kin"))
    weights = amounts.join(kin, on=[HUB, _KIND, SPOKE], how="left").select(
        HUB,
        _KIND,
        SPOKE,
        pl.when(pl.col("_kin").fill_null(0) + 1 >= min_each_side)
        .then(1.0)
        .otherwise(loose_weight)
        .alias("_w"),
    )
    for kind, side in ((1, "_payers"), (-1, "_payees")):
        aligned = (
            inst.select(HUB, pl.col(side).alias(SPOKE))
            .explode(SPOKE)
            .with_row_index("_o")
            .join(weights.filter(pl.col(_KIND) == kind), on=[HUB, SPOKE], how="left")
            .sort("_o")
            .group_by(HUB, maintain_order=True)
            .agg(pl.col("_w").fill_null(loose_weight).alias(f"{side[:-1]}_w"))
        )
        inst = inst.join(aligned, on=HUB, how="left")
    return inst


def bipartite_blocks(
    sparse: pl.LazyFrame, *, window: timedelta, min_side: int, min_density: float, parts: int = 1
) -> pl.DataFrame:
    """Dense blocks of senders × receivers linked only by one-off transfers.

    Sender pairs that pay at least ``min_side`` common receivers within the
    window are joined into components; each component with its common
    receivers is a block if both sides have ``min_side`` accounts and at least
    ``min_density`` of the possible sender→receiver links exist. ``parts`` > 1
    (big inputs): the sender pairs are found a part of the senders at a time.
    """
    # a pair's first transfer in the edges' order (keep="any" let the engine
    # choose, and a big input's blocks changed from run to run)
    e = sparse.select(S.FROM_ACCOUNT, S.TO_ACCOUNT, S.TIMESTAMP).unique(
        [S.FROM_ACCOUNT, S.TO_ACCOUNT], keep="first", maintain_order=True
    )
    # A block member pays (or is paid by) at least min_side others in it:
    # a few rounds of degree pruning leave only what could be a block.
    e = e.collect()
    for _ in range(3):
        before = e.height
        e = e.filter(
            (pl.len().over(S.TO_ACCOUNT) >= min_side)
            & (pl.len().over(S.FROM_ACCOUNT) >= min_side)
        )
        if e.height == before:
            break
    e = e.lazy()

    def common_receivers(first: pl.LazyFrame) -> pl.DataFrame:
        """Pairs of senders, the one of the pair in ``first``, with their common receivers."""
        return (
            first.join(e, on=S.TO_ACCOUNT, suffix="_2")
            .filter(
                (pl.col(S.FROM_ACCOUNT) < pl.col(f"{S.FROM_ACCOUNT}_2"))
                & ((pl.col(S.TIMESTAMP) - pl.col(f"{S.TIMESTAMP}_2")).abs() <= window)
            )
            .group_by(S.FROM_ACCOUNT, f"{S.FROM_ACCOUNT}_2")
            .agg(pl.col(S.TO_ACCOUNT).alias("_common"))
            .filter(pl.col("_common").list.len() >= min_side)
            .collect()
        )

    # The self-join's rows grow with the square of the receivers' senders: big
    # inputs pair a part of the senders at a time with all of them.
    co = pl.concat(
        [
            common_receivers(
                e if parts == 1 else e.filter(part_of(pl.col(S.FROM_ACCOUNT), parts) == part)
            )
            for part in range(parts)
        ]
    )
    if co.height == 0:
        return pl.DataFrame()
    graph = nx.Graph()
    graph.add_edges_from(co.select(S.FROM_ACCOUNT, f"{S.FROM_ACCOUNT}_2").iter_rows())
    comps = sorted(sorted(c) for c in nx.connected_components(graph))
    senders = pl.DataFrame(
        {
            HUB: [f"{i}" for i, c in enumerate(comps) for _ in c],
            S.FROM_ACCOUNT: [a for c in comps for a in c],
        }
    )
    receivers = (
        co.join(senders, on=S.FROM_ACCOUNT)
        .explode("_common")
        .group_by(HUB, "_common")
        .agg(pl.len())
        .select(HUB, pl.col("_common").alias(S.TO_ACCOUNT))
    )
    # (only the senders' transfers are read: the block members are few)
    links = (
        sparse.filter(pl.col(S.FROM_ACCOUNT).is_in(senders.get_column(S.FROM_ACCOUNT).implode()))
        .collect()
        .join(senders, on=S.FROM_ACCOUNT)
        .join(receivers, on=[HUB, S.TO_ACCOUNT])
    )
    blocks = (
        links.group_by(HUB)
        .agg(
            pl.col(S.FROM_ACCOUNT).unique().sort().alias("_senders"),
            pl.col(S.TO_ACCOUNT).unique().sort().alias("_receivers"),
            pl.struct(S.FROM_ACCOUNT, S.TO_ACCOUNT).n_unique().alias("_links"),
            pl.col(S.TXN_ID).sort().alias(S.EV_TXN_IDS),
            pl.col(S.TIMESTAMP).min().alias(S.EV_WINDOW_START),
            pl.col(S.TIMESTAMP).max().alias(S.EV_WINDOW_END),
            pl.col(S.AMOUNT).sum().alias(TOTAL),
        )
        .with_columns(
            (
                pl.col("_links") / (pl.col("_senders").list.len() * pl.col("_receivers").list.len())
            ).alias("_density")
        )
        .filter(
            (pl.col("_senders").list.len() >= min_side)
            & (pl.col("_receivers").list.len() >= min_side)
            & (pl.col("_density") >= min_density)
            # an account on both sides is a cycle or a chain, not a block
            & (pl.col("_senders").list.set_intersection("_receivers").list.len() == 0)
        )
        .sort(S.EV_WINDOW_START, HUB)
    )
    return blocks


def bipartite_evidence(blocks: pl.DataFrame, min_side: int) -> pl.DataFrame:
    if blocks.height == 0:
        return pl.DataFrame()
    n_s, n_r = pl.col("_senders").list.len(), pl.col("_receivers").list.len()
    score = (
        0.4
        + 0.3 * (1 - 0.5 ** (pl.min_horizontal(n_s, n_r) - min_side + 1))
        + 0.3 * pl.col("_density")
    )
    return blocks.select(
        pl.concat_list("_senders", "_receivers").alias(MEMBERS),
        pl.concat_list(
            pl.col("_senders").list.eval(pl.lit("launderer")),
            pl.col("_receivers").list.eval(pl.lit("facilitator")),
        ).alias(ROLES),
        score.alias(S.EV_SCORE),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "{} senders paid {} receivers through {} one-off links ({}% of all pairs), "
            "{} in total within {} days",
            n_s,
            n_r,
            pl.col("_links"),
            (pl.col("_density") * 100).round(0).cast(pl.Int64),
            pl.col(TOTAL).round(2),
            (_span_days().round(0) + 1).cast(pl.Int64),
        ).alias(S.EV_REASON),
    )


def stack_evidence(blocks: pl.DataFrame, *, window: timedelta, min_side: int) -> pl.DataFrame:
    """Chains of bipartite blocks: block B's senders are (mostly) block A's receivers."""
    if blocks.height < 2:
        return pl.DataFrame()
    b = blocks.select(
        HUB, "_senders", "_receivers", S.EV_WINDOW_START, S.EV_WINDOW_END, S.EV_TXN_IDS, TOTAL
    )
    pairs = b.join(b, how="cross", suffix="_b").filter(
        (pl.col(HUB) != pl.col(f"{HUB}_b"))
        & (pl.col("_receivers").list.set_intersection(pl.col("_senders_b")).list.len() >= min_side)
        & (pl.col(f"{S.EV_WINDOW_START}_b") >= pl.col(S.EV_WINDOW_START))
        & (pl.col(f"{S.EV_WINDOW_START}_b") - pl.col(S.EV_WINDOW_END) <= window)
    )
    if pairs.height == 0:
        return pl.DataFrame()
    graph = nx.Graph()
    graph.add_edges_from(pairs.select(HUB, f"{HUB}_b").iter_rows())
    rows = []
    by_id = {r[HUB]: r for r in b.iter_rows(named=True)}
    for comp in sorted(sorted(c) for c in nx.connected_components(graph)):
        layers = sorted((by_id[h] for h in comp), key=lambda r: r[S.EV_WINDOW_START])
        first_senders = set(layers[0]["_senders"])
        accounts = sorted({a for r in layers for a in r["_senders"] + r["_receivers"]})
        rows.append(
            {
                MEMBERS: accounts,
                ROLES: ["launderer" if a in first_senders else "facilitator" for a in accounts],
                S.EV_SCORE: min(1.0, 0.6 + 0.1 * len(layers)),
                S.EV_WINDOW_START: min(r[S.EV_WINDOW_START] for r in layers),
                S.EV_WINDOW_END: max(r[S.EV_WINDOW_END] for r in layers),
                S.EV_TXN_IDS: sorted({t for r in layers for t in r[S.EV_TXN_IDS]}),
                S.EV_REASON: (
                    f"{len(layers) + 1} layers of accounts ({len(accounts)} in all) passed "
                    f"{sum(r[TOTAL] for r in layers):,.2f} from layer to layer through "
                    "dense one-off transfers"
                ),
            }
        )
    return pl.DataFrame(rows)
