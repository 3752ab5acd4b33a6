"""numpy's PCG64 draws compiled (``simulator.agents.flow_jit``: ``next_uint64``,
``next_double``, ``poisson``, ``uniform_at``, ``skip_draws``) on a generator's state in memory
(``StepStream.draw_state``'s views) are numpy's own, bit for bit, and leave the generator's
state where numpy's draws leave it: doubles, Poisson counts over the means the flow draws
(0, tiny, around the method's switch at 10, large), doubles far ahead without the ones
between, skips (``PCG64.advance``)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from simulator.agents import flow_jit
from simulator.agents.flow import step_generators, step_rng
from simulator.scenario.randomness import StepStream, _state_words


@numba.njit
def _poissons(words, lams, out):
    for i in range(len(lams)):
        out[i] = flow_jit.poisson(words, lams[i])


@numba.njit
def _doubles(words, out):
    for i in range(len(out)):
        out[i] = flow_jit.next_double(words)


def pair(seed: int):
    """A numpy generator and a second one whose state the kernels draw from through its
    memory views, both at the state of ``PCG64(seed)``."""
    want = np.random.Generator(np.random.PCG64(seed))
    got = np.random.Generator(np.random.PCG64(seed + 1))
    words, flags = _state_words(got.bit_generator)
    assert words is not None  # this machine's layout: the kernels' path
    got.bit_generator.state = want.bit_generator.state
    return want, got, words


def means(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([
        [0.0, 5e-324, 1e-300, 1e-3, 0.5, 1.0, 9.999999999, 10.0, 10.000000001, 1e6, 1e12],
        rng.uniform(0.0, 40.0, 20_000), rng.lognormal(0.0, 4.0, 5_000),
    ])  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_poisson_counts_and_doubles_are_numpys(seed):
    want, got, words = pair(seed)
    lams = means(np.random.default_rng(seed))
    expected = np.array([want.poisson(lam) for lam in lams.tolist()])
    counts = np.empty(len(lams), dtype=np.int64)
    _poissons(words, lams, counts)
    assert np.array_equal(counts, expected)
    assert got.bit_generator.state == want.bit_generator.state
    doubles = np.empty(7_001)
    _doubles(words, doubles)
    assert doubles.tobytes() == want.random(7_001).tobytes()
    assert got.bit_generator.state == want.bit_generator.state


@pytest.mark.parametrize("seed", range(4))
def test_doubles_far_ahead_and_skips_are_numpys(seed):
    """``uniform_at`` draws numpy's ``target``-th double of a ``random(out=)`` without the
    ones between (gaps below and above the stepping threshold); ``skip_draws`` is
    ``PCG64.advance``."""
    rng = np.random.default_rng(100 + seed)
    want, got, words = pair(seed)
    pos = 0
    for _ in range(200):
        target = pos + int(rng.choice([0, 1, 5, 23, 24, 25, 300, 5_000]))
        block = want.random(target - pos + 1)
        assert flow_jit.uniform_at(words, pos, target) == block[-1]
        assert got.bit_generator.state == want.bit_generator.state
        pos = target + 1
    for n in (0, 1, 23, 24, 1_000, 5_200, 2**40 + 3):
        want.bit_generator.advance(n)
        flow_jit.skip_draws(words, n)
        assert got.bit_generator.state == want.bit_generator.state


def test_draw_state_sets_a_steps_generator_as_generator_does():
    """``StepStream.draw_state``: row ``t`` of its states into the thread generator's words
    (flags cleared) is step ``t``'s generator (``step_rng``), a far step beyond the table
    (no row), the generator's state untouched by the call."""
    stream = np.random.default_rng(11)
    steps = step_generators(stream)
    gen = steps.generator(3)
    gen.random(3)  # a drawn state, and a half-used 32-bit draw
    gen.integers(0, 2**31, dtype=np.uint32)
    before = gen.bit_generator.state
    states, words, flags = steps.draw_state(5)
    assert gen.bit_generator.state == before and len(states) > 5
    for t in (0, 5, 1_000):
        words[:] = states[t]
        flags[:] = 0
        assert gen.bit_generator.state == step_rng(stream, t).bit_generator.state
    far = StepStream(np.random.SeedSequence(5), (1,))
    assert len(far.draw_state(10**6)[0]) <= 10**6  # beyond the table: numpy's path then
