"""Shared preparation for the typology detectors: the edge table and Evidence rows.

Everything here is polars over the whole table; no networkx.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from moneytrail import schema as S
from moneytrail.durations import EXAMPLES, parse_duration
from moneytrail.errors import InputError

# Internal column names of the detector frames (not part of any file format).
PAIR_N = "pair_n"  # transactions between the two accounts over the whole export
ONE_OFF = "one_off"  # a transfer between accounts with no standing relationship
_RECURRING = "_recurring"  # mark_one_off's own: the pair recurs on a calendar cadence
FIRST_TS = "first_ts"
HUB = "hub"
SPOKE = "spoke"
N = "n"
MEMBERS = "members"
ROLES = "roles"
TOTAL = "total"
MEMBER_SCORES = "member_scores"  # optional: one score per member instead of the instance's
_FROM_KEY = "_from_key"
_TO_KEY = "_to_key"
_ROW = "_row"

_SEVERITY_CUTS = ((0.8, "critical"), (0.6, "high"), (0.4, "medium"))


def parse_window(value: str | timedelta, key: str) -> timedelta:
    """A duration setting ("7d", "36h", "2w") as a timedelta, with a clear error."""
    if isinstance(value, timedelta):
        return value
    window = parse_duration(value)
    if window is None:
        from moneytrail.errors import ParamsError

        raise ParamsError(
            f"patterns.{key} = {value!r} is not a duration",
            hint=f"write a whole number and a unit: {EXAMPLES}",
        )
    return window


def in_window(column: str, end: str, window: timedelta) -> pl.Expr:
    """``column`` lies in the window ``(end - window, end]`` (windows look back)."""
    return (pl.col(column) > pl.col(end) - window) & (pl.col(column) <= pl.col(end))


def severity_expr(score: pl.Expr) -> pl.Expr:
    expr = pl.lit("low")
    for cut, name in reversed(_SEVERITY_CUTS):
        expr = pl.when(score >= cut).then(pl.lit(name)).otherwise(expr)
    return expr


def not_card(names: list[str]) -> pl.Expr:
    """Rows that are not card payments (always true when there is no channel)."""
    if S.CHANNEL not in names:
        return pl.lit(True)
    return pl.col(S.CHANNEL).is_null() | (pl.col(S.CHANNEL) != "card")


def prepare_edges(
    transactions: pl.LazyFrame,
) -> tuple[pl.LazyFrame, pl.LazyFrame, list[str]]:
    """Transfers between accounts: txn_id, timestamp, amount, from, to, PAIR_N.

    Drops self-transfers, rows touching the cash node and card payments:
    cash and merchants are never members of a laundering pattern, and a card
    payment goes to a merchant. Adds PAIR_N, the number of transactions the
    two accounts exchanged in that direction over the whole export: one-off
    pairs are what mule networks look like, standing relationships (salary,
    rent, family) repeat.

    Returns (transfers that are not card payments, cash included; edges; notices).
    """
    notices: list[str] = []
    names = transactions.collect_schema().names()
    missing = [c for c in S.REQUIRED_TRANSACTION_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"transactions lack required column(s) {missing}",
            hint="ingest the export first (moneytrail ingest) so columns are canonical",
        )
    lf = transactions
    if S.TXN_ID not in names:
        lf = lf.with_row_index(S.TXN_ID)
        notices.append("patterns: no txn_id column; transactions are named by row number")
    # Account ids may arrive as integers (AMLSim) or all-null columns: detectors
    # join them with each other and with the accounts table, so make them text.
    full = lf.with_columns(
        pl.col(S.TXN_ID, S.FROM_ACCOUNT, S.TO_ACCOUNT).cast(pl.String),
        pl.col(S.AMOUNT).cast(pl.Float64),
    )
    # Left lazy: the edges below are collected once (every detector reads them),
    # while the two detectors that read cash too (funnels, shared identifiers) filter
    # the input as they scan it. Held in memory, these rows (strings mostly) were
    # a per-transaction frame alive through every detector.
    keep = [S.TXN_ID, S.TIMESTAMP, S.AMOUNT, S.FROM_ACCOUNT, S.TO_ACCOUNT]
    if S.LOCATION_CITY in names:
        keep.append(S.LOCATION_CITY)
    base = (
        full.filter(
            (pl.col(S.FROM_ACCOUNT) != pl.col(S.TO_ACCOUNT))
            & (pl.col(S.AMOUNT) > 0)
            & not_card(names)
        )
        .select(keep)
        .drop_nulls([S.FROM_ACCOUNT, S.TO_ACCOUNT])
    )
    edges = (
        base.filter((pl.col(S.FROM_ACCOUNT) != S.CASH_NODE) & (pl.col(S.TO_ACCOUNT) != S.CASH_NODE))
        .select(keep[:5])
        # counted per 64-bit hash of the pair: a third cheaper than over two
        # string keys; two pairs sharing a hash (odds ~1e-7 at 3 M pairs) would
        # only make one of them look less like a one-off
        .with_columns(
            pl.len().over(pl.struct(S.FROM_ACCOUNT, S.TO_ACCOUNT).hash(seed=1)).alias(PAIR_N)
        )
    )
    return base, edges, notices


def gap_cv(ts: pl.Expr) -> pl.Expr:
    """How irregular the spacing of transfers is (0 = clockwork schedule)."""
    gaps = ts.sort().diff().dt.total_seconds().drop_nulls()
    return gaps.std(ddof=0) / gaps.mean()


def _recurring_pairs(
    edges: pl.LazyFrame, cadences: list[tuple[float, float]], amount_ratio: float
) -> pl.LazyFrame:
    """(from, to, _RECURRING) of the pairs with exactly two transfers a calendar
    cadence apart (the gap in days within one band, e.g. 27.5-31.5) whose
    amounts stay within ``amount_ratio`` of each other.

    A short export shows a monthly rent, bill or benefit only twice; such a
    pair is a standing relationship all the same. Two transfers have one gap,
    so min and max give it without sorting each pair.
    """
    days = (pl.col(S.TIMESTAMP).max() - pl.col(S.TIMESTAMP).min()).dt.total_seconds() / 86400
    on_cadence = pl.lit(False)
    for low, high in cadences:
        on_cadence = on_cadence | days.is_between(low, high)
    steady = pl.col(S.AMOUNT).max() <= amount_ratio * pl.col(S.AMOUNT).min()
    return (
        edges.filter(pl.col(PAIR_N) == 2)
        .group_by(S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .agg((on_cadence & steady).alias(_RECURRING))
        .filter(pl.col(_RECURRING))
    )


def mark_one_off(
    edges: pl.LazyFrame,
    *,
    max_pair_txns: int,
    scheduled_min: int,
    scheduled_max_cv: float,
    cadences: list[tuple[float, float]],
    cadence_amount_ratio: float,
) -> pl.LazyFrame:
    """Add ONE_OFF: the transfer is one of at most ``max_pair_txns`` between the
    two accounts, and not part of a clockwork stream.

    An account whose one-off transfers out run on a fixed schedule (at least
    ``scheduled_min`` of them, gaps varying by at most ``scheduled_max_cv`` of
    their mean) is paying standing orders, payroll or subscriptions to a
    rotating set of payees; those transfers are no evidence of anything, and
    left in they make every payee look like the hub of a fan-in. Only senders
    set the timing of what they send: new payers after new payer arriving at one
    account like clockwork have no such innocent reading (it is how scheduled
    collection from victims or mules looks, and on exports with day-resolution
    timestamps any one-a-day fan would look scheduled), so receivers are not tested.
    Pairs with two transfers a calendar cadence apart (``cadences``, bands of
    days, amounts within ``cadence_amount_ratio``) are standing too: see
    :func:`_recurring_pairs`.
    """
    few = pl.col(PAIR_N) <= max_pair_txns
    # Materialise once: the pair counts are a window over every transfer, and
    # each of the four queries below would otherwise recompute them.
    edges = edges.collect().lazy()
    recurring = (
        _recurring_pairs(edges, cadences, cadence_amount_ratio).collect()
        if cadences
        else pl.DataFrame()
    )
    if recurring.height:
        # few pairs, joined lazily (the edges stay one copy); the join over
        # every edge costs, so it runs only when some pair recurs
        edges = edges.join(
            recurring.lazy(),
            on=[S.FROM_ACCOUNT, S.TO_ACCOUNT],
            how="left",
            maintain_order="left",
        )
        few = few & pl.col(_RECURRING).is_null()
    few_edges = edges.filter(few).select(S.FROM_ACCOUNT, S.TIMESTAMP).collect().lazy()
    # Count first: only the few accounts with enough one-off transfers need
    # the (per-group sorting) gap statistics.
    busy = (
        few_edges.group_by(S.FROM_ACCOUNT)
        .agg(pl.len().alias(N))
        .filter(pl.col(N) >= scheduled_min)
        .select(S.FROM_ACCOUNT)
    )
    senders = (
        few_edges.join(busy, on=S.FROM_ACCOUNT, how="semi")
        .group_by(S.FROM_ACCOUNT)
        .agg(pl.len().alias(N), gap_cv(pl.col(S.TIMESTAMP)).alias("_gap_cv"))
        .filter((pl.col(N) >= scheduled_min) & (pl.col("_gap_cv") <= scheduled_max_cv))
        .collect()
        .get_column(S.FROM_ACCOUNT)
    )
    return edges.with_columns(
        (few & ~pl.col(S.FROM_ACCOUNT).is_in(senders.implode())).alias(ONE_OFF)
    ).drop(_RECURRING, strict=False)


def temporal_prune(
    edges: pl.DataFrame | pl.LazyFrame, max_gap: timedelta, *, loop: bool, rounds: int = 3
) -> pl.DataFrame:
    """Keep transfers that money could have flowed on through.

    Chains (``loop=False``): a transfer u → v at t stays when v sends something
    within ``max_gap`` after t or u received something within ``max_gap``
    before t (the first and last hops have only one of the two). Loops: v must
    send and u must receive within ``max_gap`` of t on either side (the
    closing hop's successor is the loop's first hop, earlier in time). As-of
    joins only, so the costly path search sees just what survives.

    A LazyFrame (a big input, scanned from a file) is read twice instead of
    held: once for the narrow columns the rounds need, once, streaming, for
    the whole rows that survive; the result is the same as for its collected
    frame.
    """
    # The rounds run on a narrow frame (time, keys and the row's position): the
    # edges' own columns are gathered once at the end, for the rows that survive.
    # Join on 64-bit hashes of the ids: several times cheaper than strings, and
    # a (vanishingly rare) collision only keeps an edge that the exact path
    # search afterwards rejects, never drops one.
    narrow = [
        pl.col(S.TIMESTAMP),
        pl.col(S.FROM_ACCOUNT).hash(seed=3).alias(_FROM_KEY),
        pl.col(S.TO_ACCOUNT).hash(seed=3).alias(_TO_KEY),
    ]
    if isinstance(edges, pl.DataFrame):
        keys = edges.select(narrow).with_row_index(_ROW)
        if keys.height == 0:
            return edges
        return edges[_surviving_rows(keys, max_gap, loop=loop, rounds=rounds)]
    numbered = edges.with_row_index(_ROW)
    keys = numbered.select(_ROW, *narrow).collect()
    rows = _surviving_rows(keys, max_gap, loop=loop, rounds=rounds)
    del keys
    order = pl.DataFrame({_ROW: rows}).with_row_index("_order")
    return (
        numbered.filter(pl.col(_ROW).is_in(rows.implode()))
        .collect(engine="streaming")
        .join(order, on=_ROW)
        .sort("_order")
        .drop(_ROW, "_order")
    )


def _surviving_rows(
    keys: pl.DataFrame, max_gap: timedelta, *, loop: bool, rounds: int
) -> pl.Series:
    """_ROW of the rows of ``keys`` (time, _FROM_KEY, _TO_KEY, _ROW) that
    :func:`temporal_prune` keeps, in the order it returns them."""
    ts = S.TIMESTAMP
    for _ in range(rounds):
        if keys.height == 0:
            break
        before = keys.height
        keys = keys.sort(ts)
        outs = keys.select(pl.col(_FROM_KEY).alias(HUB), pl.col(ts).alias("_o"))
        ins = keys.select(pl.col(_TO_KEY).alias(HUB), pl.col(ts).alias("_i"))
        probes = [("_o", outs, _TO_KEY, "forward"), ("_i", ins, _FROM_KEY, "backward")]
        if loop:
            probes += [
                ("_o", outs, _TO_KEY, "backward"),
                ("_i", ins, _FROM_KEY, "forward"),
            ]
        # one as-of join at a time, keeping only whether it found a match (an
        # as-of join keeps the left rows in order, one for one)
        found = []
        for col, other, key, strategy in probes:
            found.append(
                keys.select(ts, key)
                .join_asof(
                    other,
                    left_on=ts,
                    right_on=col,
                    by_left=key,
                    by_right=HUB,
                    strategy=strategy,
                    tolerance=max_gap,
                    check_sortedness=False,
                )
                .get_column(col)
                .is_not_null()
            )
        del outs, ins
        keep = (found[0] | found[2]) & (found[1] | found[3]) if loop else found[0] | found[1]
        keys = keys.filter(keep)
        if keys.height == before:
            break
    return keys.get_column(_ROW)


def to_evidence(instances: pl.DataFrame, code: str, prefix: str) -> pl.DataFrame:
    """One Evidence row per (instance, member) from a frame of instances.

    ``instances`` has MEMBERS (list[str]), ROLES (list[str], same length), score,
    window_start, window_end, txn_ids and reason; the instance id is the code,
    a prefix and the running number, stable for a given input.
    """
    if instances.height == 0:
        return pl.DataFrame(
            schema={
                S.EV_ACCOUNT: pl.String,
                S.EV_DETECTOR: pl.String,
                S.EV_CODE: pl.String,
                S.EV_SCORE: pl.Float64,
                S.EV_SEVERITY: pl.String,
                S.EV_REASON: pl.String,
            }
        )
    # Detectors hand over instances in whatever order their group-bys left
    # them; numbering in a fixed order keeps instance ids the same run to run.
    frame = instances.sort(
        pl.col(MEMBERS).list.first(),
        S.EV_WINDOW_START,
        pl.col(S.EV_TXN_IDS).list.first(),
        pl.col(MEMBERS).list.join(","),
        nulls_last=True,
    )
    frame = frame.with_row_index("_i", offset=1).with_columns(
        pl.format(f"{prefix}{{}}", pl.col("_i").cast(pl.String).str.zfill(5)).alias(S.EV_INSTANCE),
        pl.col(S.EV_SCORE).clip(0.0, 1.0),
    )
    per_member = MEMBER_SCORES in instances.columns
    if not per_member:
        frame = frame.with_columns(pl.col(MEMBERS).list.eval(pl.lit(0.0)).alias(MEMBER_SCORES))
    frame = frame.explode([MEMBERS, ROLES, MEMBER_SCORES])
    if per_member:
        frame = frame.with_columns(pl.col(MEMBER_SCORES).clip(0.0, 1.0).alias(S.EV_SCORE))
    return (
        frame.drop(MEMBER_SCORES)
        .rename({MEMBERS: S.EV_ACCOUNT, ROLES: S.EV_ROLE})
        .with_columns(
            pl.lit("pattern").alias(S.EV_DETECTOR),
            pl.lit(code).alias(S.EV_CODE),
            severity_expr(pl.col(S.EV_SCORE)).alias(S.EV_SEVERITY),
        )
        .drop("_i")
    )
