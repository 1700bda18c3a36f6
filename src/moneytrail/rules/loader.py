"""Load and check rule files: every problem is reported with its file and field.

A broken file is reported and skipped; it never stops the other rules from
loading. YAML is read with the safe loader only (``safe_load``, or libyaml's ``CSafeLoader``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

import moneytrail
from moneytrail import schema as S
from moneytrail.errors import RuleError
from moneytrail.rules import views as V
from moneytrail.rules.compiler import (
    FIRST_PREFIX,
    GAP_HOURS,
    THEN_PREFIX,
    RuleFieldError,
    compile_rule,
)
from moneytrail.rules.model import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MAX_BENIGN_SHARE,
    Param,
    Reference,
    Rule,
    RuleProblem,
    RuleSet,
    RuleTest,
    Sequence,
)
from moneytrail.rules.schema_check import rule_schema, validate
from moneytrail.rules.sql import placeholders, template_fields
from moneytrail.rules.testdata import TestDataError, accounts_frame, transactions_frame

RULE_SUFFIX = ".yaml"
TESTS_SUFFIX = ".tests.yaml"


def default_rules_dir() -> Path:
    """The shipped catalogue: inside the installed package, else the checkout's ``rules/``."""
    packaged = Path(moneytrail.__file__).parent / "catalogue"
    if packaged.is_dir():
        return packaged
    return Path(moneytrail.__file__).parents[2] / "rules"


def rule_files(root: Path) -> list[Path]:
    """Rule files under ``root``: ``*.yaml`` but not ``*.tests.yaml``, no ``_``/``.`` names."""
    found = []
    for path in sorted(root.rglob(f"*{RULE_SUFFIX}")):
        parts = path.relative_to(root).parts
        if any(part.startswith(("_", ".")) for part in parts):
            continue
        if path.name.endswith(TESTS_SUFFIX):
            continue
        found.append(path)
    return found


def load_rules(rules_dir: str | Path | None = None) -> RuleSet:
    """Load every rule file under ``rules_dir`` (default: the shipped catalogue)."""
    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    if not root.exists():
        raise RuleError(f"rules folder {str(root)!r} does not exist")
    if root.is_file():
        files = [root]
        root = root.parent
    else:
        files = rule_files(root)
    rules: list[Rule] = []
    problems: list[RuleProblem] = []
    seen: dict[str, str] = {}
    for path in files:
        rule, found = load_rule_file(path)
        problems.extend(found)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(
                RuleProblem(str(path), "id", f"duplicate id {rule.id}: also in {seen[rule.id]}")
            )
            continue
        seen[rule.id] = str(path)
        rules.append(rule)
    return RuleSet(rules=rules, problems=problems, root=root)


