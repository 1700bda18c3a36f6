"""Fan-in and fan-out: many one-off counterparties into (or out of) one account.

A hub that, within one window, receives from (or sends to) many accounts it has
no standing relationship with is the collector of a fan-in (victims' earnings,
buyers' payments, mule deposits) or the distributor of a fan-out. Whole-graph
polars: each counterparty is counted once, at its first one-off transfer with
the hub, and a rolling window per hub finds the densest stretch.

Being one of many payers of a busy account is ordinary (customers of a landlord,
a tradesman, a gig worker), so a spoke is scored by what marks it out: being
part of a coordinated cluster (several spokes paying a similar amount around the
same time, which also lifts the hub's score), or, outside one, by how rare it is
in this population to be such a spoke at all.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

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
    in_window,
)
from moneytrail.parts import part_of

DEG_ALL = "deg_all"
COORD_MEMBERS = "_coord_members"  # spokes in a coordinated cluster (hub first)
COORD_SCORE = "_coord_score"
COORD_REASON = "_coord_reason"
_SPOKE_TOTALS = "_spoke_totals"
KIN = "kin"  # other spokes of the same fan that paid a similar amount around the same time
KINS = "kins"
IN_DENSEST = "in_densest"  # the spoke is one of the fan's densest group
_DENSEST_FLAGS = "_densest_flags"
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
    cluster_window: timedelta = timedelta(days=7),
    cluster_amount_ratio: float = 1.25,
    spoke_min_cluster: int = 4,
    cluster_min_share: float = 0.0,
    loose_spoke_share: float = 0.15,
    coordinated_min_share: float | None = None,
    side_counts: dict[str, int] | None = None,
    pair_firsts: pl.DataFrame | pl.LazyFrame | None = None,
    parts: int = 1,
) -> pl.DataFrame:
    """Instances of fan-in (``direction="in"``) or fan-out (``"out"``), one per hub.

    Returns the instance frame described in :func:`_common.to_evidence`, plus HUB.
    A fan-out whose transfers run on a fixed schedule (at least
    ``scheduled_min_transfers``, gaps varying by at most ``scheduled_max_gap_cv``
    of their mean) is a standing order or a payroll run, not a burst, and is
    left out; a fan-in is not, as its timing is the payers'.

    With ``coordinated_min_share``, a fan whose largest cluster of similar
    amounts around the same time holds at least that share of its
    counterparties, and carries at least ``min_total``, also gets COORD_MEMBERS,
    COORD_SCORE and COORD_REASON (null otherwise): read them with
    :func:`coordinated_instances`.

    With ``parts`` > 1 (big inputs), the work per hub runs a part of the hubs
    at a time (split by account, :func:`moneytrail.parts.part_of`), each part
    reading only its hubs' transfers; the population statistics (the typical
    hub, how common loose spokes are) are taken over all of them, so the
    result is the same.
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
    if pair_firsts is None:
        pair_firsts = one_off_pair_firsts(edges)
    firsts = pair_firsts.lazy().select(
        pl.col(hub_col).alias(HUB), pl.col(spoke_col).alias(SPOKE), FIRST_TS
    )

    def in_part(part: int) -> pl.Expr:
        return pl.lit(True) if parts == 1 else part_of(pl.col(HUB), parts) == part

    # New counterparties per hub per calendar bucket of the window's length: the
    # hub's busiest bucket (per hub, so computed part by part on big inputs).
    bucket = pl.col(FIRST_TS).dt.epoch("s") // max(1, int(window.total_seconds()))
    busiest = pl.concat(
        [
            firsts.filter(in_part(part))
            .group_by(HUB, bucket.alias("_b"))
            .agg(pl.len().alias(N))
            .group_by(HUB)
            .agg(pl.col(N).max())
            .collect()
            for part in range(parts)
        ]
    )
    # A fan is several times what a typical hub does: where one-off transfers
    # are everyday business (every account pays new people all the time), the
    # fixed minimum alone would call every account a hub.
    # every account that ever takes that side counts, the ones with no
    # one-off counterparty at all as zero
    if side_counts is None:
        side_counts = account_side_counts(edges)
    active, spoke_side = side_counts[hub_col], side_counts[spoke_col]
    counts = busiest.get_column(N)
    zeros = pl.zeros(max(0, active - counts.len()), dtype=counts.dtype, eager=True)
    # a typical hub needs a population to be typical of
    typical = (pl.concat([counts, zeros]).median() or 0) if active >= _MIN_POPULATION else 0
    min_counterparties = max(min_counterparties, math.ceil(population_multiple * typical))
    # Cheap prefilter: any window lies within two consecutive calendar buckets
    # of its length, so a hub with a fan has half of it in one bucket.
    dense = busiest.filter(pl.col(N) >= -(-min_counterparties // 2)).select(HUB)
    del busiest, counts
    # Everything from here to the population's share of loose spokes is per hub:
    # big inputs run it part by part (hubs split by account), each part reading
    # only its hubs' transfers.
    found = [
        _fan_part(
            sparse.filter(in_part(part)),
            firsts.filter(in_part(part)).join(dense.lazy(), on=HUB, how="semi").collect(),
            direction,
            window=window,
            min_counterparties=min_counterparties,
            scheduled_min_transfers=scheduled_min_transfers,
            scheduled_max_gap_cv=scheduled_max_gap_cv,
            min_total=min_total,
            cluster_window=cluster_window,
            cluster_amount_ratio=cluster_amount_ratio,
        )
        for part in range(parts)
    ]
    out = pl.concat(found) if parts > 1 else found[0]
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
    # counterparties the burst accounts for, how tight it is in time, and how
    # large its biggest cluster of look-alike transfers is.
    degree_term = 1 - 0.5 ** (pl.col(N) / min_counterparties)
    focus = pl.col(N) / pl.max_horizontal(pl.col(DEG_ALL), pl.col(N))
    tight = 1 - (span_days / window_days).clip(0, 1)
    # Coordinated: a large cluster that is most of the fan.
    cluster = pl.col(KINS).list.max() + 1
    coordinated = (cluster / min_counterparties).clip(0, 1) * (cluster / pl.col(N)).clip(0, 1)
    # A fan alone has many innocent explanations (a marketplace seller, a
    # payout platform), so it tops out below the layered structures.
    score = 0.25 + 0.5 * (0.5 * degree_term + 0.3 * focus + 0.2 * tight) + 0.15 * coordinated
    # Spokes in a coordinated cluster (at least spoke_min_cluster of them, and
    # at least cluster_min_share of the fan, paying a similar amount around the
    # same time) carry full evidence. The others are weaker evidence the more
    # common it is to be one: where most accounts pay some busy account now and
    # then (a realistic retail population), being one of its payers says little.
    need = pl.max_horizontal(
        pl.lit(spoke_min_cluster), (pl.col(N) * cluster_min_share).ceil().cast(pl.Int64)
    )
    out = out.with_columns(
        score.alias(S.EV_SCORE),
        cluster.alias("_cluster"),
        (pl.col(KINS) + 1 - need).alias("_margin"),
    )
    loose = (
        out.select(
            pl.col(MEMBERS).list.gather(pl.col("_margin").list.eval((pl.element() < 0).arg_true()))
        )
        .explode(MEMBERS)
        .drop_nulls()
        .n_unique()
    )
    loose_spoke_weight = min(1.0, loose_spoke_share / max(loose / max(spoke_side, 1), 1e-9)) ** 2
    # ... and where it is twice as common as that (weight under a quarter) they
    # are not reported at all: thousands of "paid a busy account once" rows
    # would bury the evidence an analyst needs.
    if loose_spoke_weight < 0.25:
        loose_spoke_weight = 0.0
    clustered = (pl.element() >= 0).cast(pl.Float64)
    strength = clustered + (1 - clustered) * pl.lit(loose_spoke_weight)
    keep = pl.col("_margin").list.eval((strength > 0).arg_true())
    out = out.with_columns(
        pl.col(MEMBERS).list.gather(keep).alias("_spokes"),
        pl.col("_margin").list.gather(keep).list.eval(strength).alias("_spoke_strength"),
    )
    spoke_share = (2 * min_counterparties / pl.col(N)).clip(0, 1).sqrt()
    spoke_scores = pl.col("_spoke_strength") * (pl.col(S.EV_SCORE) * 0.85 * spoke_share)
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
    # Coordinated: the fan's largest cluster (many unrelated payers paying
    # nearly the same amount within days: a fixed price, or mules told what to
    # pay) holds at least coordinated_min_share of its counterparties or of its
    # money, and the clustered spokes move at least min_total. Being one of a
    # busy account's many payers is ordinary; being one of a cluster that is
    # most of its payers, or brought most of its money, is not, so this is its
    # own, rarer indicator, on the hub and the clustered spokes. (The money
    # share finds a burst of coordinated payers into an account that also has
    # many ordinary ones: AP 0.610 -> 0.639 and 0.534 -> 0.587 on two generated
    # sets, sample_data 0.647 -> 0.652, AMLSim small unchanged.)
    in_cluster = pl.col("_margin").list.eval((pl.element() >= 0).arg_true())
    clustered_money = pl.col(_SPOKE_TOTALS).list.gather(in_cluster).list.sum()
    densest = pl.col(_DENSEST_FLAGS).list.eval(pl.element().arg_true())
    money_share = (pl.col(_SPOKE_TOTALS).list.gather(densest).list.sum() / pl.col(TOTAL)).clip(0, 1)
    share = pl.max_horizontal((pl.col("_cluster") / pl.col(N)).clip(0, 1), "_money_share")
    coord_score = 0.5 + 0.5 * share
    out = out.with_columns(money_share.alias("_money_share"))
    if coordinated_min_share is None:
        coordinated = pl.lit(False)
    else:
        coordinated = (
            (share >= coordinated_min_share)
            & (pl.col("_margin").list.max() >= 0)
            & (clustered_money >= min_total)
            # most of the hub's counterparties are one-off: a hub whose
            # counterparties are mostly standing (a biller, an employer) is
            # run like a business, and like amounts at like times are its
            # ordinary trade (an electric utility on sample_data: 85 of its
            # 211 payers one-off within the export, the rest monthly)
            & (pl.col(N) >= 0.5 * pl.col(DEG_ALL))
        )
    out = out.with_columns(
        pl.when(coordinated)
        .then(pl.concat_list(pl.col(HUB), pl.col(MEMBERS).list.gather(in_cluster)))
        .alias(COORD_MEMBERS),
        pl.when(coordinated).then(coord_score).alias(COORD_SCORE),
        pl.when(coordinated)
        .then(
            pl.format(
                "{} of the {} one-off counterparties of {} {} similar amounts around the same "
                "time ({} in all; the densest group {}% of the fan's money): coordinated {}",
                pl.col("_cluster"),
                pl.col(N),
                pl.col(HUB),
                pl.lit("paid it" if direction == "in" else "were paid"),
                clustered_money.round(2),
                (pl.col("_money_share") * 100).round(0).cast(pl.Int64),
                pl.lit("payers" if direction == "in" else "payees"),
            )
        )
        .alias(COORD_REASON),
    )
    out = out.select(
        HUB,
        pl.concat_list(pl.col(HUB), pl.col("_spokes")).alias(MEMBERS),
        pl.concat_list(pl.lit(hub_role), pl.col("_spokes").list.eval(pl.lit(spoke_role))).alias(
            ROLES
        ),
        S.EV_SCORE,
        pl.concat_list(pl.col(S.EV_SCORE), spoke_scores).alias(MEMBER_SCORES),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.format(
            "{} {} {} transfers totalling {} {} {} one-off counterparties within {} days "
            "({} of its {} counterparties; the largest group of similar amounts "
            "around the same time: {})",
            pl.col(HUB),
            pl.lit(verb),
            pl.col(S.EV_TXN_IDS).list.len(),
            pl.col(TOTAL).round(2),
            pl.lit(word),
            pl.col(N),
            (span_days.round(0) + 1).cast(pl.Int64),
            pl.col(N),
            pl.col(DEG_ALL),
            pl.col("_cluster"),
        ).alias(S.EV_REASON),
        COORD_MEMBERS,
        COORD_SCORE,
        COORD_REASON,
    )
    return out


def _fan_part(
    sparse: pl.LazyFrame,
    firsts: pl.DataFrame,
    direction: str,
    *,
    window: timedelta,
    min_counterparties: int,
    scheduled_min_transfers: int,
    scheduled_max_gap_cv: float,
    min_total: float,
    cluster_window: timedelta,
    cluster_amount_ratio: float,
) -> pl.DataFrame:
    """The fans of the hubs in ``firsts`` (the first one-off transfer of each of
    their pairs, candidate hubs only): one row per hub with its transactions,
    window, spokes (MEMBERS, first come first) and their KINS, totals and
    densest-group flags. ``sparse`` holds (at least) those hubs' one-off transfers."""
    firsts = firsts.lazy()
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
        in_window(FIRST_TS, "_end", window)
    )
    fan_tx = (
        sparse.join(members.select(HUB, SPOKE, "_end"), on=[HUB, SPOKE])
        .filter(
            in_window(S.TIMESTAMP, "_end", window)
        )
        .collect()
    )
    # Each spoke's kin: how many other spokes paid a similar amount around the
    # same time. Coordinated senders (mules told what to pay, victims paying a
    # fixed price) form such a cluster; a landlord's or tradesman's customers do not.
    per_spoke = (
        _kin(fan_tx, cluster_window, cluster_amount_ratio)
        .join(
            fan_tx.group_by(HUB, SPOKE).agg(
                pl.col(S.TIMESTAMP).min().alias(FIRST_TS), pl.col(S.AMOUNT).sum().alias(TOTAL)
            ),
            on=[HUB, SPOKE],
        )
        .sort(HUB, FIRST_TS, SPOKE)
        .group_by(HUB, maintain_order=True)
        .agg(
            pl.col(SPOKE).alias(MEMBERS),
            pl.col(KIN).alias(KINS),
            pl.col(TOTAL).alias(_SPOKE_TOTALS),
            pl.col(IN_DENSEST).alias(_DENSEST_FLAGS),
        )
    )
    txns = (
        fan_tx.lazy()
        .group_by(HUB)
        .agg(
            pl.col(S.TXN_ID).alias(S.EV_TXN_IDS),
            pl.col(S.TIMESTAMP).min().alias(S.EV_WINDOW_START),
            pl.col(S.TIMESTAMP).max().alias(S.EV_WINDOW_END),
            pl.col(S.AMOUNT).sum().alias(TOTAL),
            gap_cv(pl.col(S.TIMESTAMP)).alias("_gap_cv"),
        )
        .filter(
            # (as in mark_one_off, only a sender sets the timing)
            pl.lit(direction == "in")
            | (pl.col(S.EV_TXN_IDS).list.len() < scheduled_min_transfers)
            | (pl.col("_gap_cv") > scheduled_max_gap_cv)
            | pl.col("_gap_cv").is_null()
        )
        .join(per_spoke.lazy(), on=HUB)
        .with_columns(pl.col(MEMBERS).list.len().alias(N))
    )
    return txns.filter(pl.col(TOTAL) >= min_total).collect()


def coordinated_instances(fans: pl.DataFrame, direction: str) -> pl.DataFrame:
    """Instances of the coordinated fans among ``detect_fan``'s result: the hub
    (collector of a fan-in, launderer of a fan-out) and its clustered spokes,
    which carry 0.85 of the hub's score."""
    if fans.height == 0 or COORD_MEMBERS not in fans.columns:
        return pl.DataFrame()
    hub_role = "collector" if direction == "in" else "launderer"
    coord = fans.filter(pl.col(COORD_MEMBERS).is_not_null())
    spokes = pl.col(COORD_MEMBERS).list.slice(1)
    return coord.select(
        pl.col(COORD_MEMBERS).alias(MEMBERS),
        pl.concat_list(pl.lit(hub_role), spokes.list.eval(pl.lit("facilitator"))).alias(ROLES),
        pl.col(COORD_SCORE).alias(S.EV_SCORE),
        pl.concat_list(
            pl.col(COORD_SCORE), spokes.list.eval(pl.lit(1.0)) * (0.85 * pl.col(COORD_SCORE))
        ).alias(MEMBER_SCORES),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        S.EV_TXN_IDS,
        pl.col(COORD_REASON).alias(S.EV_REASON),
    )


def without_coordination(fans: pl.DataFrame) -> pl.DataFrame:
    """``detect_fan``'s result without the coordinated-fan columns."""
    return fans.drop(COORD_MEMBERS, COORD_SCORE, COORD_REASON, strict=False)


def one_off_pair_firsts(
    edges: pl.LazyFrame, parts: int = 1, directory: Path | None = None
) -> pl.DataFrame | pl.LazyFrame:
    """First one-off transfer of each (sender, receiver) pair: FIRST_TS. Both fan
    directions read the same table, so it is computed once.

    With ``parts`` > 1 (big inputs) the pairs are grouped a part of the receivers
    at a time and written to Parquet files in ``directory``, and the result scans
    them: a group-by over every pair of two text keys at once costs about three
    times the table itself (2.6 GB for 10.8 M pairs)."""
    one_off = edges.filter(pl.col(ONE_OFF))
    firsts = pl.col(S.TIMESTAMP).min().alias(FIRST_TS)
    if parts == 1 or directory is None:
        return one_off.group_by(S.FROM_ACCOUNT, S.TO_ACCOUNT).agg(firsts).collect()
    paths = []
    for part in range(parts):
        path = directory / f"pair-firsts-{part}.parquet"
        (
            one_off.filter(part_of(pl.col(S.TO_ACCOUNT), parts) == part)
            .group_by(S.FROM_ACCOUNT, S.TO_ACCOUNT)
            .agg(firsts)
            .collect()
            .write_parquet(path, compression="lz4")
        )
        paths.append(path)
    return pl.scan_parquet(paths)


def account_side_counts(edges: pl.LazyFrame) -> dict[str, int]:
    """Distinct senders and distinct receivers of transfers, in one pass (both
    fan directions need both). Estimated (HyperLogLog, well under 1 % off): they
    only size the population, and the exact count costs 15 times as much."""
    row = (
        edges.select(
            pl.col(S.FROM_ACCOUNT).approx_n_unique(), pl.col(S.TO_ACCOUNT).approx_n_unique()
        )
        .collect()
        .row(0, named=True)
    )
    return {name: int(value) for name, value in row.items()}


def _kin(fan_tx: pl.DataFrame, window: timedelta, amount_ratio: float) -> pl.DataFrame:
    """KIN per (hub, spoke): the other spokes of the hub whose transfers lie in
    the same or a neighbouring cell of ``window`` in time and of ``amount_ratio``
    in amount (so within one to two cells either way); and IN_DENSEST: the
    spoke belongs to the hub's densest group of such spokes.

    Group-bys over a grid instead of a pairwise self-join: linear in the fan's
    transfers however large the hub.
    """
    step = math.log(max(amount_ratio, 1.0001))
    cells = fan_tx.select(
        HUB,
        SPOKE,
        (pl.col(S.TIMESTAMP).dt.epoch("s") // max(1, int(window.total_seconds()))).alias("_tc"),
        (pl.col(S.AMOUNT).log() / step).floor().cast(pl.Int64).alias("_ac"),
    ).unique()
    shifts = pl.DataFrame(
        {"_dt": [dt for dt in (-1, 0, 1) for _ in range(3)], "_da": [-1, 0, 1] * 3},
        schema={"_dt": pl.Int64, "_da": pl.Int64},
    )
    # Spokes near each cell, each spoke counted once: a spoke with transfers in
    # two neighbouring cells is one kin. Most spokes sit in one cell, and those
    # are counted per cell and spread to the neighbours; only the few in several
    # cells are spread spoke by spoke and deduplicated.
    several = pl.len().over(HUB, SPOKE) > 1
    spread = [pl.col("_tc") + pl.col("_dt"), pl.col("_ac") + pl.col("_da")]
    near_single = (
        cells.filter(~several)
        .group_by(HUB, "_tc", "_ac")
        .agg(pl.len().alias(N))
        .join(shifts, how="cross")
        .group_by(HUB, spread[0].alias("_tc"), spread[1].alias("_ac"))
        .agg(pl.col(N).sum())
    )
    near_several = (
        cells.filter(several)
        .join(shifts, how="cross")
        .select(HUB, SPOKE, spread[0].alias("_tc"), spread[1].alias("_ac"))
        .unique()
        .group_by(HUB, "_tc", "_ac")
        .agg(pl.len().alias(N))
    )
    near = (
        pl.concat([near_single, near_several.cast({N: near_single.schema[N]})])
        .group_by(HUB, "_tc", "_ac")
        .agg(pl.col(N).sum())
    )
    # a spoke with several transfers counts in each of its cells: keep its best
    occupied = cells.join(near, on=[HUB, "_tc", "_ac"], how="left")
    kin = occupied.group_by(HUB, SPOKE).agg((pl.col(N).max() - 1).clip(0).alias(KIN))
    # The densest group: the spokes around the occupied cell with the most
    # spokes near it (ties to the earliest, smallest cell). Its members are all
    # its spokes, not only those whose own best neighbourhood it is: a spoke at
    # its edge belongs to it too.
    centre = (
        occupied.sort([HUB, N, "_tc", "_ac"], descending=[False, True, False, False])
        .unique(HUB, keep="first", maintain_order=True)
        .select(HUB, pl.col("_tc").alias("_ctc"), pl.col("_ac").alias("_cac"))
    )
    densest = (
        cells.join(centre, on=HUB)
        .filter(
            ((pl.col("_tc") - pl.col("_ctc")).abs() <= 1)
            & ((pl.col("_ac") - pl.col("_cac")).abs() <= 1)
        )
        .select(HUB, SPOKE, pl.lit(True).alias(IN_DENSEST))
        .unique()
    )
    return kin.join(densest, on=[HUB, SPOKE], how="left").with_columns(
        pl.col(IN_DENSEST).fill_null(False)
    )
