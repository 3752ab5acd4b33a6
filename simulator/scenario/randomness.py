"""Randomness: one integer ``seed`` drives a run.

:func:`random_streams` splits it (``numpy.random.SeedSequence``) into independent generators for
the price path, the population and the agents, so that changing the trader count does not
change the price path. :func:`path_seeds` derives the integer seeds of the N price paths of
``perpsim compare``; path ``i`` of a comparison is reproduced exactly by a run with
``seed = path_seeds(seed, N)[i]``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.scenario.messages import ScenarioError


@dataclass(frozen=True)
class RandomStreams:
    """Independent generators derived from one seed, one per consumer."""

    price: np.random.Generator
    """Draws of the exogenous price path."""
    population: np.random.Generator
    """Draws of the trader population."""
    agents: np.random.Generator
    """Draws of agents' decisions during the run (top-up coin flips, orderings, ...)."""
    oracle: np.random.SeedSequence
    """Child 3: the oracle venues' noise. Step ``t`` draws from its child ``t``
    (:func:`oracle_step_generator`), so a resumed run draws the same noise without saving a
    generator's state."""
    flow: np.random.Generator | None = None
    """Draws of the order flow (child 4 of the seed: its slots' collateral at setup and its
    arrivals during the run, :mod:`simulator.agents.flow`)."""


def random_streams(seed: int) -> RandomStreams:
    """Split ``seed`` into independent generators (children of ``SeedSequence(seed)``: 0 price,
    1 population, 2 agents, 3 oracle, 4 order flow, 5 market-making vault; a child's draws do not depend on how many there are).

    Examples
    --------
    >>> a, b = random_streams(7), random_streams(7)
    >>> bool(a.price.random() == b.price.random())
    True
    """
    price, population, agents, oracle, flow, vault = np.random.SeedSequence(int(seed)).spawn(6)
    return RandomStreams(
        price=np.random.default_rng(price),
        population=np.random.default_rng(population),
        agents=np.random.default_rng(agents),
        oracle=oracle,
        flow=np.random.default_rng(flow),
    )


def oracle_step_generator(oracle: np.random.SeedSequence, step: int) -> np.random.Generator:
    """The generator of the oracle venues' noise at ``step``: child ``step`` of the ``oracle``
    stream (spawn key ``oracle.spawn_key + (step,)``), the same whatever was drawn before.

    Examples
    --------
    >>> a = oracle_step_generator(random_streams(7).oracle, 5).standard_normal()
    >>> bool(a == oracle_step_generator(random_streams(7).oracle, 5).standard_normal())
    True
    """
    return np.random.default_rng(
        np.random.SeedSequence(oracle.entropy, spawn_key=(*oracle.spawn_key, int(step)))
    )


def path_seeds(seed: int, n_paths: int) -> list[int]:
    """Integer seeds of ``n_paths`` independent runs derived from ``seed``.

    Path ``i`` uses the ``i``-th child of ``SeedSequence(seed)``; its 53-bit integer seed can be
    given to ``perpsim run --seed`` to reproduce that path alone.

    Examples
    --------
    >>> path_seeds(1, 3) == path_seeds(1, 3) and len(set(path_seeds(1, 3))) == 3
    True
    """
    if n_paths < 1:
        raise ScenarioError(f"number of paths must be >= 1 (got {n_paths})")
    children = np.random.SeedSequence(int(seed)).spawn(int(n_paths))
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(11)) for c in children]
