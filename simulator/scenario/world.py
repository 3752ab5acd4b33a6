"""The scenario's ``world:`` section: the contagion world deployed beside the venue (issue 13).

A lending pool (``contracts/contagion/LendingPool.sol``) lends the venue's stablecoin against
the backstop vault's shares, the synthetic dollar and market base tokens; a synthetic dollar
(``contracts/contagion/SyntheticDollar.sol``) is minted against a market's base token, hedged
by a short at the venue, and traded on its own AMM against the stablecoin. Their users
(borrowers, the pool's liquidation keeper, the synthetic dollar's holders, who redeem or sell
when it weakens, and its arbitrageurs) act in the same blocks as the perp traders
(:mod:`simulator.engine.defi`); the deployment is :mod:`simulator.contagion.world_setup`.

``world`` absent (``None``): nothing is deployed and a run is byte for byte what it was before
the section existed (the scenario's JSON and fingerprint leave a ``None`` world out).

Units: USD amounts are floats in USD; fractions are plain floats; collateral terms are bps.
Defaults are assumptions named in each field's docstring.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simulator.contagion.graph_io import NODE_NAMES
from simulator.scenario.base import _Model

#: Names of the world's protocols (nodes of :func:`simulator.contagion.graph.holdings_graph`)
#: that a cross-holding may name.
PROTOCOLS = NODE_NAMES
#: Collateral names of the lending pool that are protocols of the world (the others are market
#: symbols: the market's base token at the venue's oracle).
PROTOCOL_COLLATERAL = ("backstop_vault", "synthetic_dollar", "second_backstop_vault")


class CollateralTerms(_Model):
    """How the lending pool values and liquidates one collateral (bps)."""

    collateral_factor_bps: int = Field(gt=0, le=10_000)
    """Share of the collateral's value that may be borrowed (bps)."""
    liquidation_threshold_bps: int = Field(gt=0, le=10_000)
    """Share of the collateral's value that counts in the health factor (bps, >= the
    collateral factor)."""
    liquidation_bonus_bps: int = Field(default=500, ge=0, le=5_000)
    """Collateral a liquidator takes over the debt it repays (bps; the pool's maximum is
    5,000). Default 5%: assumption, Aave's usual bonus."""

    @model_validator(mode="after")
    def _threshold_above_factor(self) -> CollateralTerms:
        if self.liquidation_threshold_bps < self.collateral_factor_bps:
            raise ValueError(
                f"liquidation_threshold_bps ({self.liquidation_threshold_bps}) must be >= "
                f"collateral_factor_bps ({self.collateral_factor_bps})"
            )
        return self


class CollateralAmount(_Model):
    """A log-normal amount of collateral per borrower (USD at setup)."""

    median_usd: float = Field(gt=0)
    """Median collateral a borrower posts (USD)."""
    sigma: float = Field(default=1.0, ge=0, le=5)
    """Log-normal shape (0: every borrower posts the median)."""


class Borrowers(_Model):
    """The pool's borrowers. Each posts one collateral (drawn by ``collateral_weights``),
    acquired on chain at setup (a deposit into the backstop vault, a mint of the synthetic
    dollar, or the base token), and borrows the stablecoin down to a target health factor
    ``1 + health_factor_excess_min × (1 + Pareto(tail_alpha))``, heavy-tailed (from child 6 of
    the seed), never above the collateral factor's borrowing power."""

    count: int = Field(default=50, ge=0, le=2_000)
    """Borrower accounts (count)."""
    collateral_weights: dict[str, Annotated[float, Field(gt=0)]] = Field(min_length=1)
    """Which collateral a borrower posts: weight per collateral name of the pool's
    ``collateral`` (normalised)."""
    collateral_usd: CollateralAmount = Field(
        default_factory=lambda: CollateralAmount(median_usd=20_000.0)
    )
    """Collateral per borrower (USD at setup). Default median 20,000 USD: assumption."""
    health_factor_excess_min: float = Field(default=0.03, gt=0, le=10)
    """Smallest target health factor above 1 (fraction): 0.03 = HF 1.03. Default:
    assumption, leveraged looping keeps health factors a few percent above 1."""
    tail_alpha: float = Field(default=1.5, gt=0, le=20)
    """Pareto tail of the target health factor's excess (smaller: more borrowers far from
    liquidation). Default: assumption."""


