"""The ``perpsim`` command line.

Exit codes: 0 success; 2 bad input or environment (one line on stderr: ``error: ...``);
130 interrupted. Any other failure is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import select
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from simulator.errors import PerpsimError

err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    """Print ``error: <message>`` as one line on stderr (if stderr is still open) and exit."""
    try:
        click.echo(f"error: {' '.join(str(message).split())}", err=True)
    except OSError as exc:  # stderr is a closed pipe: nowhere to say it
        if exc.errno != errno.EPIPE:
            raise
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


def _pipe_closed(stream) -> bool:
    """Whether ``stream`` is a pipe whose reader has gone (Linux: poll reports POLLERR)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    try:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _drop_closed_stdout() -> None:
    """Point stdout at /dev/null so nothing more (not even the final flush) hits the closed
    pipe (the pattern of Python's ``signal`` documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def usage_error_text(exc: click.ClickException) -> str:
    """One line for one of click's own errors: ``--steps: 0 is not in the range x>=1 (see
    'perpsim run --help')``; the option (or argument) first, then what is wrong."""
    if (
        isinstance(exc, click.BadParameter)
        and not isinstance(exc, click.MissingParameter)
        and exc.param is not None
    ):
        param = exc.param
        if isinstance(param, click.Option):
            name = "/".join(sorted(param.opts, key=len, reverse=True)[:1])
        else:
            name = param.human_readable_name
        text = f"{name}: {exc.message}"
    else:
        text = exc.format_message()
    text = " ".join(text.split()).rstrip(".").replace("? Did you mean", "?; did you mean")
    text = text.replace(" Did you mean", "; did you mean")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        text += f" (see '{ctx.command_path} --help')"
    return text


class PerpsimGroup(click.Group):
    """The ``perpsim`` group: every error of every subcommand is one line on stderr.

    click's own errors (a value out of range, a missing argument, an unknown option or
    command, a bad choice) would print a usage block; here they become ``error: ...`` with
    exit code 2, like :class:`~simulator.errors.PerpsimError`. ``--help`` and ``--version``
    exit 0. A stdout closed by its reader (``perpsim ... | head``) is dropped quietly once the
    command's work is done; Ctrl-C exits 130.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _fail(usage_error_text(exc), 2)
        except click.Abort:
            _fail("interrupted", 130)
        except PerpsimError as exc:
            _fail(str(exc), exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context):
        # Here rather than in main: click's main turns a broken pipe into exit code 1.
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            if _pipe_closed(sys.stdout):
                _drop_closed_stdout()  # the work is done; only its printout has no reader
                return None
            if _pipe_closed(sys.stderr):
                return None
            raise


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


def backend_option(fn: Callable) -> Callable:
    """``--backend anvil|revm``: where the contracts execute (anvil, the reference, or revm in
    this process). Checked in the command, so a bad name is a one-line error."""
    return click.option("--backend", default="anvil", show_default=True, metavar="anvil|revm",
                        help="Chain backend: anvil (JSON-RPC node) or revm (in process, "
                             "needs pyrevm).")(fn)  # fmt: skip


def backends_option(fn: Callable) -> Callable:
    """``--backend anvil,revm``: one or more backends, measured side by side in one run."""
    return click.option("--backend", "backends", default="anvil", show_default=True,
                        metavar="NAME[,NAME]",
                        help="Backends to measure, comma-separated (anvil, revm).")(fn)  # fmt: skip


def _backend_list(text: str) -> list[str]:
    from simulator.chain import check_backend

    names = [check_backend(b.strip()) for b in text.split(",") if b.strip()]
    if not names:
        raise PerpsimError("--backend: give at least one of anvil, revm")
    return list(dict.fromkeys(names))


@click.group(cls=PerpsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="perpsim")
def main() -> None:
    """perpsim: run real perpetual-futures contracts on a local chain under shocks."""


@main.command()
@chain_options
@backend_option
@click.option("--preset", default="hyperliquid-like", show_default=True,
              help="Venue parameter preset (simulator/presets/NAME.yaml).")  # fmt: skip
@click.option("--markets", default=None, metavar="SYM[,SYM...]",
              help="Markets to list, in this order (default: every market of the preset's "
                   "table).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print addresses as JSON.")
@click.option("--keep-node", is_flag=True,
              help="Leave the embedded anvil running (it is then yours: stop it with kill PID).")  # fmt: skip
@handles_errors
def deploy(
    rpc_url, fork_url, fork_block, port, backend, preset, markets, as_json, keep_node
) -> None:
    """Deploy a whole multi-market venue: the venue and its modules, per market an oracle, a
    spot AMM and a base token, the insurance fund, backstop vault, margin controller, timelock.

    Markets are listed through the timelock (ids 1, 2, ... in --markets order). With the
    embedded anvil (no --rpc) the node stops when the command ends, so the addresses are only
    worth keeping with --keep-node (the node then runs on, and is yours to stop) or on a node
    of your own (--rpc URL). With --backend revm the EVM lives in this process and its state is
    gone when the command ends.
    """
    from simulator.chain import AnvilConfig, open_chain

    params = deploy_params(preset, markets)
    config = AnvilConfig(port=port)
    with open_chain(
        rpc_url, fork_url, fork_block, config, keep_node=keep_node, backend=backend
    ) as chain:
        from simulator.protocol.venue_deploy import deploy_multi_venue

        # Wired as the preset says; the unwired vault / controller deployed too, to inspect.
        with_vault = params.buffers.backstop_enabled
        mv = deploy_multi_venue(chain, params, with_backstop_vault=with_vault, deploy_unwired=True)
        embedded = chain.node is not None
        info = {
            "backend": chain.backend,
            "rpc": chain.url,
            "chain_id": chain.chain_id,
            "block": chain.block_number(),
            "embedded": embedded,
            "preset": preset,
            "markets": mv.ids,
            "backstop_vault_wired": mv.vault_wired,
            "controller_wired": mv.controller_wired,
            "contracts": mv.addresses(),
        }
        if chain.backend == "revm":
            info["rpc"] = None
            info["note"] = (
                "revm ran in this process: its state was gone when the command ended; use "
                "--backend anvil with --keep-node or --rpc URL to keep the contracts"
            )
        elif embedded and keep_node:
            pid = chain.node.pid
            info["pid"] = pid
            info["note"] = (
                f"anvil keeps running at {chain.url} (PID {pid}); it is yours now: "
                f"stop it with `kill {pid}`"
            )
        elif embedded:
            info["rpc"] = None
            info["note"] = (
                f"the embedded anvil ({chain.url}) was stopped when the command ended, and "
                "these contracts with it; use --keep-node to keep it, or --rpc URL to deploy "
                "to a node you run"
            )
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    where = info["rpc"] or "embedded anvil, stopped"
    listed = ", ".join(f"{s} = {m}" for s, m in info["markets"].items())
    table = Table(
        title=f"Deployed on chain {info['chain_id']} ({where}, block {info['block']})",
        caption=f"market ids: {listed}",
    )
    table.add_column("contract")
    table.add_column("address")
    for name, address in info["contracts"].items():
        table.add_row(name, address)
    Console().print(table)
    if "note" in info:
        click.echo(f"({info['note']})")


