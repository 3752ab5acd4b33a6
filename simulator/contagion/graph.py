"""The contagion world's exposure graph, read from chain state (issue 13, item 2).

:func:`holdings_graph` reads the balances, account equities and debts of a deployed contagion
world (:class:`ContagionDeployment`: the perp venue, its insurance fund, its backstop vault,
the market-making vault's account, a lending pool, a synthetic dollar, a second perp venue with
its fund and vault) in two batched reads
(``chain.read``: the second values the pool's holdings, whose amounts the first one reads) and
returns a networkx ``DiGraph`` for the algorithms of :mod:`simulator.contagion`. Nothing comes
from a scenario: change a holding on chain and the graph changes with it.

Conventions (REFERENCES.md, "Contagion algorithms"):

- **Edges point from holder to issuer**: ``i -> j`` with ``exposure_usd = x`` says that i holds
  x USD of j's liabilities (j owes i the amount x); distress and losses flow against the edges.
  An edge exists only where the exposure is > 0, so a node that holds nothing has no out-edge.
- All figures are **USD floats** converted exactly from the contracts' integers (stablecoin
  base units / 1e6, WAD / 1e18), so they equal the on-chain numbers to the cent.
- Every node has ``type``, ``address``, ``equity_usd`` (its loss-absorbing capital, >= 0) and
  ``external_assets_usd`` (its assets that are not claims on another node of the graph, >= 0).
  A node whose liabilities exceed its assets gets ``equity_usd = 0`` and carries the gap as
  ``shortfall_usd`` (> 0) beside it, so no negative figure is dropped silently.

Nodes (name: ``type``) and the views each number comes from:

===================== ================= =========================================================
node                  equity_usd        external_assets_usd / edges out (exposure_usd)
===================== ================= =========================================================
``venue``:            max(0, counter-   its stablecoin balance (``balanceOf(venue)``); no edges
``perp_venue``        party pool) of    out. Also ``pool_usd``, the pool signed (a negative
                      ``accounting()``  one is also ``shortfall_usd``).
                      (realized: open
                      PnL against the
                      pool not counted)
``insurance_fund``:   ``balance()``     0; -> ``venue`` with its whole ``balance()``: the fund
``insurance_fund``                      pays the venue's deficits, all of it is at risk.
``backstop_vault``:   ``totalAssets()`` ``totalAssets()`` minus its counted venue equity (its
``vault``             (LP capital, no   idle stablecoin + spot inventory); -> ``venue`` with
                      debt of its own)  max(0, cross equity) of ``venue.accountHealth(vault)``.
                                        Also ``venue_equity_usd``, that equity signed.
``mm_vault``:         max(0, cross      0 (it is an account at the venue without a contract);
``venue_account``     equity)           -> ``venue`` with max(0, ``accountHealth(account)``
                                        equity); a negative equity is ``shortfall_usd``.
``synthetic_dollar``: max(0, backing    spot value + idle stablecoin of ``backing()``;
``synthetic_dollar``  total − supply    -> ``venue`` with max(0, hedge equity) of ``backing()``.
                      at 1 USD par)     Also ``backing_usd``, ``supply_usd``, ``backing_ratio``.
``lending_pool``:     ``totalAssets()`` ``cash()``; -> ``backstop_vault`` with the vault shares it
``lending_pool``      (suppliers'       holds (``vault.balanceOf(pool)``) at the vault's
                      capital)          ``convertToAssets``; -> ``synthetic_dollar`` with the
                                        tokens it holds at its own ``collateralValue`` (its
                                        oracle). Also ``debt_usd`` (``totalDebt()``) and
                                        ``bad_debt_usd`` (``totalBadDebt()``).
===================== ================= =========================================================

The second venue's nodes (:class:`ContagionDeployment`'s ``second_*`` fields; a second
``PerpVenue`` with other parameters on the same stablecoin) are read with the same views as the
first venue's, from its own contracts:

================================================ ==============================================
node: ``type``                                   as (figures, edges)
================================================ ==============================================
``second_venue``: ``perp_venue``                 ``venue``; no edges out
``second_insurance_fund``: ``insurance_fund``    ``insurance_fund``; -> ``second_venue``
``second_backstop_vault``: ``vault``             ``backstop_vault``; -> ``second_venue``, and
                                                 ``lending_pool`` -> ``second_backstop_vault``
                                                 with the shares the pool holds
================================================ ==============================================

The synthetic dollar's edge goes to the venue its hedge is at (its ``venue()``: ``venue`` or
``second_venue``).

The pool's edges are the collateral it holds for its borrowers: they bound what it can lose if
the issuer fails (a borrower's own equity in an over-collateralized loan absorbs the first
part), and their sum may exceed its loans. Its loans themselves are claims on borrowers, who
are not nodes, so its external assets are its cash only.

Every contract the deployment names must have code, and the contracts must belong to each
other (the fund and the vault to the deployment's venue, the synthetic dollar to the venue or
the second venue, the second venue's fund and vault to the second venue, which they need, the
pool's and both venues' stablecoin to ``stablecoin``): otherwise :class:`ContagionDeploymentError`, one line
naming the field and the address (a :class:`~simulator.errors.PerpsimError`, exit code 2: a
command that builds the graph prints ``error: ...`` and exits 2 through ``handles_errors``).
Code is checked with one ``get_code`` per contract before the reads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import networkx as nx
from eth_utils import is_address, to_checksum_address

from simulator.chain.artifacts import Artifacts, load_artifacts
from simulator.chain.base import Chain
from simulator.chain.contracts import ContractWrapper
from simulator.chain.types import View, ViewError
from simulator.errors import ContagionError

UNIT = 10**6
"""Stablecoin base units per USD."""
WAD = 10**18

#: The deployment's contract fields and the artifact each address must hold the code of.
_CONTRACTS = {
    "venue": "PerpVenue",
    "stablecoin": "CollateralToken",
    "insurance_fund": "InsuranceFund",
    "backstop_vault": "VenueBackstopVault",
    "lending_pool": "LendingPool",
    "synthetic_dollar": "SyntheticDollar",
    "second_venue": "PerpVenue",
    "second_insurance_fund": "InsuranceFund",
    "second_backstop_vault": "VenueBackstopVault",
}


class ContagionDeploymentError(ContagionError):
    """A contagion deployment names an address without code, an address that is not one, or
    contracts that do not belong together (one line naming the field and the address)."""


@dataclass(frozen=True)
class ContagionDeployment:
    """Addresses of a deployed contagion world; every field but ``venue`` and ``stablecoin``
    is optional (``None``: the protocol is not deployed and is not a node).

    ``mm_vault_account`` is the market-making vault's account at the venue (an account, not a
    contract: it is not checked for code); every other field must hold the code of its
    contract.
    """

    venue: str
    """``PerpVenue``."""
    stablecoin: str
    """The venue's collateral ``CollateralToken`` (6 decimals), lent by the pool."""
    insurance_fund: str | None = None
    """The venue's ``InsuranceFund``."""
    backstop_vault: str | None = None
    """The venue's ``VenueBackstopVault`` (ERC-4626 over the stablecoin)."""
    mm_vault_account: str | None = None
    """The market-making vault's cross account at the venue."""
    lending_pool: str | None = None
    """A ``LendingPool`` lending the stablecoin."""
    synthetic_dollar: str | None = None
    """A ``SyntheticDollar`` hedging on the venue (or on ``second_venue``)."""
    second_venue: str | None = None
    """A second ``PerpVenue`` on the same stablecoin (other parameters)."""
    second_insurance_fund: str | None = None
    """The second venue's ``InsuranceFund`` (needs ``second_venue``)."""
    second_backstop_vault: str | None = None
    """The second venue's ``VenueBackstopVault`` (needs ``second_venue``)."""

    def addresses(self) -> dict[str, str]:
        """The fields that are set, ``{field: checksummed address}``;
        :class:`ContagionDeploymentError` for a value that is not an address."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if not isinstance(value, str) or not is_address(value):
                raise ContagionDeploymentError(
                    f"contagion deployment: {f.name} is not an address: {value!r}"
                )
            out[f.name] = to_checksum_address(value)
        return out


def _wrappers(
    chain: Chain, deployment: ContagionDeployment, artifacts: Artifacts
) -> dict[str, ContractWrapper]:
    """A wrapper per contract field that is set, after checking that its address has code."""
    wrappers = {}
    for name, address in deployment.addresses().items():
        if name not in _CONTRACTS:
            continue
        if not chain.get_code(address):
            raise ContagionDeploymentError(
                f"contagion deployment: {name} at {address} has no code "
                f"(expected a {_CONTRACTS[name]})"
            )
        wrappers[name] = ContractWrapper(chain, artifacts[_CONTRACTS[name]], address)
    return wrappers


def _read(chain: Chain, views: dict[str, View]) -> dict[str, object]:
    """Evaluate ``views`` in one batched read; a reverting view is a one-line error naming it
    (a contract of another kind at that address, or a wrong pairing)."""
    keys = list(views)
    results = chain.read([views[k] for k in keys], strict=False)
    out = {}
    for key, value in zip(keys, results, strict=True):
        if isinstance(value, ViewError):
            raise ContagionDeploymentError(
                f"contagion deployment: {views[key].label} at {views[key].to} reverted "
                f"({value.error}); is it the contract the deployment names?"
            )
        out[key] = value
    return out


def _check_belongs(values: dict[str, object], addresses: dict[str, str]) -> None:
    """The fund, vault and synthetic dollar belong to the deployment's venue; the venue and
    the pool use its stablecoin."""
    expected = {
        "venue.collateral": ("stablecoin", "venue"),
        "venue.insuranceFund": ("insurance_fund", "venue"),
        "fund.collateral": ("stablecoin", "insurance_fund"),
        "vault.venue": ("venue", "backstop_vault"),
        "second.collateral": ("stablecoin", "second_venue"),
        "second.insuranceFund": ("second_insurance_fund", "second_venue"),
        "second_fund.collateral": ("stablecoin", "second_insurance_fund"),
        "second_vault.venue": ("second_venue", "second_backstop_vault"),
        "synth.stablecoin": ("stablecoin", "synthetic_dollar"),
        "pool.asset": ("stablecoin", "lending_pool"),
    }
    if "synth.venue" in values:  # it hedges at the venue or at the second venue
        got = to_checksum_address(values["synth.venue"])
        venues = [addresses[k] for k in ("venue", "second_venue") if k in addresses]
        if got not in venues:
            raise ContagionDeploymentError(
                f"contagion deployment: synthetic_dollar at {addresses['synthetic_dollar']} "
                f"uses venue {got}, not the deployment's {' or '.join(venues)}"
            )
    for key, (field, owner) in expected.items():
        if key not in values or field not in addresses:
            continue
        got = to_checksum_address(values[key])
        if got != addresses[field]:
            raise ContagionDeploymentError(
                f"contagion deployment: {owner} at {addresses[owner]} uses {field} {got}, "
                f"not the deployment's {addresses[field]}"
            )


def _units(amount: int) -> float:
    """Stablecoin base units -> USD."""
    return amount / UNIT


def _wad(amount: int) -> float:
    """WAD USD -> USD."""
    return amount / WAD


def holdings_graph(
    chain: Chain, deployment: ContagionDeployment, *, artifacts: Artifacts | None = None
) -> nx.DiGraph:
    """The exposure graph of `deployment`, read from `chain`'s latest block.

    Parameters
    ----------
    chain : Chain
        The chain the world is deployed on.
    deployment : ContagionDeployment
        The deployed addresses; the protocols left ``None`` are not nodes.
    artifacts : Artifacts, optional
        Compiled contracts (their ABIs); the project's build by default.

    Returns
    -------
    networkx.DiGraph
        Nodes ``venue``, ``insurance_fund``, ``backstop_vault``, ``mm_vault``,
        ``lending_pool``, ``synthetic_dollar``, ``second_venue``, ``second_insurance_fund``,
        ``second_backstop_vault`` (those deployed) with ``type``, ``address``,
        ``equity_usd``, ``external_assets_usd`` (and the extra figures of the module
        docstring); holder -> issuer edges with ``exposure_usd`` (USD, > 0). See the module
        docstring for which view each number comes from.

    Raises
    ------
    ContagionDeploymentError
        An address without code or that is not an address, or contracts that do not belong
        together (one line naming the field and the address).
    """
    artifacts = artifacts or load_artifacts()
    addresses = deployment.addresses()
    w = _wrappers(chain, deployment, artifacts)
    venue, stable = w["venue"], w["stablecoin"]
    fund, vault = w.get("insurance_fund"), w.get("backstop_vault")
    pool, synth = w.get("lending_pool"), w.get("synthetic_dollar")
    mm = addresses.get("mm_vault_account")

    views: dict[str, View] = {
        "venue.collateral": venue.view("collateral"),
        "venue.accounting": venue.view("accounting"),
        "venue.stable": stable.view("balanceOf", venue.address),
    }
    if fund is not None:
        views["venue.insuranceFund"] = venue.view("insuranceFund")
        views["fund.collateral"] = fund.view("collateral")
        views["fund.balance"] = fund.view("balance")
    if vault is not None:
        views["vault.venue"] = vault.view("venue")
        views["vault.totalAssets"] = vault.view("totalAssets")
        views["vault.health"] = venue.view("accountHealth", vault.address)
    if mm is not None:
        views["mm.health"] = venue.view("accountHealth", mm)
    if synth is not None:
        views["synth.venue"] = synth.view("venue")
        views["synth.stablecoin"] = synth.view("stablecoin")
        views["synth.backing"] = synth.view("backing")
        views["synth.supply"] = synth.view("totalSupply")
    second, second_fund = w.get("second_venue"), w.get("second_insurance_fund")
    second_vault = w.get("second_backstop_vault")
    if (second_fund is not None or second_vault is not None) and second is None:
        raise ContagionDeploymentError(
            "contagion deployment: second_insurance_fund / second_backstop_vault need second_venue"
        )
    if second is not None:
        views["second.collateral"] = second.view("collateral")
        views["second.accounting"] = second.view("accounting")
        views["second.stable"] = stable.view("balanceOf", second.address)
    if second_fund is not None:
        views["second.insuranceFund"] = second.view("insuranceFund")
        views["second_fund.collateral"] = second_fund.view("collateral")
        views["second_fund.balance"] = second_fund.view("balance")
    if second_vault is not None:
        views["second_vault.venue"] = second_vault.view("venue")
        views["second_vault.totalAssets"] = second_vault.view("totalAssets")
        views["second_vault.health"] = second.view("accountHealth", second_vault.address)
    if synth is not None and second is not None:
        views["synth.hedgeVenue"] = synth.view("venue")
    if pool is not None:
        views["pool.asset"] = pool.view("asset")
        views["pool.totalAssets"] = pool.view("totalAssets")
        views["pool.cash"] = pool.view("cash")
        views["pool.totalDebt"] = pool.view("totalDebt")
        views["pool.totalBadDebt"] = pool.view("totalBadDebt")
        if vault is not None:
            views["pool.vaultShares"] = vault.view("balanceOf", pool.address)
        if synth is not None:
            views["pool.synth"] = synth.view("balanceOf", pool.address)
        if second_vault is not None:
            views["pool.secondVaultShares"] = second_vault.view("balanceOf", pool.address)
    r = _read(chain, views)
    _check_belongs(r, addresses)

    # the pool's holdings, valued by their issuers' (vault) or the pool's own (synth) views
    second_views: dict[str, View] = {}
    if r.get("pool.vaultShares"):
        second_views["vault.convertToAssets"] = vault.view("convertToAssets", r["pool.vaultShares"])
    if r.get("pool.synth"):
        second_views["pool.synthValue"] = pool.view(
            "collateralValue", synth.address, r["pool.synth"]
        )
    if r.get("pool.secondVaultShares"):
        second_views["second_vault.convertToAssets"] = second_vault.view(
            "convertToAssets", r["pool.secondVaultShares"]
        )
    if second_views:
        r |= _read(chain, second_views)

    G = nx.DiGraph()
    _add_venue(G, r, venue, fund, vault, prefix="", keys=("venue", "fund", "vault"))
    if mm is not None:
        equity_wad = r["mm.health"][0]
        G.add_node(
            "mm_vault",
            type="venue_account",
            address=mm,
            equity_usd=_wad(max(0, equity_wad)),
            external_assets_usd=0.0,
            **_shortfall(-equity_wad),
        )
        _edge(G, "mm_vault", "venue", _wad(max(0, equity_wad)))
    if synth is not None:
        total, spot, idle, hedge_equity, _size = r["synth.backing"]
        supply = r["synth.supply"]
        G.add_node(
            "synthetic_dollar",
            type="synthetic_dollar",
            address=synth.address,
            equity_usd=_wad(max(0, total - supply)),
            external_assets_usd=_wad(spot + idle),
            backing_usd=_wad(total),
            supply_usd=_wad(supply),
            backing_ratio=total / supply if supply else 1.0,
            hedge_equity_usd=_wad(hedge_equity),
            **_shortfall(supply - total),
        )
        hedged_at = "venue"
        if second is not None and to_checksum_address(r["synth.hedgeVenue"]) == second.address:
            hedged_at = "second_venue"
        _edge(G, "synthetic_dollar", hedged_at, _wad(max(0, hedge_equity)))
    if second is not None:
        _add_venue(
            G, r, second, second_fund, second_vault,
            prefix="second_", keys=("second", "second_fund", "second_vault"),
        )  # fmt: skip
    if pool is not None:
        G.add_node(
            "lending_pool",
            type="lending_pool",
            address=pool.address,
            equity_usd=_units(r["pool.totalAssets"]),
            external_assets_usd=_units(r["pool.cash"]),
            debt_usd=_units(r["pool.totalDebt"]),
            bad_debt_usd=_units(r["pool.totalBadDebt"]),
        )
        if "vault.convertToAssets" in r:
            _edge(G, "lending_pool", "backstop_vault", _units(r["vault.convertToAssets"]))
        if "pool.synthValue" in r:
            _edge(G, "lending_pool", "synthetic_dollar", _wad(r["pool.synthValue"]))
        if "second_vault.convertToAssets" in r:
            _edge(
                G,
                "lending_pool",
                "second_backstop_vault",
                _units(r["second_vault.convertToAssets"]),
            )
    return G


def _add_venue(G, r, venue, fund, vault, *, prefix: str, keys: tuple[str, str, str]) -> None:
    """A venue's node, its insurance fund's and its backstop vault's, with their edges (the
    module docstring's rows): ``prefix`` names the nodes (``""``: ``venue``,
    ``insurance_fund``, ``backstop_vault``; ``"second_"``: the second venue's), ``keys`` are
    the prefixes of their reads in ``r`` (venue, fund, vault)."""
    v, f, b = keys
    name = f"{prefix}venue"
    pool_wad = r[f"{v}.accounting"][1]
    G.add_node(
        name,
        type="perp_venue",
        address=venue.address,
        equity_usd=_wad(max(0, pool_wad)),
        external_assets_usd=_units(r[f"{v}.stable"]),
        pool_usd=_wad(pool_wad),
        **_shortfall(-pool_wad),
    )
    if fund is not None:
        balance = _units(r[f"{f}.balance"])
        G.add_node(
            f"{prefix}insurance_fund",
            type="insurance_fund",
            address=fund.address,
            equity_usd=balance,
            external_assets_usd=0.0,
        )
        _edge(G, f"{prefix}insurance_fund", name, balance)
    if vault is not None:
        total_units = r[f"{b}.totalAssets"]
        equity_wad = r[f"{b}.health"][0]
        counted_units = max(0, equity_wad) // (WAD // UNIT)  # as totalAssets counts it
        G.add_node(
            f"{prefix}backstop_vault",
            type="vault",
            address=vault.address,
            equity_usd=_units(total_units),
            external_assets_usd=_units(total_units - counted_units),
            venue_equity_usd=_wad(equity_wad),
        )
        _edge(G, f"{prefix}backstop_vault", name, _wad(max(0, equity_wad)))


def _shortfall(gap: int) -> dict[str, float]:
    """``{"shortfall_usd": gap}`` (WAD -> USD) when liabilities exceed assets, else ``{}``."""
    return {"shortfall_usd": _wad(gap)} if gap > 0 else {}


def _edge(G: nx.DiGraph, holder: str, issuer: str, exposure_usd: float) -> None:
    """A holder -> issuer edge, only for a positive exposure."""
    if exposure_usd > 0:
        G.add_edge(holder, issuer, exposure_usd=exposure_usd)
