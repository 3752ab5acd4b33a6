"""The mirror engine: a scenario run on the venue's contract math in numpy instead of a chain
(issue 12 item 1; ``perpsim run --engine mirror``).

Modules, one per phase, mirroring :mod:`simulator.engine`:

- :mod:`~simulator.mirror.sim.venue` -- the venue's stored state (price push, deposit, views),
  with its calls in :mod:`~simulator.mirror.sim.venue_trades`,
  :mod:`~simulator.mirror.sim.venue_liquidations` (deficits, socialized loss, the contracts
  queue) and :mod:`~simulator.mirror.sim.venue_adl`; :mod:`~simulator.mirror.sim.calls` (a
  revert, a liquidation's record); :mod:`~simulator.mirror.sim.scalar` (fast mode's
  one-account calls in plain floats);
- :mod:`~simulator.mirror.sim.opening` -- the world: the venue listed, the accounts funded,
  the opening book traded, as :func:`simulator.world.build_world` on chain;
- :mod:`~simulator.mirror.sim.oracle` -- the price pushes (with the spot AMM's feedback);
- :mod:`~simulator.mirror.sim.spot` -- the spot AMMs, the arbitrageurs' and the hedger's swaps
  (phase 3b); :mod:`~simulator.mirror.sim.lps` -- LP withdrawals from the AMMs;
- :mod:`~simulator.mirror.sim.controls` -- the circuit breaker (the oracles' TWAPs, the
  venue's ``checkBreaker``) and the dynamic margin controller's ``pokeMany``;
- :mod:`~simulator.mirror.sim.traders` -- the traders' closes and top-ups;
- :mod:`~simulator.mirror.sim.flow` -- the order flow's opens and closes (``order_flow:``);
- :mod:`~simulator.mirror.sim.mm_vault` -- the market-making vault's funding, quotes,
  liquidation and reads (``mm_vault:``);
- :mod:`~simulator.mirror.sim.planned` -- the engine's planned venue calls recorded
  (``ctx.venue.venue`` on the mirror) and run on the venue, with what the engine's decoders
  read of them;
- :mod:`~simulator.mirror.sim.keepers` -- the keepers' plan, the liquidations, their events;
- :mod:`~simulator.mirror.sim.adl` -- the ADL keeper's plan and calls;
- :mod:`~simulator.mirror.sim.levels` -- the levels and health reads the agents see;
- :mod:`~simulator.mirror.sim.loop` -- :class:`MirrorEngine`, the step loop;
- :mod:`~simulator.mirror.sim.features` -- what is mirrored and the refusal of the rest.

The agents are the chain engine's (:mod:`simulator.agents`, the engine's keepers' watch list
and traders' view): same scenario and seed, same book, prices and decisions.
"""

from simulator.mirror.sim.features import NotMirrored, check_mirrored, unmirrored_features
from simulator.mirror.sim.loop import MODES, MirrorEngine

__all__ = ["MODES", "MirrorEngine", "NotMirrored", "check_mirrored", "unmirrored_features"]
