"""Model against chain: the contagion report of one run folder (issue 13, item 4).

A run whose scenario deploys the contagion world keeps two exposure graphs read from chain
(:mod:`simulator.contagion.graph_io`: ``contagion/graph_start.json`` after step 0's block,
``graph_end.json`` after the last one) beside its ``summary.json``. :func:`contagion_report`
turns the venue's losses in that run into an **initial shock** on the start graph, runs the
network models on it, and puts each node's **modelled** loss beside what its contracts
**measured on chain** in the same run.

The initial shock (``h0``, distress: a fraction of the node's start equity)
---------------------------------------------------------------------------

Each venue node takes the ``summary.json`` terms of ``system_loss_usd`` that are its own loss
(README, "Intervals and system loss"); ``E0`` is its ``equity_usd`` in ``graph_start.json``:

===================== ===================================================================
node                  loss (USD) taken from ``summary.json``
===================== ===================================================================
``venue``             ``adl_haircut_usd + bad_debt_usd`` (the deficits the venue did not
                      pay its winners, or left as bad debt)
``insurance_fund``    ``insurance_fund_drawdown_usd``
``backstop_vault``    ``backstop_lp_loss_usd`` (its LPs' loss from the share-price drop)
``mm_vault``          ``mm_vault_lp_loss_usd``
===================== ===================================================================

The second venue's nodes (``world.second_venue``) take their loss from the two graphs instead
(``summary.json``'s terms are the first venue's; :data:`GRAPH_SHOCK_NODES`):

========================== ==============================================================
node                       loss (USD) read from ``graph_start`` -> ``graph_end``
========================== ==============================================================
``second_venue``           the increase of its ``shortfall_usd`` (a counterparty pool
                           below 0: the deficits it could not pay; its ADL haircuts are
                           not in the graph and not counted)
``second_insurance_fund``  the fall of its ``equity_usd`` (its balance: payouts net of
                           the penalties it took in the run)
``second_backstop_vault``  the fall of its ``equity_usd`` (``totalAssets``: nobody deposits
                           into or withdraws from it during a run, so the fall is its LPs'
                           loss)
========================== ==============================================================

``h0 = shock_scale · loss / E0``. Nodes of the other protocols (lending pool, synthetic
dollar) start at 0: what reaches them is the contagion. ``h0`` above 1 (the scaled loss exceeds
the node's start equity, or a loss hit a node that started with no equity) is **capped at 1**
and the report says so in its ``notes`` (and the table's caption) with the uncapped figure; a
loss of a node the graph does not have is never applied and is also named in the notes.
``shock`` replaces a node's ``h0`` by hand (before ``shock_scale``, in [0, 1]).

The models (each on ``graph_start``)
------------------------------------

- **DebtRank**, Battiston 2012 and differential (Bardoscia 2015) (:func:`debtrank`): final
  distress ``h``; modelled loss ``h · E0`` USD; a node defaults when ``h = 1``.
- **Eisenberg–Noe** and **Rogers–Veraart** (``rv_alpha``, ``rv_beta``)
  (:func:`eisenberg_noe`, :func:`rogers_veraart`): the shock in USD (``h0 · E0``) is taken from
  each node's ``external_assets_usd`` (what is beyond them is not applied: the clearing models
  have no other asset to take it from, and the notes name the node and the amount); the loss is
  the **payment shortfall** ``p̄ − p``, what the node fails to pay its holders; a node defaults
  when it pays less than it owes.
- **Furfine** (:func:`furfine`): the nodes the shock wipes out (``h0 = 1``) default in round 0;
  the report gives each defaulted node's round.

The chain (graph_start -> graph_end, and the summary)
-----------------------------------------------------

Per node the chain loss is what that protocol lost in the run, in USD (>= 0):

- venue nodes: the same ``summary.json`` term as their shock (unscaled); the second venue's
  nodes: the same graph figure as their shock (unscaled);
- ``lending_pool``: the increase of its ``bad_debt_usd`` (``totalBadDebt``, a cumulative
  write-off) from graph_start to graph_end;
- ``synthetic_dollar``: the fall of its net backing ``backing_usd − supply_usd`` (mints and
  redemptions at par leave it unchanged; a rise is a gain, not a loss, and counts 0);
- a node of another type: no chain loss (``None``), named in the notes.

Beside them each row carries the node's equity at start and end (their difference includes
flows: deposits, withdrawals, supply), its ``shortfall_usd`` at the end, the pool's bad debt and
the synthetic dollar's backing ratio at start and end.

Totals: ``chain_systemic_loss_usd = system_loss_usd + the pool's bad-debt increase + the
synthetic dollar's net-backing fall`` (+ the second venue's nodes' losses) (``systemic_loss_usd`` in ``perpsim compare``), beside
each model's systemic loss: DebtRank ``Σ h · E0``; Eisenberg–Noe / Rogers–Veraart the shock
applied plus ``Σ (p̄ − p)``; Furfine ``Σ E0`` of the defaulted nodes. Every modelled figure
includes the initial shock, as the chain's figure includes the venue's own losses.

>>> import math
>>> capped_shock(30.0, 100.0, 2.0)
(0.6, None)
>>> capped_shock(80.0, 100.0, 2.0)
(1.0, 1.6)
>>> capped_shock(5.0, 0.0, 1.0)[0], math.isinf(capped_shock(5.0, 0.0, 1.0)[1])
(1.0, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from simulator.contagion.cascade import furfine
from simulator.contagion.clearing import SHORTFALL_RTOL, eisenberg_noe, rogers_veraart
from simulator.contagion.debtrank import debtrank
from simulator.contagion.graph_io import CONTAGION_DIR, NODE_NAMES, read_graph, run_graph_paths
from simulator.errors import ContagionError

#: Each venue node's loss: the ``summary.json`` terms (USD) that are its own (module docstring).
SHOCK_TERMS: dict[str, tuple[str, ...]] = {
    "venue": ("adl_haircut_usd", "bad_debt_usd"),
    "insurance_fund": ("insurance_fund_drawdown_usd",),
    "backstop_vault": ("backstop_lp_loss_usd",),
    "mm_vault": ("mm_vault_lp_loss_usd",),
}
#: The second venue's nodes, whose loss is read from the graphs (module docstring): the
#: attribute and whether its increase (``shortfall_usd``) or its fall (``equity_usd``) is lost.
GRAPH_SHOCK_NODES: dict[str, tuple[str, int]] = {
    "second_venue": ("shortfall_usd", 1),
    "second_insurance_fund": ("equity_usd", -1),
    "second_backstop_vault": ("equity_usd", -1),
}
#: The files :func:`write_report` writes.
REPORT_FILES = ("contagion.md", "contagion.json", "contagion_graph.html", "contagion_graph.png")
#: Rogers–Veraart default costs used unless given: a defaulting node realises half of its
#: external assets and 90% of its claims (the example of Rogers and Veraart's docstring here).
RV_ALPHA, RV_BETA = 0.5, 0.9
NO_WORLD = "this run has no contagion world (scenario key world:)"


def capped_shock(loss_usd: float, equity_usd: float, scale: float) -> tuple[float, float | None]:
    """``(h0, uncapped)``: ``h0 = min(1, scale · loss / equity)``; ``uncapped`` is the figure
    before the cap when the cap binds (``inf`` for a loss on zero equity), else ``None``."""
    if loss_usd == 0 or scale == 0:
        return 0.0, None
    raw = math.inf if equity_usd == 0 else scale * loss_usd / equity_usd
    return (1.0, raw) if raw > 1.0 else (raw, None)


def _finite_nonnegative(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ContagionError(f"{what} is not a finite number: {value!r}")
    if value < 0:
        raise ContagionError(f"{what} is negative: {value!r}")
    return float(value)


def check_shock_scale(scale: Any) -> float:
    """``shock_scale`` as a float >= 0 (finite); otherwise a one-line :class:`ContagionError`."""
    return _finite_nonnegative(scale, "shock_scale")


@dataclass(frozen=True)
class RunContagion:
    """What a run folder holds for the report: its summary and its two graphs."""

    run_dir: Path
    summary: dict[str, Any]
    start: nx.DiGraph
    end: nx.DiGraph
    step_start: int
    step_end: int


def read_run_contagion(run_dir: str | Path) -> RunContagion:
    """Read a run folder's ``summary.json`` and ``contagion/graph_{start,end}.json``.

    Raises
    ------
    ContagionError
        The folder does not exist or is not a finished run (no ``summary.json``); it has no
        contagion world (neither graph file: ``"this run has no contagion world (scenario
        key world:)"``); one graph file is missing or unreadable (the message names it).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ContagionError(f"run folder not found: {run_dir}")
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise ContagionError(f"{run_dir} has no summary.json: not a finished run folder")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContagionError(f"{summary_path} is not readable JSON: {exc}") from None
    if not isinstance(summary, dict):
        raise ContagionError(f"{summary_path} is not a run summary (a JSON object)")
    start_path, end_path = run_graph_paths(run_dir)
    if not start_path.exists() and not end_path.exists():
        raise ContagionError(f"{run_dir}: {NO_WORLD}: no {CONTAGION_DIR}/{start_path.name}")
    for path in (start_path, end_path):
        if not path.exists():
            raise ContagionError(f"{run_dir} is missing {CONTAGION_DIR}/{path.name}")
    start, step_start = read_graph(start_path)
    end, step_end = read_graph(end_path)
    return RunContagion(run_dir, summary, start, end, step_start, step_end)


