"""The run tables' columns built by Arrow in one call (``schema._direct_array``) hold exactly
what the per-value path (``schema._clean`` of each value, then ``pa.array``) gives, and a column
that path refuses is refused with that path's message, on drawn columns of every type, nullable
or not, with the values rows carry (floats, NaN, None, ``pd.NA``, numpy scalars, ints, bools,
text)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.results import schema
from simulator.results.schema import Column

MISSING = st.sampled_from([None, float("nan"), pd.NA, np.float64("nan")])
#: What rows put in a column of each type: its own values mostly, missing ones, and now and
#: then a value of another type (which the per-value path converts or refuses).
VALUES = {
    "float64": st.one_of(
        st.floats(allow_nan=False, allow_infinity=True, width=64),
        st.floats(allow_nan=False, width=64).map(np.float64),
        st.floats(allow_nan=False, width=32).map(np.float32),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.booleans(),
    ),
    "int64": st.one_of(
        st.integers(min_value=-(2**62), max_value=2**62),
        st.integers(min_value=-(2**40), max_value=2**40).map(np.int64),
        st.integers(-5, 5).map(float),  # integral floats (ints that went through pandas)
    ),
    "string": st.one_of(st.text(max_size=4), st.text(max_size=4).map(np.str_)),
}
OTHER = st.one_of(st.text(max_size=2), st.integers(-3, 3), st.floats(-1, 1), st.booleans())


@st.composite
def columns(draw) -> tuple[list, Column]:
    dtype = draw(st.sampled_from(["float64", "int64", "string"]))
    nullable = draw(st.booleans())
    own = VALUES[dtype]
    values = draw(st.lists(st.one_of(own, own, own, MISSING, OTHER), min_size=1, max_size=8))
    return values, Column("x", getattr(pa, dtype)(), "-", nullable)


def build(values: list, col: Column, *, direct: bool) -> pa.Table | str:
    """The one-column table, or the message of its refusal, with or without the direct path."""
    keep = schema._direct_array
    if not direct:
        schema._direct_array = lambda values, col: None
    try:
        return schema._to_table({col.name: values}, (col,), "events")
    except ValueError as exc:
        return str(exc)
    finally:
        schema._direct_array = keep


@settings(max_examples=400, deadline=None)
@given(column=columns())
def test_a_column_built_in_one_call_equals_the_per_value_path(column):
    values, col = column
    direct, general = build(values, col, direct=True), build(values, col, direct=False)
    if isinstance(general, str):
        assert direct == general
    else:
        assert isinstance(direct, pa.Table) and direct.schema.equals(general.schema)
        assert written(direct) == written(general)


def written(table: pa.Table) -> list[str]:
    """The column's values as they would be written, NaN, -0.0 and null told apart (a table's
    ``equals`` holds NaN unequal to itself)."""
    return [repr(v) for v in table.column("x").to_pylist()]


@pytest.mark.parametrize(
    ("values", "dtype", "nullable", "expected"),
    [
        ([1.0, float("nan"), None, pd.NA], pa.float64(), True, [1.0, None, None, None]),
        ([np.int64(3), 2.0, None], pa.int64(), True, [3, 2, None]),
        (["BTC", None, float("nan")], pa.string(), True, ["BTC", None, None]),
        ([7, "ETH"], pa.string(), True, ["7", "ETH"]),  # a number in a text column: its text
    ],
)
def test_what_rows_carry_becomes_the_column_values(values, dtype, nullable, expected):
    table = build(values, Column("x", dtype, "-", nullable), direct=True)
    assert table.column("x").to_pylist() == expected


def test_a_missing_value_in_a_column_that_needs_one_is_refused_by_name():
    message = build([1.0, None], Column("price_usd", pa.float64(), "USD"), direct=True)
    assert message == "events: column price_usd has missing values"


@pytest.mark.parametrize("fraction", [2.5, np.float64(-0.25)])
def test_a_fraction_in_an_integer_column_is_refused_not_truncated(fraction):
    for direct in (True, False):
        message = build([1, fraction], Column("step", pa.int64(), "step"), direct=direct)
        assert message == f"events: column step: {fraction!r} is not a whole number"
