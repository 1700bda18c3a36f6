"""Regression guard: a change that breaks detection fails here.

Two small labelled sets are scanned with the product's default settings and
the account-level average precision must stay above a floor. Each floor sits
below what the detectors measured when it was set (headroom for honest
changes) and above what the naive baselines of benchmarks/baselines.py reach
on the same data, so a scan that degrades to counting transfers fails.
Timings are measured in benchmarks/, never here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moneytrail.evaluate import evaluate, read_case_of, read_labels, read_scores
from moneytrail.scan import run_scan
from moneytrail.synth import generate

FIXTURES = Path(__file__).parent / "fixtures" / "evaluate"

# AMLSim excerpt (tests/fixtures/evaluate, whole alerts of all six typologies,
# 148 positives among 376 active accounts). Measured 0.65, then 0.57, now 0.64;
# baselines 0.33 (IsolationForest) and 0.29 (ECOD) on in/out counts and sums.
AMLSIM_EXCERPT_AP_FLOOR = 0.55

# Generated: 600 accounts, 60 days, seed 5 (about 190 labelled accounts in 32
# planted cases of 16 typologies). Measured 0.57, then 0.72, now 0.74, with 31 of
# the 32 planted cases holding a core account in one of the scan's cases;
# baselines 0.12 (IsolationForest) and 0.23 (ECOD).
GENERATED_AP_FLOOR = 0.60
GENERATED_CASES_FOUND_FLOOR = 27
# Working the scan's case list: planted cases reached with fewer than 20 unlabelled
# accounts in the cases read up to them. Measured 0 when cases were listed by a
# score that grew with every member, 11 since they are listed by the geometric mean
# of their top and mean risk.
GENERATED_CASES_CHEAPLY_READ_FLOOR = 7
GENERATED = {"n_accounts": 600, "days": 60, "seed": 5}


def test_amlsim_excerpt_keeps_average_precision(tmp_path):
    run_scan([FIXTURES / "amlsim_excerpt_transactions.csv"], tmp_path / "scan", report=False)
    labels = read_labels(FIXTURES / "amlsim_excerpt_alert_accounts.csv")
    ev = evaluate(read_scores(tmp_path / "scan"), labels)
    assert ev.n_positives == 148
    assert ev.average_precision >= AMLSIM_EXCERPT_AP_FLOOR, ev.typologies


@pytest.fixture(scope="module")
def generated_scan(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    generate(root / "data", **GENERATED)
    run_scan(
        [root / "data" / "transactions.csv"],
        root / "scan",
        accounts=root / "data" / "accounts.csv",
        report=False,
    )
    return root


def test_generated_data_keeps_average_precision(generated_scan):
    labels = read_labels(generated_scan / "data" / "labels.csv")
    scan = generated_scan / "scan"
    ev = evaluate(read_scores(scan), labels, case_of=read_case_of(scan))
    assert ev.n_positives > 0 and ev.case_summary["n_cases"] > 0
    assert ev.average_precision >= GENERATED_AP_FLOOR, ev.typologies
    found = ev.case_summary["cases_with_core_in_a_scan_case"]
    assert found >= GENERATED_CASES_FOUND_FLOOR, ev.cases
    cheaply = ev.case_summary["cases_with_under_20_unlabelled_read"]
    assert cheaply >= GENERATED_CASES_CHEAPLY_READ_FLOOR, ev.cases
