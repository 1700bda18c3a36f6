"""Rules → polars lazy queries → Evidence.

The input is read once and the views are built once, in memory; each rule's query
starts from them. A query computes its rule's matching rows first (once, in memory),
skips the accounts that cannot fire (a cheap bound per time block) and runs its
windows over the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import ParamsError, RuleError
from moneytrail.evidence import empty_evidence, evidence_frame
from moneytrail.params import Params
from moneytrail.parts import parts_needed, split_by_account
from moneytrail.rules import views as V
from moneytrail.rules.model import Rule, RuleSet
from moneytrail.rules.sql import (
    fill_reason,
    having_lower_bounds,
    parse_window,
    polars_duration,
    sequence_columns,
    split_aggregate,
    sql_literal,
    substitute,
    template_fields,
    window_words,
)

MAX_TXN_IDS = 200  # supporting transactions listed per evidence row
# Movements (two per transaction) held in memory at once. A bigger input is split by
# account into parts run one after the other (see `_collect_parts`): memory stays
# about one part's view whatever the input's size. 12 M movements take ~1.5 GB.
MOVEMENTS_PER_PART = 12_000_000
# Rule queries collected together. The input and the views are in memory and each
# query computes its own matching rows as it is built, so batching shares no work;
# one at a time keeps the fewest intermediate frames alive (4.27 M rows: peak
# 3.7 GB with four at a time, 3.6 GB with one, the same CPU time).
RULES_PER_BATCH = 1
# Accounts with more rows than this in a windowed rule count distinct values with
# `_rolling_distinct` rather than window by window.
BUSY_ACCOUNT_ROWS = 2000

# Internal column names of the compiled queries (never visible to a rule).
_SUBJECT = "__subject"
_STRENGTH = "__strength"
_LO = "__lo"
_HI = "__hi"
_START = "__window_start"
_END = "__window_end"
_TXNS = "__txn_ids"
_NTXN = "__n_txns"
_TXN = "__txn"
_DEADLINE = "__deadline"
_OWN_TS = "__own_ts"
_ROW_INPUT = "__in_"
_DISTINCT = "__distinct_"
_BLOCK = "__block"
_CODE = "__account_code"
_ROW = "__row"
_BOUND = "__bound_"
_HEIGHT = "__height"  # the row count among `_movements_by_account`'s null counts
_DIRECTION_ENUM = pl.Enum([V.DIRECTION_IN, V.DIRECTION_OUT])

FIRST_PREFIX = "first_"
THEN_PREFIX = "then_"
GAP_HOURS = "gap_hours"


class RuleFieldError(RuleError):
    """A RuleError that knows the rule field at fault (``where``, ``aggregate.total``...)."""

    def __init__(self, field_name: str, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.field = field_name


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def sql_to_expr(text: str, values: dict[str, Any], field_name: str, sequence=False) -> pl.Expr:
    """Compile one SQL text of a rule (params substituted) to a polars expression."""
    try:
        filled = substitute(text, values)
    except RuleError as exc:
        raise RuleFieldError(field_name, exc.message, exc.hint) from None
    if sequence:
        filled = sequence_columns(filled)
    try:
        return pl.sql_expr(filled)
    except Exception as exc:  # polars raises several error types for bad SQL
        raise RuleFieldError(field_name, f"bad SQL {text!r}: {_first_line(exc)}") from None


@dataclass
class CompiledRule:
    """A rule's SQL texts as polars expressions, for one set of param values."""

    rule: Rule
    values: dict[str, Any]
    where: pl.Expr
    measures: dict[str, pl.Expr] = field(default_factory=dict)
    having: pl.Expr | None = None
    strength: pl.Expr | None = None
    first: pl.Expr | None = None
    then: pl.Expr | None = None
    match: pl.Expr | None = None
    within: timedelta | None = None
    reason_fields: list[tuple[str, str]] = field(default_factory=list)
    # What the query runs: row-level inputs computed once per row, and the measures
    # over them (same results as `measures`, without re-evaluating CASEs per window).
    row_inputs: list[pl.Expr] = field(default_factory=list)
    fast_measures: list[pl.Expr] = field(default_factory=list)
    # count(DISTINCT x) measures of windowed rules: measure name → row input column;
    # for busy accounts they are counted by `_rolling_distinct` (see there why).
    distinct_inputs: dict[str, str] = field(default_factory=dict)
    # Per-account conditions over the whole period that every firing window meets
    # (see `_necessary_conditions`): accounts failing one are dropped before windowing.
    necessary: list[Necessary] = field(default_factory=list)