class PoolKeeper(_Model):
    """The pool's liquidation keeper: acts on the health factors read after the last block."""

    capital_usd: float = Field(default=10_000_000.0, gt=0)
    """Stablecoin it repays debts with (USD). Default: assumption, enough for the pool."""
    max_liquidations_per_block: int = Field(default=20, ge=1, le=500)
    """Liquidation calls per block (count)."""
    max_sale_usd_per_block: float = Field(default=200_000.0, gt=0)
    """Largest sale of seized synthetic dollars per block (tokens, 1 USD at par); the rest
    waits for the next block. Default: assumption, a liquidator works a position over
    minutes."""
    sell_seized: bool = True
    """It sells the synthetic dollar it seized on the synthetic dollar's AMM in the next
    block (a liquidator does not keep a collateral it cannot use: on October 10, 2025 the
    liquidations of USDe-backed loans sold USDe into a thin market). Seized vault shares and
    base tokens are kept."""


class LendingPoolSpec(_Model):
    """A ``LendingPool`` lending the venue's stablecoin."""

    supply_usd: float = Field(gt=0)
    """Stablecoin supplied at setup by the pool's lender (USD)."""
    base_rate_per_year: float = Field(default=0.0, ge=0, le=10)
    """Borrow rate at zero utilisation (fraction per year)."""
    slope_per_year: float = Field(default=0.1, ge=0, le=10)
    """Borrow rate added per unit of utilisation (fraction per year). Default: assumption."""
    close_factor: float = Field(default=0.5, gt=0, le=1)
    """Largest share of a debt one liquidation repays (fraction). Default 0.5 (Aave)."""
    collateral: dict[str, CollateralTerms] = Field(min_length=1)
    """Listed collateral by name: ``backstop_vault`` (its ERC-4626 shares at the vault's
    ``convertToAssets``), ``synthetic_dollar`` (priced by an oracle the simulator pushes from
    its AMM each block) or a market symbol (the market's base token at the venue's oracle).
    At most 8 (the pool's ``MAX_COLLATERALS``)."""
    keeper: PoolKeeper = Field(default_factory=PoolKeeper)
    """Its liquidation keeper."""
    borrowers: Borrowers
    """Its borrowers."""

    @model_validator(mode="after")
    def _weights_name_collateral(self) -> LendingPoolSpec:
        if len(self.collateral) > 8:
            raise ValueError(f"collateral: at most 8 assets (got {len(self.collateral)})")
        for name in self.borrowers.collateral_weights:
            if name not in self.collateral:
                raise ValueError(
                    f"borrowers.collateral_weights.{name}: {name!r} is not a listed collateral "
                    f"(listed: {', '.join(self.collateral)})"
                )
        return self


class Redeemers(_Model):
    """The synthetic dollar's holders when it weakens: once its backing ratio falls below
    ``backing_trigger`` or its AMM price below ``price_trigger``, each block they redeem
    ``run_fraction_per_step`` of what they hold, ``sell_share`` of it sold on the AMM instead
    of redeemed (a run: the AMM depegs); ``market_drawdown_trigger`` adds a run on the hedge
    market's crash."""

    backing_trigger: float = Field(default=1.0, gt=0, le=2)
    """Backing ratio under which they run (fraction of par)."""
    price_trigger: float = Field(default=0.99, gt=0, le=2)
    """AMM price under which they run (USD)."""
    run_fraction_per_step: float = Field(default=0.05, ge=0, le=1)
    """Share of their holding that runs per block (fraction). Default: assumption."""
    market_drawdown_trigger: float | None = Field(default=None, gt=0, lt=1)
    """They also run while the hedge market's index is more than this fraction below its
    highest price of the run (fear for the hedge in a crash); ``None``: no such trigger."""
    sell_share: float = Field(default=0.5, ge=0, le=1)
    """Share of the run sold on the AMM rather than redeemed at the contract (fraction).
    Default: assumption, half the holders sell on the secondary market."""


