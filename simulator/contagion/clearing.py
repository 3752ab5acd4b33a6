"""Clearing payments: Eisenberg–Noe (2001) and Rogers–Veraart (2013).

Graph convention (:mod:`simulator.contagion.network`): an edge ``j -> i`` with
``exposure_usd = x`` means j holds x USD of i's liabilities, i.e. **i owes j the amount x**
(``L[i, j] = x``). Each node i has obligations ``p̄_i = Σ_j L[i, j]`` (the sum over the edges
into i), external assets ``e_i`` (node attribute ``external_assets_usd``) and pays the vector
``p``; its creditors share ``p_i`` in proportion to what they are owed,
``Π[i, j] = L[i, j] / p̄_i``, so node i receives ``Σ_j Π[j, i] p_j``.

- Eisenberg–Noe: ``p = min(p̄, e + Πᵀ p)``, a defaulting node pays everything it has.
- Rogers–Veraart: a node that cannot pay in full (``e_i + Σ_j Π[j, i] p_j < p̄_i``) pays only
  ``α e_i + β Σ_j Π[j, i] p_j`` (default costs: it realises a fraction α of its external
  assets and β of its claims); ``α = β = 1`` is Eisenberg–Noe.

Both return the **greatest** clearing vector, computed with the fictitious-default algorithm
(Eisenberg and Noe 2001, section 3; Rogers and Veraart 2013, their "Greatest Clearing Vector
Algorithm"): start from everyone paying in full, find who defaults, solve the linear system
for the defaulters' payments with the others paying in full, repeat until the set of
defaulters stops growing (at most n rounds; updates are synchronous). Between solves, cheap
synchronous steps of the clearing map find new defaulters while they keep appearing (valid
because they never fall below the greatest clearing vector), so a chain of defaults costs one
sparse product per link, not one solve. The linear system of up
to ``DIRECT_SOLVE_MAX_DEFAULTERS`` defaulters is solved exactly by sparse LU; a larger one by
BiCGSTAB (Jacobi preconditioner, warm start) to a relative residual of ``SOLVER_RTOL`` (LU of
a large random sparse matrix fills in: minutes instead of milliseconds).

A node defaults when ``e_i + Σ_j Π[j, i] p_j < p̄_i (1 - SHORTFALL_RTOL)``, 1e-9: a node short by
less than that (float rounding of an exact break-even) pays in full.

The system is singular only when ``β = 1`` and a group of defaulters owe everything to each
other (a closed group: every creditor of the group is in it). In exact arithmetic fictitious
default never meets one (each round's defaulters also default at the greatest clearing
vector, and a closed group defaulting there could pay more), so it can only come from rounding
at a break-even; it is checked on the graph before solving. Then, or if a solver fails, the
greatest clearing vector is reached by iterating the clearing map from ``p̄``, which decreases
monotonically to it, until no payment changes by more than ``tol · max(1, max p̄)`` USD; more
than ``max_iter`` iterations raise :class:`~simulator.errors.ContagionNotConverged`.

The pure-Python reference (``_clearing_reference``) iterates the clearing map from ``p̄`` (a
different algorithm converging to the same greatest fixed point); the tests compare the two.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from simulator.contagion.network import ExposureNetwork, check_fraction, read_network
from simulator.errors import ContagionNotConverged


def eisenberg_noe(
    G: nx.DiGraph,
    *,
    exposure: str = "exposure_usd",
    external_assets: str = "external_assets_usd",
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> dict[Hashable, float]:
    """Greatest Eisenberg–Noe clearing vector: what each node pays its creditors, in USD.

    Parameters
    ----------
    G : networkx.DiGraph
        Holder -> issuer edges: an edge ``j -> i`` with ``G[j][i][exposure] = x`` means i owes
        j the amount x (USD). Self-loops are an error.
    exposure : str
        Edge attribute with the obligation in USD.
    external_assets : str
        Node attribute with the node's assets outside the network, USD (every node, >= 0).
    tol : float
        Only if a fictitious-default system is singular (see the module docstring): stop the
        fallback iteration when no payment changes by more than ``tol · max(1, max p̄)`` USD.
    max_iter : int
        Iterations allowed to that fallback before it raises.

    Returns
    -------
    dict
        ``{node: payment_usd}``, ``0 <= p_i <= p̄_i`` (``p_i = p̄_i`` for a node that pays in
        full, 0 for a node that owes nothing), in ``G``'s node order.

    Raises
    ------
    ContagionError
        A bad graph (not a ``DiGraph``, a self-loop, a missing, negative or non-finite
        exposure or external assets).
    ContagionNotConverged
        The fallback iteration needed more than ``max_iter`` iterations.

    References
    ----------
    .. [1] Eisenberg, Noe, "Systemic Risk in Financial Systems", Management Science 47(2),
       236-249 (2001).

    Examples
    --------
    A venue owes a fund 100 USD and the fund owes a lender 80; the venue has 60 USD of its own,
    the fund 10. The venue pays all it has (60); the fund then has 70 < 80 and pays 70:

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("fund", "venue", exposure_usd=100.0)
    >>> G.add_edge("lender", "fund", exposure_usd=80.0)
    >>> nx.set_node_attributes(G, {"venue": 60.0, "fund": 10.0, "lender": 0.0},
    ...                        "external_assets_usd")
    >>> eisenberg_noe(G)
    {'fund': 70.0, 'venue': 60.0, 'lender': 0.0}
    """
    return rogers_veraart(
        G,
        1.0,
        1.0,
        exposure=exposure,
        external_assets=external_assets,
        tol=tol,
        max_iter=max_iter,
    )


def rogers_veraart(
    G: nx.DiGraph,
    alpha: float,
    beta: float,
    *,
    exposure: str = "exposure_usd",
    external_assets: str = "external_assets_usd",
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> dict[Hashable, float]:
    """Greatest Rogers–Veraart clearing vector (Eisenberg–Noe with default costs), USD.

    A node that pays in full pays ``p̄_i``; a node that cannot
    (``e_i + Σ_j Π[j, i] p_j < p̄_i``) pays ``α e_i + β Σ_j Π[j, i] p_j``. With
    ``alpha = beta = 1`` this is :func:`eisenberg_noe`.

    Parameters
    ----------
    G : networkx.DiGraph
        Holder -> issuer edges; an edge ``j -> i`` with exposure x means i owes j the amount x.
    alpha : float
        Fraction of its external assets a defaulting node realises, in [0, 1].
    beta : float
        Fraction of its claims on other nodes a defaulting node realises, in [0, 1].
    exposure, external_assets, tol, max_iter
        As in :func:`eisenberg_noe`.

    Returns
    -------
    dict
        ``{node: payment_usd}``, ``0 <= p_i <= p̄_i``, in ``G``'s node order.

    Raises
    ------
    ContagionError
        ``alpha`` or ``beta`` outside [0, 1], or a bad graph as in :func:`eisenberg_noe`.
    ContagionNotConverged
        As in :func:`eisenberg_noe`.

    References
    ----------
    .. [1] Rogers, Veraart, "Failure and Rescue in an Interbank Network", Management Science
       59(4), 882-898 (2013).

    Examples
    --------
    The graph of :func:`eisenberg_noe`'s example, with default costs: the venue realises
    half of its 60 USD (pays 30), the fund then has 10 + 30 = 40 < 80 and realises half of its
    own 10 and 90% of its claim, 5 + 27 = 32:

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("fund", "venue", exposure_usd=100.0)
    >>> G.add_edge("lender", "fund", exposure_usd=80.0)
    >>> nx.set_node_attributes(G, {"venue": 60.0, "fund": 10.0, "lender": 0.0},
    ...                        "external_assets_usd")
    >>> {node: round(p, 9) for node, p in rogers_veraart(G, 0.5, 0.9).items()}
    {'fund': 32.0, 'venue': 30.0, 'lender': 0.0}
    """
    alpha = check_fraction(alpha, "alpha")
    beta = check_fraction(beta, "beta")
    net = read_network(G, exposure=exposure, node_attributes=(external_assets,))
    p = _clearing_scipy(net, external_assets, alpha=alpha, beta=beta, tol=tol, max_iter=max_iter)
    return dict(zip(net.nodes, p.tolist(), strict=True))


#: Largest set of defaulters whose linear system is solved by sparse LU (exact); larger ones by
#: BiCGSTAB, since LU of a large random sparse matrix fills in (minutes for 6,000 defaulters).
DIRECT_SOLVE_MAX_DEFAULTERS = 500
#: Relative residual BiCGSTAB must reach on the defaulters' system.
SOLVER_RTOL = 1e-13
#: A node short of its obligations by less than this fraction of them counts as paying in full
#: (float rounding must not turn a node that exactly breaks even into a defaulter).
SHORTFALL_RTOL = 1e-9


def _clearing_scipy(
    net: ExposureNetwork, external_assets: str, *, alpha: float, beta: float, tol: float,
    max_iter: int,
) -> np.ndarray:  # fmt: skip
    """Fictitious default on sparse matrices.

    Between linear solves, cheap steps of the clearing map ``p <- Φ(p)`` (one sparse product
    each) find defaulters while they keep appearing: from any ``p`` that is at or above the
    greatest clearing vector with ``Φ(p) <= p`` (everyone paying in full, or a solved round),
    these steps stay at or above it, so whoever defaults under them defaults there too. The
    linear system is solved only when a step finds nobody new; the result is returned when a
    solved ``p`` makes nobody new default. (A chain of 10,000 defaults one after the other
    costs 10,000 cheap steps and one solve, rather than 10,000 solves.)
    """
    A = net.holdings()  # A[j, i]: what i owes j
    e = net.node_values[external_assets]
    obligations = np.asarray(A.sum(axis=0)).ravel()  # p̄_i: column sums
    safe = np.where(obligations > 0, obligations, 1.0)
    p = obligations.copy()
    defaulted = np.zeros(net.size, dtype=bool)
    solved = defaulted  # the set of defaulters p was solved for (p̄ solves the empty set)
    while True:  # the set of defaulters only grows: at most n + 1 cheap steps
        received = A @ (p / safe)  # Σ_j Π[j, i] p_j, USD; p / p̄ is j's recovery rate
        now = defaulted | (e + received < obligations * (1 - SHORTFALL_RTOL))
        if not np.array_equal(now, defaulted):
            # A step of the clearing map on the defaulters (Φ(p) <= p; min guards rounding).
            defaulted = now
            p = np.where(defaulted, np.minimum(p, alpha * e + beta * received), obligations)
            continue
        if np.array_equal(defaulted, solved):
            return p
        solved = defaulted
        rows = np.flatnonzero(defaulted)
        # Defaulters' recovery rates x: p̄_D x = α e_D + β (A_DD x + A_{D,solvent} 1).
        A_D = A[rows]
        A_DD = A_D[:, rows]
        if beta == 1.0 and _has_closed_defaulters(A_DD, obligations[rows]):
            return _iterate_clearing(A, e, obligations, obligations, alpha, beta, tol, max_iter)
        system = (sp.diags_array(obligations[rows]) - beta * A_DD).tocsc()
        rhs = alpha * e[rows] + beta * (A_D @ (~defaulted).astype(float))
        x = _solve(system, rhs, x0=p[rows] / obligations[rows], max_iter=max_iter)
        if x is None:
            return _iterate_clearing(A, e, obligations, obligations, alpha, beta, tol, max_iter)
        # The solution lies in [0, 1]; clip only the solver's last bits of rounding so that
        # p <= p̄ holds exactly.
        p = p.copy()
        p[rows] = obligations[rows] * np.clip(x, 0.0, 1.0)


def _has_closed_defaulters(A_DD: sp.csr_array, owed: np.ndarray) -> bool:
    """Whether some defaulters owe everything they owe to defaulters only, and so do all of
    their creditors (a closed group): with ``β = 1`` the system ``p̄_D x = A_DD x + b`` is then
    singular. A defaulter is *open* when part of its obligations (more than 1e-9 of them) goes
    to a solvent node; the system is regular when every defaulter reaches an open one by
    following its creditors."""
    n = A_DD.shape[0]
    open_ = owed - np.asarray(A_DD.sum(axis=0)).ravel() > 1e-9 * owed
    # Reverse edges (creditor -> debtor: A_DD[i, j] > 0 means j owes i) plus a root (index n)
    # pointing at every open defaulter; who the root reaches can reach an open defaulter.
    creditor, debtor = A_DD.nonzero()
    root_edges = np.flatnonzero(open_)
    graph = sp.csr_array(
        (
            np.ones(creditor.size + root_edges.size),
            (np.concatenate([creditor, np.full(root_edges.size, n)]),
             np.concatenate([debtor, root_edges])),
        ),
        shape=(n + 1, n + 1),
    )  # fmt: skip
    reached = csgraph.breadth_first_order(graph, n, directed=True, return_predecessors=False)
    return reached.size < n + 1


def _solve(system: sp.csc_array, rhs: np.ndarray, *, x0: np.ndarray, max_iter: int):
    """``system x = rhs`` by sparse LU up to DIRECT_SOLVE_MAX_DEFAULTERS unknowns, else by
    BiCGSTAB (Jacobi-preconditioned, warm-started at ``x0``) to a relative residual of
    SOLVER_RTOL; ``None`` if the solver fails (the caller then iterates the clearing map)."""
    if rhs.size <= DIRECT_SOLVE_MAX_DEFAULTERS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", spla.MatrixRankWarning)
            try:
                x = np.atleast_1d(spla.spsolve(system, rhs))
            except (spla.MatrixRankWarning, RuntimeError):
                return None
    else:
        jacobi = sp.diags_array(1.0 / system.diagonal())
        x, info = spla.bicgstab(
            system, rhs, x0=x0, rtol=SOLVER_RTOL, atol=0.0, maxiter=max_iter, M=jacobi
        )
        if info != 0:
            return None
    return x if np.all(np.isfinite(x)) else None


def _iterate_clearing(A, e, obligations, p, alpha, beta, tol, max_iter) -> np.ndarray:
    """Iterate the clearing map ``p <- Φ(p)`` from ``p = p̄`` (or any ``p`` with
    ``Φ(p) <= p`` above the greatest clearing vector): the payments fall monotonically to the
    greatest clearing vector."""
    safe = np.where(obligations > 0, obligations, 1.0)
    scale = tol * max(1.0, float(obligations.max(initial=0.0)))
    change = float("inf")
    for _ in range(max_iter):
        received = A @ (p / safe)
        pays_in_full = e + received >= obligations * (1 - SHORTFALL_RTOL)
        new = np.where(
            pays_in_full, obligations, np.minimum(obligations, alpha * e + beta * received)
        )
        change = float(np.abs(new - p).max(initial=0.0))
        p = new
        if change <= scale:
            return p
    raise ContagionNotConverged("clearing vector iteration", max_iter, change, scale)


def _clearing_reference(
    net: ExposureNetwork, external_assets: str, *, alpha: float, beta: float, tol: float,
    max_iter: int,
) -> np.ndarray:  # fmt: skip
    """Pure Python: iterate the clearing map from ``p̄`` node by node until it settles."""
    e = net.value(external_assets)
    obligations = dict.fromkeys(net.nodes, 0.0)
    claims: dict = {node: [] for node in net.nodes}  # creditor -> [(debtor, amount owed)]
    for creditor, debtor, x in net.edges():
        if x > 0:  # an edge of zero exposure owes nothing
            obligations[debtor] += x
            claims[creditor].append((debtor, x))
    scale = tol * max(1.0, max(obligations.values(), default=0.0))
    p = dict(obligations)
    change = float("inf")
    for _ in range(max_iter):
        new = {}
        for node in net.nodes:
            received = sum(x / obligations[debtor] * p[debtor] for debtor, x in claims[node])
            if e[node] + received >= obligations[node] * (1 - SHORTFALL_RTOL):
                new[node] = obligations[node]
            else:
                new[node] = alpha * e[node] + beta * received
        change = max((abs(new[node] - p[node]) for node in net.nodes), default=0.0)
        p = new
        if change <= scale:
            return np.array([p[node] for node in net.nodes])
    raise ContagionNotConverged("clearing vector iteration (reference)", max_iter, change, scale)
