"""Account features: per-account aggregates of the transaction table.

Every feature is a polars group-by or join over the *legs* of the
transactions: each transaction is one outgoing leg of its sender and one
incoming leg of its receiver. The result has one row per scored account
(:func:`scored_accounts`) and one Float64 column per feature; a feature is
null where it is undefined for that account (e.g. flow-through of an
account that never received money).

Features that need a column the export lacks (or holds only nulls) are left
out with a notice, never filled with zeros. Label columns
(``S.LABEL_COLUMNS``) are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from moneytrail import mcc
from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.parts import parts_needed, split_by_account

DEFAULTS: dict = {
    # fan-in / fan-out: most distinct counterparties in one window of this length
    "fan_window": "7d",
    # flow-through horizons (hours): share of inflow sent on within each
    "flow_through_hours": [24, 48, 72],
    # an amount is "round" when it is a multiple of this
    "round_unit": 100,
    # "just under the threshold": from this share of the threshold up to it
    "reporting_threshold": mcc.CASH_REPORTING_THRESHOLD,
    "under_threshold_share": 0.8,
    # night: hours in [night_start, 24) or [0, night_end)
    "night_start_hour": 22,
    "night_end_hour": 6,
}

# Not a behaviour but the account's kind, for comparing accounts with their peers
# (outliers): codes of PEER_GROUP_NAMES. Present when an accounts table is given.
PEER_GROUP = "peer_group"
PEER_GROUP_NAMES = {0: "external", 1: "person", 2: "business", 3: "customer"}

# Legs (two per transaction) held in memory at once. A bigger input is split by
# account into parts computed one after the other (see `_leg_features_in_parts`):
# memory stays about one part's legs whatever the input's size.
LEGS_PER_PART = 12_000_000

# Internal column names of the legs frame (never leave this module).
_ACC = "_account"
_CP = "_counterparty"
_IN = "_is_in"
_CP_COUNTRY = "_cp_country"
_CASH = "_cash"  # cash leg: counterparty CASH or channel cash
_GAP = "_gap"  # seconds since the account's previous leg
_NEW_DAY = "_new_day"  # first leg of the account on its calendar day


@dataclass
class FeatureResult:
    frame: pl.DataFrame
    notices: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------
# Scored accounts
# --------------------------------------------------------------------------
def scored_accounts(transactions: pl.LazyFrame) -> pl.LazyFrame:
    """The accounts a scan scores: every node except CASH and merchants.

    A merchant is a node that never sends and whose every inflow is a card
    row with an MCC. Without a channel column, an MCC on every inflow is
    enough; without an MCC column no node is taken for a merchant.
    """
    names = transactions.collect_schema().names()
    _require(names)
    senders = transactions.select(pl.col(S.FROM_ACCOUNT).alias(S.ACCOUNT_ID))
    receivers = transactions.select(pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID))
    nodes = pl.concat([senders, receivers]).unique()
    if S.MCC in names:
        merchant_row = pl.col(S.MCC).is_not_null()
        if S.CHANNEL in names:
            merchant_row = merchant_row & (pl.col(S.CHANNEL) == "card").fill_null(False)
        not_merchants = (
            transactions.group_by(pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID))
            .agg(merchant_row.all().alias("_merchant_like"))
            .join(senders.unique(), on=S.ACCOUNT_ID, how="anti")
            .filter(pl.col("_merchant_like"))
            .select(S.ACCOUNT_ID)
        )
        nodes = nodes.join(not_merchants, on=S.ACCOUNT_ID, how="anti")
    return nodes.filter(
        pl.col(S.ACCOUNT_ID).is_not_null() & (pl.col(S.ACCOUNT_ID) != S.CASH_NODE)
    ).sort(S.ACCOUNT_ID)


# --------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------
def account_features(
    transactions: pl.LazyFrame,
    accounts: pl.DataFrame | None = None,
    settings: dict | None = None,
) -> FeatureResult:
    """Compute the account features of a canonical transaction table.

    ``settings`` is ``params.settings(p, "features", DEFAULTS)``; missing keys
    take their defaults.
    """
    cfg = {**DEFAULTS, **(settings or {})}
    if isinstance(transactions, pl.DataFrame):
        transactions = transactions.lazy()
    schema = transactions.collect_schema()
    names = schema.names()
    _require(names)
    _check_dtypes(schema)
    try:
        return _account_features(transactions, names, accounts, cfg)
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as exc:
        # Ingest validates; this catches a table built by hand with a bad value.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot compute account features: {first}",
            hint="pass the canonical table produced by moneytrail.ingest",
        ) from None


def _account_features(transactions, names, accounts, cfg) -> FeatureResult:
    present = _present_columns(transactions, names)
    notices: list[str] = []
    desc: dict[str, str] = {}

    valid = transactions.filter(
        pl.col(S.AMOUNT).is_not_null()
        & pl.col(S.TIMESTAMP).is_not_null()
        & pl.col(S.FROM_ACCOUNT).is_not_null()
        & pl.col(S.TO_ACCOUNT).is_not_null()
    )
    parts = parts_needed(2 * present["_rows"], LEGS_PER_PART)
    # Integer codes for node ids: every group-by, sort and join below runs on them.
    # (A big input's distinct ids are found streaming: memory per id, not per row.)
    nodes = (
        pl.concat(
            [
                valid.select(pl.col(S.FROM_ACCOUNT).alias(S.ACCOUNT_ID)),
                valid.select(pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID)),
            ]
        )
        .unique()
        .collect(engine="streaming" if parts > 1 else "auto")
        .sort(S.ACCOUNT_ID)
        .with_row_index(_ACC)
    )
    if parts == 1:
        held = [_legs(valid, nodes, present)]
        out = _leg_features(held, nodes.height, present, cfg, notices, desc)
    else:
        out = _leg_features_in_parts(valid, nodes, present, cfg, parts, notices, desc)

    # Merchants have no legs of their own (see _legs), so they have no row here.
    out = out.join(nodes, on=_ACC, how="inner").drop(_ACC).sort(S.ACCOUNT_ID)

    first_seen = out.select(S.ACCOUNT_ID, "_first_seen")
    out = out.drop("_first_seen")
    for extra in _account_table_features(accounts, first_seen, notices, desc):
        out = out.join(extra, on=S.ACCOUNT_ID, how="left")

    # Counts and sums are 0 for an account with no legs of that direction.
    zero_filled = [c for c in out.columns if c in _ZERO_WHEN_ABSENT]
    out = out.with_columns(pl.col(zero_filled).fill_null(0))
    features = [c for c in out.columns if c != S.ACCOUNT_ID]
    out = out.select(S.ACCOUNT_ID, *[pl.col(c).cast(pl.Float64) for c in features])
    desc = {c: desc[c] for c in features}
    return FeatureResult(frame=out, notices=notices, descriptions=desc)


def _leg_features(
    held: list[pl.DataFrame], n_nodes: int, present: dict, cfg: dict, notices: list, desc: dict
) -> pl.DataFrame:
    """The leg features (one row per account, keyed by ``_ACC``) of the accounts whose
    legs are ``held[0]``: all of their legs, sorted as :func:`_legs` sorts them.

    The legs come in a list that this empties, so that no caller keeps them
    alive: most of their columns are let go before the flow-through.
    """
    legs = held.pop()
    legs_lf = legs.lazy()
    parts: list[pl.LazyFrame] = [
        _basic(legs_lf, present, cfg, present["_time_of_day"], notices, desc),
        _counterparties(legs_lf, desc),
        _fan(legs_lf, cfg, desc),
    ]
    if _countries_present(present):
        parts.append(_countries(legs_lf, present, desc))
    frames = pl.collect_all(parts)
    # Flow-through needs four columns, and only accounts that both receive and
    # send: free the rest of the legs first.
    basic = frames[0]
    two_sided = np.zeros(n_nodes, dtype=bool)
    both = (pl.col("in_count") > 0) & (pl.col("out_count") > 0)
    two_sided[basic.filter(both).get_column(_ACC).to_numpy()] = True
    flow_input = legs.select(_ACC, S.TIMESTAMP, _IN, S.AMOUNT)
    del legs, legs_lf, parts
    keep = two_sided[flow_input.get_column(_ACC).to_numpy()]
    if not keep.all():
        flow_input = flow_input.filter(pl.Series(keep))
    del keep
    flow = _flow_through(flow_input, cfg, desc)
    del flow_input
    # an account that receives but never sends passed none of it on (holding unknown)
    receive_only = basic.filter((pl.col("in_total") > 0) & (pl.col("out_count") == 0))
    passed_on = [c for c in flow.columns if c.startswith("flow_through_")]
    frames.append(
        pl.concat(
            [flow, receive_only.select(_ACC, *[pl.lit(0.0).alias(c) for c in passed_on])],
            how="diagonal",
        )
    )
    out = frames.pop(0)
    while frames:
        out = out.join(frames.pop(0), on=_ACC, how="left")
    return out


def _leg_features_in_parts(
    valid: pl.LazyFrame,
    nodes: pl.DataFrame,
    present: dict,
    cfg: dict,
    parts: int,
    notices: list,
    desc: dict,
) -> pl.DataFrame:
    """:func:`_leg_features` of a big input, over parts split by account.

    An account's features read only its own legs, so the legs are written once
    (streaming) split by account into ``parts`` files, and each part is read,
    sorted and aggregated like the whole table in memory, then let go: memory
    holds about one part's legs whatever the input's size. The frames of the
    parts are put together; each account's rows come from its one part.
    """
    coded, common = _coded(valid, nodes, present)
    cash_code = _cash_code(nodes)
    not_scored = _merchants_streaming(valid, nodes, present)
    if cash_code is not None:
        not_scored.append(cash_code)
    legs = _leg_sides(coded, common, cash_code, not_scored)
    per_part: list[pl.DataFrame] = []
    with split_by_account(legs, pl.col(_ACC), parts, prefix="moneytrail-legs-") as paths:
        for i, path in enumerate(paths):
            part_legs = [_sorted_legs(pl.scan_parquet(path), nodes.height, present, cash_code)]
            # notices and descriptions are the same for every part: keep the first's
            seen_notices, seen_desc = (notices, desc) if i == 0 else ([], {})
            per_part.append(
                _leg_features(part_legs, nodes.height, present, cfg, seen_notices, seen_desc)
            )
    if not per_part:  # no legs at all: the one-part path's empty frames
        empty = _sorted_legs(legs.head(0).collect().lazy(), nodes.height, present, cash_code)
        return _leg_features([empty], nodes.height, present, cfg, notices, desc)
    return pl.concat(per_part, how="vertical")


_ZERO_WHEN_ABSENT = {
    "in_count",
    "out_count",
    "in_total",
    "out_total",
    "in_counterparties",
    "out_counterparties",
    "fan_in_max",
    "fan_out_max",
    "active_days",
    "countries",
}


def _require(names: list[str]) -> None:
    missing = [c for c in S.REQUIRED_TRANSACTION_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"transactions lack required column(s) {', '.join(missing)}",
            column=missing[0],
            hint="map the export's columns with a profile (moneytrail ingest --profile ...)",
        )


def _check_dtypes(schema: pl.Schema) -> None:
    checks = {
        S.TIMESTAMP: (lambda dt: isinstance(dt, pl.Datetime), "a datetime"),
        S.AMOUNT: (lambda dt: dt.is_numeric(), "a number"),
    }
    for column, (ok, kind) in checks.items():
        if not ok(schema[column]):
            raise InputError(
                f"{column} must be {kind}, not {schema[column]}",
                column=column,
                hint="read the export with moneytrail.ingest, which converts its columns",
            )


_OPTIONAL = (
    S.CHANNEL,
    S.MCC,
    S.LOCATION_CITY,
    S.LOCATION_COUNTRY,
    S.FROM_COUNTRY,
    S.TO_COUNTRY,
)


def _present_columns(transactions: pl.LazyFrame, names: list[str]) -> dict:
    """Which optional columns hold data, whether timestamps carry a time of day,
    and the first timestamp (the origin of the legs' sort key)."""
    exprs = [pl.col(c).is_not_null().any().alias(c) for c in _OPTIONAL if c in names]
    ts = pl.col(S.TIMESTAMP)
    exprs += [
        (ts.dt.hour() + ts.dt.minute() + ts.dt.second())
        .fill_null(0)
        .gt(0)
        .any()
        .alias("_time_of_day"),
        ts.dt.epoch("s").min().alias("_t_min"),
        ts.dt.epoch("s").max().alias("_t_max"),
        pl.len().alias("_rows"),
    ]
    row = transactions.select(exprs).collect().row(0, named=True)
    found = {c: bool(row.get(c, False)) for c in (*_OPTIONAL, "_time_of_day")}
    found["_t_min"], found["_t_max"] = row["_t_min"] or 0, row["_t_max"] or 0
    found["_rows"] = row["_rows"]
    return found


def _hashed(column: pl.Expr) -> pl.Expr:
    """Strings → 64-bit hashes (null stays null): cheaper to sort and count distinct."""
    return pl.when(column.is_not_null()).then(column.hash())


def _legs(valid: pl.LazyFrame, nodes: pl.DataFrame, present: dict) -> pl.DataFrame:
    """Each transaction as an outgoing leg of its sender and an incoming leg of its receiver.

    Sorted by account, then time (to the second), then inflows before outflows,
    with the per-leg columns the aggregates share. Place names are kept as hashes.
    CASH and merchants (nodes that are never scored) have no legs of their own;
    they stay the counterparties of the legs of the accounts that deal with them.
    """
    coded, common = _coded(valid, nodes, present)
    # Coded and hashed once, in memory: both legs of a transaction read these columns
    # (as one lazy query the engine joined and hashed the input once per leg).
    coded = coded.collect()
    cash_code = _cash_code(nodes)
    not_scored = _merchants(coded, nodes.height, present)
    if cash_code is not None:
        not_scored.append(cash_code)
    legs = _leg_sides(coded.lazy(), common, cash_code, not_scored)
    return _sorted_legs(legs, nodes.height, present, cash_code)


def _coded(valid: pl.LazyFrame, nodes: pl.DataFrame, present: dict) -> tuple[pl.LazyFrame, list]:
    """The columns both legs of a transaction read, with the two accounts' codes as
    ``_from`` and ``_to``; and the names of those shared by both legs."""
    keep = [pl.col(S.TIMESTAMP), pl.col(S.AMOUNT)]
    keep += [pl.col(c) for c in (S.CHANNEL, S.MCC) if present[c]]
    keep += [
        _hashed(pl.col(c)).alias(c) for c in (S.LOCATION_CITY, S.LOCATION_COUNTRY) if present[c]
    ]
    none = pl.lit(None, pl.UInt64)
    coded = _with_codes(valid, nodes).select(
        "_from",
        "_to",
        *keep,
        (_hashed(pl.col(S.TO_COUNTRY)) if present[S.TO_COUNTRY] else none).alias("_to_c"),
        (_hashed(pl.col(S.FROM_COUNTRY)) if present[S.FROM_COUNTRY] else none).alias("_from_c"),
    )
    return coded, coded.collect_schema().names()[2 : 2 + len(keep)]


def _cash_code(nodes: pl.DataFrame) -> int | None:
    cash = nodes.filter(pl.col(S.ACCOUNT_ID) == S.CASH_NODE).get_column(_ACC)
    return cash[0] if cash.len() else None


def _leg_sides(
    coded: pl.LazyFrame, common: list[str], cash_code: int | None, not_scored: list[int]
) -> pl.LazyFrame:
    """Both legs of every transaction, without the legs of nodes never scored."""
    out_legs = coded.select(
        pl.col("_from").alias(_ACC),
        pl.col("_to").alias(_CP),
        pl.lit(False).alias(_IN),
        *common,
        pl.col("_to_c").alias(_CP_COUNTRY),
    )
    in_legs = coded.select(
        pl.col("_to").alias(_ACC),
        pl.col("_from").alias(_CP),
        pl.lit(True).alias(_IN),
        *common,
        pl.col("_from_c").alias(_CP_COUNTRY),
    )
    legs = pl.concat([out_legs, in_legs])
    if not_scored:
        legs = legs.filter(~pl.col(_ACC).is_in(pl.Series(not_scored, dtype=pl.UInt32).implode()))
    return legs


def _sorted_legs(
    legs: pl.LazyFrame, n_nodes: int, present: dict, cash_code: int | None
) -> pl.DataFrame:
    """The legs sorted by account, time and direction, with _CASH, _GAP and _NEW_DAY."""
    is_cash_cp = (pl.col(_CP) == cash_code) if cash_code is not None else pl.lit(False)
    if present[S.CHANNEL]:
        is_cash_cp = is_cash_cp | (pl.col(S.CHANNEL) == "cash").fill_null(False)
    # One integer sort key (a multi-column sort costs several times more):
    # account, second since the first transaction, outflow after inflow.
    stride = int(present["_t_max"]) - int(present["_t_min"]) + 1
    if n_nodes * stride * 2 >= 2**62:
        raise InputError(
            "the export spans too long a time for its number of accounts",
            column=S.TIMESTAMP,
            hint="check the timestamps for values far in the past or future",
        )
    key = (
        pl.col(_ACC).cast(pl.Int64) * stride
        + (pl.col(S.TIMESTAMP).dt.epoch("s") - int(present["_t_min"]))
    ) * 2 + (~pl.col(_IN)).cast(pl.Int64)
    same_account = pl.col(_ACC) == pl.col(_ACC).shift(1)
    day = pl.col(S.TIMESTAMP).dt.epoch("d")
    second = pl.col(S.TIMESTAMP).dt.epoch("s")
    legs = legs.sort(key).with_columns(
        is_cash_cp.alias(_CASH),
        pl.when(same_account)
        # whole seconds, as the sort: legs of one second may come in any order,
        # and the gaps must not depend on it
        .then(second - second.shift(1))
        .cast(pl.Float64)
        .alias(_GAP),
        (~same_account | (day != day.shift(1))).fill_null(True).alias(_NEW_DAY),
    )
    return legs.collect()


def _with_codes(valid: pl.LazyFrame, nodes: pl.DataFrame) -> pl.LazyFrame:
    """``valid`` with the sender's and receiver's integer codes as ``_from`` and ``_to``.

    Joined on 64-bit hashes of the ids (at 5 M rows 1.0 CPU s less than joining
    on the strings) when no two distinct ids share a hash, which is checked
    exactly on the distinct ids; otherwise on the ids themselves.
    """
    ids = nodes.get_column(S.ACCOUNT_ID)
    schema = valid.collect_schema()
    strings = all(schema[c] == pl.String for c in (S.FROM_ACCOUNT, S.TO_ACCOUNT))
    if strings and ids.dtype == pl.String:
        hashes = ids.hash()
        if hashes.n_unique() == ids.len():
            codes = pl.LazyFrame({"_h": hashes, _ACC: nodes.get_column(_ACC)})
            return valid.join(
                codes.rename({"_h": "_hf", _ACC: "_from"}),
                left_on=pl.col(S.FROM_ACCOUNT).hash(),
                right_on="_hf",
            ).join(
                codes.rename({"_h": "_ht", _ACC: "_to"}),
                left_on=pl.col(S.TO_ACCOUNT).hash(),
                right_on="_ht",
            )
    codes = nodes.lazy()
    return valid.join(
        codes.rename({S.ACCOUNT_ID: S.FROM_ACCOUNT, _ACC: "_from"}), on=S.FROM_ACCOUNT
    ).join(codes.rename({S.ACCOUNT_ID: S.TO_ACCOUNT, _ACC: "_to"}), on=S.TO_ACCOUNT)


def _merchants(coded: pl.DataFrame, n_nodes: int, present: dict) -> list[int]:
    """Codes of merchants: nodes that never send and receive only card rows with an MCC.

    Without a channel column, an MCC on every inflow is enough; without an MCC
    column no node is taken for a merchant (as :func:`scored_accounts`).
    """
    if not present[S.MCC] or coded.height == 0:
        return []
    merchant_row = _merchant_row(present)
    receiver = coded.get_column("_to").to_numpy()
    other_row = ~coded.select(merchant_row).to_series().to_numpy()
    receives = np.bincount(receiver, minlength=n_nodes) > 0
    sends = np.bincount(coded.get_column("_from").to_numpy(), minlength=n_nodes) > 0
    takes_other_rows = np.bincount(receiver[other_row], minlength=n_nodes) > 0
    return np.flatnonzero(receives & ~sends & ~takes_other_rows).tolist()


def _merchant_row(present: dict) -> pl.Expr:
    """A row a merchant receives: a card payment with an MCC (any row with an MCC
    when the input has no channel)."""
    row = pl.col(S.MCC).is_not_null()
    if present[S.CHANNEL]:
        row = row & (pl.col(S.CHANNEL) == "card").fill_null(False)
    return row


def _merchants_streaming(valid: pl.LazyFrame, nodes: pl.DataFrame, present: dict) -> list[int]:
    """:func:`_merchants` by group-bys over the input (memory per account, not per row)."""
    if not present[S.MCC]:
        return []
    merchant_row = _merchant_row(present)
    senders = valid.select(pl.col(S.FROM_ACCOUNT).alias(S.ACCOUNT_ID)).unique()
    merchants = (
        valid.group_by(pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID))
        .agg(merchant_row.all().alias("_only_merchant_rows"))
        .filter(pl.col("_only_merchant_rows"))
        .join(senders, on=S.ACCOUNT_ID, how="anti")
        .join(nodes.lazy(), on=S.ACCOUNT_ID)
        .select(_ACC)
        .collect(engine="streaming")
    )
    return sorted(merchants.get_column(_ACC).to_list())


