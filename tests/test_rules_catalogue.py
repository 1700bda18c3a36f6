"""The shipped catalogue (rules/): loads cleanly, every rule's own examples pass,
and the generated rules/README.md table is in sync with the rule files."""

from __future__ import annotations

import pytest

from moneytrail.rules import load_rules, run_tests
from moneytrail.rules.readme import readme_in_sync

MIN_RULES = 40


@pytest.fixture(scope="module")
def catalogue():
    return load_rules()


def test_catalogue_loads_without_problems(catalogue):
    assert [str(p) for p in catalogue.problems] == []


def test_catalogue_has_enough_rules(catalogue):
    assert len(catalogue.rules) >= MIN_RULES


def test_every_rule_has_a_firing_and_a_quiet_example(catalogue):
    for rule in catalogue.rules:
        expects = {t.expect for t in rule.tests}
        assert {"fire", "quiet"} <= expects, rule.id


def test_every_rule_passes_its_own_examples(catalogue):
    failed = [f"{r.rule_id} / {r.name}: {r.detail}" for r in run_tests(catalogue) if not r.passed]
    assert failed == []


def test_readme_table_is_in_sync(catalogue):
    assert readme_in_sync(catalogue), "rules/README.md is stale: run `moneytrail rules readme`"
