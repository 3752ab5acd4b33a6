"""The contagion report of a run folder (:mod:`simulator.contagion.report`): the venue's losses
mapped to the initial shock, each model's figures and the chain's, on the hand-made graph pair
of :func:`contagion_report_helpers.hand_graphs` in a real run folder; monotone in the shock's
scale; zero losses give zero modelled loss; bad input is one line."""

from __future__ import annotations

import json

import pytest
from contagion_report_helpers import HAND_LOSSES, hand_graphs, make_base_run, world_run

from simulator.contagion.graph_io import run_graph_paths
from simulator.contagion.report import contagion_report, read_run_contagion, report_from_graphs
from simulator.errors import ContagionError, PerpsimError


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base_run(tmp_path_factory.mktemp("base") / "run")


@pytest.fixture
def run_dir(base, tmp_path):
    return world_run(base, tmp_path / "run")


def test_shock_mapping_and_every_model_on_the_hand_graphs(run_dir):
    r = contagion_report(run_dir)
    h0 = {row["node"]: row["h0"] for row in r.nodes}
    # h0 = loss / start equity: venue (100 ADL + 50 bad debt) / 1,000 = 0.15; fund 100 / 400 =
    # 0.25; vault 50 / 500 = 0.1; mm 0 / 200 = 0; the pool and the synthetic dollar start at 0
    assert h0 == pytest.approx(
        {"venue": 0.15, "insurance_fund": 0.25, "backstop_vault": 0.1, "mm_vault": 0.0,
         "synthetic_dollar": 0.0, "lending_pool": 0.0}
    )  # fmt: skip
    assert r.row("venue")["shock_loss_usd"] == 150.0
    assert not any("capped" in n for n in r.notes)

    # DebtRank (Battiston): W[j, i] = min(1, A[i, j] / E[i]).
    # round 1, D = {venue .15, fund .25, vault .1}: fund += 1 x .15 = .40; vault += .4 x .15 =
    # .16; mm += 1 x .15 = .15; synth += min(1, 200/100) x .15 = .15; pool += .25 x .1 = .025.
    # round 2, D = {mm, synth, pool}: pool += (150/1,000) x .15 = .0225 -> .0475. Then done.
    h = {row["node"]: row["debtrank_h"] for row in r.nodes}
    assert h == pytest.approx(
        {"venue": 0.15, "insurance_fund": 0.40, "backstop_vault": 0.16, "mm_vault": 0.15,
         "synthetic_dollar": 0.15, "lending_pool": 0.0475}
    )  # fmt: skip
    # losses h x E0: 150 + 160 + 80 + 30 + 15 + 47.5
    assert r.totals["debtrank_loss_usd"] == pytest.approx(482.5)
    assert r.row("lending_pool")["debtrank_loss_usd"] == pytest.approx(47.5)
    # differential (Λ uncapped, increments propagate): synth gets 2 x .15 = .30; the pool gets
    # .25 x .1 in round 1 and .25 x .06 + .15 x .30 = .06 in round 2: .085
    assert r.row("synthetic_dollar")["differential_h"] == pytest.approx(0.30)
    assert r.row("lending_pool")["differential_h"] == pytest.approx(0.085)
    assert r.totals["differential_loss_usd"] == pytest.approx(150 + 160 + 80 + 30 + 30 + 85)

    # Eisenberg-Noe: the venue's 150 USD shock leaves it 1,050 - 150 = 900 of external assets
    # for 400 + 200 + 200 + 200 = 1,000 owed: it pays 900, shortfall 100, default. The vault
    # (300 - 50 = 250, plus 0.9 x 200 = 180) pays the pool's 250; the synth pays its 150.
    assert r.row("venue")["obligations_usd"] == pytest.approx(1000)
    assert r.row("venue")["en_shortfall_usd"] == pytest.approx(100)
    assert r.row("venue")["en_default"] and not r.row("backstop_vault")["en_default"]
    assert r.row("backstop_vault")["en_shortfall_usd"] == 0
    # Rogers-Veraart (alpha .5, beta .9): the venue realises half of 900 = 450, shortfall 550;
    # the vault then has 250 + 450 x 200/1,000 = 340 >= 250 and pays in full
    assert r.row("venue")["rv_shortfall_usd"] == pytest.approx(550)
    assert r.row("backstop_vault")["rv_shortfall_usd"] == 0
    # totals: the shock (150 + 100 + 50) plus the shortfalls
    assert r.totals["shock_usd"] == pytest.approx(300)
    assert r.totals["en_loss_usd"] == pytest.approx(400)
    assert r.totals["rv_loss_usd"] == pytest.approx(850)
    # the fund holds no external assets: its 100 USD shock cannot be taken there, and says so
    assert any("insurance_fund" in n and "100.00 USD is not applied" in n for n in r.notes)
    # Furfine: no node is wiped out by the shock, nobody defaults
    assert all(row["furfine_round"] is None for row in r.nodes)

    # the chain: the venue nodes' summary terms; the pool's bad debt 0 -> 20; the synthetic
    # dollar's net backing 100 -> 20 (a fall of 80); its backing ratio 1.1 -> 1.02
    chain = {row["node"]: row["chain_loss_usd"] for row in r.nodes}
    assert chain == pytest.approx(
        {"venue": 150, "insurance_fund": 100, "backstop_vault": 50, "mm_vault": 0,
         "synthetic_dollar": 80, "lending_pool": 20}
    )  # fmt: skip
    assert r.totals["chain_systemic_loss_usd"] == pytest.approx(300 + 20 + 80)
    pool, synth = r.row("lending_pool"), r.row("synthetic_dollar")
    assert (pool["bad_debt_start_usd"], pool["bad_debt_end_usd"]) == (0.0, 20.0)
    assert (synth["backing_ratio_start"], synth["backing_ratio_end"]) == (1.1, 1.02)
    assert pool["equity_end_usd"] == 980.0 and r.row("venue")["equity_start_usd"] == 1000.0


