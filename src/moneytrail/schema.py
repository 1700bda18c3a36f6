"""Canonical column names and dtypes: the one place they are spelled out.

Every other module imports names from here. The tables are described in
DESIGN.md; the comments below say only what is not obvious from the name.
"""

from __future__ import annotations

import polars as pl

# --------------------------------------------------------------------------
# Transactions: one row per movement of money
# --------------------------------------------------------------------------
TXN_ID = "txn_id"
TIMESTAMP = "timestamp"  # local time where the transaction happened (night rules need it)
AMOUNT = "amount"  # > 0, in CURRENCY
CURRENCY = "currency"
FROM_ACCOUNT = "from_account"
TO_ACCOUNT = "to_account"
FROM_BANK = "from_bank"
TO_BANK = "to_bank"
CHANNEL = "channel"
MCC = "mcc"  # ISO 18245 merchant category code
MERCHANT = "merchant"
MEMO = "memo"
LOCATION_CITY = "location_city"  # branch, ATM or merchant city (cash and card rows)
LOCATION_COUNTRY = "location_country"
FROM_COUNTRY = "from_country"
TO_COUNTRY = "to_country"
IS_LAUNDERING = "is_laundering"  # ground truth: read only by evaluate
TYPOLOGY = "typology"  # ground truth: read only by evaluate
SOURCE_FILE = "source_file"  # provenance: the export the row came from
SOURCE_ROW = "source_row"  # provenance: 1-based data row number in that file

CHANNELS: tuple[str, ...] = (
    "cash",
    "wire",
    "ach",
    "card",
    "p2p",
    "cheque",
    "crypto",
    "remittance",
    "other",
)
CHANNEL_DTYPE = pl.Enum(list(CHANNELS))

# Cash, merchants and foreign accounts are nodes too: a cash deposit comes
# from CASH_NODE and a withdrawal goes to it.
CASH_NODE = "CASH"

TRANSACTION_SCHEMA: dict[str, pl.DataType] = {
    TXN_ID: pl.String(),
    TIMESTAMP: pl.Datetime("us"),
    AMOUNT: pl.Float64(),
    CURRENCY: pl.String(),
    FROM_ACCOUNT: pl.String(),
    TO_ACCOUNT: pl.String(),
    FROM_BANK: pl.String(),
    TO_BANK: pl.String(),
    CHANNEL: CHANNEL_DTYPE,
    MCC: pl.Int32(),
    MERCHANT: pl.String(),
    MEMO: pl.String(),
    LOCATION_CITY: pl.String(),
    LOCATION_COUNTRY: pl.String(),
    FROM_COUNTRY: pl.String(),
    TO_COUNTRY: pl.String(),
    IS_LAUNDERING: pl.Boolean(),
    TYPOLOGY: pl.String(),
    SOURCE_FILE: pl.String(),
    SOURCE_ROW: pl.Int64(),
}

REQUIRED_TRANSACTION_COLUMNS: tuple[str, ...] = (TIMESTAMP, AMOUNT, FROM_ACCOUNT, TO_ACCOUNT)
LABEL_COLUMNS: tuple[str, ...] = (IS_LAUNDERING, TYPOLOGY)
PROVENANCE_COLUMNS: tuple[str, ...] = (SOURCE_FILE, SOURCE_ROW)

# --------------------------------------------------------------------------
# Accounts: optional know-your-customer table
# --------------------------------------------------------------------------
ACCOUNT_ID = "account_id"
HOLDER_ID = "holder_id"
HOLDER_NAME = "holder_name"
HOLDER_TYPE = "holder_type"  # "person" or "business"
OPENED_AT = "opened_at"
BIRTH_DATE = "birth_date"
AGE = "age"
COUNTRY = "country"
CITY = "city"
ADDRESS = "address"
PHONE = "phone"
EMAIL = "email"
DEVICE_ID = "device_id"
IP = "ip"
BUSINESS_CATEGORY = "business_category"  # for businesses: what they say they do (e.g. "massage")
BANK = "bank"

HOLDER_TYPES: tuple[str, ...] = ("person", "business")

ACCOUNT_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT_ID: pl.String(),
    HOLDER_ID: pl.String(),
    HOLDER_NAME: pl.String(),
    HOLDER_TYPE: pl.String(),
    OPENED_AT: pl.Date(),
    BIRTH_DATE: pl.Date(),
    AGE: pl.Int32(),
    COUNTRY: pl.String(),
    CITY: pl.String(),
    ADDRESS: pl.String(),
    PHONE: pl.String(),
    EMAIL: pl.String(),
    DEVICE_ID: pl.String(),
    IP: pl.String(),
    BUSINESS_CATEGORY: pl.String(),
    BANK: pl.String(),
}
REQUIRED_ACCOUNT_COLUMNS: tuple[str, ...] = (ACCOUNT_ID,)

