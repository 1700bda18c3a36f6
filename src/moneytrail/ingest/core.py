"""ingest(): exports in, one validated canonical table (+ quarantine) out."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.ingest.convert import (
    QCOLUMN,
    QVALUE,
    REASON,
    compile_source,
    file_label,
    first_error_line,
    lookup,
    lossy_notice,
)
from moneytrail.ingest.profiles import Profile, detect_profile, load_profile
from moneytrail.ingest.readers import Source, is_encoding_error, open_source, valid_utf8

T = TypeVar("T")

# Internal: a row's position in the validated table (never written out).
_POSITION = "__mt_position"

# Inputs smaller than this finish before a progress display would help.
PROGRESS_MIN_BYTES = 20_000_000


@dataclass(frozen=True)
class FileCount:
    """Rows of one input file; rows_read == accepted + quarantined always."""

    path: str
    rows_read: int
    accepted: int
    quarantined: int
    kind: str = "transactions"  # or "accounts"


@dataclass
class IngestResult:
    """What ``ingest`` read.

    ``transactions`` is the accepted canonical table: in memory (DataFrame), or, when
    ``ingest(..., out=PATH)`` wrote it, a LazyFrame scanning that Parquet file.
    """

    transactions: pl.DataFrame | pl.LazyFrame
    accounts: pl.DataFrame | None
    quarantine: pl.DataFrame
    files: list[FileCount]
    profile: str
    detected: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def rows_accepted(self) -> int:
        """Accepted transactions (the height of ``transactions``)."""
        return sum(f.accepted for f in self.files if f.kind == "transactions")

    def write(
        self,
        out_parquet: str | Path,
        quarantine_csv: str | Path | None = None,
        accounts_parquet: str | Path | None = None,
    ) -> None:
        """Write the canonical table (and the quarantine / accounts when asked)."""
        table = self.transactions
        if isinstance(table, pl.LazyFrame):
            _write(lambda p: table.sink_parquet(p), out_parquet)
        else:
            _write(lambda p: table.write_parquet(p), out_parquet)
        if quarantine_csv is not None:
            _write(lambda p: self.quarantine.write_csv(p), quarantine_csv)
        if accounts_parquet is not None and self.accounts is not None:
            _write(lambda p: self.accounts.write_parquet(p), accounts_parquet)


def _write(call, path: str | Path) -> None:
    p = Path(path)
    try:
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True)
        call(p)
    except OSError as exc:
        raise InputError(f"cannot write output: {exc.strerror or exc}", file=str(path)) from None


def _as_profile(profile: str | Path | Profile | None) -> Profile | None:
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(profile)


def _no_profile_error(src: Source, table: str) -> InputError:
    what = "transaction export" if table == "transactions" else "accounts table"
    return InputError(
        f"no built-in profile recognises this {what}. "
        f"Columns found: {', '.join(src.header) or '(none)'}",
        file=src.path,
        hint="pass --profile NAME (see `moneytrail profiles`) or --profile your_profile.yaml",
    )


def _unique_labels(paths: Sequence[str]) -> list[str]:
    """File stems for derived txn ids, made unique when two inputs share a stem."""
    labels, seen = [], {}
    for path in paths:
        stem = file_label(path)
        seen[stem] = seen.get(stem, 0) + 1
        labels.append(stem if seen[stem] == 1 else f"{stem}#{seen[stem]}")
    return labels


def _run(action: Callable[[pl.LazyFrame], T], compiled, sources: list[Source]) -> T:
    """``action`` on the files' frames concatenated, with the read errors handled.

    Bytes that are not UTF-8 past the sampled rows: the files at fault are read again
    with undecodable bytes replaced (and a notice). Any other failure is raised as an
    InputError naming the file at fault.
    """
    try:
        return action(pl.concat([c.frame for c in compiled], how="vertical"))
    except (pl.exceptions.PolarsError, OSError) as first:
        failure = first
    if is_encoding_error(failure):
        redo = [
            i
            for i, src in enumerate(sources)
            if src.kind == "csv" and not src.lossy and not valid_utf8(src)
        ]
        if redo:
            for i in redo:
                comp = compiled[i]
                lossy = replace(sources[i], lossy=True)
                again = compile_source(lossy, comp.profile, comp.table, comp.label)
                again.notices.append(lossy_notice(lossy.path))
                compiled[i], sources[i] = again, lossy
            return _run(action, compiled, sources)
    # Find the file at fault so the message can name it.
    for src, comp in zip(sources, compiled, strict=True):
        try:
            action(comp.frame)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(
                f"cannot read the file: {first_error_line(exc)}",
                file=src.path,
                hint="check the file is a complete, well-formed export",
            ) from None
    raise InputError(f"cannot read the input: {first_error_line(failure)}") from None


def _status(progress: bool, paths: Sequence[str], what: str):
    if not progress:
        return contextlib.nullcontext()
    size = 0
    for p in paths:
        with contextlib.suppress(OSError):
            size += Path(p).stat().st_size
    if size < PROGRESS_MIN_BYTES:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(
        f"{what} {len(paths)} file(s), {size / 1e6:,.0f} MB ...", spinner="dots"
    )


def _quarantine_view(frame: pl.LazyFrame, file_col: str, row_col: str) -> pl.LazyFrame:
    return frame.filter(pl.col(REASON).is_not_null()).select(
        pl.col(file_col).cast(pl.String).alias(S.Q_FILE),
        pl.col(row_col).cast(pl.Int64).alias(S.Q_ROW),
        pl.col(QCOLUMN).alias(S.Q_COLUMN),
        pl.col(QVALUE).alias(S.Q_VALUE),
        pl.col(REASON).alias(S.Q_REASON),
    )


def _mark_duplicates(table: pl.LazyFrame, key: str, reason: str) -> pl.LazyFrame:
    """Quarantine every otherwise good row whose key an earlier row already has.

    The earlier row may itself be quarantined for another reason: the id was
    taken either way. Keys are compared by hash first (one cheap pass that holds
    only the hashes); only rows whose hash repeats are read again and compared
    exactly.
    """
    hashed = table.select(pl.col(key).hash()).collect(engine="streaming").to_series()
    if hashed.n_unique() == hashed.len():  # no repeated hash: no duplicate
        return table
    candidates = hashed.is_duplicated().arg_true()
    del hashed
    rows = (
        table.select(key)
        .with_row_index(_POSITION)
        .filter(pl.col(_POSITION).is_in(candidates.implode()))
        .collect()
    )
    repeated = rows.filter(~pl.col(key).is_first_distinct()).get_column(_POSITION)
    flag = pl.col(_POSITION).is_in(repeated.implode()) & pl.col(REASON).is_null()
    return (
        table.with_row_index(_POSITION)
        .with_columns(
            pl.when(flag).then(pl.lit(reason)).otherwise(pl.col(REASON)).alias(REASON),
            pl.when(flag).then(pl.lit(key)).otherwise(pl.col(QCOLUMN)).alias(QCOLUMN),
            pl.when(flag).then(pl.col(key)).otherwise(pl.col(QVALUE)).alias(QVALUE),
        )
        .drop(_POSITION)
    )


_NO_RATE = "no exchange rate for this currency"


def _fill_missing_ids(table: pl.LazyFrame, paths: list[str], labels: list[str]) -> pl.LazyFrame:
    """``<file stem>:<row>`` for rows whose export gave no txn_id."""
    missing = table.select(pl.col(S.TXN_ID).null_count()).collect(engine="streaming").item()
    if missing == 0:
        return table
    label_of = dict(zip(paths, labels, strict=True))
    label = lookup(pl.col(S.SOURCE_FILE), list(label_of), list(label_of.values()))
    derived = pl.concat_str([label, pl.lit(":"), pl.col(S.SOURCE_ROW).cast(pl.String)])
    return table.with_columns(pl.col(S.TXN_ID).fill_null(derived))


def _to_base_currency(table: pl.LazyFrame, base: str, rates: dict[str, float]) -> pl.LazyFrame:
    """Every amount in ``base`` at ``rates`` (units of base per unit); a row in a
    currency without a rate is quarantined, a row without a currency is taken to be
    in ``base`` already."""
    currency = pl.col(S.CURRENCY).str.strip_chars().str.to_uppercase()
    rate = lookup(currency, list(rates), list(rates.values()), dtype=pl.Float64)
    rate = pl.when(pl.col(S.CURRENCY).is_null()).then(pl.lit(1.0)).otherwise(rate)
    missing = rate.is_null() & pl.col(REASON).is_null()
    return table.with_columns(
        pl.when(missing).then(pl.lit(_NO_RATE)).otherwise(pl.col(REASON)).alias(REASON),
        pl.when(missing).then(pl.lit(S.CURRENCY)).otherwise(pl.col(QCOLUMN)).alias(QCOLUMN),
        pl.when(missing).then(pl.col(S.CURRENCY)).otherwise(pl.col(QVALUE)).alias(QVALUE),
        (pl.col(S.AMOUNT) * rate).alias(S.AMOUNT),
        pl.lit(base).alias(S.CURRENCY),
    )


def _currency_notice(accepted: pl.LazyFrame) -> str | None:
    """A notice when the accepted rows hold more than one currency and nothing
    converts them: every sum and threshold then mixes units."""
    counts = (
        accepted.select(pl.col(S.CURRENCY).drop_nulls().value_counts(sort=True))
        .unnest(S.CURRENCY)
        .collect(engine="streaming")
    )
    if counts.height < 2:
        return None
    total = counts.get_column("count").sum()
    shown = ", ".join(f"{code} {count / total:.0%}" for code, count in counts.head(5).iter_rows())
    more = f" and {counts.height - 5} more" if counts.height > 5 else ""
    return (
        f"amounts in {counts.height} currencies ({shown}{more}) are compared as given; "
        "to convert them to one currency set ingest.base_currency and ingest.rates "
        "in a params file"
    )


# How a rejected value is written, what the profile should say instead: quarantined
# amounts and timestamps in a recognisable local style get one notice each.
_AMOUNT_STYLES = (
    (r"^[-+]?[0-9]{1,3}(\.[0-9]{3})*,[0-9]+$", "1.234,56 (a decimal comma)",
     'give the amount column `decimal: ","` and `thousands: "."` in a profile'),
    (r"^[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$", "1,234.56 (a thousands comma)",
     'give the amount column `thousands: ","` in a profile'),
    (r"^[-+]?[0-9]{1,3}( [0-9]{3})+(,[0-9]+)?$", "1 234,56 (spaces between thousands)",
     'give the amount column `thousands: " "` (and `decimal: ","`) in a profile'),
    (r"^\s*[^0-9\s.,+-]+\s*[0-9]|[0-9]\s*[^0-9\s.,]+\s*$", "a currency sign or code",
     "export amounts without the sign, or clean the column before ingest"),
)


def _quarantine_hints(quarantine: pl.DataFrame) -> list[str]:
    """Notices that turn a common kind of rejected amount or timestamp into what to
    change: most exports that fail wholesale write numbers or dates in a local style
    a profile can describe."""
    amounts = quarantine.filter(pl.col(S.Q_REASON) == "unparseable amount")
    found = [
        (amounts.filter(pl.col(S.Q_VALUE).str.contains(pattern)),
         f"quarantined amounts look like {style}",
         f"{fix} (`moneytrail profiles canonical` shows the format)")
        for pattern, style, fix in _AMOUNT_STYLES
    ]
    found.append((
        quarantine.filter(pl.col(S.Q_REASON) == "unparseable timestamp"),
        "timestamps could not be read",
        "list the export's date format under the timestamp column's `formats` in a "
        'profile, e.g. ["%d/%m/%Y %H:%M"] (day first) or ["%m/%d/%Y %H:%M"] (month first)',
    ))
    notices = []
    for rows, what, fix in found:
        if rows.height:
            first = rows.row(0, named=True)
            notices.append(
                f"{rows.height:,} {what}, e.g. {first[S.Q_VALUE]!r} "
                f"({first[S.Q_FILE]} row {first[S.Q_ROW]}): {fix}"
            )
    return notices


def _accepted(table: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    return table.filter(pl.col(REASON).is_null()).select(columns)


def ingest(
    paths: Iterable[str | Path] | str | Path,
    profile: str | Path | Profile | None = None,
    accounts: str | Path | None = None,
    progress: bool = False,
    out: str | Path | None = None,
    exchange: tuple[str, dict[str, float]] | None = None,
) -> IngestResult:
    """Read exports into the canonical transaction table; bad rows go to quarantine.

    ``profile``: a built-in name, a profile file, or None to detect each file's
    profile from its header. Several files are concatenated; every row keeps its
    source file and row. Fatal problems (missing file or columns, empty file, no
    fitting profile) raise InputError naming the file.

    ``exchange``: (base currency, rates) from
    :func:`moneytrail.ingest.currencies.exchange_rates`: amounts are converted into
    the base currency and rows in a currency without a rate are quarantined.

    ``out``: write the accepted canonical table to this Parquet file and return
    ``transactions`` as a LazyFrame scanning it. Rows are validated with polars'
    streaming engine and staged on disk next to ``out``, so memory stays bounded
    whatever the input's size. Without ``out`` the table is returned in memory.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    path_list = [str(p) for p in paths]
    if not path_list:
        raise InputError("no input files given", hint="moneytrail ingest FILE... -o OUT.parquet")
    seen: set[Path] = set()
    for path in path_list:
        key = Path(path).resolve()
        if key in seen:
            raise InputError(
                "given more than once", file=path, hint="each export is read once; drop the repeat"
            )
        seen.add(key)
    chosen = _as_profile(profile)
    if chosen is not None and chosen.transactions is None:
        raise InputError(f"profile {chosen.name!r} has no transactions section", file=chosen.origin)

    notices: list[str] = []
    sources: list[Source] = []
    profiles: list[Profile] = []
    for path in path_list:
        src = open_source(path, chosen.delimiter if chosen else None)
        if chosen is None:
            found = detect_profile(src.header)
            if found is None:
                raise _no_profile_error(src, "transactions")
            if found.delimiter and found.delimiter != src.delimiter and src.kind == "csv":
                src = open_source(path, found.delimiter)
            notices.append(f"{path}: detected profile {found.name!r}")
        else:
            found = chosen
        sources.append(src)
        profiles.append(found)

    labels = _unique_labels(path_list)
    compiled = []
    for src, prof, label in zip(sources, profiles, labels, strict=True):
        comp = compile_source(src, prof, "transactions", label)
        compiled.append(comp)

    # Every row is validated once, streaming, into a staging file; ids, duplicates,
    # the split into accepted rows and quarantine, and the counts are read from it.
    staging_dir = Path(out).parent if out is not None else None
    if staging_dir is not None:
        staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".moneytrail-ingest-", dir=staging_dir) as tmp:
        staged = Path(tmp) / "validated.parquet"
        with _status(progress, path_list, "ingesting"):
            # lz4: the staging file is read once, right away (zstd cost 0.5 CPU s more
            # at 5 M rows)
            _run(
                lambda frame: frame.sink_parquet(staged, compression="lz4", engine="streaming"),
                compiled,
                sources,
            )
        notices.extend(n for comp in compiled for n in comp.notices)
        table = _fill_missing_ids(pl.scan_parquet(staged), path_list, labels)
        if any(prof.transactions.columns.get(S.TXN_ID) for prof in profiles):
            table = _mark_duplicates(table, S.TXN_ID, "duplicate txn_id")
        if exchange is not None:
            table = _to_base_currency(table, *exchange)
        quarantine = _quarantine_view(table, S.SOURCE_FILE, S.SOURCE_ROW).collect(
            engine="streaming"
        )
        files = _file_counts(pl.scan_parquet(staged), quarantine, path_list)
        notices.extend(_quarantine_hints(quarantine))
        accepted = _accepted(table, list(S.TRANSACTION_SCHEMA))
        if out is None:
            transactions: pl.DataFrame | pl.LazyFrame = accepted.collect(engine="streaming")
        else:
            _write(lambda p: accepted.sink_parquet(p, engine="streaming"), out)
            transactions = pl.scan_parquet(out)
        if exchange is None:  # (read from the written table: one column, cheap)
            notices.extend(filter(None, [_currency_notice(transactions.lazy())]))

    account_table = None
    if accounts is not None:
        account_table, acc_quarantine, acc_count, acc_notices = _read_accounts(
            accounts, chosen, profiles
        )
        files.append(acc_count)
        quarantine = pl.concat([quarantine, acc_quarantine], how="vertical")
        notices.extend(acc_notices)
        notices.extend(_accounts_notices(acc_count))

    names = list(dict.fromkeys(p.name for p in profiles))
    return IngestResult(
        transactions=transactions,
        accounts=account_table,
        quarantine=quarantine,
        files=files,
        profile=", ".join(names),
        detected=chosen is None,
        notices=notices,
    )