def compile_rule(rule: Rule, overrides: dict[str, Any] | None = None) -> CompiledRule:
    values = rule.param_values(overrides)
    for name, value in values.items():
        try:
            sql_literal(value, name=name)
        except RuleError as exc:
            raise RuleFieldError(f"params.{name}", exc.message) from None
    seq = rule.sequence is not None
    compiled = CompiledRule(
        rule=rule, values=values, where=sql_to_expr(rule.where, values, "where")
    )
    for name, text in rule.aggregate.items():
        field_name = f"aggregate.{name}"
        compiled.measures[name] = sql_to_expr(text, values, field_name, seq).alias(name)
        split = split_aggregate(text)
        if split is None:
            compiled.fast_measures.append(compiled.measures[name])
            continue
        func, distinct, inner = split
        column = f"{_ROW_INPUT}{name}"
        compiled.row_inputs.append(sql_to_expr(inner, values, field_name, seq).alias(column))
        if rule.window and func == "count" and distinct:
            compiled.distinct_inputs[name] = column
        compiled.fast_measures.append(
            sql_to_expr(f"{func}({distinct}{column})", {}, field_name).alias(name)
        )
    if rule.having:
        compiled.having = sql_to_expr(rule.having, values, "having")
        if rule.window and not seq:
            compiled.necessary = _necessary_conditions(rule, substitute(rule.having, values))
    if rule.strength:
        compiled.strength = sql_to_expr(rule.strength, values, "strength")
    if rule.sequence is not None:
        compiled.first = sql_to_expr(rule.sequence.first, values, "sequence.first")
        compiled.then = sql_to_expr(rule.sequence.then, values, "sequence.then")
        if rule.sequence.match:
            compiled.match = sql_to_expr(rule.sequence.match, values, "sequence.match", seq)
        try:
            compiled.within = parse_window(rule.sequence.within)
        except RuleError as exc:
            raise RuleFieldError("sequence.within", exc.message, exc.hint) from None
    try:
        compiled.reason_fields = template_fields(rule.reason)
    except RuleError as exc:
        raise RuleFieldError("reason", exc.message, exc.hint) from None
    return compiled


@dataclass
class Necessary:
    """A `measure >= number` term of a windowed rule's `having`, bounded per time block.

    ``bound`` aggregates a block of an account's rows to at least the measure's value
    over any subset of them; ``additive`` says two blocks' bounds add up (counts, sums)
    rather than take the larger (max).
    """

    bound: pl.Expr
    additive: bool
    strict: bool
    number: float


def _necessary_conditions(rule: Rule, having: str) -> list[Necessary]:
    """Bounds of a windowed rule's `measure >= number` terms (see `_able_accounts`).

    A window's count, distinct count or max over a set of rows is at most the one over
    any superset, and its sum at most the superset's sum of positive parts.
    """
    conditions = []
    for name, op, number in having_lower_bounds(having):
        text = rule.aggregate.get(name)
        if text is None:
            continue
        column = pl.col(f"{_ROW_INPUT}{name}")
        split = split_aggregate(text)
        additive = True
        if text.replace(" ", "").lower() == "count(*)":
            bound = pl.len()
        elif split is None:
            continue
        elif split[0] == "count":
            bound = column.drop_nulls().n_unique() if split[1] else column.count()
        elif split[0] == "sum":
            bound = column.clip(lower_bound=0).sum()
        elif split[0] == "max":
            bound, additive = column.max(), False
        else:
            continue
        conditions.append(Necessary(bound, additive, op == ">", number))
    return conditions


def _able_accounts(
    compiled: CompiledRule, rows: pl.LazyFrame, key: str, window: timedelta
) -> pl.LazyFrame:
    """The keys that can fire: a cheap necessary condition checked before windowing.

    Time is cut into blocks one window long. A rolling window ends at one of the key's
    rows, in block b, and starts after the start of block b-1, so its rows lie in
    blocks b-1 and b and each measure is at most the two blocks' bounds combined. A key
    none of whose blocks meets every term that way has no window that fires (most
    accounts, for rules like "8 cash deposits in 90 days").
    """
    block = (pl.col(S.TIMESTAMP).dt.epoch("s") // max(1, int(window.total_seconds()))).alias(
        _BLOCK
    )
    names = [f"{_BOUND}{i}" for i in range(len(compiled.necessary))]
    bounds = [c.bound.cast(pl.Float64).alias(names[i]) for i, c in enumerate(compiled.necessary)]
    per_block = rows.group_by(key, block).agg(bounds).sort(key, _BLOCK)
    follows = (pl.col(key).shift(1) == pl.col(key)) & (
        pl.col(_BLOCK).shift(1) == pl.col(_BLOCK) - 1
    )
    meets = []
    for condition, name in zip(compiled.necessary, names, strict=True):
        own, before = pl.col(name), pl.col(name).shift(1)
        both = own + before if condition.additive else pl.max_horizontal(own, before)
        reach = pl.when(follows).then(both).otherwise(own)
        meets.append(reach > condition.number if condition.strict else reach >= condition.number)
    return per_block.filter(pl.all_horizontal(meets)).select(key).unique()


