"""What the mirror engine models of a scenario, and the refusal of what it does not.

Mirrored: the venue's markets with every parameter the liquidation path reads (margin tiers,
OI-scaled initial margin, both funding models with their caps, skew-impact fills, taker fees
and their insurance share, OI caps, partial liquidation with its threshold, share, cooldown and
per-block cap, penalties and their keeper / fund split, liquidation impact band), the oracle
(pushes with its deviation limit, the scenario's oracle faults), the opening book (random or
explicit, cross and isolated, as the world opens it: deposits, then every trade in book order
with the venue's checks), the traders' closes and top-ups, the exogenous price paths, keepers
(watch list, confirmation reads, reaction delay, capacity, profit threshold, round robin),
cross and isolated liquidations, the insurance fund (fees, penalties, deficit cover) and what
it leaves: bad debt (ADL policy ``none``), the loss charged to the open interest through the
funding indices (``socialized``), or the ADL keeper's calls (``profit_queue``, ``pro_rata``,
``contracts_queue`` at the bankruptcy price or the previous mark), the counterparty pool, the
order of an account's open markets, and an oracle's ``maxAge`` (a stale price refuses trades,
liquidations and ADL), a scheduled parameter change (through the timelock or the guardian),
the circuit breaker (``circuitBreakerBandBps``: trades that add risk refused, and liquidations
with ``liquidationsHaltOnBreaker``, against the oracle's TWAP) and the dynamic margin controller
(``controls.dynamic_margin``: one ``pokeMany`` after the oracle pushes of every step), see
:mod:`~simulator.mirror.sim.controls`; the spot AMMs (reserves and fees to the unit, the
arbitrageurs' and the hedger's swaps and tokens, :mod:`~simulator.mirror.sim.spot`), oracle
``feedback`` (``controls.feedback: true``: the lower weighted median of the outside venues,
with the hedger's square-root impact carried, and the spot AMM's price), LP withdrawals from
the AMMs (``lps.withdraw_on_drawdown``, :mod:`~simulator.mirror.sim.lps`), the order flow
(``order_flow:``, arriving traders: flow slots, Poisson arrivals, take-profit / stop-loss /
holding-time closes, cooldowns; :mod:`~simulator.mirror.sim.flow`), and the market-making vault
(``mm_vault:``: its quotes with their price bounds, the keepers' liquidation of it, ADL ranking
it; :mod:`~simulator.mirror.sim.mm_vault`).

Refused (:func:`check_mirrored`: one line naming the feature, before anything runs): the
contagion ``world:``.

The backstop vault (``controls.backstop_vault_usd > 0``) is mirrored: its account and shares,
the keepers' takeovers (of the market-making vault too), its place in the ADL ranking, its unwind after ADL and its LPs'
withdrawal (``lps.applies_to: backstop|both``), see :mod:`~simulator.mirror.sim.backstop`.
"""

from __future__ import annotations

from simulator.errors import PerpsimError
from simulator.scenario import Scenario


class NotMirrored(PerpsimError):
    """A scenario feature the mirror engine does not model (yet)."""


def unmirrored_features(scenario: Scenario) -> list[str]:
    """The features of ``scenario`` the mirror does not model, each named as the scenario
    writes it (empty: the mirror runs it)."""
    out: list[str] = []
    if scenario.world is not None:
        out.append("world: (the contagion world)")
    return out


def check_mirrored(scenario: Scenario) -> None:
    """Raise :class:`NotMirrored` naming the first feature of ``scenario`` the mirror does
    not model."""
    missing = unmirrored_features(scenario)
    if missing:
        more = (
            f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        )
        raise NotMirrored(
            f"scenario {scenario.name}: the mirror engine does not model {missing[0]}{more}; "
            "run it with --engine chain"
        )
