"""The synthetic generator: files, schema, determinism, planted typologies and
benign look-alikes that really look like the indicators."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from moneytrail import schema as S
from moneytrail.cli import main
from moneytrail.errors import InputError
from moneytrail.synth import LOOKALIKE_GROUPS, TYPOLOGIES, generate
from moneytrail.synth.builder import Builder
from moneytrail.synth.population import GROUP_CODE, build_population

N_ACCOUNTS = 1500
DAYS = 90
CANONICAL = [c for c in S.TRANSACTION_SCHEMA if c not in S.PROVENANCE_COLUMNS]

# The roles each typology must cast (labels.csv "role").
EXPECTED_ROLES = {
    "funnel": {"facilitator", "controller"},
    "escort_ads_lodging": {"controller", "victim"},
    "collector": {"collector", "controller"},
    "front_business": {"front_business", "controller"},
    "structuring": {"launderer"},
    "rapid_pass_through": {"facilitator"},
    "controller_victims": {"controller", "victim"},
    "ocse_buyer": {"buyer", "facilitator"},
    "sextortion_collector": {"collector", "extortion_victim", "facilitator"},
    "fan_in": {"launderer", "collector"},
    "fan_out": {"launderer"},
    "cycle": {"launderer"},
    "scatter_gather": {"launderer", "facilitator"},
    "gather_scatter": {"launderer", "facilitator"},
    "bipartite": {"launderer"},
    "stack": {"launderer", "facilitator"},
}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("synth")
    generate(path, n_accounts=N_ACCOUNTS, days=DAYS, seed=11)
    return path


@pytest.fixture(scope="module")
def txns(out) -> pl.DataFrame:
    return pl.read_csv(out / "transactions.csv", schema_overrides={
        S.TIMESTAMP: pl.Datetime("us"), S.MCC: pl.Int32, S.AMOUNT: pl.Float64})


@pytest.fixture(scope="module")
def accounts(out) -> pl.DataFrame:
    return pl.read_csv(out / "accounts.csv", try_parse_dates=True)


@pytest.fixture(scope="module")
def labels(out) -> pl.DataFrame:
    return pl.read_csv(out / "labels.csv")


@pytest.fixture(scope="module")
def lookalikes(out) -> pl.DataFrame:
    return pl.read_csv(out / "lookalikes.csv")


def _members(labels, typology, role) -> list[str]:
    return labels.filter((pl.col(S.LB_TYPOLOGY) == typology) & (pl.col(S.LB_ROLE) == role))[
        S.LB_ACCOUNT].to_list()


def _group(lookalikes, group) -> pl.Series:
    return lookalikes.filter(pl.col(S.LB_GROUP) == group)[S.LB_ACCOUNT].implode()


# --------------------------------------------------------------------- files
def test_writes_the_documented_files_with_canonical_columns(out, txns):
    names = sorted(p.name for p in out.iterdir())
    assert names == ["accounts.csv", "label_transactions.csv", "labels.csv", "lookalikes.csv",
                     "transactions.csv"]
    assert txns.columns == CANONICAL
    assert txns[S.TXN_ID].is_unique().all()
    assert (txns[S.AMOUNT] > 0).all()
    assert set(txns[S.CHANNEL].unique()) <= set(S.CHANNELS)
    assert set(txns[S.CURRENCY].unique()) == {"USD"}
    header = (out / "transactions.csv").open().readline()
    first = (out / "transactions.csv").open().readlines()[1]
    assert header.strip() == ",".join(CANONICAL)
    assert first.split(",")[1].count(":") == 2 and len(first.split(",")[1]) == 19


def test_node_conventions(txns):
    cash = txns.filter(pl.col(S.CHANNEL) == "cash")
    deposits = cash.filter(pl.col(S.FROM_ACCOUNT) == S.CASH_NODE)
    withdrawals = cash.filter(pl.col(S.TO_ACCOUNT) == S.CASH_NODE)
    assert deposits.height + withdrawals.height == cash.height
    assert cash[S.LOCATION_CITY].null_count() == 0
    card = txns.filter(pl.col(S.CHANNEL) == "card")
    assert card[S.TO_ACCOUNT].str.starts_with("M:").all()
    assert card[S.MCC].null_count() == 0 and card[S.MERCHANT].null_count() == 0
    assert card[S.LOCATION_CITY].null_count() == 0
    remit = txns.filter(pl.col(S.CHANNEL) == "remittance")
    assert (remit[S.TO_COUNTRY] != "US").all() and remit[S.TO_ACCOUNT].str.starts_with("F:").all()


def test_parquet_has_exact_canonical_dtypes(tmp_path):
    generate(tmp_path, n_accounts=600, days=35, seed=3, fmt="parquet",
             typologies="funnel,cycle")
    t = pl.read_parquet(tmp_path / "transactions.parquet")
    a = pl.read_parquet(tmp_path / "accounts.parquet")
    assert dict(t.schema) == {c: S.TRANSACTION_SCHEMA[c] for c in CANONICAL}
    assert dict(a.schema) == S.ACCOUNT_SCHEMA


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    def run(name, seed):
        generate(tmp_path / name, n_accounts=600, days=35, seed=seed)
        return {p.name: p.read_bytes() for p in (tmp_path / name).iterdir()}

    first, again, other = run("a", 5), run("b", 5), run("c", 6)
    assert first == again
    assert first["transactions.csv"] != other["transactions.csv"]


def test_ingests_with_nothing_quarantined(out):
    ingest_mod = pytest.importorskip("moneytrail.ingest")
    result = ingest_mod.ingest([out / "transactions.csv"])
    assert result.rows_quarantined == 0
    assert result.transactions.height == result.rows_read > 0
    kyc = ingest_mod.read_accounts(out / "accounts.csv")
    assert kyc.height == N_ACCOUNTS and dict(kyc.schema) == S.ACCOUNT_SCHEMA


# ------------------------------------------------------------------- labels
def test_every_typology_is_planted_with_its_roles(labels, txns):
    assert set(labels[S.LB_TYPOLOGY].unique()) == set(TYPOLOGIES)
    for typology, roles in EXPECTED_ROLES.items():
        got = set(labels.filter(pl.col(S.LB_TYPOLOGY) == typology)[S.LB_ROLE].unique())
        assert roles <= got, (typology, got)
    assert set(labels[S.LB_ROLE].unique()) <= set(S.ROLES)
    planted = txns.filter(pl.col(S.IS_LAUNDERING))
    assert set(planted[S.TYPOLOGY].unique()) == set(TYPOLOGIES)
    assert txns.filter(~pl.col(S.IS_LAUNDERING))[S.TYPOLOGY].null_count() == txns.filter(
        ~pl.col(S.IS_LAUNDERING)).height


def test_label_transactions_match_the_flagged_rows(out, txns, labels):
    lt = pl.read_csv(out / "label_transactions.csv")
    assert lt.columns == [S.TXN_ID, S.LB_CASE, S.LB_TYPOLOGY]
    flagged = txns.filter(pl.col(S.IS_LAUNDERING))
    assert sorted(lt[S.TXN_ID].to_list()) == sorted(flagged[S.TXN_ID].to_list())
    assert set(lt[S.LB_CASE].unique()) == set(labels[S.LB_CASE].unique())


def test_typologies_subset_plants_only_those(tmp_path):
    generate(tmp_path, n_accounts=600, days=35, seed=1, typologies="ocse_buyer,stack")
    lab = pl.read_csv(tmp_path / "labels.csv")
    assert set(lab[S.LB_TYPOLOGY].unique()) == {"ocse_buyer", "stack"}


def test_cases_vary_in_strength_and_some_are_faint(out):
    lt = pl.read_csv(out / "label_transactions.csv")
    per_case = lt.group_by(S.LB_CASE, S.LB_TYPOLOGY).len()
    spread = per_case.group_by(S.LB_TYPOLOGY).agg(
        (pl.col("len").max() / pl.col("len").min()).alias("ratio"))
    # no single size: within most typologies the biggest case is 1.5x the smallest
    assert (spread["ratio"] >= 1.5).sum() >= 10
    assert per_case["len"].min() <= 6  # faint cases leave only a few rows


# ------------------------------------------------------- planted behaviour
def test_funnel_cash_under_threshold_in_several_cities_out_within_two_days(txns, labels,
                                                                           accounts):
    for acct in _members(labels, "funnel", "facilitator"):
        home = accounts.filter(pl.col(S.ACCOUNT_ID) == acct)[S.CITY][0]
        dep = txns.filter((pl.col(S.TO_ACCOUNT) == acct) & (pl.col(S.FROM_ACCOUNT) == "CASH")
                          & pl.col(S.IS_LAUNDERING))
        assert dep.height >= 3
        assert (dep[S.AMOUNT] < 10_000).all()
        assert dep[S.LOCATION_CITY].n_unique() >= 2 and home not in dep[S.LOCATION_CITY]
        out = txns.filter((pl.col(S.FROM_ACCOUNT) == acct) & pl.col(S.IS_LAUNDERING))
        lag = (out[S.TIMESTAMP].min() - dep[S.TIMESTAMP].min()).total_seconds()
        assert 0 < lag <= 2 * 86400 + 86400  # first money out within the window


def test_ocse_sends_small_remittances_at_night_to_high_risk_country(txns, labels):
    for buyer in _members(labels, "ocse_buyer", "buyer"):
        sends = txns.filter((pl.col(S.FROM_ACCOUNT) == buyer)
                            & (pl.col(S.CHANNEL) == "remittance") & pl.col(S.IS_LAUNDERING))
        assert sends.height >= 4
        assert set(sends[S.TO_COUNTRY].unique()) <= {"PH", "TH", "CO", "DO", "MX"}
        assert (sends[S.AMOUNT] <= 350).all()
        hour = sends[S.TIMESTAMP].dt.hour()
        assert ((hour >= 20) | (hour < 5)).mean() >= 0.5


def test_sextortion_payers_are_young(labels, accounts):
    payers = _members(labels, "sextortion_collector", "extortion_victim")
    ages = accounts.filter(pl.col(S.ACCOUNT_ID).is_in(payers))[S.AGE]
    assert ages.len() == len(set(payers)) and ages.is_between(14, 19).all()


def test_controller_shares_identifiers_with_victims(labels, accounts):
    for case in labels.filter(pl.col(S.LB_TYPOLOGY) == "controller_victims")[S.LB_CASE].unique():
        members = labels.filter(pl.col(S.LB_CASE) == case)
        ctrl = accounts.filter(pl.col(S.ACCOUNT_ID).is_in(
            members.filter(pl.col(S.LB_ROLE) == "controller")[S.LB_ACCOUNT].implode())).row(
            0, named=True)
        vict = accounts.filter(pl.col(S.ACCOUNT_ID).is_in(
            members.filter(pl.col(S.LB_ROLE) == "victim")[S.LB_ACCOUNT].implode()))
        shared = sum((vict[c] == ctrl[c]).sum() for c in S.SHARED_IDENTIFIER_COLUMNS)
        assert shared >= 1


def test_front_business_has_night_cash_and_no_payroll(txns, labels, accounts):
    for front in _members(labels, "front_business", "front_business"):
        kyc = accounts.filter(pl.col(S.ACCOUNT_ID) == front).row(0, named=True)
        assert kyc[S.HOLDER_TYPE] == "business" and kyc[S.BUSINESS_CATEGORY] == "massage"
        cash = txns.filter((pl.col(S.TO_ACCOUNT) == front) & (pl.col(S.CHANNEL) == "cash"))
        hour = cash[S.TIMESTAMP].dt.hour()
        assert ((hour >= 22) | (hour < 6)).sum() >= 1
        payroll = txns.filter((pl.col(S.FROM_ACCOUNT) == front)
                              & (pl.col(S.MEMO) == "PAYROLL DIRECT DEP"))
        assert payroll.height == 0


def test_collector_gets_many_senders_some_with_escort_memos(txns, labels):
    for coll in _members(labels, "collector", "collector"):
        inflow = txns.filter((pl.col(S.TO_ACCOUNT) == coll) & pl.col(S.IS_LAUNDERING))
        assert inflow[S.FROM_ACCOUNT].n_unique() >= 5
        outflow = txns.filter((pl.col(S.FROM_ACCOUNT) == coll) & pl.col(S.IS_LAUNDERING))
        assert outflow[S.AMOUNT].sum() >= 0.8 * inflow[S.AMOUNT].sum()
    planted = txns.filter((pl.col(S.TYPOLOGY) == "collector") & pl.col(S.MEMO).is_not_null())
    assert planted[S.MEMO].str.contains(r"\(|\U0001f339|booking|1hr|1 hr|roses").any()


# --------------------------------------------------------------- look-alikes
def test_every_lookalike_group_is_present_and_benign(lookalikes, labels):
    assert set(lookalikes[S.LB_GROUP].unique()) == set(LOOKALIKE_GROUPS)
    assert not set(lookalikes[S.LB_ACCOUNT]) & set(labels[S.LB_ACCOUNT])


def test_business_travellers_stay_in_hotels_in_several_cities(txns, lookalikes):
    hotels = txns.filter(pl.col(S.FROM_ACCOUNT).is_in(_group(lookalikes, "business_traveller"))
                         & (pl.col(S.MCC) == 7011))
    cities = hotels.group_by(S.FROM_ACCOUNT).agg(pl.col(S.LOCATION_CITY).n_unique().alias("n"))
    assert (cities["n"] >= 4).sum() >= 10
    assert not hotels[S.IS_LAUNDERING].any()


def test_cash_businesses_bank_takings_daily_some_just_under_threshold(txns, lookalikes):
    deposits = txns.filter(pl.col(S.TO_ACCOUNT).is_in(_group(lookalikes, "cash_business"))
                           & (pl.col(S.FROM_ACCOUNT) == S.CASH_NODE))
    days = deposits.group_by(S.TO_ACCOUNT).agg(pl.col(S.TIMESTAMP).dt.date().n_unique())
    assert (days[S.TIMESTAMP] >= 0.8 * DAYS).sum() >= 5
    assert deposits[S.AMOUNT].is_between(9_000, 9_999.99).sum() >= 3
    hour = deposits[S.TIMESTAMP].dt.hour()
    assert ((hour >= 22) | (hour < 6)).sum() >= 10  # bars and restaurants: night drop


def test_families_remit_abroad_every_month_some_to_the_philippines(txns, lookalikes):
    sends = txns.filter(pl.col(S.FROM_ACCOUNT).is_in(_group(lookalikes, "remitting_family"))
                        & (pl.col(S.CHANNEL) == "remittance"))
    months = sends.group_by(S.FROM_ACCOUNT).agg(pl.col(S.TIMESTAMP).dt.month().n_unique())
    assert (months[S.TIMESTAMP] >= 3).sum() >= 20
    assert (sends[S.TO_COUNTRY] == "PH").sum() >= 5
    assert sends[S.MEMO].is_in(["family support", "school fees"]).any()


def test_gig_workers_receive_many_small_p2p_from_distinct_people(txns, lookalikes):
    credits = txns.filter(pl.col(S.TO_ACCOUNT).is_in(_group(lookalikes, "gig_worker"))
                          & (pl.col(S.CHANNEL) == "p2p"))
    senders = credits.group_by(S.TO_ACCOUNT).agg(pl.col(S.FROM_ACCOUNT).n_unique().alias("n"))
    assert (senders["n"] >= 20).sum() >= 10
    assert credits[S.AMOUNT].median() < 100


def test_some_benign_vendors_bank_cash_in_several_cities_away_from_home(txns, lookalikes,
                                                                       accounts):
    gig = accounts.filter(pl.col(S.ACCOUNT_ID).is_in(_group(lookalikes, "gig_worker")))
    deposits = txns.filter(pl.col(S.FROM_ACCOUNT) == S.CASH_NODE).join(
        gig.select(S.ACCOUNT_ID, S.CITY), left_on=S.TO_ACCOUNT, right_on=S.ACCOUNT_ID)
    away = deposits.filter(pl.col(S.LOCATION_CITY) != pl.col(S.CITY))
    cities = away.group_by(S.TO_ACCOUNT).agg(pl.col(S.LOCATION_CITY).n_unique().alias("n"))
    assert (cities["n"] >= 2).sum() >= 3


def test_night_workers_deposit_cash_at_night(txns, lookalikes):
    night = txns.filter(pl.col(S.TO_ACCOUNT).is_in(_group(lookalikes, "night_worker"))
                        & (pl.col(S.FROM_ACCOUNT) == S.CASH_NODE))
    hour = night[S.TIMESTAMP].dt.hour()
    assert ((hour >= 22) | (hour < 6)).sum() >= 50


def test_groups_have_their_ages_and_households_share_addresses(accounts, lookalikes):
    joined = accounts.join(lookalikes, left_on=S.ACCOUNT_ID, right_on=S.LB_ACCOUNT)
    ages = joined.group_by(S.LB_GROUP).agg(pl.col(S.AGE).min().alias("lo"),
                                        pl.col(S.AGE).max().alias("hi"))
    by = {r[S.LB_GROUP]: (r["lo"], r["hi"]) for r in ages.iter_rows(named=True)}
    assert by["teen"][0] >= 14 and by["teen"][1] <= 17
    assert by["retiree"][0] >= 65
    assert accounts.select(pl.col(S.ADDRESS).str.ends_with(pl.col(S.CITY)).all()).item()
    persons = accounts.filter(pl.col(S.HOLDER_TYPE) == "person")
    shared = persons.group_by(S.ADDRESS).len().filter(pl.col("len") >= 2)
    assert shared.height >= 50
    biz = accounts.filter(pl.col(S.HOLDER_TYPE) == "business")
    assert biz[S.PHONE].is_in(persons[S.PHONE].implode()).sum() >= 0.3 * biz.height


# ---------------------------------------------------------------- errors, CLI
def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="unknown typology"):
        generate(tmp_path, n_accounts=600, days=35, typologies="funnel,nope")
    with pytest.raises(InputError, match="too few"):
        generate(tmp_path, n_accounts=10, days=35)
    with pytest.raises(InputError, match="more than one run"):
        generate(tmp_path, n_accounts=2_000_000, days=35)
    with pytest.raises(InputError, match="too short"):
        generate(tmp_path, n_accounts=600, days=5)
    with pytest.raises(InputError, match="format"):
        generate(tmp_path, n_accounts=600, days=35, fmt="xlsx")


def test_cli_generate(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["generate", "-o", str(tmp_path / "o"), "--accounts", "600",
                               "--days", "35", "--typologies", "collector,cycle"])
    assert res.exit_code == 0, res.output
    assert "transactions" in res.output
    assert (tmp_path / "o" / "transactions.csv").exists()
    res = runner.invoke(main, ["generate", "-o", str(tmp_path / "p"), "--typologies", "bogus"])
    assert res.exit_code == 1
    assert "unknown typology: bogus" in res.output and "Traceback" not in res.output


def test_population_mix_is_the_requested_size():
    b = Builder(seed=1, days=30, start=date(2025, 1, 1))
    pop = build_population(b, 1000, n_front=2)
    assert pop.n == 1000
    assert (pop.group == GROUP_CODE["front"]).sum() == 2
    assert pop.is_business[pop.group == GROUP_CODE["cash_business"]].all()


# ------------------------------------------------------------------ sample_data
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SAMPLE_COMMAND = "moneytrail generate -o sample_data --accounts 2000 --days 60 --seed 7"


def test_sample_data_is_what_its_documented_command_makes(tmp_path):
    assert SAMPLE_COMMAND in (SAMPLE / "README.md").read_text()
    generate(tmp_path, n_accounts=2000, days=60, seed=7)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SAMPLE.iterdir() if p.suffix == ".csv")
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), (
            f"sample_data/{name} is stale: rerun `{SAMPLE_COMMAND}`")
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 10_000_000
