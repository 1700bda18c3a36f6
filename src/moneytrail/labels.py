"""Ground-truth label files, read into one shape for evaluation.

Labels are for measuring only: no detector imports this module. Four kinds of
file are understood, detected from their header when ``kind`` is not given:

- ``generator``: ``labels.csv`` of ``moneytrail generate`` (account_id, case_id,
  typology, role), with ``lookalikes.csv`` (account_id, group) beside it.
- ``amlsim``: IBM AMLSim ``alert_accounts.csv``. Members of ``is_sar=True``
  alerts are positive; members of ``is_sar=False`` alerts are legitimate
  look-alikes (same shape, not laundering).
- ``amlsim-2019``: the old AMLSim ``nodes.csv`` (``nodeid,isFraud``). It names no
  pattern, so the typology comes from the folder name (``20K_cycle200`` -> cycle)
  when exactly one known typology is in it, else ``unknown``.
- ``transactions``: a canonical transactions file (csv or parquet, e.g. a scan's
  ``transactions.parquet``) or an IBM AMLworld ``*_Trans.csv`` with a laundering
  flag. An account is positive when it sends or receives a laundering
  transaction. An AMLworld ``*_Patterns.txt`` beside the file gives typologies
  and attempts (cases).

Account ids are made the way ingest makes them, so they match a scan's ids:
AMLSim ``acct_id`` as a string, AMLworld ``"<bank>:<account>"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import InputError

KINDS = ("generator", "amlsim", "amlsim-2019", "transactions")

# Roles that are never the subject of a report (FinCEN asks that victims not be
# reported as subjects), so a case is "found" only through its other members.
NON_CORE_ROLES = S.VICTIM_ROLES

UNKNOWN_TYPOLOGY = "unknown"

# Column names of the external label files (their own vocabulary, not ours).
_AMLSIM_ALERT = "alert_id"
_AMLSIM_TYPE = "alert_type"
_AMLSIM_ACCOUNT = "acct_id"
_AMLSIM_SAR = "is_sar"
_AMLSIM2019_NODE = "nodeid"
_AMLSIM2019_FRAUD = "isFraud"
LOOKALIKE_GROUP = S.LB_GROUP  # lookalikes.csv: which benign group
_AMLWORLD_HEADER_START = ("Timestamp", "From Bank", "Account", "To Bank", "Account")
_AMLWORLD_LABEL = "Is Laundering"
_AMLWORLD_N_FIELDS = 11

LOOKALIKES_FILE = "lookalikes.csv"
GENERATOR_LABELS_FILE = "labels.csv"
_DIRECTORY_CANDIDATES = (
    GENERATOR_LABELS_FILE,
    "alert_accounts.csv",
    "nodes.csv",
    S.TRANSACTIONS_FILE,
    "transactions.csv",
)

# Folder-name tokens of the 2019 AMLSim sample sets, to typology names.
_FOLDER_TYPOLOGIES = {
    "fanin": "fan_in",
    "fanout": "fan_out",
    "cycle": "cycle",
    "scattergather": "scatter_gather",
    "gatherscatter": "gather_scatter",
}

LABEL_SCHEMA = {
    S.LB_ACCOUNT: pl.String(),
    S.LB_CASE: pl.String(),
    S.LB_TYPOLOGY: pl.String(),
    S.LB_ROLE: pl.String(),
}
LOOKALIKE_SCHEMA = {S.LB_ACCOUNT: pl.String(), LOOKALIKE_GROUP: pl.String()}


@dataclass
class Labels:
    """Ground truth at account level.

    ``positives`` has one row per (account, case, typology, role): an account can
    sit in several cases. ``lookalikes`` lists legitimate accounts that look like
    laundering (account_id, group). ``universe`` is every account the label file
    knows of (None when it only lists positives); accounts in it that a scan did
    not score count as unranked negatives.
    """

    positives: pl.DataFrame
    lookalikes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LOOKALIKE_SCHEMA))
    universe: pl.Series | None = None
    kind: str = ""
    source: str = ""

    @property
    def positive_ids(self) -> pl.Series:
        return self.positives.get_column(S.LB_ACCOUNT).unique().sort()

    @property
    def n_positives(self) -> int:
        return self.positive_ids.len()

    @property
    def typologies(self) -> list[str]:
        return sorted(self.positives.get_column(S.LB_TYPOLOGY).unique().to_list())

    @property
    def has_cases(self) -> bool:
        return self.positives.get_column(S.LB_CASE).null_count() < self.positives.height


def normalise_typology(expr: pl.Expr) -> pl.Expr:
    """``FAN-OUT``, ``Fan Out`` and ``fan_out`` are one typology."""
    return (
        expr.cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"[\s\-]+", "_")
        .fill_null(UNKNOWN_TYPOLOGY)
        .replace("", UNKNOWN_TYPOLOGY)
    )


def read_labels(path: str | Path, kind: str | None = None) -> Labels:
    """Read a label file (or a folder holding one); ``kind`` is detected when None."""
    path = Path(path)
    if path.is_dir():
        path = _label_file_in(path)
    if not path.exists():
        raise InputError("label file not found", file=str(path))
    if kind is None:
        kind = detect_kind(path)
    if kind not in KINDS:
        raise InputError(
            f"unknown label kind {kind!r}", file=str(path), hint=f"kinds: {', '.join(KINDS)}"
        )
    reader = {
        "generator": _read_generator,
        "amlsim": _read_amlsim,
        "amlsim-2019": _read_amlsim_2019,
        "transactions": _read_transactions,
    }[kind]
    labels = reader(path)
    labels.kind = kind
    labels.source = str(path)
    if labels.positives.height == 0:
        raise InputError(
            "the label file names no positive (laundering) account",
            file=str(path),
            hint="evaluation needs at least one labelled positive",
        )
    # An account that is positive is not also a legitimate look-alike.
    labels.lookalikes = labels.lookalikes.filter(
        ~pl.col(S.LB_ACCOUNT).is_in(labels.positive_ids.implode())
    ).unique(S.LB_ACCOUNT, keep="first", maintain_order=True)
    return labels


def detect_kind(path: Path) -> str:
    """Tell the label kind from the file's header."""
    if path.suffix.lower() == ".parquet":
        names = pl.read_parquet_schema(path).keys()
        if S.IS_LAUNDERING in names:
            return "transactions"
        raise InputError(
            f"parquet file has no {S.IS_LAUNDERING!r} column to take labels from",
            file=str(path),
        )
    header = _header(path)
    names = set(header)
    if {_AMLSIM_ALERT, _AMLSIM_ACCOUNT, _AMLSIM_SAR} <= names:
        return "amlsim"
    if {_AMLSIM2019_NODE, _AMLSIM2019_FRAUD} <= names:
        return "amlsim-2019"
    if {S.LB_ACCOUNT, S.LB_CASE, S.LB_TYPOLOGY} <= names:
        return "generator"
    if S.IS_LAUNDERING in names or _AMLWORLD_LABEL in names:
        return "transactions"
    raise InputError(
        "cannot tell what kind of label file this is",
        file=str(path),
        hint=(
            "expected the generator's labels.csv (account_id,case_id,typology,role), AMLSim "
            "alert_accounts.csv or nodes.csv, or a transactions file with is_laundering"
        ),
    )


