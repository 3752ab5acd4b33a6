"""``deploy_multi_venue`` as ``perpsim deploy`` and ``ape run deploy`` call it
(``with_backstop_vault`` as the preset says, ``deploy_unwired``): the venue of a shipped preset's
markets, its backstop vault and margin controller, wired and funded as the preset says, the
unwired one deployed too. Every test runs on both backends, inside ``chain.isolate()``.
"""

from __future__ import annotations

from decimal import Decimal

from perp_helpers import usd

from simulator.protocol.contracts import ZERO_ADDRESS
from simulator.protocol.params import ControllerParams, load_preset
from simulator.protocol.venue_deploy import MultiVenue, deploy_multi_venue
from simulator.protocol.venue_params import MultiVenueParams, load_venue_preset

SYMBOLS = ["BTC", "ETH", "SOL"]


def deploy_as_the_commands_do(chain, params: MultiVenueParams) -> MultiVenue:
    """The deploy of ``perpsim deploy`` / ``ape run deploy`` (simulator/cli.py, scripts/deploy.py)."""
    return deploy_multi_venue(
        chain, params, with_backstop_vault=params.buffers.backstop_enabled, deploy_unwired=True
    )


def test_hyperliquid_stack_wires_and_funds_the_vault_on_every_market(chain):
    params = load_venue_preset("hyperliquid-like", SYMBOLS)
    buffers = load_preset("hyperliquid-like").buffers
    with chain.isolate():
        mv = deploy_as_the_commands_do(chain, params)
        vault, controller = mv.vault, mv.margin_controller
        assert vault is not None and controller is not None
        assert mv.vault_wired and not mv.controller_wired
        assert mv.ids == {"BTC": 1, "ETH": 2, "SOL": 3}
        assert mv.venue.read("backstopVault") == vault.address
        assert vault.read("venue") == mv.venue.address
        for market, amm in mv.amms.items():
            assert vault.read("spotAmm", market) == amm.address
        assert list(vault.read("spotMarkets")) == [1, 2, 3]
        deposited = usd(buffers.backstop_vault_usd)
        margin = int(Decimal(deposited) * Decimal(str(buffers.backstop_margin_share)))
        assert vault.read("totalAssets") == deposited
        assert mv.venue.read("collateralOf", vault.address) == margin * 10**12  # WAD
        assert vault.read("balanceOf", mv.deployer) > 0
        # the controller exists but holds no role: the preset leaves it off
        role = mv.venue.read("CONTROLLER_ROLE")
        assert not mv.venue.read("hasRole", role, controller.address)
        assert list(controller.read("controlledMarkets")) == []
        # ... and its admin is the timelock alone, as a wired one's
        admin = controller.read("DEFAULT_ADMIN_ROLE")
        assert controller.read("hasRole", admin, mv.timelock.address)
        assert not controller.read("hasRole", admin, mv.deployer)
        assert set(mv.addresses()) >= {
            "venue", "backstop_vault", "controller", "timelock", "insurance_fund",
            "oracle.SOL", "amm.SOL", "base.SOL", "module.VenueAdlModule",
        }  # fmt: skip


def test_enabled_controller_controls_every_market_and_pokes_right_after_the_deploy(chain):
    controller_params = ControllerParams(enabled=True, min_interval_s=0)
    params = load_venue_preset("dydx-like", SYMBOLS).model_copy(
        update={"controller": controller_params}
    )
    with chain.isolate():
        mv = deploy_as_the_commands_do(chain, params)
        controller, vault = mv.margin_controller, mv.vault
        assert controller is not None and vault is not None
        assert mv.controller_wired and not mv.vault_wired
        assert mv.venue.read("backstopVault") == ZERO_ADDRESS
        # the unwired vault exists, unfunded and without AMMs
        assert vault.read("totalAssets") == 0 and list(vault.read("spotMarkets")) == []
        role = mv.venue.read("CONTROLLER_ROLE")
        assert mv.venue.read("hasRole", role, controller.address)
        assert list(controller.read("controlledMarkets")) == [1, 2, 3]
        assert tuple(controller.read("parameters", 2)) == controller_params.to_chain()
        # prices were pushed after the timelock wait: a poke of every market goes through
        poke = controller.call(mv.deployer, "pokeMany", [1, 2, 3])
        assert chain.execute_one(poke).ok


def test_two_stacks_on_one_chain_get_their_own_vault_and_controller(chain):
    params = load_venue_preset("hyperliquid-like", ["ETH"])
    with chain.isolate():
        first = deploy_as_the_commands_do(chain, params)
        second = deploy_as_the_commands_do(chain, params)
        assert first.vault is not None and second.vault is not None
        assert first.vault.address != second.vault.address
        assert second.venue.read("backstopVault") == second.vault.address
