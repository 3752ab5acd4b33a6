"""Read and check an exposure graph once, for every contagion algorithm.

The graph is a plain networkx ``DiGraph`` whose edges point from **holder to issuer**: an edge
``i -> j`` with ``exposure_usd = x`` says that i holds x USD of j's liabilities (j owes i the
amount x). In matrix form (REFERENCES.md, "Contagion algorithms"), ``A[i, j] = x`` is what i
holds of j and ``L = Aᵀ`` is what j owes i; distress and losses flow *against* the edges, from
issuer to holder.

:func:`read_network` checks the graph (a ``DiGraph``, no self-loops, every exposure and every
requested node attribute present, finite and >= 0) and returns an :class:`ExposureNetwork`:
the node order, the edge arrays and the node attributes as numpy arrays. The fast algorithms
build ``scipy.sparse`` matrices from it; the pure-Python references read its edge list. Any
problem is a :class:`~simulator.errors.ContagionError` with one line naming the node or edge.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from simulator.errors import ContagionError

_MISSING = object()


@dataclass(frozen=True)
class ExposureNetwork:
    """A checked exposure graph as arrays (node order: ``list(G)``).

    ``holder[k] -> issuer[k]`` is edge k with ``exposure_usd[k]`` USD; ``node_values`` maps
    each requested node attribute to one float per node, in node order.
    """

    nodes: list[Hashable]
    index: dict[Hashable, int]
    holder: np.ndarray
    issuer: np.ndarray
    exposure_usd: np.ndarray
    node_values: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def holdings(self) -> sp.csr_array:
        """``A`` as a CSR matrix: ``A[i, j]`` USD of issuer j's liabilities held by i."""
        n = self.size
        return sp.csr_array((self.exposure_usd, (self.holder, self.issuer)), shape=(n, n))

    def edges(self) -> list[tuple[Hashable, Hashable, float]]:
        """``(holder, issuer, exposure_usd)`` triples with the original node names."""
        nodes = self.nodes
        return [
            (nodes[i], nodes[j], float(x))
            for i, j, x in zip(
                self.holder.tolist(), self.issuer.tolist(), self.exposure_usd.tolist(), strict=True
            )
        ]

    def value(self, name: str) -> dict[Hashable, float]:
        """Node attribute ``name`` as ``{node: float}``."""
        return dict(zip(self.nodes, self.node_values[name].tolist(), strict=True))


def _is_number(value) -> bool:
    """A real number (int, float, numpy number), not a bool or a string that looks like one."""
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_))


def _check_values(values: list, what: str, where: Callable[[int], str]) -> np.ndarray:
    """``values`` as floats, each a finite number >= 0, or a ContagionError naming the first bad
    one (``where(k)`` says where value k came from)."""
    if not set(map(type, values)) <= {float, int}:  # fast path for plain Python numbers
        for k, v in enumerate(values):
            if v is _MISSING:
                raise ContagionError(f"{where(k)} has no {what!r} attribute")
            if not _is_number(v):
                raise ContagionError(f"{where(k)}: {what} {v!r} is not a number")
    array = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
    if bad.size:
        k = int(bad[0])
        raise ContagionError(f"{where(k)}: {what} is {values[k]!r}; it must be finite and >= 0")
    return array


def read_network(
    G: nx.DiGraph, *, exposure: str | None = "exposure_usd", node_attributes: Iterable[str] = ()
) -> ExposureNetwork:
    """Check ``G`` and return it as arrays.

    Parameters
    ----------
    G : networkx.DiGraph
        Holder -> issuer edges with attribute ``exposure`` (USD held by the holder).
    exposure : str or None
        Edge attribute holding the exposure in USD; ``None`` reads no edges (for functions
        that only need node attributes).
    node_attributes : iterable of str
        Node attributes the algorithm needs (e.g. ``"equity_usd"``); each must be on every
        node, finite and >= 0.

    Returns
    -------
    ExposureNetwork

    Raises
    ------
    ContagionError
        ``G`` is not a networkx ``DiGraph`` (a ``MultiDiGraph`` or an undirected graph would
        make the direction or the sum ambiguous), it has a self-loop (a node holding its own
        liabilities), or an exposure or node attribute is missing, negative or not finite.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_edge("fund", "venue", exposure_usd=40.0)
    >>> net = read_network(G)
    >>> net.nodes, net.holdings().toarray().tolist()
    (['fund', 'venue'], [[0.0, 40.0], [0.0, 0.0]])
    """
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        raise ContagionError(
            f"the exposure graph must be a networkx DiGraph (holder -> issuer), "
            f"not {type(G).__name__}"
        )
    loops = list(nx.selfloop_edges(G))
    if loops:
        raise ContagionError(
            f"node {loops[0][0]!r} has a self-loop: a node cannot hold its own liabilities"
        )
    nodes = list(G)
    index = {node: k for k, node in enumerate(nodes)}
    node_values = {}
    for name in node_attributes:
        raw = [data.get(name, _MISSING) for data in G.nodes.values()]
        node_values[name] = _check_values(raw, name, lambda k: f"node {nodes[k]!r}")
    # One pass over the adjacency (G.adj is in node order): 100,000 edges are common.
    counts, issuers, data = [], [], []
    if exposure is not None:
        for successors in G.adj.values():
            counts.append(len(successors))
            issuers.extend(successors)
            data.extend(successors.values())
    holder = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    issuer = np.fromiter(map(index.__getitem__, issuers), dtype=np.int64, count=len(issuers))
    raw = [d.get(exposure, _MISSING) for d in data]
    exposures = _check_values(
        raw, exposure, lambda k: f"edge {nodes[holder[k]]!r} -> {issuers[k]!r}"
    )
    return ExposureNetwork(nodes, index, holder, issuer, exposures, node_values)


def read_node_map(
    net: ExposureNetwork, values: Mapping, what: str, *, upper: float | None = None
) -> np.ndarray:
    """``{node: value}`` as one float per node (absent nodes 0), each finite, >= 0 and, when
    ``upper`` is given, <= upper; an unknown node or a bad value is a ContagionError."""
    if not isinstance(values, Mapping):
        raise ContagionError(f"{what} must map nodes to numbers, not {type(values).__name__}")
    array = np.zeros(net.size)
    for node, value in values.items():
        k = net.index.get(node)
        if k is None:
            raise ContagionError(f"{what} names {node!r}, which is not a node of the graph")
        if not _is_number(value) or not math.isfinite(float(value)) or float(value) < 0:
            raise ContagionError(f"{what}[{node!r}] is {value!r}; it must be finite and >= 0")
        if upper is not None and float(value) > upper:
            raise ContagionError(f"{what}[{node!r}] is {value!r}; it must lie in [0, {upper:g}]")
        array[k] = float(value)
    return array


def read_node_set(net: ExposureNetwork, nodes: Iterable, what: str) -> np.ndarray:
    """An iterable of nodes as a boolean mask; an unknown node is a ContagionError."""
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Iterable):
        raise ContagionError(f"{what} must be a collection of nodes, not {nodes!r}")
    mask = np.zeros(net.size, dtype=bool)
    for node in nodes:
        k = net.index.get(node)
        if k is None:
            raise ContagionError(f"{what} names {node!r}, which is not a node of the graph")
        mask[k] = True
    return mask


def check_fraction(value, what: str) -> float:
    """A number in [0, 1] (a recovery rate, a loss given default), or a ContagionError."""
    if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
        raise ContagionError(f"{what} is {value!r}; it must lie in [0, 1]")
    return float(value)
