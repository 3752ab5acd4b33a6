"""The spot market around the perp: arbitrageurs, the pool's hedger, and LPs.

The oracle reads the constant-product spot AMM (when feedback is on). Three agents trade it:

* **arbitrageurs** pull its price toward the exogenous (outside) price with limited capital:
  each may trade at most ``max_trade_fraction × capital_usd`` per block and only what it holds;
  they do not trade inside the fee band, where there is no profit;
* the **hedger** keeps the perp pool delta-neutral: the pool is the counterparty of the traders'
  net position, so when longs are closed or liquidated, the pool's short shrinks and the hedger
  sells the matching base on the AMM. This is how forced selling moves the price the oracle
  reads next block (the cascade's feedback loop);
* **LPs** withdraw a share of the AMM's liquidity and of the backstop vault once the price has
  fallen far enough from its peak.

Sizes are floats in USD and base units; the engine converts to the chain's integers. The
rules run compiled, every market's in one call a step
(:func:`simulator.engine.jit_spot.plan_step`); their per-call Python forms (``swap_to_target``,
``arbitrage``, ``hedge``) are the reference its tests hold it to
(``tests/agents/liquidity_reference.py``). The swaps themselves run with the pools' exact
integers, on chain or in :mod:`simulator.mirror.jit_amm`.
"""

from __future__ import annotations

#: Relative change of the hedged position (fraction) below which the hedger does not trade.
HEDGE_DUST_FRACTION = 1e-9
