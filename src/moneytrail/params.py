"""Run settings: one params file plus ``--param KEY.name=value`` overrides.

A params file is YAML with one section per stage::

    rules:                 # per-rule parameter overrides, by rule code
      HT-STRUCT-01: {threshold: 3000}
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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
                hint="e.g. --param HT-STRUCT-01.threshold=3000 or --param scoring.top_k=200",
            )
        value = yaml.safe_load(raw) if raw.strip() else None
        if head in STAGES:
            params.stages.setdefault(head, {})[name] = value
        else:
            params.rules.setdefault(head, {})[name] = value
    return params


def settings(params: Params | None, stage: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """Defaults of one stage with the user's values laid over them."""
    given = params.stage(stage) if params is not None else {}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ParamsError(
            f"unknown {stage} setting(s): {', '.join(unknown)}",
            file=params.source if params else None,
            hint=f"known {stage} settings: {', '.join(sorted(defaults))}",
        )
    return {**defaults, **given}
