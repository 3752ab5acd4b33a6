"""The pieces the order flow's plan of session 28 rests on, each held to the numpy form it
replaced, bit for bit, on drawn inputs: numpy's log of the feed taken row by row (the run's log
table) is its log of the whole window; a Poisson count drawn per (kind, market) of nonzero
intensity, one scalar call each, is ``poisson(lam)`` of the (K, M) array (same counts, same end
state of the generator); :class:`~simulator.scenario.randomness.StepStream`'s vectorized PCG64
seeding is the Python-int form, and its generator without the memory views (numpy's setter)
draws the same; and the whole plan, called at every step of drawn histories, equals its form
before session 28 (``flow_reference.py``; the run's log and return tables filled one row a
step)."""

from __future__ import annotations

import numpy as np
import pytest
from test_flow_plan import compare_step, drawn_case

from simulator.scenario import randomness
from simulator.scenario.randomness import StepStream, _pcg64_state, _pcg64_states, random_streams


def _bits(a):
    return np.asarray(a).view(np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_the_log_of_each_row_is_the_log_of_the_window(seed):
    """``np.log`` of one (M,) row at a time into a table equals ``np.log`` of the (T, M) block
    (what the plan took of its window before), element by element, special values included."""
    rng = np.random.default_rng(seed)
    n_markets = int(rng.choice([1, 2, 5, 7, 9, 17]))
    rows = int(rng.integers(1, 400))
    block = np.exp(rng.normal(0.0, 8.0, (rows, n_markets)))
    block.flat[rng.integers(0, block.size, 5)] = rng.choice(
        [0.0, -1.0, np.nan, np.inf, 5e-324, 1.0, np.finfo(float).max], 5
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.log(block)
        table = np.zeros((2, rows + 3, n_markets))
        first = 0
        while first < rows:  # rows one at a time, sometimes a few at once
            last = min(rows, first + int(rng.choice([1, 1, 1, 2, 5])))
            np.log(block[first:last], out=table[0, first:last])
            first = last
    assert np.array_equal(_bits(table[0, :rows]), _bits(want))


@pytest.mark.parametrize("seed", range(20))
def test_a_poisson_per_active_group_is_numpys_poisson_of_the_array(seed):
    """Scalar draws for the nonzero intensities, in (kind, market) order, are the array's
    counts, and leave the generator where the array's draw leaves it (an intensity of 0 draws
    nothing); large intensities take numpy's other algorithm."""
    rng = np.random.default_rng(seed)
    shape = (5, int(rng.integers(1, 8)))
    lam = rng.choice([0.0, 0.0, 1e-3, 0.3, 2.0, 9.99, 10.0, 40.0, 1e4], shape) * rng.uniform(
        0.5, 1.5, shape
    )
    if seed % 4 == 0:
        lam[:] = 0.0
    want_gen = np.random.default_rng(seed + 1000)
    got_gen = np.random.default_rng(seed + 1000)
    want = want_gen.poisson(lam)
    got = np.zeros(lam.size, dtype=np.int64)
    active = np.flatnonzero(lam)
    for i, value in zip(active.tolist(), lam.ravel()[active].tolist(), strict=True):
        got[i] = got_gen.poisson(value)
    assert np.array_equal(got.reshape(shape), want)
    assert got_gen.bit_generator.state == want_gen.bit_generator.state
    assert got_gen.random(3).tobytes() == want_gen.random(3).tobytes()


def test_the_vectorized_pcg64_seeding_is_the_python_ints():
    """:func:`_pcg64_states` (128-bit arithmetic on uint64 word pairs) equals
    :func:`_pcg64_state` on every row: drawn words, all ones, zeros, carries at every word."""
    rng = np.random.default_rng(5)
    words = rng.integers(0, 2**64, (4000, 4), dtype=np.uint64, endpoint=False)
    edges = [[2**64 - 1] * 4, [0] * 4, [2**63, 2**64 - 1, 2**63, 2**64 - 1], [1, 0, 0, 2**63]]
    words = np.concatenate([words, np.array(edges, dtype=np.uint64)])
    got = _pcg64_states(words)
    mask = 2**64 - 1
    for row, out in zip(words.tolist(), got.tolist(), strict=True):
        state, inc = _pcg64_state(row)
        assert out == [state & mask, state >> 64, inc & mask, inc >> 64]


def test_the_stream_without_the_state_views_draws_the_same(monkeypatch):
    """Where the probe finds no usable layout, the generator is set through numpy's setter:
    the same draws and state as numpy's construction, step after step and out of order."""
    monkeypatch.setattr(randomness, "_state_words", lambda bit_generator: (None, None))
    seq = random_streams(11).oracle
    stream = StepStream(seq, (1,))
    for step in [0, 1, 2, 2047, 2048, 5, 10**6, 2**32 + 1, 3]:
        want = np.random.default_rng(
            np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 1, step))
        )
        got = stream.generator(step)
        assert got.bit_generator.state == want.bit_generator.state
        assert got.integers(0, 100, 5).tobytes() == want.integers(0, 100, 5).tobytes()
        assert got.random(4).tobytes() == want.random(4).tobytes()
        assert got.bit_generator.state == want.bit_generator.state


def test_the_state_views_are_the_generators_state():
    """The views the probe returns are the bit generator's own state: a state written into
    them is the one numpy's getter reads, and the next draws are that state's."""
    gen = np.random.Generator(np.random.PCG64(0))
    words, flags = randomness._state_words(gen.bit_generator)
    assert words is not None and flags is not None
    other = np.random.Generator(np.random.PCG64(12345))
    other.integers(0, 10, 3)  # a 32-bit draw buffered: has_uint32 set
    state = other.bit_generator.state
    s, inc = state["state"]["state"], state["state"]["inc"]
    words[:] = [s & (2**64 - 1), s >> 64, inc & (2**64 - 1), inc >> 64]
    flags[:] = [state["has_uint32"], state["uinteger"]]
    assert gen.bit_generator.state == state
    assert gen.random(5).tobytes() == other.random(5).tobytes()


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_the_plan_at_every_step_equals_its_form_before(shared, seed):
    """The plan called step after step (its log table filled a row a step, the returns from
    the rows before) equals the form before session 28 at every step of a drawn history (but
    a step whose own price is bad, which sends no order either form could size)."""
    ctx, s, run, n_hist, levels = drawn_case(seed, shared)
    feed = s.feed_prices_usd
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(min(n_hist, 60)):
            if np.isfinite(feed[t]).all() and (feed[t] > 0).all():
                compare_step(ctx, s, t, levels, run)


@pytest.mark.parametrize("seed", range(4))
def test_a_new_feed_array_is_logged_anew(seed):
    """A state whose feed prices are another array (a resumed run's, or here other prices)
    is planned from that array's logs, not from the rows the run logged before: the run's log
    table is numpy's log of the new array, and the plan the form before's."""
    ctx, s, run, n_hist, levels = drawn_case(2 * seed, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        compare_step(ctx, s, n_hist - 1, levels, run)
        rng = np.random.default_rng(seed)
        s.feed_prices_usd = s.feed_prices_usd * np.exp(
            0.05 * rng.standard_normal(s.feed_prices_usd.shape)
        )
        compare_step(ctx, s, n_hist - 1, levels, run)
        want = np.log(s.feed_prices_usd)
    assert np.array_equal(_bits(run.tables.logs[0, :n_hist]), _bits(want))