# --------------------------------------------------------------------------
# Query building# --------------------------------------------------------------------------
# Query building
# --------------------------------------------------------------------------
def _strength_expr(compiled: CompiledRule) -> pl.Expr:
    if compiled.strength is None:
        return pl.lit(1.0, dtype=pl.Float64).alias(_STRENGTH)
    return compiled.strength.cast(pl.Float64).clip(0.0, 1.0).fill_null(1.0).alias(_STRENGTH)


def rule_query(
    compiled: CompiledRule,
    view: pl.LazyFrame,
    sorted_by_account: bool = False,
    materialize: bool = False,
) -> pl.LazyFrame:
    """The lazy query of one rule over its view: one row per subject account that fired.

    ``sorted_by_account``: the view is already sorted by (account, timestamp), so a
    windowed rule over it need not sort its rows again.
    ``materialize``: compute the rule's matching rows now, in memory, and build the rest
    of the query on them. The windows, the busy-account split, the distinct counts and
    the supporting transactions each read those rows; polars does not share such a
    subplan between its uses, so left lazy each use recomputes the filter and the
    row-level CASEs and regexes.
    """
    rule = compiled.rule
    base = view.filter(compiled.where)
    if rule.level == "transaction":
        return _transaction_query(compiled, base)
    key = rule.group_by or V.ACCOUNT
    if rule.sequence is not None:
        rows = _pairs(compiled, base, key)
        if materialize:
            rows = rows.collect().lazy()
        support = pl.concat(
            [
                rows.select(key, S.TIMESTAMP, *_own(FIRST_PREFIX)),
                rows.select(key, S.TIMESTAMP, *_own(THEN_PREFIX)),
            ]
        )
        start = pl.col(FIRST_PREFIX + S.TIMESTAMP).min().alias(_START)
    else:
        rows = base
        support = base.select(key, S.TIMESTAMP, *_own(""))
        start = pl.col(S.TIMESTAMP).min().alias(_START)
    rows = rows.filter(pl.col(key).is_not_null() & (pl.col(key) != pl.lit(S.CASH_NODE)))
    presorted = sorted_by_account and key == V.ACCOUNT and rule.sequence is None
    return _account_query(compiled, rows, support, key, start, presorted, materialize)


def _own(prefix: str) -> list[pl.Expr]:
    """A supporting transaction's id and its own time (a pair row's time is the `then` one)."""
    return [
        pl.col(prefix + S.TIMESTAMP).alias(_OWN_TS),
        pl.col(prefix + S.TXN_ID).alias(_TXN),
    ]


def _pairs(compiled: CompiledRule, base: pl.LazyFrame, key: str) -> pl.LazyFrame:
    names = base.collect_schema().names()
    first = (
        base.filter(compiled.first)
        .select([pl.col(n).alias(FIRST_PREFIX + n) for n in names])
        .with_columns((pl.col(FIRST_PREFIX + S.TIMESTAMP) + compiled.within).alias(_DEADLINE))
    )
    then = base.filter(compiled.then).select([pl.col(n).alias(THEN_PREFIX + n) for n in names])
    first_ts, then_ts = pl.col(FIRST_PREFIX + S.TIMESTAMP), pl.col(THEN_PREFIX + S.TIMESTAMP)
    pairs = (
        first.join(
            then,
            left_on=FIRST_PREFIX + key,
            right_on=THEN_PREFIX + key,
            how="inner",
            coalesce=False,
        )
        .filter((then_ts > first_ts) & (then_ts <= pl.col(_DEADLINE)))
        .drop(_DEADLINE)
        .with_columns(
            pl.col(FIRST_PREFIX + key).alias(key),
            then_ts.alias(S.TIMESTAMP),
            ((then_ts - first_ts).dt.total_seconds() / 3600.0).alias(GAP_HOURS),
        )
    )
    if compiled.match is not None:
        pairs = pairs.filter(compiled.match)
    return pairs


