"""The contagion world's exposure graph read from chain state
(:func:`simulator.contagion.graph.holdings_graph`): on a deployed world (a venue with its
insurance fund and backstop vault, a market-making account, a synthetic dollar hedging on the
venue, a lending pool accepting the vault's shares and the synthetic dollar as collateral) the
nodes and holder -> issuer edges equal the on-chain balances to the cent; a holding changed on
chain changes its edge; a node that holds nothing has no out-edge; a deployment naming an
address without code (or the wrong contract) is one line, exit 2. Both backends.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

_CONTRACT_TESTS = Path(__file__).resolve().parent.parent / "contracts"
for folder in ("", "venue", "contagion"):
    path = str(_CONTRACT_TESTS / folder)
    if path not in sys.path:
        sys.path.insert(0, path)

from contagion_helpers import (  # noqa: E402
    ADMIN,
    BORROWER,
    MAX_UINT,
    MINTER,
    OUTSIDER,
    SUPPLIER,
    SYNTH_MANAGER,
    reserve_and_mint,
    send,
)
from perp_helpers import MANAGER, PUSHER, TRADERS, WAD, usd, wad  # noqa: E402
from vault_helpers import VaultVenue, deploy_vault_venue  # noqa: E402
from venue_helpers import MarketSpec  # noqa: E402

from simulator.chain import BACKENDS, open_chain  # noqa: E402
from simulator.chain.artifacts import load_artifacts  # noqa: E402
from simulator.chain.contracts import ContractWrapper  # noqa: E402
from simulator.chain.deploy import deploy_contract  # noqa: E402
from simulator.cli import handles_errors  # noqa: E402
from simulator.contagion import debtrank  # noqa: E402
from simulator.contagion.graph import (  # noqa: E402
    ContagionDeployment,
    ContagionDeploymentError,
    holdings_graph,
)
from simulator.errors import PerpsimError  # noqa: E402
from simulator.protocol.contracts import Oracle  # noqa: E402
from simulator.world_contracts import (  # noqa: E402
    LendingPool,
    PriceSource,
    SyntheticDollar,
    deploy_lending_pool,
    deploy_synthetic_dollar,
)

MM = TRADERS[7]
"""The market-making vault's account at the venue."""
CENT = 0.005


@dataclass
class World:
    chain: object
    vv: VaultVenue
    synth: SyntheticDollar
    synth_oracle: Oracle
    pool: LendingPool
    deployment: ContagionDeployment

    @property
    def stable(self):
        return self.vv.mv.collateral

    @property
    def vault(self) -> ContractWrapper:
        return self.vv.vault


def _deploy_world(chain) -> World:
    """Venue (ETH at 100 USD, insurance fund 100,000 USD) whose backstop vault is seeded with
    10,000 USD and moves 4,000 USD to its venue account; MM deposits 5,000 USD and goes 2 ETH
    long; the synthetic dollar (reserve 100 USD at the venue) is minted for 10 ETH (1,000
    tokens) by MINTER; the pool lends the venue's stablecoin (50,000 USD supplied), lists the
    vault's shares (VAULT_SHARE) and the synthetic dollar (ORACLE at 1 USD), and holds no
    collateral yet."""
    vv = deploy_vault_venue(chain, [MarketSpec("ETH", 100)], seed_usd=10_000)
    mv, deployer = vv.mv, vv.mv.deployer
    stable = mv.collateral
    send(chain, vv.vault.call(MANAGER, "depositMargin", usd(4_000)))
    mv.setup(MM, 5_000, [(1, 2)])
    synth = deploy_synthetic_dollar(
        chain, base_token=mv.bases[1].address, stablecoin=stable.address,
        venue=mv.venue.address, market=1, oracle=mv.oracles[1].address, admin=ADMIN,
        manager=SYNTH_MANAGER, max_slippage_bps=100,
    )  # fmt: skip
    reserve_and_mint(chain, mv, synth, reserve_units=usd(100), minted_base=wad(10))
    art = load_artifacts()
    synth_oracle = deploy_contract(
        chain, Oracle, deployer, PUSHER, WAD, 3_600, 0, 600, artifacts=art
    )
    pool = deploy_lending_pool(
        chain, stable.address, ADMIN, base_rate_per_year_wad=0, slope_per_year_wad=0,
        close_factor_wad=wad("0.5"),
    )  # fmt: skip
    send(
        chain,
        pool.list_collateral(
            ADMIN, vv.vault.address, PriceSource.VAULT_SHARE, OUTSIDER, wad("0.75"), wad("0.8"),
            500,
        ),
        pool.list_collateral(
            ADMIN, synth.address, PriceSource.ORACLE, synth_oracle.address, wad("0.9"),
            wad("0.92"), 300,
        ),
        stable.mint(deployer, SUPPLIER, usd(50_000)),
        stable.approve(SUPPLIER, pool.address, MAX_UINT),
        pool.supply(SUPPLIER, usd(50_000)),
    )  # fmt: skip
    deployment = ContagionDeployment(
        venue=mv.venue.address,
        stablecoin=stable.address,
        insurance_fund=mv.fund.address,
        backstop_vault=vv.vault.address,
        mm_vault_account=MM,
        lending_pool=pool.address,
        synthetic_dollar=synth.address,
    )
    return World(chain, vv, synth, synth_oracle, pool, deployment)


