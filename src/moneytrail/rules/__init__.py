"""The rule engine: rule files (rules/*.yaml) → checked model → polars queries → Evidence.

```python
from moneytrail.rules import load_rules, run_rules

ruleset = load_rules()            # the shipped catalogue; ruleset.problems lists broken files
result = run_rules(transactions_lazyframe, ruleset, params, accounts)
result.evidence, result.ran, result.skipped, result.hits
```
The format is documented in rules/FORMAT.md.
"""

from moneytrail.rules.compiler import MAX_TXN_IDS, RuleRun, compile_rule, run_rules
from moneytrail.rules.loader import default_rules_dir, load_rule_file, load_rules
from moneytrail.rules.model import Param, Reference, Rule, RuleProblem, RuleSet, RuleTest
from moneytrail.rules.selftest import TestResult, run_tests

__all__ = [
    "MAX_TXN_IDS",
    "Param",
    "Reference",
    "Rule",
    "RuleProblem",
    "RuleRun",
    "RuleSet",
    "RuleTest",
    "TestResult",
    "compile_rule",
    "default_rules_dir",
    "load_rule_file",
    "load_rules",
    "run_rules",
    "run_tests",
]