def deploy_params(preset: str, markets: str | None):
    """The venue parameters ``perpsim deploy`` / ``ape run deploy`` deploy: ``preset``'s
    per-market tables for ``markets`` (comma-separated symbols, None = every market of the
    tables), with the preset's buffers, governance and controller sections.

    Raises ParamsError (one line, exit 2) for an unknown preset or symbol, a symbol listed
    twice, or an empty list.
    """
    from simulator.protocol.params import ParamsError
    from simulator.protocol.venue_params import load_venue_preset

    symbols = None
    if markets is not None:
        symbols = [s.strip() for s in markets.split(",")]
        if not all(symbols):
            raise ParamsError(f"--markets {markets!r}: give comma-separated symbols, e.g. BTC,ETH")
    return load_venue_preset(preset, symbols)


def resolved_venue_params(scenario):
    """The venue parameters ``scenario`` deploys: its preset, market overrides and controls."""
    resolve = getattr(scenario, "venue_params", None)
    if resolve is not None:
        return resolve()
    from simulator.world import venue_params_for

    return venue_params_for(scenario)


@main.command()
@click.argument("scenario")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario key, as for run (e.g. price_path.shocks[0].step=100).")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Override the seed.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Override the steps.")
@click.option("--control-set", "control", default=None, metavar="NAME",
              help="Apply a named control set, as compare does (see compare --list-controls).")  # fmt: skip
@click.option("--scenario-only", is_flag=True,
              help="Print only the scenario (a YAML file that `perpsim run FILE` runs).")  # fmt: skip
@handles_errors
def show(scenario, overrides, seed, steps, control, scenario_only) -> None:
    """Print what SCENARIO runs, resolved, as YAML: the scenario (preset or file + --set +
    --seed/--steps + control set) and the venue parameters it deploys (venue preset + market
    overrides + controls). Nothing is run or written."""
    import yaml

    from simulator.scenario import CONTROL_SETS, control_set, load_scenario

    sc = load_scenario(scenario, list(overrides))
    updates = {k: v for k, v in (("seed", seed), ("steps", steps)) if v is not None}
    if updates:
        sc = sc.with_overrides(updates)
    if control is not None:
        if control not in CONTROL_SETS:
            raise PerpsimError(
                f"--control-set: unknown control set {control!r}; known: {', '.join(CONTROL_SETS)}"
            )
        sc = control_set(sc, control)
    if scenario_only:
        click.echo(sc.to_yaml(), nl=False)
        return
    document = {
        "scenario": sc.to_dict(),
        "scenario_fingerprint": sc.fingerprint(),
        "venue_parameters": resolved_venue_params(sc).model_dump(mode="json"),
    }
    click.echo(f"# perpsim show {scenario}: the scenario as it runs and the venue it deploys")
    click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100), nl=False)


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
@backends_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_chain(
    transactions, agents, block_size, ape_sample, seed, rpc_url, backends, as_json
) -> None:
    """Batched sender vs ape's per-transaction path on the same transfer workload (on revm:
    the batched path only; with several backends, side by side)."""
    from benchmarks.chain import run, run_backends

    names = _backend_list(backends)
    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    options = dict(agents=agents, transactions=transactions, block_size=block_size,
                   ape_sample=ape_sample, seed=seed, rpc_url=rpc_url, progress=progress)  # fmt: skip
    if len(names) > 1:
        figures = run_backends(names, **options)
        click.echo(json.dumps(figures, indent=2) if as_json else _backends_line(figures))
        return
    figures = run(backend=names[0], **options)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    if figures["ape_per_transaction"] is None:
        f = figures["batched"]
        click.echo(f"{names[0]} batched: {f['transactions']} transfers in {f['seconds']:.2f} s, "
                   f"{f['tx_per_s']:,.0f} tx/s")  # fmt: skip
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


def _backends_line(figures: dict) -> str:
    """One line per backend of a side-by-side benchmark, then the speed-up."""
    lines = []
    for name, f in figures["backends"].items():
        f = f.get("batched", f)
        rate = f.get("tx_per_s", f.get("engine_tx_per_s"))
        seconds = f.get("seconds", f.get("wall_seconds"))
        lines.append(f"{name}: {seconds} s, {rate:,.0f} tx/s")
    lines.append(f"revm speed-up over anvil: {figures.get('speedup_revm_over_anvil')}x")
    return "\n".join(lines)