@pytest.fixture(scope="module", params=BACKENDS)
def world_chain(request):
    with open_chain(backend=request.param) as chain:
        with chain.isolate():
            yield chain, _deploy_world(chain)


@pytest.fixture
def world(world_chain) -> World:
    """The world, every change of the test reverted after it."""
    chain, w = world_chain
    with chain.isolate():
        yield w


def _post_vault_shares(w: World, who: str, deposit_units: int) -> int:
    """`who` deposits `deposit_units` into the backstop vault and posts all its shares as
    collateral at the pool; returns the shares posted."""
    w.vv.lp_deposit(who, deposit_units)
    shares = w.chain.read_one(w.vault.view("balanceOf", who))
    send(
        w.chain,
        w.vault.call(who, "approve", w.pool.address, MAX_UINT),
        w.pool.deposit_collateral(who, w.vault.address, shares),
    )
    return shares


def _post_synth(w: World, amount: int) -> None:
    send(
        w.chain,
        w.synth.call(MINTER, "approve", w.pool.address, MAX_UINT),
        w.pool.deposit_collateral(MINTER, w.synth.address, amount),
    )


def _cents(x: float, on_chain: int, scale: int) -> bool:
    """`x` USD equals the on-chain integer `on_chain` / `scale` to the cent."""
    return abs(x - on_chain / scale) < CENT


