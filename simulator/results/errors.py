"""The errors of run folders (every one a :class:`~simulator.errors.PerpsimError`: one line, exit 2)."""

from __future__ import annotations

from simulator.errors import PerpsimError


class ResultsError(PerpsimError):
    """A run folder cannot be written or read."""


class RunExistsError(ResultsError):
    """The run folder already holds a run (complete, or incomplete and resumable)."""


class RunNotFoundError(ResultsError):
    """The folder is missing or is not a run folder."""


class RunIncompleteError(ResultsError):
    """The run folder holds a run that did not finish."""


class CheckpointError(ResultsError):
    """A checkpoint is missing, unreadable, or does not match the run."""


class RunMismatchError(ResultsError):
    """A run folder holds another run than the one asked for (scenario, code or contracts
    differ), or its manifest no longer matches itself (scenario missing or edited)."""
