"""Eisenberg–Noe and Rogers–Veraart clearing vectors: hand-worked examples, the fixed-point
and bound properties, and the fictitious-default kernel against the pure-Python iteration."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from contagion_graphs import exposure_graph, random_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.contagion import clearing, eisenberg_noe, rogers_veraart
from simulator.contagion.clearing import (
    _clearing_reference,
    _clearing_scipy,
    _iterate_clearing,
)
from simulator.contagion.network import read_network
from simulator.errors import ContagionNotConverged

FRACTIONS = st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0])


def obligations(G) -> dict:
    """p̄: what each node owes, the sum of the exposures on the edges into it."""
    return {node: float(G.in_degree(node, weight="exposure_usd")) for node in G}


def received(G, p) -> dict:
    """Σ_j Π[j, i] p_j: what each node receives when its debtors pay ``p``."""
    owed = obligations(G)
    return {
        node: sum(
            d["exposure_usd"] / owed[debtor] * p[debtor]
            for debtor, d in G[node].items()
            if d["exposure_usd"]
        )
        for node in G
    }


def symmetric_pair():
    # a owes b 10 and c 10 (p̄_a = 20); b owes a 10 and c 10 (p̄_b = 20); e_a = e_b = 5.
    # Edges are holder -> issuer: b -> a means b holds a's debt, i.e. a owes b.
    return exposure_graph(
        [("b", "a", 10), ("c", "a", 10), ("a", "b", 10), ("c", "b", 10)],
        external={"a": 5, "b": 5, "c": 0},
    )


def test_greatest_clearing_vector_of_a_cycle_without_external_assets_is_full_payment():
    # a owes b 10, b owes c 10, c owes a 10, nobody has external assets: p = 0 and p = 10
    # both clear; the greatest (everyone pays in full) is the one returned.
    G = exposure_graph(
        [("b", "a", 10), ("c", "b", 10), ("a", "c", 10)], external={"a": 0, "b": 0, "c": 0}
    )
    assert eisenberg_noe(G) == {"a": 10.0, "b": 10.0, "c": 10.0}


def test_eisenberg_noe_solves_the_defaulters_jointly():
    # Round 0 (everyone pays in full): a receives 10 from b, 5 + 10 = 15 < 20: default; b
    # likewise. Both default: p_a = 5 + p_b/2 and p_b = 5 + p_a/2 (each gets half of the
    # other's payment), so p_a = 5 + 2.5 + p_a/4, p_a = 10 = p_b. c pays nothing (owes
    # nothing) and receives 5 + 5 = 10.
    assert eisenberg_noe(symmetric_pair()) == pytest.approx({"a": 10.0, "b": 10.0, "c": 0.0})


def test_rogers_veraart_charges_default_costs():
    # As above with α = β = 0.5: p_a = 0.5*5 + 0.5*(p_b/2) = 2.5 + p_a/4, p_a = 10/3 = p_b.
    p = rogers_veraart(symmetric_pair(), 0.5, 0.5)
    assert p == pytest.approx({"a": 10 / 3, "b": 10 / 3, "c": 0.0})


def test_eisenberg_noe_defaults_spread_in_rounds():
    # a owes b 10 and c 10, b owes c 5, c owes a 2; e = (12, 1, 0).
    # Round 0: a gets 2 from c, 12 + 2 = 14 < 20: default; b gets 10, 11 >= 5; c gets 15 >= 2.
    # a pays all it has, 12 + 2 = 14: b gets 7 (1 + 7 = 8 >= 5), c gets 7 + 5 (>= 2): stop.
    G = exposure_graph(
        [("b", "a", 10), ("c", "a", 10), ("c", "b", 5), ("a", "c", 2)],
        external={"a": 12, "b": 1, "c": 0},
    )
    assert eisenberg_noe(G) == pytest.approx({"a": 14.0, "b": 5.0, "c": 2.0})


def test_rogers_veraart_default_can_cascade_where_eisenberg_noe_does_not():
    # Same graph, α = 0.5, β = 1: a defaults and pays 0.5*12 + 2 = 8; b gets 4, 1 + 4 = 5 >= 5:
    # b still pays in full. With β = 0.5 too, a pays 6 + 1 = 7, b gets 3.5: 4.5 < 5, b defaults
    # and pays 0.5*1 + 0.5*3.5 = 2.25; c still gets 3.5 + 2.25 >= 2 and pays 2.
    G = exposure_graph(
        [("b", "a", 10), ("c", "a", 10), ("c", "b", 5), ("a", "c", 2)],
        external={"a": 12, "b": 1, "c": 0},
    )
    assert rogers_veraart(G, 0.5, 1.0) == pytest.approx({"a": 8.0, "b": 5.0, "c": 2.0})
    assert rogers_veraart(G, 0.5, 0.5) == pytest.approx({"a": 7.0, "b": 2.25, "c": 2.0})


@settings(derandomize=True, max_examples=150, deadline=None)
@given(random_graphs())
def test_eisenberg_noe_payments_are_a_fixed_point_within_obligations(G):
    p = eisenberg_noe(G)
    owed = obligations(G)
    inflow = received(G, p)
    for node in G:
        assert 0.0 <= p[node] <= owed[node]
        expected = min(owed[node], G.nodes[node]["external_assets_usd"] + inflow[node])
        assert p[node] == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(random_graphs(), FRACTIONS, FRACTIONS)
def test_rogers_veraart_payments_clear_with_default_costs(G, alpha, beta):
    p = rogers_veraart(G, alpha, beta)
    owed = obligations(G)
    inflow = received(G, p)
    for node in G:
        e = G.nodes[node]["external_assets_usd"]
        assert 0.0 <= p[node] <= owed[node]
        if e + inflow[node] >= owed[node] * (1 + 1e-12):
            assert p[node] == owed[node]
        elif e + inflow[node] < owed[node] * (1 - 1e-9):
            assert p[node] == pytest.approx(alpha * e + beta * inflow[node], rel=1e-9, abs=1e-9)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(random_graphs())
def test_rogers_veraart_with_no_default_costs_is_eisenberg_noe(G):
    # α = β = 1: a defaulter pays all it has, so p solves Eisenberg–Noe's p = min(p̄, e + Πᵀp).
    p = rogers_veraart(G, 1.0, 1.0)
    assert p == eisenberg_noe(G)
    owed, inflow = obligations(G), received(G, p)
    for node in G:
        expected = min(owed[node], G.nodes[node]["external_assets_usd"] + inflow[node])
        assert p[node] == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(random_graphs(), FRACTIONS, FRACTIONS)
def test_fictitious_default_agrees_with_the_reference_iteration(G, alpha, beta):
    net = read_network(G, node_attributes=("external_assets_usd",))
    options = dict(alpha=alpha, beta=beta, tol=1e-14, max_iter=1_000_000)
    fast = _clearing_scipy(net, "external_assets_usd", **options)
    reference = _clearing_reference(net, "external_assets_usd", **options)
    assert fast == pytest.approx(reference, rel=1e-7, abs=1e-7)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(random_graphs(), FRACTIONS, FRACTIONS)
def test_the_fallback_iteration_reaches_the_same_greatest_vector(G, alpha, beta):
    # _iterate_clearing is what a singular fictitious-default system falls back on: started
    # from p̄ it must reach the vector fictitious default finds.
    net = read_network(G, node_attributes=("external_assets_usd",))
    A = net.holdings()
    owed = np.asarray(A.sum(axis=0)).ravel()
    e = net.node_values["external_assets_usd"]
    iterated = _iterate_clearing(A, e, owed, owed.copy(), alpha, beta, 1e-14, 1_000_000)
    fast = _clearing_scipy(net, "external_assets_usd", alpha=alpha, beta=beta, tol=1e-14,
                           max_iter=1_000_000)  # fmt: skip
    assert iterated == pytest.approx(fast, rel=1e-7, abs=1e-7)


def test_a_node_that_owes_nothing_pays_nothing_and_lowering_assets_lowers_payments():
    G = symmetric_pair()
    before = eisenberg_noe(G)
    G.nodes["a"]["external_assets_usd"] = 1.0
    after = eisenberg_noe(G)
    assert after["c"] == before["c"] == 0.0
    assert after["a"] < before["a"] and after["b"] < before["b"]


def test_the_iteration_raises_with_its_count_when_it_does_not_settle():
    net = read_network(symmetric_pair(), node_attributes=("external_assets_usd",))
    with pytest.raises(ContagionNotConverged, match="in 5 iterations") as info:
        _clearing_reference(net, "external_assets_usd", alpha=1.0, beta=1.0, tol=1e-14,
                            max_iter=5)  # fmt: skip
    assert info.value.iterations == 5


@settings(derandomize=True, max_examples=100, deadline=None)
@given(random_graphs(), FRACTIONS, FRACTIONS)
def test_the_iterative_solver_path_agrees_with_the_reference(G, alpha, beta):
    # Large sets of defaulters are solved by BiCGSTAB instead of LU: force it on small graphs.
    net = read_network(G, node_attributes=("external_assets_usd",))
    options = dict(alpha=alpha, beta=beta, tol=1e-14, max_iter=1_000_000)
    reference = _clearing_reference(net, "external_assets_usd", **options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clearing, "DIRECT_SOLVE_MAX_DEFAULTERS", 0)
        fast = _clearing_scipy(net, "external_assets_usd", **options)
    assert fast == pytest.approx(reference, rel=1e-7, abs=1e-7)


def test_a_failed_solve_falls_back_to_iterating_the_clearing_map(monkeypatch):
    # Same answer as the exact solve of test_eisenberg_noe_solves_the_defaulters_jointly.
    monkeypatch.setattr(clearing, "_solve", lambda *args, **kwargs: None)
    assert eisenberg_noe(symmetric_pair()) == pytest.approx({"a": 10.0, "b": 10.0, "c": 0.0})


def test_closed_groups_of_defaulters_are_detected():
    # A_DD[i, j]: what defaulter j owes defaulter i; owed: each defaulter's total obligations.
    # 0 and 1 owe only each other (closed); 2 owes 0 and something outside (open).
    A_DD = sp.csr_array(np.array([[0, 4, 3], [4, 0, 0], [0, 0, 0]], dtype=float))
    assert clearing._has_closed_defaulters(A_DD, np.array([4.0, 4.0, 5.0]))
    # Now 1 owes 2 outside the pair too: everyone reaches 2, which owes a solvent node.
    A_DD = sp.csr_array(np.array([[0, 4, 3], [4, 0, 0], [0, 1, 0]], dtype=float))
    assert not clearing._has_closed_defaulters(A_DD, np.array([4.0, 5.0, 5.0]))


def test_payments_break_even_exactly_without_defaulting():
    # All external assets 0: a owes b 10; b owes c 10; c owes a 5 and b 5.
    # Round 0: a receives 5 from c: default; b receives 10 + 5; c receives 10.
    # a pays 5: b receives 5 + 5 = 10 = p̄_b (break-even, pays in full); c receives 10.
    G = exposure_graph(
        [("b", "a", 10), ("c", "b", 10), ("a", "c", 5), ("b", "c", 5)],
        external={"a": 0, "b": 0, "c": 0},
    )
    assert eisenberg_noe(G) == {"a": 5.0, "b": 10.0, "c": 10.0}


def test_eisenberg_noe_raises_with_the_iteration_count_when_the_fallback_does_not_settle(
    monkeypatch,
):
    monkeypatch.setattr(clearing, "_solve", lambda *args, **kwargs: None)
    with pytest.raises(ContagionNotConverged, match="did not converge in 3 iterations"):
        eisenberg_noe(symmetric_pair(), max_iter=3)


def test_an_empty_graph_clears_to_nothing():
    G = exposure_graph([], external={})
    assert eisenberg_noe(G) == {} == rogers_veraart(G, 0.5, 0.5)


def test_a_chain_of_defaults_clears_node_by_node():
    # Node k owes node k + 1 100 USD (edge k + 1 -> k); only node 0 has external assets, 50.
    # Rogers–Veraart α = 0.5, β = 0.9: node 0 pays 0.5 * 50 = 25, node k >= 1 receives what
    # node k - 1 paid and pays 0.9 of it: p_k = 25 * 0.9**k; the last node owes nothing.
    n = 600
    G = exposure_graph(
        [(k + 1, k, 100) for k in range(n - 1)], external={k: 50 if k == 0 else 0 for k in range(n)}
    )
    p = rogers_veraart(G, 0.5, 0.9)
    assert [p[k] for k in range(n - 1)] == pytest.approx([25 * 0.9**k for k in range(n - 1)])
    assert p[n - 1] == 0.0
    # Eisenberg–Noe: node 0 pays its 50 and every later node passes the 50 on.
    p = eisenberg_noe(G)
    assert [p[k] for k in range(n - 1)] == pytest.approx([50.0] * (n - 1))
