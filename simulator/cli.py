"""The ``perpsim`` command line.

Exit codes: 0 success; 2 bad input or environment (one line on stderr: ``error: ...``);
130 interrupted. Any other failure is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from simulator.errors import PerpsimError

err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handles_errors(fn: Callable) -> Callable:
    """Turn user-caused errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PerpsimError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)

    return wrapper


def chain_options(fn: Callable) -> Callable:
    """``--rpc`` / ``--fork-url`` / ``--fork-block`` / ``--port``: where the contracts run."""
    fn = click.option("--port", type=click.IntRange(1, 65535), default=None,
                      help="Port for the embedded anvil (default: a free one).")(fn)  # fmt: skip
    fn = click.option("--fork-block", type=int, default=None,
                      help="Block number to fork at (with --fork-url).")(fn)  # fmt: skip
    fn = click.option("--fork-url", default=None, metavar="URL",
                      help="Start anvil as a local fork of this RPC endpoint.")(fn)  # fmt: skip
    fn = click.option("--rpc", "rpc_url", default=None, metavar="URL",
                      help="Use an existing node instead of starting anvil.")(fn)  # fmt: skip
    return fn


def _open(rpc_url, fork_url, fork_block, port):
    from simulator.chain import AnvilConfig, open_chain

    return open_chain(rpc_url, fork_url, fork_block, AnvilConfig(port=port))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="perpsim")
def main() -> None:
    """perpsim: run real perpetual-futures contracts on a local chain under shocks."""


@main.command()
@chain_options
@click.option("--json", "as_json", is_flag=True, help="Print addresses as JSON.")
@handles_errors
def deploy(rpc_url, fork_url, fork_block, port, as_json) -> None:
    """Deploy the protocol contracts and print their addresses."""
    from simulator.chain import deploy_venue

    with _open(rpc_url, fork_url, fork_block, port) as chain:
        venue = deploy_venue(chain)
        info = {
            "rpc": chain.url,
            "chain_id": chain.chain_id,
            "block": chain.block_number(),
            "embedded": chain.node is not None,
            "contracts": venue.addresses(),
        }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    table = Table(
        title=f"Deployed on chain {info['chain_id']} ({info['rpc']}, block {info['block']})"
    )
    table.add_column("contract")
    table.add_column("address")
    for name, address in info["contracts"].items():
        table.add_row(name, address)
    Console().print(table)
    if info["embedded"]:
        click.echo("(embedded anvil: stopped on exit; use --rpc URL to deploy to a node you keep)")


@main.command(name="compile")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="ape project folder (default: this repository).")  # fmt: skip
@handles_errors
def compile_cmd(project: Path | None) -> None:
    """Compile the contracts (ape + solcjs); report the first error as file:line:col."""
    from simulator.chain.artifacts import compile_project
    from simulator.paths import PROJECT_ROOT

    root = project or PROJECT_ROOT
    if not (root / "ape-config.yaml").is_file():
        raise PerpsimError(f"{root} is not an ape project (no ape-config.yaml)")
    compile_project(root)
    click.echo(f"contracts in {root / 'contracts'} compiled")


@main.group()
def bench() -> None:
    """Performance benchmarks (figures measured side by side in one run)."""


@bench.command(name="chain")
@click.option("--transactions", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--agents", type=click.IntRange(min=1), default=1_000, show_default=True)
@click.option("--block-size", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Calls per block for the batched path.")  # fmt: skip
@click.option("--ape-sample", type=click.IntRange(min=1), default=300, show_default=True,
              help="Transfers sent through ape's per-transaction path.")  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--rpc", "rpc_url", default=None, metavar="URL", help="Bench an existing node.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_chain(transactions, agents, block_size, ape_sample, seed, rpc_url, as_json) -> None:
    """Batched sender vs ape's per-transaction path on the same transfer workload."""
    from benchmarks.chain import run

    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    figures = run(
        agents=agents,
        transactions=transactions,
        block_size=block_size,
        ape_sample=ape_sample,
        seed=seed,
        rpc_url=rpc_url,
        progress=progress,
    )
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    table = Table(title="perpsim bench chain: collateral transfers from distinct agents")
    for col in ("path", "transactions", "seconds", "tx/s"):
        table.add_column(col, justify="right" if col != "path" else "left")
    for name, key in (
        ("batched sender", "batched"),
        ("ape per-transaction", "ape_per_transaction"),
    ):
        f = figures[key]
        table.add_row(name, str(f["transactions"]), f"{f['seconds']:.2f}", f"{f['tx_per_s']:,.0f}")
    Console().print(table)
    click.echo(f"speedup: {figures['speedup']}x")


if __name__ == "__main__":  # pragma: no cover
    main()