def test_a_binding_cap_is_said_and_furfine_starts_from_the_wiped_out(run_dir):
    r = contagion_report(run_dir, shock_scale=10)
    # venue 10 x .15 = 1.5, fund 2.5: capped, each named with its uncapped figure; the vault's
    # 10 x .1 = 1.0 is exactly 1 (no cap)
    capped = [n for n in r.notes if "capped at 1" in n]
    assert len(capped) == 2
    assert any(n.startswith("venue:") and "= 1.5" in n for n in capped)
    assert any(n.startswith("insurance_fund:") and "= 2.5" in n for n in capped)
    assert r.row("venue")["h0"] == 1.0 and r.row("backstop_vault")["h0"] == pytest.approx(1.0)
    # Furfine: venue, fund, vault fail in round 0; mm loses 200 >= 200 and synth 200 >= 100 in
    # round 1; the pool loses 250 (vault) then 250 + 150 = 400 < 1,000 and survives
    rounds = {row["node"]: row["furfine_round"] for row in r.nodes}
    assert rounds == {
        "venue": 0, "insurance_fund": 0, "backstop_vault": 0, "mm_vault": 1,
        "synthetic_dollar": 1, "lending_pool": None,
    }  # fmt: skip
    assert r.totals["furfine_loss_usd"] == pytest.approx(1000 + 400 + 500 + 200 + 100)
    assert r.row("venue")["debtrank_default"]


def test_a_loss_on_a_node_with_no_equity_is_capped_and_said(base, tmp_path):
    start, end = hand_graphs()
    start.nodes["mm_vault"]["equity_usd"] = 0.0
    start.remove_edge("mm_vault", "venue")
    run_dir = world_run(
        base, tmp_path / "r", (start, end), HAND_LOSSES | {"mm_vault_lp_loss_usd": 5.0}
    )
    r = contagion_report(run_dir)
    assert r.row("mm_vault")["h0"] == 1.0
    assert any(n.startswith("mm_vault:") and "start equity is 0" in n for n in r.notes)


def test_modelled_losses_are_monotone_in_the_shock_scale(run_dir):
    run = read_run_contagion(run_dir)
    keys = ("shock_usd", "debtrank_loss_usd", "differential_loss_usd", "en_loss_usd",
            "rv_loss_usd", "furfine_loss_usd")  # fmt: skip
    previous = None
    for scale in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 7.0, 20.0):
        r = report_from_graphs(run, shock_scale=scale)
        if previous is not None:
            for k in keys:
                assert r.totals[k] >= previous.totals[k] - 1e-9, (scale, k)
            for row, before in zip(r.nodes, previous.nodes, strict=True):
                assert row["debtrank_h"] >= before["debtrank_h"] - 1e-12
        previous = r
    # the chain's figures do not depend on the model's scale
    assert previous.totals["chain_systemic_loss_usd"] == pytest.approx(400)
    assert (
        previous.totals["debtrank_loss_usd"] > contagion_report(run_dir).totals["debtrank_loss_usd"]
    )