class SyntheticDollarSpec(_Model):
    """A ``SyntheticDollar`` hedged by a short in ``market`` at the venue."""

    market: str
    """The market whose base token backs it and where its short hedge is (a market symbol)."""
    supply_usd: float = Field(gt=0)
    """Minted at setup by its holders (USD at the market's start price)."""
    reserve_usd: float = Field(default=0.0, ge=0)
    """Stablecoin its manager adds and moves to the venue as the hedge's margin (USD)."""
    max_slippage_bps: int = Field(default=100, ge=0, le=1_000)
    """Acceptable-price band of its hedge trades (bps; contract maximum 1,000)."""
    rebalance_tolerance: float = Field(default=0.01, ge=0, le=1)
    """The manager re-hedges when the short differs from the spot base by more than this
    share of it (fraction)."""
    amm_liquidity_usd: float = Field(gt=0)
    """Each side of its AMM against the stablecoin at setup (USD; the tokens at 1 USD)."""
    amm_fee_bps: int = Field(default=5, ge=0, le=1_000)
    """Its AMM's swap fee (bps)."""
    arbitrageur_capital_usd: float = Field(default=0.0, ge=0)
    """Stablecoin (and the same value of the base token) its arbitrageur holds (USD): it buys
    below the redemption value and redeems, or mints above 1 USD and sells. It sells the base
    token its redemptions pay on the market's spot AMM the next block (its capital recycles;
    the sale weighs on the market's price like any other)."""
    arbitrage_max_trade_usd: float = Field(default=1_000_000.0, gt=0)
    """Largest arbitrage trade per block (USD)."""
    arbitrage_min_edge_bps: float = Field(default=20.0, ge=0, le=10_000)
    """Smallest price gap the arbitrageur trades on, net of the AMM fee (bps)."""
    redeemers: Redeemers = Field(default_factory=Redeemers)
    """What its holders do when it weakens."""
    venue: Literal["venue", "second_venue"] = "venue"
    """The venue its hedge is at: ``venue`` (the run's) or ``second_venue``
    (``world.second_venue``, which must list ``market``). Its spot collateral is the run's base
    token of ``market`` either way."""


class SecondVenueTraders(_Model):
    """A small book at the second venue, opened at setup: ``count`` cross accounts, each with
    ``collateral_usd`` and one position at ``leverage`` in the venue's markets in turn (account
    i trades ``markets[i % len(markets)]``); the first ``round(count × long_share)`` are long,
    the rest short (no draw: the book is the same whatever the seed). The world's keeper
    liquidates them at the second venue (:mod:`simulator.engine.defi`)."""

    count: int = Field(default=0, ge=0, le=2_000)
    """Accounts (count)."""
    collateral_usd: float = Field(default=10_000.0, gt=0)
    """Collateral per account (USD). Default: assumption."""
    leverage: float = Field(default=10.0, gt=0, le=100)
    """Notional / collateral at the open (x); above a market's maximum the venue refuses the
    open (a setup error naming it)."""
    long_share: float = Field(default=0.75, ge=0, le=1)
    """Share of the accounts that are long (fraction). Default: the crowded longs of
    oct-2025."""


