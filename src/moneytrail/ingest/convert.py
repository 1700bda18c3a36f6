"""Validation: turn one raw export frame into canonical columns plus a reason.

For each canonical column the profile maps, three lazy stages are built:
the raw text (stripped, empty = null), the converted value, and the checks
that quarantine a row (first failing check wins, in a fixed order). The
result is one LazyFrame with the canonical columns, provenance and the
quarantine columns REASON/QCOLUMN/QVALUE (null for an accepted row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.ingest.currencies import VOCABULARIES
from moneytrail.ingest.profiles import (
    ColumnSpec,
    Profile,
    TableSpec,
    detect_profile,
    resolve_column,
)
from moneytrail.ingest.readers import EXTRA, ROW, Source, is_encoding_error, scan_source

REASON = "__mt_reason"
QCOLUMN = "__mt_column"
QVALUE = "__mt_value"
_RAW = "__mt_raw_"
_VAL = "__mt_val_"
_FAIL = "__mt_fail"

# Timestamps are local time where the money moved, so an explicit offset is
# dropped rather than converted (converting would move night-time rows).
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
DEFAULT_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
SAMPLE_ROWS = 2000
# spelled out in their usual cases: matching them costs less than lower-casing a column
_TRUE = [v for w in ("true", "t", "yes", "y") for v in (w, w.upper(), w.capitalize())] + [
    "1",
    "1.0",
]
_FALSE = [v for w in ("false", "f", "no", "n") for v in (w, w.upper(), w.capitalize())] + [
    "0",
    "0.0",
]
_INT_RANGES = {S.MCC: (0, 9999), S.AGE: (0, 150)}
# order in which checks quarantine a row: the first failure is reported
_CHECK_ORDER = (
    S.TIMESTAMP,
    S.AMOUNT,
    S.FROM_ACCOUNT,
    S.TO_ACCOUNT,
    S.ACCOUNT_ID,
    S.CURRENCY,
    S.CHANNEL,
)


@dataclass
class Check:
    failed: pl.Expr
    reason: str
    column: str
    value: pl.Expr


def raw_name(target: str) -> str:
    return _RAW + target


def val_name(target: str) -> str:
    return _VAL + target


def file_label(path: str) -> str:
    """The stem of an export file (``a/b/2024-01.csv.gz`` -> ``2024-01``)."""
    name = Path(path).name
    for suffix in (".gz",):
        name = name.removesuffix(suffix)
    return Path(name).stem or name


@dataclass
class Compiled:
    frame: pl.LazyFrame  # canonical columns + provenance + REASON/QCOLUMN/QVALUE
    notices: list[str]
    profile: Profile
    table: str
    label: str


def compile_source(src: Source, profile: Profile, table: str, txn_label: str) -> Compiled:
    """Canonical frame of one export under one profile's table spec."""
    try:
        return _compile(src, scan_source(src), profile, table, txn_label)
    except _EncodingError:
        lossy = replace(src, lossy=True)
        compiled = _compile(lossy, scan_source(lossy), profile, table, txn_label)
        compiled.notices.append(lossy_notice(src.path))
        return compiled


def lossy_notice(path: str) -> str:
    return f"{path}: not valid UTF-8; undecodable bytes were replaced by U+FFFD"


class _EncodingError(Exception):
    pass


