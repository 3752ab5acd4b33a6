"""The per-step generators of a stream (:class:`simulator.scenario.randomness.StepStream`, the
oracle's noise on both engines) held to numpy's construction they replace, bit for bit: a
fresh ``default_rng(SeedSequence(entropy, spawn_key=(*key, step)))`` every step (the old form,
:func:`reference_generator`), over thousands of steps and many keys: the seed words, the PCG64
state after seeding, and the draws."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

from simulator.engine.oracle import oracle_model
from simulator.scenario import load_scenario
from simulator.scenario.randomness import (
    StepStream,
    _pcg64_state,
    oracle_step_generator,
    random_streams,
)


def reference_generator(
    seq: np.random.SeedSequence, step: int, prefix: tuple[int, ...] = ()
) -> np.random.Generator:
    """Step ``step``'s generator as the engines built it before :class:`StepStream`."""
    return np.random.default_rng(
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, *prefix, int(step)))
    )


def keys():
    """Seed sequences and prefixes: run seeds of one to five 32-bit words (0 and the 128-bit
    entropy numpy draws from the OS among them), spawn keys of zero to three words (some of
    them several words long), and the flow's ``(1,)`` prefix."""
    rng = np.random.default_rng(20261205)
    yield random_streams(7).oracle, ()
    yield random_streams(0).oracle, ()
    yield np.random.SeedSequence(0), ()
    yield np.random.SeedSequence(), ()
    yield np.random.SeedSequence(2**160 + 12345, spawn_key=(3, 2**40)), (1,)
    yield np.random.SeedSequence([5, 2**33, 0]), (1, 2)
    for _ in range(20):
        entropy = int(rng.integers(0, 2**62)) << int(rng.integers(0, 64))
        spawn = tuple(int(x) for x in rng.integers(0, 2**31, int(rng.integers(0, 4))))
        prefix = tuple(int(x) for x in rng.integers(0, 9, int(rng.integers(0, 3))))
        yield np.random.SeedSequence(entropy, spawn_key=spawn), prefix


#: Steps beyond the first table (2048), at the word's edges, and of two words (numpy's path).
FAR_STEPS = (2047, 2048, 4095, 4096, 10_000, 2**31, 2**32 - 1, 2**32, 2**40 + 3)


def test_the_seed_words_and_the_state_are_numpys_for_every_key_and_step():
    for seq, prefix in keys():
        stream = StepStream(seq, prefix)
        for step in [*range(0, 300), *FAR_STEPS]:
            child = np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, *prefix, step))
            words = stream.seed_words(step)
            assert words == child.generate_state(4, np.uint64).tolist(), (seq, prefix, step)
            state, inc = _pcg64_state(words)
            expected = reference_generator(seq, step, prefix).bit_generator.state
            assert expected["state"] == {"state": state, "inc": inc}
            assert expected["has_uint32"] == 0 and expected["uinteger"] == 0


def test_the_draws_equal_a_fresh_generators_over_thousands_of_steps():
    seq = random_streams(7).oracle
    stream = StepStream(seq)
    for step in [*range(0, 5_000), *FAR_STEPS]:
        shape = (3, 5) if step % 3 else (1 + step % 7, 2)
        want = reference_generator(seq, step).standard_normal(shape)
        assert stream.normal(step, shape).tobytes() == want.tobytes(), step
    # Out of order, and other draws than normals from the step's generator.
    for step in (9_999, 3, 4_000, 3):
        want = reference_generator(seq, step)
        got = stream.generator(step)
        assert got.random(4).tobytes() == want.random(4).tobytes()
        assert got.integers(0, 100, 7).tobytes() == want.integers(0, 100, 7).tobytes()


def test_the_oracle_models_noise_is_the_oracle_step_generators():
    model = oracle_model(load_scenario("oct-2025"))
    assert model.noisy
    for step in range(0, 1_441, 7):
        want = oracle_step_generator(model.stream, step).standard_normal((4, 5))
        assert model.noise.normal(step, (4, 5)).tobytes() == want.tobytes()


def test_a_stream_pickles_and_each_thread_draws_its_own_generator():
    seq = random_streams(3).oracle
    stream = StepStream(seq, (1,))
    copy = pickle.loads(pickle.dumps(stream))
    assert copy.normal(12, (2, 2)).tobytes() == stream.normal(12, (2, 2)).tobytes()
    got: dict[int, np.ndarray] = {}

    def draw(step: int) -> None:
        got[step] = stream.normal(step, (50,))

    threads = [threading.Thread(target=draw, args=(step,)) for step in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for step in range(8):
        want = reference_generator(seq, step, (1,)).standard_normal(50)
        assert got[step].tobytes() == want.tobytes()


def test_a_negative_step_is_refused():
    with pytest.raises(ValueError, match="step"):
        StepStream(random_streams(1).oracle).seed_words(-1)
