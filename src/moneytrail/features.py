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
from datetime import timedelta

import polars as pl

from moneytrail import mcc
from moneytrail import schema as S
from moneytrail.errors import InputError

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

# Internal column names of the legs frame (never leave this module).
_ACC = "_account"
_CP = "_counterparty"
_IN = "_is_in"
_CP_COUNTRY = "_cp_country"
_DAY = "_day"


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
    names = transactions.collect_schema().names()
    _require(names)
    present = _present_columns(transactions, names)
    notices: list[str] = []
    desc: dict[str, str] = {}

    legs = _legs(transactions, present)
    # Materialise the narrow legs table once: every aggregate below reads it.
    legs_df = legs.collect()
    legs = legs_df.lazy()

    has_time_of_day = present.pop("_time_of_day")
    parts: list[pl.LazyFrame] = [
        _basic(legs, present, cfg, has_time_of_day, notices, desc),
        _counterparties(legs, desc),
        _fan(legs, cfg, desc),
        _flow_through(legs, cfg, desc),
    ]
    frames = pl.collect_all(parts)

    base = scored_accounts(transactions).collect()
    out = base
    for f in frames:
        out = out.join(f, on=S.ACCOUNT_ID, how="left")

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
}


def _require(names: list[str]) -> None:
    missing = [c for c in S.REQUIRED_TRANSACTION_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"transactions lack required column(s) {', '.join(missing)}",
            column=missing[0],
            hint="map the export's columns with a profile (moneytrail ingest --profile ...)",
        )


_OPTIONAL = (
    S.CHANNEL,
    S.MCC,
    S.LOCATION_CITY,
    S.LOCATION_COUNTRY,
    S.FROM_COUNTRY,
    S.TO_COUNTRY,
)


def _present_columns(transactions: pl.LazyFrame, names: list[str]) -> dict[str, bool]:
    """Which optional columns hold data, and whether timestamps carry a time of day."""
    exprs = [pl.col(c).is_not_null().any().alias(c) for c in _OPTIONAL if c in names]
    ts = pl.col(S.TIMESTAMP)
    exprs.append(
        (ts.dt.hour() + ts.dt.minute() + ts.dt.second())
        .fill_null(0)
        .gt(0)
        .any()
        .alias("_time_of_day")
    )
    row = transactions.select(exprs).collect().row(0, named=True)
    return {c: bool(row.get(c, False)) for c in (*_OPTIONAL, "_time_of_day")}


def _legs(transactions: pl.LazyFrame, present: dict[str, bool]) -> pl.LazyFrame:
    """Each transaction as an outgoing leg of its sender and an incoming leg of its receiver."""
    keep = [S.TIMESTAMP, S.AMOUNT]
    keep += [c for c in (S.CHANNEL, S.MCC, S.LOCATION_CITY, S.LOCATION_COUNTRY) if present[c]]
    out_country = pl.col(S.TO_COUNTRY) if present[S.TO_COUNTRY] else pl.lit(None, pl.String)
    in_country = pl.col(S.FROM_COUNTRY) if present[S.FROM_COUNTRY] else pl.lit(None, pl.String)
    base = transactions.filter(
        pl.col(S.AMOUNT).is_not_null()
        & pl.col(S.TIMESTAMP).is_not_null()
        & pl.col(S.FROM_ACCOUNT).is_not_null()
        & pl.col(S.TO_ACCOUNT).is_not_null()
    )
    out_legs = base.select(
        pl.col(S.FROM_ACCOUNT).alias(_ACC),
        pl.col(S.TO_ACCOUNT).alias(_CP),
        pl.lit(False).alias(_IN),
        *keep,
        out_country.alias(_CP_COUNTRY),
    )
    in_legs = base.select(
        pl.col(S.TO_ACCOUNT).alias(_ACC),
        pl.col(S.FROM_ACCOUNT).alias(_CP),
        pl.lit(True).alias(_IN),
        *keep,
        in_country.alias(_CP_COUNTRY),
    )
    return pl.concat([out_legs, in_legs]).filter(pl.col(_ACC) != S.CASH_NODE)


def _share(condition: pl.Expr, among: pl.Expr | None = None) -> pl.Expr:
    """Share of legs (of those matching ``among``) where ``condition`` holds."""
    if among is None:
        return condition.cast(pl.Float64).mean()
    n = among.sum()
    return pl.when(n > 0).then((condition & among).sum() / n).otherwise(None)


def _value_share(condition: pl.Expr, among: pl.Expr) -> pl.Expr:
    """Share of the value of legs matching ``among`` where ``condition`` holds."""
    amount = pl.col(S.AMOUNT)
    total = amount.filter(among).sum()
    part = amount.filter(among & condition).sum()
    return pl.when(total > 0).then(part / total).otherwise(None)


