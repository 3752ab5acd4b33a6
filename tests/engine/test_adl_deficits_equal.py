"""The deficits the ADL keeper acts on (:func:`simulator.engine.adl.called_deficits`, a market
without bad debt skipped first) held to the form they replaced (the list in ``_jobs``, session
25) on drawn ledgers and policies."""

from __future__ import annotations

import numpy as np

from simulator.engine.adl import CALLED_POLICIES, called_deficits, outstanding

POLICIES = (*CALLED_POLICIES, "socialized", "none")
FIELDS = ("badDebtLongs", "badDebtShorts", "adlContractsLongs", "adlContractsShorts",
          "finalBadDebtLongs", "finalBadDebtShorts")  # fmt: skip


def old_deficits(policies, ledgers):
    return [
        (m, longs_bankrupt)
        for m, ledger in enumerate(ledgers)
        if policies[m] in CALLED_POLICIES
        for longs_bankrupt in (True, False)
        if outstanding(ledger, policies[m], longs_bankrupt)
    ]


def test_called_deficits_equal_the_old_form():
    rng = np.random.default_rng(26)
    for _ in range(5_000):
        m = int(rng.integers(0, 7))
        policies = [str(p) for p in rng.choice(POLICIES, m)]
        ledgers = [
            {k: int(rng.choice([0, 0, 0, 1, 10**18, 3 * 10**25])) for k in FIELDS} for _ in range(m)
        ]
        assert called_deficits(policies, ledgers) == old_deficits(policies, ledgers)