def test_nodes_and_edges_equal_the_on_chain_balances(world):
    w = world
    shares = _post_vault_shares(w, BORROWER, usd(1_000))
    _post_synth(w, wad(400))
    send(w.chain, w.pool.borrow(BORROWER, usd(500)))
    G = holdings_graph(w.chain, w.deployment)

    assert set(G) == {
        "venue", "insurance_fund", "backstop_vault", "mm_vault", "lending_pool",
        "synthetic_dollar",
    }  # fmt: skip
    assert set(G.edges) == {
        ("insurance_fund", "venue"),
        ("backstop_vault", "venue"),
        ("mm_vault", "venue"),
        ("synthetic_dollar", "venue"),
        ("lending_pool", "backstop_vault"),
        ("lending_pool", "synthetic_dollar"),
    }
    types = dict(G.nodes(data="type"))
    assert types == {
        "venue": "perp_venue", "insurance_fund": "insurance_fund", "backstop_vault": "vault",
        "mm_vault": "venue_account", "lending_pool": "lending_pool",
        "synthetic_dollar": "synthetic_dollar",
    }  # fmt: skip
    x = nx_exposures(G)
    venue = w.vv.mv.venue

    # the fund's whole balance backs the venue: 100,000 USD seeded
    assert x["insurance_fund", "venue"] == pytest.approx(100_000, abs=CENT)
    assert _cents(x["insurance_fund", "venue"], w.vv.mv.fund.read("balance"), 10**6)
    # the vault's 4,000 USD of margin, no position: its cross equity at the venue
    vault_equity = venue.read("accountHealth", w.vault.address)[0]
    assert vault_equity == wad(4_000)
    assert _cents(x["backstop_vault", "venue"], vault_equity, WAD)
    # MM's cross equity (5,000 USD deposited, marked with its 2 ETH long)
    mm_equity = venue.read("accountHealth", MM)[0]
    assert 4_900 * WAD < mm_equity <= 5_000 * WAD
    assert _cents(x["mm_vault", "venue"], mm_equity, WAD)
    # the synthetic dollar's hedge equity, as its backing() and the venue both report it
    hedge = w.synth.read("backing")[3]
    assert hedge == venue.read("accountHealth", w.synth.address)[0] > 0
    assert _cents(x["synthetic_dollar", "venue"], hedge, WAD)
    # the pool's vault shares at the vault's convertToAssets (1,000 USD deposited) ...
    assert shares == w.pool.read("collateralOf", BORROWER, w.vault.address)
    assert _cents(
        x["lending_pool", "backstop_vault"], w.vault.read("convertToAssets", shares), 10**6
    )
    assert x["lending_pool", "backstop_vault"] == pytest.approx(1_000, abs=0.01)
    # ... which is also what the pool values them at
    assert _cents(
        x["lending_pool", "backstop_vault"],
        w.pool.read("collateralValue", w.vault.address, shares),
        WAD,
    )
    # the 400 tokens at the pool's oracle price of 1 USD
    assert x["lending_pool", "synthetic_dollar"] == pytest.approx(400, abs=CENT)

    nodes = G.nodes
    assert _cents(nodes["backstop_vault"]["equity_usd"], w.vault.read("totalAssets"), 10**6)
    # the vault's seed and the borrower's deposit less the 4,000 USD moved to the venue
    assert nodes["backstop_vault"]["external_assets_usd"] == pytest.approx(7_000, abs=CENT)
    assert nodes["lending_pool"]["equity_usd"] == pytest.approx(50_000, abs=CENT)
    assert nodes["lending_pool"]["external_assets_usd"] == pytest.approx(49_500, abs=CENT)
    assert nodes["lending_pool"]["debt_usd"] == pytest.approx(500, abs=CENT)
    total, spot, idle, _, _ = w.synth.read("backing")
    supply = w.synth.read("totalSupply")
    assert supply == wad(1_000)
    synth = nodes["synthetic_dollar"]
    assert _cents(synth["external_assets_usd"], spot + idle, WAD)
    assert _cents(synth["backing_usd"], total, WAD)
    assert _cents(synth["equity_usd"], total - supply, WAD)
    assert synth["equity_usd"] > 0 and "shortfall_usd" not in synth
    assert _cents(
        nodes["venue"]["external_assets_usd"], w.stable.read("balanceOf", venue.address), 10**6
    )
    for n, data in nodes(data=True):
        assert data["address"] and data["equity_usd"] >= 0 and data["external_assets_usd"] >= 0, n

    # the graph is an ordinary input of the algorithms: a venue default reaches every holder
    h = debtrank(G, {"venue": 1.0})
    assert h["lending_pool"] > 0 and h["backstop_vault"] > 0


def nx_exposures(G) -> dict[tuple[str, str], float]:
    return {(i, j): d["exposure_usd"] for i, j, d in G.edges(data=True)}


def test_a_holding_changed_on_chain_changes_its_edge(world):
    w = world
    first = _post_vault_shares(w, BORROWER, usd(1_000))
    _post_synth(w, wad(400))
    before = nx_exposures(holdings_graph(w.chain, w.deployment))

    # another borrower posts 2,500 USD more of vault shares; MINTER takes 150 tokens back
    more = _post_vault_shares(w, OUTSIDER, usd(2_500))
    send(w.chain, w.pool.withdraw_collateral(MINTER, w.synth.address, wad(150)))
    after = nx_exposures(holdings_graph(w.chain, w.deployment))

    held = w.vault.read("balanceOf", w.pool.address)
    assert held == first + more
    assert _cents(
        after["lending_pool", "backstop_vault"], w.vault.read("convertToAssets", held), 10**6
    )
    assert after["lending_pool", "backstop_vault"] - before[
        "lending_pool", "backstop_vault"
    ] == pytest.approx(2_500, abs=0.01)
    assert after["lending_pool", "synthetic_dollar"] == pytest.approx(250, abs=CENT)
    assert before["lending_pool", "synthetic_dollar"] == pytest.approx(400, abs=CENT)
    # the other edges did not move
    for edge in before:
        if edge[0] != "lending_pool":
            assert after[edge] == before[edge], edge

    # the synthetic dollar's price falls on its oracle: the pool's edge is re-valued with it
    send(w.chain, w.synth_oracle.push_price(PUSHER, wad("0.65")))
    depegged = nx_exposures(holdings_graph(w.chain, w.deployment))
    assert depegged["lending_pool", "synthetic_dollar"] == pytest.approx(250 * 0.65, abs=CENT)