def _basic(legs, present, cfg, has_time_of_day, notices, desc) -> pl.LazyFrame:
    amount = pl.col(S.AMOUNT)
    is_in = pl.col(_IN)
    is_out = ~is_in
    ts = pl.col(S.TIMESTAMP)
    cash = pl.col(_CP) == S.CASH_NODE
    if present[S.CHANNEL]:
        cash = cash | (pl.col(S.CHANNEL) == "cash").fill_null(False)
    aggs = [
        ts.min().alias("_first_seen"),
        is_in.sum().alias("in_count"),
        is_out.sum().alias("out_count"),
        amount.filter(is_in).sum().alias("in_total"),
        amount.filter(is_out).sum().alias("out_total"),
        amount.filter(is_in).mean().alias("in_amount_mean"),
        amount.filter(is_out).mean().alias("out_amount_mean"),
        amount.max().alias("amount_max"),
        (amount.std() / amount.mean()).alias("amount_cv"),
        ts.dt.date().n_unique().alias("active_days"),
        ((ts.max() - ts.min()).dt.total_seconds() / 86400.0).alias("active_span_days"),
        _burstiness(ts).alias("burstiness"),
        _value_share(cash, is_in).alias("cash_in_share"),
        _value_share(cash, is_out).alias("cash_out_share"),
        _share(
            ((amount / cfg["round_unit"]).round() * cfg["round_unit"] - amount).abs() < 0.005
        ).alias("round_amount_share"),
        _share(
            amount.is_between(
                cfg["under_threshold_share"] * cfg["reporting_threshold"],
                cfg["reporting_threshold"],
                closed="left",
            )
        ).alias("under_threshold_share"),
        # in/out balance: near 1 when the account passes on what it receives
        pl.when(amount.sum() > 0)
        .then(
            pl.min_horizontal(amount.filter(is_in).sum(), amount.filter(is_out).sum())
            / pl.max_horizontal(amount.filter(is_in).sum(), amount.filter(is_out).sum())
        )
        .alias("in_out_balance"),
    ]
    threshold = cfg["reporting_threshold"]
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
        round_amount_share=f"share of transactions in round multiples of {cfg['round_unit']:,}",
        under_threshold_share=(
            f"share of transactions between {cfg['under_threshold_share']:.0%} of the "
            f"{threshold:,} reporting threshold and the threshold"
        ),
        in_out_balance="smaller of value received and sent over the larger (1 = all passed on)",
    )
    if has_time_of_day:
        hour = ts.dt.hour()
        night = (hour >= cfg["night_start_hour"]) | (hour < cfg["night_end_hour"])
        aggs.append(_share(night).alias("night_share"))
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
    country_cols = [pl.col(S.LOCATION_COUNTRY)] if present[S.LOCATION_COUNTRY] else []
    if present[S.FROM_COUNTRY] or present[S.TO_COUNTRY]:
        country_cols.append(pl.col(_CP_COUNTRY))
    if country_cols:
        aggs.append(pl.concat(country_cols).drop_nulls().n_unique().alias("countries"))
        desc["countries"] = "distinct countries touched (locations and counterparties)"
    else:
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
            aggs.append(_value_share(member, is_out).alias(name))
            desc[name] = f"share of value sent to {basket.replace('_', ' ')} merchants"
    if not present[S.MCC]:
        notices.append(f"MCC basket shares left out: no {S.MCC} column with data")
    return legs.group_by(pl.col(_ACC).alias(S.ACCOUNT_ID)).agg(aggs)


def _burstiness(ts: pl.Expr) -> pl.Expr:
    gaps = ts.sort().diff().dt.total_seconds().cast(pl.Float64)
    mean = gaps.mean()
    return pl.when(mean > 0).then(gaps.std() / mean).otherwise(None)


