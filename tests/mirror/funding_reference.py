"""The fast mode's funding at now as it was before session 27 (:func:`old_funding_now`), and
drawn WAD floats: the reference the funding tests hold the venue's compiled forms to
(``test_mirror_funding_now.py``, ``test_mirror_funding_rows.py``)."""

from __future__ import annotations

import numpy as np

from simulator.mirror.fixed import DAY, WAD
from simulator.mirror.sim.scalar import FundingParams


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else (hi if x > hi else x)


def old_funding_now(fp: FundingParams, skew, rate, long_index, short_index, price, dt):
    """``scalar.funding_now`` as it was before session 27: the plain-float loop over lists
    that session 27's ``funding_now`` and session 28's ``funding_rows`` replaced."""
    out_long, out_short, out_rate = [], [], []
    day_wad = float(DAY * WAD)
    for m in range(len(fp.model)):
        if dt[m] == 0:
            out_long.append(long_index[m])
            out_short.append(short_index[m])
            out_rate.append(rate[m])
            continue
        scale = fp.skew_scale[m]
        p = 0.0 if scale == 0 else clamp(skew[m] * WAD / scale, -WAD, WAD)
        if fp.model[m] == 0:
            new = rate[m] + p * fp.max_velocity[m] * dt[m] / float(WAD * DAY)
        else:
            new = 3 * (p + clamp(fp.interest[m] - p, -fp.band[m], fp.band[m]))
        cap = fp.cap[m]
        if cap != 0:
            new = clamp(new, -cap, cap)
        average = (rate[m] + new) / 2 if fp.model[m] == 0 else new
        x = average * dt[m]
        out_long.append(long_index[m] + x * price[m] / day_wad)
        out_short.append(short_index[m] + (-x) * price[m] / day_wad)
        out_rate.append(new)
    return out_long, out_short, out_rate


def drawn_wads(rng: np.random.Generator, m: int, special: float = 0.1) -> np.ndarray:
    """WAD floats of both signs and many magnitudes; with probability ``special`` a zero of
    either sign, NaN or an infinity."""
    x = rng.normal(0, 1, m) * 10.0 ** rng.integers(12, 26, m)
    pick = rng.random(m) < special
    x[pick] = rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf], int(pick.sum()))
    return x
