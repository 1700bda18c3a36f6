"""The main job: exports in, ranked accounts, alerts and cases out.

``run_scan`` chains the stages of DESIGN.md — ingest, features, rules, graph
patterns, outliers, scoring, cases, outputs, report — times each one and
writes everything an analyst, an FIU or an investigator needs into OUTDIR
(file names in ``moneytrail.schema``).
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from moneytrail import __version__
from moneytrail import schema as S
from moneytrail.cases import DEFAULTS as CASE_DEFAULTS
from moneytrail.cases import stream_cases, write_cases
from moneytrail.evidence import concat_evidence
from moneytrail.features import DEFAULTS as FEATURE_DEFAULTS
from moneytrail.features import account_features
from moneytrail.graph import DEFAULTS as PATTERN_DEFAULTS
from moneytrail.graph import check_settings as check_patterns
from moneytrail.graph import detect_patterns
from moneytrail.ingest import IngestResult, ingest
from moneytrail.ingest.currencies import DEFAULTS as CURRENCY_DEFAULTS
from moneytrail.ingest.currencies import exchange_rates
from moneytrail.outliers import DEFAULTS as OUTLIER_DEFAULTS
from moneytrail.outliers import check_settings as check_outliers
from moneytrail.outliers import detect_outliers, outlier_tie_break
from moneytrail.params import Params, settings
from moneytrail.rules import default_rules_dir, load_rules, run_rules
from moneytrail.scoring import DEFAULTS as SCORING_DEFAULTS
from moneytrail.scoring import check_settings as check_scoring
from moneytrail.scoring import score_accounts, select_alerts

STAGES = ("ingest", "features", "rules", "patterns", "outliers", "scoring", "cases", "write",
          "report")


@dataclass
class ScanResult:
    outdir: Path
    ingested: IngestResult
    scores: pl.DataFrame
    alerts: pl.DataFrame
    evidence: pl.DataFrame
    manifest: dict[str, Any]
    notices: list[str] = field(default_factory=list)

    @cached_property
    def cases(self) -> Sequence[dict[str, Any]]:
        """The cases of cases.json in score order, each read from the file when
        asked for (a big scan's cases do not fit comfortably in memory at once)."""
        from moneytrail.report.scan_output import CaseIndex

        return CaseIndex(self.outdir / S.CASES_FILE)


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class _Stages:
    """Times each stage, notes the peak memory reached by its end, and tells the
    caller when one starts and ends.

    The peak is a high-water mark of the whole process: the stage where it
    jumps is the one that set it.
    """

    def __init__(self, on_stage: Callable[[str, float | None], None] | None):
        self.timings: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}
        self._on_stage = on_stage

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self._on_stage:
            self._on_stage(name, None)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        self.peak_rss_mb[name] = _peak_rss_mb()
        if self._on_stage:
            self._on_stage(name, self.timings[name])


