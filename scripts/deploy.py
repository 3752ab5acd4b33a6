"""``ape run deploy``: deploy a whole perpsim venue to the network ape is connected to.

The same library function as ``perpsim deploy`` (``simulator.protocol.deploy.deploy_venue``),
reached through ape's provider URI, so ape's network options apply, e.g.
``ape run deploy --network ethereum:local:foundry --preset dydx-like``.
"""

import click
from ape.cli import ConnectedProviderCommand

from simulator.chain.artifacts import load_artifacts
from simulator.chain.rpc import RpcClient
from simulator.chain.rpc_chain import RpcChain
from simulator.protocol.deploy import deploy_venue
from simulator.protocol.params import load_preset, preset_names


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--preset", type=click.Choice(preset_names()), default="hyperliquid-like", show_default=True
)
def cli(provider, preset):
    """Deploy the venue of PRESET and print its contract addresses."""
    chain = RpcChain(RpcClient(provider.uri), load_artifacts().registry)
    venue = deploy_venue(chain, load_preset(preset))
    for name, address in venue.addresses().items():
        click.echo(f"{name}: {address}")