def _compile(
    src: Source,
    raw: pl.LazyFrame,
    profile: Profile,
    table: str,
    txn_label: str,
) -> Compiled:
    spec: TableSpec = getattr(profile, table)
    target_schema = S.TRANSACTION_SCHEMA if table == "transactions" else S.ACCOUNT_SCHEMA
    required = (
        S.REQUIRED_TRANSACTION_COLUMNS if table == "transactions" else S.REQUIRED_ACCOUNT_COLUMNS
    )
    raw_schema = raw.collect_schema()
    header = [c for c in raw_schema if c != ROW and c not in EXTRA]
    notices: list[str] = []

    # ---- resolve the profile's columns against this header
    resolved: dict[str, ColumnSpec] = {}
    names: dict[str, list[str]] = {}
    missing_required: list[str] = []
    for target, col in spec.columns.items():
        found = [resolve_column(header, alts) for alts in col.sources]
        if all(found):
            resolved[target] = col
            names[target] = found  # type: ignore[assignment]
        elif target in required or col.required:
            missing_required.append(
                f"{target} (from {' + '.join(' or '.join(a) for a in col.sources)})"
            )
    statement = spec.statement
    st_names: dict[str, str] = {}
    if statement is not None:
        for key in ("debit", "credit", "account", "counterparty", "description"):
            st_spec = getattr(statement, key)
            if st_spec is None:
                continue
            hit = resolve_column(header, st_spec.sources[0])
            if hit is not None:
                st_names[key] = hit
            elif key in ("debit", "credit"):
                missing_required.append(f"{key} (from {' or '.join(st_spec.sources[0])})")
    if missing_required:
        guess = detect_profile(header, table=table)
        hint = (
            f"this header looks like the {guess.name!r} profile: use --profile {guess.name} "
            "or leave --profile out"
            if guess is not None and guess.name != profile.name
            else "pick the profile that fits this export with --profile "
            "(see `moneytrail profiles`), or write a profile file for it"
        )
        raise InputError(
            f"profile {profile.name!r} needs column(s) missing from the header: "
            f"{'; '.join(missing_required)}. Columns found: {', '.join(header) or '(none)'}",
            file=src.path,
            hint=hint,
        )

    # ---- stage 1: raw values (text, empty -> null; typed kept typed)
    # Stripping a text column costs about as much as reading it, so only the
    # columns whose first rows show padding are stripped.
    try:
        head = raw.head(SAMPLE_ROWS).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        if src.kind == "csv" and not src.lossy and is_encoding_error(exc):
            raise _EncodingError from None
        raise InputError(
            f"cannot read the file: {first_error_line(exc)}",
            file=src.path,
            hint="check the file is a complete, well-formed export (quotes balanced)",
        ) from None
    text = _TextRule(
        padded={
            c
            for c in header
            if head.schema[c] == pl.String
            and (head[c].str.starts_with(" ") | head[c].str.ends_with(" ")).any()
        },
        empty_is_null=src.kind == "csv",
    )
    stage1 = {}
    for target, col in resolved.items():
        stage1[raw_name(target)] = _raw_expr(col, names[target], raw_schema, text)
    for key, name in st_names.items():
        stage1[raw_name("st_" + key)] = text(name, raw_schema[name])
    staged = raw.with_columns(**stage1)

    # Formats are tried only if they fit the first rows: each failing format
    # costs a full parse of the column at millions of rows.
    date_targets = [
        t
        for t, c in resolved.items()
        if isinstance(target_schema[t], (pl.Datetime, pl.Date))
        and not c.is_constant
        and c.step is None
    ]
    sample = head.lazy().with_columns(**stage1).collect() if date_targets else None

    # ---- stage 2: converted values and their checks
    values: dict[str, pl.Expr] = {}
    checks: dict[str, list[Check]] = {}
    for target, col in resolved.items():
        r = pl.col(raw_name(target))
        label = _label(col, names[target], profile)
        dtype = target_schema[target]
        raw_dtype = staged.collect_schema()[raw_name(target)]
        value_text = r.cast(pl.String)
        fmt_sample = sample[raw_name(target)] if target in date_targets else None
        # checks read the converted column, so a conversion runs once per row
        target_checks_on = pl.col(val_name(target))
        value, target_checks = _convert(
            target, col, r, raw_dtype, dtype, label, value_text, fmt_sample, target_checks_on
        )
        is_required = target in required or col.required
        if is_required:
            reason = (
                "missing account"
                if target in (S.FROM_ACCOUNT, S.TO_ACCOUNT)
                else (f"missing {target}")
            )
            target_checks.insert(0, Check(r.is_null(), reason, label, pl.lit(None, pl.String)))
        values[target] = value
        checks[target] = target_checks

    if statement is not None:
        _statement(statement, st_names, src, profile, values, checks)

    staged = staged.with_columns(**{val_name(t): v for t, v in values.items()})

    # ---- stage 3: the first failing check names the row's reason
    ordered: list[Check] = []
    if src.kind == "csv":
        ordered.append(
            Check(
                pl.any_horizontal(pl.col(c).is_not_null() for c in EXTRA),
                "too many fields",
                "(line)",
                pl.concat_str([pl.col(c) for c in EXTRA], separator=",", ignore_nulls=True),
            )
        )
        ordered.append(
            Check(
                pl.all_horizontal([pl.col(c).is_null() for c in header]),
                "empty row",
                "(line)",
                pl.lit(None, pl.String),
            )
        )
    for target in _CHECK_ORDER:
        ordered.extend(checks.pop(target, []))
    for target_checks in checks.values():
        ordered.extend(target_checks)

    # The index of the first failing check is computed once; reason, column
    # and value are looked up from it.
    if ordered:
        first_fail = pl.when(ordered[0].failed.fill_null(False)).then(pl.lit(0, pl.Int32))
        for i, check in enumerate(ordered[1:], start=1):
            first_fail = first_fail.when(check.failed.fill_null(False)).then(pl.lit(i, pl.Int32))
        staged = staged.with_columns(first_fail.alias(_FAIL))
        fail = pl.col(_FAIL)
        indices = list(range(len(ordered)))
        value = pl.lit(None, pl.String)
        for i, check in reversed(list(enumerate(ordered))):
            value = pl.when(fail == i).then(check.value.cast(pl.String)).otherwise(value)
        reason_exprs = [
            lookup(fail, indices, [c.reason for c in ordered]).alias(REASON),
            lookup(fail, indices, [c.column for c in ordered]).alias(QCOLUMN),
            pl.when(fail.is_not_null()).then(value).alias(QVALUE),
        ]
    else:
        reason_exprs = [pl.lit(None, pl.String).alias(n) for n in (REASON, QCOLUMN, QVALUE)]

    out = []
    for target, dtype in target_schema.items():
        expr = pl.col(val_name(target)) if target in values else pl.lit(None)
        if table == "transactions" and target == S.TXN_ID:
            derived = pl.lit(f"{txn_label}:") + pl.col(ROW).cast(pl.String)
            # an export's own ids stay as given; the few missing ones are
            # derived after collection (core), so a full column of derived
            # strings is built only for exports without ids
            expr = expr.cast(pl.String) if target in values else derived
        out.append(expr.cast(dtype).alias(target))
    if table == "transactions":  # provenance columns are part of TRANSACTION_SCHEMA
        out[list(target_schema).index(S.SOURCE_FILE)] = pl.lit(src.path).alias(S.SOURCE_FILE)
        out[list(target_schema).index(S.SOURCE_ROW)] = pl.col(ROW).alias(S.SOURCE_ROW)
    else:
        out += [pl.lit(src.path).alias(S.Q_FILE), pl.col(ROW).alias(S.Q_ROW)]
    frame = staged.select(*out, *reason_exprs)
    return Compiled(frame, notices, profile, table, txn_label)


