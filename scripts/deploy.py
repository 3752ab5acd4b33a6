"""``ape run deploy``: deploy a whole perpsim venue to the network ape is connected to.

The same library function as ``perpsim deploy`` (``simulator.protocol.deploy.deploy_venue``),
reached through ape's provider URI, so ape's network options apply, e.g.
``ape run deploy --network ethereum:local:foundry --preset dydx-like``. Bad input is one line
``error: ...`` and exit code 2.
"""

import click

from scripts._ape_cli import PerpsimApeCommand, rpc_url_of
from simulator.chain.artifacts import load_artifacts
from simulator.chain.rpc import RpcClient
from simulator.chain.rpc_chain import RpcChain
from simulator.cli import handles_errors
from simulator.protocol.deploy import deploy_venue
from simulator.protocol.params import load_preset, preset_names


@click.command(cls=PerpsimApeCommand)
@click.option(
    "--preset", type=click.Choice(preset_names()), default="hyperliquid-like", show_default=True
)
@handles_errors
def cli(provider, preset):
    """Deploy the venue of PRESET and print its contract addresses."""
    chain = RpcChain(RpcClient(rpc_url_of(provider)), load_artifacts().registry)
    venue = deploy_venue(chain, load_preset(preset))
    for name, address in venue.addresses().items():
        click.echo(f"{name}: {address}")
