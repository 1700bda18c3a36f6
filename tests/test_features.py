from datetime import date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.features import DEFAULTS, account_features, scored_accounts

T0 = datetime(2024, 3, 1, 10, 0)


def txns(rows, t0=T0, **extra_cols):
    """rows: (from, to, amount, hours after t0) plus optional columns given per row."""
    data = {
        S.TXN_ID: [f"t{i}" for i in range(len(rows))],
        S.FROM_ACCOUNT: [r[0] for r in rows],
        S.TO_ACCOUNT: [r[1] for r in rows],
        S.AMOUNT: [float(r[2]) for r in rows],
        S.TIMESTAMP: [t0 + timedelta(hours=r[3]) for r in rows],
    }
    data.update(extra_cols)
    schema = {c: S.TRANSACTION_SCHEMA[c] for c in data}
    return pl.DataFrame(data, schema=schema).lazy()


def row(fr, account):
    got = fr.frame.filter(pl.col(S.ACCOUNT_ID) == account)
    assert got.height == 1, account
    return got.row(0, named=True)


def test_counts_sums_counterparties_and_concentration():
    fr = account_features(
        txns(
            [
                ("A", "M", 100, 0),
                ("B", "M", 300, 1),
                ("B", "M", 100, 2),
                ("M", "X", 250, 3),
            ]
        )
    )
    m = row(fr, "M")
    assert (m["in_count"], m["out_count"]) == (3, 1)
    assert (m["in_total"], m["out_total"]) == (500, 250)
    assert (m["in_counterparties"], m["out_counterparties"]) == (2, 1)
    # value shares of senders 0.2 and 0.8
    assert m["in_concentration"] == pytest.approx(0.2**2 + 0.8**2)
    assert m["out_concentration"] == pytest.approx(1.0)
    assert m["in_out_balance"] == pytest.approx(0.5)
    a = row(fr, "A")
    assert (a["in_count"], a["in_total"], a["in_counterparties"]) == (0, 0, 0)
    assert a["flow_through_24h"] is None  # nothing received: undefined, not zero
    assert fr.frame.schema[S.ACCOUNT_ID] == pl.String
    assert all(dt == pl.Float64 for c, dt in fr.frame.schema.items() if c != S.ACCOUNT_ID)
    assert set(fr.descriptions) == set(fr.frame.columns) - {S.ACCOUNT_ID}


def test_flow_through_first_in_first_out_with_opening_balance():
    fr = account_features(
        txns(
            [
                # P: receives 1000, forwards 900 after 10 h and 100 after 60 h
                ("S1", "P", 1000, 0),
                ("P", "R1", 900, 10),
                ("P", "R2", 100, 60),
                # Q: spends 500 of an opening balance first, then receives 1000
                # and sends 200 of it on after 5 h; the rest stays
                ("Q", "R1", 500, 0),
                ("S2", "Q", 1000, 1),
                ("Q", "R2", 200, 6),
            ]
        )
    )
    p = row(fr, "P")
    assert p["flow_through_24h"] == pytest.approx(0.9)
    assert p["flow_through_48h"] == pytest.approx(0.9)
    assert p["flow_through_72h"] == pytest.approx(1.0)
    assert p["holding_hours"] == pytest.approx(60.0)
    q = row(fr, "Q")
    assert q["flow_through_24h"] == pytest.approx(0.2)
    assert q["holding_hours"] is None  # never fully sent on


def test_fan_window_burstiness_and_activity():
    # seven senders in one week into H, then one more sender a month later
    rows = [(f"S{i}", "H", 50, i) for i in range(7)] + [("S9", "H", 50, 24 * 30)]
    fr = account_features(txns(rows))
    h = row(fr, "H")
    assert h["fan_in_max"] == 7
    assert h["in_counterparties"] == 8
    assert h["fan_out_max"] == 0
    assert h["active_days"] == 2
    assert h["active_span_days"] == pytest.approx(30.0)
    assert h["burstiness"] > 1  # many short gaps and one long one


def test_amount_shape_cash_and_night_features():
    fr = account_features(
        txns(
            [
                (S.CASH_NODE, "D", 9500, 0),  # cash, just under the 10,000 threshold
                (S.CASH_NODE, "D", 9000, 13),  # 23:00: night
                ("E", "D", 123.45, 14),  # 00:00: night
                ("D", S.CASH_NODE, 1000, 4),
            ]
        )
    )
    d = row(fr, "D")
    assert d["cash_in_share"] == pytest.approx(18500 / 18623.45)
    assert d["cash_out_share"] == pytest.approx(1.0)
    assert d["under_threshold_share"] == pytest.approx(0.5)
    assert d["round_amount_share"] == pytest.approx(0.75)
    assert d["night_share"] == pytest.approx(0.5)


