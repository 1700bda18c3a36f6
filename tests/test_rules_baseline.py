"""Benign baseline of the rule catalogue on the generator's data.

Every rule states in its metadata (`max_benign_share`, default 0.01) the largest
share of benign accounts it may fire on. This test generates a small labelled data
set, runs the whole shipped catalogue over it once, and holds every rule to its
stated share; it also checks that every planted trafficking typology is caught by at
least one rule. Benign means: not in labels.csv. Hits on nodes outside the accounts
table (merchants, foreign beneficiaries) that are not labelled count against the
rule too, so a rule cannot hide false positives on counterparties.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.ingest import ingest
from moneytrail.rules import load_rules, run_rules
from moneytrail.synth import TRAFFICKING_TYPOLOGIES, generate

# Small enough to stay well under a minute, large enough that 1 % is ~18 accounts.
N_ACCOUNTS = 2000
DAYS = 90
SEED = 11

# TRAFFICKING_TYPOLOGIES must each be hit by a rule; the generic graph
# typologies (fan_in, cycle, stack, ...) are the graph detectors' job.


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    out: Path = tmp_path_factory.mktemp("baseline")
    generated = generate(out, n_accounts=N_ACCOUNTS, days=DAYS, seed=SEED, fmt="csv")
    ingested = ingest([generated.transactions], accounts=generated.accounts)
    ruleset = load_rules()
    run = run_rules(ingested.transactions.lazy(), ruleset, accounts=ingested.accounts)
    labels = pl.read_csv(generated.labels)
    accounts = ingested.accounts.select(S.ACCOUNT_ID)
    return ruleset, run, labels, accounts


def _hits(run) -> pl.DataFrame:
    return run.evidence.select(S.EV_ACCOUNT, S.EV_CODE).unique()


def test_the_whole_catalogue_ran(baseline):
    ruleset, run, _, _ = baseline
    # The generator writes every column the catalogue needs: a skipped rule would
    # make its benign share meaninglessly zero.
    assert run.skipped == []
    assert len(run.ran) == len([r for r in ruleset.rules if r.runs])


def test_no_rule_fires_on_more_than_its_stated_share_of_benign_accounts(baseline):
    ruleset, run, labels, accounts = baseline
    labelled = labels[S.LB_ACCOUNT].unique().implode()
    n_benign = accounts.filter(~pl.col(S.ACCOUNT_ID).is_in(labelled)).height
    assert n_benign > 0.8 * N_ACCOUNTS
    benign_hits = (
        _hits(run)
        .filter(~pl.col(S.EV_ACCOUNT).is_in(labelled))
        .group_by(S.EV_CODE)
        .agg(pl.len().alias("hits"))
    )
    counts = dict(zip(benign_hits[S.EV_CODE], benign_hits["hits"], strict=True))
    over = {}
    for rule in ruleset.rules:
        share = counts.get(rule.id, 0) / n_benign
        if share > rule.max_benign_share:
            over[rule.id] = f"{share:.2%} > {rule.max_benign_share:.2%}"
    assert over == {}, f"rules over their stated benign share: {over}"


def test_every_planted_trafficking_typology_is_hit(baseline):
    _, run, labels, _ = baseline
    planted = set(labels[S.LB_TYPOLOGY].unique())
    assert set(TRAFFICKING_TYPOLOGIES) <= planted, "the generator stopped planting a typology"
    hit_accounts = _hits(run)[S.EV_ACCOUNT].unique().implode()
    hit = set(
        labels.filter(pl.col(S.LB_ACCOUNT).is_in(hit_accounts))[S.LB_TYPOLOGY].unique()
    )
    missed = sorted(set(TRAFFICKING_TYPOLOGIES) - hit)
    assert missed == [], f"planted typologies no rule caught: {missed}"


def test_trafficking_cases_are_mostly_caught(baseline):
    # Some planted cases are faint on purpose, so not every case must be caught;
    # but most of them should be, or the catalogue has lost its recall.
    _, run, labels, _ = baseline
    hit_accounts = _hits(run)[S.EV_ACCOUNT].unique().implode()
    cases = (
        labels.filter(pl.col(S.LB_TYPOLOGY).is_in(list(TRAFFICKING_TYPOLOGIES)))
        .with_columns(pl.col(S.LB_ACCOUNT).is_in(hit_accounts).alias("hit"))
        .group_by(S.LB_CASE)
        .agg(pl.col("hit").any())
    )
    assert cases.height >= len(TRAFFICKING_TYPOLOGIES)
    assert cases["hit"].mean() >= 0.75
