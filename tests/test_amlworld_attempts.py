"""The typology detectors on real laundering attempts of IBM AMLworld (HI-Small).

The fixture holds one attempt of each AMLworld typology, unchanged. Scanned on
their own, the attempts whose shape the detectors look for are each found whole,
in one instance of the matching code. The others stay under the detectors'
thresholds by design: the bipartite attempt is six unrelated transfers, the stack
six separate two-hop chains, the fan-out has four payees (fewer than
``fan_min_counterparties``) and the gather-scatter two payers (fewer than
``gather_min_each_side``), though its fifteen payees make its hub a fan-out.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.labels import read_amlworld_patterns
from moneytrail.scan import run_scan

FIXTURE = Path(__file__).parent / "fixtures" / "evaluate" / "amlworld_hi_small_patterns.txt"
# The header of HI-Small_Trans.csv; the patterns file repeats its rows without one.
HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
    "Amount Paid,Payment Currency,Payment Format,Is Laundering"
)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> tuple[pl.DataFrame, pl.DataFrame]:
    root = tmp_path_factory.mktemp("amlworld")
    rows = [
        line
        for line in FIXTURE.read_text().splitlines()
        if line.strip() and not line.startswith(("BEGIN", "END"))
    ]
    export = root / "HI-Small_Trans.csv"
    export.write_text("\n".join([HEADER, *rows]) + "\n")
    run_scan([export], root / "scan", report=False)
    evidence = pl.read_parquet(root / "scan" / S.EVIDENCE_FILE)
    return read_amlworld_patterns(FIXTURE), evidence


@pytest.mark.parametrize(
    ("typology", "code", "members_found"),
    [
        ("scatter_gather", "scatter_gather", 8),  # all 8
        ("cycle", "cycle", 3),  # all 3
        ("fan_in", "fan_in", 12),  # the hub and its 11 payers
        ("gather_scatter", "fan_out", 16),  # the hub and its 15 payees
        ("random", "pass_through_chain", 7),  # 7 of the 10 accounts of the 9-hop path
    ],
)
def test_attempt_is_found_in_one_instance_of_its_code(scanned, typology, code, members_found):
    attempts, evidence = scanned
    members = attempts.filter(pl.col(S.LB_TYPOLOGY) == typology).get_column(S.LB_ACCOUNT)
    hits = evidence.filter(
        (pl.col(S.EV_CODE) == code) & pl.col(S.EV_ACCOUNT).is_in(members.implode())
    )
    best = hits.group_by(S.EV_INSTANCE).agg(pl.col(S.EV_ACCOUNT).n_unique().alias("n"))
    assert best.get_column("n").max() == members_found, hits


def test_the_fan_in_hub_is_the_collector(scanned):
    attempts, evidence = scanned
    members = attempts.filter(pl.col(S.LB_TYPOLOGY) == "fan_in").get_column(S.LB_ACCOUNT)
    fan = evidence.filter(
        (pl.col(S.EV_CODE) == "fan_in") & pl.col(S.EV_ACCOUNT).is_in(members.implode())
    )
    collectors = fan.filter(pl.col(S.EV_ROLE) == "collector").get_column(S.EV_ACCOUNT)
    # the one account of the attempt that received all eleven transfers
    assert collectors.to_list() == ["0027755:80A2DF610"]