# Identifiers that, shared across different holders, are evidence in themselves.
SHARED_IDENTIFIER_COLUMNS: tuple[str, ...] = (ADDRESS, PHONE, EMAIL, DEVICE_ID, IP)

# --------------------------------------------------------------------------
# Evidence: the one table every detector writes and scoring reads
# --------------------------------------------------------------------------
EV_ACCOUNT = "account_id"
EV_DETECTOR = "detector"  # one of DETECTORS
EV_CODE = "code"  # rule code, pattern name or outlier model
EV_SCORE = "score"  # 0..1 strength
EV_SEVERITY = "severity"  # one of SEVERITIES
EV_WINDOW_START = "window_start"
EV_WINDOW_END = "window_end"
EV_TXN_IDS = "txn_ids"  # supporting transactions
EV_REASON = "reason"  # one human sentence with the numbers that fired
# Members of one detected pattern instance (a cycle, a fan-in, a cluster of
# shared identifiers) carry the same instance id, so cases can link them.
EV_INSTANCE = "instance_id"
# The detector's hypothesis of the account's part in what it saw
# (one of ROLES, or null when it has none).
EV_ROLE = "role"

DETECTORS: tuple[str, ...] = ("rule", "pattern", "outlier")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
ROLES: tuple[str, ...] = (
    "controller",  # trafficker / pimp controlling other accounts
    "victim",  # FinCEN: never reported as the subject
    "collector",  # gathers many payments and sweeps them on
    "front_business",
    "buyer",  # pays for sexual exploitation (e.g. OCSE live-stream consumer)
    "facilitator",  # mule, intermediary, pass-through
    "extortion_victim",  # sextortion payer
    "launderer",  # generic laundering typology member with no trafficking role
)
# FinCEN asks that a suspected victim never be reported as the subject.
VICTIM_ROLES = frozenset({"victim", "extortion_victim"})
# Roles read off the shape of the money alone (a spoke of a fan, a hop of a chain).
STRUCTURAL_ROLES = frozenset({"facilitator", "launderer"})

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    EV_ACCOUNT: pl.String(),
    EV_DETECTOR: pl.String(),
    EV_CODE: pl.String(),
    EV_SCORE: pl.Float64(),
    EV_SEVERITY: pl.String(),
    EV_WINDOW_START: pl.Datetime("us"),
    EV_WINDOW_END: pl.Datetime("us"),
    EV_TXN_IDS: pl.List(pl.String()),
    EV_REASON: pl.String(),
    EV_INSTANCE: pl.String(),
    EV_ROLE: pl.String(),
}

# --------------------------------------------------------------------------
# Scan outputs (OUTDIR): file names and the columns of scores.csv / alerts.csv
# --------------------------------------------------------------------------
SCORES_FILE = "scores.csv"
ALERTS_FILE = "alerts.csv"
EVIDENCE_FILE = "evidence.parquet"
CASES_FILE = "cases.json"
QUARANTINE_FILE = "quarantine.csv"
MANIFEST_FILE = "manifest.json"
TRANSACTIONS_FILE = "transactions.parquet"  # the canonical table the scan read
ACCOUNTS_FILE = "accounts.parquet"  # present when --accounts was given
FEATURES_FILE = "features.parquet"  # account features the outlier models saw
REPORT_FILE = "report.html"

SC_ACCOUNT = "account_id"
SC_RISK = "risk_score"  # 0..1
SC_RANK = "rank"  # 1 = riskiest
SC_LEVEL = "level"  # one of SEVERITIES, or "none"
SC_ROLE = "role"  # role hypothesis or empty
SC_N_EVIDENCE = "n_evidence"
SC_CODES = "codes"  # the distinct evidence codes, ";"-joined
SC_REASONS = "top_reasons"  # the strongest reasons, " | "-joined
SC_CASE = "case_id"  # in alerts.csv: the case the account belongs to (may be empty)

SCORE_COLUMNS: tuple[str, ...] = (
    SC_ACCOUNT,
    SC_RISK,
    SC_RANK,
    SC_LEVEL,
    SC_ROLE,
    SC_N_EVIDENCE,
    SC_CODES,
    SC_REASONS,
)

# Quarantine file columns
Q_FILE = "source_file"
Q_ROW = "source_row"
Q_COLUMN = "column"
Q_VALUE = "value"
Q_REASON = "reason"
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    Q_FILE: pl.String(),
    Q_ROW: pl.Int64(),
    Q_COLUMN: pl.String(),
    Q_VALUE: pl.String(),
    Q_REASON: pl.String(),
}

# Label files written by the generator (and read by evaluate)
LB_ACCOUNT = "account_id"
LB_CASE = "case_id"
LB_TYPOLOGY = "typology"
LB_ROLE = "role"
LB_GROUP = "group"  # lookalikes.csv: the benign look-alike group of an account
