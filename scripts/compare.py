"""``ape run compare``: perpsim's control-set comparison on the node of ape's ``--network``.

The same library function as ``perpsim compare`` (``simulator.compare.run_compare``), with every
run on the node ape's network options pick (reached through the provider's RPC URL), one after
another, e.g. ``ape run compare oct-2025 --controls baseline,adl_pro_rata --paths 2 --network
ethereum:local:foundry``. Outputs as ``perpsim compare``'s; bad input is one line ``error: ...``
and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import click

from scripts._ape_cli import PerpsimApeCommand, progress_bar, rpc_url_of
from simulator.cli import compare_scenario_options, handles_errors, print_comparison


@click.command(cls=PerpsimApeCommand)
@click.argument("scenario")
@compare_scenario_options
@click.option("--resume", is_flag=True,
              help="Reuse the finished runs of the same comparison in --out and continue the "
                   "others (each checked to be the same run).")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace the comparison in --out.")
@handles_errors
def cli(provider, scenario, controls, paths, out_dir, overrides, resume, overwrite):
    """Run SCENARIO's price paths under each control set on ape's network; print the table."""
    from simulator.compare import run_compare
    from simulator.scenario import load_scenario

    rpc_url = rpc_url_of(provider)
    names = controls
    sc = load_scenario(scenario, list(overrides))
    out_dir = out_dir or Path("runs") / f"compare-{sc.name}"
    bar, update = progress_bar(f"compare {sc.name} on {provider.network_choice}")
    with bar:
        outcome = run_compare(
            sc, names, paths, out_dir, progress=update, rpc_url=rpc_url,
            resume=resume, overwrite=overwrite,
        )  # fmt: skip
    print_comparison(outcome, f"ape run compare: {sc.name}")
    click.echo(
        f"table: {out_dir / 'compare.csv'}  report: {out_dir / 'report.md'}  runs: {out_dir / 'runs'}"
    )
