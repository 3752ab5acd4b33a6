"""The mirror: the venue's contract math in numpy (issue 12, started).

Kernels, one concept per module, vectorized over accounts / positions / markets (and price
paths by broadcasting), each in two modes (:mod:`simulator.mirror.fixed`): exact (object
arrays of Python ints, equal to the chain to the wei) and fast (float64, within ~1e-12
relative):

* :mod:`~simulator.mirror.margins`: tiered initial and maintenance margin, OI-scaled IM;
* :mod:`~simulator.mirror.funding`: velocity and premium funding, index accrual, funding owed;
* :mod:`~simulator.mirror.fills`: PnL, fills with skew impact, liquidation fill, fees;
* :mod:`~simulator.mirror.health`: cross and isolated health, the liquidatable mask;
* :mod:`~simulator.mirror.liqprice`: liquidation prices (cross with the others fixed, isolated);
* :mod:`~simulator.mirror.liquidation`: cross and isolated liquidations (partial share and
  marks, per-block cap, penalty and its split, deficit attribution, the fund's cover, bad debt);
* :mod:`~simulator.mirror.adl`: the loss waterfall of a deficit (socialized loss, the ADL
  price and queued contracts, bad debt), the ADL ranking and every ADL policy (whole-profit
  queue, contracts queue at the bankruptcy price or the previous mark, pro rata): haircuts,
  overshoot, contracts and notional closed;
* :mod:`~simulator.mirror.amm`: the spot AMM's constant-product swaps with the input fee,
  sequences of swaps, spot price, liquidity added and removed;
* :mod:`~simulator.mirror.backstop`: the backstop threshold, the vault's takeover of a whole
  cross account, the manager's unwind trades, the vault's total assets and share price;
* :mod:`~simulator.mirror.controls`: the oracle TWAP and the circuit breaker (which trades it
  refuses), the dynamic margin controller (EWMA volatility, time-averaged skew, target scale);
* :mod:`~simulator.mirror.reference`: the line-by-line plain-integer reference of each;
  ``reference_<name>`` beside the later modules (``reference_adl``...);
* :mod:`~simulator.mirror.bench`: the kernels' throughput (``python -m simulator.mirror.bench``).

Per-market inputs are :class:`~simulator.mirror.markets.MarketArrays` and
:class:`~simulator.mirror.markets.MarketState`; accounts a :class:`~simulator.mirror.health.Book`.
"""
