"""Readers: open an export, read its header, and scan it lazily.

Every reader returns a LazyFrame with the export's own columns (duplicate
header names told apart as ``Name#2``), a 1-based data row number and, for
CSV, spare columns that are non-null when a line has more fields than the
header (such a line is quarantined, not silently truncated).
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from moneytrail.errors import InputError

# Scratch columns of the raw frame; never part of the canonical tables.
ROW = "__mt_row"
# Spare columns past the header: a non-empty one means the line had more
# fields than the header. Empty extras (a trailing comma) lose nothing.
EXTRA = ("__mt_extra1", "__mt_extra2", "__mt_extra3")

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".psv", ".dat")
PARQUET_SUFFIXES = (".parquet", ".pq")
NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".json")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
DELIMITERS = (",", ";", "\t", "|")
_HEADER_BYTES = 1 << 16


@dataclass(frozen=True)
class Source:
    path: str  # as the user gave it; written to source_file
    kind: str  # csv | parquet | ndjson | excel
    header: list[str]
    delimiter: str = ","
    compressed: bool = False
    # Strict UTF-8 is cheaper to read; a file that is not valid UTF-8 is read
    # again with undecodable bytes replaced (and a notice says so).
    lossy: bool = False


def dedupe_header(names: list[str]) -> list[str]:
    """Tell repeated or empty header names apart by position (``Account#2``)."""
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names):
        name = raw.strip() or f"column_{i + 1}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}#{count}")
    return out


def _kind_of(path: Path, head: bytes) -> tuple[str, bool]:
    name = path.name.lower()
    if head.startswith(b"PAR1"):
        return "parquet", False
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "excel", False
    if head.startswith(b"\x1f\x8b"):
        inner = name.removesuffix(".gz")
        kind = "ndjson" if inner.endswith(NDJSON_SUFFIXES) else "csv"
        return kind, True
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet", False
    if name.endswith(EXCEL_SUFFIXES):
        return "excel", False
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson", False
    return "csv", False


def sniff_delimiter(line: str) -> str:
    """The candidate separator that occurs most often outside quotes."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_source(path: str | Path, delimiter: str | None = None) -> Source:
    """Check the file can be read and read its header; fatal errors name the file."""
    shown = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError(
                "is a folder, not an export file",
                file=shown,
                hint="pass the export files themselves, e.g. folder/*.csv",
            )
        with p.open("rb") as fh:
            head = fh.read(_HEADER_BYTES)
    except FileNotFoundError:
        raise InputError("file not found", file=shown, hint="check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", file=shown) from None
    if not head:
        raise InputError("file is empty", file=shown, hint="export again; the file has no bytes")
    kind, compressed = _kind_of(p, head)
    if kind == "csv":
        return _open_csv(p, shown, head, compressed, delimiter)
    if kind == "parquet":
        try:
            names = list(pl.read_parquet_schema(p))
        except Exception as exc:  # polars raises several types for a corrupt file
            raise InputError(f"not a readable Parquet file: {_short(exc)}", file=shown) from None
        return Source(shown, kind, names)
    if kind == "ndjson":
        try:
            names = list(_scan_ndjson(p).collect_schema())
        except Exception as exc:
            raise InputError(
                f"not readable as NDJSON (one JSON object per line): {_short(exc)}", file=shown
            ) from None
        return Source(shown, kind, names, compressed=compressed)
    try:
        names = list(_read_excel(p, n_rows=0).columns)
    except Exception as exc:
        raise InputError(f"not a readable Excel workbook: {_short(exc)}", file=shown) from None
    return Source(shown, kind, dedupe_header(names))


def _open_csv(p: Path, shown: str, head: bytes, compressed: bool, delimiter: str | None):
    if compressed:
        try:
            with gzip.open(p, "rb") as fh:
                head = fh.read(_HEADER_BYTES)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"not a readable gzip file: {exc}", file=shown) from None
        if not head:
            raise InputError("file is empty (after decompression)", file=shown)
    if b"\x00" in head:
        raise InputError(
            "looks binary, not a text export",
            file=shown,
            hint="ingest reads CSV (optionally .gz), Parquet, NDJSON and Excel .xlsx files",
        )
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise InputError(
            "the first line (the header) is empty",
            file=shown,
            hint="the first line of a CSV export must name its columns",
        )
    sep = delimiter or sniff_delimiter(first_line)
    row = next(csv.reader(io.StringIO(first_line), delimiter=sep), [])
    return Source(shown, "csv", dedupe_header(row), delimiter=sep, compressed=compressed)


def scan_source(src: Source) -> pl.LazyFrame:
    """A lazy frame of the raw export with ROW (and EXTRA for CSV)."""
    p = Path(src.path)
    if src.kind == "csv":
        # Header handled by us (deduplicated names); one spare column catches
        # lines with more fields than the header. All strings: parsing is ours.
        schema = {name: pl.String() for name in src.header}
        schema.update(dict.fromkeys(EXTRA, pl.String()))
        frame = pl.scan_csv(
            p,
            has_header=False,
            skip_rows=1,
            separator=src.delimiter,
            schema=schema,
            missing_columns="insert",
            extra_columns="ignore",
            truncate_ragged_lines=True,
            encoding="utf8-lossy" if src.lossy else "utf8",
            row_index_name=ROW,
            row_index_offset=1,
        )
    elif src.kind == "parquet":
        frame = pl.scan_parquet(p, row_index_name=ROW, row_index_offset=1)
    elif src.kind == "ndjson":
        frame = _scan_ndjson(p).with_row_index(ROW, offset=1)
    else:
        frame = _read_excel(p).lazy().with_row_index(ROW, offset=1)
    return frame.with_columns(pl.col(ROW).cast(pl.Int64))


def is_encoding_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "utf-8" in text or "utf8" in text


def valid_utf8(src: Source) -> bool:
    """Whether a CSV export decodes as UTF-8 (read in chunks; error path only)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    opener = gzip.open if src.compressed else open
    try:
        with opener(src.path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _scan_ndjson(p: Path) -> pl.LazyFrame:
    # infer over everything: a late field must not be silently dropped
    return pl.scan_ndjson(p, infer_schema_length=None)


def _read_excel(p: Path, n_rows: int | None = None) -> pl.DataFrame:
    # All cells as text, so one garbage cell cannot fail a typed column; empty
    # rows kept, so row numbers match the sheet (data row n = sheet row n + 1).
    # The header row is read as data and named by us: the reader would rename
    # a repeated name in its own way (`Account_1`), we use `Account#2`.
    read_options = {"n_rows": n_rows + 1} if n_rows is not None else None
    frame = pl.read_excel(
        p,
        has_header=False,
        infer_schema_length=0,
        drop_empty_rows=False,
        drop_empty_cols=False,
        raise_if_empty=False,
        read_options=read_options,
    )
    if frame.height == 0:
        return frame
    header = ["" if v is None else str(v) for v in frame.row(0)]
    names = dedupe_header(header)
    return frame.slice(1).rename(dict(zip(frame.columns, names, strict=True)))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