def _account_query(
    compiled: CompiledRule,
    rows: pl.LazyFrame,
    support: pl.LazyFrame,
    key: str,
    start: pl.Expr,
    presorted: bool = False,
    materialize: bool = False,
) -> pl.LazyFrame:
    rule = compiled.rule
    ts = pl.col(S.TIMESTAMP)
    if compiled.row_inputs:
        rows = rows.with_columns(compiled.row_inputs)
    if rule.sequence is None:
        # Only the columns the measures read travel through windows, sorts and joins.
        read = {name for m in compiled.fast_measures for name in m.meta.root_names()}
        present = rows.collect_schema().names()
        rows = rows.select(
            key, S.TIMESTAMP, *[n for n in present if n in read and n not in (key, S.TIMESTAMP)]
        )
    if materialize:
        rows = rows.collect().lazy()
    if rule.window and compiled.necessary:
        able = _able_accounts(compiled, rows, key, parse_window(rule.window))
        rows = rows.join(able, on=key, how="semi", maintain_order="left")
        if materialize:
            rows = rows.collect().lazy()
    if rule.window and not presorted:
        rows = rows.sort(key, S.TIMESTAMP)
    bounds = [ts.min().alias(_LO), ts.max().alias(_HI), start, ts.max().alias(_END)]
    aggs = [*compiled.fast_measures, *bounds]
    if rule.window:
        period = polars_duration(rule.window)

        def rolling(frame: pl.LazyFrame, measures: list[pl.Expr]) -> pl.LazyFrame:
            return (
                frame.rolling(index_column=S.TIMESTAMP, period=period, group_by=key)
                .agg(measures)
                .drop(S.TIMESTAMP)
            )

        if compiled.distinct_inputs:
            # Counting distinct values window by window is fast for ordinary accounts
            # and explodes for busy ones (merchants, acquirers): split them.
            busy = pl.len().over(key) > BUSY_ACCOUNT_ROWS
            busy_rows = rows.filter(busy)
            window = parse_window(rule.window)
            for name, column in compiled.distinct_inputs.items():
                busy_rows = _rolling_distinct(busy_rows, key, column, window, _DISTINCT + name)
            busy_aggs = [
                pl.col(_DISTINCT + m.meta.output_name()).last().alias(m.meta.output_name())
                if m.meta.output_name() in compiled.distinct_inputs
                else m
                for m in compiled.fast_measures
            ]
            windows = pl.concat(
                [rolling(rows.filter(~busy), aggs), rolling(busy_rows, [*busy_aggs, *bounds])]
            )
        else:
            windows = rolling(rows, aggs)
    else:
        windows = rows.group_by(key).agg(aggs)
    first_measure = next(iter(compiled.measures))
    fired = windows.filter(compiled.having).with_columns(_strength_expr(compiled))
    best = fired.sort(
        [key, _STRENGTH, first_measure, _HI],
        descending=[False, True, True, False],
        nulls_last=True,
    ).unique(subset=key, keep="first", maintain_order=True)
    supporting = (
        support.join(best.select(key, _LO, _HI), on=key, how="inner")
        .filter(pl.col(S.TIMESTAMP).is_between(pl.col(_LO), pl.col(_HI)))
        .group_by(key)
        # ties in time ordered by id: the list does not depend on the input order
        .agg(pl.col(_TXN).sort_by(_OWN_TS, _TXN).unique(maintain_order=True).alias(_TXNS))
    )
    return (
        best.join(supporting, on=key, how="left")
        .with_columns(
            pl.col(_TXNS).list.len().alias(_NTXN),
            pl.col(_TXNS).list.head(MAX_TXN_IDS),
            pl.col(key).alias(_SUBJECT),
        )
        .drop(_LO, _HI)
    )


def _rolling_distinct(
    rows: pl.LazyFrame,
    key: str,
    column: str,
    window: timedelta,
    out: str,
) -> pl.LazyFrame:
    """Add ``out``: how many distinct non-null values ``column`` takes among the key's rows
    with a time in ``(t - window, t]``, for each row's time ``t`` — what
    ``count(DISTINCT column)`` gives over that row's rolling window.

    Counting each window's values costs time and memory in the sum of all window sizes:
    on 4 M transactions one such measure over acquirer accounts took 9 GB. Instead: a
    value is in the window at time t iff one of its occurrences s has s <= t < s + window.
    Per key and value, sorted occurrences cover the times
    [max(s_i, s_{i-1} + window), s_i + window), which are disjoint; so the count at t is
    the number of those pieces started by t minus the number ended by t, two as-of joins
    on cumulative counts.
    """
    ts = pl.col(S.TIMESTAMP)  # rows come sorted by (key, time)
    occurrences = rows.select(key, S.TIMESTAMP, column).filter(pl.col(column).is_not_null())
    previous = ts.shift(1).over([key, column])
    pieces = occurrences.select(
        key,
        pl.when(previous.is_null())
        .then(ts)
        .otherwise(pl.max_horizontal(ts, previous + window))
        .alias("__from"),
        (ts + window).alias("__to"),
    ).filter(pl.col("__from") < pl.col("__to"))

    def running_count(edge: str, name: str) -> pl.LazyFrame:
        return (
            pieces.group_by(key, edge)
            .agg(pl.len().alias(name))
            .sort(edge)
            .with_columns(pl.col(name).cum_sum().over(key))
        )

    anchors = rows.select(key, S.TIMESTAMP).unique().sort(S.TIMESTAMP)
    counted = (
        anchors.join_asof(
            running_count("__from", "__started"),
            left_on=S.TIMESTAMP,
            right_on="__from",
            by=key,
            strategy="backward",
            check_sortedness=False,  # both sides are sorted by time just above
        )
        .join_asof(
            running_count("__to", "__ended"),
            left_on=S.TIMESTAMP,
            right_on="__to",
            by=key,
            strategy="backward",
            check_sortedness=False,  # both sides are sorted by time just above
        )
        .select(
            key,
            S.TIMESTAMP,
            (pl.col("__started").fill_null(0) - pl.col("__ended").fill_null(0))
            .cast(pl.Int64)
            .alias(out),
        )
    )
    return rows.join(counted, on=[key, S.TIMESTAMP], how="left", maintain_order="left")


