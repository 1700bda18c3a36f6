"""Read a scan's OUTDIR (the files `moneytrail scan -o OUTDIR` writes).

Everything downstream of the scan (report, explore, exports) reads the OUTDIR
through :func:`load_scan`, so a missing or broken file is one clear
:class:`InputError`, and the big tables (transactions, evidence) stay lazy.
"""

from __future__ import annotations

import json
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
    outdir: Path
    manifest: dict[str, Any]
    cases: list[dict[str, Any]]
    scores: pl.DataFrame
    alerts: pl.DataFrame
    evidence: pl.LazyFrame
    transactions: pl.LazyFrame
    accounts: pl.LazyFrame | None
    quarantine_rows: int

    @property
    def currency(self) -> str:
        for case in self.cases:
            if case.get("currency"):
                return str(case["currency"])
        return ""

    def rule_catalogue(self) -> dict[str, Any]:
        """Rule metadata by code, or {} when the rules cannot be loaded."""
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
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise InputError("scan output folder not found", file=str(outdir), hint=_RUN_SCAN_HINT)
    manifest = _read_json(outdir / S.MANIFEST_FILE)
    if not isinstance(manifest, dict):
        raise InputError("manifest is not a JSON object", file=str(outdir / S.MANIFEST_FILE))
    cases_doc = _read_json(outdir / S.CASES_FILE)
    cases = cases_doc.get("cases") if isinstance(cases_doc, dict) else None
    if not isinstance(cases, list):
        raise InputError(
            'expected {"cases": [...]}', file=str(outdir / S.CASES_FILE), hint=_RUN_SCAN_HINT
        )
    for i, case in enumerate(cases, 1):
        if not isinstance(case, dict) or "case_id" not in case:
            raise InputError(f"case number {i} has no case_id", file=str(outdir / S.CASES_FILE))
    scores = _read_scores(outdir / S.SCORES_FILE, S.SCORE_COLUMNS)
    alerts_path = outdir / S.ALERTS_FILE
    alerts = (
        _read_scores(alerts_path, (*S.SCORE_COLUMNS, S.SC_CASE))
        if alerts_path.exists()
        else scores.head(0).with_columns(pl.lit(None, pl.String).alias(S.SC_CASE))
    )
    transactions = _scan_parquet(outdir / S.TRANSACTIONS_FILE, S.REQUIRED_TRANSACTION_COLUMNS)
    tx_names = transactions.collect_schema().names()
    if S.TXN_ID not in tx_names:
        raise InputError(
            "transactions have no txn_id column",
            file=str(outdir / S.TRANSACTIONS_FILE),
            column=S.TXN_ID,
            hint=_RUN_SCAN_HINT,
        )
    evidence = _scan_parquet(outdir / S.EVIDENCE_FILE, (S.EV_ACCOUNT, S.EV_CODE, S.EV_REASON))
    accounts_path = outdir / S.ACCOUNTS_FILE
    accounts = (
        _scan_parquet(accounts_path, S.REQUIRED_ACCOUNT_COLUMNS) if accounts_path.exists() else None
    )
    quarantine_path = outdir / S.QUARANTINE_FILE
    quarantine_rows = 0
    if quarantine_path.exists():
        try:
            quarantine_rows = pl.scan_csv(quarantine_path, infer_schema=False).select(
                pl.len()
            ).collect().item()
        except pl.exceptions.PolarsError:
            quarantine_rows = 0
    return ScanOutput(
        outdir=outdir,
        manifest=manifest,
        cases=cases,
        scores=scores,
        alerts=alerts,
        evidence=evidence,
        transactions=transactions,
        accounts=accounts,
        quarantine_rows=quarantine_rows,
    )


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
        df = pl.read_csv(
            path,
            schema_overrides={
                S.SC_ACCOUNT: pl.String,
                S.SC_ROLE: pl.String,
                S.SC_CODES: pl.String,
                S.SC_REASONS: pl.String,
                S.SC_LEVEL: pl.String,
                S.SC_CASE: pl.String,
            },
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"cannot read as CSV: {exc}", file=str(path)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            "missing column(s) " + ", ".join(missing), file=str(path), column=missing[0]
        )
    return df.with_columns(
        pl.col(S.SC_RISK).cast(pl.Float64, strict=False),
        pl.col(S.SC_RANK).cast(pl.Int64, strict=False),
        pl.col(S.SC_N_EVIDENCE).cast(pl.Int64, strict=False),
    )


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
