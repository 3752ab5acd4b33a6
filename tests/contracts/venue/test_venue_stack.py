"""``deploy_venue_stack`` (what ``perpsim deploy`` and ``ape run deploy`` call): the venue of a
shipped preset's markets, its backstop vault and margin controller, wired and funded as the
preset says. Every test runs on both backends, inside ``chain.isolate()``.
"""

from __future__ import annotations

from decimal import Decimal

from perp_helpers import usd

from simulator.protocol.contracts import ZERO_ADDRESS
from simulator.protocol.params import ControllerParams, load_preset
from simulator.protocol.venue_params import load_venue_preset
from simulator.protocol.venue_stack import deploy_venue_stack

SYMBOLS = ["BTC", "ETH", "SOL"]


def test_hyperliquid_stack_wires_and_funds_the_vault_on_every_market(chain):
    params = load_venue_preset("hyperliquid-like", SYMBOLS)
    buffers = load_preset("hyperliquid-like").buffers
    with chain.isolate():
        stack = deploy_venue_stack(chain, params)
        mv, vault = stack.venue, stack.vault
        assert stack.vault_wired and not stack.controller_wired
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
        assert not mv.venue.read("hasRole", role, stack.controller.address)
        assert list(stack.controller.read("controlledMarkets")) == []
        assert set(stack.addresses()) >= {
            "venue", "backstop_vault", "controller", "timelock", "insurance_fund",
            "oracle.SOL", "amm.SOL", "base.SOL", "module.VenueAdlModule",
        }  # fmt: skip


def test_enabled_controller_controls_every_market_and_pokes_right_after_the_deploy(chain):
    params = load_venue_preset("dydx-like", SYMBOLS)
    controller_params = ControllerParams(enabled=True, min_interval_s=0)
    with chain.isolate():
        stack = deploy_venue_stack(chain, params, controller_params)
        mv, controller = stack.venue, stack.controller
        assert stack.controller_wired and not stack.vault_wired
        assert mv.venue.read("backstopVault") == ZERO_ADDRESS
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
        first = deploy_venue_stack(chain, params)
        second = deploy_venue_stack(chain, params)
        assert first.vault.address != second.vault.address
        assert second.venue.venue.read("backstopVault") == second.vault.address
