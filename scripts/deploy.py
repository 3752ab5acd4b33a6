"""``ape run deploy``: deploy a whole multi-market perpsim venue to the network ape is connected to.

The same library functions as ``perpsim deploy`` (``simulator.cli.deploy_params`` and
``simulator.protocol.venue_deploy.deploy_multi_venue``, wired as the preset says), reached
through ape's provider URI, so ape's network options apply, e.g.
``ape run deploy --network ethereum:local:foundry --preset dydx-like --markets BTC,ETH,SOL``.
Prints one ``name: address`` line per contract (per-market ones as ``oracle.BTC``) and one
``market.SYMBOL: id`` line per market. Bad input is one line ``error: ...`` and exit code 2.
"""

import click

from scripts._ape_cli import PerpsimApeCommand, rpc_url_of
from simulator.chain.artifacts import load_artifacts
from simulator.chain.rpc import RpcClient
from simulator.chain.rpc_chain import RpcChain
from simulator.cli import deploy_params, handles_errors
from simulator.protocol.params import preset_names
from simulator.protocol.venue_deploy import deploy_multi_venue


@click.command(cls=PerpsimApeCommand)
@click.option(
    "--preset", type=click.Choice(preset_names()), default="hyperliquid-like", show_default=True
)
@click.option(
    "--markets",
    default=None,
    metavar="SYM[,SYM...]",
    help="Markets to list, in this order (default: every market of the preset's table).",
)
@handles_errors
def cli(provider, preset, markets):
    """Deploy the multi-market venue of PRESET and print its contract addresses."""
    params = deploy_params(preset, markets)
    chain = RpcChain(RpcClient(rpc_url_of(provider)), load_artifacts().registry)
    with_vault = params.buffers.backstop_enabled
    mv = deploy_multi_venue(chain, params, with_backstop_vault=with_vault, deploy_unwired=True)
    for symbol, market in mv.ids.items():
        click.echo(f"market.{symbol}: {market}")
    for name, address in mv.addresses().items():
        click.echo(f"{name}: {address}")
