"""Where evaluations run: a local process pool (the default) or Dask distributed.

Both are an :class:`Executor`: ``submit(fn, arg)`` returns a future, ``as_completed(futures)``
yields them as they finish, ``cancel(futures)`` drops the ones not started, ``close()`` stops
what the executor started. ``perpsim sweep`` and ``perpsim tune`` call nothing else, so the
same loop runs on either (:func:`open_executor`):

- ``--workers N`` alone: :class:`PoolExecutor`, N worker processes on this machine
  (``concurrent.futures.ProcessPoolExecutor``, spawned). A worker dies with the process that
  started it, stopping its anvil nodes first (:func:`simulator.compare._worker_init`).
- ``--dask local``: :class:`DaskExecutor` on a ``distributed.LocalCluster`` of N single-thread
  worker processes, started here and closed at the end.
- ``--dask tcp://HOST:PORT``: :class:`DaskExecutor` on a running scheduler (its workers, on any
  machine, need perpsim installed). Nothing answering there within :data:`CONNECT_TIMEOUT_S`
  is one line (exit 2).

Results are plain data (:func:`simulator.experiments.evaluate.evaluate`), so a result is the
same whichever executor computed it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from simulator.experiments import ExperimentError

#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT_S = 5
_ADDRESS = re.compile(r"(tcp|tls|ws|wss|inproc|ucx)://[^\s/]+(:\d+)?/?")


class Executor(Protocol):
    """What sweep and tune use of an executor."""

    workers: int
    description: str

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any: ...

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]: ...

    def cancel(self, futures: Iterable[Any]) -> None: ...

    def close(self) -> None: ...


class PoolExecutor:
    """A local process pool of ``workers`` processes."""

    def __init__(self, workers: int):
        from concurrent.futures import ProcessPoolExecutor

        from simulator.compare import _worker_init

        self.workers = int(workers)
        self.description = f"local process pool, {self.workers} worker(s)"
        # Spawned, not forked: forked workers of this process ran the chain engine 5x slower
        # each when two ran at once (measured: 6.4 s a run against 1.9 s spawned), while one
        # forked worker did not slow down.
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            initializer=_worker_init,
            mp_context=multiprocessing.get_context("spawn"),
        )

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self._pool.submit(fn, arg)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from concurrent.futures import as_completed

        return as_completed(list(futures))

    def cancel(self, futures: Iterable[Any]) -> None:
        for future in futures:
            future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A ``distributed.Client`` on a scheduler address, or on a LocalCluster started here."""

    def __init__(self, address: str, workers: int):
        import distributed

        self._cluster = None
        self.workers = int(workers)
        if address == "local":
            self._cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = distributed.Client(self._cluster)
            self.description = f"Dask LocalCluster, {self.workers} worker process(es)"
            return
        try:
            self._client = distributed.Client(
                address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ExperimentError(
                f"--dask {address}: no Dask scheduler answers there within "
                f"{CONNECT_TIMEOUT_S} s ({reason[:160]})"
            ) from None
        found = len(self._client.scheduler_info().get("workers", {}))
        self.workers = max(found, 1)
        self.description = f"Dask scheduler {address}, {found} worker(s)"

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self._client.submit(fn, arg, pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        import distributed

        return iter(distributed.as_completed(list(futures)))

    def cancel(self, futures: Iterable[Any]) -> None:
        futures = list(futures)
        if futures:
            with contextlib.suppress(Exception):
                self._client.cancel(futures)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()


def check_dask_address(address: str | None) -> str | None:
    """``--dask``: ``local`` or a scheduler address (``tcp://HOST:PORT``), checked as text.

    Raises
    ------
    ExperimentError
        Anything else (the message shows the two forms).
    """
    if address is None:
        return None
    address = address.strip()
    if address == "local" or _ADDRESS.fullmatch(address):
        return address
    raise ExperimentError(
        f"--dask {address!r}: give 'local' (a LocalCluster here) or a scheduler address such as "
        "tcp://10.0.0.5:8786"
    )


def open_executor(workers: int, dask: str | None = None) -> Executor:
    """The executor asked for: a process pool of ``workers``, or Dask (``dask``: ``local`` or
    a scheduler address).

    Raises
    ------
    ExperimentError
        ``workers`` below 1, a malformed address, or a scheduler that does not answer.
    """
    if workers < 1:
        raise ExperimentError(f"--workers must be >= 1 (got {workers})")
    address = check_dask_address(dask)
    if address is None:
        return PoolExecutor(workers)
    return DaskExecutor(address, workers)


__all__ = [
    "CONNECT_TIMEOUT_S",
    "Executor",
    "PoolExecutor",
    "DaskExecutor",
    "check_dask_address",
    "open_executor",
    "run_all",
]


def run_all(
    executor: Executor,
    fn: Callable[[Any], Any],
    args: Sequence[Any],
    on_result: Callable[[Any], bool | None],
) -> None:
    """Submit ``fn(arg)`` for every arg and hand each result to ``on_result`` as it finishes.

    ``on_result`` returning True stops early: the tasks not started are cancelled (those
    running finish in their workers and are dropped). Ctrl-C cancels them the same way."""
    futures = [executor.submit(fn, arg) for arg in args]
    try:
        for future in executor.as_completed(futures):
            if on_result(future.result()):
                break
    finally:
        executor.cancel(futures)
