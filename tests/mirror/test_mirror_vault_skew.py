"""A quiet block's spot inputs on the mirror start from the open interest the market-making
vault planned against earlier in the step (:attr:`simulator.mirror.sim.mm_vault.VaultBlock.
skew`, or a :class:`~simulator.mirror.sim.mm_vault.FastBlock`'s compiled rows) instead of
computing it again: on oct-2025 (fast mode, the vault quoting every step)
the reused inputs equal the ones computed at the read, bit for bit, step after step."""

from __future__ import annotations

import numpy as np

from simulator.engine.flow import spot_inputs_after_flow
from simulator.engine.spot import spot_inputs_after_closes
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import mm_vault as mirror_vault
from simulator.scenario import load_scenario


def test_the_vaults_skew_reused_for_a_quiet_block_equals_it_computed_at_the_read(monkeypatch):
    quiet = mirror_vault.quiet_spot_inputs
    compared = []

    def checked(ctx, s, last, closes, run, block=None):
        fresh = spot_inputs_after_flow(spot_inputs_after_closes(ctx, last, s, closes), run)
        assert block is not None  # the vault planned this step
        if isinstance(block, mirror_vault.FastBlock):  # the compiled step's rows
            skew = mirror_vault._skew_of(last, block.tab.work)
        else:
            skew = block.skew
        assert skew is not None
        assert skew.keys() == fresh.keys()
        for key, value in fresh.items():
            if isinstance(value, np.ndarray) and value.dtype != object:
                assert skew[key].tobytes() == value.tobytes(), key
            else:
                assert skew[key] is value or np.array_equal(skew[key], value), key
        got = quiet(ctx, s, last, closes, run, block)
        expected = quiet(ctx, s, last, closes, run)
        assert list(got) == list(expected)
        for key in ("oi_long_base", "oi_short_base"):
            assert got[key].tobytes() == expected[key].tobytes()
        for key in ("ledgers", "amm_reserve_usd", "amm_reserve_base", "vault_size_wad"):
            assert got[key] is expected[key], key
        compared.append(s.step)
        return got

    monkeypatch.setattr(mirror_vault, "quiet_spot_inputs", checked)
    scenario = load_scenario("oct-2025")  # through the shock (step 600) and its cascade
    engine = MirrorEngine(scenario, mode="fast")
    engine.run()
    assert len(compared) > scenario.steps // 2  # most blocks are quiet
