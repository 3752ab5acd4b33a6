"""The venue's Python parameters (simulator/protocol/venue_params.py): struct fields against the
ABI, ADL policy names, the venue parameter set's bounds, and the presets' per-market tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from simulator.chain.artifacts import load_artifacts
from simulator.protocol.params import PRESETS_DIR, ParamsError, load_preset, preset_names
from simulator.protocol.venue_params import (
    MAX_MARKETS,
    AdlPriceMode,
    MultiVenueParams,
    VenueAdlPolicy,
    VenueMarketParams,
    load_venue_preset,
    preset_symbols,
    venue_market_from_preset,
)

ROOT = Path(__file__).resolve().parents[2]


def _abi_components(function: str, output: bool = True) -> list[dict]:
    for item in load_artifacts()["PerpVenue"].abi:
        if item.get("type") == "function" and item["name"] == function:
            return item["outputs" if output else "inputs"][0]["components"]
    raise KeyError(function)


def _base() -> VenueMarketParams:
    return load_venue_preset("hyperliquid-like", ["BTC"]).markets[0].params


def test_to_chain_has_exactly_the_abi_struct_fields():
    """A field added to or renamed in IPerpVenueTypes.MarketParams fails here (the wrapper
    orders the tuple by the ABI and refuses missing or unknown names)."""
    abi = [c["name"] for c in _abi_components("marketParameters")]
    assert sorted(_base().to_chain()) == sorted(abi)
    tiers = [c["name"] for c in _abi_components("marginTiers")]
    assert tiers == ["notionalFloor", "initialMarginFraction", "maintenanceMarginFraction"]


def test_adl_policy_and_price_mode_indices_follow_the_solidity_enums():
    # The ABI carries enums as uint8 without names: read them from the interface source.
    text = (ROOT / "contracts" / "interfaces" / "IPerpVenueTypes.sol").read_text()
    policy = re.search(r"enum AdlPolicy \{([^}]*)\}", text).group(1)
    mode = re.search(r"enum AdlPriceMode \{([^}]*)\}", text).group(1)
    assert [p.strip().lower() for p in policy.split(",")] == [p.value for p in VenueAdlPolicy]
    assert [m.strip().lower() for m in mode.split(",")] == [m.value for m in AdlPriceMode]
    base = _base()
    for i, p in enumerate(VenueAdlPolicy):
        assert base.model_copy(update={"adl_policy": p}).to_chain()["adlPolicy"] == i


def test_single_market_queue_is_the_whole_profit_queue():
    data = {**_base().model_dump(), "adl_policy": "queue"}
    assert VenueMarketParams.model_validate(data).adl_policy is VenueAdlPolicy.PROFIT_QUEUE
    with pytest.raises(ValidationError, match="adl_policy"):
        VenueMarketParams.model_validate({**data, "adl_policy": "lottery"})


def test_venue_bound_of_adl_accounts_per_call_is_narrower_than_the_single_market():
    data = _base().model_dump()
    VenueMarketParams.model_validate({**data, "max_adl_accounts_per_call": 100})
    with pytest.raises(ValidationError, match="max_adl_accounts_per_call"):
        VenueMarketParams.model_validate({**data, "max_adl_accounts_per_call": 101})


def test_from_chain_inverts_to_chain():
    base = _base()
    assert VenueMarketParams.from_chain(base.to_chain(), base.tiers_to_chain()) == base


def test_market_listed_twice_is_refused():
    with pytest.raises(ParamsError, match="'ETH' listed twice"):
        load_venue_preset("hyperliquid-like", ["BTC", "ETH", "ETH"])
    one = load_venue_preset("hyperliquid-like", ["BTC"]).markets[0]
    with pytest.raises(ValidationError, match="'BTC' listed twice"):
        MultiVenueParams(name="x", markets=(one, one))


def test_unknown_symbol_and_override_for_an_unlisted_market_are_refused():
    with pytest.raises(ParamsError, match="unknown market symbol 'AVAX'"):
        load_venue_preset("hyperliquid-like", ["BTC", "AVAX"])
    with pytest.raises(ParamsError, match="override for market 'SOL', which is not listed"):
        load_venue_preset("hyperliquid-like", ["BTC"], {"SOL": {"max_leverage": 5}})
    with pytest.raises(ParamsError, match="markets.BTC: params.max_leverage"):
        load_venue_preset("hyperliquid-like", ["BTC"], {"BTC": {"max_leverage": 0.5}})
    with pytest.raises(ParamsError, match="unknown preset"):
        load_venue_preset("nope-like", ["BTC"])


def test_more_markets_than_the_venue_lists_are_refused():
    one = load_venue_preset("hyperliquid-like", ["BTC"]).markets[0]
    many = tuple(one.model_copy(update={"symbol": f"M{i}"}) for i in range(MAX_MARKETS + 1))
    with pytest.raises(ValidationError, match=f"at most {MAX_MARKETS}"):
        MultiVenueParams(name="x", markets=many)
    MultiVenueParams(name="x", markets=many[:MAX_MARKETS])
    with pytest.raises(ParamsError, match=f"at most {MAX_MARKETS}"):
        load_venue_preset("hyperliquid-like", [f"M{i}" for i in range(MAX_MARKETS + 1)])


def test_override_applies_and_preset_entry_overrides_market_defaults():
    v = load_venue_preset("hyperliquid-like", ["ETH", "BTC"], {"ETH": {"max_leverage": 10}})
    assert v.symbols == ["ETH", "BTC"]
    assert v.market("ETH").params.max_leverage == 10
    assert v.market("BTC").params.max_leverage == 40
    assert v.market("ETH").initial_price_usd == 4300
    # Defaults the entry does not override come from `market:`.
    assert (
        v.market("ETH").params.taker_fee_bps == load_preset("hyperliquid-like").market.taker_fee_bps
    )


def test_bad_table_row_fails_the_old_loader_too(tmp_path):
    text = (PRESETS_DIR / "hyperliquid-like.yaml").read_text()
    bad = text.replace("max_leverage: 25 ", "max_leverage: 2000 ")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    from simulator.protocol.params import VenueParams

    with pytest.raises(ParamsError, match="ETH"):
        VenueParams.from_yaml(path)


@pytest.mark.parametrize("name", preset_names())
def test_preset_tables_load_with_published_leverage(name):
    symbols = preset_symbols(name)
    assert {"BTC", "ETH", "SOL"} <= set(symbols) and len(symbols) >= 5
    venue = load_venue_preset(name)
    for m in venue.markets:
        assert venue_market_from_preset(load_preset(name), m.symbol) == m
    if name == "hyperliquid-like":
        lev = {m.symbol: m.params.max_leverage for m in venue.markets}
        # REFERENCES.md, Hyperliquid's margin tiers: BTC 40x, ETH 25x, SOL 20x, XRP 20x,
        # other alts 3-10x.
        assert (lev["BTC"], lev["ETH"], lev["SOL"], lev["XRP"]) == (40, 25, 20, 20)
        majors = ("BTC", "ETH", "SOL", "XRP")
        assert all(3 <= lev[s] <= 10 for s in symbols if s not in majors)


@pytest.mark.parametrize("name", preset_names())
def test_every_per_market_line_has_a_source_comment(name):
    lines = (PRESETS_DIR / f"{name}.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("markets:"))
    rows = [
        line
        for line in lines[start + 1 :]
        if line.strip() and not line.lstrip().startswith(("#", "- symbol:"))
    ]
    assert rows
    missing = [line for line in rows if "#" not in line.split(":", 1)[1]]
    assert not missing, f"lines without a source comment: {missing}"
