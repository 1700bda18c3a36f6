"""The rule model: what a loaded, checked rule file is.

Rules are plain data. The loader (``loader.py``) builds them from YAML and
reports every problem it finds as a :class:`RuleProblem`; the compiler
(``compiler.py``) turns them into polars queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Evidence score of a hit before `strength`: how often a hit is truly suspicious.
CONFIDENCE_SCORES: dict[str, float] = {"low": 0.4, "medium": 0.6, "high": 0.8}
DEFAULT_CONFIDENCE = "medium"
DEFAULT_MAX_BENIGN_SHARE = 0.01
VIEWS = ("movements", "transactions")
LEVELS = ("transaction", "account")


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rule file: where it is and what it is."""

    path: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Reference:
    doc: str
    section: str
    title: str | None = None
    url: str | None = None

    def __str__(self) -> str:
        text = f"{self.doc}, {self.section}"
        if self.title:
            text += f" ({self.title})"
        return text


@dataclass(frozen=True)
class Param:
    name: str
    value: Any  # a number, a string or a list of those
    basis: str  # "sourced" or "default"
    note: str | None = None


@dataclass(frozen=True)
class Sequence:
    first: str
    then: str
    within: str
    match: str | None = None


@dataclass
class RuleTest:
    name: str
    expect: str  # "fire" or "quiet"
    transactions: list[dict[str, Any]]
    accounts: list[dict[str, Any]] | None = None
    fires_on: list[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the file the test came from (the rule or its .tests.yaml)


@dataclass
class Rule:
    id: str
    title: str
    status: str
    severity: str
    description: str
    references: list[Reference]
    author: str
    date: str
    falsepositives: list[str]
    level: str
    requires: list[str]
    where: str
    reason: str
    path: str = ""
    confidence: str = DEFAULT_CONFIDENCE
    indicator: list[str] = field(default_factory=list)
    modified: str | None = None
    tags: list[str] = field(default_factory=list)
    max_benign_share: float = DEFAULT_MAX_BENIGN_SHARE
    role: str | None = None
    view: str = "movements"
    subject: str | None = None
    group_by: str | None = None
    window: str | None = None
    aggregate: dict[str, str] = field(default_factory=dict)
    having: str | None = None
    strength: str | None = None
    params: dict[str, Param] = field(default_factory=dict)
    sequence: Sequence | None = None
    tests: list[RuleTest] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        """Deprecated rules load (so codes stay reserved) but never run."""
        return self.status != "deprecated"

    @property
    def base_score(self) -> float:
        return CONFIDENCE_SCORES[self.confidence]

    def param_values(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        values = {name: p.value for name, p in self.params.items()}
        values.update(overrides or {})
        return values


@dataclass
class RuleSet:
    """The rules of one folder, and every problem found while loading it."""

    rules: list[Rule]
    problems: list[RuleProblem]
    root: Path | None = None

    def get(self, rule_id: str) -> Rule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def ok(self) -> bool:
        return not self.problems