def run_scan(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    accounts: str | Path | None = None,
    profile: str | Path | None = None,
    rules_dir: str | Path | None = None,
    params: Params | None = None,
    top_k: int | None = None,
    progress: bool = False,
    report: bool = True,
    on_stage: Callable[[str, float | None], None] | None = None,
) -> ScanResult:
    """Scan transaction exports and write the results into ``outdir``.

    ``on_stage(name, seconds)`` is called when a stage starts (seconds None)
    and when it ends; the CLI uses it for progress.
    """
    params = params or Params()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stage = _Stages(on_stage)
    notices: list[str] = []

    ingest_settings = settings(params, "ingest", CURRENCY_DEFAULTS)
    exchange = exchange_rates(ingest_settings)
    feature_settings = settings(params, "features", FEATURE_DEFAULTS)
    pattern_settings = settings(params, "patterns", PATTERN_DEFAULTS, check_patterns)
    outlier_settings = settings(params, "outliers", OUTLIER_DEFAULTS, check_outliers)
    scoring_settings = settings(params, "scoring", SCORING_DEFAULTS, check_scoring)
    case_settings = settings(params, "cases", CASE_DEFAULTS)
    if top_k is not None:
        scoring_settings["top_k"] = top_k

    with stage("ingest"):
        # The canonical table goes straight to OUTDIR (streaming): every detector
        # scans that file for the columns it reads, none holds the whole table.
        ingested = ingest(
            list(inputs),
            profile=profile,
            accounts=accounts,
            progress=progress,
            out=outdir / S.TRANSACTIONS_FILE,
            exchange=exchange,
        )
        notices.extend(ingested.notices)
    kyc = ingested.accounts
    # Ground truth travels with the canonical table for `evaluate`; no
    # detector ever sees it.
    detect = ingested.transactions.lazy().drop(S.LABEL_COLUMNS)

    with stage("features"):
        features = account_features(detect, kyc, feature_settings)
        notices.extend(features.notices)
        # Written now and read back for the outliers: the account table (some 40
        # numbers an account) is not held while the rules and patterns run.
        features.frame.write_parquet(outdir / S.FEATURES_FILE)
        feature_descriptions = features.descriptions
        del features

    with stage("rules"):
        rules_dir = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        ruleset = load_rules(rules_dir)
        for problem in ruleset.problems:
            notices.append(f"rule file skipped: {problem}")
        rule_run = run_rules(detect, ruleset, params, accounts=kyc)
        for code, missing in rule_run.skipped:
            notices.append(f"rule {code} skipped: the input has no {', '.join(missing)}")
        for code, message in rule_run.errors:
            notices.append(f"rule {code} did not run: {message}")

    with stage("patterns"):
        patterns = detect_patterns(detect, kyc, pattern_settings)
        notices.extend(patterns.notices)

    with stage("outliers"):
        feature_frame = pl.read_parquet(outdir / S.FEATURES_FILE)
        outliers = detect_outliers(
            feature_frame, outlier_settings, descriptions=feature_descriptions
        )

    with stage("scoring"):
        evidence = concat_evidence([rule_run.evidence, patterns.evidence, outliers.evidence])
        universe = pl.concat(
            [
                feature_frame.select(S.ACCOUNT_ID),
                evidence.select(pl.col(S.EV_ACCOUNT).alias(S.ACCOUNT_ID)),
            ]
        ).unique()
        scores = score_accounts(
            evidence, universe, scoring_settings, tie_break=outlier_tie_break(outliers)
        )
        alerts = select_alerts(scores, scoring_settings)

    with stage("cases"):
        # (each case's dict is made as cases.json is written, in the write stage)
        cases, case_of = stream_cases(
            alerts, evidence, detect, kyc, case_settings, levels=scoring_settings["levels"]
        )
        alerts = alerts.join(case_of, on=S.SC_ACCOUNT, how="left").sort(S.SC_RANK)

    manifest = {
        "tool": "moneytrail",
        "version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": [
            {
                "path": str(f.path),
                "sha256": _sha256(f.path),
                "rows_read": f.rows_read,
                "rows_accepted": f.accepted,
                "rows_quarantined": f.quarantined,
            }
            for f in ingested.files
        ],
        "profile": ingested.profile,
        "profile_detected": ingested.detected,
        "accounts_file": str(accounts) if accounts is not None else None,
        "rules": {
            "dir": str(rules_dir),
            "ran": sorted(rule_run.ran),
            "skipped": [{"code": c, "missing": list(m)} for c, m in rule_run.skipped],
            "broken": [
                {"path": str(p.path), "field": p.field, "message": p.message}
                for p in ruleset.problems
            ],
            "errors": [{"code": c, "message": m} for c, m in rule_run.errors],
            "hits": dict(sorted(rule_run.hits.items())),
        },
        "params": {
            "rules": params.rules,
            "ingest": ingest_settings,
            "features": feature_settings,
            "patterns": pattern_settings,
            "outliers": outlier_settings,
            "scoring": scoring_settings,
            "cases": case_settings,
        },
        "counts": {
            "transactions": ingested.rows_accepted,
            "accounts_scored": scores.height,
            "evidence": evidence.height,
            "alerts": alerts.height,
            "cases": case_of.get_column(S.SC_CASE).n_unique(),
            "quarantined": ingested.quarantine.height,
        },
        "timings": stage.timings,
        "peak_rss_mb": stage.peak_rss_mb,
        "notices": notices,
    }

    with stage("write"):
        scores.write_csv(outdir / S.SCORES_FILE)
        alerts.write_csv(outdir / S.ALERTS_FILE)
        evidence.write_parquet(outdir / S.EVIDENCE_FILE)
        ingested.quarantine.write_csv(outdir / S.QUARANTINE_FILE)
        if kyc is not None:
            kyc.write_parquet(outdir / S.ACCOUNTS_FILE)
        write_cases(outdir / S.CASES_FILE, cases)
    _write_manifest(outdir, manifest, stage)

    if report:
        # the report stack loads only when used
        from moneytrail.report import scan_in_memory, write_report

        with stage("report"):
            # what the scan holds is handed over instead of read back from OUTDIR
            # (cases.json is read a case at a time, as `moneytrail report` does)
            held = scan_in_memory(
                outdir,
                manifest=manifest,
                scores=scores,
                alerts=alerts,
                evidence=evidence,
                transactions=ingested.transactions,
                accounts=kyc,
                quarantine_rows=ingested.quarantine.height,
                rules=ruleset.rules,
            )
            write_report(outdir, scan=held)
        _write_manifest(outdir, manifest, stage)

    return ScanResult(outdir, ingested, scores, alerts, evidence, manifest, notices)


def _write_manifest(outdir: Path, manifest: dict[str, Any], stage: _Stages) -> None:
    manifest["timings"] = dict(stage.timings)
    manifest["peak_rss_mb"] = dict(stage.peak_rss_mb)
    (outdir / S.MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=1, default=str), encoding="utf-8"
    )


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
