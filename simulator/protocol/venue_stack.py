"""Deploy a whole multi-market venue: :func:`~simulator.protocol.venue_deploy.deploy_multi_venue`
plus its backstop vault (``contracts/vault/VenueBackstopVault.sol``) and per-market margin
controller (``contracts/venue/VenueMarginController.sol``), as ``perpsim deploy`` and
``ape run deploy`` do.

The venue learns its vault and controller once, in ``initialize``, before either (both need the
venue's address) can exist. So both are deployed by an auxiliary deployer that has never sent a
transaction: its CREATE addresses at nonce 0 (vault) and 1 (controller) are known in advance
and handed to the venue's deploy, then checked once the contracts exist.

Wiring follows the preset: the vault is the venue's backstop account when
``buffers.backstop_enabled`` (funded with ``buffers.backstop_vault_usd``, of which
``backstop_margin_share`` is moved into its venue margin by the manager, and given each market's
spot AMM to hedge on); the controller holds ``CONTROLLER_ROLE`` and controls every market when
``controller.enabled``. Both are deployed either way, so every address exists to inspect. The
vault's AMMs and the controller's per-market parameters are admin (timelock) calls: one more
timelock round, scheduled in one block and executed in one block after the delay, with a fresh
price on every oracle first (the wait may outlast ``max_age_s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_utils import keccak, to_checksum_address

from simulator.chain.artifacts import load_artifacts
from simulator.chain.base import Chain
from simulator.chain.contracts import ContractWrapper
from simulator.chain.deploy import DEFAULT_DEPLOYER, DeployError, deploy_contract
from simulator.chain.types import Call, require_ok
from simulator.protocol.contracts import ZERO_ADDRESS, PerpTimelock
from simulator.protocol.params import ControllerParams
from simulator.protocol.venue_deploy import MultiVenue, deploy_multi_venue
from simulator.protocol.venue_params import MultiVenueParams
from simulator.units import to_units, to_wad


def create_address(sender: str, nonce: int) -> str:
    """CREATE address of ``sender``'s contract at ``nonce`` (< 128): keccak(rlp([sender, nonce]))
    [12:].

    >>> create_address("0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0", 0)
    '0xcd234A471b72ba2F1Ccf0A70FCABA648a5eeCD8d'
    """
    if not 0 <= nonce < 0x80:
        raise ValueError(f"nonce {nonce} out of the single-byte RLP range 0..127")
    encoded_nonce = b"\x80" if nonce == 0 else bytes([nonce])
    payload = b"\x94" + bytes.fromhex(sender[2:]) + encoded_nonce
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


@dataclass
class VenueStack:
    """A deployed multi-market venue with its backstop vault and margin controller.

    ``vault_wired`` / ``controller_wired`` say whether the venue uses them (the preset's
    ``buffers.backstop_enabled`` / ``controller.enabled``); both contracts exist either way.
    """

    venue: MultiVenue
    vault: ContractWrapper
    controller: ContractWrapper
    controller_params: ControllerParams
    manager: str
    vault_wired: bool
    controller_wired: bool

    def addresses(self) -> dict[str, str]:
        """Every contract address by role: the venue's (``venue``, ``module.*``, ``oracle.SYM``,
        ``amm.SYM``, ``base.SYM``, ``insurance_fund``, ``timelock``, ``collateral``), then
        ``backstop_vault`` and ``controller``."""
        return {
            **self.venue.addresses(),
            "backstop_vault": self.vault.address,
            "controller": self.controller.address,
        }


def _aux_deployer(chain: Chain, deployer: str) -> str:
    """An address that has sent no transaction on ``chain``: derived from the chain, its head
    and ``deployer``, so two deploys on one node (different heads) use different ones."""
    seed = f"perpsim venue stack {chain.chain_id} {chain.block_number()} {deployer}".encode()
    return to_checksum_address(keccak(seed)[12:])


def deploy_venue_stack(
    chain: Chain,
    params: MultiVenueParams,
    controller_params: ControllerParams | None = None,
    deployer: str = DEFAULT_DEPLOYER,
    *,
    manager: str | None = None,
) -> VenueStack:
    """Deploy the venue of ``params`` (markets listed through the timelock), its backstop vault
    and margin controller, wire and fund them as the parameters say (see the module doc).

    ``controller_params`` are the controller's parameters for every market (the single-market
    preset's ``controller:`` section; default: off). ``manager`` holds the vault's
    ``MANAGER_ROLE`` (default: the deployer). Roles of the venue as in
    :func:`~simulator.protocol.venue_deploy.deploy_multi_venue` (all the deployer).
    Raises :class:`~simulator.chain.deploy.DeployError` when a contract fails to deploy or lands
    elsewhere than the venue was told.
    """
    controller_params = controller_params or ControllerParams()
    manager = manager or deployer
    buffers = params.buffers
    aux = _aux_deployer(chain, deployer)
    vault_at, controller_at = create_address(aux, 0), create_address(aux, 1)
    for address in (vault_at, controller_at):
        if chain.get_code(address):
            raise DeployError(f"{address} already holds a contract: cannot deploy the stack there")
    mv = deploy_multi_venue(
        chain,
        params,
        deployer,
        backstop_vault=vault_at if buffers.backstop_enabled else ZERO_ADDRESS,
        controller=controller_at if controller_params.enabled else ZERO_ADDRESS,
    )
    artifacts = load_artifacts()
    vault = deploy_contract(
        chain, ContractWrapper, mv.collateral.address, mv.venue.address, mv.timelock.address,
        manager, buffers.backstop_redeem_cooldown_s, sender=aux, artifacts=artifacts,
        contract_name="VenueBackstopVault",
    )  # fmt: skip
    controller = deploy_contract(
        chain, ContractWrapper, mv.venue.address, mv.timelock.address, sender=aux,
        artifacts=artifacts, contract_name="VenueMarginController",
    )  # fmt: skip
    if (vault.address, controller.address) != (vault_at, controller_at):
        raise DeployError(
            f"the vault and controller landed at {vault.address}, {controller.address}, not at "
            f"the addresses the venue was given ({vault_at}, {controller_at})"
        )

    # Admin calls, through the timelock: the vault's AMM per market, the controller's params.
    governed: list[tuple[str, Call]] = []
    if buffers.backstop_enabled:
        governed += [
            (vault.address, vault.call(mv.timelock.address, "setSpotAmm", market, amm.address))
            for market, amm in mv.amms.items()
        ]
    if controller_params.enabled:
        chain_params = controller_params.to_chain()
        governed += [
            (
                controller.address,
                controller.call(mv.timelock.address, "setParameters", market, chain_params),
            )
            for market in mv.ids.values()
        ]
    if governed:
        delay = params.governance.timelock_delay_s
        salt = PerpTimelock.ZERO_SALT
        require_ok(
            chain.execute(
                [mv.timelock.schedule(mv.governor, to, c.data, delay, salt) for to, c in governed]
            )
        )
        chain.advance_time(delay + 1)
        prices = {
            market: to_wad(params.market(symbol).oracle.initial_price_usd)
            for symbol, market in mv.ids.items()
        }
        require_ok(
            chain.execute(
                mv.push_prices(prices)
                + [mv.timelock.execute(mv.governor, to, c.data, salt) for to, c in governed]
            )
        )

    # Vault capital: LP shares to the deployer, the margin share moved into the venue.
    vault_units = to_units(buffers.backstop_vault_usd) if buffers.backstop_enabled else 0
    margin_units = int(Decimal(vault_units) * Decimal(str(buffers.backstop_margin_share)))
    if vault_units:
        calls = [
            mv.collateral.mint(deployer, deployer, vault_units),
            mv.collateral.approve(deployer, vault.address, vault_units),
            vault.call(deployer, "deposit", vault_units, deployer),
        ]
        if margin_units:
            calls.append(vault.call(manager, "depositMargin", margin_units))
        require_ok(chain.execute(calls))
    return VenueStack(
        venue=mv,
        vault=vault,
        controller=controller,
        controller_params=controller_params,
        manager=manager,
        vault_wired=buffers.backstop_enabled,
        controller_wired=controller_params.enabled,
    )
