"""A fast venue's block start (:meth:`~simulator.mirror.sim.venue.VenueState.begin_block`,
session 30): its packed-view test by identity (the packed arrays and their views read at once
and compared with the objects the last block's full test passed) held to the form it replaces
(:func:`old_begin_block`, the full test every block) on drawn rebinds: a view or a packed
array replaced by a copy, after blocks that passed, on copies, pickles and deep copies of a
venue (each made again and tested in full), the same refusal (its message) or none."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from mirror_run_helpers import parse

from simulator.mirror.sim import MirrorEngine, jit_calls


def old_begin_block(venue, now: int) -> None:
    """``begin_block`` as it was (the old form): every packed attribute's base tested by
    subscripts, every block."""
    venue.block += 1
    venue.now = now
    if not venue.exact_mode:
        d = venue.__dict__
        for packed, names, _ in jit_calls.PACKED:
            rows = d[packed]
            for k in names:
                if d[k].base is not rows:
                    raise RuntimeError(
                        f"fast-mode venue array {k!r} was rebound: write it in place"
                    )


NAMES = [k for packed, names, _ in jit_calls.PACKED for k in (packed, *names)]


@pytest.fixture(scope="module")
def venue():
    d = {
        "name": "begin-block",
        "seed": 3,
        "steps": 3,
        "step_seconds": 60,
        "markets": [{"symbol": s, "path": {"beta": 1.0, "vol_per_year": 0.5}}
                    for s in ("BTC", "ETH", "SOL")],
        "traders": {"kind": "random", "count": 12},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.4}},
    }  # fmt: skip
    engine = MirrorEngine(parse(d), mode="fast")
    engine.run()
    return engine.venue


def _outcome(start, venue, now):
    try:
        start(venue, now)
    except RuntimeError as exc:
        return str(exc)
    return None


def _made(venue, how: str):
    if how == "copy":
        return venue.copy()
    if how == "pickle":
        return pickle.loads(pickle.dumps(venue))
    return copy.deepcopy(venue)


@pytest.mark.parametrize("seed", range(12))
def test_drawn_rebinds_are_refused_as_by_the_old_form(venue, seed):
    rng = np.random.default_rng(seed)
    refused = 0
    for trial in range(30):
        how = ["copy", "pickle", "deepcopy"][trial % 3]
        new, old = _made(venue, how), _made(venue, how)
        for _ in range(int(rng.integers(0, 3))):  # blocks that pass: the seen objects kept
            now = new.now + 60
            assert _outcome(type(new).begin_block, new, now) is None
            assert _outcome(old_begin_block, old, now) is None
        if trial % 5 == 4:  # a copy of one made in place (the seen objects its origin's)
            new.__dict__.update(_made(new, "deepcopy").__dict__)
            old.__dict__.update(_made(old, "deepcopy").__dict__)
        rebound = rng.choice(NAMES, int(rng.integers(0, 3)), replace=False)
        for k in rebound:  # a copy, not written in place
            setattr(new, k, getattr(new, k).copy())
            setattr(old, k, getattr(old, k).copy())
        now = new.now + 60
        got = _outcome(type(new).begin_block, new, now)
        want = _outcome(old_begin_block, old, now)
        assert got == want, (how, list(rebound))
        assert (new.block, new.now) == (old.block, old.now)
        refused += want is not None
        if want is None:  # written in place only: the next blocks pass too
            for _ in range(2):
                now = new.now + 60
                assert _outcome(type(new).begin_block, new, now) is None
    assert refused > 0


def test_a_view_rebound_after_passed_blocks_is_refused(venue):
    for k in NAMES:
        v = venue.copy()
        for _ in range(2):
            v.begin_block(v.now + 60)
        setattr(v, k, getattr(v, k).copy())
        with pytest.raises(RuntimeError, match="was rebound"):
            v.begin_block(v.now + 60)
