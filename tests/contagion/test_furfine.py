"""Furfine threshold cascade: hand-worked rounds, properties, fast against reference."""

from __future__ import annotations

import numpy as np
from contagion_graphs import exposure_graph, random_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.contagion import furfine
from simulator.contagion.cascade import _furfine_reference, _furfine_scipy
from simulator.contagion.network import read_network, read_node_set

LGD = st.sampled_from([0.0, 0.4, 1.0])


def ladder():
    # venue fails (round 0). fund holds 50 of venue, equity 40: 50 >= 40, round 1.
    # x holds 10 of venue and 15 of fund, equity 20: round 1 loss 10 < 20; round 2 loss
    # 10 + 15 = 25 >= 20: round 2 (losses add up over rounds). bank holds 15 of fund, equity
    # 100: 15 < 100, survives; lender holds 30 of x, equity 30: 30 >= 30, round 3.
    return exposure_graph(
        [
            ("fund", "venue", 50),
            ("x", "venue", 10),
            ("x", "fund", 15),
            ("bank", "fund", 15),
            ("lender", "x", 30),
        ],
        equity={"venue": 1, "fund": 40, "x": 20, "bank": 100, "lender": 30},
    )


def test_furfine_returns_each_defaulted_node_with_its_round():
    assert furfine(ladder(), ["venue"]) == {"venue": 0, "fund": 1, "x": 2, "lender": 3}


def test_loss_given_default_scales_the_losses():
    # With 80% lost: fund 40 >= 40 (round 1); x 8 then 8 + 12 = 20 >= 20 (round 2); lender
    # 24 < 30 survives.
    assert furfine(ladder(), ["venue"], loss_given_default=0.8) == {"venue": 0, "fund": 1, "x": 2}


def test_a_node_with_zero_equity_but_no_loss_survives():
    G = exposure_graph([("a", "b", 0)], equity={"a": 0, "b": 5})
    assert furfine(G, ["b"]) == {"b": 0}


def _both(G, defaulted, lgd):
    net = read_network(G, node_attributes=("equity_usd",))
    initial = read_node_set(net, defaulted, "defaulted")
    options = dict(equity="equity_usd", loss_given_default=lgd)
    return _furfine_scipy(net, initial, **options), _furfine_reference(net, initial, **options)


@st.composite
def graphs_with_defaults(draw):
    G = draw(random_graphs())
    return G, draw(st.lists(st.sampled_from(list(G)), unique=True))


@settings(derandomize=True, max_examples=150, deadline=None)
@given(graphs_with_defaults(), LGD)
def test_fast_cascade_agrees_with_the_reference(case, lgd):
    G, defaulted = case
    fast, reference = _both(G, defaulted, lgd)
    np.testing.assert_array_equal(fast, reference)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(graphs_with_defaults(), st.lists(st.integers(0, 8)), LGD)
def test_more_initial_defaults_never_save_anyone(case, extra, lgd):
    G, defaulted = case
    larger = set(defaulted) | {node for node in extra if node in G}
    assert set(furfine(G, defaulted, loss_given_default=lgd)) <= set(
        furfine(G, larger, loss_given_default=lgd)
    )


@settings(derandomize=True, max_examples=150, deadline=None)
@given(graphs_with_defaults(), LGD)
def test_each_round_is_caused_by_the_rounds_before(case, lgd):
    # A node failing in round k >= 1 holds a node that failed in round k - 1, and its losses on
    # the nodes of rounds < k reach its equity; every survivor's losses stay below its equity.
    G, defaulted = case
    rounds = furfine(G, defaulted, loss_given_default=lgd)
    assert all(rounds[node] == 0 for node in defaulted)

    def loss(node, before):
        return sum(
            lgd * d["exposure_usd"]
            for issuer, d in G[node].items()
            if rounds.get(issuer, before) < before
        )

    for node in G:
        equity = G.nodes[node]["equity_usd"]
        k = rounds.get(node)
        if k is None:
            final = loss(node, max(rounds.values(), default=0) + 1)
            assert final == 0 or final < equity
        elif k > 0:
            assert any(rounds.get(issuer) == k - 1 for issuer in G[node])
            assert 0 < loss(node, k) and loss(node, k) >= equity
            assert loss(node, k - 1) == 0 or loss(node, k - 1) < equity


@settings(derandomize=True, max_examples=60, deadline=None)
@given(random_graphs(), LGD)
def test_no_initial_default_means_no_default(G, lgd):
    assert furfine(G, [], loss_given_default=lgd) == {}