@dataclass
class ContagionReport:
    """The report of one run: per-node rows, totals, notes (see the module docstring).

    ``nodes`` is a list of dicts in ``graph_start``'s node order, each with ``node``,
    ``type``, ``equity_start_usd``, ``shock_loss_usd`` (the unscaled summary loss, venue nodes),
    ``h0``, the models' figures (``debtrank_h``, ``debtrank_loss_usd``, ``debtrank_default``,
    the same with ``differential_``, ``en_shortfall_usd``, ``en_default``, ``rv_shortfall_usd``,
    ``rv_default``, ``furfine_round`` (``None``: survives)) and the chain's
    (``chain_loss_usd``, ``equity_end_usd``, ``shortfall_end_usd``, and for the pool
    ``bad_debt_start_usd`` / ``bad_debt_end_usd``, for the synthetic dollar
    ``backing_ratio_start`` / ``backing_ratio_end``).
    """

    run_dir: Path
    step_start: int
    step_end: int
    shock_scale: float
    rv_alpha: float
    rv_beta: float
    nodes: list[dict[str, Any]]
    totals: dict[str, float]
    notes: list[str] = field(default_factory=list)
    graph: nx.DiGraph = field(default_factory=nx.DiGraph, repr=False)
    """``graph_start`` (the graph the models ran on; the plots draw it)."""

    def row(self, node: Hashable) -> dict[str, Any]:
        """The row of `node`."""
        for r in self.nodes:
            if r["node"] == node:
                return r
        raise KeyError(node)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``contagion.json``."""
        return {
            "run_dir": str(self.run_dir),
            "step_start": self.step_start,
            "step_end": self.step_end,
            "shock_scale": self.shock_scale,
            "rv_alpha": self.rv_alpha,
            "rv_beta": self.rv_beta,
            "nodes": self.nodes,
            "totals": self.totals,
            "notes": self.notes,
            "edges": [
                {"holder": i, "issuer": j, "exposure_usd": d["exposure_usd"]}
                for i, j, d in self.graph.edges(data=True)
            ],
        }


def contagion_report(
    run_dir: str | Path,
    *,
    shock_scale: float = 1.0,
    shock: Mapping[Hashable, float] | None = None,
    rv_alpha: float = RV_ALPHA,
    rv_beta: float = RV_BETA,
) -> ContagionReport:
    """The model-vs-chain report of a run folder (module docstring: shock, models, chain).

    Parameters
    ----------
    run_dir : str or Path
        A finished run folder with ``contagion/graph_start.json`` and ``graph_end.json``.
    shock_scale : float
        Multiplies every node's initial distress (>= 0; 1 is the run's own losses).
    shock : mapping, optional
        ``{node: h0}`` in [0, 1] replacing the mapped distress of those nodes (then scaled).
    rv_alpha, rv_beta : float
        Rogers–Veraart default costs, in [0, 1].

    Raises
    ------
    ContagionError
        The run folder lacks a file (named), a summary loss term is missing, negative or not a
        number, ``shock_scale`` < 0, a ``shock`` outside [0, 1] or naming an unknown node, a
        graph with a negative equity or exposure (the algorithms' own checks).
    """
    scale = check_shock_scale(shock_scale)
    run = read_run_contagion(run_dir)
    return report_from_graphs(
        run, shock_scale=scale, shock=shock, rv_alpha=rv_alpha, rv_beta=rv_beta
    )


def _attr(G: nx.DiGraph, node: Hashable, name: str, default: Any = None) -> Any:
    return G.nodes[node].get(name, default) if node in G else default


def summary_loss(summary: Mapping[str, Any], node: str) -> float:
    """`node`'s loss in USD from the summary terms of :data:`SHOCK_TERMS` (checked >= 0)."""
    total = 0.0
    for key in SHOCK_TERMS[node]:
        if key not in summary or summary[key] is None:
            raise ContagionError(f"summary.json has no {key} (the {node}'s loss)")
        total += _finite_nonnegative(summary[key], f"summary.json {key}")
    return total


def graph_loss(run: RunContagion, node: str) -> float:
    """A node of :data:`GRAPH_SHOCK_NODES`: its loss in USD between ``run.start`` and
    ``run.end`` (>= 0; a gain counts 0)."""
    name, sign = GRAPH_SHOCK_NODES[node]
    change = _attr(run.end, node, name, 0.0) - _attr(run.start, node, name, 0.0)
    return max(0.0, sign * change)


def chain_losses(run: RunContagion, notes: list[str] | None = None) -> dict[Hashable, float | None]:
    """Each node's loss on chain in the run, USD (module docstring, "The chain")."""
    out: dict[Hashable, float | None] = {}
    nodes = list(run.start) + [n for n in run.end if n not in run.start]
    for node in nodes:
        kind = _attr(run.start, node, "type", _attr(run.end, node, "type"))
        if node in SHOCK_TERMS:
            out[node] = summary_loss(run.summary, node)
        elif node in GRAPH_SHOCK_NODES:
            out[node] = graph_loss(run, node)
        elif kind == "lending_pool":
            before = _attr(run.start, node, "bad_debt_usd", 0.0)
            after = _attr(run.end, node, "bad_debt_usd", 0.0)
            if after < before:
                raise ContagionError(
                    f"{node}: bad_debt_usd fell from {before:g} to {after:g} USD between the "
                    "graphs (totalBadDebt only grows): are they from the same run?"
                )
            out[node] = after - before
        elif kind == "synthetic_dollar":
            net = [
                _attr(g, node, "backing_usd", 0.0) - _attr(g, node, "supply_usd", 0.0)
                for g in (run.start, run.end)
            ]
            out[node] = max(0.0, net[0] - net[1])
        else:
            out[node] = None
            if notes is not None:
                notes.append(f"{node} ({kind}): no chain loss is defined for its type")
    return out


def systemic_loss(run: RunContagion) -> float:
    """Chain-measured systemic loss, USD: the summary's ``system_loss_usd`` plus the other
    protocols' chain losses (the pool's bad-debt increase, the synthetic dollar's net-backing
    fall, the second venue's nodes' losses); :func:`chain_losses` of the venue nodes are
    already in ``system_loss_usd``."""
    base = _finite_nonnegative(run.summary.get("system_loss_usd"), "summary.json system_loss_usd")
    losses = chain_losses(run)
    return base + sum(v for n, v in losses.items() if n not in SHOCK_TERMS and v is not None)


def initial_shock(
    run: RunContagion,
    shock_scale: float,
    shock: Mapping[Hashable, float] | None,
    notes: list[str],
) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
    """``({node: h0}, {node: unscaled loss USD})`` on ``run.start``; the caps and the losses
    not applied are appended to ``notes``."""
    G = run.start
    # {node: (numerator, denominator)} of the unscaled distress: loss / start equity, or h / 1
    ratio: dict[Hashable, tuple[float, float]] = {}
    losses: dict[Hashable, float] = {}
    for node in SHOCK_TERMS:
        loss = summary_loss(run.summary, node)
        if node not in G:
            if loss > 0:
                notes.append(
                    f"{node}: its loss of {loss:,.2f} USD is not applied (not in the graph)"
                )
            continue
        losses[node] = loss
        ratio[node] = (loss, float(G.nodes[node].get("equity_usd", 0.0)))
    for node in GRAPH_SHOCK_NODES:
        if node in G:
            losses[node] = loss = graph_loss(run, node)
            ratio[node] = (loss, float(G.nodes[node].get("equity_usd", 0.0)))
    for node, value in (shock or {}).items():
        if node not in G:
            raise ContagionError(f"shock names {node!r}, which is not a node of the graph")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ContagionError(f"shock for {node!r} is {value!r}: it must be in [0, 1]")
        ratio[node] = (float(value), 1.0)
    out = {}
    for node, (numerator, denominator) in ratio.items():
        h, uncapped = capped_shock(numerator, denominator, shock_scale)
        if uncapped is not None:
            why = (
                "its start equity is 0"
                if math.isinf(uncapped)
                else f"shock_scale {shock_scale:g} x loss / start equity = {uncapped:.4g}"
            )
            notes.append(f"{node}: initial distress capped at 1 ({why})")
        out[node] = h
    return out, losses


def _apply_to_external_assets(
    G: nx.DiGraph, h0: Mapping[Hashable, float], notes: list[str]
) -> nx.DiGraph:
    """A copy of `G` with each node's shock in USD (``h0 · E0``) taken from its external
    assets; what exceeds them is named in `notes`."""
    H = G.copy()
    for node, h in h0.items():
        loss = h * float(G.nodes[node].get("equity_usd", 0.0))
        external = float(G.nodes[node].get("external_assets_usd", 0.0))
        taken = min(loss, external)
        H.nodes[node]["external_assets_usd"] = external - taken
        if loss - taken > 0.005:
            notes.append(
                f"{node}: Eisenberg-Noe/Rogers-Veraart take {taken:,.2f} of its {loss:,.2f} USD "
                f"shock from its external assets; the other {loss - taken:,.2f} USD is not applied"
            )
    return H


def _obligations(G: nx.DiGraph) -> dict[Hashable, float]:
    """``p̄``: what each node owes, the sum of the exposures on its in-edges."""
    return {n: sum(d["exposure_usd"] for _, _, d in G.in_edges(n, data=True)) for n in G}


def report_from_graphs(
    run: RunContagion,
    *,
    shock_scale: float = 1.0,
    shock: Mapping[Hashable, float] | None = None,
    rv_alpha: float = RV_ALPHA,
    rv_beta: float = RV_BETA,
) -> ContagionReport:
    """:func:`contagion_report` on a run already read (the app recomputes with other scales)."""
    scale = check_shock_scale(shock_scale)
    notes: list[str] = []
    G = run.start
    h0, shock_losses = initial_shock(run, scale, shock, notes)
    battiston = debtrank(G, h0)
    differential = debtrank(G, h0, variant="differential")
    H = _apply_to_external_assets(G, h0, notes)
    owed = _obligations(G)
    en = eisenberg_noe(H)
    rv = rogers_veraart(H, rv_alpha, rv_beta)
    failed = furfine(G, [n for n, h in h0.items() if h >= 1.0])
    chain = chain_losses(run, notes)

    rows = []
    for node, data in G.nodes(data=True):
        e0 = float(data.get("equity_usd", 0.0))
        h = h0.get(node, 0.0)

        def shortfall(p: Mapping[Hashable, float], node=node) -> float:
            return max(0.0, owed[node] - p[node])

        def defaults(p: Mapping[Hashable, float], node=node) -> bool:
            return owed[node] > 0 and p[node] < owed[node] * (1 - SHORTFALL_RTOL)

        row = {
            "node": node,
            "type": data.get("type"),
            "equity_start_usd": e0,
            "shock_loss_usd": shock_losses.get(node),
            "h0": h,
            "shock_usd": h * e0,
            "debtrank_h": battiston[node],
            "debtrank_loss_usd": battiston[node] * e0,
            "debtrank_default": battiston[node] >= 1.0,
            "differential_h": differential[node],
            "differential_loss_usd": differential[node] * e0,
            "differential_default": differential[node] >= 1.0,
            "obligations_usd": owed[node],
            "en_shortfall_usd": shortfall(en),
            "en_default": defaults(en),
            "rv_shortfall_usd": shortfall(rv),
            "rv_default": defaults(rv),
            "furfine_round": failed.get(node),
            "chain_loss_usd": chain.get(node),
            "equity_end_usd": _attr(run.end, node, "equity_usd"),
            "shortfall_end_usd": _attr(run.end, node, "shortfall_usd", 0.0)
            if node in run.end
            else None,
        }
        if data.get("type") == "lending_pool":
            row["bad_debt_start_usd"] = data.get("bad_debt_usd")
            row["bad_debt_end_usd"] = _attr(run.end, node, "bad_debt_usd")
        if data.get("type") == "synthetic_dollar":
            row["backing_ratio_start"] = data.get("backing_ratio")
            row["backing_ratio_end"] = _attr(run.end, node, "backing_ratio")
        rows.append(row)
    for node in run.end:
        if node not in G:
            notes.append(f"{node}: in graph_end but not in graph_start (not modelled)")

    shock_usd = sum(r["shock_usd"] for r in rows)
    totals = {
        "shock_usd": shock_usd,
        "debtrank_loss_usd": sum(r["debtrank_loss_usd"] for r in rows),
        "differential_loss_usd": sum(r["differential_loss_usd"] for r in rows),
        "en_loss_usd": shock_usd + sum(r["en_shortfall_usd"] for r in rows),
        "rv_loss_usd": shock_usd + sum(r["rv_shortfall_usd"] for r in rows),
        "furfine_loss_usd": sum(
            r["equity_start_usd"] for r in rows if r["furfine_round"] is not None
        ),
        "chain_systemic_loss_usd": systemic_loss(run),
        "system_loss_usd": float(run.summary["system_loss_usd"]),
    }
    return ContagionReport(
        run_dir=run.run_dir,
        step_start=run.step_start,
        step_end=run.step_end,
        shock_scale=scale,
        rv_alpha=rv_alpha,
        rv_beta=rv_beta,
        nodes=rows,
        totals=totals,
        notes=notes,
        graph=G,
    )


#: The model-vs-chain table's columns (:func:`table_rows`): the models' figures, then the
#: chain's.
TABLE_COLUMNS = (
    "node",
    "type",
    "equity start",
    "shock h0",
    "DebtRank loss",
    "diff. DebtRank loss",
    "EN shortfall",
    "RV shortfall",
    "Furfine",
    "chain loss",
    "chain: start -> end",
)
MODEL_COLUMNS = TABLE_COLUMNS[4:9]
CHAIN_COLUMNS = TABLE_COLUMNS[9:]


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _flag(text: str, default: bool) -> str:
    return f"{text} (default)" if default else text


def _chain_detail(r: Mapping[str, Any]) -> str:
    parts = [f"equity {_money(r['equity_start_usd'])} -> {_money(r['equity_end_usd'])}"]
    if r.get("shortfall_end_usd"):
        parts.append(f"shortfall {_money(r['shortfall_end_usd'])}")
    if "bad_debt_start_usd" in r:
        parts.append(
            f"bad debt {_money(r['bad_debt_start_usd'])} -> {_money(r['bad_debt_end_usd'])}"
        )
    if "backing_ratio_start" in r:
        start, end = r["backing_ratio_start"], r["backing_ratio_end"]
        parts.append(
            "backing ratio " + " -> ".join("-" if v is None else f"{v:.4f}" for v in (start, end))
        )
    return "; ".join(parts)


def table_rows(report: ContagionReport) -> list[dict[str, str]]:
    """The model-vs-chain table as text cells, one dict per node plus a ``total`` row (keys
    :data:`TABLE_COLUMNS`; money in USD; EN: Eisenberg–Noe, RV: Rogers–Veraart). A model's
    ``(default)`` marks a node it has defaulting."""
    rows = []
    for r in report.nodes:
        furfine_cell = "-" if r["furfine_round"] is None else f"round {r['furfine_round']}"
        rows.append(
            dict(
                zip(
                    TABLE_COLUMNS,
                    (
                        str(r["node"]),
                        str(r["type"]),
                        _money(r["equity_start_usd"]),
                        f"{r['h0']:.4f}",
                        _flag(_money(r["debtrank_loss_usd"]), r["debtrank_default"]),
                        _flag(_money(r["differential_loss_usd"]), r["differential_default"]),
                        _flag(_money(r["en_shortfall_usd"]), r["en_default"]),
                        _flag(_money(r["rv_shortfall_usd"]), r["rv_default"]),
                        furfine_cell,
                        _money(r["chain_loss_usd"]),
                        _chain_detail(r),
                    ),
                    strict=True,
                )
            )
        )
    t = report.totals
    rows.append(
        dict(
            zip(
                TABLE_COLUMNS,
                (
                    "total",
                    "",
                    _money(sum(r["equity_start_usd"] for r in report.nodes)),
                    f"{_money(t['shock_usd'])} USD",
                    _money(t["debtrank_loss_usd"]),
                    _money(t["differential_loss_usd"]),
                    _money(t["en_loss_usd"]),
                    _money(t["rv_loss_usd"]),
                    _money(t["furfine_loss_usd"]),
                    _money(t["chain_systemic_loss_usd"]),
                    f"system_loss_usd {_money(t['system_loss_usd'])} + the other protocols'",
                ),
                strict=True,
            )
        )
    )
    return rows


def caption(report: ContagionReport) -> str:
    """What the table is, in one paragraph (the markdown, the CLI, the app)."""
    return (
        f"Model vs chain for {report.run_dir}: the venue's losses in the run as the initial "
        f"shock (h0 = loss / start equity, x shock_scale {report.shock_scale:g}, capped at 1) on "
        f"the graph at step {report.step_start}; the chain's figures from step "
        f"{report.step_start} to step {report.step_end}. Models: DebtRank loss = h x start "
        "equity; Eisenberg-Noe / Rogers-Veraart (alpha "
        f"{report.rv_alpha:g}, beta {report.rv_beta:g}): what the node fails to pay its holders; "
        "Furfine: the round a node defaults in (EN: Eisenberg-Noe, RV: Rogers-Veraart). Total row: each model's systemic loss (the shock "
        "included; clearing models: shock + shortfalls; Furfine: the defaulted nodes' start "
        "equity) and the chain's systemic loss. USD."
    )


def render_markdown(report: ContagionReport) -> str:
    """``contagion.md``: caption, table, notes, the graph pictures' file names."""
    rows = table_rows(report)
    lines = [
        f"# Contagion: {report.run_dir.name}",
        "",
        caption(report),
        "",
        "| " + " | ".join(TABLE_COLUMNS) + " |",
        "|" + "|".join("---" if c in ("node", "type") else "---:" for c in TABLE_COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(r[c] for c in TABLE_COLUMNS) + " |" for r in rows]
    lines += ["", "## Notes", ""]
    lines += [f"- {n}" for n in report.notes] or ["- none: no cap bound, every loss applied"]
    lines += [
        "",
        "The graph: `contagion_graph.html` (interactive), `contagion_graph.png`; every figure: "
        "`contagion.json`.",
        "",
    ]
    return "\n".join(lines)


def write_report(report: ContagionReport, out_dir: str | Path) -> list[Path]:
    """Write :data:`REPORT_FILES` into `out_dir` (created if needed), each atomically;
    returns their paths. The pictures are drawn first, so a failure leaves no half set of
    new files behind."""
    from simulator.contagion.plots import graph_figure, write_graph_png
    from simulator.results.atomic import atomic_write_json, atomic_write_text

    out_dir = Path(out_dir)
    html = graph_figure(report).to_html(include_plotlyjs=True, full_html=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in REPORT_FILES]
    atomic_write_text(paths[0], render_markdown(report))
    atomic_write_json(paths[1], report.to_dict())
    atomic_write_text(paths[2], html)
    write_graph_png(report, paths[3])
    return paths


#: The nodes :func:`simulator.contagion.graph.holdings_graph` can give (``--shock`` names).
GRAPH_NODES = NODE_NAMES


def parse_shocks(texts: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``--shock NODE=H`` options as ``{node: h}``: a node of :data:`GRAPH_NODES`, ``h`` in
    [0, 1], each node once; otherwise a one-line :class:`ContagionError`.

    >>> parse_shocks(["venue=0.5", "lending_pool=1"])
    {'venue': 0.5, 'lending_pool': 1.0}
    """
    out: dict[str, float] = {}
    for text in texts:
        node, sep, value = text.partition("=")
        node = node.strip()
        if not sep:
            raise ContagionError(f"--shock {text!r}: give NODE=H, e.g. venue=0.5")
        if node not in GRAPH_NODES:
            raise ContagionError(
                f"--shock {text!r}: {node!r} is not one of {', '.join(GRAPH_NODES)}"
            )
        if node in out:
            raise ContagionError(f"--shock names {node} twice")
        try:
            h = float(value)
        except ValueError:
            raise ContagionError(f"--shock {text!r}: {value!r} is not a number") from None
        if not 0.0 <= h <= 1.0:  # NaN fails too
            raise ContagionError(f"--shock {text!r}: {value} is outside [0, 1]")
        out[node] = h
    return out


def scenario_run_dir(
    scenario: Any,
    out_dir: str | Path | None,
    *,
    backend: str = "anvil",
    progress: Any = None,
) -> Path:
    """The run folder of `scenario` for ``perpsim contagion SCENARIO``: the scenario must deploy
    the contagion world (scenario key ``world:``); a complete run of the same scenario, code
    and contracts already in `out_dir` is reused (:func:`~simulator.results.check_same_run`:
    another run there is refused, naming what differs), otherwise the scenario runs there
    through :func:`~simulator.runner.run_scenario` (which refuses a folder holding anything
    else). Default folder ``runs/<name>-seed<seed>``, as ``perpsim run``'s."""
    from simulator.results import check_same_run, code_hash, read_manifest
    from simulator.runner import bytecode_hashes, run_scenario

    if getattr(scenario, "world", None) is None:
        raise ContagionError(f"scenario {scenario.name}: {NO_WORLD}")
    run_dir = (
        Path(out_dir)
        if out_dir is not None
        else Path("runs") / (f"{scenario.name}-seed{scenario.seed}")
    )
    manifest = read_manifest(run_dir) if run_dir.is_dir() else None
    if manifest is not None and manifest.get("status") == "complete":
        check_same_run(
            manifest,
            scenario,
            code_hash(),
            bytecode_hashes(),
            prefix=f"{run_dir} holds a different run",
            way_out="give another --out, or run perpsim contagion on that folder itself",
        )
        return run_dir
    run_scenario(scenario, run_dir, backend=backend, progress=progress)
    return run_dir


#: The systemic-loss figures ``perpsim compare`` adds for runs with a contagion world.
SYSTEMIC_METRICS = ("systemic_loss_usd", "systemic_loss_debtrank_usd")


def systemic_loss_figures(run_dir: str | Path) -> dict[str, float]:
    """``{"systemic_loss_usd": chain, "systemic_loss_debtrank_usd": modelled}`` of a run folder
    with a contagion world; ``{}`` for a run without one (no ``contagion/`` graph file), so a
    comparison shows the figure as absent there, never as 0.

    ``systemic_loss_usd`` is :func:`systemic_loss` (the summary's ``system_loss_usd`` + the
    lending pool's bad-debt increase + the synthetic dollar's net-backing fall, from the graph
    files); ``systemic_loss_debtrank_usd`` is DebtRank's (Battiston) ``Σ h · E0`` for the run's
    own losses (``shock_scale`` 1), the shock included.
    """
    start, end = run_graph_paths(run_dir)
    if not start.exists() and not end.exists():
        return {}
    report = contagion_report(run_dir)
    return {
        "systemic_loss_usd": report.totals["chain_systemic_loss_usd"],
        "systemic_loss_debtrank_usd": report.totals["debtrank_loss_usd"],
    }
