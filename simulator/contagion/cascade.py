"""Threshold default cascade (Furfine 2003): who fails, and in which round.

Graph convention (:mod:`simulator.contagion.network`): an edge ``i -> j`` with
``exposure_usd = x`` means i holds x USD of j's liabilities. When j defaults, every holder i
loses ``loss_given_default · x``. Rounds are synchronous: the nodes in ``defaulted`` fail in
round 0; in round k every surviving node adds up its losses on all nodes that failed in rounds
``0 .. k-1`` and fails in round k when that total reaches its equity (``loss >= equity`` with
``loss > 0``: a node that loses nothing never fails, even with equity 0). The cascade stops at
the first round in which nobody new fails (at most n rounds). A failed node's claims are lost
at the fixed rate ``loss_given_default``; nothing is recovered later.

``_furfine_scipy`` is the vectorized version (one sparse product per round);
``_furfine_reference`` the same rounds in pure Python; the tests compare them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import networkx as nx
import numpy as np

from simulator.contagion.network import (
    ExposureNetwork,
    check_fraction,
    read_network,
    read_node_set,
)


def furfine(
    G: nx.DiGraph,
    defaulted: Iterable[Hashable],
    *,
    exposure: str = "exposure_usd",
    equity: str = "equity_usd",
    loss_given_default: float = 1.0,
) -> dict[Hashable, int]:
    """The nodes that have defaulted when a threshold cascade ends, with the round of each.

    Parameters
    ----------
    G : networkx.DiGraph
        Holder -> issuer edges: ``i -> j`` with ``G[i][j][exposure] = x`` means i holds x USD
        of j's liabilities and loses ``loss_given_default · x`` if j defaults. Self-loops are
        an error.
    defaulted : iterable of nodes
        The nodes that fail at the start (round 0).
    exposure : str
        Edge attribute with the exposure in USD.
    equity : str
        Node attribute with the equity (loss-absorbing capital) in USD, every node, >= 0.
    loss_given_default : float
        Fraction of a claim lost when its issuer defaults, in [0, 1].

    Returns
    -------
    dict
        ``{node: round}`` for every node that has defaulted at the end: 0 for the initial
        defaults, k for a node whose cumulative loss first reached its equity in round k. The
        keys are the set of defaulted nodes; the largest value is the number of rounds the
        cascade lasted. Ordered by round, then by ``G``'s node order.

    Raises
    ------
    ContagionError
        A bad graph (see :func:`~simulator.contagion.network.read_network`), ``defaulted``
        naming a node not in ``G``, ``loss_given_default`` outside [0, 1].

    References
    ----------
    .. [1] Furfine, "Interbank Exposures: Quantifying the Risk of Contagion", Journal of
       Money, Credit and Banking 35(1), 111-128 (2003).

    Examples
    --------
    A fund (equity 40) holds 50 USD of a venue; a lender (equity 20) holds 30 of the fund and
    a bank (equity 100) holds 30 of the fund too. With the venue's failure the fund loses 50
    >= 40 (round 1), then the lender loses 30 >= 20 (round 2) and the bank survives:

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("fund", "venue", exposure_usd=50.0)
    >>> G.add_edge("lender", "fund", exposure_usd=30.0)
    >>> G.add_edge("bank", "fund", exposure_usd=30.0)
    >>> nx.set_node_attributes(G, {"venue": 5.0, "fund": 40.0, "lender": 20.0, "bank": 100.0},
    ...                        "equity_usd")
    >>> furfine(G, ["venue"])
    {'venue': 0, 'fund': 1, 'lender': 2}

    With only 60% of a claim lost, the fund loses 30 < 40 and the cascade stops at once:

    >>> furfine(G, ["venue"], loss_given_default=0.6)
    {'venue': 0}
    """
    lgd = check_fraction(loss_given_default, "loss_given_default")
    net = read_network(G, exposure=exposure, node_attributes=(equity,))
    initial = read_node_set(net, defaulted, "defaulted")
    rounds = _furfine_scipy(net, initial, equity=equity, loss_given_default=lgd)
    order = np.flatnonzero(rounds >= 0)
    order = order[np.argsort(rounds[order], kind="stable")]
    return {net.nodes[k]: int(rounds[k]) for k in order}


def _furfine_scipy(
    net: ExposureNetwork, initial: np.ndarray, *, equity: str, loss_given_default: float
) -> np.ndarray:
    """Round of default per node (-1: survives), one sparse product per round."""
    A = net.holdings()
    E = net.node_values[equity]
    rounds = np.where(initial, 0, -1)
    loss = np.zeros(net.size)
    new = initial.copy()
    k = 0
    while new.any():
        k += 1
        loss += loss_given_default * (A @ new.astype(float))
        new = (rounds < 0) & (loss > 0) & (loss >= E)
        rounds[new] = k
    return rounds


def _furfine_reference(
    net: ExposureNetwork, initial: np.ndarray, *, equity: str, loss_given_default: float
) -> np.ndarray:
    """The same rounds in pure Python (dicts and loops), for the tests."""
    E = net.value(equity)
    holders_of: dict = {node: [] for node in net.nodes}
    for holder, issuer, x in net.edges():
        holders_of[issuer].append((holder, x))
    round_of = {node: 0 for node, hit in zip(net.nodes, initial.tolist(), strict=True) if hit}
    loss = dict.fromkeys(net.nodes, 0.0)
    new = list(round_of)
    k = 0
    while new:
        k += 1
        for issuer in new:
            for holder, x in holders_of[issuer]:
                loss[holder] += loss_given_default * x
        new = [n for n in net.nodes if n not in round_of and loss[n] > 0 and loss[n] >= E[n]]
        round_of.update(dict.fromkeys(new, k))
    return np.array([round_of.get(node, -1) for node in net.nodes])
