"""The traders' pass skips the stream over a step's draws with ``advance`` only when the
agents' PCG64 holds no buffered 32-bit draw (``advance`` would drop it). The flag is read
through a view of the bit generator's memory (:func:`simulator.engine.traders._buffered`),
not numpy's state getter: held here to the getter, draw by draw, across generators."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.engine import traders


def test_the_flag_is_the_state_getters_draw_by_draw():
    rng = np.random.default_rng(7)
    ctx = SimpleNamespace(memo={}, rng=rng)
    seen = set()
    for k in range(60):
        if k % 3 == 0:
            rng.integers(0, 10, dtype=np.int32)  # a 32-bit draw: buffers or spends half a word
        elif k % 3 == 1:
            rng.random()  # a double: the buffered half kept
        want = rng.bit_generator.state["has_uint32"]
        assert traders._buffered(ctx, rng.bit_generator) == want
        seen.add(want)
    assert seen == {0, 1}
    view = ctx.memo[traders._BUFFERED][1]
    assert view is not None  # numpy's layout: the view, not the getter


def test_the_view_follows_the_generator():
    """Another generator (a run's memo reused): its own flag, not the last one's."""
    a, b = np.random.default_rng(1), np.random.default_rng(2)
    a.integers(0, 10, dtype=np.int32)  # a buffers a half word, b does not
    ctx = SimpleNamespace(memo={}, rng=a)
    assert traders._buffered(ctx, a.bit_generator) == 1
    assert traders._buffered(ctx, b.bit_generator) == 0
    assert ctx.memo[traders._BUFFERED][0] is b.bit_generator
    assert traders._buffered(ctx, a.bit_generator) == 1


def test_without_a_memo_the_flag_is_read_each_call():
    rng = np.random.default_rng(3)
    ctx = SimpleNamespace(rng=rng)
    assert traders._buffered(ctx, rng.bit_generator) == 0
    rng.integers(0, 10, dtype=np.int32)
    assert traders._buffered(ctx, rng.bit_generator) == 1
