"""``perpsim bench contagion``: the contagion algorithms on a large random exposure graph.

One seeded random graph (:func:`random_exposure_graph`): ``nodes`` nodes, ``edges`` distinct
holder -> issuer edges drawn uniformly (no self-loops), exposures log-normal (median 1M USD);
network claims are 20-60% of a node's total assets and its equity (external assets + claims -
obligations) at least 3-15% of them, and 1% of the nodes (at least one) take the shock: distress 0.5
for DebtRank, default for Furfine, half their external assets lost for the clearing vectors.

Each fast algorithm (:mod:`simulator.contagion`) is timed on that graph, whole function call
from the ``DiGraph`` in to the ``{node: value}`` out (checking and matrix building included),
best of ``repeat`` runs. The pure-Python references run on a smaller graph of the same mean
degree (``reference_nodes`` nodes) beside the fast versions on that same graph: the figures
give the speed-up and the largest difference between the two results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import networkx as nx
import numpy as np

from simulator.contagion import debtrank, eisenberg_noe, furfine, rogers_veraart
from simulator.contagion.cascade import _furfine_reference, _furfine_scipy
from simulator.contagion.clearing import _clearing_reference, _clearing_scipy
from simulator.contagion.debtrank import _debtrank_reference, _debtrank_scipy
from simulator.contagion.network import read_network, read_node_map, read_node_set
from simulator.errors import PerpsimError

#: Default cost parameters of the Rogers–Veraart figures (fractions realised on default).
RV_ALPHA, RV_BETA = 0.5, 0.9
#: Share of the nodes that take the initial shock.
SHOCKED_SHARE = 0.01


def _check_size(nodes: int, edges: int, what: str = "bench contagion") -> None:
    """Edges that fit a simple directed graph on ``nodes`` nodes, or a one-line error."""
    if nodes < 2 or not 0 < edges <= nodes * (nodes - 1):
        raise PerpsimError(
            f"{what}: {edges} edges do not fit a simple directed graph on {nodes} "
            f"nodes (at most {max(nodes, 0) * max(nodes - 1, 0)} without self-loops)"
        )


def random_exposure_graph(nodes: int, edges: int, seed: int) -> nx.DiGraph:
    """A seeded random holder -> issuer graph with ``exposure_usd``, ``equity_usd`` and
    ``external_assets_usd`` (balance-sheet identity: equity = external + claims - obligations).

    >>> G = random_exposure_graph(50, 200, seed=1)
    >>> G.number_of_nodes(), G.number_of_edges()
    (50, 200)
    >>> all(d["equity_usd"] > 0 for _, d in G.nodes(data=True))
    True
    """
    _check_size(nodes, edges)
    rng = np.random.default_rng(seed)
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < edges:  # distinct ordered pairs without self-loops
        draw = rng.integers(0, nodes * (nodes - 1), size=2 * (edges - chosen.size))
        chosen = np.unique(np.concatenate([chosen, draw]))
    chosen = rng.permutation(chosen)[:edges]
    holder, rest = np.divmod(chosen, nodes - 1)
    issuer = rest + (rest >= holder)  # skip the diagonal
    exposure = rng.lognormal(mean=np.log(1e6), sigma=1.0, size=edges)
    claims = np.bincount(holder, weights=exposure, minlength=nodes)
    obligations = np.bincount(issuer, weights=exposure, minlength=nodes)
    # Claims on the network are 20-60% of a node's total assets, equity 3-15% of them; external
    # assets are topped up where obligations would otherwise leave less equity than that.
    total_assets = claims / rng.uniform(0.20, 0.60, size=nodes) + rng.uniform(1e5, 1e6, nodes)
    target_equity = rng.uniform(0.03, 0.15, size=nodes) * total_assets
    external = np.maximum(total_assets - claims, target_equity + obligations - claims)
    equity = external + claims - obligations
    G = nx.DiGraph()
    G.add_nodes_from(
        (k, {"equity_usd": float(equity[k]), "external_assets_usd": float(external[k])})
        for k in range(nodes)
    )
    G.add_edges_from(
        (int(i), int(j), {"exposure_usd": float(x)})
        for i, j, x in zip(holder, issuer, exposure, strict=True)
    )
    return G


def shocked_nodes(G: nx.DiGraph, seed: int) -> list:
    """The seeded 1% (at least one) of the nodes that take the initial shock."""
    rng = np.random.default_rng([seed, 1])
    count = max(1, int(SHOCKED_SHARE * G.number_of_nodes()))
    return sorted(rng.choice(G.number_of_nodes(), size=count, replace=False).tolist())


def _with_lost_external_assets(G: nx.DiGraph, hit: list) -> nx.DiGraph:
    """A copy of ``G`` where the ``hit`` nodes lost half their external assets."""
    H = G.copy()
    for node in hit:
        H.nodes[node]["external_assets_usd"] *= 0.5
    return H


def _best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _fast_figures(G: nx.DiGraph, hit: list, repeat: int) -> dict:
    """Time the public functions on ``G``; a few counts show what each one computed."""
    shock = dict.fromkeys(hit, 0.5)
    H = _with_lost_external_assets(G, hit)
    obligations = dict(H.in_degree(weight="exposure_usd"))
    cases = {
        "debtrank_battiston": lambda: debtrank(G, shock),
        "debtrank_differential": lambda: debtrank(G, shock, variant="differential"),
        "eisenberg_noe": lambda: eisenberg_noe(H),
        "rogers_veraart": lambda: rogers_veraart(H, RV_ALPHA, RV_BETA),
        "furfine": lambda: furfine(G, hit),
    }
    figures = {}
    for name, fn in cases.items():
        seconds, result = _best_of(fn, repeat)
        if name.startswith("debtrank"):
            outcome = {"distressed_nodes": sum(h > 0 for h in result.values()),
                       "mean_distress": float(np.mean(list(result.values())))}  # fmt: skip
        elif name == "furfine":
            outcome = {"defaulted_nodes": len(result), "rounds": max(result.values())}
        else:
            short = sum(p < obligations[n] * (1 - 1e-12) for n, p in result.items())
            outcome = {"defaulting_nodes": short}
        figures[name] = {"seconds": round(seconds, 4), **outcome}
    return figures


def _reference_figures(G: nx.DiGraph, hit: list) -> dict:
    """Fast kernel and pure-Python reference on the same checked network, timed side by side,
    with the largest absolute difference of their results."""
    net = read_network(G, node_attributes=("equity_usd", "external_assets_usd"))
    h0 = read_node_map(net, dict.fromkeys(hit, 0.5), "shock", upper=1.0)
    initial = read_node_set(net, hit, "defaulted")
    H = _with_lost_external_assets(G, hit)
    net_h = read_network(H, node_attributes=("external_assets_usd",))
    kernels = {
        "debtrank_battiston": lambda kernel: kernel(
            net, h0, variant="battiston", equity="equity_usd", tol=1e-12, max_iter=10_000
        ),
        "debtrank_differential": lambda kernel: kernel(
            net, h0, variant="differential", equity="equity_usd", tol=1e-12, max_iter=10_000
        ),
        "eisenberg_noe": lambda kernel: kernel(
            net_h, "external_assets_usd", alpha=1.0, beta=1.0, tol=1e-12, max_iter=100_000
        ),
        "rogers_veraart": lambda kernel: kernel(
            net_h,
            "external_assets_usd",
            alpha=RV_ALPHA,
            beta=RV_BETA,
            tol=1e-12,
            max_iter=100_000,
        ),  # fmt: skip
        "furfine": lambda kernel: kernel(net, initial, equity="equity_usd", loss_given_default=1.0),
    }
    pairs = {
        "debtrank_battiston": (_debtrank_scipy, _debtrank_reference),
        "debtrank_differential": (_debtrank_scipy, _debtrank_reference),
        "eisenberg_noe": (_clearing_scipy, _clearing_reference),
        "rogers_veraart": (_clearing_scipy, _clearing_reference),
        "furfine": (_furfine_scipy, _furfine_reference),
    }
    figures = {}
    for name, (fast, reference) in pairs.items():
        fast_seconds, fast_result = _best_of(partial(kernels[name], fast), 1)
        ref_seconds, ref_result = _best_of(partial(kernels[name], reference), 1)
        figures[name] = {
            "reference_seconds": round(ref_seconds, 4),
            "fast_seconds": round(fast_seconds, 4),
            "speedup": round(ref_seconds / max(fast_seconds, 1e-9), 1),
            "max_abs_difference": float(np.abs(fast_result - ref_result).max(initial=0.0)),
        }
    return figures


def run(
    nodes: int = 10_000,
    edges: int = 100_000,
    seed: int = 7,
    reference_nodes: int = 1_000,
    repeat: int = 3,
    progress: Callable[[str], None] = lambda message: None,
) -> dict:
    """The figures of ``perpsim bench contagion`` (see the module docstring)."""
    reference_edges = max(1, round(edges * reference_nodes / nodes))
    _check_size(nodes, edges)  # both graphs, before any output
    _check_size(reference_nodes, reference_edges,
                f"bench contagion --reference-nodes {reference_nodes} (same mean degree)")  # fmt: skip
    progress(f"building a random exposure graph: {nodes:,} nodes, {edges:,} edges")
    start = time.perf_counter()
    G = random_exposure_graph(nodes, edges, seed)
    build_seconds = time.perf_counter() - start
    hit = shocked_nodes(G, seed)
    progress("timing the fast algorithms")
    fast = _fast_figures(G, hit, repeat)
    progress(f"reference versions on {reference_nodes:,} nodes, {reference_edges:,} edges")
    small = random_exposure_graph(reference_nodes, reference_edges, seed)
    reference = _reference_figures(small, shocked_nodes(small, seed))
    return {
        "nodes": nodes,
        "edges": edges,
        "seed": seed,
        "shocked_nodes": len(hit),
        "repeat": repeat,
        "graph_build_seconds": round(build_seconds, 3),
        "fast": fast,
        "reference_graph": {"nodes": reference_nodes, "edges": reference_edges},
        "reference": reference,
    }
