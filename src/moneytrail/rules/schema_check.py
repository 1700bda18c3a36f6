"""Check rule files against ``rule.schema.json`` with the jsonschema library.

jsonschema finds the violations; this module only words them the way an
analyst reads them, with the field path (``references[0].doc``) and a
did-you-mean for a misspelt key.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}
_PY_WORDS = {dict: "a mapping", list: "a list", str: "a string", bool: "true or false",
             int: "a whole number", float: "a number", type(None): "null"}


@cache
def rule_schema() -> dict[str, Any]:
    text = resources.files("moneytrail.rules").joinpath("rule.schema.json").read_text("utf-8")
    return json.loads(text)


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (field path, message) for every violation of ``schema``.

    ``schema`` may be ``root`` itself or a piece that refers into it
    (``{"$ref": "#/$defs/tests"}``).
    """
    if schema is not root:
        schema = {"$defs": root.get("$defs", {}), **schema}
    seen: set[tuple[str, str]] = set()
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=_order)
    for error in errors:
        for item in _words(error):
            if item not in seen:
                seen.add(item)
                yield item


def _order(error: ValidationError) -> tuple:
    return tuple(str(p) for p in error.absolute_path), error.validator


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _path(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path = _join(path, part)
    return path


def _describe(value: Any) -> str:
    return _PY_WORDS.get(type(value), type(value).__name__)


def _words(error: ValidationError) -> Iterator[tuple[str, str]]:
    path, kind, wanted, value = _path(error), error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        for key in sorted(k for k in value if k not in known):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            yield _join(path, str(key)), f"unknown key {key!r}{hint}"
    elif kind == "required":
        for key in wanted:
            if key not in value:
                yield _join(path, key), "missing required key"
    elif kind == "type":
        types = wanted if isinstance(wanted, list) else [wanted]
        yield path, f"must be {' or '.join(_TYPE_WORDS[t] for t in types)}, not {_describe(value)}"
    elif kind == "enum":
        yield path, f"{value!r} is not allowed; one of: {', '.join(str(v) for v in wanted)}"
    elif kind == "minLength":
        yield path, "must not be empty" if wanted == 1 else "is too short"
    elif kind == "maxLength":
        yield path, f"is {len(value)} characters; at most {wanted}"
    elif kind == "pattern":
        yield path, f"{value!r} does not match the pattern {wanted}"
    elif kind == "propertyNames":
        pattern = wanted.get("pattern", "")
        yield _join(path, str(value)), f"name {value!r} does not match the pattern {pattern}"
    elif kind == "minItems":
        yield path, f"needs at least {wanted} item(s)"
    elif kind == "minProperties":
        yield path, f"needs at least {wanted} entr(y/ies)"
    elif kind == "minimum":
        yield path, f"{value} is below the minimum {wanted}"
    elif kind == "maximum":
        yield path, f"{value} is above the maximum {wanted}"
    else:
        yield path, error.message
