"""Reports for people and exports for FIUs and investigation tools.

* :func:`write_report`: the offline HTML case report of a scan (OUTDIR/report.html),
  from the OUTDIR or from what the scan holds (:func:`scan_in_memory`);
* :func:`explore`: the neighbourhood of one account as the same kind of page;
* :func:`export`: goAML drafts, SAR narratives, i2 CSVs, GEXF/GraphML, FollowTheMoney.
"""

from __future__ import annotations

from moneytrail.report.explore import explore
from moneytrail.report.exports import EXPORT_FORMATS, export
from moneytrail.report.html import write_report
from moneytrail.report.scan_output import scan_in_memory

__all__ = ["EXPORT_FORMATS", "explore", "export", "scan_in_memory", "write_report"]
