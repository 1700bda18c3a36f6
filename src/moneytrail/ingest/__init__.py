"""Ingestion: exports in, one validated canonical table (+ quarantine) out.

from moneytrail.ingest import ingest
result = ingest(["export.csv"])          # profile detected from the header
result.transactions                      # S.TRANSACTION_SCHEMA, provenance filled
result.quarantine                        # every rejected row with its reason
result.files                             # rows read / accepted / quarantined per file
"""

from moneytrail.ingest.core import FileCount, IngestResult, ingest, read_accounts
from moneytrail.ingest.profiles import Profile, list_profiles, load_profile

__all__ = [
    "FileCount",
    "IngestResult",
    "Profile",
    "ingest",
    "list_profiles",
    "load_profile",
    "read_accounts",
]