def _progress_printer(mode: str, label: str):
    """A progress callback: a rich bar (``bar``), JSON lines on stderr (``jsonl``:
    ``{"label", "done", "total"}``, with ``"detail"`` when the job says what it counts) or
    nothing.

    The JSON lines stop quietly when stderr's reader goes away; the run goes on."""
    if mode == "none":
        return None, None
    if mode == "jsonl":
        reader_gone = False

        def emit(done, total, *rest):
            # A reader that closed the pipe (`2>&1 | head`) does not stop the run: the progress
            # lines are dropped from then on.
            nonlocal reader_gone
            if reader_gone:
                return
            line = {"label": label, "done": done, "total": total}
            if rest and isinstance(rest[0], str) and rest[0]:
                line["detail"] = rest[0]  # what is being counted (a tune: "trial 3", "verify ...")
            try:
                click.echo(json.dumps(line), err=True)
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise
                reader_gone = True

        return emit, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    task = bar.add_task(label, total=None)

    def update(done, total, *_):
        bar.update(task, completed=done, total=total)

    return update, bar


def control_names(ctx, param, value: str | None) -> list[str]:
    """``--controls NAME,NAME,...`` (a click callback): the control sets named, every one known
    and at least one (``""`` and ``,`` name none); the default list when the option is left out.
    ``perpsim compare`` and ``ape run compare`` share it."""
    from simulator.scenario import CONTROL_SETS, DEFAULT_CONTROL_SETS

    if value is None:
        return list(DEFAULT_CONTROL_SETS)
    names = [c.strip() for c in value.split(",") if c.strip()]
    if not names:
        raise click.BadParameter(
            f"{value!r} names no control set; give NAME,NAME,... (from --list-controls) or leave "
            "the option out for the default list",
            ctx=ctx,
            param=param,
        )
    unknown = [c for c in names if c not in CONTROL_SETS]
    if unknown:
        raise click.BadParameter(
            f"unknown control set {unknown[0]!r}; known: {', '.join(CONTROL_SETS)}",
            ctx=ctx,
            param=param,
        )
    return names


def run_scenario_options(fn: Callable) -> Callable:
    """``--out``, ``--seed``, ``--steps``, ``--set``: what ``perpsim run`` and ``ape run
    simulate`` run and where it goes."""
    fn = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                      help="Override any scenario key, e.g. --set controls.adl_policy=pro_rata.")(fn)  # fmt: skip
    fn = click.option("--steps", type=click.IntRange(min=1), default=None,
                      help="Override the number of steps.")(fn)  # fmt: skip
    fn = click.option("--seed", type=click.IntRange(min=0), default=None,
                      help="Override the scenario's seed.")(fn)  # fmt: skip
    fn = click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                      default=None, help="Run folder (default: runs/<scenario>-seed<seed>).")(fn)  # fmt: skip
    return fn


def compare_scenario_options(fn: Callable) -> Callable:
    """``--controls``, ``--paths``, ``--out``, ``--set``: what ``perpsim compare`` and ``ape run
    compare`` compare and where it goes."""
    fn = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                      help="Override scenario keys.")(fn)  # fmt: skip
    fn = click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                      default=None, help="Output folder (default: runs/compare-<scenario>).")(fn)  # fmt: skip
    fn = click.option("--paths", type=click.IntRange(min=1), default=4, show_default=True,
                      help="Price paths per control set (the same paths for every set).")(fn)  # fmt: skip
    fn = click.option("--controls", default=None, metavar="NAME,NAME,...", callback=control_names,
                      help="Control sets to compare (default: the standard list; see "
                           "`perpsim compare --list-controls`).")(fn)  # fmt: skip
    return fn


def _cell(value) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def _summary_table(summary: dict, title: str) -> Table:
    """The summary's figures, one row each; ``markets`` as the list of its symbols (a run's
    per-market figures are in :func:`_markets_table`)."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key == "markets" and isinstance(value, dict):
            value = ", ".join(value)
        table.add_row(key, _cell(value))
    return table


def _markets_table(summary: dict, title: str) -> Table | None:
    """Each market's figures of a run of several markets, a column per market (``None`` for
    one market: its figures are the venue's above)."""
    markets = summary.get("markets") or {}
    if len(markets) < 2:
        return None
    table = Table(title=title)
    table.add_column("metric")
    for symbol in markets:
        table.add_column(symbol, justify="right")
    for key in next(iter(markets.values())):
        table.add_row(key, *(_cell(figures.get(key)) for figures in markets.values()))
    return table


@main.command()
@click.argument("scenario", required=False)
@run_scenario_options
@click.option("--rpc", "rpc_url", default=None, metavar="URL", help="Use an existing node.")
@click.option("--fork-url", default=None, metavar="URL", help="Run on a local fork of URL.")
@click.option("--backend", default=None, metavar="anvil|revm",
              help="Chain backend: anvil (default) or revm (in process, needs pyrevm); "
                   "--resume defaults to the run's own.")  # fmt: skip
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), default=None,
              help="Continue a stopped run from its last checkpoint, exactly as recorded in its "
              "manifest (no SCENARIO, --set, --seed, --steps, --out, --overwrite or --fork-url; "
              "refused if the code or the contracts changed since it started).")  # fmt: skip
@click.option("--overwrite", is_flag=True,
              help="Replace the run in the --out folder (only a run folder is replaced).")  # fmt: skip
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=100, show_default=True,
              help="Steps between checkpoints (a killed run resumes from the last one).")  # fmt: skip
@click.option("--progress", "progress_mode", type=click.Choice(["bar", "jsonl", "none"]), default="bar",
              show_default=True, help="Progress display on stderr.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--engine", type=click.Choice(["chain", "mirror"]), default="chain", show_default=True,
              help="chain: the contracts on a node; mirror: their math in numpy (no node; a "
              "scenario feature it does not model is refused).")  # fmt: skip
@click.option("--mirror-mode", type=click.Choice(["exact", "fast"]), default="fast",
              show_default=True,
              help="--engine mirror: exact (integers, equal to the chain to the wei) or fast "
              "(float64).")  # fmt: skip