def first_error_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip(" `")]
    return lines[-1].strip(" `") if lines else type(exc).__name__


# --------------------------------------------------------------------------
# stage helpers
# --------------------------------------------------------------------------
def _label(col: ColumnSpec, found: list[str], profile: Profile) -> str:
    if col.is_constant:
        return f"(profile {profile.name})"
    return "+".join(found)


@dataclass
class _TextRule:
    padded: set[str]  # columns to strip
    empty_is_null: bool  # the reader already turned empty strings into nulls

    def __call__(self, name: str, dtype: pl.DataType) -> pl.Expr:
        """Text of a source column, empty -> null."""
        expr = pl.col(name)
        if dtype != pl.String:
            expr = expr.cast(pl.String)
        elif name in self.padded:
            expr = expr.str.strip_chars()
        elif self.empty_is_null:
            return expr
        return pl.when(expr != "").then(expr)  # not `replace`: see `lookup`


def _raw_expr(col: ColumnSpec, found: list[str], raw_schema, text: _TextRule) -> pl.Expr:
    if col.is_constant:
        return pl.lit(None if col.value is None else str(col.value), pl.String)
    if col.template is not None:
        parts = []
        refs = iter(found)
        for part in col.template:
            if isinstance(part, tuple):
                name = next(refs)
                parts.append(text(name, raw_schema[name]))
            else:
                parts.append(pl.lit(part))
        # a missing part makes the whole value missing (a bank without account is no node)
        return pl.concat_str(parts)
    name = found[0]
    dtype = raw_schema[name]
    if dtype == pl.String or col.mapping is not None:
        return text(name, dtype)
    return pl.col(name)  # typed source (Parquet, NDJSON): converted directly


def _apply_map(col: ColumnSpec, r: pl.Expr) -> pl.Expr:
    if col.mapping is None:
        return r
    keys = list(col.mapping)
    vals = list(col.mapping.values())
    fallback = r if col.default is None else pl.lit(col.default)
    return lookup(r.str.to_lowercase(), keys, vals, default=fallback)


