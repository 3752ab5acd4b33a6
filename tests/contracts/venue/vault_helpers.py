"""Deploying the venue's backstop vault (``contracts/vault/VenueBackstopVault.sol``) and its
per-market margin controller (``contracts/venue/VenueMarginController.sol``) beside a test venue
of ``venue_helpers.deploy_multi``.

The venue learns its vault once, in ``initialize``, before the vault (which needs the venue's
address) can exist. So the vault is deployed by a fresh deployer whose first contract address
is known in advance (CREATE of nonce 0) and that address is handed to the venue's deploy. The
controller gets the venue's CONTROLLER_ROLE through the timelock.

``deploy_venue`` is ``venue_helpers.deploy_multi`` (perpsim's venue deploy,
:func:`simulator.protocol.venue_deploy.deploy_multi_venue`) with the vault's address.

Units: token amounts in collateral base units (``usd()``), prices and sizes WAD.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from eth_utils import keccak, to_checksum_address
from perp_helpers import GOVERNOR, MANAGER, WAD, ok, usd
from venue_helpers import MarketSpec, MultiVenue, deploy_multi

from simulator.chain.artifacts import load_artifacts
from simulator.chain.contracts import ContractWrapper
from simulator.chain.deploy import deploy_contract
from simulator.chain.types import Call, TxResult

_DEPLOYERS = count()


def _fresh_deployer(chain) -> str:
    """An address that has never sent a transaction on `chain` (its nonce is 0)."""
    seed = f"perpsim vault deployer {chain.block_number()} {next(_DEPLOYERS)}".encode()
    return to_checksum_address(keccak(seed)[12:])


def create_address(sender: str, nonce: int = 0) -> str:
    """CREATE address of `sender`'s contract at `nonce` (< 128): keccak(rlp([sender, nonce]))."""
    assert 0 <= nonce < 0x80
    encoded_nonce = b"\x80" if nonce == 0 else bytes([nonce])
    payload = b"\x94" + bytes.fromhex(sender[2:]) + encoded_nonce
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


def govern_on(mv: MultiVenue, target: str, call: Call, salt: bytes = b"\x00" * 32) -> TxResult:
    """Schedule ``call`` (built with the timelock as sender) on ``target`` through the timelock,
    wait its delay, execute."""
    delay = mv.timelock.read("getMinDelay")
    schedule = mv.timelock.schedule(GOVERNOR, target, call.data, delay, salt)
    ok([mv.chain.execute_one(schedule)])
    mv.chain.advance_time(delay + 1)
    return mv.chain.execute_one(mv.timelock.execute(GOVERNOR, target, call.data, salt))


def deploy_venue(
    chain,
    markets: list[MarketSpec],
    *,
    vault: str,
    fund_usd: float = 100_000,
    pool_usd: float = 1_000_000,
    timelock_delay_s: int = 1,
) -> MultiVenue:
    """Deploy the venue with `vault` as its backstop account, list `markets` through the
    timelock, fund the insurance fund and the pool (:func:`venue_helpers.deploy_multi`)."""
    return deploy_multi(
        chain, markets, fund_usd=fund_usd, pool_usd=pool_usd, vault=vault,
        timelock_delay_s=timelock_delay_s,
    )  # fmt: skip


@dataclass
class VaultVenue:
    """A test venue whose backstop account is a real VenueBackstopVault."""

    mv: MultiVenue
    vault: ContractWrapper

    @property
    def chain(self):
        return self.mv.chain

    def lp_deposit(self, who: str, units: int) -> list[TxResult]:
        """Mint `units` of collateral to `who` and deposit them into the vault."""
        c = self.mv.collateral
        return ok(
            self.chain.execute(
                [
                    c.mint(self.mv.deployer, who, units),
                    c.approve(who, self.vault.address, 2**256 - 1),
                    self.vault.call(who, "deposit", units, who),
                ]
            )
        )

    def total_assets(self) -> int:
        return self.vault.read("totalAssets")

    def share_price(self) -> tuple[int, int]:
        """(totalAssets + 1, totalSupply + 10**6): OpenZeppelin's virtual-share ratio, exact."""
        return self.total_assets() + 1, self.vault.read("totalSupply") + 10**6


def deploy_vault_venue(
    chain, markets: list[MarketSpec], *, cooldown_s: int = 0, seed_usd: float = 0, **kwargs
) -> VaultVenue:
    """Deploy a venue of `markets` whose backstop is a VenueBackstopVault (admin: the timelock,
    manager: MANAGER, redeem cooldown `cooldown_s`), seeded by MANAGER with `seed_usd`."""
    deployer = _fresh_deployer(chain)
    predicted = create_address(deployer)
    mv = deploy_venue(chain, markets, vault=predicted, **kwargs)
    vault = deploy_contract(
        chain, ContractWrapper, mv.collateral.address, mv.venue.address, mv.timelock.address,
        MANAGER, cooldown_s, sender=deployer, artifacts=load_artifacts(),
        contract_name="VenueBackstopVault",
    )  # fmt: skip
    assert vault.address == predicted, (vault.address, predicted)
    assert mv.venue.read("backstopVault") == vault.address
    vv = VaultVenue(mv, vault)
    if seed_usd:
        vv.lp_deposit(MANAGER, usd(seed_usd))
    return vv


def deploy_controller(mv: MultiVenue) -> ContractWrapper:
    """A VenueMarginController of `mv` (admin: the timelock) holding the venue's CONTROLLER_ROLE."""
    controller = deploy_contract(
        mv.chain, ContractWrapper, mv.venue.address, mv.timelock.address,
        artifacts=load_artifacts(), contract_name="VenueMarginController",
    )  # fmt: skip
    role = mv.venue.read("CONTROLLER_ROLE")
    grant = mv.venue.call(mv.timelock.address, "grantRole", role, controller.address)
    ok([mv.govern(grant)])
    return controller


__all__ = [
    "WAD",
    "VaultVenue",
    "create_address",
    "deploy_controller",
    "deploy_vault_venue",
    "deploy_venue",
]