@handles_errors
def run(
    scenario,
    out_dir,
    seed,
    steps,
    overrides,
    rpc_url,
    fork_url,
    backend,
    resume_dir,
    overwrite,
    checkpoint_every,
    progress_mode,
    as_json,
    engine,
    mirror_mode,
) -> None:
    """Run SCENARIO (a preset name such as oct-2025, or a YAML file) on chain, or on the
    mirror with --engine mirror."""
    from simulator.chain import check_backend
    from simulator.runner import resume_run, run_scenario
    from simulator.scenario import load_scenario

    if engine == "mirror":
        given = {"--resume": resume_dir is not None, "--rpc": rpc_url is not None,
                 "--fork-url": fork_url is not None, "--backend": backend is not None}  # fmt: skip
        for what, present in given.items():
            if present:
                raise PerpsimError(f"--engine mirror runs without a node; {what} is for the chain")
    if backend is not None:
        check_backend(backend)
    if resume_dir is not None:
        given = {
            "a SCENARIO": scenario is not None, "--out": out_dir is not None,
            "--seed": seed is not None, "--steps": steps is not None, "--set": bool(overrides),
            "--overwrite": overwrite, "--fork-url": fork_url is not None,
        }  # fmt: skip
        for what, present in given.items():
            if present:
                raise PerpsimError(
                    f"--resume continues the run as recorded; {what} cannot be given with it"
                )
        callback, bar = _progress_printer(progress_mode, f"resume {resume_dir}")
        with bar or _null():
            result = resume_run(
                resume_dir, rpc_url=rpc_url, progress=callback, checkpoint_every=checkpoint_every,
                backend=backend,
            )  # fmt: skip
    else:
        if scenario is None:
            raise PerpsimError(
                "give a SCENARIO (a preset such as oct-2025, or a YAML file) or --resume DIR"
            )
        updates = {}
        if seed is not None:
            updates["seed"] = seed
        if steps is not None:
            updates["steps"] = steps
        sc = load_scenario(scenario, list(overrides))
        if updates:
            sc = sc.with_overrides(updates)
        out_dir = out_dir or Path("runs") / f"{sc.name}-seed{sc.seed}"
        callback, bar = _progress_printer(progress_mode, sc.name)
        if engine == "mirror":
            from simulator.mirror.run import run_mirror

            with bar or _null():
                result = run_mirror(
                    sc, out_dir, mode=mirror_mode, overwrite=overwrite, progress=callback
                )
        else:
            with bar or _null():
                result = run_scenario(
                    sc, out_dir, rpc_url=rpc_url, fork_url=fork_url, overwrite=overwrite,
                    progress=callback, checkpoint_every=checkpoint_every,
                    backend=backend or "anvil",
                )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
        return
    console = Console()
    console.print(_summary_table(result.summary, f"perpsim run: {result.run_dir}"))
    per_market = _markets_table(result.summary, "per market")
    if per_market is not None:
        console.print(per_market)


@main.command()
@click.argument("scenario")
@compare_scenario_options
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs in parallel (each with its own anvil).")  # fmt: skip
@click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(["bar", "jsonl", "none"]),
    default="bar",
    show_default=True,
)
@click.option("--resume", is_flag=True,
              help="Reuse the finished runs under OUT and continue the unfinished ones; each must "
              "be the same run (scenario, code, contracts) or the comparison is refused. On an "
              "empty or missing OUT it starts the comparison (a comparison is many runs: this "
              "is how an interrupted one continues).")  # fmt: skip
@click.option("--overwrite", is_flag=True,
              help="Remove the runs and outputs of the comparison in OUT first, then start.")  # fmt: skip
@click.option("--list-controls", is_flag=True, help="List the control sets and exit.")
@click.option("--latency", default=None, metavar="SECONDS,SECONDS,...",
              help="Sweep the delay of a mid-shock governance change instead of control sets: "
              "the scenario's controls.governance_change (else the governance_timelock set's) "
              "in force after each delay, 0 = the guardian, e.g. 0,60,900,3600,21600,86400; "
              "beside the baseline (no change). Writes latency.csv/json/md/png.")  # fmt: skip
@backend_option
@handles_errors
def compare(
    scenario,
    controls,
    paths,
    out_dir,
    overrides,
    workers,
    progress_mode,
    resume,
    overwrite,
    list_controls,
    latency,
    backend,
) -> None:
    """Run SCENARIO's price paths under each control set; print and write the comparison.

    OUT must not hold another comparison's runs: use --resume to reuse and continue the one
    there, or --overwrite to replace it."""
    from simulator.compare import run_compare
    from simulator.scenario import CONTROL_SETS, load_scenario

    if list_controls:
        for name, what in CONTROL_SETS.items():
            click.echo(f"{name:22s} {what}")
        return
    names = controls
    delays = None
    if latency is not None:
        from simulator.latency import parse_latency

        ctx = click.get_current_context()
        if ctx.get_parameter_source("controls") is not click.core.ParameterSource.DEFAULT:
            raise PerpsimError("--latency runs its own sets (baseline and one per delay): "
                               "leave --controls out")  # fmt: skip
        delays = parse_latency(latency)
    sc = load_scenario(scenario, list(overrides))
    out_dir = out_dir or Path("runs") / f"compare-{sc.name}"
    callback, bar = _progress_printer(progress_mode, f"compare {sc.name}")
    with bar or _null():
        outcome = run_compare(
            sc, names, paths, out_dir, workers=workers, progress=callback,
            resume=resume, overwrite=overwrite, backend=backend, latency=delays,
        )  # fmt: skip
    print_comparison(outcome, f"perpsim compare: {sc.name}")
    if delays is not None:
        click.echo((out_dir / "latency.md").read_text(encoding="utf-8"))
    click.echo(
        f"table: {out_dir / 'compare.csv'}  report: {out_dir / 'report.md'}  runs: {out_dir / 'runs'}"
    )


