"""DebtRank (Battiston 2012) and differential DebtRank (Bardoscia 2015): hand-worked examples,
properties, and the fast version against the pure-Python reference."""

from __future__ import annotations

import networkx as nx
import pytest
from contagion_graphs import exposure_graph, graphs_with_shock, random_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.contagion import debtrank, debtrank_loss
from simulator.contagion.debtrank import _debtrank_reference, _debtrank_scipy, _read
from simulator.errors import ContagionNotConverged

VARIANTS = ("battiston", "differential")


def cycle_graph() -> nx.DiGraph:
    # a holds 50 USD of b (E_a = 100): W[b -> a] = Λ[a, b] = 50/100 = 0.5.
    # b holds 40 USD of a (E_b = 80):  W[a -> b] = Λ[b, a] = 40/80 = 0.5.
    return exposure_graph([("a", "b", 50), ("b", "a", 40)], equity={"a": 100, "b": 80})


def test_battiston_propagates_each_nodes_distress_once():
    # t=1: h = (a 0.2, b 0), a distressed.
    # t=2: b gets 0.5 * 0.2 = 0.1; a becomes inactive, b distressed.
    # t=3: a gets 0.5 * 0.1 = 0.05 -> 0.25 (inactive nodes still receive); b inactive: stop.
    h = debtrank(cycle_graph(), {"a": 0.2})
    assert h == pytest.approx({"a": 0.25, "b": 0.1}, abs=1e-15)


def test_differential_propagates_every_increment_until_the_fixed_point():
    # Increments: a 0.2 -> b 0.1 -> a 0.05 -> b 0.025 -> ...: a = 0.2 (1 + 1/4 + 1/16 + ...)
    # = 0.2 * 4/3 = 4/15 and b = a / 2 = 2/15 (the fixed point h = s + Λh, nothing capped).
    h = debtrank(cycle_graph(), {"a": 0.2}, variant="differential")
    assert h == pytest.approx({"a": 4 / 15, "b": 2 / 15}, abs=1e-11)


def test_battiston_caps_impact_at_one_and_differential_caps_distress_at_one():
    # a holds 300 USD of b but has equity 100: Battiston W = min(1, 3) = 1, so b's distress 0.5
    # gives a 0.5; differential Λ = 3 (uncapped) gives min(1, 3 * 0.5) = 1.
    G = exposure_graph([("a", "b", 300)], equity={"a": 100, "b": 10})
    assert debtrank(G, {"b": 0.5}) == {"a": 0.5, "b": 0.5}
    assert debtrank(G, {"b": 0.5}, variant="differential") == {"a": 1.0, "b": 0.5}


def test_debtrank_on_a_chain_multiplies_impacts():
    # venue -> fund -> lender: fund 50/100 of venue's 1.0 = 0.5; lender 30/60 of 0.5 = 0.25.
    # A chain has no cycle, so both variants agree.
    G = exposure_graph(
        [("fund", "venue", 50), ("lender", "fund", 30)],
        equity={"venue": 10, "fund": 100, "lender": 60},
    )
    for variant in VARIANTS:
        h = debtrank(G, {"venue": 1.0}, variant=variant)
        assert h == {"venue": 1.0, "fund": 0.5, "lender": 0.25}


def test_debtrank_loss_is_the_equity_weighted_distress_net_of_the_shock():
    # Cycle example (Battiston): h = (0.25, 0.1), weights E = (100, 80) / 180.
    # R = (0.25*100 + 0.1*80)/180 - (0.2*100)/180 = 13/180; without the shock 33/180.
    G = cycle_graph()
    h = debtrank(G, {"a": 0.2})
    assert debtrank_loss(G, h, shock={"a": 0.2}) == pytest.approx(13 / 180)
    assert debtrank_loss(G, h) == pytest.approx(33 / 180)


def test_differential_raises_with_the_iteration_count_when_it_does_not_converge():
    with pytest.raises(ContagionNotConverged, match="in 3 iterations") as info:
        debtrank(cycle_graph(), {"a": 0.2}, variant="differential", max_iter=3)
    assert info.value.iterations == 3
    assert info.value.exit_code == 2


def _both(G, shock, variant):
    net, h0 = _read(G, shock, variant, "exposure_usd", "equity_usd")
    options = dict(variant=variant, equity="equity_usd", tol=1e-13, max_iter=100_000)
    return _debtrank_scipy(net, h0, **options), _debtrank_reference(net, h0, **options)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(graphs_with_shock(), st.sampled_from(VARIANTS))
def test_fast_debtrank_agrees_with_the_reference(case, variant):
    G, shock = case
    fast, reference = _both(G, shock, variant)
    assert fast == pytest.approx(reference, abs=1e-9)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(graphs_with_shock(), st.floats(1.0, 3.0), st.sampled_from(VARIANTS))
def test_debtrank_is_monotone_in_the_shock(case, factor, variant):
    # A larger shock on the same nodes never lowers anyone's final distress.
    G, shock = case
    larger = {node: min(1.0, level * factor) for node, level in shock.items()}
    h = debtrank(G, shock, variant=variant)
    h_larger = debtrank(G, larger, variant=variant)
    assert all(h_larger[node] >= h[node] - 1e-12 for node in G)
    assert debtrank_loss(G, h_larger) >= debtrank_loss(G, h) - 1e-12


@settings(derandomize=True, max_examples=60, deadline=None)
@given(random_graphs(), st.sampled_from(VARIANTS))
def test_zero_shock_gives_zero_distress_and_zero_loss(G, variant):
    h = debtrank(G, {}, variant=variant)
    assert set(h.values()) == {0.0}
    assert debtrank_loss(G, h) == 0.0
    assert debtrank(G, dict.fromkeys(G, 0.0), variant=variant) == h


@settings(derandomize=True, max_examples=100, deadline=None)
@given(graphs_with_shock(), st.sampled_from(VARIANTS))
def test_a_node_with_no_exposure_is_never_hit(case, variant):
    # "outsider" is held by every node (it is an issuer) but holds nothing itself; "holder"
    # has edges of zero exposure to every node.
    G, shock = case
    G = G.copy()
    for node in list(G):
        G.add_edge(node, "outsider", exposure_usd=10.0)
        G.add_edge("holder", node, exposure_usd=0.0)
    G.add_edge("holder", "outsider", exposure_usd=0.0)
    G.nodes["outsider"]["equity_usd"] = 1.0
    G.nodes["holder"]["equity_usd"] = 1.0
    h = debtrank(G, shock, variant=variant)
    assert h["outsider"] == 0.0
    assert h["holder"] == 0.0


@settings(derandomize=True, max_examples=100, deadline=None)
@given(graphs_with_shock(), st.sampled_from(VARIANTS))
def test_distress_stays_in_the_unit_interval_and_never_falls_below_the_shock(case, variant):
    G, shock = case
    h = debtrank(G, shock, variant=variant)
    assert all(0.0 <= value <= 1.0 for value in h.values())
    assert all(h[node] >= level for node, level in shock.items())