def _file_counts(
    table: pl.LazyFrame, quarantine: pl.DataFrame, path_list: list[str]
) -> list[FileCount]:
    """Rows read, accepted and quarantined per file (the quarantine is the small side)."""
    if len(path_list) == 1:  # the row count is in the Parquet metadata
        read = {path_list[0]: table.select(pl.len()).collect().item()}
    else:
        read = dict(
            table.group_by(S.SOURCE_FILE).agg(pl.len()).collect(engine="streaming").iter_rows()
        )
    rejected = dict(quarantine.get_column(S.Q_FILE).value_counts().iter_rows())
    files: list[FileCount] = []
    for path in dict.fromkeys(path_list):
        n = read.get(path, 0)
        if n == 0:
            raise InputError(
                "has a header but no data rows",
                file=path,
                hint="export again, or leave this file out",
            )
        files.append(FileCount(path, n, n - rejected.get(path, 0), rejected.get(path, 0)))
    return files


def _accounts_notices(count: FileCount) -> list[str]:
    if count.quarantined:
        return [f"{count.path}: {count.quarantined:,} account row(s) quarantined"]
    return []


def _read_accounts(path, chosen: Profile | None, txn_profiles: Sequence[Profile]):
    src = open_source(path, chosen.delimiter if chosen else None)
    profile = None
    if chosen is not None and chosen.accounts is not None:
        profile = chosen
    else:
        # the accounts table of the same source as the transactions, else detect
        from moneytrail.ingest.profiles import missing_detect_columns

        for prof in txn_profiles:
            if prof.accounts is not None and not missing_detect_columns(prof.accounts, src.header):
                profile = prof
                break
        if profile is None:
            profile = detect_profile(src.header, table="accounts")
    if profile is None:
        raise _no_profile_error(src, "accounts")
    comp = compile_source(src, profile, "accounts", file_label(src.path))
    compiled = [comp]
    frame = _run(lambda f: f.collect(), compiled, [src]).lazy()
    notices = compiled[0].notices
    frame = _mark_duplicates(frame, S.ACCOUNT_ID, "duplicate account_id")
    quarantine = _quarantine_view(frame, S.Q_FILE, S.Q_ROW).collect()
    table = _accepted(frame, list(S.ACCOUNT_SCHEMA)).collect()
    if table.height + quarantine.height == 0:
        raise InputError("has a header but no data rows", file=src.path)
    count = FileCount(
        src.path, table.height + quarantine.height, table.height, quarantine.height, kind="accounts"
    )
    return table, quarantine, count, notices


def read_accounts(path: str | Path, profile: str | Path | Profile | None = None) -> pl.DataFrame:
    """The accounts (know-your-customer) table of one file, canonical columns.

    Rows that fail validation are left out of this frame; ``ingest(...,
    accounts=path)`` reports them in its quarantine.
    """
    chosen = _as_profile(profile)
    table, _, _, _ = _read_accounts(path, chosen, [])
    return table