# libyaml's safe loader where PyYAML was built with it (about twice as fast over
# the catalogue); it constructs exactly what safe_load does
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> tuple[Any, list[RuleProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [RuleProblem(str(path), None, f"cannot read file: {exc}")]
    try:
        return yaml.load(text, Loader=_SAFE_LOADER), []
    except yaml.constructor.ConstructorError as exc:
        line = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        message = (
            f"YAML tag not allowed{line}: {exc.problem}; rule files are plain YAML "
            "(no tags that construct objects)"
        )
        return None, [RuleProblem(str(path), None, message)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [RuleProblem(str(path), None, f"YAML syntax error{line}: {problem}")]


def _iso_dates(data: dict[str, Any]) -> None:
    # YAML turns an unquoted 2026-11-29 into a date; the format wants the ISO text.
    for key in ("date", "modified"):
        value = data.get(key)
        if isinstance(value, datetime | date):
            data[key] = value.isoformat()[:10]


def load_rule_file(path: Path) -> tuple[Rule | None, list[RuleProblem]]:
    """One rule file (and its paired tests file): the rule, or None and its problems."""
    where = str(path)
    data, problems = _read_yaml(path)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [RuleProblem(where, None, "a rule file is a YAML mapping of keys")]
    _iso_dates(data)
    schema = rule_schema()
    problems = [RuleProblem(where, f or None, m) for f, m in validate(data, schema, schema)]

    tests_path = path.with_name(path.name[: -len(RULE_SUFFIX)] + TESTS_SUFFIX)
    paired: list[tuple[dict, str, str]] = []  # (test, file, field)
    for index, test in enumerate(data.get("tests") or []):
        paired.append((test, where, f"tests[{index}]"))
    if tests_path.exists():
        extra, found = _read_yaml(tests_path)
        problems.extend(found)
        if isinstance(extra, dict) and set(extra) == {"tests"}:
            extra = extra["tests"]
        if not found and not isinstance(extra, list):
            problems.append(RuleProblem(str(tests_path), None, "a tests file is a list of tests"))
        elif isinstance(extra, list):
            test_schema = {"$ref": "#/$defs/tests"}
            problems.extend(
                RuleProblem(str(tests_path), f or None, m)
                for f, m in validate(extra, test_schema, schema)
            )
            for index, test in enumerate(extra):
                paired.append((test, str(tests_path), f"[{index}]"))
    if problems:
        return None, problems

    rule = _build(data, path)
    rule.tests = [_build_test(test, file) for test, file, _ in paired]
    problems = check_rule(rule, [(file, field) for _, file, field in paired])
    if problems:
        return None, problems
    return rule, []


def _build(data: dict[str, Any], path: Path) -> Rule:
    indicator = data.get("indicator") or []
    seq = data.get("sequence")
    return Rule(
        id=data["id"],
        title=data["title"],
        status=data["status"],
        severity=data["severity"],
        description=data["description"].strip(),
        references=[Reference(**ref) for ref in data["references"]],
        author=data["author"],
        date=data["date"],
        falsepositives=list(data["falsepositives"]),
        level=data["level"],
        requires=list(data["requires"]),
        where=data["where"],
        reason=data["reason"].strip(),
        path=str(path),
        confidence=data.get("confidence", DEFAULT_CONFIDENCE),
        indicator=[indicator] if isinstance(indicator, str) else list(indicator),
        modified=data.get("modified"),
        tags=list(data.get("tags") or []),
        max_benign_share=float(data.get("max_benign_share", DEFAULT_MAX_BENIGN_SHARE)),
        role=data.get("role"),
        view=data.get("view", "movements"),
        subject=data.get("subject"),
        group_by=data.get("group_by"),
        window=data.get("window"),
        aggregate=dict(data.get("aggregate") or {}),
        having=data.get("having"),
        strength=data.get("strength"),
        params={
            name: Param(name=name, value=p["value"], basis=p["basis"], note=p.get("note"))
            for name, p in (data.get("params") or {}).items()
        },
        sequence=Sequence(**seq) if seq else None,
    )


def _build_test(data: dict[str, Any], source: str) -> RuleTest:
    return RuleTest(
        name=data["name"],
        expect=data["expect"],
        transactions=list(data["transactions"]),
        accounts=list(data["accounts"]) if data.get("accounts") is not None else None,
        fires_on=list(data["fires_on"]) if data.get("fires_on") else None,
        params=dict(data.get("params") or {}),
        source=source,
    )


# --------------------------------------------------------------------------
# Semantic checks (after the schema): shape, params, columns, SQL, reason, tests
# --------------------------------------------------------------------------
def check_rule(rule: Rule, test_sources: list[tuple[str, str]] | None = None) -> list[RuleProblem]:
    path = rule.path
    problems: list[RuleProblem] = []

    def add(field_name: str | None, message: str) -> None:
        problems.append(RuleProblem(path, field_name, message))

    _check_shape(rule, add)
    if problems:
        return problems
    _check_params(rule, add)
    if any("used but not declared" in p.message or p.field == "reason" for p in problems):
        return problems  # the SQL or the reason cannot be compiled without them
    try:
        compiled = compile_rule(rule)
    except RuleFieldError as exc:
        add(exc.field, exc.message)
        return problems
    _check_against_view(rule, compiled, add)
    if not problems:
        _check_tests(rule, test_sources or [], problems)
    return problems


def _check_shape(rule: Rule, add) -> None:
    account_only = ("group_by", "window", "aggregate", "having", "sequence")
    if rule.level == "transaction":
        for key in account_only:
            if getattr(rule, key):
                add(key, "only account-level rules take this key (level: account)")
        if rule.view == "transactions" and not rule.subject:
            add("subject", "a transaction-level rule over the transactions view needs `subject`")
    else:
        for key in ("group_by", "aggregate", "having"):
            if not getattr(rule, key):
                add(key, "an account-level rule needs this key")
        if rule.group_by:
            allowed = ("account",) if rule.view == "movements" else ("from_account", "to_account")
            if rule.group_by not in allowed:
                add("group_by", f"in the {rule.view} view group_by is one of {', '.join(allowed)}")
    if rule.view == "movements" and rule.subject:
        add("subject", "in the movements view the subject is always `account`: leave it out")
    if rule.level == "account" and rule.subject:
        add("subject", "account-level rules are about their group_by column: leave it out")


def _sql_texts(rule: Rule) -> list[tuple[str, str]]:
    texts = [("where", rule.where)]
    texts += [(f"aggregate.{name}", text) for name, text in rule.aggregate.items()]
    for key in ("having", "strength"):
        if getattr(rule, key):
            texts.append((key, getattr(rule, key)))
    if rule.sequence is not None:
        for key in ("first", "then", "match"):
            text = getattr(rule.sequence, key)
            if text:
                texts.append((f"sequence.{key}", text))
    return texts


def _check_params(rule: Rule, add) -> None:
    used: set[str] = set()
    for field_name, text in _sql_texts(rule):
        names = placeholders(text)
        used |= names
        for name in sorted(names - set(rule.params)):
            add(field_name, f"param {{{name}}} is used but not declared in params")
    try:
        reason_names = {name for name, _ in template_fields(rule.reason)}
    except RuleError as exc:
        add("reason", exc.message)
        return
    used |= reason_names & set(rule.params)
    for name in sorted(set(rule.params) - used):
        add(f"params.{name}", "param is declared but never used")


def _empty(schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    return pl.LazyFrame(schema=schema)


def _run_empty(frame: pl.LazyFrame, field_name: str, add) -> dict[str, pl.DataType] | None:
    try:
        return dict(frame.collect().schema)
    except Exception as exc:  # the SQL compiled but does not fit the view's columns/types
        text = str(exc).strip().splitlines()
        add(field_name, text[0] if text else type(exc).__name__)
        return None


def _check_columns(rule: Rule, field_name: str, expr: pl.Expr, add, strip_prefixes=False) -> None:
    always = (
        V.ALWAYS_PRESENT_MOVEMENTS if rule.view == "movements" else V.ALWAYS_PRESENT_TRANSACTIONS
    )
    for name in sorted(set(expr.meta.root_names())):
        column = name
        if strip_prefixes:
            for prefix in (FIRST_PREFIX, THEN_PREFIX):
                if name.startswith(prefix):
                    column = name[len(prefix) :]
            if name == GAP_HOURS:
                continue
        if column not in always and column not in rule.requires:
            add(field_name, f"uses column {column!r}, which is not listed in requires")


def _check_boolean(schema: dict[str, pl.DataType] | None, field_name: str, add) -> None:
    if schema is None:
        return
    dtype = next(iter(schema.values()))
    if dtype != pl.Boolean and dtype != pl.Null:
        add(field_name, f"must be a true/false predicate, but gives {dtype}")


def _check_against_view(rule: Rule, compiled, add) -> None:
    view_cols = V.view_schema(rule.view)
    for name in rule.requires:
        if name not in view_cols:
            add("requires", f"{name!r} is not a column of the {rule.view} view")
    view = _empty(view_cols)
    _check_columns(rule, "where", compiled.where, add)
    _check_boolean(_run_empty(view.select(compiled.where), "where", add), "where", add)

    reason_names = {name for name, _ in compiled.reason_fields}
    if rule.level == "transaction":
        if compiled.strength is not None:
            _check_columns(rule, "strength", compiled.strength, add)
            _run_empty(view.select(compiled.strength), "strength", add)
        allowed = set(view_cols) | set(rule.params) | {V.ACCOUNT}
        for name in sorted(reason_names - allowed):
            add("reason", f"{{{name}}} is not a column of the view, a param or `account`")
        return

    rows = view
    key = rule.group_by
    if rule.sequence is not None:
        for part in ("first", "then"):
            expr = getattr(compiled, part)
            _check_columns(rule, f"sequence.{part}", expr, add)
            _check_boolean(
                _run_empty(view.select(expr), f"sequence.{part}", add), f"sequence.{part}", add
            )
        pair_cols = {FIRST_PREFIX + n: t for n, t in view_cols.items()}
        pair_cols |= {THEN_PREFIX + n: t for n, t in view_cols.items()}
        pair_cols |= {key: view_cols[key], S.TIMESTAMP: pl.Datetime("us"), GAP_HOURS: pl.Float64}
        rows = _empty(pair_cols)
        if compiled.match is not None:
            _check_columns(rule, "sequence.match", compiled.match, add, strip_prefixes=True)
            _check_boolean(
                _run_empty(rows.select(compiled.match), "sequence.match", add),
                "sequence.match",
                add,
            )
    row_cols = set(rows.collect_schema().names())
    for name, expr in compiled.measures.items():
        if name in row_cols or name in rule.params:
            add(f"aggregate.{name}", "measure name clashes with a column or a param name")
        _check_columns(rule, f"aggregate.{name}", expr, add, rule.sequence is not None)
    measures = _run_empty(
        rows.group_by(key).agg(list(compiled.measures.values())), "aggregate", add
    )
    if measures is None:
        return
    measured = _empty(measures)
    for field_name in ("having", "strength"):
        expr = getattr(compiled, field_name)
        if expr is None:
            continue
        unknown = sorted(set(expr.meta.root_names()) - set(compiled.measures))
        if unknown:
            add(field_name, f"uses {', '.join(unknown)}: only the measures are known here")
            continue
        result = _run_empty(measured.select(expr), field_name, add)
        if field_name == "having":
            _check_boolean(result, field_name, add)
    allowed = set(compiled.measures) | set(rule.params) | {V.ACCOUNT, "window"}
    allowed |= {"window_start", "window_end"}
    for name in sorted(reason_names - allowed):
        add("reason", f"{{{name}}} is not a measure, a param, account, window or window_start/end")


def _check_tests(rule: Rule, sources: list[tuple[str, str]], problems: list[RuleProblem]):
    for test, (file, field_name) in zip(rule.tests, sources, strict=True):
        try:
            transactions_frame(test.transactions)
            if test.accounts is not None:
                accounts_frame(test.accounts)
        except TestDataError as exc:
            problems.append(RuleProblem(file, f"{field_name}.{exc.field}", exc.message))
        for name in test.params:
            if name not in rule.params:
                problems.append(
                    RuleProblem(file, f"{field_name}.params.{name}", "not a param of this rule")
                )
    expects = {test.expect for test in rule.tests}
    for expect in ("fire", "quiet"):
        if expect not in expects:
            problems.append(
                RuleProblem(rule.path, "tests", f"needs at least one test with expect: {expect}")
            )