def experiment_options(fn: Callable) -> Callable:
    """``--paths``, ``--engine``, ``--backend``, ``--workers``, ``--dask``, ``--set``,
    ``--progress``, ``--json``: what ``perpsim sweep`` and ``perpsim tune`` share."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(fn)
    fn = click.option("--progress", "progress_mode", type=click.Choice(["bar", "jsonl", "none"]),
                      default="bar", show_default=True, help="Progress display on stderr.")(fn)  # fmt: skip
    fn = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                      help="Override scenario keys before the experiment.")(fn)  # fmt: skip
    fn = click.option("--dask", default=None, metavar="local|tcp://HOST:PORT",
                      help="Run the evaluations on Dask: 'local' starts a LocalCluster of "
                           "--workers processes; an address uses that scheduler's workers.")(fn)  # fmt: skip
    fn = click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                      help="Evaluations in parallel (local process pool, or LocalCluster "
                           "workers with --dask local).")(fn)  # fmt: skip
    fn = click.option("--backend", default="revm", show_default=True, metavar="revm|anvil",
                      help="Chain backend of --engine chain.")(fn)  # fmt: skip
    fn = click.option("--engine", default="mirror", show_default=True, metavar="mirror|chain",
                      help="Evaluate on the numpy mirror or on chain.")(fn)  # fmt: skip
    return fn


def _experiment_scenario(scenario: str, overrides) -> object:
    from simulator.scenario import load_scenario

    return load_scenario(scenario, list(overrides))


def _experiment_progress(mode: str, label: str):
    callback, bar = _progress_printer(mode, label)
    if callback is None:
        return None, bar
    return (lambda done, total, what="": callback(done, total)), bar


@main.command()
@click.argument("scenario")
@click.option("--grid", "grid", multiple=True, required=True, metavar="NAME=v1,v2,...",
              help="An axis: an override key and its values (repeat for more axes).")  # fmt: skip
@click.option("--zip", "zipped", is_flag=True,
              help="Pair the i-th values of every --grid instead of their Cartesian product.")  # fmt: skip
@click.option("--paths", type=click.IntRange(min=1), default=4, show_default=True,
              help="Price paths per grid point (the same paths for every point).")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: runs/sweep-<scenario>); the same command on the "
                   "same folder continues a stopped sweep.")  # fmt: skip
@click.option("--no-plots", is_flag=True, help="Write the tables only (no heatmaps).")
@experiment_options
@handles_errors
def sweep(scenario, grid, zipped, paths, out_dir, no_plots, engine, backend, workers, dask,
          overrides, progress_mode, as_json) -> None:  # fmt: skip
    """Run SCENARIO on a grid of parameter values (Cartesian product, or --zip) over the same
    price paths; write a table (CSV, Markdown) and a heatmap per metric."""
    from simulator.experiments.report import HEADLINE_METRICS, cell
    from simulator.experiments.sweep import run_sweep

    sc = _experiment_scenario(scenario, overrides)
    out_dir = out_dir or Path("runs") / f"sweep-{sc.name}"
    callback, bar = _experiment_progress(progress_mode, f"sweep {sc.name}")
    with bar or _null():
        result = run_sweep(sc, list(grid), paths, out_dir, zipped=zipped, engine=engine,
                           backend=backend, workers=workers, dask=dask, progress=callback,
                           plots=not no_plots)  # fmt: skip
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "out"}, indent=2,
                              default=str))  # fmt: skip
        return
    names = [a["name"] for a in result["axes"]]
    shown = [m for m in HEADLINE_METRICS if m in result["metrics"]]
    table = Table(title=f"perpsim sweep: {sc.name}, {result['semantics']} grid, "
                        f"{result['paths']} path(s) per point, mean [95% CI]")  # fmt: skip
    for col in ("point", *names, *shown):
        table.add_column(col, justify="right")
    for p in result["points"]:
        table.add_row(str(p["index"]), *(str(p["params"][n]) for n in names),
                      *(cell(p["stats"][m]) for m in shown))  # fmt: skip
    Console(width=max(120, 24 * (len(names) + len(shown)))).print(table)
    click.echo(f"table: {out_dir / 'sweep.csv'}  report: {out_dir / 'sweep.md'}  "
               f"heatmaps: {out_dir / 'plots'}")  # fmt: skip


@main.command()
@click.argument("scenario")
@click.option("--param", "params", multiple=True, required=True,
              metavar="NAME=LOW..HIGH[:log|:int]|NAME=a|b",
              help="A parameter to tune: an override key and its range (or choices).")  # fmt: skip
@click.option("--objective", "objectives", multiple=True, required=True,
              metavar="[min:|max:]STAT:METRIC",
              help="An objective over paths, e.g. var95:system_loss_usd, max:mean:fees_usd.")  # fmt: skip
@click.option("--constraint", "constraints", multiple=True, metavar="STAT:METRIC<=BOUND",
              help="A bound, e.g. evar99:bad_debt_usd<=1e6.")  # fmt: skip
@click.option("--trials", type=click.IntRange(min=1), default=50, show_default=True,
              help="Complete trials wanted (a continued tune runs only the missing ones).")  # fmt: skip
@click.option("--paths", type=click.IntRange(min=1), default=8, show_default=True,
              help="Tuning paths per trial (the same for every trial).")  # fmt: skip
@click.option("--max-change", "max_change", type=float, default=None, metavar="PCT",
              help="Narrow each range to the scenario's current value +- PCT percent.")  # fmt: skip
@click.option("--storage", default=None, metavar="URL",
              help="Optuna RDB storage (SQLAlchemy URL; default: sqlite in OUT/study.db).")  # fmt: skip
@click.option("--study-name", default=None,
              help="Study name (default: <scenario>-<hash of the tune's settings>).")  # fmt: skip
@click.option("--sampler", default="tpe", show_default=True, metavar="tpe|nsga2",
              help="Optuna sampler.")  # fmt: skip
@click.option("--candidates", type=click.IntRange(min=1), default=3, show_default=True,
              help="Pareto candidates re-run on chain on held-out paths.")  # fmt: skip
@click.option("--verify-paths", type=click.IntRange(min=0), default=8, show_default=True,
              help="Held-out paths of the verification on chain (0: none).")  # fmt: skip
@click.option("--verify-backend", default="revm", show_default=True, metavar="revm|anvil",
              help="Chain backend of the verification runs.")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: runs/tune-<scenario>); the same command on the "
                   "same folder continues a stopped tune.")  # fmt: skip
@experiment_options
@handles_errors
def tune(scenario, params, objectives, constraints, trials, paths, max_change, storage,
         study_name, sampler, candidates, verify_paths, verify_backend, out_dir, engine, backend,
         workers, dask, overrides, progress_mode, as_json) -> None:  # fmt: skip
    """Search SCENARIO's parameters with Optuna for the objectives' Pareto front under the
    constraints, then verify the best candidates on chain on held-out paths."""
    from simulator.experiments.report import number
    from simulator.experiments.tune import build_request, run_tune

    sc = _experiment_scenario(scenario, overrides)
    out_dir = out_dir or Path("runs") / f"tune-{sc.name}"
    request = build_request(
        sc, list(params), list(objectives), list(constraints), trials=trials, paths=paths,
        out=out_dir, engine=engine, backend=backend, max_change_pct=max_change, storage=storage,
        study_name=study_name, sampler=sampler, candidates=candidates, verify_paths=verify_paths,
        verify_backend=verify_backend, workers=workers, dask=dask,
    )  # fmt: skip
    callback, bar = _experiment_progress(progress_mode, f"tune {sc.name}")
    with bar or _null():
        result = run_tune(request, progress=callback)
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "out"}, indent=2,
                              default=str))  # fmt: skip
        return
    labels = [o["label"] for o in result["objectives"]]
    sets = [result["current"], *result["candidates"]]
    table = Table(title=f"perpsim tune: {sc.name}, {result['trials']['complete']} trials; "
                        f"tuning {result['tuning']['paths']} path(s) | held-out "
                        f"{result['held_out']['paths']} on chain")  # fmt: skip
    table.add_column("set")
    for p in result["params"]:
        table.add_column(p["name"], justify="right")
    for label in labels:
        table.add_column(f"{label} tuning | held-out", justify="right")
    for s in sets:
        held = s.get("held_out") or {}
        table.add_row(s["label"] + (f" (trial {s['trial']})" if s["trial"] is not None else ""),
                      *(number(s["params"].get(p["name"])) for p in result["params"]),
                      *(f"{number(s['tuning']['objectives'].get(lab))} | "
                        f"{number((held.get('objectives') or {}).get(lab))}" for lab in labels))  # fmt: skip
    Console(width=max(120, 30 * (1 + len(result["params"]) + len(labels)))).print(table)
    rec = result["recommended"]
    click.echo(f"recommended: {rec['label']} (trial {rec['trial']}): {rec['reason']}" if rec
               else f"recommended: none: {result['recommended_reason']}")  # fmt: skip
    click.echo(f"report: {out_dir / 'tune.md'}  data: {out_dir / 'tune.json'}  "
               f"verification runs: {out_dir / 'verify' / 'runs'}")  # fmt: skip


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--control", default=None, metavar="NAME",
              help="A comparison's control set to read (default: baseline, else the first).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON records.")
@handles_errors
def facts(folder: Path, control: str | None, as_json: bool) -> None:
    """How close FOLDER's runs come to the October 10-11, 2025 facts.

    FOLDER is a run folder (one path: no interval) or a comparison folder (its baseline's
    paths). Prints the table and writes facts.md and facts.json into FOLDER."""
    from simulator.facts import render_facts, run_facts

    table, what = run_facts(folder, control)
    if as_json:
        click.echo((folder / "facts.json").read_text(encoding="utf-8"))
        return
    read = (
        f"{what['control']}, {len(what['runs'])} path(s)" if what["kind"] == "compare" else "1 run"
    )
    Console(width=160).print(render_facts(table, title=f"October 10-11, 2025 facts: {read}"))
    click.echo(f"facts: {folder / 'facts.md'}  {folder / 'facts.json'}")


@main.command()
@click.argument("target", metavar="SCENARIO|RUN_DIR")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With RUN_DIR: the folder for the report's files (default RUN_DIR/contagion). "
                   "With SCENARIO: the run folder (default runs/<scenario>-seed<seed>).")  # fmt: skip
@click.option("--shock-scale", type=float, default=1.0, show_default=True,
              help="Multiplies every node's initial distress (>= 0; 1: the run's own losses).")  # fmt: skip
@click.option("--shock", "shocks", multiple=True, metavar="NODE=H",
              help="Set a node's initial distress by hand, in [0, 1] (before --shock-scale).")  # fmt: skip
@click.option("--backend", default=None, metavar="anvil|revm",
              help="Chain backend of a SCENARIO's run (anvil by default).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print contagion.json instead of the table.")
@handles_errors
def contagion(target, out_dir, shock_scale, shocks, backend, as_json) -> None:
    """Model against chain: which protocols a run's losses reach, and how much they lose.

    SCENARIO (a preset or YAML file with a contagion world, key world:) is run first into
    --out (a complete run of the same scenario there is reused); a RUN_DIR is read. Prints
    the table and writes contagion.md, contagion.json, contagion_graph.html and
    contagion_graph.png into the run folder's contagion/ (or --out for a RUN_DIR)."""
    from simulator.contagion.graph_io import CONTAGION_DIR
    from simulator.contagion.report import (
        TABLE_COLUMNS,
        caption,
        check_shock_scale,
        contagion_report,
        parse_shocks,
        scenario_run_dir,
        table_rows,
        write_report,
    )

    scale = check_shock_scale(shock_scale)
    shock = parse_shocks(shocks)
    if Path(target).is_dir():
        if backend is not None:
            raise PerpsimError("--backend applies to a SCENARIO's run, not to a RUN_DIR")
        run_dir = Path(target)
        report = contagion_report(run_dir, shock_scale=scale, shock=shock)
        folder = out_dir or run_dir / CONTAGION_DIR
    else:
        from simulator.chain import check_backend
        from simulator.scenario import load_scenario

        if backend is not None:
            check_backend(backend)
        sc = load_scenario(target, [])
        callback, bar = _progress_printer("bar", sc.name)
        with bar or _null():
            run_dir = scenario_run_dir(sc, out_dir, backend=backend or "anvil", progress=callback)
        report = contagion_report(run_dir, shock_scale=scale, shock=shock)
        folder = run_dir / CONTAGION_DIR
    paths = write_report(report, folder)
    if as_json:
        click.echo(paths[1].read_text(encoding="utf-8"))
        return
    console = Console(width=240)
    table = Table(title=f"perpsim contagion: {run_dir}", caption=caption(report))
    for column in TABLE_COLUMNS:
        table.add_column(column, justify="left" if column in ("node", "type") else "right")
    for row in table_rows(report):
        table.add_row(*(row[c] for c in TABLE_COLUMNS))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    click.echo("contagion: " + "  ".join(str(p) for p in paths))


