"""Pictures of a contagion report's graph: interactive plotly (HTML, the app) and a static PNG.

Both draw ``graph_start`` (the graph the models ran on) with the same layout
(:func:`layout`: networkx's Kamada–Kawai, deterministic), edges holder -> issuer with their
``exposure_usd``; nodes sized by start equity (area proportional to it) and coloured by the
modelled loss as a fraction of start equity (DebtRank, Battiston 2012, by default: 0 white-
yellow to 1 dark red). Hovering a node in the HTML shows its figures: type, start equity,
initial distress, each model's loss and default, the chain's loss.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from pathlib import Path

import networkx as nx
import plotly.graph_objects as go

from simulator.results.atomic import atomic_write_bytes, atomic_write_text

#: ``{colour key: (row field with h in [0, 1], legend)}``: what a node's colour can show.
COLOUR_BY = {
    "debtrank": ("debtrank_h", "DebtRank (Battiston) loss / start equity"),
    "differential": ("differential_h", "differential DebtRank loss / start equity"),
    "shock": ("h0", "initial shock / start equity"),
}
COLOURSCALE = "YlOrRd"


def layout(G: nx.DiGraph) -> dict[Hashable, tuple[float, float]]:
    """Node positions (deterministic: the same graph gives the same picture)."""
    if G.number_of_nodes() <= 1:
        return {n: (0.0, 0.0) for n in G}
    return {
        n: (float(x), float(y)) for n, (x, y) in nx.kamada_kawai_layout(G.to_undirected()).items()
    }


def _sizes(report) -> dict[Hashable, float]:
    """Marker diameters in px: area proportional to start equity, 14 to 60 px."""
    equity = {r["node"]: r["equity_start_usd"] for r in report.nodes}
    top = max(equity.values(), default=0.0)
    return {n: 14.0 + 46.0 * math.sqrt(e / top) if top > 0 else 14.0 for n, e in equity.items()}


def _usd(x) -> str:
    return "-" if x is None else f"{x:,.2f} USD"


def _hover(r: dict) -> str:
    furfine = (
        "survives" if r["furfine_round"] is None else f"defaults in round {r['furfine_round']}"
    )
    lines = [
        f"<b>{r['node']}</b> ({r['type']})",
        f"start equity: {_usd(r['equity_start_usd'])}",
        f"initial shock h0: {r['h0']:.4f} ({_usd(r['shock_usd'])})",
        f"DebtRank: h {r['debtrank_h']:.4f}, loss {_usd(r['debtrank_loss_usd'])}"
        + (" DEFAULT" if r["debtrank_default"] else ""),
        f"differential DebtRank: h {r['differential_h']:.4f}, loss "
        f"{_usd(r['differential_loss_usd'])}" + (" DEFAULT" if r["differential_default"] else ""),
        f"Eisenberg-Noe shortfall: {_usd(r['en_shortfall_usd'])}"
        + (" DEFAULT" if r["en_default"] else ""),
        f"Rogers-Veraart shortfall: {_usd(r['rv_shortfall_usd'])}"
        + (" DEFAULT" if r["rv_default"] else ""),
        f"Furfine: {furfine}",
        f"chain loss: {_usd(r['chain_loss_usd'])}",
    ]
    return "<br>".join(lines)


def graph_figure(report, *, colour_by: str = "debtrank") -> go.Figure:
    """The report's graph as a plotly figure (the HTML file and the app's Contagion page)."""
    field, legend = COLOUR_BY[colour_by]
    G = report.graph
    pos = layout(G)
    rows = {r["node"]: r for r in report.nodes}
    size = _sizes(report)
    fig = go.Figure()
    for i, j, d in G.edges(data=True):
        (x0, y0), (x1, y1) = pos[i], pos[j]
        fig.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
            showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=1.5, arrowcolor="#888",
            standoff=size[j] / 2, startstandoff=size[i] / 2,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=[(x0 + x1) / 2], y=[(y0 + y1) / 2], mode="markers",
                marker={"size": 6, "color": "#888"}, showlegend=False,
                hovertext=f"{i} holds {d['exposure_usd']:,.2f} USD of {j}", hoverinfo="text",
            )
        )  # fmt: skip
    nodes = list(G)
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in nodes],
            y=[pos[n][1] for n in nodes],
            mode="markers+text",
            text=[str(n) for n in nodes],
            textposition="bottom center",
            hovertext=[_hover(rows[n]) for n in nodes],
            hoverinfo="text",
            showlegend=False,
            marker={
                "size": [size[n] for n in nodes],
                "color": [rows[n][field] for n in nodes],
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": COLOURSCALE,
                "line": {"width": 1, "color": "#333"},
                "colorbar": {"title": {"text": legend, "side": "right"}},
            },
        )
    )
    fig.update_layout(
        title=(
            f"Exposure graph at step {report.step_start} (edges holder -> issuer), "
            f"shock scale {report.shock_scale:g}"
        ),
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="white",
        height=560,
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
    )
    return fig


def write_graph_html(report, path: str | Path) -> None:
    """The interactive figure as a self-contained HTML file (plotly.js inside), atomically."""
    atomic_write_text(path, graph_figure(report).to_html(include_plotlyjs=True, full_html=True))


def write_graph_png(report, path: str | Path, *, colour_by: str = "debtrank") -> None:
    """The same picture as a static PNG (matplotlib with networkx's drawing), atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    field, legend = COLOUR_BY[colour_by]
    G = report.graph
    pos = layout(G)
    rows = {r["node"]: r for r in report.nodes}
    nodes = list(G)
    diameter = _sizes(report)
    area = [(diameter[n] * 1.6) ** 2 for n in nodes]  # points^2
    cmap, norm = colormaps[COLOURSCALE], Normalize(0.0, 1.0)
    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=110)
    nx.draw_networkx_edges(
        G, pos, ax=ax, node_size=area, arrows=True, arrowstyle="-|>", arrowsize=16,
        edge_color="#888", nodelist=nodes,
    )  # fmt: skip
    nx.draw_networkx_nodes(
        G, pos, ax=ax, nodelist=nodes, node_size=area,
        node_color=[rows[n][field] for n in nodes], cmap=cmap, vmin=0.0, vmax=1.0,
        edgecolors="#333",
    )  # fmt: skip
    labels = {
        n: f"{n}\n{rows[n]['equity_start_usd']:,.0f} USD\nh {rows[n][field]:.3f}" for n in nodes
    }
    nx.draw_networkx_labels(G, pos, labels=labels, ax=ax, font_size=8)
    nx.draw_networkx_edge_labels(
        G, pos, ax=ax, font_size=7,
        edge_labels={(i, j): f"{d['exposure_usd']:,.0f}" for i, j, d in G.edges(data=True)},
    )  # fmt: skip
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=legend)
    ax.set_title(
        f"Exposure graph at step {report.step_start}: edges holder -> issuer (exposure USD), "
        f"shock scale {report.shock_scale:g}",
        fontsize=9,
    )
    ax.axis("off")
    ax.margins(0.15)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