def lookup(
    expr: pl.Expr,
    keys: list,
    values: list,
    default: pl.Expr | None = None,
    dtype: type[pl.DataType] = pl.String,
) -> pl.Expr:
    """``expr.replace_strict(keys, values, default=default)`` as a when/then chain.

    Polars' streaming engine (2.1) runs ``replace`` / ``replace_strict`` in memory over
    whole columns: one such column made ingest hold the whole input (5.9 GB at 20 M
    rows). A null ``expr`` takes the default, as with ``replace_strict``.
    """
    chain = None
    for key, value in zip(keys, values, strict=True):
        hit, then = expr == key, pl.lit(value, dtype)
        chain = pl.when(hit).then(then) if chain is None else chain.when(hit).then(then)
    fallback = pl.lit(None, dtype) if default is None else default
    return fallback if chain is None else chain.otherwise(fallback)


def _convert(target, col, r, raw_dtype, dtype, label, value_text, fmt_sample, v):
    """(value expression, checks) for one canonical column; checks read ``v``,
    the column the value expression is stored in."""
    checks: list[Check] = []
    is_text = raw_dtype == pl.String

    def unparseable() -> Check:
        return Check(r.is_not_null() & v.is_null(), f"unparseable {target}", label, value_text)

    if isinstance(dtype, (pl.Datetime, pl.Date)):
        value = _parse_datetime(col, r, raw_dtype, dtype, fmt_sample)
        checks.append(unparseable())
        return value, checks

    if dtype == pl.Float64:
        if is_text:
            text = r
            if col.thousands:
                text = text.str.replace_all(col.thousands, "", literal=True)
            if col.decimal and col.decimal != ".":
                text = text.str.replace_all(col.decimal, ".", literal=True)
            value = text.cast(pl.Float64, strict=False)
        else:
            value = r.cast(pl.Float64, strict=False)
        value = pl.when(value.is_finite()).then(value)
        checks.append(unparseable())
        if target == S.AMOUNT:
            checks.append(Check(v <= 0, "amount not positive", label, value_text))
        return value, checks

    if dtype in (pl.Int32, pl.Int64):
        whole = r.cast(pl.Float64, strict=False)
        lo, hi = _INT_RANGES.get(target, (-math.inf, math.inf))
        ok = (whole == whole.round(0)) & whole.is_between(lo, hi)
        value = pl.when(ok).then(whole).cast(dtype)
        checks.append(unparseable())
        return value, checks

    if dtype == pl.Boolean:
        if is_text:
            text = _apply_map(col, r)
            value = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False)
        elif raw_dtype == pl.Boolean:
            value = r
        else:
            num = r.cast(pl.Float64, strict=False)
            value = pl.when(num == 1).then(True).when(num == 0).then(False)
        checks.append(unparseable())
        return value, checks

    # text columns (strings and the channel enum)
    value = _apply_map(col, r if is_text else r.cast(pl.String))
    if target == S.CHANNEL:
        # canonical names as they are (a profile's map takes other spellings)
        checks.append(Check(r.is_not_null() & v.is_null(), "unknown channel", label, value_text))
        return value.cast(S.CHANNEL_DTYPE, strict=False), checks
    if target == S.HOLDER_TYPE:
        value = value.str.to_lowercase()
        known = value.is_in(list(S.HOLDER_TYPES))
        checks.append(
            Check(r.is_not_null() & v.is_null(), "unknown holder_type", label, value_text)
        )
        return pl.when(known).then(value), checks
    if col.vocabulary is not None:  # codes as they are: ISO 4217 codes are upper case
        vocab = sorted(VOCABULARIES[col.vocabulary])
        what = "currency" if target == S.CURRENCY else target
        checks.append(
            Check(v.is_not_null() & ~v.is_in(vocab), f"unknown {what}", label, value_text)
        )
    return value, checks


