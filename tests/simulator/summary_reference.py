"""The summary's pandas frames built straight from a run's rows (:func:`summary_frames`): the
reference the array summary (:func:`simulator.results.summary_arrays.summarize_columns`) is
held to in tests. Production code takes the arrays (:func:`simulator.mirror.run.summary_of`);
this form stays here, beside the tests that compare the two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from simulator.results.summary import summary_columns


def summary_frames(
    step_rows: Sequence[Mapping[str, Any]], event_rows: Sequence[Mapping[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The step and event frames :func:`~simulator.results.summary.summarize` needs, built
    straight from a run's rows (``SUMMARY_STEP_COLUMNS``; ``SUMMARY_EVENT_COLUMNS`` of the
    events of ``SUMMARY_EVENT_KINDS``), with the values and dtypes the run folder's Arrow
    tables give. None when a value is not plainly of its column's type (a number in a text
    column, a fraction in an integer one, ...): the schema's tables
    (:func:`~simulator.results.schema._to_table`) convert it or name what is wrong.

    The rows are not checked against the schema's rules (the long format of the steps, the
    positions' outcomes): the tables a folder gets do that."""
    columns = summary_columns(step_rows, event_rows)
    if columns is None:
        return None
    steps, events = columns
    return pd.DataFrame(steps, copy=False), pd.DataFrame(events, copy=False)
