"""Commands: ``moneytrail rules list|show|check|test|readme``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from moneytrail.cli.common import err, notice, out
from moneytrail.errors import RuleError
from moneytrail.rules import load_rules, run_tests
from moneytrail.rules.readme import readme_in_sync, write_readme
from moneytrail.rules.sql import window_words

rules_dir_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of rule files (default: the shipped catalogue).",
)


def _load(rules_dir: Path | None, quiet_problems: bool = False):
    ruleset = load_rules(rules_dir)
    if ruleset.problems and not quiet_problems:
        files = len({p.path for p in ruleset.problems})
        notice(
            f"{len(ruleset.problems)} problem(s) in {files} rule file(s) skipped; "
            "`moneytrail rules check` lists them"
        )
    return ruleset


@click.group("rules")
def rules_group() -> None:
    """List, show, check and self-test the red-flag rules."""


@rules_group.command("list")
@rules_dir_option
def list_rules(rules_dir: Path | None) -> None:
    """Table of the rules: code, title, level, severity, status, requires."""
    ruleset = _load(rules_dir)
    table = Table(show_lines=False)
    for column in ("code", "title", "level", "severity", "status", "requires"):
        table.add_column(column, overflow="fold")
    for rule in sorted(ruleset.rules, key=lambda r: r.id):
        table.add_row(
            escape(rule.id),
            escape(rule.title),
            rule.level,
            rule.severity,
            rule.status,
            escape(", ".join(rule.requires) or "-"),
        )
    out.print(table)
    out.print(f"{len(ruleset.rules)} rules from {ruleset.root}")


@rules_group.command("show")
@click.argument("code")
@rules_dir_option
def show_rule(code: str, rules_dir: Path | None) -> None:
    """Everything about one rule: description, logic, params, references, false positives."""
    ruleset = _load(rules_dir, quiet_problems=True)
    rule = ruleset.get(code) or ruleset.get(code.upper())
    if rule is None:
        broken = [p for p in ruleset.problems if code.lower() in Path(p.path).stem.lower()]
        hint = "`moneytrail rules list` shows the codes"
        if broken:
            hint = f"a rule file that failed to load may hold it: {broken[0]}"
        raise RuleError(f"no rule {code!r}", hint=hint)
    p = out.print
    p(f"[bold]{escape(rule.id)}[/bold]  {escape(rule.title)}")
    p(
        f"status {rule.status} · level {rule.level} · severity {rule.severity} · "
        f"confidence {rule.confidence} · view {rule.view}"
        + (f" · role {rule.role}" if rule.role else "")
    )
    p(f"file {escape(rule.path)}")
    if rule.indicator:
        p(f"indicator {escape(', '.join(rule.indicator))}")
    if rule.tags:
        p(f"tags {escape(', '.join(rule.tags))}")
    p("")
    p(escape(rule.description))
    p("\n[bold]Logic[/bold]")
    p(f"  requires: {escape(', '.join(rule.requires) or '-')}")
    p(f"  where:    {escape(rule.where)}")
    if rule.sequence is not None:
        seq = rule.sequence
        p(f"  first:    {escape(seq.first)}")
        p(f"  then:     {escape(seq.then)}  (within {window_words(seq.within)})")
        if seq.match:
            p(f"  match:    {escape(seq.match)}")
    if rule.level == "account":
        p(f"  group by: {rule.group_by}, window: {window_words(rule.window)}")
        for name, text in rule.aggregate.items():
            p(f"  {escape(name)} = {escape(text)}")
        p(f"  having:   {escape(rule.having or '')}")
    elif rule.subject:
        p(f"  subject:  {rule.subject}")
    if rule.strength:
        p(f"  strength: {escape(rule.strength)}")
    p(f"  reason:   {escape(rule.reason)}")
    if rule.params:
        p("\n[bold]Params[/bold]")
        for param in rule.params.values():
            note = f" — {param.note}" if param.note else ""
            p(f"  {escape(param.name)} = {escape(repr(param.value))} ({param.basis}){escape(note)}")
    p("\n[bold]References[/bold]")
    for ref in rule.references:
        p(f"  {escape(str(ref))}" + (f" <{escape(ref.url)}>" if ref.url else ""))
    p("\n[bold]False positives: what to check[/bold]")
    for item in rule.falsepositives:
        p(f"  - {escape(item)}")
    p(f"\n{len(rule.tests)} self-test(s); max benign share {rule.max_benign_share:.1%}")


@rules_group.command("check")
@rules_dir_option
def check_rules(rules_dir: Path | None) -> None:
    """Check every rule file; list each problem with file and field; exit 1 on any."""
    ruleset = _load(rules_dir, quiet_problems=True)
    for problem in ruleset.problems:
        out.print(escape(str(problem)))
    files = len({p.path for p in ruleset.problems})
    if ruleset.problems:
        err.print(
            f"{len(ruleset.rules)} rules OK; {len(ruleset.problems)} problem(s) "
            f"in {files} file(s) under {ruleset.root}"
        )
        sys.exit(1)
    err.print(f"{len(ruleset.rules)} rules OK under {ruleset.root}")


@rules_group.command("test")
@rules_dir_option
@click.option("--rule", "rule_ids", multiple=True, help="Only this rule code (repeatable).")
@click.option("--failures-only", is_flag=True, help="List only the failed tests.")
def test_rules(rules_dir: Path | None, rule_ids: tuple[str, ...], failures_only: bool) -> None:
    """Run every rule's own examples (expect fire / quiet); exit 1 on a failure."""
    ruleset = _load(rules_dir)
    results = run_tests(ruleset, list(rule_ids) or None)
    table = Table()
    for column in ("rule", "test", "expect", "result", "detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        if failures_only and result.passed:
            continue
        status = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
        table.add_row(
            escape(result.rule_id),
            escape(result.name),
            result.expect,
            status,
            escape(result.detail),
        )
    out.print(table)
    failed = [r for r in results if not r.passed]
    untested = [r.id for r in ruleset.rules if r.runs and not r.tests]
    err.print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed, "
        f"{len({r.rule_id for r in results})} rules tested"
    )
    if ruleset.problems:
        err.print(f"{len(ruleset.problems)} rule file problem(s): run `moneytrail rules check`")
    if untested:
        err.print(f"rules without tests: {', '.join(untested)}")
    if failed or ruleset.problems or untested:
        sys.exit(1)


@rules_group.command("readme")
@rules_dir_option
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if README.md is out of date.")
def readme(rules_dir: Path | None, check_only: bool) -> None:
    """Write the rules folder's README.md table of all rules."""
    ruleset = _load(rules_dir)
    if check_only:
        if not readme_in_sync(ruleset):
            err.print("README.md is out of date: run `moneytrail rules readme`")
            sys.exit(1)
        err.print("README.md is up to date")
        return
    path = write_readme(ruleset)
    err.print(f"wrote {path} ({len(ruleset.rules)} rules)")


COMMANDS = [rules_group]
