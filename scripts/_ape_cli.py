"""Shared parts of perpsim's ape scripts (``ape run simulate``, ``ape run compare``).

ape skips script files whose name starts with ``_``, so this module is not a command itself.
The scripts reach the node of ape's ``--network`` through the provider's RPC URL and call the
same library functions as the ``perpsim`` command; bad input ends as perpsim's does: one line
``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Any

import click
from ape.cli import ConnectedProviderCommand

from simulator.errors import PerpsimError


class PerpsimApeCommand(ConnectedProviderCommand):
    """ape's connected-provider command whose usage errors (a value out of range, a missing
    argument, an unknown option or network) are one line ``error: ...`` and exit 2, as in
    ``perpsim``, instead of click's usage block."""

    def invoke(self, ctx: click.Context):
        from ape.exceptions import ApeException

        try:
            return super().invoke(ctx)
        except ApeException as exc:  # connecting to the network failed (the callback's own
            # errors are PerpsimErrors, turned into one line by handles_errors)
            message = " ".join(str(exc).split())
            network = getattr(ctx.params.get("network"), "network_choice", None) or "the network"
            click.echo(f"error: ape could not connect to {network}: {message}", err=True)
            ctx.exit(2)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            message = " ".join(exc.format_message().split())
            click.echo(f"error: {message}", err=True)
            ctx.exit(2)


def rpc_url_of(provider: Any) -> str:
    """The JSON-RPC URL of ape's connected provider (the node perpsim's chain layer uses).

    perpsim's hot loop needs anvil's dev methods, so the provider must be a node with an HTTP
    endpoint (ape-foundry's local or fork networks, or a node reached by URL)."""
    if provider.name == "test":
        raise PerpsimError(
            "ape's test provider is an in-process EVM, not a node; perpsim needs an anvil node: "
            "use --network ethereum:local:foundry or an ape-foundry fork network"
        )
    url = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not isinstance(url, str) or not url.startswith("http"):
        raise PerpsimError(
            f"ape's provider {provider.name!r} has no HTTP RPC URL; perpsim needs an anvil node: "
            "use --network ethereum:local:foundry or an ape-foundry fork network"
        )
    return url


def progress_bar(label: str):
    """A rich progress bar on stderr and its ``(done, total, ...)`` callback: ``perpsim``'s own
    (:func:`simulator.cli._progress_printer`), as ``(bar, update)``."""
    from simulator.cli import _progress_printer

    update, bar = _progress_printer("bar", label)
    return bar, update
