"""``ape run deploy``: deploy the perpsim venue to the network ape is connected to.

The same library function as ``perpsim deploy`` (simulator.chain.deploy_venue), reached through
ape's provider URI, so ape's network options (``--network ethereum:local:foundry``) apply.
"""

import click
from ape.cli import ConnectedProviderCommand

from simulator.chain import deploy_venue
from simulator.chain.artifacts import load_artifacts
from simulator.chain.rpc import RpcClient
from simulator.chain.rpc_chain import RpcChain


@click.command(cls=ConnectedProviderCommand)
def cli(provider):
    """Deploy the venue and print contract addresses."""
    chain = RpcChain(RpcClient(provider.uri), load_artifacts().registry)
    venue = deploy_venue(chain)
    for name, address in venue.addresses().items():
        click.echo(f"{name}: {address}")