def _counterparties(legs: pl.LazyFrame, desc: dict) -> pl.LazyFrame:
    """Distinct counterparties and concentration (HHI of value) each way."""
    pairs = legs.group_by(_ACC, _IN, _CP).agg(pl.col(S.AMOUNT).sum().alias("_v"))
    share = pl.col("_v") / pl.col("_v").sum()
    per_dir = pairs.group_by(_ACC, _IN).agg(
        pl.len().alias("_n"),
        (share**2).sum().alias("_hhi"),
    )
    desc.update(
        in_counterparties="distinct senders",
        out_counterparties="distinct receivers",
        in_concentration="concentration of value received over senders (HHI, 1 = one sender)",
        out_concentration="concentration of value sent over receivers (HHI, 1 = one receiver)",
    )
    return per_dir.group_by(pl.col(_ACC).alias(S.ACCOUNT_ID)).agg(
        pl.col("_n").filter(pl.col(_IN)).first().alias("in_counterparties"),
        pl.col("_n").filter(~pl.col(_IN)).first().alias("out_counterparties"),
        pl.col("_hhi").filter(pl.col(_IN)).first().alias("in_concentration"),
        pl.col("_hhi").filter(~pl.col(_IN)).first().alias("out_concentration"),
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
    return per_window.group_by(pl.col(_ACC).alias(S.ACCOUNT_ID)).agg(
        pl.col("_n").filter(pl.col(_IN)).max().alias("fan_in_max"),
        pl.col("_n").filter(~pl.col(_IN)).max().alias("fan_out_max"),
    )


def _flow_through(legs: pl.LazyFrame, cfg: dict, desc: dict) -> pl.LazyFrame:
    """Flow-through within each horizon and holding time, under first-in first-out.

    Per account, money leaves in the order it arrived. The opening balance
    is unknown, so it is taken as the least that keeps the balance from going
    negative; outflows spend it first. Inflows and outflows at the same
    timestamp count the inflow first (daily exports cannot order them).
    """
    amount = pl.col(S.AMOUNT)
    steps = (
        legs.group_by(_ACC, S.TIMESTAMP)
        .agg(
            amount.filter(pl.col(_IN)).sum().alias("_in"),
            amount.filter(~pl.col(_IN)).sum().alias("_out"),
        )
        .sort(_ACC, S.TIMESTAMP)
        .with_columns(
            pl.col("_in").cum_sum().over(_ACC).alias("_cin"),
            pl.col("_out").cum_sum().over(_ACC).alias("_cout"),
        )
        .with_columns(
            (pl.col("_cout") - pl.col("_cin")).max().over(_ACC).clip(lower_bound=0).alias("_open")
        )
        # _spent: inflow value sent on by each step (never above what arrived)
        .with_columns((pl.col("_cout") - pl.col("_open")).alias("_spent"))
    )
    inflows = steps.filter(pl.col("_in") > 0).select(
        _ACC,
        S.TIMESTAMP,
        pl.col("_in"),
        (pl.col("_cin") - pl.col("_in")).alias("_before"),
        pl.col("_cin").alias("_after"),
    )
    spent_by_time = steps.select(_ACC, pl.col(S.TIMESTAMP).alias("_t"), "_spent")
    result = inflows
    horizons = [int(h) for h in cfg["flow_through_hours"]]
    for h in horizons:
        key = f"_k{h}"
        result = (
            result.with_columns((pl.col(S.TIMESTAMP) + timedelta(hours=h)).alias(key))
            .sort(_ACC, key)
            .join_asof(
                spent_by_time.rename({"_spent": f"_s{h}"}).sort(_ACC, "_t"),
                left_on=key,
                right_on="_t",
                by=_ACC,
                strategy="backward",
                check_sortedness=False,
            )
            .with_columns(
                (pl.col(f"_s{h}") - pl.col("_before"))
                .clip(lower_bound=0)
                .clip(upper_bound=pl.col("_in"))
                .fill_null(0)
                .alias(f"_f{h}")
            )
            .drop(key, "_t", f"_s{h}")
        )
    # Holding time: from an inflow to the step by which it has all been sent on.
    # Half a cent of slack absorbs floating-point error in the running sums.
    spent_by_value = steps.select(
        _ACC, pl.col(S.TIMESTAMP).alias("_t_done"), pl.col("_spent").alias("_spent_key")
    ).sort(_ACC, "_spent_key")
    result = (
        result.with_columns((pl.col("_after") - 0.005).alias("_need"))
        .sort(_ACC, "_need")
        .join_asof(
            spent_by_value,
            left_on="_need",
            right_on="_spent_key",
            by=_ACC,
            strategy="forward",
            check_sortedness=False,
        )
        .with_columns(
            ((pl.col("_t_done") - pl.col(S.TIMESTAMP)).dt.total_seconds() / 3600.0)
            .clip(lower_bound=0)
            .alias("_hold")
        )
    )
    aggs = []
    for h in horizons:
        name = f"flow_through_{h}h"
        aggs.append((pl.col(f"_f{h}").sum() / pl.col("_in").sum()).alias(name))
        desc[name] = f"share of inflow sent on within {h} h"
    aggs.append(pl.col("_hold").median().alias("holding_hours"))
    desc["holding_hours"] = "median hours until an inflow has been sent on (first in, first out)"
    return result.group_by(pl.col(_ACC).alias(S.ACCOUNT_ID)).agg(aggs)


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
