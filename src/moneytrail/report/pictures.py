"""Static pictures for people who print: case networks and the score histogram.

matplotlib with the Agg backend (no display needed); networkx only ever sees
one case's small graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import networkx as nx  # noqa: E402
import polars as pl  # noqa: E402

from moneytrail import schema as S  # noqa: E402

_ROLE_COLOURS = {
    "controller": "#c0392b", "collector": "#e67e22", "front_business": "#8e44ad",
    "buyer": "#d35400", "facilitator": "#2980b9", "launderer": "#16a085",
    "victim": "#27ae60", "extortion_victim": "#2ecc71",
}
MAX_DRAWN_NODES = 60  # beyond this a printed network is unreadable: keep the heaviest flows
MAX_DRAWN_EDGES = 150


def case_network(bundle: dict[str, Any], path: Path) -> Path:
    """PNG of one case's accounts and money flows."""
    graph = nx.DiGraph()
    nodes = {n["id"]: n for n in bundle["nodes"]}
    edges = sorted(bundle["edges"], key=lambda e: -e["total"])
    members = sorted((n for n in bundle["nodes"] if n["member"]),
                     key=lambda n: -(n["risk"] or 0.0))
    keep: set[str] = {n["id"] for n in members[: (MAX_DRAWN_NODES * 3) // 4]}
    for edge in edges:
        if len(keep) >= MAX_DRAWN_NODES:
            break
        if edge["from"] in keep or edge["to"] in keep:
            keep.update((edge["from"], edge["to"]))
    for node_id in keep:
        graph.add_node(node_id)
    drawn = [e for e in edges if e["from"] in keep and e["to"] in keep][:MAX_DRAWN_EDGES]
    for edge in drawn:
        graph.add_edge(edge["from"], edge["to"], total=edge["total"])
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    try:
        if graph.number_of_nodes():
            pos = nx.spring_layout(graph, seed=7, k=1.2 / max(1, graph.number_of_nodes()) ** 0.5)
            max_total = max([d["total"] for *_, d in graph.edges(data=True)] or [1.0]) or 1.0
            colours = [
                _ROLE_COLOURS.get(nodes[n]["role"], "#7f8c8d") if nodes[n]["member"] else "#bdc3c7"
                for n in graph.nodes
            ]
            sizes = [
                200 + 700 * float(nodes[n]["risk"] or 0) if nodes[n]["member"] else 120
                for n in graph.nodes
            ]
            nx.draw_networkx_nodes(graph, pos, node_color=colours, node_size=sizes, ax=ax,
                                   edgecolors="#333")
            nx.draw_networkx_edges(
                graph, pos, ax=ax, arrows=True, arrowsize=14, edge_color="#7b8a97",
                width=[0.8 + 5 * (d["total"] / max_total) ** 0.5
                       for *_, d in graph.edges(data=True)],
                connectionstyle="arc3,rad=0.12", node_size=sizes,
            )
            labels = {n: _short(nodes[n]["label"]) for n in graph.nodes}
            nx.draw_networkx_labels(graph, pos, labels=labels, font_size=8, ax=ax)
        title = f"Case {bundle.get('case_id')}" if bundle.get("case_id") else "Neighbourhood"
        total = bundle.get("total_value") or 0.0
        ax.set_title(f"{title}: {len(bundle['nodes'])} accounts, "
                     f"{total:,.0f} {bundle.get('currency') or ''}".strip())
        ax.axis("off")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _short(text: str, limit: int = 22) -> str:
    # matplotlib treats $...$ as maths: keep ids and names literal
    text = str(text).replace("$", r"\$")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def score_histogram(scores: pl.DataFrame, path: Path) -> Path:
    """PNG histogram of account risk scores (log count axis: most accounts score near 0)."""
    values = scores.get_column(S.SC_RISK).drop_nulls().to_numpy()
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    try:
        ax.hist(values, bins=20, range=(0.0, 1.0), color="#2c3e50", log=len(values) > 0)
        ax.set_xlabel("risk score")
        ax.set_ylabel("accounts (log)")
        ax.set_title(f"Risk scores of {len(values):,} accounts")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
