"""Reading a run folder (:class:`RunReader`): its manifest, summary and tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.results.errors import ResultsError, RunIncompleteError, RunNotFoundError
from simulator.results.manifest import _read_manifest
from simulator.results.schema import (
    _LEGACY_FORMAT,
    EVENTS,
    MANIFEST,
    POSITIONS,
    STEPS,
    SUMMARY,
)
from simulator.results.views import (
    market_steps,
    step_markets,
    upgrade_legacy_tables,
    venue_steps,
)

#: Market symbol of a ``perpsim-run/1`` folder whose scenario names none (its presets were all
#: BTC-like markets).
LEGACY_SYMBOL = "BTC"


class RunReader:
    """Reads a run folder back (tables as pandas DataFrames, loaded on first use).

    The step table is in per-market long format (:attr:`steps`); read the venue totals with
    :attr:`venue_steps`, one market with :meth:`market_steps`, the symbols with
    :attr:`markets`. A folder of the one-market format ``perpsim-run/1`` (no ``market``
    column) is read as a single market named by its manifest scenario's ``market.symbol``
    (:data:`LEGACY_SYMBOL` when it names none), with the venue-total rows made from it; its
    ``summary.json`` is returned as written (no ``markets`` breakdown).

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    require_complete : bool
        Refuse a run whose manifest is not ``complete`` (default), so a half-written result
        is never taken for a finished one.

    Raises
    ------
    RunNotFoundError
        No folder or no manifest there.
    RunIncompleteError
        The run did not finish and ``require_complete`` is true.
    """

    def __init__(self, run_dir: str | Path, *, require_complete: bool = True):
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise RunNotFoundError(f"run folder not found: {self.run_dir}")
        manifest = _read_manifest(self.run_dir)
        if manifest is None:
            raise RunNotFoundError(f"{self.run_dir} is not a run folder (no {MANIFEST})")
        self.manifest: dict[str, Any] = manifest
        if require_complete and manifest["status"] != "complete":
            step = manifest.get("checkpoint_step")
            at = f", last checkpoint at step {step}" if step is not None else ""
            raise RunIncompleteError(
                f"run {self.run_dir} is not complete (status {manifest['status']}{at}); "
                f"resume it with --resume {self.run_dir}"
            )
        self._cache: dict[str, Any] = {}

    @property
    def status(self) -> str:
        """``running``, ``incomplete`` or ``complete``."""
        return str(self.manifest["status"])

    @property
    def complete(self) -> bool:
        """True when the run finished and every file was written."""
        return self.status == "complete"

    @property
    def scenario(self) -> dict[str, Any]:
        """The scenario as stored in the manifest (plain data)."""
        return self.manifest.get("scenario", {})

    @property
    def legacy(self) -> bool:
        """Whether the folder is of the one-market format ``perpsim-run/1``."""
        return self.manifest.get("format") == _LEGACY_FORMAT

    def _legacy_symbol(self) -> str:
        market = self.scenario.get("market") if isinstance(self.scenario, dict) else None
        symbol = market.get("symbol") if isinstance(market, dict) else None
        return str(symbol) if symbol else LEGACY_SYMBOL

    def _table(self, name: str) -> pd.DataFrame:
        if self.legacy and "_upgraded" not in self._cache:
            tables = [self._read(n) for n in (STEPS, EVENTS, POSITIONS)]
            upgraded = upgrade_legacy_tables(*tables, self._legacy_symbol())
            self._cache.update(zip((STEPS, EVENTS, POSITIONS), upgraded, strict=True))
            self._cache["_upgraded"] = True
        return self._read(name)

    def _read(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            path = self.run_dir / name
            if not path.is_file():
                raise RunNotFoundError(f"{path} is missing")
            try:
                self._cache[name] = pq.read_table(path).to_pandas()
            except (OSError, pa.ArrowException) as exc:
                raise ResultsError(f"{path}: unreadable Parquet file: {exc}") from None
        return self._cache[name]

    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json``."""
        if SUMMARY not in self._cache:
            path = self.run_dir / SUMMARY
            try:
                self._cache[SUMMARY] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise RunNotFoundError(f"{path} is missing") from None
            except (OSError, json.JSONDecodeError) as exc:
                raise ResultsError(f"{path}: unreadable summary: {exc}") from None
        return self._cache[SUMMARY]

    @property
    def steps(self) -> pd.DataFrame:
        """``steps.parquet`` as stored: per-market long format, market rows and the venue-total
        (``market = "ALL"``) row of every step."""
        return self._table(STEPS)

    @property
    def markets(self) -> tuple[str, ...]:
        """The run's market symbols, in the scenario's order (without ``"ALL"``)."""
        return step_markets(self.steps)

    @property
    def venue_steps(self) -> pd.DataFrame:
        """Venue totals, one row per step (:func:`~simulator.results.views.venue_steps`)."""
        return venue_steps(self.steps)

    def market_steps(self, symbol: str | None = None) -> pd.DataFrame:
        """One market's rows, one per step; default the first market
        (:func:`~simulator.results.views.market_steps`)."""
        return market_steps(self.steps, symbol)

    @property
    def events(self) -> pd.DataFrame:
        """``events.parquet``."""
        return self._table(EVENTS)

    @property
    def positions(self) -> pd.DataFrame:
        """``positions.parquet``."""
        return self._table(POSITIONS)
