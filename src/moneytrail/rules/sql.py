"""Text handling of rule logic: params into SQL, sequence prefixes, windows, reasons.

Params go into SQL by value (numbers as numbers, strings quoted), never as
raw text, so a param can never change the shape of a predicate.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from moneytrail.durations import EXAMPLES, duration_words, parse_duration
from moneytrail.errors import RuleError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Stray braces left after substitution mean a malformed placeholder (`{ x }`, `{1}`).
_BRACE = re.compile(r"[{}]")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_SEQUENCE_REF = re.compile(r"\b(first|then)\.([A-Za-z_][A-Za-z0-9_]*)\b", re.IGNORECASE)


def _outside_literals(sql: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the parts of ``sql`` that are not string literals."""
    parts, pos = [], 0
    for literal in _STRING_LITERAL.finditer(sql):
        parts.append(change(sql[pos : literal.start()]))
        parts.append(literal.group(0))
        pos = literal.end()
    parts.append(change(sql[pos:]))
    return "".join(parts)


def placeholders(sql: str) -> set[str]:
    """The ``{name}`` params a SQL text uses (outside string literals)."""
    found: set[str] = set()

    def collect(segment: str) -> str:
        found.update(PLACEHOLDER.findall(segment))
        return segment

    _outside_literals(sql, collect)
    return found


def sql_literal(value: Any, *, name: str = "?") -> str:
    """A param value as SQL text: numbers as is, strings quoted, lists as tuples."""
    if isinstance(value, bool) or value is None:
        raise RuleError(
            f"param {name!r} is {value!r}; a param is a number, a string or a list of those"
        )
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and value != value:  # NaN never compares true: refuse it
            raise RuleError(f"param {name!r} is NaN")
        return repr(float(value)) if isinstance(value, Decimal) else repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        if not value:
            raise RuleError(f"param {name!r} is an empty list; SQL `IN ()` is not valid")
        items = []
        for item in value:
            if isinstance(item, list | tuple):
                raise RuleError(f"param {name!r} has a nested list; only flat lists are allowed")
            items.append(sql_literal(item, name=name))
        return "(" + ", ".join(items) + ")"
    raise RuleError(
        f"param {name!r} is a {type(value).__name__}; a param is a number, a string or a list"
    )


def substitute(sql: str, values: dict[str, Any]) -> str:
    """Put param values into a SQL text; an undeclared ``{name}`` is a RuleError."""

    def fill(segment: str) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in values:
                raise RuleError(f"param {{{name}}} is used but not declared in params")
            return sql_literal(values[name], name=name)

        # A brace left beside the placeholders is a malformed one; braces inside a
        # substituted value (a regex like `x{2,}`) are quoted data and fine.
        if _BRACE.search(PLACEHOLDER.sub("", segment)):
            raise RuleError(
                f"stray brace in SQL {sql!r}", hint="params are written {name}, e.g. {threshold}"
            )
        return PLACEHOLDER.sub(one, segment)

    return _outside_literals(sql, fill)


def sequence_columns(sql: str) -> str:
    """``first.col`` / ``then.col`` in a sequence ``match`` → ``first_col`` / ``then_col``."""
    return _outside_literals(
        sql, lambda seg: _SEQUENCE_REF.sub(lambda m: f"{m.group(1).lower()}_{m.group(2)}", seg)
    )


def parse_window(text: str) -> timedelta:
    window = parse_duration(text)
    if window is None:
        raise RuleError(f"window {text!r} is not a number and a unit", hint=f"e.g. {EXAMPLES}")
    return window


def window_words(text: str | None) -> str:
    """``7d`` → ``7 days``; no window → ``whole period``."""
    return duration_words(text) if text else "whole period"


def polars_duration(text: str) -> str:
    """Our window text in polars' duration language (the same letters mean the same)."""
    parse_window(text)
    return text


_AGGREGATE_CALL = re.compile(
    r"^\s*(sum|count|avg|mean|min|max|median|stddev|variance)\s*\(\s*(DISTINCT\s+)?",
    re.IGNORECASE,
)


def split_aggregate(sql: str) -> tuple[str, str, str] | None:
    """``sum(CASE ... END)`` → (``sum``, ``""``, ``CASE ... END``); None if not one call.

    Lets the compiler evaluate the inner row expression once per row and give the
    rolling window a plain column to aggregate (much faster than evaluating a CASE
    inside every window). Only a single aggregate call spanning the whole text
    qualifies; anything else (``max(a) - min(a)``, ``count(*)``) is left as is.
    """
    match = _AGGREGATE_CALL.match(sql)
    if not match:
        return None
    depth, in_string, start = 1, False, match.end()
    for pos in range(start, len(sql)):
        char = sql[pos]
        if char == "'":
            in_string = not in_string
        elif in_string:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                inner = sql[start:pos].strip()
                if sql[pos + 1 :].strip() or not inner or inner == "*":
                    return None
                distinct = "DISTINCT " if match.group(2) else ""
                return match.group(1).lower(), distinct, inner
    return None


# --------------------------------------------------------------------------
# Reason templates
# --------------------------------------------------------------------------
def template_fields(template: str) -> list[tuple[str, str]]:
    """The (name, format spec) fields of a reason template; a RuleError if any is not plain."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RuleError(f"reason template is malformed: {exc}") from None
    fields = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise RuleError(
                f"reason field {{{name}}} is not a plain name",
                hint="only {name} or {name:format} fields are allowed",
            )
        if conversion is not None:
            raise RuleError(f"reason field {{{name}!{conversion}}}: conversions are not allowed")
        if spec and ("{" in spec or "}" in spec):
            raise RuleError(f"reason field {{{name}:{spec}}}: nested fields are not allowed")
        fields.append((name, spec or ""))
    return fields


def _display(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(_display(v)) for v in value)
    return value


def fill_reason(template: str, values: dict[str, Any]) -> str:
    """Fill a checked template; nulls print as ``?``. A spec that does not fit raises RuleError."""
    out = []
    for literal, name, spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None:
            out.append("?")
            continue
        value = _display(value)
        try:
            out.append(format(value, spec or ""))
        except (ValueError, TypeError) as exc:
            raise RuleError(
                f"reason field {{{name}:{spec}}} cannot format {value!r}: {exc}"
            ) from None
    return "".join(out)


# --------------------------------------------------------------------------
# Necessary conditions of a `having`
# --------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOWER_BOUND = re.compile(r"^([a-z][a-z0-9_]*)\s*(>=|>)\s*(-?[0-9]+(?:\.[0-9]+)?)$")


def having_lower_bounds(having: str) -> list[tuple[str, str, float]]:
    """The ``measure >= number`` (or ``>``) terms a (param-filled) `having` requires.

    Only top-level AND terms count; a top-level OR, or BETWEEN (whose AND is not a
    conjunction), gives none. Each term found is a necessary condition for a hit.
    """
    terms, depth, in_string, start, pos = [], 0, False, 0, 0
    while pos < len(having):
        char = having[pos]
        if char == "'":
            in_string = not in_string
        elif in_string:
            pass
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and (char.isalpha() or char == "_"):
            word = _WORD.match(having, pos).group(0)
            upper = word.upper()
            if upper in ("OR", "BETWEEN"):
                return []
            if upper == "AND":
                terms.append(having[start:pos])
                start = pos + len(word)
            pos += len(word)
            continue
        pos += 1
    terms.append(having[start:])
    bounds = []
    for term in terms:
        text = term.strip()
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        match = _LOWER_BOUND.match(text)
        if match:
            bounds.append((match.group(1), match.group(2), float(match.group(3))))
    return bounds