def test_settings_change_thresholds_and_horizons():
    cfg = {**DEFAULTS, "reporting_threshold": 3000, "flow_through_hours": [6]}
    fr = account_features(txns([("A", "B", 2500, 0), ("B", "C", 2500, 5)]), settings=cfg)
    assert row(fr, "B")["under_threshold_share"] == 1.0
    assert row(fr, "B")["flow_through_6h"] == 1.0
    assert "flow_through_24h" not in fr.frame.columns


def test_scored_accounts_leave_out_cash_and_merchants():
    lf = txns(
        [
            ("A", "SHOP", 20, 0),
            ("B", "SHOP", 30, 1),
            ("A", "B", 10, 2),
            (S.CASH_NODE, "A", 100, 3),
            ("C", "MIXED", 10, 4),  # card with MCC ...
            ("D", "MIXED", 10, 5),  # ... and a p2p transfer: not a merchant
            ("C", "REFUNDS", 15, 6),  # card with MCC, but it sends money back
            ("REFUNDS", "C", 15, 7),
        ],
        **{
            S.CHANNEL: ["card", "card", "p2p", "cash", "card", "p2p", "card", "p2p"],
            S.MCC: [5411, 5411, None, None, 5411, None, 5411, None],
        },
    )
    got = scored_accounts(lf).collect().get_column(S.ACCOUNT_ID).to_list()
    assert got == ["A", "B", "C", "D", "MIXED", "REFUNDS"]
    fr = account_features(lf)
    assert fr.frame.get_column(S.ACCOUNT_ID).to_list() == got
    # a merchant is not scored, but stays a counterparty of the accounts paying it
    a = row(fr, "A")
    assert (a["out_count"], a["out_counterparties"], a["out_total"]) == (2, 2, 30)
    assert row(fr, "B")["in_counterparties"] == 1 and row(fr, "B")["out_count"] == 1


def test_basket_shares_from_mcc_and_channel():
    lf = txns(
        [
            ("V", "HOTEL", 300, 0),
            ("V", "TAXI", 100, 1),
            ("V", "XCH", 600, 2),
            ("W", "V", 2000, 3),
        ],
        **{S.CHANNEL: ["card", "card", "crypto", "p2p"], S.MCC: [7011, 4121, None, None]},
    )
    fr = account_features(lf)
    v = row(fr, "V")
    assert v["spend_lodging_share"] == pytest.approx(0.3)
    assert v["spend_local_transport_share"] == pytest.approx(0.1)
    assert v["spend_crypto_share"] == pytest.approx(0.6)
    assert row(fr, "W")["spend_lodging_share"] == 0.0


def test_missing_columns_leave_features_out_with_a_notice():
    # daily timestamps, no channel/mcc/location columns, no accounts table
    fr = account_features(txns([("A", "B", 10, 0), ("B", "C", 10, 24)], t0=datetime(2024, 3, 1)))
    cols = set(fr.frame.columns)
    assert not {"night_share", "cities", "countries", "spend_lodging_share"} & cols
    assert not {"account_age_days", "shared_id_holders"} & cols
    text = " ".join(fr.notices)
    for name in ("night_share", "cities", "countries", "MCC", "account_age_days"):
        assert name in text
    # an all-null optional column counts as absent
    lf = txns([("A", "B", 10, 0)], **{S.LOCATION_CITY: [None]})
    assert "cities" not in account_features(lf).frame.columns


def test_locations_and_countries():
    lf = txns(
        [("A", S.CASH_NODE, 100, 0), ("A", S.CASH_NODE, 100, 1), ("A", "B", 10, 2)],
        **{
            S.LOCATION_CITY: ["Reno", "Vegas", None],
            S.LOCATION_COUNTRY: ["US", "US", None],
            S.TO_COUNTRY: [None, None, "MX"],
        },
    )
    a = row(account_features(lf), "A")
    assert a["cities"] == 2
    assert a["countries"] == 2


