"""The market-making vault's reads and rows on the mirror, rewritten in session 27
(:func:`simulator.mirror.sim.mm_vault.with_levels`, :func:`simulator.engine.mm_vault.
event_rows` through :func:`simulator.mirror.sim.mm_vault.record`), held to the forms they
replaced (``tests/engine/mm_vault_reference.py``) bit for bit at every step of oct-2025 (fast
mode: the vault quotes, fills, reverts and is liquidated), and the reads on the exact mode's
WAD integers for the first steps; the compiled step loaded at setup."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from simulator.engine import mm_vault_jit as vault_jit
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import mm_vault as mirror_vault
from simulator.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
import mm_vault_reference as ref  # noqa: E402


class _Stop(Exception):
    """Ends a run after the steps a test needs."""


def _same_levels(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)  # the same keys in the same order
    for key, value in expected.items():
        other = got[key]
        if isinstance(value, np.ndarray):
            assert other.dtype == value.dtype and other.shape == value.shape, key
            if value.dtype == object:
                assert [type(x) for x in other] == [type(x) for x in value], key
                assert [repr(x) for x in other] == [repr(x) for x in value], key
            else:
                assert other.tobytes() == value.tobytes(), key
        else:
            assert type(other) is type(value) and repr(other) == repr(value), key


def _checked(monkeypatch, checks: dict[str, int], stop_after: int | None = None):
    """Wrap the mirror's vault reads and rows with their comparison to the old forms."""
    with_levels, record = mirror_vault.with_levels, mirror_vault.record

    def checked_levels(ctx, venue, levels):
        expected = ref.with_levels(ctx, venue, dict(levels))
        got = with_levels(ctx, venue, levels)
        _same_levels(got, expected)
        checks["levels"] += 1
        return got

    def checked_record(ctx, s, block, t, last):
        refused = s.mm_vault_takeover_refused
        if isinstance(block, mirror_vault.QuoteBlock | mirror_vault.FastBlock):  # arrays
            results, actions = block.calls(ctx)
        else:
            results, actions = block.results, block.actions
        expected = ref.event_rows(ctx, s, results, actions, t, last)
        s.mm_vault_takeover_refused, after = refused, s.mm_vault_takeover_refused
        got = record(ctx, s, block, t, last)
        assert s.mm_vault_takeover_refused == after
        assert repr(got) == repr(expected), t
        checks["rows"] += len(got)
        checks["fills"] += sum(r["kind"] == "mm_vault_fill" for r in got)
        if stop_after is not None and t >= stop_after:
            raise _Stop
        return got

    monkeypatch.setattr(mirror_vault, "with_levels", checked_levels)
    monkeypatch.setattr(mirror_vault, "record", checked_record)


def test_the_vaults_reads_and_rows_equal_their_old_forms_over_oct_2025(monkeypatch):
    checks = {"levels": 0, "rows": 0, "fills": 0}
    _checked(monkeypatch, checks)
    scenario = load_scenario("oct-2025")
    MirrorEngine(scenario, mode="fast").run()
    assert checks["levels"] > scenario.steps
    assert checks["fills"] > 1_000 and checks["rows"] > checks["fills"]  # reverts too


def test_the_vaults_reads_in_exact_mode_equal_their_old_form(monkeypatch):
    checks = {"levels": 0, "rows": 0, "fills": 0}
    _checked(monkeypatch, checks, stop_after=3)
    engine = MirrorEngine(load_scenario("oct-2025"), mode="exact")
    try:
        engine.run()
    except _Stop:
        pass
    assert checks["levels"] >= 4 and checks["fills"] > 0


def test_the_vaults_kernels_are_loaded_at_setup_for_the_types_a_step_passes():
    engine = MirrorEngine(load_scenario("oct-2025"), mode="fast")
    kernels = (vault_jit.vault_step_quotes, vault_jit.after_trades, vault_jit.vault_block,
               vault_jit.vault_reads)  # fmt: skip
    loaded = {k: set(k.signatures) for k in kernels}
    assert all(loaded.values())
    for _ in range(3):
        engine.step()
    assert {k: set(k.signatures) for k in loaded} == loaded  # no type loaded in a step
