"""Static pictures for people who print: case networks and the score histogram.

Case networks are drawn with Pillow straight onto a pixel canvas (twice the
size, then halved, for smooth edges): every flow is one filled curve and one
arrow head, every account a disc with its label. Drawing them with matplotlib
cost about four times more, most of it laying out and rasterising sixty
labels per picture. networkx only ever sees one case's small graph, for the
layout. The histogram is matplotlib's (Agg canvas, no pyplot). Nothing is
imported until a picture is drawn.
"""

from __future__ import annotations

from functools import lru_cache
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
MEMBER_COLOUR = "#7f8c8d"  # a member without a role
OUTSIDE_COLOUR = "#bdc3c7"  # a counterparty outside the case
OUTLINE_COLOUR = "#333333"
EDGE_COLOUR = "#7b8a97"
MAX_DRAWN_NODES = 60  # beyond this a printed network is unreadable: keep the heaviest flows
MAX_DRAWN_EDGES = 150
NETWORK_SIZE = (800, 600)  # pixels of the saved picture
SUPERSAMPLE = 2  # drawn this many times larger, then reduced: smooth edges and curves
PX_PER_PT = 100 / 72  # sizes below are in points, as on a 100 dpi page
LABEL_PT, TITLE_PT = 8, 12
ARC_BEND = 0.12  # control point offset as a share of the flow's length: A→B and B→A part
CURVE_POINTS = 33  # points per drawn flow; plenty for a gentle quadratic curve
HEAD_LENGTH_PT = 5.6
HEAD_HALF_WIDTH_PT = 2.8
LOOP_RADIUS_PT = 5  # money an account sends itself: a small ring above its disc
PLOT_BOX = (0.02, 0.02, 0.96, 0.9)  # left, bottom, width, height as shares of the picture


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
    from PIL import Image, ImageDraw

    node_ids, drawn = drawn_subgraph(bundle)
    scale = SUPERSAMPLE
    width, height = NETWORK_SIZE[0] * scale, NETWORK_SIZE[1] * scale
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    nodes = {n["id"]: n for n in bundle["nodes"]}
    if node_ids:
        info = [nodes.get(n) or {"member": False} for n in node_ids]
        # canvas pixels with y up (the curves bend as matplotlib's arc3 does);
        # flipped to image rows when drawn
        xy = _to_pixels(_layout(node_ids, drawn), width, height)
        sizes = np.array([200 + 700 * float(i.get("risk") or 0) if i["member"] else 120
                          for i in info])  # marker areas in points², as a scatter's
        radius = np.sqrt(sizes) / 2 * PX_PER_PT * scale
        _draw_flows(draw, xy, radius, {n: k for k, n in enumerate(node_ids)}, drawn, height)
        label_font = _font(round(LABEL_PT * PX_PER_PT * scale))
        for (x, y), r, node in zip(xy, radius, info, strict=True):
            colour = (_ROLE_COLOURS.get(node.get("role"), MEMBER_COLOUR) if node["member"]
                      else OUTSIDE_COLOUR)
            y = height - y
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=OUTLINE_COLOUR,
                         width=scale)
        for (x, y), node_id in zip(xy, node_ids, strict=True):
            label = _short((nodes.get(node_id) or {}).get("label") or node_id)
            draw.text((float(x), float(height - y)), label, font=label_font, fill="black",
                      anchor="mm")
    title = f"Case {bundle.get('case_id')}" if bundle.get("case_id") else "Neighbourhood"
    total = bundle.get("total_value") or 0.0
    draw.text((width / 2, 0.045 * height),
              f"{title}: {len(bundle['nodes'])} accounts, "
              f"{total:,.0f} {bundle.get('currency') or ''}".strip(),
              font=_font(round(TITLE_PT * PX_PER_PT * scale)), fill="black", anchor="mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.reduce(scale).save(path)
    return path


def _layout(node_ids: list[str], drawn: list[dict[str, Any]]) -> np.ndarray:
    """Spring layout of the drawn graph, one row per node in ``node_ids`` order."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(node_ids)
    graph.add_edges_from((e["from"], e["to"]) for e in drawn)
    pos = nx.spring_layout(graph, seed=7, k=1.2 / max(1, len(node_ids)) ** 0.5)
    return np.array([pos[n] for n in node_ids], dtype=float).reshape(-1, 2)


def _to_pixels(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Layout positions in the plot box, with a margin so discs and labels fit."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = np.maximum((high - low) * 0.08, 0.15)
    low, span = low - pad, (high - low) + 2 * pad
    left, bottom, box_w, box_h = PLOT_BOX
    origin = np.array([left * width, bottom * height])
    return origin + (xy - low) / span * np.array([box_w * width, box_h * height])


def _draw_flows(draw, xy: np.ndarray, radius: np.ndarray, index: dict[str, int],
                drawn: list[dict[str, Any]], height: int) -> None:
    """Curved arrows from payer to payee, width by value, ends clear of the discs."""
    if not drawn:
        return
    scale = SUPERSAMPLE
    src = np.array([index[e["from"]] for e in drawn])
    dst = np.array([index[e["to"]] for e in drawn])
    totals = np.clip(np.array([float(e["total"] or 0.0) for e in drawn]), 0.0, None)
    max_total = totals.max() if totals.max() > 0 else 1.0
    widths = (0.8 + 5 * np.sqrt(totals / max_total)) * PX_PER_PT * scale
    clear = radius + scale  # the disc and its outline
    p1, p2 = xy[src], xy[dst]
    delta = p2 - p1
    control = (p1 + p2) / 2 + ARC_BEND * np.column_stack([delta[:, 1], -delta[:, 0]])
    t = np.linspace(0.0, 1.0, CURVE_POINTS)[None, :, None]
    curve = (1 - t) ** 2 * p1[:, None] + 2 * (1 - t) * t * control[:, None] + t**2 * p2[:, None]
    head_len = HEAD_LENGTH_PT * PX_PER_PT * scale + 0.5 * widths
    head_half = HEAD_HALF_WIDTH_PT * PX_PER_PT * scale + 0.5 * widths
    # the tip is the last point outside the payee's disc; the line stops under the head
    outside = ((np.linalg.norm(curve - p1[:, None], axis=2) >= clear[src][:, None])
               & (np.linalg.norm(curve - p2[:, None], axis=2) >= clear[dst][:, None]))
    last = CURVE_POINTS - 1
    tip_idx = np.where(outside.any(axis=1), last - np.argmax(outside[:, ::-1], axis=1), last)
    rows = np.arange(len(drawn))
    tip = curve[rows, tip_idx]
    direction = tip - curve[rows, np.maximum(tip_idx - 1, 0)]
    norm = np.linalg.norm(direction, axis=1, keepdims=True)
    direction = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 0)
    base = tip - direction * head_len[:, None]
    normal = np.column_stack([-direction[:, 1], direction[:, 0]]) * head_half[:, None]
    on_line = (outside & (np.arange(CURVE_POINTS)[None, :] <= tip_idx[:, None])
               & (np.linalg.norm(curve - tip[:, None], axis=2) >= head_len[:, None] * 0.8))

    def rows_of(points: np.ndarray) -> list[tuple[float, float]]:
        return [(float(x), float(height - y)) for x, y in points]

    for k in np.argsort(widths, kind="stable"):  # thin first: heavy flows stay visible
        if src[k] == dst[k]:
            ring_r = LOOP_RADIUS_PT * PX_PER_PT * scale
            centre = xy[src[k]] + np.array([0.0, radius[src[k]] + ring_r])
            angle = np.linspace(-0.35 * np.pi, 1.35 * np.pi, CURVE_POINTS)
            ring = centre + ring_r * np.column_stack([np.cos(angle), np.sin(angle)])
            draw.polygon(rows_of(_ribbon(ring, widths[k])), fill=EDGE_COLOUR)
            continue
        if norm[k, 0] <= 0:  # the discs overlap: nothing to draw between them
            continue
        points = curve[k][on_line[k]]
        if len(points) >= 2:
            draw.polygon(rows_of(_ribbon(np.vstack([points, base[k]]), widths[k])),
                         fill=EDGE_COLOUR)
        draw.polygon(rows_of(np.array([tip[k], base[k] + normal[k], base[k] - normal[k]])),
                     fill=EDGE_COLOUR)


def _ribbon(points: np.ndarray, width: float) -> np.ndarray:
    """Outline of a polyline drawn ``width`` wide, as one polygon (no seams at joints)."""
    tangent = np.gradient(points, axis=0)
    length = np.linalg.norm(tangent, axis=1, keepdims=True)
    tangent = np.divide(tangent, length, out=np.zeros_like(tangent), where=length > 0)
    offset = np.column_stack([-tangent[:, 1], tangent[:, 0]]) * (max(width, 1.0) / 2)
    return np.vstack([points + offset, (points - offset)[::-1]])


@lru_cache(maxsize=4)
def _font(size_px: int):
    """DejaVu Sans, the font of the histogram (matplotlib ships it)."""
    import matplotlib
    from PIL import ImageFont

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(path), size_px)
    except OSError:
        return ImageFont.load_default(size_px)


def _short(text: str, limit: int = 22) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(size_in: tuple[float, float]):
    """A matplotlib figure on the Agg canvas, independent of pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=100)
    FigureCanvasAgg(fig)
    return fig


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