def test_accounts_table_age_and_shared_identifiers():
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["A", "B", "C", "D"],
            S.HOLDER_ID: ["h1", "h2", "h3", "h1"],
            S.OPENED_AT: [date(2024, 2, 20), date(2023, 3, 1), None, None],
            S.PHONE: ["+1 555 0101", "+1 555 0101 ", "+1 555 0199", None],
            S.DEVICE_ID: ["dev1", "dev9", "dev1", "dev1"],
        },
        schema_overrides={S.OPENED_AT: pl.Date},
    )
    lf = txns([("A", "B", 10, 14), ("C", "D", 10, 0)])
    fr = account_features(lf, accounts=accounts)
    # first activity 2024-03-02 00:00 (leap year)
    assert row(fr, "A")["account_age_days"] == pytest.approx(11.0)
    assert row(fr, "B")["account_age_days"] == pytest.approx(367.0)
    assert row(fr, "C")["account_age_days"] is None
    # A: phone shared with h2 (1 other holder), device shared with h3 (D is A's own holder)
    assert row(fr, "A")["shared_id_holders"] == 2
    assert row(fr, "B")["shared_id_holders"] == 1
    assert row(fr, "C")["shared_id_holders"] == 1


def test_label_columns_are_never_read():
    rows = [("A", "B", 100, 0), ("B", "C", 90, 1), ("C", "A", 80, 30)]
    plain = account_features(txns(rows)).frame
    labelled = account_features(
        txns(rows, **{S.IS_LAUNDERING: [True, True, False], S.TYPOLOGY: ["cycle", "cycle", None]})
    ).frame
    flipped = account_features(
        txns(rows, **{S.IS_LAUNDERING: [False, False, True], S.TYPOLOGY: [None, None, "x"]})
    ).frame
    assert plain.equals(labelled)
    assert plain.equals(flipped)
    assert not set(S.LABEL_COLUMNS) & set(labelled.columns)


def test_missing_required_column_is_a_clear_input_error():
    lf = txns([("A", "B", 10, 0)]).drop(S.AMOUNT)
    with pytest.raises(InputError) as err:
        account_features(lf)
    assert err.value.column == S.AMOUNT


def test_wrong_dtypes_are_clear_input_errors():
    lf = txns([("A", "B", 10, 0)]).with_columns(pl.col(S.TIMESTAMP).cast(pl.String))
    with pytest.raises(InputError) as err:
        account_features(lf)
    assert err.value.column == S.TIMESTAMP
    lf = txns([("A", "B", 10, 0)]).with_columns(pl.col(S.AMOUNT).cast(pl.String))
    with pytest.raises(InputError) as err:
        account_features(lf)
    assert err.value.column == S.AMOUNT


def test_accepts_an_eager_frame_and_an_empty_table():
    fr = account_features(txns([("A", "B", 10, 0)]).collect())
    assert fr.frame.height == 2
    empty = account_features(txns([]))
    assert empty.frame.height == 0
    assert S.ACCOUNT_ID in empty.frame.columns


def test_daily_timestamps_count_same_day_inflow_as_arriving_first():
    # an export with dates only: the outflow is listed before the inflow of the same day
    fr = account_features(
        txns(
            [("M", "R", 1000, 0), ("S", "M", 1000, 0), ("S", "M", 500, 48)],
            t0=datetime(2024, 3, 1),
        )
    )
    m = row(fr, "M")
    assert m["flow_through_24h"] == pytest.approx(1000 / 1500)
    assert m["holding_hours"] == pytest.approx(0.0)  # median of [0, never] → the one known
    assert m["active_days"] == 2


def test_many_accounts_do_not_mix_in_running_sums():
    # interleaved accounts: each passes on exactly half of what it receives, 1 h later
    rows = []
    for i in range(50):
        rows += [(f"S{i}", f"M{i}", 100 + i, i), (f"M{i}", f"R{i}", (100 + i) / 2, i + 1)]
    got = account_features(txns(rows)).frame.filter(pl.col(S.ACCOUNT_ID).str.starts_with("M"))
    assert got.height == 50
    assert got["flow_through_24h"].to_list() == pytest.approx([0.5] * 50)
    assert got["holding_hours"].null_count() == 50


