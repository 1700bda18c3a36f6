"""Run settings: one params file plus ``--param KEY.name=value`` overrides.

A params file is YAML with one section per stage::

    rules:                 # per-rule parameter overrides, by rule code
      ML-STRUCT-01: {threshold: 3000}
    ingest: {...}          # see moneytrail.ingest.currencies.DEFAULTS
    features: {...}        # see moneytrail.features.DEFAULTS
    patterns: {...}        # see moneytrail.graph.DEFAULTS
    outliers: {...}        # see moneytrail.outliers.DEFAULTS
    scoring: {...}         # see moneytrail.scoring.DEFAULTS
    cases: {...}           # see moneytrail.cases.DEFAULTS

Each stage owns its defaults and calls :func:`settings` to merge the user's
values over them, so an unknown or misspelt key is an error, not a silent no-op.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from moneytrail.durations import EXAMPLES, parse_duration
from moneytrail.errors import ParamsError

STAGES = ("ingest", "features", "patterns", "outliers", "scoring", "cases")


@dataclass
class Params:
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None

    def stage(self, name: str) -> dict[str, Any]:
        return dict(self.stages.get(name, {}))

    def as_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, **self.stages}


def load_params(path: str | Path | None = None, overrides: tuple[str, ...] = ()) -> Params:
    """Read a params file (optional) and apply ``KEY.name=value`` overrides."""
    params = Params()
    if path is not None:
        params.source = str(path)
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ParamsError(f"cannot read params file: {exc.strerror}", file=str(path)) from None
        except yaml.YAMLError as exc:
            raise ParamsError(f"not valid YAML: {exc}", file=str(path)) from None
        if not isinstance(data, dict):
            raise ParamsError("a params file is a mapping of sections", file=str(path))
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ParamsError(f"section {section!r} must be a mapping", file=str(path))
            if section == "rules":
                for code, rule_values in values.items():
                    if not isinstance(rule_values, dict):
                        raise ParamsError(
                            f"rules.{code} must be a mapping of parameter names to values",
                            file=str(path),
                        )
                    params.rules[str(code)] = dict(rule_values)
            elif section in STAGES:
                params.stages[section] = dict(values)
            else:
                raise ParamsError(
                    f"unknown section {section!r}",
                    file=str(path),
                    hint=f"sections are: rules, {', '.join(STAGES)}",
                )
    for item in overrides:
        key, sep, raw = item.partition("=")
        head, dot, name = key.strip().rpartition(".")
        if not sep or not dot or not head or not name:
            raise ParamsError(
                f"--param {item!r} is not KEY.name=value",
                hint="e.g. --param ML-STRUCT-01.threshold=3000 or --param scoring.top_k=200",
            )
        value = yaml.safe_load(raw) if raw.strip() else None
        if head in STAGES:
            params.stages.setdefault(head, {})[name] = value
        else:
            params.rules.setdefault(head, {})[name] = value
    return params


def settings(
    params: Params | None,
    stage: str,
    defaults: dict[str, Any],
    check: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Defaults of one stage with the user's values laid over them.

    Each given value must have the shape of its default: a whole number where
    the default is one, a number where it is a number (none of the settings is
    negative), a duration ("7d") where the default is a duration, a list of the
    same kind of items, a mapping with the default's keys. A mapping given for a
    mapping setting is laid over the default, so ``detector_weights: {rule: 2}``
    changes the rules' weight and keeps the others. Whether a value makes sense
    for its stage (a known model name, a level) is the stage's own ``check``,
    run here so that a scan refuses bad settings before its first stage.
    """
    given = params.stage(stage) if params is not None else {}
    source = params.source if params is not None else None
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ParamsError(
            f"unknown {stage} setting(s): {', '.join(unknown)}",
            file=source,
            hint=f"known {stage} settings: {', '.join(sorted(defaults))}",
        )
    merged = {
        key: _checked(f"{stage}.{key}", given[key], default, source) if key in given else default
        for key, default in defaults.items()
    }
    if check is None:
        return merged
    try:
        return check(merged)
    except ParamsError as exc:
        exc.file = exc.file or source
        raise


def _checked(name: str, value: Any, default: Any, source: str | None) -> Any:
    """``value`` if it has the shape of ``default`` (see :func:`settings`)."""

    def refuse(shape: str, hint: str) -> ParamsError:
        return ParamsError(f"{name} must be {shape}, not {value!r}", file=source, hint=hint)

    example = f"for example {default!r}" if name.endswith("]") else f"the default is {default!r}"
    if default is None:
        return value  # optional: the stage checks what it is given
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise refuse("true or false", example)
        return value
    if isinstance(default, int | float):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0:
            whole = isinstance(default, int)
            raise refuse("a whole number ≥ 0" if whole else "a number ≥ 0", example)
        if isinstance(default, int):
            if value != int(value):
                raise refuse("a whole number ≥ 0", example)
            return int(value)
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise refuse("text", example)
        if parse_duration(default) is not None and parse_duration(value) is None:
            raise refuse("a duration", f"write a whole number and a unit: {EXAMPLES}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise refuse("a list", example)
        if not default:
            return value
        return [_checked(f"{name}[{i}]", item, default[0], source) for i, item in enumerate(value)]
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise refuse("a mapping", example)
        if not default:
            return dict(value)
        unknown = sorted(str(k) for k in set(value) - set(default))
        if unknown:
            raise ParamsError(
                f"unknown {name} key(s): {', '.join(unknown)}",
                file=source,
                hint=f"known keys: {', '.join(map(str, default))}",
            )
        return {
            **default,
            **{k: _checked(f"{name}.{k}", v, default[k], source) for k, v in value.items()},
        }
    return value
