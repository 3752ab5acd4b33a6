"""``ape run simulate``: one perpsim run on the node of ape's ``--network``.

The same library function as ``perpsim run`` (``simulator.runner.run_scenario``), reached through
the RPC URL of ape's provider, so ape's network options pick the node, e.g.
``ape run simulate oct-2025 --network ethereum:local:foundry`` (ape-foundry starts anvil) or an
ape-foundry fork network such as ``--network ethereum:mainnet-fork:foundry``. The run folder is
the same as ``perpsim run``'s; bad input is one line ``error: ...`` and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from scripts._ape_cli import PerpsimApeCommand, progress_bar, rpc_url_of
from simulator.cli import handles_errors, run_scenario_options


@click.command(cls=PerpsimApeCommand)
@click.argument("scenario")
@run_scenario_options
@click.option("--overwrite", is_flag=True, help="Replace a complete run folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_errors
def cli(provider, scenario, out_dir, seed, steps, overrides, overwrite, as_json):
    """Run SCENARIO (a preset name such as oct-2025, or a YAML file) on ape's network."""
    from rich.console import Console
    from rich.table import Table

    from simulator.runner import run_scenario
    from simulator.scenario import load_scenario

    rpc_url = rpc_url_of(provider)
    sc = load_scenario(scenario, list(overrides))
    updates = {k: v for k, v in (("seed", seed), ("steps", steps)) if v is not None}
    if updates:
        sc = sc.with_overrides(updates)
    out_dir = out_dir or Path("runs") / f"{sc.name}-seed{sc.seed}"
    bar, update = progress_bar(f"{sc.name} on {provider.network_choice}")
    with bar:
        result = run_scenario(sc, out_dir, rpc_url=rpc_url, overwrite=overwrite, progress=update)
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
        return
    table = Table(title=f"ape run simulate: {result.run_dir} ({provider.network_choice})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.summary.items():
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    Console().print(table)