class SecondVenueSpec(_Model):
    """A second perp venue on the same chain and the same stablecoin: a ``PerpVenue`` of the
    preset ``preset`` (its own parameters: margins, liquidation rules, ADL) listing ``markets``
    (each among the run's markets), its oracles pushed each block the same prices as the first
    venue's (one outside market), its own insurance fund and backstop vault."""

    preset: str
    """A venue preset of ``simulator/presets/`` (``dydx-like``, ``gmx-like``, ...): each market
    its table entry, start price and AMM depth as the run's."""
    markets: list[str] = Field(min_length=1)
    """Its markets (symbols of the run's markets and of the preset's table; no repeats)."""
    insurance_fund_usd: float = Field(default=0.0, ge=0)
    """Its insurance fund (USD)."""
    backstop_vault_usd: float = Field(default=0.0, ge=0)
    """Its backstop vault's LP capital (USD; 0: no vault)."""
    backstop_margin_share: float | None = Field(default=None, ge=0, le=1)
    """Share of the vault's capital its manager moves into its venue account (fraction;
    ``None``: the preset's)."""
    backstop_fraction: float | None = Field(default=None, ge=0, le=1)
    """Every market's ``backstop_fraction``: the vault takes an account over below this share
    of its maintenance margin (``None``: the preset's; dYdX-like has 0, no takeovers)."""
    traders: SecondVenueTraders = Field(default_factory=SecondVenueTraders)
    """Its small book of traders (none by default)."""

    @model_validator(mode="after")
    def _no_repeats(self) -> SecondVenueSpec:
        if len(set(self.markets)) != len(self.markets):
            raise ValueError(f"markets: a symbol is listed twice ({', '.join(self.markets)})")
        return self


class CrossHolding(_Model):
    """``holder`` holds claims on ``issuer`` (an edge of the exposure graph), by name."""

    holder: str
    issuer: str


class WorldSpec(_Model):
    """The contagion world (issue 13): a lending pool, a synthetic dollar and a second perp
    venue beside the venue, and which of them holds which."""

    lending_pool: LendingPoolSpec | None = None
    """A lending pool (``None``: not deployed)."""
    synthetic_dollar: SyntheticDollarSpec | None = None
    """A synthetic dollar (``None``: not deployed)."""
    second_venue: SecondVenueSpec | None = None
    """A second perp venue (``None``: not deployed)."""
    cross_holdings: list[CrossHolding] = Field(default_factory=list)
    """Which protocol holds which, by name (:data:`PROTOCOLS`): ``lending_pool`` holds the
    protocols it lists as collateral (``backstop_vault``, ``synthetic_dollar``; every such
    listing must be declared here, and every declared one listed: ``second_backstop_vault``
    too), the synthetic dollar holds the venue of its hedge (``venue`` or ``second_venue``, as
    ``synthetic_dollar.venue``). Checked against what the scenario deploys."""

    @model_validator(mode="after")
    def _deploys_something(self) -> WorldSpec:
        if self.lending_pool is None and self.synthetic_dollar is None:
            raise ValueError("world: deploys nothing (give lending_pool, synthetic_dollar or both)")
        return self

    def check(self, symbols: list[str], *, backstop_vault: bool, mm_vault: bool) -> None:
        """Refuse names that do not exist or protocols that are not deployed.

        ``symbols``: the venue's markets; ``backstop_vault`` / ``mm_vault``: whether the
        scenario deploys them. Raises ``ValueError`` naming the key (one line).
        """
        deployed = {"venue", "insurance_fund"}
        if backstop_vault:
            deployed.add("backstop_vault")
        if mm_vault:
            deployed.add("mm_vault")
        if self.lending_pool is not None:
            deployed.add("lending_pool")
        if self.synthetic_dollar is not None:
            deployed.add("synthetic_dollar")
            if self.synthetic_dollar.market not in symbols:
                raise ValueError(
                    f"world.synthetic_dollar.market: {self.synthetic_dollar.market!r} is not a "
                    f"market of the venue ({', '.join(symbols)})"
                )
        second = self.second_venue
        if second is not None:
            deployed |= {"second_venue", "second_insurance_fund"}
            if second.backstop_vault_usd > 0:
                deployed.add("second_backstop_vault")
            _check_second_venue(second, symbols)
        sd = self.synthetic_dollar
        if sd is not None and sd.venue == "second_venue":
            if second is None:
                raise ValueError(
                    "world.synthetic_dollar.venue: second_venue is not deployed by this scenario"
                    + _how_to_deploy("second_venue")
                )
            if sd.market not in second.markets:
                raise ValueError(
                    f"world.synthetic_dollar.venue: the second venue does not list "
                    f"{sd.market!r} (its markets: {', '.join(second.markets)})"
                )
        declared = set()
        for i, h in enumerate(self.cross_holdings):
            for role in ("holder", "issuer"):
                name = getattr(h, role)
                if name not in PROTOCOLS:
                    raise ValueError(
                        f"world.cross_holdings[{i}].{role}: {name!r} is not a protocol of the "
                        f"world ({', '.join(PROTOCOLS)})"
                    )
                if name not in deployed:
                    raise ValueError(
                        f"world.cross_holdings[{i}].{role}: {name!r} is not deployed by this "
                        "scenario" + _how_to_deploy(name)
                    )
            if (h.holder, h.issuer) not in _POSSIBLE:
                raise ValueError(
                    f"world.cross_holdings[{i}]: {h.holder} cannot hold {h.issuer} "
                    f"(possible: {', '.join(f'{a}->{b}' for a, b in sorted(_POSSIBLE))})"
                )
            if h.holder == "synthetic_dollar" and sd is not None and h.issuer != sd.venue:
                raise ValueError(
                    f"world.cross_holdings[{i}]: the synthetic dollar hedges at {sd.venue} "
                    f"(world.synthetic_dollar.venue), not at {h.issuer}"
                )
            declared.add((h.holder, h.issuer))
        pool = self.lending_pool
        if pool is not None:
            for name in pool.collateral:
                key = f"world.lending_pool.collateral.{name}"
                if name in PROTOCOL_COLLATERAL:
                    if name not in deployed:
                        raise ValueError(
                            f"{key}: {name!r} is not deployed by this scenario"
                            + _how_to_deploy(name)
                        )
                    if ("lending_pool", name) not in declared:
                        raise ValueError(
                            f"{key}: declare it in world.cross_holdings "
                            f"({{holder: lending_pool, issuer: {name}}})"
                        )
                elif name not in symbols:
                    raise ValueError(
                        f"{key}: {name!r} is neither backstop_vault, synthetic_dollar, "
                        f"second_backstop_vault nor a market of the venue ({', '.join(symbols)})"
                    )
        for holder, issuer in declared:
            if holder == "lending_pool" and (pool is None or issuer not in pool.collateral):
                raise ValueError(
                    f"world.cross_holdings: lending_pool -> {issuer} is declared but "
                    f"world.lending_pool.collateral does not list {issuer}"
                )


