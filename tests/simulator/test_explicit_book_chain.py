"""check_explicit_book agrees with the venue: random explicit books of cross and isolated
positions over two markets, with deposits close to the initial margin, are opened on the
deployed venue (every account deposits, then the positions open in book order in one block) and
the first position the contract refuses is the one the scenario check names, or none in both."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from simulator.chain import open_chain
from simulator.protocol.venue_deploy import deploy_multi_venue
from simulator.scenario import ScenarioError, book_accounts, parse_scenario
from simulator.units import to_units, to_wad, units_to_wad

#: BTC at 100 USD (40x, fee 5 bps, skew scale 500,000), ETH at 10 USD (25x, 12,000,000).
BASE = {
    "name": "book",
    "steps": 10,
    "markets": [
        {"symbol": "BTC", "path": {"start_price_usd": 100.0}},
        {"symbol": "ETH", "path": {"start_price_usd": 10.0}},
    ],
    "traders": {"kind": "random", "count": 1},
    "price_path": {"kind": "factor"},
}
IMF = {"BTC": 1 / 40, "ETH": 1 / 25}
PRICE = {"BTC": 100.0, "ETH": 10.0}


def random_book(rng: np.random.Generator) -> list[dict]:
    """1-3 accounts of 1-2 positions, about a third isolated, collateral within ±3% of the
    initial margin and fee (so books land on both sides of the rule)."""
    rows = []
    for account in range(int(rng.integers(1, 4))):
        isolated = bool(rng.random() < 0.35)
        for symbol in rng.permutation(["BTC", "ETH"])[: int(rng.integers(1, 3))]:
            size = float(np.round(rng.uniform(0.5, 20) / PRICE[symbol] * 10, 4))
            need = size * PRICE[symbol] * (IMF[symbol] + 0.0005)
            rows.append(
                {
                    "side": "long" if rng.random() < 0.6 else "short",
                    "collateral_usd": float(np.round(need * rng.uniform(0.97, 1.03), 6)),
                    "size_base": size,
                    "market": str(symbol),
                    "account": f"a{account}",
                    "isolated": isolated,
                }
            )
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def python_verdict(data: dict) -> int | None:
    """Index of the row the scenario check refuses, or None."""
    try:
        parse_scenario(data)
    except ScenarioError as exc:
        return int(re.search(r"traders\.positions\[(\d+)\]", str(exc)).group(1))
    return None


def chain_verdict(chain, venue, data: dict) -> int | None:
    """Open the book on the venue in book order, in one block; the first refused row."""
    from simulator.scenario import ExplicitBook

    spec = ExplicitBook.model_validate(data["traders"])
    positions = spec.load_positions()
    accounts, markets = book_accounts(spec, ["BTC", "ETH"])
    addresses = [f"0x{0xB00C00 + a:040x}" for a in range(max(accounts) + 1)]
    from eth_utils import to_checksum_address

    addresses = [to_checksum_address(a) for a in addresses]
    deposits = [0] * len(addresses)
    for p, a in zip(positions, accounts, strict=True):
        deposits[a] += to_units(p.collateral_usd)
    calls = []
    for a, units in enumerate(deposits):
        calls += venue.fund_calls([addresses[a]], units)
        calls.append(venue.venue.deposit(addresses[a], units))
    first_trade = len(calls)
    for p, a, m in zip(positions, accounts, markets, strict=True):
        size = to_wad(round(p.size_base, 12)) * (1 if p.side == "long" else -1)
        market_id = venue.ids[["BTC", "ETH"][m]]
        if p.isolated:
            margin = units_to_wad(to_units(p.collateral_usd))
            calls.append(venue.venue.trade_isolated(addresses[a], market_id, size, margin))
        else:
            calls.append(venue.venue.trade(addresses[a], market_id, size))
    with chain.isolate():
        results = chain.execute(calls)
    assert all(r.ok for r in results[:first_trade])
    failed = [i for i, r in enumerate(results[first_trade:]) if not r.ok]
    return failed[0] if failed else None


@pytest.fixture(scope="module")
def deployed():
    scenario = parse_scenario(BASE)
    with open_chain(backend="revm") as chain:
        venue = deploy_multi_venue(chain, scenario.venue_params())
        yield chain, venue


def test_random_books_are_refused_at_the_same_row_by_the_scenario_and_the_venue(deployed):
    chain, venue = deployed
    rng = np.random.default_rng(20251010)
    verdicts = []
    for _ in range(40):
        data = copy.deepcopy(BASE)
        data["traders"] = {"kind": "explicit", "positions": random_book(rng)}
        expected = python_verdict(data)
        assert chain_verdict(chain, venue, data) == expected, data["traders"]
        verdicts.append(expected)
    # both outcomes were exercised, and refusals at later rows (a cross account's second
    # position) too
    assert verdicts.count(None) >= 5 and sum(v is not None for v in verdicts) >= 5
    assert any(v not in (None, 0) for v in verdicts)


def test_a_cross_account_one_unit_either_side_of_its_requirement(deployed):
    """Long 1 BTC and short 10 ETH in one cross account: the deposit that covers both initial
    margins, the fees and the skew impact passes on the venue and in the check; one collateral
    unit (1e-6 USD) less is refused by both, at the second position."""
    chain, venue = deployed
    for total, expected in (("6.600142", None), ("6.600141", 1)):
        data = copy.deepcopy(BASE)
        data["traders"] = {"kind": "explicit", "positions": [
            {"side": "long", "collateral_usd": 3.0, "size_base": 1, "market": "BTC",
             "account": "a"},
            {"side": "short", "collateral_usd": float(total) - 3.0, "size_base": 10,
             "market": "ETH", "account": "a"}]}  # fmt: skip
        assert python_verdict(data) == expected
        assert chain_verdict(chain, venue, data) == expected
