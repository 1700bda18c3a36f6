"""`moneytrail ingest` / `moneytrail profiles`, and garbage never crashes ingest."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moneytrail import schema as S
from moneytrail.cli import main
from moneytrail.errors import MoneytrailError
from moneytrail.ingest import ingest

FIX = Path(__file__).parent / "fixtures" / "ingest"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_ingest_writes_table_and_prints_counts(tmp_path):
    out = tmp_path / "t.parquet"
    result = run("ingest", str(FIX / "amlworld_trans.csv"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "amlworld (detected from the header)" in result.stdout
    assert "27" in result.stdout
    table = pl.read_parquet(out)
    assert table.schema == pl.Schema(S.TRANSACTION_SCHEMA) and table.height == 27
    assert not (tmp_path / "t.quarantine.csv").exists()


def test_bad_rows_go_to_quarantine_and_strict_exits_1_after_writing(tmp_path):
    out = tmp_path / "t.parquet"
    quarantine = tmp_path / "bad.csv"
    args = ["ingest", str(FIX / "mixed_bad.csv"), "-o", str(out), "--quarantine", str(quarantine)]
    lenient = run(*args)
    assert lenient.exit_code == 0, lenient.output
    assert "quarantined: " in lenient.stdout and "amount not positive 2" in lenient.stdout
    assert pl.read_csv(quarantine).height == 11 and pl.read_parquet(out).height == 3

    out.unlink()
    quarantine.unlink()
    strict = run(*args, "--strict")
    assert strict.exit_code == 1
    assert "11 row(s) quarantined" in strict.stderr
    assert "Traceback" not in strict.output
    assert out.exists() and quarantine.exists()  # outputs are written before the error


def test_quarantine_defaults_next_to_output(tmp_path):
    out = tmp_path / "t.parquet"
    result = run("ingest", str(FIX / "mixed_bad.csv"), "-o", str(out))
    assert result.exit_code == 0
    assert pl.read_csv(tmp_path / "t.quarantine.csv").height == 11


def test_accounts_are_written_next_to_output(tmp_path):
    out = tmp_path / "t.parquet"
    result = run(
        "ingest",
        str(FIX / "amlsim_transactions.csv"),
        "--accounts",
        str(FIX / "amlsim_accounts.csv"),
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    accounts = pl.read_parquet(tmp_path / "t.accounts.parquet")
    assert accounts.height == 12 and "prior_sar_count" not in accounts.columns


def test_input_errors_exit_1_usage_errors_exit_2(tmp_path):
    missing = run("ingest", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.parquet"))
    assert missing.exit_code == 1
    assert "file not found" in missing.stderr and "Traceback" not in missing.output
    wrong = run("ingest", str(FIX / "samld.csv"), "--profile", "amlsim", "-o", "o.parquet")
    assert wrong.exit_code == 1 and "saml-d" in wrong.stderr
    assert run("ingest", str(FIX / "samld.csv")).exit_code == 2  # no -o
    assert run("ingest", "-o", "x.parquet").exit_code == 2  # no input
    assert run("ingest", "--bogus").exit_code == 2


def test_profiles_lists_builtins_and_prints_one():
    listing = run("profiles")
    assert listing.exit_code == 0
    for name in ("canonical", "amlworld", "amlsim", "amlsim-2019", "saml-d", "bank-statement"):
        assert name in listing.stdout
    shown = run("profiles", "amlworld")
    assert shown.exit_code == 0 and "Payment Format" in shown.stdout
    assert run("profiles", "nope").exit_code == 1


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "moneytrail" in result.stdout


# --------------------------------------------------------------------------
# property: garbage rows never crash ingest and never lose a row
# --------------------------------------------------------------------------
HEADER = [
    "txn_id",
    "timestamp",
    "amount",
    "currency",
    "from_account",
    "to_account",
    "channel",
    "mcc",
    "is_laundering",
]
GOOD_ROW = ["T", "2024-03-01 22:15:00", "12.5", "USD", "A1", "A2", "card", "5411", "false"]

garbage_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
field = st.one_of(
    garbage_text,
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "0",
            "nan",
            "inf",
            "1e309",
            "9999999999999",
            "true",
            "CASH",
            "2024-02-30 10:00:00",
            "2024-03-01",
            "USD",
            "wire",
            '"',
            ",",
            "\n",
        ]
    ),
)
row = st.lists(field, min_size=0, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.one_of(row, st.just(GOOD_ROW)), min_size=1, max_size=25))
def test_garbage_rows_never_crash_and_never_lose_a_row(tmp_path, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    records = 0
    for i, values in enumerate(rows):
        if values == GOOD_ROW:
            values = [f"G{i}", *GOOD_ROW[1:]]
        writer.writerow(values)
        records += 1
    path = tmp_path / "garbage.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    result = ingest([path])
    count = result.files[0]
    assert count.rows_read == records
    assert count.rows_read == count.accepted + count.quarantined
    assert result.transactions.height == count.accepted
    assert result.quarantine.height == count.quarantined
    assert result.quarantine[S.Q_REASON].null_count() == 0
    good = sum(1 for values in rows if values == GOOD_ROW)
    assert count.accepted >= good
    assert result.transactions.schema == pl.Schema(S.TRANSACTION_SCHEMA)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300))
def test_raw_bytes_after_a_header_are_an_error_message_or_an_accounted_ingest(tmp_path, body):
    path = tmp_path / "raw.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\n" + body)
    try:
        result = ingest([path])
    except MoneytrailError as exc:  # fatal: one message naming the file
        assert str(path) in str(exc)
        return
    count = result.files[0]
    assert count.rows_read == count.accepted + count.quarantined
    assert result.transactions.height == count.accepted
