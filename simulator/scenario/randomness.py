"""Randomness: one integer ``seed`` drives a run.

:func:`random_streams` splits it (``numpy.random.SeedSequence``) into independent generators for
the price path, the population and the agents, so that changing the trader count does not
change the price path. :func:`path_seeds` derives the integer seeds of the N price paths of
``perpsim compare``; path ``i`` of a comparison is reproduced exactly by a run with
``seed = path_seeds(seed, N)[i]``."""

from __future__ import annotations

import ctypes
import threading
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


class StepStream:
    """The generators of a stream's per-step children, at a fraction of their construction's
    cost: step ``t``'s is ``np.random.default_rng(SeedSequence(seq.entropy, spawn_key=
    (*seq.spawn_key, *prefix, t)))`` (:func:`oracle_step_generator` with no ``prefix``), the
    same draws.

    Building that generator hashes the seed sequence's whole key every step (numpy's
    ``SeedSequence`` mixes its entropy words into a pool, then draws the PCG64 seed from the
    pool). Every word of the key but the last, ``t``, is the same each step: the pool after
    them and the hash constant are mixed once (:func:`_mixed_pool`), the last word's mixing,
    the seed words and the PCG64 state seeding gives are computed for a range of steps at once
    on uint32 / uint64 arrays (:func:`_seed_words`, :func:`_pcg64_states`: numpy's own wrapping
    arithmetic), and each step's generator is one reused PCG64 whose state is set to the
    step's: written straight into the bit generator's state words where their layout is the
    one a probe through numpy's state getter and setter finds (:func:`_state_words`), else
    through numpy's setter. ``tests/engine/test_step_stream.py`` holds the pool, the seed
    words, the state and the draws to numpy's construction over many steps and keys.

    A step beyond ``2**32 - 1`` (two words) is built by numpy's construction itself.
    """

    def __init__(self, seq: np.random.SeedSequence, prefix: tuple[int, ...] = ()):
        self.seq = seq
        self.prefix = tuple(int(p) for p in prefix)
        self._pool, self._hash_const = _mixed_pool(
            _uint32_words(seq.entropy), _uint32_words((*seq.spawn_key, *self.prefix)),
            int(seq.pool_size),
        )  # fmt: skip
        self._words = np.zeros((0, 4), dtype=np.uint64)
        """The seed words (as ``generate_state(4, np.uint64)``) of steps 0, 1, ..."""
        self._states = np.zeros((0, 4), dtype=np.uint64)
        """The PCG64 state seeding with them gives, as :func:`_pcg64_states` words."""
        self._n = 0
        """Steps in the tables."""
        self._local = threading.local()

    def __getstate__(self) -> dict:
        """Pickled as its key alone (a thread's generator does not travel)."""
        return {"seq": self.seq, "prefix": self.prefix}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["seq"], state["prefix"])

    def _child_words(self, step: int) -> np.ndarray:
        """(1, 4) uint64: the seed words of a step past the tables' range (numpy's
        construction beyond one word)."""
        if step > _MASK32:
            child = np.random.SeedSequence(
                self.seq.entropy, spawn_key=(*self.seq.spawn_key, *self.prefix, step)
            )
            return child.generate_state(4, np.uint64)[None, :]
        return _seed_words(self._pool, self._hash_const, step, step + 1)

    def _extend(self, step: int) -> bool:
        """Extend the tables to cover ``step`` when it is near (a run asks for its steps in
        order): False for a step far ahead (or past one word), left out of them."""
        n = self._n
        end = max(2 * n, _FIRST_STEPS)
        if step >= end or step > _MASK32:
            return False
        end = min(end, _MASK32 + 1)
        words = _seed_words(self._pool, self._hash_const, n, end)
        self._words = np.concatenate([self._words, words])
        self._states = np.concatenate([self._states, _pcg64_states(words)])
        self._n = end
        return True

    def seed_words(self, step: int) -> list[int]:
        """Step ``step``'s PCG64 seed: ``generate_state(4, np.uint64)`` of its seed sequence
        (Python ints)."""
        step = int(step)
        if step < 0:
            raise ValueError(f"a step is >= 0 (got {step})")
        if step < self._n or self._extend(step):
            return self._words[step].tolist()
        return self._child_words(step)[0].tolist()

    def generator(self, step: int) -> np.random.Generator:
        """Step ``step``'s generator: this thread's one Generator, its PCG64 set to the state
        the step's seeding gives. It is the step's until the next call on this thread: draw
        from it at once."""
        try:
            gen, words, flags = self._local.generator
        except AttributeError:
            gen = np.random.Generator(np.random.PCG64(0))
            gen, words, flags = self._local.generator = (gen, *_state_words(gen.bit_generator))
        if 0 <= step < self._n:
            row = self._states[step]
        else:
            step = int(step)
            if step < 0:
                raise ValueError(f"a step is >= 0 (got {step})")
            row = self._states[step] if self._extend(step) else (
                _pcg64_states(self._child_words(step))[0])  # fmt: skip
        if words is None:
            lo_state, hi_state, lo_inc, hi_inc = row.tolist()
            gen.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": hi_state << 64 | lo_state, "inc": hi_inc << 64 | lo_inc},
                "has_uint32": 0,
                "uinteger": 0,
            }
        else:
            words[:] = row
            if flags[0] or flags[1]:  # a 32-bit draw left half a word: the setter clears it
                flags[:] = 0
        return gen

    def draw_state(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """What a compiled kernel needs to set a step's generator and draw from it
        (``simulator.agents.flow_jit.plan_step``): ``(states, words, flags)``, the PCG64 state
        of steps ``0 .. len(states) - 1`` ((n, 4) uint64 rows, the :func:`_pcg64_states`
        layout; extended to ``step`` first when it is near, as :meth:`generator` extends
        them) and this thread's generator's state words and buffered 32-bit draw in memory
        (:func:`_state_words`'s views). Writing row ``t`` into ``words`` and zeros into
        ``flags`` is what :meth:`generator` does for step ``t``; a kernel that then draws as
        numpy's PCG64 does, advancing ``words``, leaves the generator where numpy's draws
        leave it. ``states`` is the stream's table at the call (a later extension makes a
        new one). None where the views are not available (another layout): draw from
        :meth:`generator` then, as for a step beyond ``states``. The generator's state is left
        as it was."""
        if step >= self._n and step >= 0:
            self._extend(int(step))  # a far step stays beyond the tables
        try:
            _, words, flags = self._local.generator
        except AttributeError:  # this thread's first: made as generator() makes it
            gen = np.random.Generator(np.random.PCG64(0))
            _, words, flags = self._local.generator = (gen, *_state_words(gen.bit_generator))
        if words is None:
            return None
        return self._states, words, flags

    def normal(self, step: int, shape: tuple[int, ...]) -> np.ndarray:
        """``standard_normal(shape)`` of step ``step``'s generator."""
        return self.generator(step).standard_normal(shape)


def _state_words(bit_generator: np.random.PCG64) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Views of a PCG64's state in memory: its 128-bit state and increment as four uint64
    words (``[state low, state high, increment low, increment high]``, the
    :func:`_pcg64_states` layout) and its buffered 32-bit draw (``has_uint32``, ``uinteger``
    as two uint32), or ``(None, None)`` when a probe finds another layout. The probe: a state
    set through numpy's setter reads back in the views as expected, and one written into the
    views reads back through numpy's getter."""
    try:
        address = bit_generator.ctypes.state_address  # numpy's pcg64_state struct
        pcg = ctypes.c_void_p.from_address(address).value  # its pcg64_random_t *
        words = np.ctypeslib.as_array((ctypes.c_uint64 * 4).from_address(pcg))
        flags = np.ctypeslib.as_array(
            (ctypes.c_uint32 * 2).from_address(address + ctypes.sizeof(ctypes.c_void_p))
        )
        probe = [(0x0123456789ABCDEF << 64) | 0xFEDCBA9876543210, (0x1111 << 64) | 0x2223]
        bit_generator.state = {"bit_generator": "PCG64",
                               "state": {"state": probe[0], "inc": probe[1]},
                               "has_uint32": 1, "uinteger": 0xDEADBEEF}  # fmt: skip
        want = [probe[0] & _MASK64, probe[0] >> 64, probe[1] & _MASK64, probe[1] >> 64]
        if words.tolist() != want or flags.tolist() != [1, 0xDEADBEEF]:
            return None, None
        words[:] = [5, 6, 7, 9]
        flags[:] = 0
        read = bit_generator.state
        if read["state"] != {"state": 6 << 64 | 5, "inc": 9 << 64 | 7} or read["has_uint32"]:
            return None, None
        return words, flags
    except Exception:  # no ctypes interface, or another layout: numpy's setter
        return None, None


# numpy's SeedSequence (numpy/random/bit_generator.pyx): its hash and mixing constants.
_MASK32 = 0xFFFFFFFF
_MASK64 = (1 << 64) - 1
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R, _XSHIFT = 0xCA01F9DD, 0x4973F715, 16
# PCG64's 128-bit LCG multiplier (numpy/random/src/pcg64/pcg64.h).
_PCG64_MULT = (2549297995355413924 << 64) + 4865540595714422341
_MASK128 = (1 << 128) - 1
_FIRST_STEPS = 2048
"""Steps whose seed words :meth:`StepStream.seed_words` computes at its first call."""


def _uint32_words(x) -> list[int]:
    """An int as its 32-bit words, least significant first (``[0]`` for 0), a sequence of
    ints as their words in order: how SeedSequence reads its entropy and spawn key."""
    if isinstance(x, (int, np.integer)):
        x = int(x)
        if x < 0:
            raise ValueError(f"seed words are >= 0 (got {x})")
        words = [x & _MASK32]
        x >>= 32
        while x:
            words.append(x & _MASK32)
            x >>= 32
        return words
    return [w for v in x for w in _uint32_words(v)]


def _hashmix(value: int, hash_const: int) -> tuple[int, int]:
    """SeedSequence's ``hashmix``: the hashed value and the next hash constant."""
    value ^= hash_const
    hash_const = hash_const * _MULT_A & _MASK32
    value = value * hash_const & _MASK32
    return value ^ (value >> _XSHIFT), hash_const


def _mix(x: int, y: int) -> int:
    """SeedSequence's ``mix`` of two uint32."""
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return result ^ (result >> _XSHIFT)


def _mixed_pool(entropy: list[int], spawn: list[int], pool_size: int) -> tuple[list[int], int]:
    """SeedSequence's pool after mixing every word of its assembled entropy (the run entropy,
    padded with 0 to the pool size before a spawn key, then the spawn key's words) and the
    hash constant then: the state a further word (a step) is mixed into."""
    words = entropy + [0] * (pool_size - len(entropy)) + spawn
    hash_const = _INIT_A
    pool = []
    for i in range(pool_size):  # the key is at least as long as the pool (padded)
        value, hash_const = _hashmix(words[i], hash_const)
        pool.append(value)
    for src in range(pool_size):
        for dst in range(pool_size):
            if src != dst:
                value, hash_const = _hashmix(pool[src], hash_const)
                pool[dst] = _mix(pool[dst], value)
    for src in range(pool_size, len(words)):
        for dst in range(pool_size):
            value, hash_const = _hashmix(words[src], hash_const)
            pool[dst] = _mix(pool[dst], value)
    return pool, hash_const


def _seed_words(pool: list[int], hash_const: int, start: int, end: int) -> np.ndarray:
    """(end - start, 4) uint64: ``generate_state(4, np.uint64)`` of the seed sequences whose
    key is the mixed ``pool`` (at ``hash_const``) then one word, each of ``start .. end - 1``
    (< 2**32). numpy's uint32 arrays wrap as SeedSequence's uint32 arithmetic does."""
    steps = np.arange(start, end, dtype=np.uint32)
    mixed = []
    for word in pool:  # the step word mixed into every pool word, in order
        value, hash_const = steps ^ np.uint32(hash_const), hash_const * _MULT_A & _MASK32
        value = value * np.uint32(hash_const)
        value ^= value >> np.uint32(_XSHIFT)
        result = np.uint32(_MIX_MULT_L * word & _MASK32) - np.uint32(_MIX_MULT_R) * value
        mixed.append(result ^ (result >> np.uint32(_XSHIFT)))
    state = np.empty((len(steps), 8), dtype=np.uint32)
    hash_const = _INIT_B
    for i in range(8):  # generate_state: 8 uint32 words, read as 4 little-endian uint64
        value = mixed[i % len(pool)] ^ np.uint32(hash_const)
        hash_const = hash_const * _MULT_B & _MASK32
        value = value * np.uint32(hash_const)
        state[:, i] = value ^ (value >> np.uint32(_XSHIFT))
    return state.astype("<u4").view("<u8").astype(np.uint64)


def _pcg64_state(words: list[int]) -> tuple[int, int]:
    """PCG64's (state, increment) after seeding with ``words`` (``pcg64_set_seed``: the first
    two words the initial state, the last two the sequence; ``srandom_r``: state 0, one step,
    plus the initial state, one step)."""
    initial = words[0] << 64 | words[1]
    inc = ((words[2] << 64 | words[3]) << 1 | 1) & _MASK128
    return ((inc + initial) * _PCG64_MULT + inc) & _MASK128, inc


def _pcg64_states(words: np.ndarray) -> np.ndarray:
    """(n, 4) uint64: :func:`_pcg64_state` of each row of seed ``words`` ((n, 4) uint64), the
    state and the increment as words ``[state low, state high, increment low, increment
    high]``, in 128-bit arithmetic on uint64 word pairs (numpy's wrapping arithmetic)."""
    w = np.asarray(words, dtype=np.uint64).reshape(-1, 4)
    one, s63 = np.uint64(1), np.uint64(63)
    initial = (w[:, 1], w[:, 0])  # (low, high)
    inc = ((w[:, 3] << one) | one, (w[:, 2] << one) | (w[:, 3] >> s63))
    total = _add128(inc, initial)
    mult = (np.uint64(_PCG64_MULT & _MASK64), np.uint64(_PCG64_MULT >> 64))
    state = _add128(_mul128(total, mult), inc)
    return np.stack([state[0], state[1], inc[0], inc[1]], axis=1)


def _add128(a: tuple, b: tuple) -> tuple:
    """``(a + b) mod 2**128`` of (low, high) uint64 word pairs."""
    low = a[0] + b[0]
    carry = (low < a[0]).astype(np.uint64)
    return low, a[1] + b[1] + carry


def _mul128(a: tuple, b: tuple) -> tuple:
    """``(a * b) mod 2**128`` of (low, high) uint64 word pairs: the low words' full
    product from 32-bit halves, the cross products' low words into the high word."""
    m32, s32 = np.uint64(_MASK32), np.uint64(32)
    a0, a1 = a[0] & m32, a[0] >> s32
    b0, b1 = b[0] & m32, b[0] >> s32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> s32) + (p01 & m32) + (p10 & m32)
    low = (p00 & m32) | (mid << s32)
    high = p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32) + a[0] * b[1] + a[1] * b[0]
    return low, high


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