def _parse_datetime(col, r, raw_dtype, dtype, fmt_sample):
    time_unit_dtype = pl.Datetime("us")
    if col.step is not None:
        start, unit = col.step
        steps = r.cast(pl.Float64, strict=False)
        steps = pl.when(steps.is_finite() & (steps == steps.round(0))).then(steps).cast(pl.Int64)
        durations = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
        value = pl.lit(start).cast(time_unit_dtype) + pl.duration(**{durations[unit]: steps})
        return value.cast(dtype)
    if isinstance(raw_dtype, pl.Datetime):
        value = r.dt.replace_time_zone(None) if raw_dtype.time_zone else r
        return value.cast(dtype)
    if raw_dtype == pl.Date:
        return r.cast(dtype)
    text = r if raw_dtype == pl.String else r.cast(pl.String)
    candidates = col.formats or (
        DEFAULT_DATE_FORMATS if dtype == pl.Date else DEFAULT_DATETIME_FORMATS
    )
    strip_offset = False
    if fmt_sample is not None:
        sample = fmt_sample.cast(pl.String).drop_nulls()
        if len(sample):
            strip_offset = bool(sample.str.contains(_OFFSET).any())
            if strip_offset:
                sample = sample.str.replace(_OFFSET, "")
            # the fewest formats, in profile order, that parse the sample
            fitting = []
            for f in candidates:
                ok = sample.str.to_datetime(f, strict=False, time_unit="us").is_not_null()
                if ok.any():
                    fitting.append(f)
                    sample = sample.filter(~ok)
                    if sample.is_empty():
                        break
            candidates = fitting or candidates
    if strip_offset:
        text = text.str.replace(_OFFSET, "")
    parsed = [text.str.to_datetime(f, strict=False, time_unit="us") for f in candidates]
    value = parsed[0] if len(parsed) == 1 else pl.coalesce(parsed)
    return value.cast(dtype)


def _statement(st, st_names, src: Source, profile: Profile, values, checks) -> None:
    """From/to/amount of an account-centric statement row."""

    def raw(key):
        return pl.col(raw_name("st_" + key)) if key in st_names else pl.lit(None, pl.String)

    def amount(key):
        spec = getattr(st, key)
        text = raw(key).str.replace_all(r"[^0-9,.\-]", "")
        if spec.thousands:
            text = text.str.replace_all(spec.thousands, "", literal=True)
        if spec.decimal and spec.decimal != ".":
            text = text.str.replace_all(spec.decimal, ".", literal=True)
        return text.cast(pl.Float64, strict=False).abs()

    debit, credit = amount("debit"), amount("credit")
    debit_label, credit_label = st_names["debit"], st_names["credit"]
    out = debit.fill_null(0) > 0
    into = credit.fill_null(0) > 0
    value = pl.when(out).then(debit).otherwise(credit)

    # the statement's own account: its column, else the profile's id, else the file name
    own = raw("account") if "account" in st_names else pl.lit(st.account_id or file_label(src.path))
    description = raw("description")
    counterparty = pl.coalesce(raw("counterparty"), description)
    if st.cash_pattern:
        is_cash = description.str.contains(st.cash_pattern).fill_null(False)
        counterparty = pl.when(is_cash).then(pl.lit(S.CASH_NODE)).otherwise(counterparty)
        channel = values.get(S.CHANNEL)
        values[S.CHANNEL] = (
            pl.when(is_cash)
            .then(pl.lit("cash"))
            .otherwise(channel if channel is not None else pl.lit(None, pl.String))
        )
    values[S.AMOUNT] = value
    values[S.FROM_ACCOUNT] = pl.when(out).then(own).otherwise(counterparty)
    values[S.TO_ACCOUNT] = pl.when(out).then(counterparty).otherwise(own)

    both = debit_label + "+" + credit_label
    checks[S.AMOUNT] = [
        Check(
            raw("debit").is_not_null() & debit.is_null(),
            "unparseable amount",
            debit_label,
            raw("debit"),
        ),
        Check(
            raw("credit").is_not_null() & credit.is_null(),
            "unparseable amount",
            credit_label,
            raw("credit"),
        ),
        Check(
            out & into,
            "both debit and credit",
            both,
            pl.concat_str([raw("debit"), raw("credit")], separator=" / "),
        ),
        Check(
            raw("debit").is_null() & raw("credit").is_null(),
            "missing amount",
            both,
            pl.lit(None, pl.String),
        ),
        Check(~out & ~into, "amount not positive", both, pl.coalesce(raw("debit"), raw("credit"))),
    ]
    own_label = st_names.get("account", f"(profile {profile.name})")
    cp_label = "+".join(st_names[k] for k in ("counterparty", "description") if k in st_names)
    checks[S.FROM_ACCOUNT] = [
        Check(own.is_null(), "missing account", own_label, pl.lit(None, pl.String)),
        Check(
            counterparty.is_null(),
            "missing account",
            cp_label or "(counterparty)",
            pl.lit(None, pl.String),
        ),
    ]