def print_comparison(outcome: dict, title: str) -> None:
    """Print a comparison (:func:`simulator.compare.run_compare`'s outcome): the venue's table,
    then, for runs of several markets, each market's figures with what a control set changes
    of that market (``perpsim compare`` and ``ape run compare``)."""
    from simulator.stats import render_compare_table, render_market_table

    table, market_table = outcome["table"], outcome.get("market_table")
    controls = len(dict.fromkeys(table.columns.get_level_values("control")))
    console = Console(width=max(120, 32 + 22 * controls))
    several = (
        market_table is not None and market_table.index.get_level_values("market").nunique() > 1
    )
    venue_title = f"{title}, venue totals (all markets)" if several else title
    console.print(render_compare_table(table, title=venue_title))
    if several:
        console.print(
            render_market_table(market_table, f"{title}, per market", outcome.get("changes"))
        )


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@bench.command(name="setup")
@click.argument("scenario", default="oct-2025")
@click.option("--traders", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override scenario keys."
)
@click.option("--no-before", is_flag=True,
              help="Skip the build in blocks bounded by gas alone (the setup before bounded "
                   "blocks).")  # fmt: skip
@backends_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_setup(scenario, traders, overrides, no_before, backends, as_json) -> None:
    """Time building SCENARIO's world (deploy, fund and open TRADERS traders) by phase, in
    blocks of SETUP_BLOCK_CALLS calls and, for comparison, in blocks bounded by gas alone."""
    from benchmarks.setup import run_backends

    names = _backend_list(backends)
    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    figures = run_backends(scenario, traders, list(overrides), names,
                           compare_unlimited=not no_before, progress=progress)  # fmt: skip
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    table = Table(title=f"perpsim bench setup: {scenario}, {traders:,} traders (seconds)")
    rows = []
    for backend, f in figures["backends"].items():
        for build in (f["after"], f["before"]):
            if build is not None:
                limit = build["block_calls"]
                label = f"≤ {limit:,} calls/block" if limit else "gas limit only"
                rows.append((f"{backend}, {label}", build))
    phases = list(rows[0][1]["phases_seconds"])
    for col in ("build", "blocks", *phases, "total"):
        table.add_column(col, justify="left" if col == "build" else "right")
    for label, build in rows:
        table.add_row(label, str(build["blocks"]),
                      *(f"{build['phases_seconds'][p]:.2f}" for p in phases),
                      f"{build['seconds']:.2f}")  # fmt: skip
    Console(width=160).print(table)
    for backend, f in figures["backends"].items():
        if f["speedup"] is not None:
            click.echo(f"{backend}: bounded blocks {f['speedup']}x faster")


