"""Static pictures for people who print: case networks and the score histogram.

matplotlib draws on its Agg canvas directly (no pyplot, no display, nothing
loaded until a picture is drawn); networkx only ever sees one case's small
graph, for the layout. Arrows are drawn as one line collection and one
polygon collection per picture: one matplotlib patch per flow cost about
ten times more than the rest of the report's pictures together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from moneytrail import schema as S

_ROLE_COLOURS = {
    "controller": "#c0392b", "collector": "#e67e22", "front_business": "#8e44ad",
    "buyer": "#d35400", "facilitator": "#2980b9", "launderer": "#16a085",
    "victim": "#27ae60", "extortion_victim": "#2ecc71",
}
MAX_DRAWN_NODES = 60  # beyond this a printed network is unreadable: keep the heaviest flows
MAX_DRAWN_EDGES = 150
EDGE_COLOUR = "#7b8a97"
ARC_BEND = 0.12  # control point offset as a share of the flow's length: A→B and B→A part
CURVE_POINTS = 33  # points per drawn flow; plenty for a gentle quadratic curve
HEAD_LENGTH_PT = 5.6  # the size of networkx's default arrow head at arrowsize 14
HEAD_HALF_WIDTH_PT = 2.8
NETWORK_SIZE_IN = (8, 6)
DPI = 100


def _figure(size_in: tuple[float, float]):
    """A figure on the Agg canvas, independent of pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def drawn_subgraph(bundle: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The accounts and flows a printed picture shows: the riskiest members, then
    the counterparties of the heaviest flows, and the heaviest flows among them."""
    edges = sorted(bundle["edges"], key=lambda e: -e["total"])
    members = sorted((n for n in bundle["nodes"] if n["member"]),
                     key=lambda n: -(n["risk"] or 0.0))
    keep: set[str] = {n["id"] for n in members[: (MAX_DRAWN_NODES * 3) // 4]}
    for edge in edges:
        if len(keep) >= MAX_DRAWN_NODES:
            break
        if edge["from"] in keep or edge["to"] in keep:
            keep.update((edge["from"], edge["to"]))
    drawn: list[dict[str, Any]] = []
    seen_pairs: set[tuple[str, str]] = set()
    for edge in edges:
        pair = (edge["from"], edge["to"])
        if pair[0] in keep and pair[1] in keep and pair not in seen_pairs:
            seen_pairs.add(pair)
            drawn.append(edge)
            if len(drawn) >= MAX_DRAWN_EDGES:
                break
    # in the bundle's node order, so the layout does not depend on set order
    order = [n["id"] for n in bundle["nodes"] if n["id"] in keep]
    order += sorted(keep.difference(order))
    return order, drawn


def case_network(bundle: dict[str, Any], path: Path) -> Path:
    """PNG of one case's accounts and money flows."""
    import matplotlib

    node_ids, drawn = drawn_subgraph(bundle)
    xy = _layout(node_ids, drawn)
    # unhinted glyphs: a quarter less drawing time for a picture of sixty labels
    with matplotlib.rc_context({"text.hinting": "none"}):
        _draw_network(bundle, node_ids, drawn, xy, path)
    return path


def _layout(node_ids: list[str], drawn: list[dict[str, Any]]) -> np.ndarray:
    """Spring layout of the drawn graph, one row per node in ``node_ids`` order."""
    import networkx as nx

    if not node_ids:
        return np.zeros((0, 2))
    graph = nx.DiGraph()
    graph.add_nodes_from(node_ids)
    graph.add_edges_from((e["from"], e["to"]) for e in drawn)
    pos = nx.spring_layout(graph, seed=7, k=1.2 / max(1, len(node_ids)) ** 0.5)
    return np.array([pos[n] for n in node_ids], dtype=float).reshape(-1, 2)


def _draw_network(bundle: dict[str, Any], node_ids: list[str], drawn: list[dict[str, Any]],
                  xy: np.ndarray, path: Path) -> None:
    nodes = {n["id"]: n for n in bundle["nodes"]}
    fig = _figure(NETWORK_SIZE_IN)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    ax.axis("off")
    if node_ids:
        info = [nodes.get(n) or {"member": False} for n in node_ids]
        colours = [_ROLE_COLOURS.get(i.get("role"), "#7f8c8d") if i["member"] else "#bdc3c7"
                   for i in info]
        sizes = np.array([200 + 700 * float(i.get("risk") or 0) if i["member"] else 120
                          for i in info])
        _set_limits(ax, xy)
        _draw_flows(ax, xy, sizes, {n: k for k, n in enumerate(node_ids)}, drawn)
        ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=colours, edgecolors="#333", zorder=2)
        for (x, y), node_id in zip(xy, node_ids, strict=True):
            label = (nodes.get(node_id) or {}).get("label") or node_id
            ax.text(x, y, _short(label), fontsize=8, ha="center", va="center", zorder=3,
                    clip_on=True)
    title = f"Case {bundle.get('case_id')}" if bundle.get("case_id") else "Neighbourhood"
    total = bundle.get("total_value") or 0.0
    # a figure text, not the axes title: placing that measures every label again
    fig.text(0.5, 0.955, f"{title}: {len(bundle['nodes'])} accounts, "
             f"{total:,.0f} {bundle.get('currency') or ''}".strip(), ha="center", va="center",
             fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def _set_limits(ax, xy: np.ndarray) -> None:
    # fixed limits: flows are computed in pixels, so the data-to-pixel mapping
    # must not move after they are placed
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = np.maximum((high - low) * 0.08, 0.15)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
    ax.set_autoscale_on(False)


def _draw_flows(ax, xy: np.ndarray, sizes: np.ndarray, index: dict[str, int],
                drawn: list[dict[str, Any]]) -> None:
    """Curved arrows from payer to payee, line width by value, ends clear of the dots."""
    from matplotlib.collections import LineCollection, PolyCollection

    if not drawn:
        return
    src = np.array([index[e["from"]] for e in drawn])
    dst = np.array([index[e["to"]] for e in drawn])
    totals = np.array([float(e["total"] or 0.0) for e in drawn])
    max_total = totals.max() if totals.size and totals.max() > 0 else 1.0
    widths = 0.8 + 5 * np.sqrt(np.clip(totals, 0, None) / max_total)
    px_per_pt = ax.figure.dpi / 72.0
    pixels = ax.transData.transform(xy)
    radius = np.sqrt(sizes) / 2 * px_per_pt + 1.0  # marker radius plus its outline
    p1, p2 = pixels[src], pixels[dst]
    loops = src == dst
    # quadratic curve bent to the right of the flow, as matplotlib's arc3
    delta = p2 - p1
    control = (p1 + p2) / 2 + ARC_BEND * np.column_stack([delta[:, 1], -delta[:, 0]])
    t = np.linspace(0.0, 1.0, CURVE_POINTS)[None, :, None]
    curve = (1 - t) ** 2 * p1[:, None] + 2 * (1 - t) * t * control[:, None] + t**2 * p2[:, None]
    head_len = (HEAD_LENGTH_PT + 0.5 * widths) * px_per_pt
    head_half = (HEAD_HALF_WIDTH_PT + 0.5 * widths) * px_per_pt
    # the tip is the last point outside the payee's dot; the line stops under the head
    from_start = np.linalg.norm(curve - p1[:, None], axis=2)
    to_end = np.linalg.norm(curve - p2[:, None], axis=2)
    outside = (from_start >= radius[src][:, None]) & (to_end >= radius[dst][:, None])
    tip_idx = np.where(outside.any(axis=1),
                       CURVE_POINTS - 1 - np.argmax(outside[:, ::-1], axis=1), CURVE_POINTS - 1)
    rows = np.arange(len(drawn))
    tip = curve[rows, tip_idx]
    before = curve[rows, np.maximum(tip_idx - 1, 0)]
    direction = tip - before
    norm = np.linalg.norm(direction, axis=1, keepdims=True)
    direction = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 0)
    base = tip - direction * head_len[:, None]
    normal = np.column_stack([-direction[:, 1], direction[:, 0]]) * head_half[:, None]
    to_tip = np.linalg.norm(curve - tip[:, None], axis=2)
    on_line = outside & (np.arange(CURVE_POINTS)[None, :] <= tip_idx[:, None])
    on_line &= to_tip >= head_len[:, None] * 0.8
    segments, heads, seg_widths = [], [], []
    inverse = ax.transData.inverted()
    for k in np.flatnonzero(~loops & (norm[:, 0] > 0)):
        points = curve[k][on_line[k]]
        if len(points) >= 2:
            segments.append(inverse.transform(np.vstack([points, base[k]])))
            seg_widths.append(widths[k])
        heads.append(inverse.transform(np.array([tip[k], base[k] + normal[k],
                                                 base[k] - normal[k]])))
    for k in np.flatnonzero(loops):  # money an account sends itself: a small loop above it
        centre = pixels[src[k]] + np.array([0.0, radius[src[k]] + 5 * px_per_pt])
        angle = np.linspace(-0.35 * np.pi, 1.35 * np.pi, CURVE_POINTS)
        ring = centre + 5 * px_per_pt * np.column_stack([np.cos(angle), np.sin(angle)])
        segments.append(inverse.transform(ring))
        seg_widths.append(widths[k])
    if segments:
        ax.add_collection(LineCollection(segments, linewidths=seg_widths, colors=EDGE_COLOUR,
                                         capstyle="butt", zorder=1), autolim=False)
    if heads:
        ax.add_collection(PolyCollection(heads, facecolors=EDGE_COLOUR, edgecolors=EDGE_COLOUR,
                                         linewidths=0.5, zorder=1), autolim=False)


def _short(text: str, limit: int = 22) -> str:
    # matplotlib treats $...$ as maths: keep ids and names literal
    text = str(text).replace("$", r"\$")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def score_histogram(scores: pl.DataFrame, path: Path) -> Path:
    """PNG histogram of account risk scores (log count axis: most accounts score near 0)."""
    values = scores.get_column(S.SC_RISK).drop_nulls().to_numpy()
    fig = _figure((6, 3))
    ax = fig.subplots()
    ax.hist(values, bins=20, range=(0.0, 1.0), color="#2c3e50", log=len(values) > 0)
    ax.set_xlabel("risk score")
    ax.set_ylabel("accounts (log)")
    ax.set_title(f"Risk scores of {len(values):,} accounts")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")  # one small figure: the second draw costs little
    return path
