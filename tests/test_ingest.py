"""Ingestion: profiles, readers, validation and quarantine, fatal errors."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.ingest import (
    FileCount,
    IngestResult,
    ingest,
    list_profiles,
    load_profile,
    read_accounts,
)

FIX = Path(__file__).parent / "fixtures" / "ingest"

CANONICAL_HEADER = "txn_id,timestamp,amount,currency,from_account,to_account,channel\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def assert_identity(result: IngestResult) -> None:
    """read = accepted + quarantined, per file and in the tables."""
    for count in result.files:
        assert count.rows_read == count.accepted + count.quarantined
    txn_files = [c for c in result.files if c.kind == "transactions"]
    assert sum(c.accepted for c in txn_files) == result.transactions.height
    assert sum(c.quarantined for c in result.files) == result.quarantine.height


def assert_canonical(frame: pl.DataFrame) -> None:
    assert frame.schema == pl.Schema(S.TRANSACTION_SCHEMA)


# --------------------------------------------------------------------------
# built-in profiles on real excerpts
# --------------------------------------------------------------------------
def test_builtin_profiles_listed_and_loadable():
    names = [p.name for p in list_profiles()]
    for expected in ("canonical", "amlworld", "amlsim", "amlsim-2019", "saml-d", "bank-statement"):
        assert expected in names
        assert load_profile(expected).name == expected


def test_amlsim_detected_and_mapped():
    result = ingest([FIX / "amlsim_transactions.csv"])
    assert result.profile == "amlsim" and result.detected
    assert_canonical(result.transactions)
    assert_identity(result)
    txns = result.transactions
    assert txns.height == 29 and result.quarantine.height == 0
    first = txns.row(0, named=True)
    assert first[S.TXN_ID] == "1"
    assert first[S.FROM_ACCOUNT] == "2172" and first[S.TO_ACCOUNT] == "4964"
    assert first[S.AMOUNT] == pytest.approx(157.8)
    assert first[S.TIMESTAMP] == dt.datetime(2023, 1, 1)
    assert first[S.CURRENCY] == "USD"
    assert txns[S.IS_LAUNDERING].sum() == 4
    assert txns[S.SOURCE_ROW].to_list() == list(range(1, 30))
    assert set(txns[S.SOURCE_FILE]) == {str(FIX / "amlsim_transactions.csv")}


def test_amlsim_accounts_never_read_prior_sar_count():
    accounts = read_accounts(FIX / "amlsim_accounts.csv")
    assert accounts.schema == pl.Schema(S.ACCOUNT_SCHEMA)
    assert accounts.height == 12
    assert "prior_sar_count" not in accounts.columns
    row = accounts.row(0, named=True)
    assert row[S.ACCOUNT_ID] == "0" and row[S.HOLDER_TYPE] == "person"
    assert row[S.HOLDER_NAME] == "Stephanie Collins"
    assert row[S.BIRTH_DATE] == dt.date(1995, 7, 26) and row[S.BANK] == "bank_a"
    # the label-leaking column is not referenced by the profile at all
    profile_text = (
        Path(__file__).parents[1] / "src" / "moneytrail" / "profiles" / "amlsim.yaml"
    ).read_text()
    mapping_lines = [ln for ln in profile_text.splitlines() if not ln.lstrip().startswith("#")]
    assert not any("prior_sar_count" in ln for ln in mapping_lines)


def test_amlworld_bank_qualified_accounts_currency_and_channel():
    result = ingest([FIX / "amlworld_trans.csv"])
    assert result.profile == "amlworld" and result.detected
    assert_canonical(result.transactions)
    assert_identity(result)
    txns = result.transactions
    assert txns.height == 27
    first = txns.row(0, named=True)
    # duplicate `Account` header: sender then receiver, bank codes keep leading zeros
    assert first[S.FROM_ACCOUNT] == "014433:801CA7940"
    assert first[S.TO_ACCOUNT] == "004523:8119D8750"
    assert first[S.FROM_BANK] == "014433"
    assert first[S.CHANNEL] == "card" and first[S.CURRENCY] == "USD"
    assert first[S.TIMESTAMP] == dt.datetime(2022, 9, 1, 0, 9)
    btc = txns.filter(pl.col(S.CURRENCY) == "BTC")
    assert btc.height == 2 and set(btc[S.CHANNEL].cast(pl.String)) == {"crypto"}
    assert btc[S.AMOUNT].to_list()[0] == pytest.approx(0.054614)
    # amount and currency are the paid side on cross-currency rows
    cross = txns.filter(pl.col(S.FROM_ACCOUNT) == "0071:80505C1E0").row(0, named=True)
    assert cross[S.CURRENCY] == "INR" and cross[S.AMOUNT] == pytest.approx(833.11)
    assert txns[S.IS_LAUNDERING].sum() == 3
    assert set(txns[S.CHANNEL].cast(pl.String)) <= set(S.CHANNELS)


def test_amlworld_unknown_currency_is_quarantined(tmp_path):
    lines = (FIX / "amlworld_trans.csv").read_text().splitlines()
    lines[3] = lines[3].replace("US Dollar", "Dogecoin")
    path = write(tmp_path / "trans.csv", "\n".join(lines) + "\n")
    result = ingest([path])
    assert_identity(result)
    bad = result.quarantine.row(0, named=True)
    assert bad[S.Q_REASON] == "unknown currency"
    assert bad[S.Q_ROW] == 3 and bad[S.Q_VALUE] == "Dogecoin"


def test_amlsim_2019_steps_become_dates():
    result = ingest([FIX / "amlsim2019_transactions.csv"])
    assert result.profile == "amlsim-2019"
    assert_identity(result)
    txns = result.transactions
    assert txns.height == 15
    # step 1 is one day after the documented base date 2017-01-01
    assert txns[S.TIMESTAMP][0] == dt.datetime(2017, 1, 2)
    assert txns[S.TXN_ID][0] == "amlsim2019_transactions:1"
    assert txns[S.IS_LAUNDERING].null_count() == 15


def test_saml_d_date_and_time_joined_and_vocabularies_mapped():
    result = ingest([FIX / "samld.csv"])
    assert result.profile == "saml-d"
    assert_identity(result)
    txns = result.transactions
    assert txns.height == 7
    row = txns.row(1, named=True)
    assert row[S.TIMESTAMP] == dt.datetime(2022, 10, 7, 10, 35, 20)
    assert row[S.CHANNEL] == "wire" and row[S.TO_COUNTRY] == "AE" and row[S.FROM_COUNTRY] == "GB"
    assert row[S.CURRENCY] == "GBP"
    assert txns[S.CHANNEL][0] == "cash"
    assert txns[S.IS_LAUNDERING].sum() == 2
    assert txns[S.TYPOLOGY][5] == "Structuring"


def test_bank_statement_rows_become_from_to_rows():
    result = ingest([FIX / "statement_4711.csv"])
    assert result.profile == "bank-statement"
    assert_identity(result)
    txns = result.transactions
    own = "statement_4711"  # no account column: the file name is the account
    by_memo = {r[S.MEMO]: r for r in txns.iter_rows(named=True)}
    salary = by_memo["Salary March"]
    assert (salary[S.FROM_ACCOUNT], salary[S.TO_ACCOUNT]) == ("ACME LTD", own)
    assert salary[S.AMOUNT] == 2500.0  # thousands separator
    assert salary[S.TIMESTAMP] == dt.datetime(2024, 3, 1)  # day first
    card = by_memo["Card payment HOTEL STAR"]
    assert (card[S.FROM_ACCOUNT], card[S.TO_ACCOUNT]) == (own, "Card payment HOTEL STAR")
    atm = by_memo["ATM withdrawal High St"]
    assert (atm[S.FROM_ACCOUNT], atm[S.TO_ACCOUNT], atm[S.CHANNEL]) == (own, S.CASH_NODE, "cash")
    deposit = by_memo["Cash deposit branch"]
    assert (deposit[S.FROM_ACCOUNT], deposit[S.TO_ACCOUNT]) == (S.CASH_NODE, own)
    reasons = dict(zip(result.quarantine[S.Q_ROW], result.quarantine[S.Q_REASON], strict=True))
    assert reasons == {
        6: "both debit and credit",
        7: "missing amount",
        8: "unparseable timestamp",
    }


def test_bank_statement_account_column_and_profile_setting(tmp_path):
    path = write(
        tmp_path / "s.csv",
        "Account,Date,Details,Paid out,Paid in\nGB01,2024-01-05,Rent,800,\n",
    )
    txns = ingest([path]).transactions
    assert (txns[S.FROM_ACCOUNT][0], txns[S.TO_ACCOUNT][0]) == ("GB01", "Rent")
    profile = write(
        tmp_path / "mybank.yaml",
        "name: mybank\ntransactions:\n  detect: [Date, Out, In]\n"
        "  columns:\n    timestamp: {from: Date}\n"
        "  statement:\n    account_id: MY-ACCOUNT\n    debit: {from: Out}\n    credit: {from: In}\n"
        "    description: {from: Text}\n",
    )
    path = write(tmp_path / "t.csv", "Date,Text,Out,In\n2024-01-05,Shop,,12.5\n")
    result = ingest([path], profile=profile)
    assert result.profile == "mybank" and not result.detected
    row = result.transactions.row(0, named=True)
    assert (row[S.FROM_ACCOUNT], row[S.TO_ACCOUNT], row[S.AMOUNT]) == ("Shop", "MY-ACCOUNT", 12.5)


# --------------------------------------------------------------------------
# validation and quarantine
# --------------------------------------------------------------------------
EXPECTED_REASONS = {
    3: ("unparseable timestamp", "timestamp", "not a date"),
    4: ("unparseable amount", "amount", "twelve"),
    5: ("amount not positive", "amount", "-40.00"),
    6: ("amount not positive", "amount", "0"),
    7: ("missing account", "from_account", None),
    8: ("unknown currency", "currency", "XYZ"),
    9: ("duplicate txn_id", "txn_id", "T1"),
    10: ("unknown channel", "channel", "teleport"),
    11: ("unparseable mcc", "mcc", "54x"),
    12: ("unparseable is_laundering", "is_laundering", "maybe"),
    13: ("too many fields", "(line)", "surplus"),
}


def test_every_bad_row_is_quarantined_with_reason_column_and_value():
    result = ingest([FIX / "mixed_bad.csv"])
    assert result.profile == "canonical"
    assert_identity(result)
    assert result.files == [FileCount(str(FIX / "mixed_bad.csv"), 14, 3, 11)]
    assert result.quarantine.schema == pl.Schema(S.QUARANTINE_SCHEMA)
    got = {
        r[S.Q_ROW]: (r[S.Q_REASON], r[S.Q_COLUMN], r[S.Q_VALUE])
        for r in result.quarantine.iter_rows(named=True)
    }
    assert got == EXPECTED_REASONS
    assert result.transactions[S.TXN_ID].to_list() == ["T1", "T2", "T14"]
    assert set(result.quarantine[S.Q_FILE]) == {str(FIX / "mixed_bad.csv")}


def test_empty_line_and_whitespace_padding(tmp_path):
    path = write(
        tmp_path / "pad.csv",
        CANONICAL_HEADER
        + "T1, 2024-01-01 10:00:00 , 5.5 ,USD, A1 ,A2,card\n"
        + "\n"
        + "T3,2024-01-01 11:00:00,7,USD,A1,A2,card\n",
    )
    result = ingest([path])
    assert_identity(result)
    txns = result.transactions
    assert txns[S.FROM_ACCOUNT].to_list() == ["A1", "A1"]
    assert txns[S.AMOUNT].to_list() == [5.5, 7.0]
    assert result.quarantine[S.Q_REASON].to_list() == ["empty row"]
    assert result.quarantine[S.Q_ROW].to_list() == [2]


def test_derived_txn_ids_and_duplicates_across_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    body = "timestamp,amount,from_account,to_account\n2024-01-01,5,A,B\n2024-01-02,6,B,C\n"
    first = write(tmp_path / "a" / "x.csv", body)
    second = write(tmp_path / "b" / "x.csv", body)
    result = ingest([first, second])
    assert_identity(result)
    ids = result.transactions[S.TXN_ID].to_list()
    assert ids == ["x:1", "x:2", "x#2:1", "x#2:2"]  # same stem, still unique
    assert result.transactions[S.SOURCE_FILE].to_list() == [str(first)] * 2 + [str(second)] * 2

    with_ids = CANONICAL_HEADER + "T1,2024-01-01 00:00:00,5,USD,A,B,card\n"
    one = write(tmp_path / "one.csv", with_ids)
    two = write(tmp_path / "two.csv", with_ids)
    result = ingest([one, two])
    assert_identity(result)
    assert result.transactions.height == 1
    bad = result.quarantine.row(0, named=True)
    assert (bad[S.Q_FILE], bad[S.Q_ROW], bad[S.Q_REASON]) == (str(two), 1, "duplicate txn_id")


def test_streamed_to_parquet_equals_in_memory(tmp_path):
    """`ingest(..., out=)` writes the same accepted rows, quarantine and counts, and
    leaves no staging file behind."""
    with_ids = (
        CANONICAL_HEADER
        + "T1,2024-01-01 00:00:00,5,USD,A,B,card\n"
        + "T2,2024-01-01 01:00:00,-3,USD,A,B,card\n"
        + "T1,2024-01-02 00:00:00,6,USD,B,C,wire\n"
    )
    one = write(tmp_path / "one.csv", with_ids)
    files = [FIX / "mixed_bad.csv", one]
    in_memory = ingest(files)
    out = tmp_path / "scan" / "transactions.parquet"
    streamed = ingest(files, out=out)
    assert isinstance(streamed.transactions, pl.LazyFrame)
    table = streamed.transactions.collect()
    assert table.equals(in_memory.transactions)
    assert pl.read_parquet(out).equals(in_memory.transactions)
    assert streamed.quarantine.equals(in_memory.quarantine)
    assert streamed.files == in_memory.files
    assert streamed.rows_accepted == table.height == 3
    # T1 of one.csv repeats T1 of mixed_bad.csv; T2 there is quarantined twice over
    assert streamed.quarantine.filter(pl.col(S.Q_FILE) == str(one))[S.Q_REASON].to_list() == [
        "duplicate txn_id", "amount not positive", "duplicate txn_id"
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["transactions.parquet"]


# --------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------
def test_semicolon_quotes_bom_and_embedded_newline(tmp_path):
    text = (
        "\ufefftimestamp;amount;from_account;to_account;memo\n"
        '2024-01-01 10:00:00;12.5;"A;1";B;"line one\nline two"\n'
        "2024-01-01 11:00:00;3;A;B;plain\n"
    )
    path = write(tmp_path / "semi.csv", text)
    result = ingest([path])
    assert result.profile == "canonical"
    txns = result.transactions
    assert txns[S.FROM_ACCOUNT].to_list() == ["A;1", "A"]
    assert txns[S.MEMO][0] == "line one\nline two"
    assert txns[S.SOURCE_ROW].to_list() == [1, 2]


def test_gzip_parquet_ndjson_and_excel_give_the_same_table(tmp_path):
    source = FIX / "mixed_bad.csv"
    reference = ingest([source]).transactions.drop(S.SOURCE_FILE)

    gz = tmp_path / "mixed.csv.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    assert ingest([gz]).transactions.drop(S.SOURCE_FILE).equals(reference)

    # typed formats: the good rows of the export, typed as a producer would write them
    typed = pl.read_csv(source, infer_schema=False, truncate_ragged_lines=True).filter(
        pl.col("txn_id").is_in(["T1", "T2", "T14"]).and_(pl.col("timestamp").str.len_chars() > 12)
    )
    typed = typed.with_columns(
        pl.col("timestamp").str.to_datetime(),
        pl.col("amount").cast(pl.Float64),
        pl.col("mcc").cast(pl.Int64),
        pl.col("is_laundering") == "true",
    )
    expected = reference.drop(S.SOURCE_ROW)
    pq = tmp_path / "mixed.parquet"
    typed.write_parquet(pq)
    assert ingest([pq]).transactions.drop(S.SOURCE_FILE, S.SOURCE_ROW).equals(expected)

    nd = tmp_path / "mixed.ndjson"
    typed.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S")).write_ndjson(nd)
    assert ingest([nd]).transactions.drop(S.SOURCE_FILE, S.SOURCE_ROW).equals(expected)

    xlsx = tmp_path / "mixed.xlsx"
    typed.write_excel(xlsx)
    got = ingest([xlsx]).transactions.drop(S.SOURCE_FILE, S.SOURCE_ROW)
    assert got.equals(expected)


def test_round_trip_through_parquet(tmp_path):
    first = ingest([FIX / "amlworld_trans.csv"])
    out = tmp_path / "canonical.parquet"
    quarantine = tmp_path / "q.csv"
    first.write(out, quarantine_csv=quarantine)
    again = ingest([out])
    assert again.profile == "canonical"
    cols = [c for c in S.TRANSACTION_SCHEMA if c not in S.PROVENANCE_COLUMNS]
    assert again.transactions.select(cols).equals(first.transactions.select(cols))
    assert pl.read_csv(quarantine).columns == list(S.QUARANTINE_SCHEMA)


def test_several_files_concatenate_with_profiles_per_file():
    result = ingest([FIX / "amlsim_transactions.csv", FIX / "amlworld_trans.csv"])
    assert result.profile == "amlsim, amlworld"
    assert_identity(result)
    assert result.transactions.height == 29 + 27
    assert [c.accepted for c in result.files] == [29, 27]


def test_accounts_with_ingest_and_their_quarantine(tmp_path):
    accounts = write(
        tmp_path / "accounts.csv",
        "account_id,holder_type,opened_at,age,phone\n"
        "A1,person,2020-01-02,34,+1 555\nA1,person,2020-01-02,34,\n,business,,,\n"
        "A2,alien,,,\nA3,business,yesterday,,\nA4,person,,300,\n",
    )
    result = ingest([FIX / "mixed_bad.csv"], accounts=accounts)
    assert_identity(result)
    assert result.accounts.schema == pl.Schema(S.ACCOUNT_SCHEMA)
    assert result.accounts[S.ACCOUNT_ID].to_list() == ["A1"]
    assert result.accounts[S.OPENED_AT][0] == dt.date(2020, 1, 2)
    acc_q = result.quarantine.filter(pl.col(S.Q_FILE) == str(accounts))
    assert dict(zip(acc_q[S.Q_ROW], acc_q[S.Q_REASON], strict=True)) == {
        2: "duplicate account_id",
        3: "missing account_id",
        4: "unknown holder_type",
        5: "unparseable opened_at",
        6: "unparseable age",
    }
    assert result.files[-1] == FileCount(str(accounts), 6, 1, 5, kind="accounts")


# --------------------------------------------------------------------------
# fatal errors: one clear message naming the file, never a traceback
# --------------------------------------------------------------------------
def test_missing_file_empty_file_and_header_only(tmp_path):
    with pytest.raises(InputError, match="file not found") as info:
        ingest([tmp_path / "nope.csv"])
    assert info.value.file == str(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="file is empty"):
        ingest([write(tmp_path / "empty.csv", "")])
    with pytest.raises(InputError, match="no data rows"):
        ingest([write(tmp_path / "header.csv", CANONICAL_HEADER)])
    with pytest.raises(InputError, match="no input files"):
        ingest([])
    with pytest.raises(InputError, match="folder"):
        ingest([tmp_path])
    twice = FIX / "mixed_bad.csv"
    with pytest.raises(InputError, match="more than once"):
        ingest([twice, twice])


def test_unrecognised_header_lists_columns_and_hints_profile(tmp_path):
    path = write(tmp_path / "odd.csv", "when,how much,who\n2024-01-01,5,A\n")
    with pytest.raises(InputError) as info:
        ingest([path])
    message = str(info.value)
    assert str(path) in message and "when, how much, who" in message
    assert "--profile" in message


def test_wrong_profile_names_missing_columns_and_suggests_the_right_one():
    with pytest.raises(InputError) as info:
        ingest([FIX / "amlsim_transactions.csv"], profile="amlworld")
    message = str(info.value)
    assert "Amount Paid" in message and "tran_id" in message
    assert "'amlsim'" in info.value.hint


def test_unknown_profile_lists_builtins():
    with pytest.raises(InputError, match="unknown profile") as info:
        ingest([FIX / "amlsim_transactions.csv"], profile="no-such-profile")
    assert "amlworld" in info.value.hint and "bank-statement" in info.value.hint


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("transactions: [1, 2]", "must be a mapping"),
        ("transactions:\n  columns:\n    amount: {from: x}\n", "required column"),
        ("transactions:\n  columns:\n    amont: {from: x}\n", "not a canonical column"),
        (
            "transactions:\n  columns:\n    timestamp: {from: t, value: 3}\n"
            "    amount: x\n    from_account: a\n    to_account: b\n",
            "exactly one of",
        ),
        ("colums: {}\n", "unknown profile key"),
        ("transactions: {columns: {timestamp: [\n", "not valid YAML"),
        ("!!python/object:os.system {}\n", "not valid YAML"),
    ],
)
def test_bad_user_profile_is_a_clear_error(tmp_path, text, fragment):
    profile = write(tmp_path / "bad.yaml", text)
    with pytest.raises(InputError, match=fragment) as info:
        ingest([FIX / "mixed_bad.csv"], profile=profile)
    assert info.value.file == str(profile)


def test_binary_and_corrupt_files_are_input_errors(tmp_path):
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary"):
        ingest([binary])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputError) as info:
        ingest([broken])
    assert info.value.file == str(broken)
    bad_gz = tmp_path / "bad.csv.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="gzip"):
        ingest([bad_gz])


@pytest.mark.parametrize("good_rows_before", [0, 3000])  # inside / past the sampled rows
def test_bytes_that_are_not_utf8_are_replaced_with_a_notice(tmp_path, good_rows_before):
    path = tmp_path / "latin.csv"
    good = "".join(f"G{i},2024-01-01 00:00:00,5,USD,A,B,card\n" for i in range(good_rows_before))
    bad = "T1,2024-01-01 00:00:00,5,USD,Müller,B,card\n"
    write(path, CANONICAL_HEADER + good + bad, "latin-1")
    result = ingest([path])
    assert_identity(result)
    assert result.transactions.height == good_rows_before + 1
    assert result.transactions[S.FROM_ACCOUNT][-1] == "M\ufffdller"
    assert any("not valid UTF-8" in n for n in result.notices)


def test_sample_data_copy_still_ingests(tmp_path):
    # a file moved or renamed keeps its provenance as given
    target = tmp_path / "renamed.csv"
    shutil.copy(FIX / "amlsim_transactions.csv", target)
    result = ingest([str(target)])
    assert result.transactions[S.SOURCE_FILE][0] == str(target)


def test_excel_with_repeated_header_names_maps_like_the_csv(tmp_path):
    import csv

    import xlsxwriter

    path = tmp_path / "hi_small.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    with (FIX / "amlworld_trans.csv").open(newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            sheet.write_row(i, 0, row)
    book.close()
    from_excel = ingest([path])
    from_csv = ingest([FIX / "amlworld_trans.csv"])
    assert from_excel.profile == "amlworld"
    cols = [c for c in S.TRANSACTION_SCHEMA if c not in (S.TXN_ID, S.SOURCE_FILE)]
    assert from_excel.transactions.select(cols).equals(from_csv.transactions.select(cols))


def test_local_number_and_date_styles_get_a_notice_saying_what_to_change(tmp_path):
    import yaml

    export = write(
        tmp_path / "eu.csv",
        CANONICAL_HEADER
        + 'T1,2025-01-01 10:00,"1.234,56",EUR,A,B,p2p\n'
        + "T2,01/02/2025 10:00,12,EUR,A,B,p2p\n"
        + 'T3,2025-01-03 10:00,"100,00",EUR,A,B,p2p\n',
    )
    result = ingest(export)
    assert_identity(result)
    assert result.transactions.height == 0
    notes = " ".join(result.notices)
    assert "2 quarantined amounts look like 1.234,56 (a decimal comma)" in notes
    assert 'decimal: ","' in notes
    assert "'01/02/2025 10:00' (" in notes and "eu.csv row 2)" in notes and "formats" in notes
    # what the notices advise reads every row: the built-in profile, as
    # `moneytrail profiles canonical` prints it, with those two changes
    profile = yaml.safe_load(
        (Path(__file__).parents[1] / "src/moneytrail/profiles/canonical.yaml").read_text()
    )
    columns = profile["transactions"]["columns"]
    columns["amount"] = {"from": "amount", "decimal": ",", "thousands": "."}
    columns["timestamp"]["formats"] = ["%d/%m/%Y %H:%M", *columns["timestamp"]["formats"]]
    profile["name"] = "eu-export"
    fixed = write(tmp_path / "eu.yaml", yaml.safe_dump(profile))
    again = ingest(export, profile=fixed)
    assert again.quarantine.height == 0
    assert again.transactions.sort(S.TXN_ID)[S.AMOUNT].to_list() == [1234.56, 12.0, 100.0]
    assert again.transactions.sort(S.TXN_ID)[S.TIMESTAMP][1] == dt.datetime(2025, 2, 1, 10)
    assert not any("look like" in n or "could not be read" in n for n in again.notices)
