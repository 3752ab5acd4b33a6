"""Graphs and hypothesis strategies shared by the contagion tests.

Random graphs have integer-valued USD amounts (as floats) so that sums are exact in floating
point and the fast and reference versions see exactly the same thresholds.
"""

from __future__ import annotations

import networkx as nx
from hypothesis import strategies as st


def exposure_graph(edges, equity=None, external=None) -> nx.DiGraph:
    """``edges``: ``(holder, issuer, exposure_usd)``; ``equity`` / ``external``: ``{node: USD}``."""
    G = nx.DiGraph()
    for node in {**(equity or {}), **(external or {})}:
        G.add_node(node)
    for holder, issuer, x in edges:
        G.add_edge(holder, issuer, exposure_usd=float(x))
    if equity is not None:
        nx.set_node_attributes(G, {n: float(v) for n, v in equity.items()}, "equity_usd")
    if external is not None:
        nx.set_node_attributes(G, {n: float(v) for n, v in external.items()}, "external_assets_usd")
    return G


@st.composite
def random_graphs(draw, min_nodes: int = 2, max_nodes: int = 9) -> nx.DiGraph:
    """A random holder -> issuer graph with every attribute (equity >= 1 USD on every node)."""
    n = draw(st.integers(min_nodes, max_nodes))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    exposures = draw(st.lists(st.integers(0, 100), min_size=len(chosen), max_size=len(chosen)))
    equity = draw(st.lists(st.integers(1, 150), min_size=n, max_size=n))
    external = draw(st.lists(st.integers(0, 150), min_size=n, max_size=n))
    return exposure_graph(
        [(i, j, x) for (i, j), x in zip(chosen, exposures, strict=True)],
        equity=dict(enumerate(equity)),
        external=dict(enumerate(external)),
    )


@st.composite
def graphs_with_shock(draw, max_nodes: int = 9):
    """A random graph and a shock ``{node: distress in (0, 1]}`` on some of its nodes."""
    G = draw(random_graphs(max_nodes=max_nodes))
    hit = draw(st.lists(st.sampled_from(list(G)), unique=True, min_size=1))
    levels = draw(st.lists(st.floats(0.01, 1.0), min_size=len(hit), max_size=len(hit)))
    return G, dict(zip(hit, levels, strict=True))
