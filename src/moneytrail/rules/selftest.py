"""Run every rule's own examples: each must fire or stay quiet as it says."""

from __future__ import annotations

from dataclasses import dataclass

from moneytrail.errors import MoneytrailError
from moneytrail.params import Params
from moneytrail.rules.compiler import run_rules
from moneytrail.rules.model import Rule, RuleSet, RuleTest
from moneytrail.rules.testdata import TestDataError, accounts_frame, transactions_frame


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class

    rule_id: str
    name: str
    expect: str
    passed: bool
    detail: str  # what happened, in words (the accounts hit, or why it failed)
    source: str = ""


def run_test(rule: Rule, test: RuleTest) -> TestResult:
    def result(passed: bool, detail: str) -> TestResult:
        return TestResult(rule.id, test.name, test.expect, passed, detail, test.source)

    try:
        transactions = transactions_frame(test.transactions)
        accounts = accounts_frame(test.accounts) if test.accounts is not None else None
    except TestDataError as exc:
        return result(False, f"bad test row {exc.field}: {exc.message}")
    params = Params(rules={rule.id: dict(test.params)}) if test.params else None
    try:
        run = run_rules(transactions.lazy(), RuleSet([rule], []), params, accounts)
    except MoneytrailError as exc:
        return result(False, str(exc))
    if run.errors:
        return result(False, "; ".join(message for _, message in run.errors))
    if run.skipped:
        missing = ", ".join(run.skipped[0][1])
        return result(False, f"rule skipped: the test rows lack {missing}")
    hit = sorted(set(run.evidence["account_id"].to_list()))
    if test.expect == "quiet":
        if hit:
            return result(False, f"fired on {', '.join(hit)} but should stay quiet")
        return result(True, "quiet")
    if not hit:
        return result(False, "did not fire")
    if test.fires_on is not None and set(test.fires_on) != set(hit):
        return result(
            False, f"fired on {', '.join(hit)}; expected exactly {', '.join(sorted(test.fires_on))}"
        )
    first_reason = run.evidence["reason"][0]
    return result(True, f"fired on {', '.join(hit)}: {first_reason}")


def run_tests(ruleset: RuleSet, rule_ids: list[str] | None = None) -> list[TestResult]:
    """Every test of every rule (or of the given rules), deprecated rules left out."""
    results = []
    for rule in ruleset.rules:
        if rule_ids and rule.id not in rule_ids:
            continue
        if not rule.runs:
            continue
        for test in rule.tests:
            results.append(run_test(rule, test))
    return results