@bench.command(name="contagion")
@click.option("--nodes", type=click.IntRange(min=2), default=10_000, show_default=True)
@click.option("--edges", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--reference-nodes", type=click.IntRange(min=2), default=1_000, show_default=True,
              help="Nodes of the graph the pure-Python references run on (same mean "
                   "degree).")  # fmt: skip
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs per fast algorithm; the best is reported.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_contagion(nodes, edges, seed, reference_nodes, repeat, as_json) -> None:
    """DebtRank (both variants), Eisenberg–Noe, Rogers–Veraart and Furfine on a seeded random
    exposure graph (whole call, seconds), and the pure-Python references against the fast
    versions on a smaller graph."""
    from benchmarks.contagion import run

    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    figures = run(nodes=nodes, edges=edges, seed=seed, reference_nodes=reference_nodes,
                  repeat=repeat, progress=progress)  # fmt: skip
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    table = Table(title=f"perpsim bench contagion: {nodes:,} nodes, {edges:,} edges, "
                        f"seed {seed} (best of {repeat})")  # fmt: skip
    table.add_column("algorithm")
    table.add_column("seconds", justify="right")
    table.add_column("outcome")
    for name, f in figures["fast"].items():
        outcome = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v:,}"
                            for k, v in f.items() if k != "seconds")  # fmt: skip
        table.add_row(name, f"{f['seconds']:.3f}", outcome)
    Console(width=120).print(table)
    small = figures["reference_graph"]
    table = Table(title=f"pure-Python references: {small['nodes']:,} nodes, "
                        f"{small['edges']:,} edges")  # fmt: skip
    for col in ("algorithm", "reference s", "fast s", "speed-up", "max |difference|"):
        table.add_column(col, justify="left" if col == "algorithm" else "right")
    for name, f in figures["reference"].items():
        table.add_row(name, f"{f['reference_seconds']:.4f}", f"{f['fast_seconds']:.4f}",
                      f"{f['speedup']}x", f"{f['max_abs_difference']:.3g}")  # fmt: skip
    Console(width=120).print(table)


@bench.command(name="sweep")
@click.argument("scenario", default="oct-2025")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override scenario keys (after the bench's own: 120 steps, 300 "
                   "accounts, the shocks at step 30).")  # fmt: skip
@click.option("--points", type=click.IntRange(min=1), default=4, show_default=True,
              help="Grid points (values of controls.insurance_fund_usd).")  # fmt: skip
@click.option("--paths", type=click.IntRange(min=1), default=4, show_default=True,
              help="Paths per point.")  # fmt: skip
