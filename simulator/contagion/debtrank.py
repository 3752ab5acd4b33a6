"""DebtRank: how far distress at some nodes spreads through balance-sheet exposures.

Two variants (REFERENCES.md, "Contagion algorithms"); the graph convention is that of
:mod:`simulator.contagion.network` (holder -> issuer edges, ``exposure_usd`` in USD), and
distress ``h`` is the fraction of a node's equity lost, in [0, 1]:

- ``"battiston"`` (Battiston et al. 2012): the impact of issuer j on holder i is
  ``W[j, i] = min(1, A[i, j] / E[i])`` (capped at 1: a holder cannot lose more than its equity
  through one issuer). Nodes are undistressed (U), distressed (D) or inactive (I); a node with
  ``h > 0`` that has not been inactive is D. All nodes update synchronously,
  ``h_i(t) = min(1, h_i(t-1) + Σ_{j in D at t-1} W[j, i] h_j(t-1))``, then every node that
  was D becomes I: each node passes its distress on exactly once, so the process ends after at
  most n rounds. Inactive nodes can still receive distress; they do not pass it on again.
- ``"differential"`` (Bardoscia et al. 2015): ``Λ[i, j] = A[i, j] / E[i]`` (not capped);
  increments propagate, ``h_i(t+1) = min(1, h_i(t) + Σ_j Λ[i, j] (h_j(t) - h_j(t-1)))`` with
  ``h(-1) = 0``, so a node passes on every new increment of its distress. It stops when the
  largest increment is at most ``tol``; it converges geometrically when the largest eigenvalue
  of Λ is below 1 (otherwise distress saturates at 1).

A holder with ``E[i] = 0`` and a positive exposure is an error (its relative loss is
undefined; pass it in ``shock`` with 1.0 if it has already failed). Each function has a fast
version on ``scipy.sparse`` matrices (``_debtrank_scipy``) and a small pure-Python reference
(``_debtrank_reference``) that the tests compare.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import networkx as nx
import numpy as np
import scipy.sparse as sp

from simulator.contagion.network import ExposureNetwork, read_network, read_node_map
from simulator.errors import ContagionError, ContagionNotConverged

VARIANTS = ("battiston", "differential")


def _read(G, shock, variant, exposure, equity) -> tuple[ExposureNetwork, np.ndarray]:
    """Check the inputs shared by the fast and the reference version."""
    if variant not in VARIANTS:
        raise ContagionError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    net = read_network(G, exposure=exposure, node_attributes=(equity,))
    h0 = read_node_map(net, shock, "shock", upper=1.0)
    held = np.bincount(net.holder, weights=net.exposure_usd, minlength=net.size)
    broke = np.flatnonzero((net.node_values[equity] == 0) & (held > 0))
    if broke.size:
        node = net.nodes[int(broke[0])]
        raise ContagionError(
            f"node {node!r} holds {held[broke[0]]:g} USD of exposures but has {equity} 0: its "
            f"relative loss is undefined (give it shock 1.0 if it has already failed)"
        )
    return net, h0


def debtrank(
    G: nx.DiGraph,
    shock: Mapping[Hashable, float],
    *,
    variant: str = "battiston",
    exposure: str = "exposure_usd",
    equity: str = "equity_usd",
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> dict[Hashable, float]:
    """Final distress of every node after an initial shock (DebtRank).

    Parameters
    ----------
    G : networkx.DiGraph
        Holder -> issuer edges: ``i -> j`` with ``G[i][j][exposure] = x`` means i holds x USD
        of j's liabilities, so distress flows from j to i (against the edge). Self-loops are
        an error.
    shock : dict
        ``{node: initial distress in [0, 1]}``; absent nodes start at 0.
    variant : {"battiston", "differential"}
        ``"battiston"``: Battiston et al. 2012, impact ``W[j, i] = min(1, A[i, j] / E[i])``
        (capped), U/D/I states, each node propagates its distress once, synchronous rounds.
        ``"differential"``: Bardoscia et al. 2015, ``Λ[i, j] = A[i, j] / E[i]`` (uncapped),
        every increment of distress propagates, synchronous rounds; ``h`` capped at 1.
    exposure : str
        Edge attribute with the exposure in USD.
    equity : str
        Node attribute with the equity in USD (every node; >= 0, and > 0 for a holder).
    tol : float
        ``"differential"`` stops when no node's distress grows by more than ``tol`` in a round.
        ``"battiston"`` ends by itself (at most n rounds) and ignores it.
    max_iter : int
        Rounds allowed to the ``"differential"`` variant before it raises.

    Returns
    -------
    dict
        ``{node: final distress h in [0, 1]}`` for every node of ``G``, in ``G``'s node order.

    Raises
    ------
    ContagionError
        Bad graph (see :func:`~simulator.contagion.network.read_network`), an unknown variant,
        a shock outside [0, 1] or naming a node not in ``G``, a holder with zero equity.
    ContagionNotConverged
        The differential variant needed more than ``max_iter`` rounds (the message gives the
        count and the last increment).

    References
    ----------
    .. [1] Battiston, Puliga, Kaushik, Tasca, Caldarelli, "DebtRank: Too Central to Fail?
       Financial Networks, the FED and Systemic Risk", Scientific Reports 2, 541 (2012).
    .. [2] Bardoscia, Battiston, Caccioli, Caldarelli, "DebtRank: A Microscopic Foundation for
       Shock Propagation", PLoS ONE 10(6) (2015).

    Examples
    --------
    A fund holds 50 USD of a venue's liabilities and has 100 USD of equity; a lender holds 30
    USD of the fund and has 60 USD of equity. The venue fails (distress 1):

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("fund", "venue", exposure_usd=50.0)
    >>> G.add_edge("lender", "fund", exposure_usd=30.0)
    >>> nx.set_node_attributes(G, {"venue": 10.0, "fund": 100.0, "lender": 60.0}, "equity_usd")
    >>> debtrank(G, {"venue": 1.0})
    {'fund': 0.5, 'venue': 1.0, 'lender': 0.25}

    The fund loses half its equity (50/100); the lender loses 30/60 of the fund's distress 0.5.
    """
    net, h0 = _read(G, shock, variant, exposure, equity)
    h = _debtrank_scipy(net, h0, variant=variant, equity=equity, tol=tol, max_iter=max_iter)
    return dict(zip(net.nodes, h.tolist(), strict=True))


def _impact_matrix(net: ExposureNetwork, variant: str, equity: str) -> sp.csr_array:
    """``M[i, j]``: distress of holder i per unit of distress of issuer j (``W[j, i]`` for
    Battiston, ``Λ[i, j]`` for the differential variant)."""
    E = net.node_values[equity]
    ratio = net.exposure_usd / np.where(E[net.holder] > 0, E[net.holder], 1.0)
    if variant == "battiston":
        ratio = np.minimum(ratio, 1.0)
    n = net.size
    return sp.csr_array((ratio, (net.holder, net.issuer)), shape=(n, n))


def _debtrank_scipy(
    net: ExposureNetwork, h0: np.ndarray, *, variant: str, equity: str, tol: float, max_iter: int
) -> np.ndarray:
    """Vectorized DebtRank: one sparse matrix-vector product per synchronous round."""
    M = _impact_matrix(net, variant, equity)
    h = h0.copy()
    if variant == "battiston":
        distressed = h > 0
        inactive = np.zeros(net.size, dtype=bool)
        while distressed.any():
            h = np.minimum(1.0, h + M @ np.where(distressed, h, 0.0))
            inactive |= distressed
            distressed = (h > 0) & ~inactive
        return h
    previous = np.zeros(net.size)
    for _ in range(max_iter):
        increment = h - previous
        if not increment.size or increment.max() <= tol:
            return h
        previous, h = h, np.minimum(1.0, h + M @ increment)
    raise ContagionNotConverged("differential DebtRank", max_iter, float((h - previous).max()), tol)


def _debtrank_reference(
    net: ExposureNetwork, h0: np.ndarray, *, variant: str, equity: str, tol: float, max_iter: int
) -> np.ndarray:
    """The same process node by node in pure Python (dicts and loops), for the tests."""
    E = net.value(equity)
    holders_of: dict = {node: [] for node in net.nodes}
    for holder, issuer, x in net.edges():
        impact = x / E[holder]
        holders_of[issuer].append((holder, min(1.0, impact) if variant == "battiston" else impact))
    h = dict(zip(net.nodes, h0.tolist(), strict=True))
    if variant == "battiston":
        state = {node: "D" if h[node] > 0 else "U" for node in net.nodes}
        while "D" in state.values():
            received = dict.fromkeys(net.nodes, 0.0)
            for issuer in net.nodes:
                if state[issuer] == "D":
                    for holder, impact in holders_of[issuer]:
                        received[holder] += impact * h[issuer]
            h = {node: min(1.0, h[node] + received[node]) for node in net.nodes}
            for node in net.nodes:
                if state[node] == "D":
                    state[node] = "I"
                elif state[node] == "U" and h[node] > 0:
                    state[node] = "D"
        return np.array([h[node] for node in net.nodes])
    previous = dict.fromkeys(net.nodes, 0.0)
    for _ in range(max_iter):
        increment = {node: h[node] - previous[node] for node in net.nodes}
        if max(increment.values(), default=0.0) <= tol:
            return np.array([h[node] for node in net.nodes])
        received = dict.fromkeys(net.nodes, 0.0)
        for issuer in net.nodes:
            for holder, impact in holders_of[issuer]:
                received[holder] += impact * increment[issuer]
        previous, h = h, {node: min(1.0, h[node] + received[node]) for node in net.nodes}
    change = max(h[node] - previous[node] for node in net.nodes)
    raise ContagionNotConverged("differential DebtRank", max_iter, change, tol)


def debtrank_loss(
    G: nx.DiGraph,
    h: Mapping[Hashable, float],
    *,
    value: str = "equity_usd",
    shock: Mapping[Hashable, float] | None = None,
) -> float:
    """DebtRank ``R``: the value-weighted distress, as a fraction of the total value.

    ``R = Σ_j h_j v_j - Σ_j h_j(1) v_j`` with weights ``v_j = value_j / Σ value`` (summing to
    1). Without ``shock`` the second sum is 0 and R is the whole loss, shock included; with the
    initial ``shock`` (the ``h(1)`` of Battiston et al. 2012) it is only the loss the shock
    induced through the network. Multiply by ``Σ value`` for USD: with the default
    ``value="equity_usd"``, ``R · Σ E`` is the equity lost, in USD.

    Parameters
    ----------
    G : networkx.DiGraph
        The graph ``h`` was computed on; only its node attribute ``value`` is read.
    h : dict
        ``{node: distress in [0, 1]}``, e.g. the result of :func:`debtrank`; absent nodes 0.
    value : str
        Node attribute with each node's economic value (>= 0, not all 0).
    shock : dict, optional
        The initial distress, to subtract.

    Returns
    -------
    float
        R, a fraction of the total value in [-1, 1] (>= 0 when ``h`` came from ``shock``).

    Raises
    ------
    ContagionError
        A distress outside [0, 1] or naming an unknown node; a missing or negative ``value``;
        all values 0.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("fund", "venue", exposure_usd=50.0)
    >>> nx.set_node_attributes(G, {"venue": 100.0, "fund": 100.0}, "equity_usd")
    >>> h = debtrank(G, {"venue": 1.0})
    >>> debtrank_loss(G, h), debtrank_loss(G, h, shock={"venue": 1.0})
    (0.75, 0.25)
    """
    net = read_network(G, exposure=None, node_attributes=(value,))
    distress = read_node_map(net, h, "h", upper=1.0)
    weights = net.node_values[value]
    total = weights.sum()
    if total <= 0:
        raise ContagionError(f"every node's {value} is 0: DebtRank's weights are undefined")
    initial = np.zeros(net.size) if shock is None else read_node_map(net, shock, "shock", upper=1.0)
    return float(((distress - initial) * weights).sum() / total)