def _label_file_in(folder: Path) -> Path:
    for name in _DIRECTORY_CANDIDATES:
        candidate = folder / name
        if candidate.exists():
            return candidate
    raise InputError(
        "no label file in this folder",
        file=str(folder),
        hint=f"looked for {', '.join(_DIRECTORY_CANDIDATES)}",
    )


def _header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            line = handle.readline()
    except OSError as exc:
        raise InputError(f"cannot read label file: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("label file is not UTF-8 text", file=str(path)) from None
    return [name.strip().strip('"') for name in line.rstrip("\r\n").split(",")]


def _read_csv_strings(path: Path, **kwargs) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema=False, **kwargs)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise InputError(f"cannot parse label file: {exc}", file=str(path)) from None


def _require(df: pl.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"label file lacks column(s) {', '.join(missing)}",
            file=str(path),
            column=missing[0],
        )


def _parse_bool(df: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """True/False, 1/0, yes/no; anything else is an error naming the first bad row."""
    text = df.get_column(column).str.strip_chars().str.to_lowercase()
    value = text.replace_strict(
        ["true", "1", "yes", "t", "1.0", "false", "0", "no", "f", "0.0"],
        [True] * 5 + [False] * 5,
        default=None,
        return_dtype=pl.Boolean,
    )
    require_parsed(df.get_column(column), value, path, "not a true/false value")
    return value.fill_null(False)


def require_parsed(raw: pl.Series, parsed: pl.Series, path: Path, what: str) -> None:
    """Raise an InputError naming the first row whose text did not parse (null after)."""
    bad = (parsed.is_null() & raw.is_not_null()).arg_true()
    if bad.len():
        row = int(bad[0])
        raise InputError(f"{what}: {raw[row]!r}", file=str(path), row=row + 1, column=raw.name)


def _positives_frame(df: pl.DataFrame) -> pl.DataFrame:
    return (
        df.select(
            [
                (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype).alias(name)
                for name, dtype in LABEL_SCHEMA.items()
            ]
        )
        .with_columns(normalise_typology(pl.col(S.LB_TYPOLOGY)))
        .filter(pl.col(S.LB_ACCOUNT).is_not_null() & (pl.col(S.LB_ACCOUNT) != ""))
        .unique(maintain_order=True)
    )


def _read_generator(path: Path) -> Labels:
    df = _read_csv_strings(path)
    _require(df, (S.LB_ACCOUNT, S.LB_CASE, S.LB_TYPOLOGY), path)
    lookalikes = pl.DataFrame(schema=LOOKALIKE_SCHEMA)
    beside = path.with_name(LOOKALIKES_FILE)
    if beside.exists():
        raw = _read_csv_strings(beside)
        _require(raw, (S.LB_ACCOUNT,), beside)
        lookalikes = raw.select(
            pl.col(S.LB_ACCOUNT),
            (pl.col(LOOKALIKE_GROUP) if LOOKALIKE_GROUP in raw.columns else pl.lit("lookalike"))
            .cast(pl.String)
            .alias(LOOKALIKE_GROUP),
        )
    return Labels(positives=_positives_frame(df), lookalikes=lookalikes)


def _read_amlsim(path: Path) -> Labels:
    df = _read_csv_strings(path)
    _require(df, (_AMLSIM_ALERT, _AMLSIM_ACCOUNT, _AMLSIM_SAR), path)
    df = df.with_columns(
        _parse_bool(df, _AMLSIM_SAR, path).alias(_AMLSIM_SAR),
        pl.col(_AMLSIM_ACCOUNT).str.strip_chars(),
        (pl.col(_AMLSIM_TYPE) if _AMLSIM_TYPE in df.columns else pl.lit(None)).alias(_AMLSIM_TYPE),
    )
    sar = df.filter(pl.col(_AMLSIM_SAR))
    positives = _positives_frame(
        sar.select(
            pl.col(_AMLSIM_ACCOUNT).alias(S.LB_ACCOUNT),
            ("alert " + pl.col(_AMLSIM_ALERT)).alias(S.LB_CASE),
            pl.col(_AMLSIM_TYPE).alias(S.LB_TYPOLOGY),
        )
    )
    lookalikes = df.filter(~pl.col(_AMLSIM_SAR)).select(
        pl.col(_AMLSIM_ACCOUNT).alias(S.LB_ACCOUNT),
        (normalise_typology(pl.col(_AMLSIM_TYPE)) + pl.lit(" (is_sar=False alert)")).alias(
            LOOKALIKE_GROUP
        ),
    )
    return Labels(positives=positives, lookalikes=lookalikes)


def typology_from_folder(folder_name: str) -> str:
    """``20K_cycle200`` -> cycle; a name with none or several known typologies -> unknown."""
    squashed = re.sub(r"[^a-z]", "", folder_name.lower())
    found = {typology for token, typology in _FOLDER_TYPOLOGIES.items() if token in squashed}
    return found.pop() if len(found) == 1 else UNKNOWN_TYPOLOGY


def _read_amlsim_2019(path: Path) -> Labels:
    df = _read_csv_strings(path)
    _require(df, (_AMLSIM2019_NODE, _AMLSIM2019_FRAUD), path)
    df = df.with_columns(
        pl.col(_AMLSIM2019_NODE).str.strip_chars(),
        _parse_bool(df, _AMLSIM2019_FRAUD, path).alias(_AMLSIM2019_FRAUD),
    )
    typology = typology_from_folder(path.resolve().parent.name)
    positives = _positives_frame(
        df.filter(pl.col(_AMLSIM2019_FRAUD)).select(
            pl.col(_AMLSIM2019_NODE).alias(S.LB_ACCOUNT),
            pl.lit(typology).alias(S.LB_TYPOLOGY),
        )
    )
    return Labels(positives=positives, universe=df.get_column(_AMLSIM2019_NODE))


def _read_transactions(path: Path) -> Labels:
    if path.suffix.lower() == ".parquet":
        frame = pl.scan_parquet(path)
    elif _header(path)[: len(_AMLWORLD_HEADER_START)] == list(_AMLWORLD_HEADER_START):
        return _read_amlworld(path)
    else:
        frame = pl.scan_csv(path, infer_schema=False)
    names = frame.collect_schema().names()
    missing = [c for c in (S.FROM_ACCOUNT, S.TO_ACCOUNT, S.IS_LAUNDERING) if c not in names]
    if missing:
        raise InputError(
            f"transactions file lacks column(s) {', '.join(missing)}",
            file=str(path),
            column=missing[0],
            hint="label a transactions file with the canonical is_laundering column",
        )
    typology = pl.col(S.TYPOLOGY) if S.TYPOLOGY in names else pl.lit(None, pl.String)
    flag = pl.col(S.IS_LAUNDERING)
    if frame.collect_schema()[S.IS_LAUNDERING] == pl.String:
        flag = flag.str.to_lowercase().is_in(["true", "1", "yes", "1.0"])
    edges = frame.select(
        pl.col(S.FROM_ACCOUNT).cast(pl.String),
        pl.col(S.TO_ACCOUNT).cast(pl.String),
        flag.cast(pl.Boolean).fill_null(False).alias(S.IS_LAUNDERING),
        typology.cast(pl.String).alias(S.LB_TYPOLOGY),
    )
    return _labels_from_edges(edges, attempts=None)


def _labels_from_edges(edges: pl.LazyFrame, attempts: pl.DataFrame | None) -> Labels:
    """Accounts on either side of a laundering transaction are positive.

    ``edges``: from_account, to_account, is_laundering, typology (lazy).
    ``attempts``: optional account_id, case_id, typology from a patterns file.
    """
    sides = pl.concat(
        [
            edges.select(
                pl.col(S.FROM_ACCOUNT).alias(S.LB_ACCOUNT), S.IS_LAUNDERING, S.LB_TYPOLOGY
            ),
            edges.select(pl.col(S.TO_ACCOUNT).alias(S.LB_ACCOUNT), S.IS_LAUNDERING, S.LB_TYPOLOGY),
        ]
    ).filter(pl.col(S.LB_ACCOUNT) != S.CASH_NODE)
    collected = pl.collect_all(
        [
            sides.select(pl.col(S.LB_ACCOUNT).unique()),
            sides.filter(pl.col(S.IS_LAUNDERING)).select(S.LB_ACCOUNT, S.LB_TYPOLOGY).unique(),
        ]
    )
    universe, flagged = collected
    if attempts is not None and attempts.height:
        in_attempt = attempts.filter(
            pl.col(S.LB_ACCOUNT).is_in(flagged.get_column(S.LB_ACCOUNT).implode())
        )
        outside = flagged.filter(~pl.col(S.LB_ACCOUNT).is_in(in_attempt[S.LB_ACCOUNT].implode()))
        flagged = pl.concat(
            [in_attempt, outside.with_columns(pl.lit(None, pl.String).alias(S.LB_CASE))],
            how="diagonal_relaxed",
        )
    else:
        # A typology column names typologies; rows of an account with and without
        # one keep the named one.
        named = flagged.filter(pl.col(S.LB_TYPOLOGY).is_not_null())
        flagged = pl.concat(
            [named, flagged.filter(~pl.col(S.LB_ACCOUNT).is_in(named[S.LB_ACCOUNT].implode()))]
        )
    return Labels(positives=_positives_frame(flagged), universe=universe.get_column(S.LB_ACCOUNT))


def _read_amlworld(path: Path) -> Labels:
    """AMLworld ``*_Trans.csv``: read by position, the header names ``Account`` twice."""
    try:
        raw = pl.scan_csv(path, has_header=False, skip_rows=1, infer_schema=False)
        names = raw.collect_schema().names()
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise InputError(f"cannot parse AMLworld file: {exc}", file=str(path)) from None
    if len(names) != _AMLWORLD_N_FIELDS:
        raise InputError(
            f"an AMLworld transactions file has {_AMLWORLD_N_FIELDS} fields, this has {len(names)}",
            file=str(path),
        )
    edges = _amlworld_edges(raw, names)
    patterns = _patterns_beside(path)
    return _labels_from_edges(edges, attempts=patterns)


def _amlworld_edges(raw: pl.LazyFrame, names: list[str]) -> pl.LazyFrame:
    from_bank, from_acct, to_bank, to_acct, label = (names[i] for i in (1, 2, 3, 4, 10))
    return raw.select(
        (pl.col(from_bank).str.strip_chars() + ":" + pl.col(from_acct).str.strip_chars()).alias(
            S.FROM_ACCOUNT
        ),
        (pl.col(to_bank).str.strip_chars() + ":" + pl.col(to_acct).str.strip_chars()).alias(
            S.TO_ACCOUNT
        ),
        (pl.col(label).str.strip_chars() == "1").alias(S.IS_LAUNDERING),
        pl.lit(None, pl.String).alias(S.LB_TYPOLOGY),
    )


def _patterns_beside(path: Path) -> pl.DataFrame | None:
    """The ``*_Patterns.txt`` of an AMLworld ``*_Trans.csv``, if one sits beside it."""
    stem = path.stem
    candidates = []
    if stem.endswith("_Trans"):
        candidates.append(path.with_name(stem[: -len("_Trans")] + "_Patterns.txt"))
    candidates += sorted(path.parent.glob("*[Pp]atterns*.txt"))
    for candidate in candidates:
        if candidate.exists():
            return read_amlworld_patterns(candidate)
    return None


def read_amlworld_patterns(path: str | Path) -> pl.DataFrame:
    """Accounts of each laundering attempt in an AMLworld ``*_Patterns.txt``.

    Returns account_id, case_id ("attempt <n>", numbered from 1 in file order),
    typology. Vectorised over the lines: the file of the full sets has thousands.
    """
    path = Path(path)
    try:
        lines = pl.read_csv(
            path,
            has_header=False,
            new_columns=["line"],
            separator="\x1f",
            quote_char=None,
            infer_schema=False,
        )
    except pl.exceptions.NoDataError:
        return pl.DataFrame(
            schema={S.LB_ACCOUNT: pl.String, S.LB_CASE: pl.String, S.LB_TYPOLOGY: pl.String}
        )
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise InputError(f"cannot read patterns file: {exc}", file=str(path)) from None
    line = pl.col("line").str.strip_chars()
    begin = line.str.starts_with("BEGIN LAUNDERING ATTEMPT")
    end = line.str.starts_with("END LAUNDERING ATTEMPT")
    marked = lines.with_columns(
        begin.cum_sum().alias("attempt"),
        pl.when(begin)
        .then(line.str.extract(r"ATTEMPT\s*-\s*([^:]+)", 1))
        .otherwise(None)
        .forward_fill()
        .alias(S.LB_TYPOLOGY),
        # Inside an attempt: after its BEGIN and before its END.
        (begin.cum_sum() > end.cum_sum()).alias("inside"),
    ).filter(pl.col("inside") & ~begin & (line != ""))
    fields = marked.with_columns(line.str.split(",").alias("fields")).filter(
        pl.col("fields").list.len() == _AMLWORLD_N_FIELDS
    )

    def side(bank: int, account: int) -> pl.Expr:
        return (
            pl.col("fields").list.get(bank).str.strip_chars()
            + ":"
            + pl.col("fields").list.get(account).str.strip_chars()
        ).alias(S.LB_ACCOUNT)

    case = ("attempt " + pl.col("attempt").cast(pl.String)).alias(S.LB_CASE)
    typology = normalise_typology(pl.col(S.LB_TYPOLOGY))
    return (
        pl.concat(
            [
                fields.select(side(1, 2), case, typology, "attempt"),
                fields.select(side(3, 4), case, typology, "attempt"),
            ]
        )
        .unique(maintain_order=True)
        .sort("attempt", S.LB_ACCOUNT)
        .drop("attempt")
    )