#: The holdings a world can create (holder, issuer).
_POSSIBLE = {
    ("lending_pool", "backstop_vault"),
    ("lending_pool", "synthetic_dollar"),
    ("lending_pool", "second_backstop_vault"),
    ("synthetic_dollar", "venue"),
    ("synthetic_dollar", "second_venue"),
}


def _check_second_venue(spec: SecondVenueSpec, symbols: list[str]) -> None:
    """The preset exists and every market is a run's market and in the preset's table."""
    from simulator.protocol.params import preset_names
    from simulator.protocol.venue_params import preset_symbols

    known = preset_names()
    if spec.preset not in known:
        raise ValueError(
            f"world.second_venue.preset: unknown venue preset {spec.preset!r} "
            f"(known: {', '.join(known)})"
        )
    table = preset_symbols(spec.preset)
    for i, symbol in enumerate(spec.markets):
        if symbol not in symbols:
            raise ValueError(
                f"world.second_venue.markets[{i}]: {symbol!r} is not a market of the run "
                f"({', '.join(symbols)})"
            )
        if symbol not in table:
            raise ValueError(
                f"world.second_venue.markets[{i}]: venue preset {spec.preset} has no table "
                f"entry for {symbol!r} (its markets: {', '.join(table)})"
            )


def _how_to_deploy(name: str) -> str:
    return {
        "backstop_vault": " (set controls.backstop_vault_usd > 0)",
        "mm_vault": " (set mm_vault.capital_usd > 0)",
        "lending_pool": " (add world.lending_pool)",
        "synthetic_dollar": " (add world.synthetic_dollar)",
        "second_venue": " (add world.second_venue)",
        "second_insurance_fund": " (add world.second_venue)",
        "second_backstop_vault": " (add world.second_venue with backstop_vault_usd > 0)",
    }.get(name, "")
