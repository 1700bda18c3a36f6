"""Amounts in one currency: conversion at given rates, and a notice when none is given."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from moneytrail import schema as S
from moneytrail.cli import main
from moneytrail.errors import ParamsError
from moneytrail.ingest import ingest
from moneytrail.ingest.currencies import DEFAULTS, exchange_rates

FIX = Path(__file__).parent / "fixtures" / "ingest"
# The AMLworld rows: 18 US Dollar, 4 Euro, 2 Yuan, 2 Bitcoin, 1 Rupee.
AMLWORLD = FIX / "amlworld_trans.csv"
RATES = {"EUR": 1.1, "CNY": 0.14, "BTC": 20000, "INR": 0.012}


def rates(**given) -> tuple[str, dict[str, float]] | None:
    return exchange_rates({**DEFAULTS, **given})


def test_several_currencies_without_rates_give_a_notice():
    result = ingest([AMLWORLD])
    (said,) = [n for n in result.notices if "currencies" in n]
    assert "5 currencies" in said and "USD 67%" in said and "ingest.rates" in said
    # one currency: nothing to say
    usd = ingest([FIX / "amlsim_transactions.csv"])
    assert not [n for n in usd.notices if "currencies" in n]


def test_amounts_are_converted_to_the_base_currency():
    plain = ingest([AMLWORLD]).transactions
    result = ingest([AMLWORLD], exchange=rates(base_currency="usd", rates=RATES))
    txns = result.transactions
    assert txns.height == 27 and result.quarantine.height == 0
    assert set(txns[S.CURRENCY]) == {"USD"}
    assert not [n for n in result.notices if "currencies" in n]
    joined = plain.select(S.TXN_ID, S.CURRENCY, pl.col(S.AMOUNT).alias("given")).join(
        txns.select(S.TXN_ID, S.AMOUNT), on=S.TXN_ID
    )
    for code, rate in [("USD", 1.0), *RATES.items()]:
        rows = joined.filter(pl.col(S.CURRENCY) == code)
        assert rows.height > 0, code
        assert rows[S.AMOUNT].to_list() == pytest.approx((rows["given"] * rate).to_list())


def test_a_currency_without_a_rate_is_quarantined():
    without_inr = {k: v for k, v in RATES.items() if k != "INR"}
    result = ingest([AMLWORLD], exchange=rates(base_currency="USD", rates=without_inr))
    for count in result.files:
        assert count.rows_read == count.accepted + count.quarantined
    assert result.transactions.height == 26
    (bad,) = result.quarantine.iter_rows(named=True)
    assert bad[S.Q_COLUMN] == S.CURRENCY and bad[S.Q_VALUE] == "INR"
    assert "exchange rate" in bad[S.Q_REASON]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"rates": {"EUR": 1.1}}, "without ingest.base_currency"),
        ({"base_currency": "DOLLAR"}, "not a currency code"),
        ({"base_currency": "USD", "rates": {"EUR": "1,1"}}, "must be a number"),
        ({"base_currency": "USD", "rates": {"EUR": 0}}, "must be above 0"),
        ({"base_currency": "USD", "rates": {"EURO": 1.1}}, "not a currency code"),
    ],
)
def test_bad_rates_are_a_clear_params_error(given, says):
    with pytest.raises(ParamsError, match=says) as caught:
        rates(**given)
    assert caught.value.hint


def test_scan_converts_with_a_params_file(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("ingest:\n  base_currency: USD\n  rates: {EUR: 1.1, CNY: 0.14}\n")
    result = CliRunner().invoke(
        main,
        ["scan", str(AMLWORLD), "-o", str(tmp_path / "out"), "--params", str(params),
         "--no-report", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    quarantine = pl.read_csv(tmp_path / "out" / S.QUARANTINE_FILE)
    # Bitcoin and Rupee have no rate here: their 3 rows are set aside, with the reason
    assert sorted(quarantine[S.Q_VALUE].to_list()) == ["BTC", "BTC", "INR"]
    accepted = pl.read_parquet(tmp_path / "out" / S.TRANSACTIONS_FILE)
    assert accepted.height == 24 and set(accepted[S.CURRENCY]) == {"USD"}
    # the rates used are in the manifest
    manifest = json.loads((tmp_path / "out" / S.MANIFEST_FILE).read_text())
    assert manifest["params"]["ingest"]["rates"] == {"EUR": 1.1, "CNY": 0.14}
    # a misspelt setting is one message, not a traceback
    bad = CliRunner().invoke(
        main, ["scan", str(AMLWORLD), "-o", str(tmp_path / "o2"), "--param", "ingest.base=USD"]
    )
    assert bad.exit_code == 1 and "unknown ingest setting" in bad.output
