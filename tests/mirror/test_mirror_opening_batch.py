"""The mirror setup's opening trades in compiled batches (:func:`simulator.mirror.sim.opening.
_open_fast`) against the one-by-one loop they replaced (kept here, :func:`_old_open_fast`), and
:func:`~simulator.mirror.sim.opening.wad_sizes` against ``float(to_wad(round(s, 12)))`` per
value: the same world and the same venue state to the bit, on books with isolated rows, opens
the venue refuses (too little margin, an open-interest cap) and opens spread over several gas
blocks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.mirror import bench_scenario
from simulator.mirror.sim import opening
from simulator.mirror.sim.opening import _from_wad, mirror_world, wad_sizes
from simulator.mirror.sim.venue import Reverted
from simulator.protocol.venue_contracts import PerpVenue
from simulator.runner import run_node_config
from simulator.units import to_wad
from simulator.world import world_inputs


def _old_wad_size(s: float) -> float:
    """The per-value form: the delta the loop sent, as fast mode's float."""
    return float(to_wad(round(float(s), 12)))


def _old_open_fast(venue, book, rows, blocks, opens_at, row_units):
    """The opening loop before session 28 (fast mode): each row's ``trade`` or
    ``tradeIsolated`` one by one, in its gas block; the recorded fields per opened row."""
    done = np.zeros((len(rows), opening.jit_calls.N_BATCH_OUT))
    ok = np.zeros(len(rows), dtype=bool)
    reverts: dict[int, str] = {}
    side = book.side.astype(np.int64)
    block = -1
    for k, r in enumerate(rows):
        if blocks[k] != block:
            block = int(blocks[k])
            venue.begin_block(opens_at + block)
        a, m = int(book.account[r]), int(book.market[r])
        delta = int(side[r]) * to_wad(round(float(book.size_base[r]), 12))
        try:
            if book.isolated[r]:
                margin = int(row_units[r]) * 10**12
                got = venue.trade(a, m, float(delta), isolated=True, margin_delta=float(margin))
            else:
                got = venue.trade(a, m, float(delta), isolated=False)
        except Reverted as exc:
            reverts[int(r)] = str(exc)
            continue
        ok[k] = True
        for column, key in zip(opening._OPEN_COLUMNS, ("fill", "new_size", "entry", "fee"),
                               strict=True):  # fmt: skip
            done[k, column] = _from_wad(got[key])
    return done[ok], rows[ok], reverts


def _inputs(traders: int, seed: int, refuse: bool):
    """A random book of ``traders`` accounts (isolated and cross rows); with ``refuse``, some
    rows made too large for their margin and one market's open-interest cap reached."""
    scenario = bench_scenario(None, [f"traders.count={traders}", f"seed={seed}"], None, None)
    inputs = world_inputs(scenario)
    if not refuse:
        return scenario, inputs
    rng = np.random.default_rng(seed)
    book = inputs.book
    size = book.size_base.copy()
    size[rng.random(book.count) < 0.1] *= 400.0  # far beyond the margin: InsufficientMargin
    big = np.flatnonzero(book.market == 1)[:3]
    size[big] = 3e6  # beyond the cap of 2.5M (within the skew scale): OpenInterestCapExceeded
    return scenario, dataclasses.replace(inputs, book=dataclasses.replace(book, size_base=size))


def _plain(value):
    """``value`` comparable with ``==``: arrays as (dtype, shape, bytes), containers item by
    item, other objects (the scenario, the breaker) left out."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return ("object", value.shape, [_plain(v) for v in value.ravel().tolist()])
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, int | float | str | bool | type(None) | np.generic):
        return value
    return None


def _state(venue) -> dict:
    """Every value of the venue's state (not the compiled calls' scratch outputs, which
    :meth:`~simulator.mirror.sim.venue.VenueState.jit_buffers` caches with the packed
    parameters, derived from ``scalar_params``)."""
    return {key: _plain(value) for key, value in vars(venue).items() if key != "_jit_cache"}


def _world(mw) -> dict:
    return {f.name: _plain(getattr(mw.world, f.name)) for f in dataclasses.fields(mw.world)}


@pytest.mark.parametrize(
    ("traders", "seed", "refuse", "gas_limit"),
    [
        (300, 1, False, None),
        (300, 2, True, None),
        (200, 3, True, 3_000_000),
        (120, 4, False, 1_000_000),
    ],  # fmt: skip
)
def test_batched_opens_equal_one_by_one(monkeypatch, traders, seed, refuse, gas_limit) -> None:
    scenario, inputs = _inputs(traders, seed, refuse)
    if gas_limit is not None:  # the opens spread over several blocks
        config = dataclasses.replace(run_node_config(), block_gas_limit=gas_limit)
        monkeypatch.setattr(opening, "run_node_config", lambda: config)
    new = mirror_world(scenario, exact_mode=False, inputs=inputs)
    with monkeypatch.context() as m:
        m.setattr(opening, "_open_fast", _old_open_fast)
        old = mirror_world(scenario, exact_mode=False, inputs=inputs)
    assert _world(new) == _world(old)
    assert _state(new.venue) == _state(old.venue)
    assert new.opens_at_s == old.opens_at_s
    w = new.world
    assert w.book.isolated[w.opened].any() and (~w.book.isolated[w.opened]).any()
    if refuse:
        assert w.open_reverts and not w.opened[~w.book.start_flat].all()
        texts = " ".join(w.open_reverts.values())
        assert "InsufficientMargin" in texts and "OpenInterestCapExceeded" in texts
    assert new.venue.block == old.venue.block
    if gas_limit is not None:
        rows = ~w.book.start_flat
        gas = np.where(
            w.book.isolated[rows], PerpVenue.GAS["tradeIsolated"], PerpVenue.GAS["trade"]
        )
        assert opening.gas_blocks(gas, gas_limit)[-1] >= 2


def _draws(rng: np.random.Generator) -> np.ndarray:
    n = rng.integers(0, 4_000_000_000_000_000, 20_000)
    ties = (n + 0.5) / 1e12  # (near) half-way between two 12-decimals
    small = (rng.integers(0, 5_000, 5_000) + 0.5) / 1e12
    exact_ties = (2 * rng.integers(0, 2**24, 5_000) + 1) / 8192  # s * 1e12 = odd * 5**12 / 2
    return np.concatenate([
        rng.lognormal(0.0, 5.0, 20_000), rng.uniform(0.0, 4096.0, 10_000),
        rng.uniform(4000.0, 9000.0, 3_000), ties, np.nextafter(ties, np.inf),
        np.nextafter(ties, -np.inf), n / 1e12, small, np.nextafter(small, 0.0), exact_ties,
        np.nextafter(exact_ties, 0.0),
        -rng.lognormal(0.0, 3.0, 2_000),
        [0.0, -0.0, 4096.0, np.nextafter(4096.0, 0.0), 1e-5, 3e-13, 5e-13, 1.5e-12, 2.5e-12,
         1e12, 6_677_632.036694235],
    ])  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_wad_sizes_equal_per_value(seed: int) -> None:
    x = _draws(np.random.default_rng(seed))
    want = np.array([_old_wad_size(v) for v in x])
    assert wad_sizes(x).tobytes() == want.tobytes()
    assert wad_sizes(x[:1]).tobytes() == want[:1].tobytes()
    assert wad_sizes(np.zeros(0)).shape == (0,)


def test_wad_sizes_refuse_what_to_wad_refuses() -> None:
    for bad in (np.nan, np.inf):
        with pytest.raises(Exception) as expected:
            _old_wad_size(bad)
        with pytest.raises(expected.type):
            wad_sizes(np.array([1.0, bad]))
