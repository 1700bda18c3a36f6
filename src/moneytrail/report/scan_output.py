"""Read a scan's OUTDIR (the files `moneytrail scan -o OUTDIR` writes).

Everything downstream of the scan (report, explore, exports) reads the OUTDIR
through :func:`load_scan`, so a missing or broken file is one clear
:class:`InputError`, and the big tables (transactions, evidence) stay lazy.
:func:`scan_in_memory` gives the same view of what a running scan still holds,
so its report need not read back (and parse, and hold twice) what it has just
written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import InputError

_RUN_SCAN_HINT = "run `moneytrail scan INPUT... -o OUTDIR` first and pass that OUTDIR"


@dataclass
class ScanOutput:
    """A scan's outputs. cases.json and alerts.csv are read when first used:
    explore needs neither, and cases.json is the biggest file a scan writes."""

    outdir: Path
    manifest: dict[str, Any]
    scores: pl.DataFrame
    evidence: pl.LazyFrame
    transactions: pl.LazyFrame
    accounts: pl.LazyFrame | None
    quarantine_rows: int
    # rule objects by id when the caller has them loaded already
    catalogue: dict[str, Any] | None = None
    held_cases: Sequence[dict[str, Any]] | None = None
    held_alerts: pl.DataFrame | None = None

    @property
    def cases(self) -> Sequence[dict[str, Any]]:
        if self.held_cases is None:
            self.held_cases = _load_cases(self.outdir)
        return self.held_cases

    @property
    def alerts(self) -> pl.DataFrame:
        if self.held_alerts is None:
            self.held_alerts = _load_alerts(self.outdir, self.scores)
        return self.held_alerts

    @property
    def currency(self) -> str:
        for case in case_headers(self.cases, 0, len(self.cases)):
            if case.get("currency"):
                return str(case["currency"])
        return ""

    def rule_catalogue(self) -> dict[str, Any]:
        """Rule metadata by code, or {} when the rules cannot be loaded."""
        if self.catalogue is not None:
            return dict(self.catalogue)
        rules_dir = (self.manifest.get("rules") or {}).get("dir")
        return load_rule_catalogue(rules_dir)


def load_rule_catalogue(rules_dir: str | Path | None) -> dict[str, Any]:
    """Rule objects by id; the report shows codes alone when this fails.

    A scan's rules folder that no longer exists (the OUTDIR was moved to
    another machine) falls back to the shipped catalogue.
    """
    folder = Path(rules_dir).resolve() if rules_dir and Path(rules_dir).is_dir() else None
    return dict(_catalogue(str(folder) if folder else None))


@lru_cache(maxsize=8)
def _catalogue(folder: str | None) -> tuple[tuple[str, Any], ...]:
    # loading the catalogue takes about a second: once per folder and process
    try:
        from moneytrail.rules import load_rules

        return tuple((rule.id, rule) for rule in load_rules(folder).rules)
    except Exception:  # noqa: BLE001 - a broken catalogue must not stop a report
        return ()


def load_scan(outdir: str | Path) -> ScanOutput:
    outdir = _existing(outdir)
    return ScanOutput(
        outdir=outdir,
        manifest=_load_manifest(outdir),
        scores=_load_scores(outdir),
        evidence=_load_evidence(outdir),
        transactions=_load_transactions(outdir),
        accounts=_load_accounts(outdir),
        quarantine_rows=_quarantine_rows(outdir),
    )


def scan_in_memory(
    outdir: str | Path,
    *,
    manifest: dict[str, Any] | None = None,
    cases: list[dict[str, Any]] | None = None,
    scores: pl.DataFrame | None = None,
    alerts: pl.DataFrame | None = None,
    evidence: pl.DataFrame | pl.LazyFrame | None = None,
    transactions: pl.DataFrame | pl.LazyFrame | None = None,
    accounts: pl.DataFrame | pl.LazyFrame | None = None,
    quarantine_rows: int | None = None,
    rules: list[Any] | None = None,
) -> ScanOutput:
    """The OUTDIR as :func:`load_scan` reads it back, from what a scan holds.

    What is not given is read from the OUTDIR, which the scan has written
    (``accounts=None`` reads accounts.parquet when there is one). Types are
    made what reading the files back gives, so the report is the same
    either way. ``rules`` are the loaded rule objects (anything with an ``id``).
    """
    outdir = _existing(outdir)
    if manifest is not None:  # small; JSON-native once round-tripped as the file was
        manifest = json.loads(json.dumps(manifest, default=str))
    return ScanOutput(
        outdir=outdir,
        manifest=manifest if manifest is not None else _load_manifest(outdir),
        scores=_as_read_back(scores) if scores is not None else _load_scores(outdir),
        evidence=evidence.lazy() if evidence is not None else _load_evidence(outdir),
        transactions=(
            transactions.lazy() if transactions is not None else _load_transactions(outdir)
        ),
        accounts=accounts.lazy() if accounts is not None else _load_accounts(outdir),
        quarantine_rows=(
            int(quarantine_rows) if quarantine_rows is not None else _quarantine_rows(outdir)
        ),
        catalogue={rule.id: rule for rule in rules} if rules is not None else None,
        held_cases=cases,
        held_alerts=_as_read_back(alerts) if alerts is not None else None,
    )


_SCORE_STRINGS = (S.SC_ACCOUNT, S.SC_ROLE, S.SC_CODES, S.SC_REASONS, S.SC_LEVEL, S.SC_CASE)
_SCORE_NUMBERS = ((S.SC_RISK, pl.Float64), (S.SC_RANK, pl.Int64), (S.SC_N_EVIDENCE, pl.Int64))


def _as_read_back(frame: pl.DataFrame) -> pl.DataFrame:
    """Scores or alerts typed as reading scores.csv / alerts.csv types them."""
    casts = [
        pl.col(name).cast(pl.String)
        for name, dtype in frame.schema.items()
        # CSV has no categories: those read back as text
        if name in _SCORE_STRINGS or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    casts += [pl.col(name).cast(dtype, strict=False)
              for name, dtype in _SCORE_NUMBERS if name in frame.columns]
    return frame.with_columns(casts)


def _existing(outdir: str | Path) -> Path:
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise InputError("scan output folder not found", file=str(outdir), hint=_RUN_SCAN_HINT)
    return outdir


def _load_manifest(outdir: Path) -> dict[str, Any]:
    manifest = _read_json(outdir / S.MANIFEST_FILE)
    if not isinstance(manifest, dict):
        raise InputError("manifest is not a JSON object", file=str(outdir / S.MANIFEST_FILE))
    return manifest


def _load_cases(outdir: Path) -> CaseIndex:
    return CaseIndex(outdir / S.CASES_FILE)


# What a case header leaves out: the lists that make cases.json big.
_CASE_DETAIL = ("accounts", "links", "txn_ids", "shared_identifiers")
_SPACE = re.compile(r"[ \t\n\r]*")


class CaseIndex(Sequence):
    """cases.json read one case at a time: every case's header (its fields but
    the big lists) is kept, a whole case is decoded again when asked for.

    A 20 M-row scan writes a 290 MB cases.json, 1.6 M links in it; decoded
    whole it held 1.2 GB, while a report shows twenty cases in full.
    """

    def __init__(self, path: Path):
        self.path = path
        text = _read_text(path)
        self._spans, self.headers = _case_spans(text, path)
        # ASCII (as the scan writes it): character and byte offsets agree, so
        # whole cases are read back from the file and the text let go
        self._text = None if text.isascii() else text

    def __len__(self) -> int:
        return len(self._spans)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._decode(*span) for span in self._spans[index]]
        return self._decode(*self._spans[index])

    def _decode(self, start: int, end: int) -> dict[str, Any]:
        if self._text is not None:
            return json.loads(self._text[start:end])
        try:
            with open(self.path, "rb") as handle:
                handle.seek(start)
                return json.loads(handle.read(end - start))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"changed or gone while being read: {exc}", file=str(self.path),
                             hint="run the command again once the scan has finished") from None


def case_headers(cases: Sequence, start: int, stop: int) -> list[dict[str, Any]]:
    """Headers of ``cases[start:stop]``, without decoding whole cases again."""
    if isinstance(cases, CaseIndex):
        return cases.headers[start:stop]
    return [{k: v for k, v in c.items() if k not in _CASE_DETAIL} for c in cases[start:stop]]


def _case_spans(text: str, path: Path) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """(start, end) of each case in ``{"cases": [...]}`` and its header, decoding
    one case at a time; other keys of the document are skipped."""
    decoder = json.JSONDecoder()
    wrong_shape = InputError('expected {"cases": [...]}', file=str(path), hint=_RUN_SCAN_HINT)

    def value_at(i: int) -> tuple[Any, int]:
        try:
            return decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(path),
                             row=exc.lineno) from None

    def not_the_shape() -> InputError:
        # a full decode words a syntax error best; a valid document of
        # another shape breaks the scan contract
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return InputError(f"not valid JSON: {exc.msg}", file=str(path), row=exc.lineno)
        return wrong_shape

    def expect(i: int, chars: str) -> tuple[str, int]:
        i = _SPACE.match(text, i).end()
        if i >= len(text) or text[i] not in chars:
            raise not_the_shape()
        return text[i], i + 1

    spans: list[tuple[int, int]] | None = None
    headers: list[dict[str, Any]] = []
    _, i = expect(0, "{")
    if _SPACE.match(text, i).end() < len(text) and text[_SPACE.match(text, i).end()] == "}":
        raise wrong_shape
    while True:
        i = _SPACE.match(text, i).end()
        key, i = value_at(i)
        if not isinstance(key, str):
            raise not_the_shape()
        _, i = expect(i, ":")
        i = _SPACE.match(text, i).end()
        if key != "cases":
            _, i = value_at(i)
        else:
            _, i = expect(i, "[")
            spans, headers = [], []
            after = _SPACE.match(text, i).end()
            closer = after < len(text) and text[after] == "]"
            i = after + 1 if closer else i
            while not closer:
                start = _SPACE.match(text, i).end()
                case, i = value_at(start)
                if not isinstance(case, dict) or "case_id" not in case:
                    raise InputError(f"case number {len(spans) + 1} has no case_id",
                                     file=str(path))
                spans.append((start, i))
                headers.append({k: v for k, v in case.items() if k not in _CASE_DETAIL})
                mark, i = expect(i, ",]")
                closer = mark == "]"
        mark, i = expect(i, ",}")
        if mark == "}":
            break
    if _SPACE.match(text, i).end() != len(text) or spans is None:
        raise not_the_shape()
    return spans, headers


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError("missing from the scan output", file=str(path), hint=_RUN_SCAN_HINT)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None


def _load_scores(outdir: Path) -> pl.DataFrame:
    return _read_scores(outdir / S.SCORES_FILE, S.SCORE_COLUMNS)


def _load_alerts(outdir: Path, scores: pl.DataFrame) -> pl.DataFrame:
    alerts_path = outdir / S.ALERTS_FILE
    if alerts_path.exists():
        return _read_scores(alerts_path, (*S.SCORE_COLUMNS, S.SC_CASE))
    return scores.head(0).with_columns(pl.lit(None, pl.String).alias(S.SC_CASE))


def _load_transactions(outdir: Path) -> pl.LazyFrame:
    transactions = _scan_parquet(outdir / S.TRANSACTIONS_FILE, S.REQUIRED_TRANSACTION_COLUMNS)
    if S.TXN_ID not in transactions.collect_schema().names():
        raise InputError(
            "transactions have no txn_id column",
            file=str(outdir / S.TRANSACTIONS_FILE),
            column=S.TXN_ID,
            hint=_RUN_SCAN_HINT,
        )
    return transactions


def _load_evidence(outdir: Path) -> pl.LazyFrame:
    return _scan_parquet(outdir / S.EVIDENCE_FILE, (S.EV_ACCOUNT, S.EV_CODE, S.EV_REASON))


def _load_accounts(outdir: Path) -> pl.LazyFrame | None:
    path = outdir / S.ACCOUNTS_FILE
    return _scan_parquet(path, S.REQUIRED_ACCOUNT_COLUMNS) if path.exists() else None


def _quarantine_rows(outdir: Path) -> int:
    path = outdir / S.QUARANTINE_FILE
    if not path.exists():
        return 0
    try:
        return pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()
    except pl.exceptions.PolarsError:
        return 0


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise InputError("missing from the scan output", file=str(path), hint=_RUN_SCAN_HINT)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=str(path), row=exc.lineno) from None


def _read_scores(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    if not path.exists():
        raise InputError("missing from the scan output", file=str(path), hint=_RUN_SCAN_HINT)
    try:
        df = pl.read_csv(path, schema_overrides=dict.fromkeys(_SCORE_STRINGS, pl.String))
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"cannot read as CSV: {exc}", file=str(path)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            "missing column(s) " + ", ".join(missing), file=str(path), column=missing[0]
        )
    return df.with_columns(pl.col(name).cast(dtype, strict=False) for name, dtype in _SCORE_NUMBERS)


def _scan_parquet(path: Path, required: tuple[str, ...]) -> pl.LazyFrame:
    if not path.exists():
        raise InputError("missing from the scan output", file=str(path), hint=_RUN_SCAN_HINT)
    try:
        lf = pl.scan_parquet(path)
        names = lf.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read as Parquet: {exc}", file=str(path)) from None
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(
            "missing column(s) " + ", ".join(missing), file=str(path), column=missing[0]
        )
    return lf