def test_one_sided_accounts_flow_through_and_stable_column_order():
    # X only receives (from a sender and via a merchant-free transfer), A only sends
    fr = account_features(
        txns([("A", "X", 100, 0), ("B", "X", 50, 30), ("B", "Z", 0, 31), ("Z", "B", 10, 40)])
    )
    x = row(fr, "X")
    assert x["flow_through_24h"] == 0.0 and x["flow_through_72h"] == 0.0  # kept it all
    assert x["holding_hours"] is None  # never sent on
    assert row(fr, "A")["flow_through_24h"] is None  # received nothing
    z = row(fr, "Z")  # received only a zero amount, then sent: nothing to pass on
    assert z["flow_through_24h"] is None
    assert x["active_days"] == 2 and x["active_span_days"] == pytest.approx(30 / 24)
    cols = fr.frame.columns
    # timing features sit between the amount shape and the cash shares, as always
    assert cols.index("amount_cv") + 1 == cols.index("active_days")
    assert cols.index("burstiness") + 1 == cols.index("cash_in_share")
    assert cols[0] == S.ACCOUNT_ID


def test_legs_within_one_second_do_not_make_features_depend_on_row_order():
    # A's legs at 10.2 s and 10.7 s, then 20.5 s: gaps count whole seconds
    base = datetime(2024, 3, 1, 10, 0, 0)
    rows = [
        ("A", "B", 10, base + timedelta(seconds=10.2)),
        ("A", "C", 20, base + timedelta(seconds=10.7)),
        ("A", "B", 30, base + timedelta(seconds=20.5)),
        ("A", "C", 40, base + timedelta(seconds=95)),
    ]

    def frame(order):
        picked = [rows[i] for i in order]
        data = {
            S.TXN_ID: [f"t{i}" for i in order],
            S.FROM_ACCOUNT: [r[0] for r in picked],
            S.TO_ACCOUNT: [r[1] for r in picked],
            S.AMOUNT: [float(r[2]) for r in picked],
            S.TIMESTAMP: [r[3] for r in picked],
        }
        schema = {c: S.TRANSACTION_SCHEMA[c] for c in data}
        return account_features(pl.DataFrame(data, schema=schema).lazy()).frame

    one, other = frame([0, 1, 2, 3]), frame([1, 0, 3, 2])
    assert one.equals(other)
    a = one.filter(pl.col(S.ACCOUNT_ID) == "A").row(0, named=True)
    gaps = [0.0, 10.0, 75.0]  # whole seconds 10, 10, 20, 95
    mean = sum(gaps) / 3
    std = (sum((g - mean) ** 2 for g in gaps) / 2) ** 0.5
    assert a["burstiness"] == pytest.approx(std / mean)
    assert a["active_span_days"] == pytest.approx(84 / 86400)  # 84.8 s, in whole seconds


def test_ids_sharing_a_hash_fall_back_to_joining_on_the_ids(monkeypatch):
    """Accounts are coded through 64-bit hashes of their ids unless two ids share
    one; then the ids themselves are joined, with the same features."""
    lf = txns(
        [("A", "B", 100, 0), ("B", "C", 90, 5), ("C", "A", 80, 30), ("D", "B", 5, 40)]
        + [(f"X{i}", "C", 10 + i, i) for i in range(20)]
    )
    hashed = account_features(lf).frame
    monkeypatch.setattr(
        pl.Series, "hash", lambda self, *a, **k: pl.Series(self.name, [7] * self.len(), pl.UInt64)
    )
    fallback = account_features(lf).frame
    # equal up to the last bits of parallel float sums (amount_cv varies there)
    assert_frame_equal(fallback, hashed, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    assert row(account_features(lf), "B")["in_counterparties"] == 2


def test_inflows_of_one_day_give_holding_times_whatever_the_row_order():
    """Daily exports: inflows of one day are taken first in, first out by amount,
    not by their position in the file."""
    rows = [("S1", "A", 100, 0), ("S2", "A", 10, 0), ("S3", "A", 50, 0), ("A", "R", 100, 24)]
    rows += [("A", "R", 60, 72)]

    def holding(order):
        fr = account_features(txns([rows[i] for i in order], t0=datetime(2024, 3, 1)))
        return row(fr, "A")["holding_hours"], fr.frame

    first, frame = holding([0, 1, 2, 3, 4])
    for order in ([2, 1, 0, 4, 3], [1, 2, 0, 3, 4], [4, 0, 2, 1, 3]):
        other, other_frame = holding(order)
        assert other_frame.equals(frame)
    # 10 then 50 sent on after 24 h (the 100 out covers them and 40 of the 100 in),
    # the 100 in after 72 h: holding times 24, 24, 72
    assert first == 24.0