def test_zero_losses_give_zero_modelled_loss(base, tmp_path):
    zero = {k: 0.0 for k in HAND_LOSSES}
    r = contagion_report(world_run(base, tmp_path / "r", losses=zero), shock_scale=3.0)
    for k in ("shock_usd", "debtrank_loss_usd", "differential_loss_usd", "en_loss_usd",
              "rv_loss_usd", "furfine_loss_usd"):  # fmt: skip
        assert r.totals[k] == 0, k
    assert all(row["debtrank_h"] == 0 and not row["en_default"] for row in r.nodes)
    # a zero scale also gives zero, whatever the run lost
    r0 = contagion_report(world_run(base, tmp_path / "r0"), shock_scale=0)
    assert r0.totals["debtrank_loss_usd"] == 0 and r0.totals["chain_systemic_loss_usd"] == 400


def test_a_hand_given_shock_replaces_the_mapped_one(run_dir):
    r = contagion_report(run_dir, shock={"lending_pool": 0.5, "venue": 0.0}, shock_scale=0.5)
    assert r.row("lending_pool")["h0"] == 0.25 and r.row("venue")["h0"] == 0
    assert r.row("insurance_fund")["h0"] == pytest.approx(0.125)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and isinstance(exc.value, PerpsimError)
    assert exc.value.exit_code == 2
    return message


def test_a_run_without_a_world_says_so(base):
    with pytest.raises(ContagionError) as e:
        contagion_report(base)
    assert "this run has no contagion world (scenario key world:)" in _one_line(e)


def test_a_missing_file_is_named(run_dir, tmp_path):
    run_graph_paths(run_dir)[1].unlink()
    with pytest.raises(ContagionError, match="missing contagion/graph_end.json") as e:
        contagion_report(run_dir)
    _one_line(e)
    (run_dir / "summary.json").unlink()
    with pytest.raises(ContagionError, match="no summary.json"):
        contagion_report(run_dir)
    with pytest.raises(ContagionError, match="run folder not found"):
        contagion_report(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"shock_scale": -0.5}, "shock_scale is negative"),
        ({"shock_scale": float("nan")}, "shock_scale is not a finite number"),
        ({"shock": {"venue": 1.5}}, r"shock for 'venue' is 1.5: it must be in \[0, 1\]"),
        ({"shock": {"venue": -0.1}}, "must be in"),
        ({"shock": {"nowhere": 0.1}}, "not a node of the graph"),
    ],
)
def test_bad_scale_or_shock_is_one_line(run_dir, kwargs, match):
    with pytest.raises(ContagionError, match=match) as e:
        contagion_report(run_dir, **kwargs)
    _one_line(e)


def test_a_graph_with_negative_equity_or_exposure_is_refused(base, tmp_path):
    start, end = hand_graphs()
    start.edges["lending_pool", "synthetic_dollar"]["exposure_usd"] = -1.0
    with pytest.raises(ContagionError, match="exposure_usd") as e:
        contagion_report(world_run(base, tmp_path / "a", (start, end)))
    _one_line(e)
    start, end = hand_graphs()
    start.nodes["lending_pool"]["equity_usd"] = -5.0
    with pytest.raises(ContagionError, match="equity_usd"):
        contagion_report(world_run(base, tmp_path / "b", (start, end)))


def test_a_bad_summary_term_is_named(base, tmp_path):
    run_dir = world_run(base, tmp_path / "r", losses=HAND_LOSSES | {"bad_debt_usd": -3.0})
    with pytest.raises(ContagionError, match="summary.json bad_debt_usd is negative"):
        contagion_report(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["backstop_lp_loss_usd"]
    summary["bad_debt_usd"] = 50.0
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ContagionError, match="no backstop_lp_loss_usd"):
        contagion_report(run_dir)