@click.option("--engine", default="chain", show_default=True, metavar="chain|mirror")
@click.option("--backend", default="revm", show_default=True, metavar="revm|anvil")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_sweep(scenario, overrides, points, paths, engine, backend, as_json) -> None:
    """Sweep throughput on 1 and 2 local workers and a Dask LocalCluster of 2, side by side."""
    from benchmarks.sweep import run as run_bench

    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    figures = run_bench(scenario, list(overrides), points, paths, engine, backend,
                        progress=progress)  # fmt: skip
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    table = Table(title=f"perpsim bench sweep: {figures['scenario']}, {points} points x "
                        f"{paths} paths on {engine}")  # fmt: skip
    for col in ("configuration", "executor", "start-up s", "seconds", "runs", "runs/s"):
        table.add_column(col, justify="left" if col in ("configuration", "executor") else "right")
    for name, f in figures["configurations"].items():
        table.add_row(name, f["executor"], f"{f['startup_seconds']:.2f}", f"{f['seconds']:.2f}",
                      str(f["runs"]), f"{f['runs_per_s']:.2f}")  # fmt: skip
    Console(width=120).print(table)
    met = {True: "met", False: "NOT met"}
    click.echo(f"2 workers / 1 worker: {figures['speedup_2_over_1']}x (target >= "
               f"{figures['speedup_target']}x: {met[figures['speedup_target_met']]})")  # fmt: skip
    click.echo(f"Dask LocalCluster / 2-worker pool, seconds: {figures['dask_over_pool']} "
               f"(target <= {figures['dask_target']}: {met[figures['dask_target_met']]})")  # fmt: skip


def _market_counts(text: str) -> tuple[int, ...]:
    """``"1,3,6"`` as (1, 3, 6); anything else is a one-line error (exit 2)."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise PerpsimError(
            f"--markets: {text!r} is not a comma-separated list of market counts"
        ) from None
    if min(counts) < 1:
        raise PerpsimError(f"--markets: {text!r}: every market count must be >= 1")
    return counts


def _scaling_table(figures: dict, title: str) -> Table:
    """One row per market count of :func:`benchmarks.run.market_scaling`."""
    table = Table(title=title)
    columns = ("markets", "accounts", "positions", "blocks", "transactions", "setup_seconds",
               "engine_seconds", "engine_ms_per_step", "per_step_ratio", "markets_ratio")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="right")
    for row in figures["rows"]:
        table.add_row(*(_cell(row[c]) for c in columns))
    return table


@bench.command(name="run")
@click.argument("scenario", default="oct-2025")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override scenario keys."
)
@backends_option
@click.option(
    "--markets",
    "market_counts",
    metavar="K,K,...",
    default=None,
    help="Instead of the ceiling: run the scenario on the first K markets for each K (same "
    "accounts and steps, one position per account) and print the cost per step and its "
    "ratios, e.g. --markets 1,3,6.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run the engine and its ceiling replay this many times, side by side, and print every "
    "pair's ratio and their median (one backend).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_run(scenario, overrides, backends, market_counts, repeat, as_json) -> None:
    """A scenario end to end on chain, against the raw batched ceiling of the same blocks
    (with several backends, each in turn in this process, and the speed-up); with
    ``--markets``, its cost per step on 1, 3, 6 ... markets instead."""
    from benchmarks.run import market_scaling, run_backends, run_repeated

    names = _backend_list(backends)
    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    if market_counts is not None:
        counts = _market_counts(market_counts)
        figures = {
            name: market_scaling(scenario, counts, list(overrides), progress=progress,
                                 backend=name)
            for name in names
        }  # fmt: skip
        if as_json:
            click.echo(json.dumps(figures[names[0]] if len(names) == 1 else figures, indent=2))
            return
        for name, f in figures.items():
            Console(width=160).print(_scaling_table(f, f"perpsim bench run --markets: "
                                                       f"{scenario} on {name}"))  # fmt: skip
        return
    if len(names) > 1:
        figures = run_backends(scenario, list(overrides), names, progress=progress)
        click.echo(json.dumps(figures, indent=2) if as_json else _backends_line(figures))
        return
    figures = run_repeated(scenario, list(overrides), repeat, progress=progress, backend=names[0])
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    for i, pair in enumerate(figures.pop("pairs", []), start=1):
        figures[f"pair_{i}"] = (
            f"engine {pair['engine_seconds']} s, ceiling {pair['raw_ceiling_seconds']} s, "
            f"ratio {pair['ratio_to_ceiling']}"
        )
    Console().print(_summary_table(figures, f"perpsim bench run: {scenario}"))


@bench.command(name="mirror")
@click.argument("scenario", required=False)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override scenario keys."
)
@click.option("--traders", type=click.IntRange(min=1), default=None,
              help="Trader accounts (default: the scenario's; the built-in one has 10,000).")  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Steps (default: the scenario's; the built-in one has 240).")  # fmt: skip
@click.option("--mode", type=click.Choice(["fast", "exact"]), default="fast", show_default=True,
              help="The mirror's numeric mode.")  # fmt: skip
@click.option("--backend", default="revm", show_default=True, metavar="anvil|revm",
              help="The chain engine's backend.")  # fmt: skip
@click.option("--no-chain", is_flag=True, help="Run the mirror only.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs of each engine, alternated; the figures are the median run's.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handles_errors
def bench_mirror_cmd(scenario, overrides, traders, steps, mode, backend, no_chain, repeat,
                     as_json) -> None:  # fmt: skip
    """The mirror engine and the chain engine on the same SCENARIO (default: a built-in
    10,000-trader, three-market scenario the mirror models) in one run: trader-steps per
    second of each and their ratio (target: 20 million for the mirror, one core); with
    --repeat N, of the median of N runs of each (every run's loop seconds listed too)."""
    from benchmarks.mirror import bench_mirror, bench_scenario
    from simulator.chain import check_backend

    check_backend(backend)
    sc = bench_scenario(scenario, list(overrides), traders, steps)
    progress = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]{m}[/dim]"))
    figures = bench_mirror(sc, backend=backend, chain=not no_chain, mode=mode, repeat=repeat,
                           progress=progress)  # fmt: skip
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    for key in ("mirror_loop_seconds_each", "chain_loop_seconds_each"):
        if key in figures:
            figures[key] = ", ".join(f"{v}" for v in figures[key])
    Console().print(_summary_table(figures, f"perpsim bench mirror: {sc.name}"))


if __name__ == "__main__":  # pragma: no cover
    main()
