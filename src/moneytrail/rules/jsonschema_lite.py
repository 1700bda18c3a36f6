"""A small validator for the JSON Schema subset ``rule.schema.json`` uses.

It reports every violation with the field path (``references[0].doc``) in
words an analyst can act on. Keywords: type, enum, pattern, minLength,
maxLength, minItems, minProperties, minimum, maximum, required, properties,
additionalProperties, propertyNames, items, $ref (local). A test checks the
schema is valid Draft 2020-12 so standard tools (editors, jsonschema) can use it.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}


@cache
def rule_schema() -> dict[str, Any]:
    text = resources.files("moneytrail.rules").joinpath("rule.schema.json").read_text("utf-8")
    return json.loads(text)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    for name, check in _TYPES.items():
        if check(value):
            return _TYPE_WORDS[name]
    return type(value).__name__


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = ""):
    """Yield (field path, message) for every violation."""
    if "$ref" in schema:
        ref = schema["$ref"]
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        yield from validate(value, target, root, path)
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        yield path, f"{value!r} is not allowed; one of: {allowed}"
        return
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            wanted = " or ".join(_TYPE_WORDS[t] for t in types)
            yield path, f"must be {wanted}, not {_describe(value)}"
            return
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            yield path, "must not be empty" if schema["minLength"] == 1 else "is too short"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield path, f"is {len(value)} characters; at most {schema['maxLength']}"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield path, f"{value!r} does not match the pattern {schema['pattern']}"
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            yield path, f"{value} is below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield path, f"{value} is above the maximum {schema['maximum']}"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            yield path, f"needs at least {schema['minItems']} item(s)"
        if "items" in schema:
            for index, item in enumerate(value):
                yield from validate(item, schema["items"], root, _join(path, index))
    if isinstance(value, dict):
        yield from _validate_object(value, schema, root, path)


def _validate_object(value: dict, schema: dict[str, Any], root: dict[str, Any], path: str):
    if len(value) < schema.get("minProperties", 0):
        yield path, f"needs at least {schema['minProperties']} entr(y/ies)"
    for key in schema.get("required", []):
        if key not in value:
            yield _join(path, key), "missing required key"
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        key_path = _join(path, str(key))
        if not isinstance(key, str):
            yield key_path, "keys must be strings"
            continue
        if "propertyNames" in schema:
            pattern = schema["propertyNames"].get("pattern")
            if pattern and not re.search(pattern, key):
                yield key_path, f"name {key!r} does not match the pattern {pattern}"
                continue
        if key in properties:
            yield from validate(item, properties[key], root, key_path)
        elif extra is False:
            close = difflib.get_close_matches(key, list(properties), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            yield key_path, f"unknown key {key!r}{hint}"
        elif isinstance(extra, dict):
            yield from validate(item, extra, root, key_path)
