"""A trader's top-up deposits no more than its wallet holds (:func:`deposit_units`)."""

from __future__ import annotations

import numpy as np

from simulator.engine.traders import deposit_units
from simulator.units import to_units


def test_a_top_up_of_the_whole_wallet_never_asks_for_more_than_was_minted():
    # The wallet is minted rounded down to the token's 6 decimals; a top-up of what is left of
    # it used to be rounded to the nearest unit: 1742.4333259 USD asked for 1,742,433,326 units
    # against a balance of 1,742,433,325 (ERC20InsufficientBalance, retried every step).
    assert deposit_units(1742.4333259) == 1_742_433_325
    rng = np.random.default_rng(7)
    for wallet in rng.uniform(1, 1e6, 2_000):
        assert deposit_units(wallet) <= to_units(float(wallet))
        assert to_units(float(wallet)) - deposit_units(wallet) <= 1
