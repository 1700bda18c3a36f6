"""GEXF and GraphML exports of the case graphs (Gephi, yEd, Cytoscape) via networkx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx

from moneytrail.report.exports._common import file_stem, node_name, output_folder


def case_graph(bundle: dict[str, Any]) -> nx.DiGraph:
    """One node per account, one edge per money flow (payer → payee, totals)."""
    graph = nx.DiGraph(case_id=str(bundle.get("case_id") or ""),
                       currency=str(bundle.get("currency") or ""))
    for node in bundle["nodes"]:
        attrs = {
            "label": node_name(node),
            "kind": node["kind"],
            "in_case": bool(node["member"]),
            "role": node.get("role") or "",
            "level": node.get("level") or "none",
            "codes": ";".join(node.get("codes") or []),
        }
        # GEXF/GraphML have no null: an unknown risk is left out, not written as 0
        if node.get("risk") is not None:
            attrs["risk_score"] = float(node["risk"])
        if node.get("rank") is not None:
            attrs["rank"] = int(node["rank"])
        graph.add_node(str(node["id"]), **attrs)
    for edge in bundle["edges"]:
        attrs = {"n_transactions": int(edge["n"]), "total": float(edge["total"]),
                 "weight": float(edge["total"])}
        if edge.get("first"):
            attrs["first"] = str(edge["first"])
        if edge.get("last"):
            attrs["last"] = str(edge["last"])
        graph.add_edge(str(edge["from"]), str(edge["to"]), **attrs)
    return graph


def write(scan, bundles, out: Path, fmt: str, profile=None) -> list[Path]:
    folder = output_folder(out)
    writer = nx.write_gexf if fmt == "gexf" else nx.write_graphml
    paths = []
    for bundle in bundles:
        path = folder / f"{file_stem(bundle.get('case_id'))}.{fmt}"
        writer(case_graph(bundle), path)
        paths.append(path)
    return paths