def _amount_in() -> pl.Expr:
    """Amount on incoming legs, 0 on outgoing (computed where used: legs stay narrow)."""
    return pl.when(pl.col(_IN)).then(pl.col(S.AMOUNT)).otherwise(0.0)


def _amount_out() -> pl.Expr:
    return pl.when(pl.col(_IN)).then(0.0).otherwise(pl.col(S.AMOUNT))


def _ratio(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part / whole, null where whole is 0 (the share is undefined, not zero)."""
    return pl.when(whole > 0).then(part / whole).otherwise(None)


def _basic(legs, present, cfg, has_time_of_day, notices, desc) -> pl.LazyFrame:
    amount = pl.col(S.AMOUNT)
    is_in = pl.col(_IN)
    amt_in, amt_out = _amount_in(), _amount_out()
    ts = pl.col(S.TIMESTAMP)
    cash = pl.col(_CASH)
    in_total, out_total = amt_in.sum(), amt_out.sum()
    in_count = is_in.sum()
    out_count = pl.len() - in_count
    gap = pl.col(_GAP)
    threshold = cfg["reporting_threshold"]
    unit = cfg["round_unit"]
    aggs = [
        ts.min().alias("_first_seen"),
        in_count.alias("in_count"),
        out_count.alias("out_count"),
        in_total.alias("in_total"),
        out_total.alias("out_total"),
        _ratio(in_total, in_count).alias("in_amount_mean"),
        _ratio(out_total, out_count).alias("out_amount_mean"),
        amount.max().alias("amount_max"),
        _ratio(amount.std(), amount.mean()).alias("amount_cv"),
        pl.col(_NEW_DAY).sum().alias("active_days"),
        ((ts.max() - ts.min()).dt.total_seconds() / 86400.0).alias("active_span_days"),
        _ratio(gap.std(), gap.mean()).alias("burstiness"),
        _ratio((amt_in * cash).sum(), in_total).alias("cash_in_share"),
        _ratio((amt_out * cash).sum(), out_total).alias("cash_out_share"),
        (((amount / unit).round() * unit - amount).abs() < 0.005)
        .mean()
        .alias("round_amount_share"),
        amount.is_between(cfg["under_threshold_share"] * threshold, threshold, closed="left")
        .mean()
        .alias("under_threshold_share"),
        # in/out balance: near 1 when the account passes on what it receives
        _ratio(
            pl.min_horizontal(in_total, out_total), pl.max_horizontal(in_total, out_total)
        ).alias("in_out_balance"),
    ]
    desc.update(
        in_count="number of incoming transactions",
        out_count="number of outgoing transactions",
        in_total="total value received",
        out_total="total value sent",
        in_amount_mean="mean amount received",
        out_amount_mean="mean amount sent",
        amount_max="largest single amount",
        amount_cv="coefficient of variation of amounts",
        active_days="days with at least one transaction",
        active_span_days="days between first and last transaction",
        burstiness="coefficient of variation of the gaps between transactions",
        cash_in_share="share of value received in cash",
        cash_out_share="share of value sent or withdrawn in cash",
        round_amount_share=f"share of transactions in round multiples of {unit:,}",
        under_threshold_share=(
            f"share of transactions between {cfg['under_threshold_share']:.0%} of the "
            f"{threshold:,} reporting threshold and the threshold"
        ),
        in_out_balance="smaller of value received and sent over the larger (1 = all passed on)",
    )
    if has_time_of_day:
        hour = ts.dt.hour()
        night = (hour >= cfg["night_start_hour"]) | (hour < cfg["night_end_hour"])
        aggs.append(night.mean().alias("night_share"))
        desc["night_share"] = (
            f"share of transactions between {cfg['night_start_hour']:02d}:00 and "
            f"{cfg['night_end_hour']:02d}:00"
        )
    else:
        notices.append("night_share left out: timestamps carry no time of day")

    if present[S.LOCATION_CITY]:
        aggs.append(pl.col(S.LOCATION_CITY).drop_nulls().n_unique().alias("cities"))
        desc["cities"] = "distinct cities of branch, ATM or merchant"
    else:
        notices.append(f"cities left out: no {S.LOCATION_CITY} column with data")
    if not _countries_present(present):
        notices.append(
            f"countries left out: no {S.LOCATION_COUNTRY}, {S.FROM_COUNTRY} or "
            f"{S.TO_COUNTRY} column with data"
        )

    if present[S.MCC] or present[S.CHANNEL]:
        mcc_col = pl.col(S.MCC) if present[S.MCC] else pl.lit(None, pl.Int32)
        by_channel = {"crypto": "crypto", "remittance": "remittance"}
        for basket, codes in mcc.BASKETS.items():
            member = mcc_col.is_in(sorted(codes)).fill_null(False)
            if basket in by_channel and present[S.CHANNEL]:
                member = member | (pl.col(S.CHANNEL) == by_channel[basket]).fill_null(False)
            elif not present[S.MCC]:
                continue
            name = f"spend_{basket}_share"
            aggs.append(_ratio((amt_out * member).sum(), out_total).alias(name))
            desc[name] = f"share of value sent to {basket.replace('_', ' ')} merchants"
    if not present[S.MCC]:
        notices.append(f"MCC basket shares left out: no {S.MCC} column with data")
    return legs.group_by(_ACC).agg(aggs)


def _countries_present(present: dict) -> bool:
    return present[S.LOCATION_COUNTRY] or present[S.FROM_COUNTRY] or present[S.TO_COUNTRY]


def _countries(legs: pl.LazyFrame, present: dict, desc: dict) -> pl.LazyFrame:
    """Distinct countries touched: where cash and card rows happened, and counterparties'."""
    columns = [
        c
        for c, ok in (
            (S.LOCATION_COUNTRY, present[S.LOCATION_COUNTRY]),
            (_CP_COUNTRY, present[S.FROM_COUNTRY] or present[S.TO_COUNTRY]),
        )
        if ok
    ]
    desc["countries"] = "distinct countries touched (locations and counterparties)"
    long = pl.concat([legs.select(_ACC, pl.col(c).alias("_c")) for c in columns])
    return long.drop_nulls().unique().group_by(_ACC).agg(pl.len().alias("countries"))


def _counterparties(legs: pl.LazyFrame, desc: dict) -> pl.LazyFrame:
    """Distinct counterparties and concentration (HHI of value) each way."""
    # (account, counterparty) packed into one 64-bit key: a one-key group-by is faster
    pair = (pl.col(_ACC).cast(pl.UInt64) * 2**32 + pl.col(_CP).cast(pl.UInt64)).alias("_pair")
    pairs = (
        legs.group_by(pair)
        .agg(_amount_in().sum().alias("_vin"), _amount_out().sum().alias("_vout"))
        .with_columns((pl.col("_pair") // 2**32).cast(pl.UInt32).alias(_ACC))
    )
    vin, vout = pl.col("_vin"), pl.col("_vout")
    desc.update(
        in_counterparties="distinct senders",
        out_counterparties="distinct receivers",
        in_concentration="concentration of value received over senders (HHI, 1 = one sender)",
        out_concentration="concentration of value sent over receivers (HHI, 1 = one receiver)",
    )
    return pairs.group_by(_ACC).agg(
        (vin > 0).sum().alias("in_counterparties"),
        (vout > 0).sum().alias("out_counterparties"),
        _ratio((vin**2).sum(), vin.sum() ** 2).alias("in_concentration"),
        _ratio((vout**2).sum(), vout.sum() ** 2).alias("out_concentration"),
    )


def _fan(legs: pl.LazyFrame, cfg: dict, desc: dict) -> pl.LazyFrame:
    """Most distinct senders / receivers within one fixed window."""
    window = cfg["fan_window"]
    per_window = legs.group_by(_ACC, _IN, pl.col(S.TIMESTAMP).dt.truncate(window).alias("_w")).agg(
        pl.col(_CP).n_unique().alias("_n")
    )
    desc.update(
        fan_in_max=f"most distinct senders within one {window} window",
        fan_out_max=f"most distinct receivers within one {window} window",
    )
    return per_window.group_by(_ACC).agg(
        pl.col("_n").filter(pl.col(_IN)).max().alias("fan_in_max"),
        pl.col("_n").filter(~pl.col(_IN)).max().alias("fan_out_max"),
    )


def _flow_through(legs: pl.DataFrame, cfg: dict, desc: dict) -> pl.DataFrame:
    """Flow-through within each horizon and holding time, under first-in first-out.

    Per account, money leaves in the order it arrived. The opening balance
    is unknown, so it is taken as the least that keeps the balance from going
    negative; outflows spend it first. Inflows and outflows at the same
    timestamp count the inflow first (daily exports cannot order them): the
    legs come sorted that way. The look-ups are vectorised binary searches
    over the sorted legs, keyed by (account, time) and (account, value sent on).
    """
    horizons = [int(h) for h in cfg["flow_through_hours"]]
    for h in horizons:
        desc[f"flow_through_{h}h"] = f"share of inflow sent on within {h} h"
    desc["holding_hours"] = "median hours until an inflow has been sent on (first in, first out)"
    names = [f"flow_through_{h}h" for h in horizons] + ["holding_hours"]
    if legs.height == 0:
        return pl.DataFrame(schema={_ACC: legs.schema[_ACC]} | {c: pl.Float64 for c in names})

    running = (
        _inflows_of_one_second_by_amount(legs)
        .lazy()
        .select(
            pl.col(_ACC),
            pl.col(S.TIMESTAMP).dt.epoch("s").alias("_t"),
            _amount_in().alias("_in"),
            _amount_in().cum_sum().over(_ACC).alias("_cin"),
            _amount_out().cum_sum().over(_ACC).alias("_cout"),
        )
        # inflow value sent on by each leg: the opening balance is spent first
        .with_columns(
            (
                pl.col("_cout")
                - (pl.col("_cout") - pl.col("_cin")).max().over(_ACC).clip(lower_bound=0)
            ).alias("_spent")
        )
        .drop("_cout")
        .collect()
    )
    acc = running.get_column(_ACC).to_numpy()
    t = running.get_column("_t").to_numpy().astype(np.int64)
    a_in = running.get_column("_in").to_numpy()
    cin = running.get_column("_cin").to_numpy()
    spent = running.get_column("_spent").to_numpy()
    del running

    n = acc.size
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(acc[1:], acc[:-1], out=new_group[1:])
    group = np.cumsum(new_group) - 1
    n_groups = int(group[-1]) + 1
    total_in = np.bincount(group, weights=a_in, minlength=n_groups)[group]
    inflow = np.flatnonzero(a_in > 0)
    before = cin[inflow] - a_in[inflow]

    # (account, time) as one sortable integer: accounts lie further apart than any horizon
    t0 = int(t.min())
    stride = int(t.max()) - t0 + max(horizons, default=0) * 3600 + 1
    time_key = group.astype(np.int64) * stride + (t - t0)
    sent_in_time = {}
    for h in horizons:
        j = np.searchsorted(time_key, time_key[inflow] + h * 3600, side="right") - 1
        sent_in_time[h] = np.clip(spent[j] - before, 0.0, a_in[inflow])

    # (account, share of its inflow sent on) as one sorted float key: within an
    # account the value sent on never falls and never exceeds what arrived.
    scale = np.where(total_in > 0, total_in, 1.0)
    value_key = group * 4.0 + np.clip(spent / scale, 0.0, 1.0)
    # slack absorbs floating-point error in the running sums
    slack = np.maximum(0.005, 1e-8 * total_in[inflow])
    need = group[inflow] * 4.0 + np.clip((cin[inflow] - slack) / scale[inflow], 0.0, 1.0)
    j = np.searchsorted(value_key, need, side="left")
    found = j < n
    j = np.minimum(j, n - 1)
    found &= group[j] == group[inflow]
    hold = np.where(found, np.maximum(t[j] - t[inflow], 0) / 3600.0, np.nan)

    received = np.bincount(group[inflow], weights=a_in[inflow], minlength=n_groups)
    out = {_ACC: acc[new_group]}
    with np.errstate(invalid="ignore", divide="ignore"):
        for h in horizons:
            sent = np.bincount(group[inflow], weights=sent_in_time[h], minlength=n_groups)
            out[f"flow_through_{h}h"] = np.where(received > 0, sent / received, np.nan)
    frame = pl.DataFrame(out).with_columns(pl.col(names[:-1]).fill_nan(None))
    holding = (
        pl.DataFrame({_ACC: acc[inflow], "holding_hours": hold})
        .with_columns(pl.col("holding_hours").fill_nan(None))
        .group_by(_ACC)
        .agg(pl.col("holding_hours").median())
    )
    return frame.join(holding, on=_ACC, how="left")


def _inflows_of_one_second_by_amount(legs: pl.DataFrame) -> pl.DataFrame:
    """The legs with each account's inflows of one second in ascending amount.

    The legs' sort leaves such ties in input order, and first-in first-out
    holding times depend on it (daily exports tie most inflows). Only the
    tied rows are rewritten; outflows of one second need no order (every
    look-up lands after all of them).
    """
    second = pl.col(S.TIMESTAMP).dt.epoch("s")
    tied = (
        legs.select(
            (pl.col(_ACC) == pl.col(_ACC).shift(1))
            & (second == second.shift(1))
            & pl.col(_IN)
            & pl.col(_IN).shift(1)
        )
        .to_series()
        .fill_null(False)
        .to_numpy()
    )  # row i ties with row i - 1
    if not tied.any():
        return legs
    in_tie = tied.copy()
    in_tie[:-1] |= tied[1:]
    rows = np.flatnonzero(in_tie)
    run = np.cumsum(~tied)[rows]
    amounts = legs.get_column(S.AMOUNT).gather(rows).to_numpy()
    source = rows[np.lexsort((amounts, run))]
    return legs.with_columns(
        legs.get_column(c).scatter(rows, legs.get_column(c).gather(source)) for c in legs.columns
    )


def _account_table_features(
    accounts: pl.DataFrame | None,
    first_seen: pl.DataFrame,
    notices: list[str],
    desc: dict,
) -> list[pl.DataFrame]:
    """Features from the accounts table: age at first activity, shared identifiers."""
    if accounts is None:
        notices.append("account_age_days and shared_id_holders left out: no accounts table")
        return []
    if isinstance(accounts, pl.LazyFrame):
        accounts = accounts.collect()
    if S.ACCOUNT_ID not in accounts.columns:
        raise InputError(
            f"accounts table has no {S.ACCOUNT_ID} column",
            column=S.ACCOUNT_ID,
            hint="map the accounts file's id column to account_id",
        )
    out: list[pl.DataFrame] = []
    cols = accounts.columns
    kind = pl.lit(3)
    if S.HOLDER_TYPE in cols:
        holder_type = pl.col(S.HOLDER_TYPE).cast(pl.String).str.strip_chars().str.to_lowercase()
        kind = (
            pl.when(holder_type == "person")
            .then(pl.lit(1))
            .when(holder_type == "business")
            .then(pl.lit(2))
            .otherwise(pl.lit(3))
        )
    kinds = accounts.select(S.ACCOUNT_ID, kind.alias(PEER_GROUP)).unique(S.ACCOUNT_ID, keep="first")
    # accounts outside the table (other banks' customers, counterparties) form group 0
    out.append(
        first_seen.select(S.ACCOUNT_ID)
        .join(kinds, on=S.ACCOUNT_ID, how="left")
        .with_columns(pl.col(PEER_GROUP).fill_null(0))
    )
    desc[PEER_GROUP] = (
        "kind of account: 0 outside the accounts table, 1 person, 2 business, 3 other"
    )
    if S.OPENED_AT in cols and accounts[S.OPENED_AT].null_count() < accounts.height:
        opened = accounts.select(
            S.ACCOUNT_ID, pl.col(S.OPENED_AT).cast(pl.Datetime("us")).alias("_opened")
        ).unique(S.ACCOUNT_ID, keep="first")
        age = first_seen.join(opened, on=S.ACCOUNT_ID, how="inner").select(
            S.ACCOUNT_ID,
            ((pl.col("_first_seen") - pl.col("_opened")).dt.total_seconds() / 86400.0).alias(
                "account_age_days"
            ),
        )
        out.append(age)
        desc["account_age_days"] = "days from account opening to its first transaction"
    else:
        notices.append(f"account_age_days left out: no {S.OPENED_AT} in the accounts table")

    id_cols = [c for c in S.SHARED_IDENTIFIER_COLUMNS if c in cols]
    id_cols = [c for c in id_cols if accounts[c].null_count() < accounts.height]
    if id_cols:
        holder = pl.col(S.HOLDER_ID) if S.HOLDER_ID in cols else pl.col(S.ACCOUNT_ID)
        long = pl.concat(
            [
                accounts.select(
                    S.ACCOUNT_ID,
                    holder.fill_null(pl.col(S.ACCOUNT_ID)).alias("_holder"),
                    pl.lit(c).alias("_kind"),
                    pl.col(c).cast(pl.String).str.strip_chars().str.to_lowercase().alias("_value"),
                )
                for c in id_cols
            ]
        ).filter(pl.col("_value").is_not_null() & (pl.col("_value") != ""))
        holders = long.group_by("_kind", "_value").agg(
            pl.col("_holder").n_unique().alias("_holders")
        )
        shared = (
            long.unique(["_kind", "_value", S.ACCOUNT_ID])
            .join(holders, on=["_kind", "_value"])
            .group_by(S.ACCOUNT_ID)
            .agg((pl.col("_holders") - 1).sum().alias("shared_id_holders"))
        )
        out.append(shared)
        desc["shared_id_holders"] = (
            "other holders sharing an identifier ("
            + ", ".join(id_cols)
            + "), summed over identifiers"
        )
    else:
        notices.append("shared_id_holders left out: no identifier columns with data in accounts")
    return out
