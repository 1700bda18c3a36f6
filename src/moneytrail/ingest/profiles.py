"""Mapping profiles: how an export's columns and vocabularies become canonical.

A profile is one small YAML file (the built-ins live in ``moneytrail/profiles/``,
a user passes their own file with the same shape)::

    name: amlworld
    description: one line shown by `moneytrail profiles`
    delimiter: ","                 # optional: CSV separator (else sniffed from the header)
    transactions:
      detect: [Timestamp, [Account, Acct]]   # optional: header columns that identify the
                                             # export; a list is a set of alternatives.
                                             # Default: the sources of the required columns.
      columns:                     # canonical column -> how to get it
        timestamp: {from: Timestamp, formats: ["%Y/%m/%d %H:%M"]}
        from_account: {template: "{From Bank}:{Account}"}
        channel: {from: Payment Format, map: {ACH: ach, Wire: wire}, default: other}
        currency: {from: Payment Currency, map: {US Dollar: USD}, vocabulary: iso4217}
      statement: {...}             # optional: account-centric bank statement, see below
    accounts:                      # optional: the know-your-customer table of the same source
      detect: [...]
      columns: {...}

A column spec has exactly one of ``from`` (a header name, or a list of
alternative names, matched exactly first, then ignoring case, spaces, _ and -),
``template`` (``{Header}`` references joined with literal text) or ``value``
(a constant). Options: ``map`` (source value -> canonical value, matched
ignoring case), ``default`` (the value for anything ``map`` does not know;
without it such values pass through and are validated), ``formats`` (strptime
formats for dates, tried in order), ``step`` (``{start: 2017-01-01, unit: day}``:
the source is a simulation step counted from ``start``), ``required`` (a
missing value quarantines the row even for an optional column), ``vocabulary``
(``iso4217``: the mapped value must be a known currency code), ``decimal`` and
``thousands`` (number separators, e.g. ``decimal: ","`` for ``1.234,56``).

Duplicate header names are told apart by position: the second ``Account``
column of an AMLworld export is ``Account#2``.

``statement`` turns an account-centric export (one account's own statement:
date, description, debit, credit, balance, counterparty) into from/to rows::

    statement:
      account: {from: [Account, IBAN]}   # the statement's own account, when a column has it
      account_id: null                   # else this fixed id; else the file name (stem)
      debit: {from: [Debit, Paid out]}   # money out: own account -> counterparty
      credit: {from: [Credit, Paid in]}  # money in: counterparty -> own account
      counterparty: {from: [Counterparty, Payee]}   # empty -> the description is the node
      description: {from: [Description, Details]}
      cash_pattern: "(?i)\\b(atm|cash)\\b"   # description matching it: counterparty CASH
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.ingest.currencies import VOCABULARIES

# Detection prefers the more specific profile when several match; on a tie
# this order decides (a generic statement last).
DETECTION_ORDER = ("canonical", "amlworld", "amlsim", "amlsim-2019", "saml-d", "bank-statement")

_SPEC_KEYS = {
    "from",
    "template",
    "value",
    "map",
    "default",
    "formats",
    "step",
    "required",
    "vocabulary",
    "decimal",
    "thousands",
}
_STATEMENT_SPECS = ("account", "debit", "credit", "counterparty", "description")
_STATEMENT_KEYS = {*_STATEMENT_SPECS, "account_id", "cash_pattern"}
_TEMPLATE_REF = re.compile(r"\{([^{}]+)\}")
_STEP_UNITS = {"day": "d", "hour": "h", "minute": "m", "second": "s"}


@dataclass(frozen=True)
class ColumnSpec:
    """How one canonical column is made from an export."""

    target: str
    sources: tuple[tuple[str, ...], ...] = ()  # referenced headers, each with alternatives
    template: tuple[str | tuple[str, ...], ...] | None = None  # literals and header refs
    value: Any = None
    mapping: dict[str, str] | None = None  # keys lower-cased
    default: str | None = None
    formats: tuple[str, ...] | None = None
    step: tuple[dt.datetime, str] | None = None  # (start, polars duration unit)
    required: bool = False
    vocabulary: str | None = None
    decimal: str | None = None
    thousands: str | None = None

    @property
    def is_constant(self) -> bool:
        return not self.sources


@dataclass(frozen=True)
class StatementSpec:
    debit: ColumnSpec
    credit: ColumnSpec
    account: ColumnSpec | None = None
    account_id: str | None = None
    counterparty: ColumnSpec | None = None
    description: ColumnSpec | None = None
    cash_pattern: str | None = None


@dataclass(frozen=True)
class TableSpec:
    columns: dict[str, ColumnSpec]
    detect: tuple[tuple[str, ...], ...]
    statement: StatementSpec | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    origin: str = "built-in"  # "built-in" or the path of a user's file
    delimiter: str | None = None
    transactions: TableSpec | None = None
    accounts: TableSpec | None = None


def _builtin_dir():
    # package data of `moneytrail` (profiles/ is a data folder, not a package)
    return resources.files("moneytrail").joinpath("profiles")


# --------------------------------------------------------------------------
# Header matching
# --------------------------------------------------------------------------
def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


def resolve_column(header: list[str], alternatives: tuple[str, ...]) -> str | None:
    """The header name an alternative stands for: exact first, then loosely."""
    for name in alternatives:
        if name in header:
            return name
    loose = {_norm(h): h for h in reversed(header)}
    for name in alternatives:
        hit = loose.get(_norm(name))
        if hit is not None:
            return hit
    return None


def missing_detect_columns(table: TableSpec, header: list[str]) -> list[str]:
    """The detect groups of a table that the header does not satisfy."""
    return [" or ".join(group) for group in table.detect if resolve_column(header, group) is None]


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
@functools.cache
def _builtin_profiles() -> tuple[Profile, ...]:
    return tuple(load_profile(n) for n in _sorted_builtin_names())


def list_profiles() -> list[Profile]:
    """The built-in profiles, in detection order."""
    return list(_builtin_profiles())


def _sorted_builtin_names() -> list[str]:
    names = [
        entry.name.removesuffix(".yaml")
        for entry in _builtin_dir().iterdir()
        if entry.name.endswith(".yaml")
    ]
    order = {name: i for i, name in enumerate(DETECTION_ORDER)}
    names.sort(key=lambda n: (order.get(n, len(order)), n))
    return names


def builtin_names() -> list[str]:
    return [
        entry.name.removesuffix(".yaml")
        for entry in sorted(_builtin_dir().iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a user's profile file by path."""
    text_name = str(name_or_path)
    builtin = _builtin_dir().joinpath(f"{text_name}.yaml")
    if "/" not in text_name and "\\" not in text_name and builtin.is_file():
        return _parse(builtin.read_text(encoding="utf-8"), origin="built-in", fallback=text_name)
    path = Path(text_name)
    looks_like_file = path.suffix.lower() in (".yaml", ".yml") or path.exists()
    if not looks_like_file:
        raise InputError(
            f"unknown profile {text_name!r}",
            hint=f"built-in profiles: {', '.join(builtin_names())}; or pass a profile YAML file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"cannot read profile file: {reason}", file=text_name) from None
    return _parse(text, origin=text_name, fallback=path.stem)


def _parse(text: str, *, origin: str, fallback: str) -> Profile:
    def fail(message: str, where: str | None = None) -> InputError:
        return InputError(
            message,
            file=origin,
            column=where,
            hint="see `moneytrail profiles` and the built-in profiles for the shape",
        )

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise fail(f"profile is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise fail("a profile is a YAML mapping with a `transactions` or `accounts` section")
    unknown = sorted(set(data) - {"name", "description", "delimiter", "transactions", "accounts"})
    if unknown:
        raise fail(f"unknown profile key(s): {', '.join(map(str, unknown))}")
    delimiter = data.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise fail("delimiter must be one character", "delimiter")
    transactions = accounts = None
    if data.get("transactions") is not None:
        transactions = _parse_table(
            data["transactions"],
            S.TRANSACTION_SCHEMA,
            S.REQUIRED_TRANSACTION_COLUMNS,
            "transactions",
            fail,
        )
    if data.get("accounts") is not None:
        accounts = _parse_table(
            data["accounts"], S.ACCOUNT_SCHEMA, S.REQUIRED_ACCOUNT_COLUMNS, "accounts", fail
        )
    if transactions is None and accounts is None:
        raise fail("a profile needs a `transactions` or an `accounts` section")
    return Profile(
        name=str(data.get("name") or fallback),
        description=str(data.get("description") or "").strip(),
        origin=origin,
        delimiter=delimiter,
        transactions=transactions,
        accounts=accounts,
    )


def _parse_table(raw, target_schema, required, section, fail) -> TableSpec:
    if not isinstance(raw, dict):
        raise fail(f"`{section}` must be a mapping", section)
    unknown = sorted(set(raw) - {"detect", "columns", "statement"})
    if unknown:
        raise fail(f"unknown key(s) in `{section}`: {', '.join(map(str, unknown))}", section)
    if section != "transactions" and "statement" in raw:
        raise fail("`statement` belongs to the transactions section", section)
    columns_raw = raw.get("columns") or {}
    if not isinstance(columns_raw, dict):
        raise fail(f"`{section}.columns` must map canonical columns to specs", section)
    columns: dict[str, ColumnSpec] = {}
    for target, spec in columns_raw.items():
        if target not in target_schema:
            raise fail(
                f"{section}.columns: {target!r} is not a canonical column "
                f"(known: {', '.join(target_schema)})",
                str(target),
            )
        if target in S.PROVENANCE_COLUMNS:
            raise fail(f"{target!r} is filled by ingest itself", str(target))
        columns[target] = _parse_spec(target, spec, f"{section}.columns.{target}", fail)

    statement = None
    if raw.get("statement") is not None:
        statement = _parse_statement(raw["statement"], fail)
        derived = {S.AMOUNT, S.FROM_ACCOUNT, S.TO_ACCOUNT}
        clash = sorted(derived & set(columns))
        if clash:
            raise fail(
                f"a statement profile derives {', '.join(clash)} from debit/credit; "
                "do not map them in columns",
                "statement",
            )
    needed = [c for c in required if c not in columns]
    if statement is not None:
        needed = [c for c in needed if c not in (S.AMOUNT, S.FROM_ACCOUNT, S.TO_ACCOUNT)]
    if needed:
        raise fail(f"{section}.columns must map the required column(s) {', '.join(needed)}")

    if "detect" in raw:
        detect_raw = raw["detect"]
        if not isinstance(detect_raw, list) or not detect_raw:
            raise fail(f"`{section}.detect` must be a non-empty list of header names", section)
        detect = tuple(_alternatives(item, f"{section}.detect", fail) for item in detect_raw)
    else:
        groups: list[tuple[str, ...]] = []
        for target in required:
            if target in columns:
                groups.extend(columns[target].sources)
        if statement is not None:
            groups.extend(statement.debit.sources + statement.credit.sources)
        detect = tuple(dict.fromkeys(groups))
    if not detect:
        raise fail(f"`{section}` has no header column to detect it by; add `detect`", section)
    return TableSpec(columns=columns, detect=detect, statement=statement)


def _parse_statement(raw, fail) -> StatementSpec:
    if not isinstance(raw, dict):
        raise fail("`statement` must be a mapping", "statement")
    unknown = sorted(set(raw) - _STATEMENT_KEYS)
    if unknown:
        raise fail(f"unknown key(s) in statement: {', '.join(map(str, unknown))}", "statement")
    for key in ("debit", "credit"):
        if key not in raw:
            raise fail(f"statement.{key} is required", "statement")
    specs = {
        key: _parse_spec(key, raw[key], f"statement.{key}", fail)
        for key in _STATEMENT_SPECS
        if raw.get(key) is not None
    }
    for key, spec in specs.items():
        if spec.is_constant:
            raise fail(f"statement.{key} must name a column (from or template)", key)
    pattern = raw.get("cash_pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise fail(
                f"statement.cash_pattern is not a valid regex: {exc}", "cash_pattern"
            ) from None
    account_id = raw.get("account_id")
    return StatementSpec(
        debit=specs["debit"],
        credit=specs["credit"],
        account=specs.get("account"),
        account_id=None if account_id is None else str(account_id),
        counterparty=specs.get("counterparty"),
        description=specs.get("description"),
        cash_pattern=None if pattern is None else str(pattern),
    )


def _alternatives(item, where, fail) -> tuple[str, ...]:
    if isinstance(item, str) and item:
        return (item,)
    if isinstance(item, list) and item and all(isinstance(x, str) and x for x in item):
        return tuple(item)
    raise fail(f"{where}: expected a header name or a list of alternative names, got {item!r}")


def _parse_spec(target: str, spec, where: str, fail) -> ColumnSpec:
    if isinstance(spec, str):  # shorthand: `timestamp: Date` means {from: Date}
        spec = {"from": spec}
    if not isinstance(spec, dict):
        raise fail(f"{where} must be a header name or a mapping", target)
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(map(str, unknown))}", target)
    kinds = [k for k in ("from", "template", "value") if k in spec]
    if len(kinds) != 1:
        raise fail(f"{where} needs exactly one of from, template, value", target)
    sources: tuple[tuple[str, ...], ...] = ()
    template = None
    value = None
    if "from" in spec:
        sources = (_alternatives(spec["from"], where, fail),)
    elif "template" in spec:
        text = spec["template"]
        if not isinstance(text, str) or not _TEMPLATE_REF.search(text):
            raise fail(f"{where}: template must reference at least one {{Header}}", target)
        parts: list[str | tuple[str, ...]] = []
        pos = 0
        for match in _TEMPLATE_REF.finditer(text):
            if match.start() > pos:
                parts.append(text[pos : match.start()])
            parts.append((match.group(1),))
            pos = match.end()
        if pos < len(text):
            parts.append(text[pos:])
        template = tuple(parts)
        sources = tuple(p for p in parts if isinstance(p, tuple))
    else:
        value = spec["value"]
        if isinstance(value, (dict, list)):
            raise fail(f"{where}: value must be a single constant", target)

    mapping = spec.get("map")
    if mapping is not None:
        if not isinstance(mapping, dict):
            raise fail(f"{where}.map must map source values to canonical values", target)
        mapping = {str(k).strip().casefold(): _scalar_text(v) for k, v in mapping.items()}
    default = spec.get("default")
    formats = spec.get("formats")
    if formats is not None:
        if isinstance(formats, str):
            formats = [formats]
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            raise fail(f"{where}.formats must be a list of strptime formats", target)
        formats = tuple(formats)
    step = spec.get("step")
    if step is not None:
        if not isinstance(step, dict) or "start" not in step:
            raise fail(f"{where}.step needs start (a date) and unit", target)
        unit = str(step.get("unit", "day"))
        if unit not in _STEP_UNITS:
            raise fail(f"{where}.step.unit must be one of {', '.join(_STEP_UNITS)}", target)
        start = step["start"]
        try:
            start = (
                start if isinstance(start, dt.datetime) else dt.datetime.fromisoformat(str(start))
            )
        except ValueError:
            raise fail(f"{where}.step.start is not an ISO date: {start!r}", target) from None
        step = (start, _STEP_UNITS[unit])
    vocabulary = spec.get("vocabulary")
    if vocabulary is not None and vocabulary not in VOCABULARIES:
        raise fail(f"{where}.vocabulary must be one of {', '.join(VOCABULARIES)}", target)
    for key in ("decimal", "thousands"):
        sep = spec.get(key)
        if sep is not None and (not isinstance(sep, str) or len(sep) != 1):
            raise fail(f"{where}.{key} must be one character", target)
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"{where}.required must be true or false", target)
    return ColumnSpec(
        target=target,
        sources=sources,
        template=template,
        value=value,
        mapping=mapping,
        default=None if default is None else _scalar_text(default),
        formats=formats,
        step=step,
        required=required,
        vocabulary=vocabulary,
        decimal=spec.get("decimal"),
        thousands=spec.get("thousands"),
    )


def _scalar_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------
def detect_profile(header: list[str], *, table: str = "transactions") -> Profile | None:
    """The built-in profile whose detect columns all appear in the header.

    When several match, the one with the most detect columns (the most
    specific) wins; ties go by DETECTION_ORDER.
    """
    best: tuple[int, Profile] | None = None
    for profile in list_profiles():
        spec = getattr(profile, table)
        if spec is None or missing_detect_columns(spec, header):
            continue
        if best is None or len(spec.detect) > best[0]:
            best = (len(spec.detect), profile)
    return None if best is None else best[1]