def _transaction_query(compiled: CompiledRule, base: pl.LazyFrame) -> pl.LazyFrame:
    rule = compiled.rule
    subject = pl.col(V.ACCOUNT) if rule.view == "movements" else pl.col(rule.subject)
    hits = base.with_columns(subject.alias(_SUBJECT), _strength_expr(compiled)).filter(
        pl.col(_SUBJECT).is_not_null() & (pl.col(_SUBJECT) != pl.lit(S.CASH_NODE))
    )
    columns = set(base.collect_schema().names())
    row_fields = sorted({name for name, _ in compiled.reason_fields if name in columns})
    strongest = [pl.col(_STRENGTH), pl.col(S.AMOUNT), pl.col(S.TIMESTAMP)]
    order = {"descending": [True, True, False], "nulls_last": True}
    return hits.group_by(_SUBJECT).agg(
        *[pl.col(name).sort_by(strongest, **order).first() for name in row_fields],
        pl.col(_STRENGTH).max(),
        pl.col(S.TIMESTAMP).min().alias(_START),
        pl.col(S.TIMESTAMP).max().alias(_END),
        pl.col(S.TXN_ID).sort_by(S.TIMESTAMP).head(MAX_TXN_IDS).alias(_TXNS),
        pl.len().alias(_NTXN),
    )


