"""Bad input to the contagion algorithms: one-line ContagionError (exit code 2) naming what is
wrong; and the docstring examples of the package run and are right."""

from __future__ import annotations

import networkx as nx
import pytest
from contagion_graphs import exposure_graph

from simulator.contagion import debtrank, debtrank_loss, eisenberg_noe, furfine, rogers_veraart
from simulator.errors import ContagionError, PerpsimError


def good():
    return exposure_graph(
        [("fund", "venue", 50), ("lender", "fund", 30)],
        equity={"venue": 10, "fund": 100, "lender": 60},
        external={"venue": 5, "fund": 20, "lender": 0},
    )


def with_edge(**data):
    G = good()
    G["fund"]["venue"].clear()
    G["fund"]["venue"].update(data)
    return G


def with_node(node, **data):
    G = good()
    G.nodes[node].update(data)
    return G


def without_node_attr(node, name):
    G = good()
    del G.nodes[node][name]
    return G


def self_loop():
    G = good()
    G.add_edge("fund", "fund", exposure_usd=1.0)
    return G


def multigraph():
    G = nx.MultiDiGraph(good())
    return G


CASES = [
    ("negative exposure", lambda: debtrank(with_edge(exposure_usd=-1.0), {"venue": 1.0}),
     r"edge 'fund' -> 'venue': exposure_usd is -1.0; it must be finite and >= 0"),
    ("nan exposure", lambda: eisenberg_noe(with_edge(exposure_usd=float("nan"))),
     r"edge 'fund' -> 'venue': exposure_usd is nan"),
    ("missing exposure", lambda: furfine(with_edge(weight=3.0), ["venue"]),
     r"edge 'fund' -> 'venue' has no 'exposure_usd' attribute"),
    ("text exposure", lambda: debtrank(with_edge(exposure_usd="50"), {"venue": 1.0}),
     r"edge 'fund' -> 'venue': exposure_usd '50' is not a number"),
    ("negative equity", lambda: debtrank(with_node("lender", equity_usd=-5.0), {"venue": 1.0}),
     r"node 'lender': equity_usd is -5.0; it must be finite and >= 0"),
    ("missing equity", lambda: furfine(without_node_attr("fund", "equity_usd"), ["venue"]),
     r"node 'fund' has no 'equity_usd' attribute"),
    ("negative external assets",
     lambda: rogers_veraart(with_node("venue", external_assets_usd=-1), 0.5, 0.5),
     r"node 'venue': external_assets_usd is -1"),
    ("missing external assets",
     lambda: eisenberg_noe(without_node_attr("venue", "external_assets_usd")),
     r"node 'venue' has no 'external_assets_usd' attribute"),
    ("shock above 1", lambda: debtrank(good(), {"venue": 1.5}),
     r"shock\['venue'\] is 1.5; it must lie in \[0, 1\]"),
    ("negative shock", lambda: debtrank(good(), {"venue": -0.1}),
     r"shock\['venue'\] is -0.1; it must be finite and >= 0"),
    ("nan shock", lambda: debtrank(good(), {"venue": float("nan")}, variant="differential"),
     r"shock\['venue'\] is nan"),
    ("unknown shocked node", lambda: debtrank(good(), {"vault": 0.5}),
     r"shock names 'vault', which is not a node of the graph"),
    ("unknown variant", lambda: debtrank(good(), {"venue": 1.0}, variant="linear"),
     r"variant 'linear' is not one of battiston, differential"),
    ("holder without equity", lambda: debtrank(with_node("fund", equity_usd=0), {"venue": 1.0}),
     r"node 'fund' holds 50 USD of exposures but has equity_usd 0"),
    ("distress above 1", lambda: debtrank_loss(good(), {"fund": 2.0}),
     r"h\['fund'\] is 2.0; it must lie in \[0, 1\]"),
    ("alpha above 1", lambda: rogers_veraart(good(), 1.5, 0.5),
     r"alpha is 1.5; it must lie in \[0, 1\]"),
    ("loss given default above 1", lambda: furfine(good(), ["venue"], loss_given_default=2),
     r"loss_given_default is 2; it must lie in \[0, 1\]"),
    ("unknown defaulted node", lambda: furfine(good(), ["vault"]),
     r"defaulted names 'vault', which is not a node of the graph"),
    ("defaulted as a string", lambda: furfine(good(), "venue"),
     r"defaulted must be a collection of nodes, not 'venue'"),
    ("self-loop", lambda: eisenberg_noe(self_loop()),
     r"node 'fund' has a self-loop: a node cannot hold its own liabilities"),
    ("multigraph", lambda: debtrank(multigraph(), {"venue": 1.0}),
     r"must be a networkx DiGraph \(holder -> issuer\), not MultiDiGraph"),
    ("undirected", lambda: furfine(nx.Graph(good()), ["venue"]),
     r"must be a networkx DiGraph \(holder -> issuer\), not Graph"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "call", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_one_line_naming_what_is_wrong(label, call, message):
    with pytest.raises(ContagionError, match=message) as info:
        call()
    assert isinstance(info.value, PerpsimError) and info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_debtrank_loss_needs_some_value():
    G = exposure_graph([("a", "b", 1)], equity={"a": 0, "b": 0})
    with pytest.raises(ContagionError, match="every node's equity_usd is 0"):
        debtrank_loss(G, {"a": 0.5})
