"""The flow's per-step generators without a SeedSequence per step
(``simulator.scenario.randomness.StepStream``, ``simulator.agents.flow.step_generators``)
draw what numpy's own construction draws (below, :func:`step_rng_reference`: ``step_rng`` as
it was written before session 27), step for step: the generator's state, its draws, and the
state it ends in, over thousands of steps (more than one block), at steps far into a run, for
seeds of one word and of several, spawn keys of any length, and prefixes."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.agents import flow
from simulator.scenario.randomness import _FIRST_STEPS as STEP_BLOCK
from simulator.scenario.randomness import StepStream, random_streams


def step_rng_reference(flow_stream: np.random.Generator, t: int) -> np.random.Generator:
    """Step ``t``'s generator: child ``(1, t)`` of the flow stream's seed sequence."""
    seq = flow_stream.bit_generator.seed_seq
    return np.random.default_rng(
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 1, int(t)))
    )


def _same(fast: np.random.Generator, want: np.random.Generator) -> None:
    """Same state, same draws of the flow's kinds (Poisson counts, uniforms), same end."""
    assert fast.bit_generator.state == want.bit_generator.state
    lam = np.array([[0.0, 0.4, 3.0], [12.0, 0.0, 0.7]])
    assert np.array_equal(fast.poisson(lam), want.poisson(lam))
    assert np.array_equal(fast.random((4, 7)), want.random((4, 7)))
    assert fast.bit_generator.state == want.bit_generator.state


def test_flow_stream_every_step_of_a_run():
    """The scenario's flow stream (child 4 of the seed), steps 0 .. 2.5 times the steps the stream derives at first (it derives more as a run goes): each step's
    generator is numpy's child ``(1, t)``."""
    stream = random_streams(7).flow
    steps = flow.step_generators(stream)
    for t in range(int(2.5 * STEP_BLOCK)):
        _same(steps.generator(t), step_rng_reference(stream, t))
    assert np.array_equal(
        flow.step_rng(stream, 99).random(5), step_rng_reference(stream, 99).random(5)
    )


@pytest.mark.parametrize(
    "entropy, spawn_key, prefix",
    [
        (0, (), (1,)),
        (2**32 - 1, (4,), (1,)),
        (2**32, (), ()),  # two words
        (2**127 + 12345, (0, 2**33), (7, 0)),  # four words, a two-word key
        (3 * 2**160 + 5, (1,), (2,)),  # more words than the pool
        ([5, 2**40, 0], (2, 3), (1,)),  # a sequence of ints
        (np.array([9, 8], dtype=np.uint32), (), (1,)),
    ],
)
def test_any_seed_sequence(entropy, spawn_key, prefix):
    """Any entropy and spawn key: the children ``(*prefix, t)`` at steps in, across and far
    past the first block, asked in any order (a resumed run starts where it resumes)."""
    seq = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    fast = StepStream(seq, prefix)
    for t in [5000, 0, 1, 2, STEP_BLOCK - 1, STEP_BLOCK, 3, 10**6, 2**31 + 17, 2**32 - 1]:
        want = np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, *prefix, t))
        _same(fast.generator(t), np.random.default_rng(want))


def test_one_generator_reset_each_step():
    """The generator is one object, reset at each step: drawing from step ``t`` does not move
    step ``t + 1``'s draws (or ``t``'s, asked again)."""
    stream = np.random.default_rng(11)
    steps = flow.step_generators(stream)
    g = steps.generator(3)
    g.random(1000)
    assert steps.generator(4) is g
    _same(steps.generator(4), step_rng_reference(stream, 4))
    _same(steps.generator(3), step_rng_reference(stream, 3))


def test_negative_step_is_numpys_error():
    """A negative step is refused as numpy's SeedSequence refuses it."""
    steps = flow.step_generators(np.random.default_rng(1))
    with pytest.raises(ValueError):
        steps.generator(-1)