# --------------------------------------------------------------------------
# Running a rule set
# --------------------------------------------------------------------------
@dataclass
class RuleRun:
    """What a run of the rules produced."""

    evidence: pl.DataFrame
    ran: list[str] = field(default_factory=list)
    skipped: list[tuple[str, list[str]]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    # Rules that compiled but failed on this data (bad param override, a type the
    # checker could not foresee): reported, never stopping the other rules.
    errors: list[tuple[str, str]] = field(default_factory=list)


def rule_overrides(ruleset: RuleSet, params: Params | None) -> dict[str, dict[str, Any]]:
    """The run's per-rule param overrides, checked against the rules' declared params."""
    if params is None or not params.rules:
        return {}
    checked: dict[str, dict[str, Any]] = {}
    for code, given in params.rules.items():
        rule = ruleset.get(code)
        if rule is None:
            raise ParamsError(
                f"param override for unknown rule {code!r}",
                file=params.source,
                hint="`moneytrail rules list` shows the rule codes",
            )
        checked[code] = {}
        for name, value in given.items():
            declared = rule.params.get(name)
            if declared is None:
                known = ", ".join(sorted(rule.params)) or "none"
                raise ParamsError(
                    f"rule {code} has no param {name!r}",
                    file=params.source,
                    hint=f"its params: {known}",
                )
            if _kind(value) != _kind(declared.value):
                raise ParamsError(
                    f"{code}.{name} must be {_kind(declared.value)} like its default "
                    f"{declared.value!r}, not {value!r}",
                    file=params.source,
                )
            checked[code][name] = value
    return checked


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "other"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return "other"


def missing_columns(rule: Rule, present: set[str]) -> list[str]:
    return [name for name in rule.requires if name not in present]


def needs_kyc(rule: Rule) -> bool:
    return any(
        name.startswith((V.ACCOUNT_PREFIX, V.COUNTERPARTY_PREFIX))
        and name not in (V.ACCOUNT, V.COUNTERPARTY)
        for name in rule.requires
    )


def run_rules(
    transactions: pl.LazyFrame | pl.DataFrame,
    ruleset: RuleSet,
    params: Params | None = None,
    accounts: pl.DataFrame | pl.LazyFrame | None = None,
) -> RuleRun:
    """Run every (non-deprecated) rule of ``ruleset`` over the canonical transactions."""
    overrides = rule_overrides(ruleset, params)
    kyc = V.canonical_accounts(accounts) if accounts is not None else None
    # Only the columns the rules use. Every rule's query starts from a view built
    # once in memory rather than re-derived from the input by each query (polars'
    # subplan elimination does not share a file scan between queries once their
    # different filters are pushed into the scan).
    columns = V.canonical(transactions.lazy()).select(
        V.base_columns(_columns_read(ruleset.rules))
    )
    running = [r for r in ruleset.rules if r.runs]
    parts = _parts_needed(running, columns)
    canon = movements = None
    if parts > 1:
        # big input: the movements are split by account into parts run one at a time
        nulls = columns.select(pl.all().null_count()).collect(engine="streaming").row(
            0, named=True
        )
        nulls[_HEIGHT] = columns.select(pl.len()).collect().item()
        present = V.present_by_nulls(
            {k: v for k, v in nulls.items() if k != _HEIGHT}, nulls[_HEIGHT], kyc
        )
    elif any(r.view == "transactions" for r in running):
        # one chunk per column: gathers from many chunks are several times slower
        base = columns.collect().rechunk()
        present = V.present_columns(base, kyc)
        canon = base.lazy()
        if any(r.view == "movements" for r in running):
            movements, _ = _movements_by_account(canon)
        del base
    else:
        movements, nulls = _movements_by_account(columns)
        present = V.present_by_nulls(nulls, nulls.pop(_HEIGHT), kyc)

    run = RuleRun(evidence=empty_evidence())

    def view_for(rule: Rule, views: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        view = views[rule.view]
        if rule.view == "movements" and kyc is not None and needs_kyc(rule):
            if "kyc" not in views:
                views["kyc"] = V.with_kyc(view, kyc)
            return views["kyc"]
        return view

    compiled_rules: list[CompiledRule] = []
    for rule in ruleset.rules:
        if not rule.runs:
            continue
        missing = missing_columns(rule, present)
        if missing:
            run.skipped.append((rule.id, missing))
            continue
        try:
            compiled_rules.append(compile_rule(rule, overrides.get(rule.id)))
        except RuleError as exc:
            run.errors.append((rule.id, _error_text(exc)))

    if parts == 1:
        views = {"transactions": canon, "movements": movements}
        frames = _collect([(c, view_for(c.rule, views)) for c in compiled_rules], run)
        del views, canon, movements
    else:
        frames = _collect_parts(compiled_rules, columns, nulls, parts, view_for, run)
    evidence = []
    for compiled, frame in frames:
        try:
            evidence.append(_evidence(compiled, frame))
        except RuleError as exc:
            run.errors.append((compiled.rule.id, _error_text(exc)))
            continue
        run.ran.append(compiled.rule.id)
        run.hits[compiled.rule.id] = frame.height
    if evidence:
        run.evidence = pl.concat(evidence, how="vertical")
    return run


def _parts_needed(running: list[Rule], columns: pl.LazyFrame) -> int:
    """Into how many parts the movements are split (1: the whole view in memory).

    Only when every running rule reads the movements and finds its subject among an
    account's own movements (groups by `account`): then an account's evidence comes
    from its own part and the split changes no result.
    """
    def by_account(rule: Rule) -> bool:
        key = V.ACCOUNT if rule.level == "transaction" else (rule.group_by or V.ACCOUNT)
        return rule.view == "movements" and key == V.ACCOUNT

    if not running or not all(by_account(r) for r in running):
        return 1
    movements = 2 * columns.select(pl.len()).collect().item()
    return parts_needed(movements, MOVEMENTS_PER_PART)


def _collect_parts(
    compiled_rules: list[CompiledRule],
    columns: pl.LazyFrame,
    nulls: dict[str, int],
    parts: int,
    view_for: Callable[[Rule, dict[str, pl.LazyFrame]], pl.LazyFrame],
    run: RuleRun,
) -> list[tuple[CompiledRule, pl.DataFrame]]:
    """Every rule over each part of the movements in turn, the parts' hits put together.

    The movements are written once, streaming, into one Parquet file per part (an
    account's movements all in one part); each part is read, sorted and run like the
    whole view in memory, then let go.
    """
    found: dict[str, list[pl.DataFrame]] = {c.rule.id: [] for c in compiled_rules}
    movements, schema, empty = _movement_rows(columns, nulls)
    with split_by_account(
        movements, pl.col(V.ACCOUNT), parts, prefix="moneytrail-movements-"
    ) as paths:
        for path in paths:
            views = {"movements": _sorted_part(path, schema, empty)}
            queued = [(c, view_for(c.rule, views)) for c in compiled_rules]
            for compiled, frame in _collect(queued, run):
                found[compiled.rule.id].append(frame)
            del views, queued
    # a rule that failed on one part did not run; its error is reported once
    failed = {code for code, _ in run.errors}
    run.errors[:] = list({code: (code, m) for code, m in reversed(run.errors)}.values())[::-1]
    return [
        (c, pl.concat(found[c.rule.id], how="vertical"))
        for c in compiled_rules
        if c.rule.id not in failed and found[c.rule.id]
    ]


def _movement_rows(
    columns: pl.LazyFrame, nulls: dict[str, int]
) -> tuple[pl.LazyFrame, pl.Schema, list[str]]:
    """The movements as they are stored in parts (lazy), the input's schema and its
    empty columns.

    Stored as in ``_movements_by_account``: no from/to account, no empty column, the
    direction an Enum. ``nulls``: each column's null count and the row count under
    ``_HEIGHT``.
    """
    schema = columns.collect_schema()
    height = nulls[_HEIGHT]
    empty = [n for n in schema.names() if height and nulls[n] == height]
    stored = [n for n in schema.names() if n not in (S.FROM_ACCOUNT, S.TO_ACCOUNT, *empty)]
    sides = []
    for account, counterparty, direction in (
        (S.FROM_ACCOUNT, S.TO_ACCOUNT, V.DIRECTION_OUT),
        (S.TO_ACCOUNT, S.FROM_ACCOUNT, V.DIRECTION_IN),
    ):
        sides.append(
            columns.select(
                *stored,
                pl.col(account).alias(V.ACCOUNT),
                pl.col(counterparty).alias(V.COUNTERPARTY),
                pl.lit(direction).cast(_DIRECTION_ENUM).alias(V.DIRECTION),
            )
        )
    movements = pl.concat(sides).filter(pl.col(V.ACCOUNT) != pl.lit(S.CASH_NODE))
    return movements, schema, empty


def _sorted_part(path: Path, schema: pl.Schema, empty: list[str]) -> pl.LazyFrame:
    """One part of the movements in memory, sorted by (account, time), as the view."""
    frame = pl.read_parquet(path).rechunk()
    code = frame.get_column(V.ACCOUNT).cast(pl.Categorical).to_physical()
    order = (
        pl.DataFrame({_CODE: code, S.TIMESTAMP: frame.get_column(S.TIMESTAMP)})
        .select(pl.arg_sort_by(_CODE, S.TIMESTAMP))
        .to_series()
    )
    del code
    gathered = {}
    for name in frame.columns:  # column by column, each original let go once gathered
        gathered[name] = frame.drop_in_place(name).gather(order)
    return _view(gathered, schema, empty)


def _view(gathered: dict[str, pl.Series], schema: pl.Schema, empty: list[str]) -> pl.LazyFrame:
    """The movements view over its stored columns: from/to account and the empty
    columns are expressions, computed only when a rule reads them."""
    is_out = pl.col(V.DIRECTION) == pl.lit(V.DIRECTION_OUT)
    account, counterparty = pl.col(V.ACCOUNT), pl.col(V.COUNTERPARTY)
    derived = {
        S.FROM_ACCOUNT: pl.when(is_out).then(account).otherwise(counterparty),
        S.TO_ACCOUNT: pl.when(is_out).then(counterparty).otherwise(account),
        **{name: pl.lit(None, dtype=schema[name]) for name in empty},
    }
    order_of_view = [*schema.names(), V.ACCOUNT, V.COUNTERPARTY, V.DIRECTION]
    return (
        pl.DataFrame(list(gathered.values()))
        .lazy()
        .select(
            pl.col(name) if name in gathered else derived[name].alias(name)
            for name in order_of_view
        )
    )


def _movements_by_account(
    columns: pl.LazyFrame | pl.DataFrame,
) -> tuple[pl.LazyFrame, dict[str, int]]:
    """The movements view in memory, sorted by (account, time) so windowed rules need not
    sort: rolling windows run much faster over each account's rows kept together. Also
    each input column's null count (and the row count under ``_HEIGHT``).

    Same rows and values as ``V.movements_view``, built so that memory holds little more
    than the view itself:

    - each column is read from the input (a Parquet scan, usually) on its own and
      gathered straight into sorted order (concatenating both sides first and sorting
      that held the table three times over); sorted by an integer code of the account,
      not the string (the order of the accounts is of no matter);
    - columns that hold no value are typed null literals, not millions of nulls
      (a null string still costs 16 bytes a row);
    - ``from_account`` / ``to_account`` are derived from ``account`` / ``counterparty``
      and the direction when a rule reads them, and the direction is an Enum; strings
      cost 16 bytes a row in each of twice the input's rows.
    """
    source = columns.lazy()
    schema = source.collect_schema()
    keys_in = source.select(S.FROM_ACCOUNT, S.TO_ACCOUNT, S.TIMESTAMP).collect().rechunk()
    n = keys_in.height
    nulls = {_HEIGHT: n}
    for name in (S.FROM_ACCOUNT, S.TO_ACCOUNT, S.TIMESTAMP):
        nulls[name] = keys_in.get_column(name).null_count()
    sides = pl.concat([keys_in.get_column(S.FROM_ACCOUNT), keys_in.get_column(S.TO_ACCOUNT)])
    times = keys_in.get_column(S.TIMESTAMP)
    keys = pl.DataFrame(
        {
            _CODE: sides.cast(pl.Categorical).to_physical().rechunk(),
            S.TIMESTAMP: pl.concat([times, times]).rechunk(),
            _ROW: pl.int_range(2 * n, dtype=pl.Int64, eager=True),
        }
    ).filter((sides != S.CASH_NODE).rechunk())
    order = keys.sort(_CODE, S.TIMESTAMP).get_column(_ROW)
    del keys, sides, times
    sent = order < n  # the first n movements are the senders' side
    rows = order.zip_with(sent, order - n)
    del order
    senders = keys_in.get_column(S.FROM_ACCOUNT).gather(rows)
    receivers = keys_in.get_column(S.TO_ACCOUNT).gather(rows)
    gathered = {
        S.TIMESTAMP: keys_in.get_column(S.TIMESTAMP).gather(rows),
        V.ACCOUNT: senders.zip_with(sent, receivers).alias(V.ACCOUNT),
        V.COUNTERPARTY: receivers.zip_with(sent, senders).alias(V.COUNTERPARTY),
        V.DIRECTION: pl.Series(V.DIRECTION, [V.DIRECTION_IN, V.DIRECTION_OUT], _DIRECTION_ENUM)
        .gather(sent.cast(pl.UInt32)),
    }
    del keys_in, senders, receivers, sent
    empty: list[str] = []
    for name in schema.names():
        if name in (S.FROM_ACCOUNT, S.TO_ACCOUNT, S.TIMESTAMP):
            continue
        column = source.select(name).collect().to_series().rechunk()
        nulls[name] = column.null_count()
        if n and nulls[name] == n:
            empty.append(name)
        else:
            gathered[name] = column.gather(rows)
        del column
    return _view(gathered, schema, empty), nulls


def _columns_read(rules: list[Rule]) -> set[str]:
    """Canonical columns the running rules may read: their `requires` and reason fields.

    The checker holds every optional column a rule's SQL uses to its `requires`.
    """
    names: set[str] = set()
    for rule in rules:
        if not rule.runs:
            continue
        names.update(rule.requires)
        try:
            names.update(name for name, _ in template_fields(rule.reason))
        except RuleError:
            continue
    return names


def _error_text(exc: RuleError) -> str:
    field_name = getattr(exc, "field", None)
    return f"{field_name}: {exc.message}" if field_name else exc.message


def _collect(
    queued: list[tuple[CompiledRule, pl.LazyFrame]], run: RuleRun
) -> list[tuple[CompiledRule, pl.DataFrame]]:
    """Build and collect the rules' queries a batch at a time (a query's matching rows are
    computed as it is built); if a batch fails, find the rule at fault."""
    results = []
    for start in range(0, len(queued), RULES_PER_BATCH):
        batch = []
        for compiled, view in queued[start : start + RULES_PER_BATCH]:
            presorted = compiled.rule.view == "movements"
            try:
                batch.append((compiled, rule_query(compiled, view, presorted, materialize=True)))
            except RuleError as exc:
                run.errors.append((compiled.rule.id, _error_text(exc)))
            except Exception as exc:  # a data-dependent failure while computing its rows
                run.errors.append((compiled.rule.id, f"failed on this data: {_first_line(exc)}"))
        try:
            frames = pl.collect_all([query for _, query in batch])
            results.extend(zip([c for c, _ in batch], frames, strict=True))
            continue
        except Exception:  # a data-dependent failure in one rule: isolate it
            pass
        for compiled, query in batch:
            try:
                results.append((compiled, query.collect()))
            except Exception as exc:
                run.errors.append((compiled.rule.id, f"failed on this data: {_first_line(exc)}"))
    return results


def _evidence(compiled: CompiledRule, frame: pl.DataFrame) -> pl.DataFrame:
    """Evidence rows of one rule's result; the reason is filled per hit account."""
    rule = compiled.rule
    if frame.height == 0:
        return empty_evidence()
    # one row per subject account; in account order, not the group-by's (which varies
    # from run to run, and scoring breaks ties between equal evidence by its order)
    frame = frame.sort(_SUBJECT)
    reasons, scores = [], []
    base = rule.base_score
    window = window_words(rule.window)
    # A transaction-level hit names how many rows matched; a window's size is in its measures.
    count_matches = rule.level == "transaction"
    for row in frame.iter_rows(named=True):
        values = dict(compiled.values)
        values.update({k: v for k, v in row.items() if not k.startswith("__")})
        values["account"] = row[_SUBJECT]
        if rule.level == "account":
            values.update(window=window, window_start=row[_START], window_end=row[_END])
        reason = fill_reason(rule.reason, values)
        n_txns = row[_NTXN] or 0
        if n_txns > MAX_TXN_IDS:
            reason += f" (showing {MAX_TXN_IDS} of {n_txns} transactions)"
        elif count_matches and n_txns > 1:
            reason += f" ({n_txns} matching transactions)"
        reasons.append(reason)
        strength = row[_STRENGTH]
        scores.append(min(1.0, max(0.0, base * (1.0 if strength is None else strength))))
    out = pl.DataFrame(
        {
            S.EV_ACCOUNT: frame[_SUBJECT].cast(pl.String),
            S.EV_DETECTOR: ["rule"] * frame.height,
            S.EV_CODE: [rule.id] * frame.height,
            S.EV_SCORE: pl.Series(scores, dtype=pl.Float64),
            S.EV_SEVERITY: [rule.severity] * frame.height,
            S.EV_WINDOW_START: frame[_START],
            S.EV_WINDOW_END: frame[_END],
            S.EV_TXN_IDS: frame[_TXNS].cast(pl.List(pl.String)),
            S.EV_REASON: reasons,
            S.EV_ROLE: [rule.role] * frame.height,
        }
    )
    return evidence_frame(out)
