"""Agents as numpy arrays, one row per agent, decided by vectorized kernels.

* :mod:`~simulator.agents.traders` -- leveraged traders: take profit, stop loss, top up, panic;
* :mod:`~simulator.agents.keepers` -- liquidations, backstop takeovers and ADL, with capacity,
  reaction delay and a profit threshold;
* :mod:`~simulator.agents.liquidity` -- arbitrageurs pulling the spot AMM toward the exogenous
  price, the pool's hedger whose trades carry forced selling into the AMM, LPs who withdraw.

Every kernel has a small pure-Python reference beside it, tested to agree.
"""