def test_a_node_without_holdings_has_no_out_edges(world):
    w = world
    G = holdings_graph(w.chain, w.deployment)
    # the pool holds no collateral yet: it is a node (its 50,000 USD of supply) without edges
    assert G.out_degree("lending_pool") == 0
    assert G.nodes["lending_pool"]["equity_usd"] == pytest.approx(50_000, abs=CENT)
    assert G.in_degree("backstop_vault") == 0 and G.in_degree("synthetic_dollar") == 0
    # an account with nothing at the venue holds nothing of it
    G = holdings_graph(w.chain, replace(w.deployment, mm_vault_account=TRADERS[30]))
    assert G.out_degree("mm_vault") == 0 and G.nodes["mm_vault"]["equity_usd"] == 0
    # DebtRank never reaches it
    h = debtrank(G, {"venue": 1.0})
    assert h["lending_pool"] == 0 and h["mm_vault"] == 0


def test_the_protocols_left_out_are_not_nodes(world):
    w = world
    d = ContagionDeployment(venue=w.deployment.venue, stablecoin=w.deployment.stablecoin)
    G = holdings_graph(w.chain, d)
    assert list(G) == ["venue"] and G.number_of_edges() == 0


def test_an_address_without_code_is_one_line_naming_it(world):
    w = world
    nowhere = "0x00000000000000000000000000000000DeaDBeef"
    d = replace(w.deployment, lending_pool=nowhere)
    with pytest.raises(ContagionDeploymentError) as e:
        holdings_graph(w.chain, d)
    message = str(e.value)
    assert "\n" not in message
    assert "lending_pool" in message and nowhere.lower() in message.lower() and "no code" in message
    assert isinstance(e.value, PerpsimError) and e.value.exit_code == 2


def test_a_contract_of_another_kind_or_venue_is_refused(world):
    w = world
    # the pool's address named as the synthetic dollar: its views revert
    d = replace(w.deployment, synthetic_dollar=w.pool.address)
    with pytest.raises(ContagionDeploymentError, match="SyntheticDollar.venue"):
        holdings_graph(w.chain, d)
    # the insurance fund of another venue
    other = deploy_vault_venue(w.chain, [MarketSpec("BTC", 1_000)])
    d = replace(w.deployment, insurance_fund=other.mv.fund.address)
    with pytest.raises(ContagionDeploymentError, match="insurance_fund") as e:
        holdings_graph(w.chain, d)
    assert other.mv.fund.address in str(e.value)
    with pytest.raises(ContagionDeploymentError, match="not an address"):
        holdings_graph(w.chain, replace(w.deployment, venue="0x1234"))


def test_the_error_reaches_the_cli_as_one_line_and_exit_2(world):
    """Through the CLI's ``handles_errors`` (as a command building the graph would use it)."""
    w = world
    nowhere = "0x00000000000000000000000000000000DeaDBeef"

    @click.command()
    @handles_errors
    def graph_command():
        holdings_graph(w.chain, replace(w.deployment, backstop_vault=nowhere))

    result = CliRunner(mix_stderr=False).invoke(graph_command, [])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "backstop_vault" in lines[0] and "no code" in lines[0]


def test_a_bankrupt_account_shows_its_shortfall_and_holds_nothing(world):
    """A negative equity at the venue is not dropped: the node's equity is 0, the gap is its
    ``shortfall_usd``, and it has no claim on the venue (no out-edge)."""
    w = world
    bankrupt = TRADERS[8]
    w.vv.mv.setup(bankrupt, 100, [(1, 15)])
    w.vv.mv.push(1, 90)
    equity = w.vv.mv.venue.read("accountHealth", bankrupt)[0]
    assert equity < 0
    G = holdings_graph(w.chain, replace(w.deployment, mm_vault_account=bankrupt))
    node = G.nodes["mm_vault"]
    assert node["equity_usd"] == 0 and G.out_degree("mm_vault") == 0
    assert _cents(node["shortfall_usd"], -equity, WAD)
    assert node["shortfall_usd"] == pytest.approx(50, abs=1)
