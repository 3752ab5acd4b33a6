"""The engine's fast paths give exactly what the paths they replace give."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from simulator.units import USD_UNITS, WAD, to_units, to_wad


def _floats(n: int) -> np.ndarray:
    rng = np.random.default_rng(23)
    mantissa = rng.uniform(-1.0, 1.0, n)
    exponent = rng.integers(-9, 17, n).astype(np.float64)
    values = mantissa * 10.0**exponent
    # Prices as the engine posts them (rounded to 8 decimals), whole numbers, and edge cases.
    return np.concatenate(
        [
            values,
            np.round(values, 8),
            np.round(values, 12),
            np.trunc(values),
            [0.0, -0.0, 1e-5, 1e-4, 0.1, 0.3, 1e15, 9.999999999999998e15, 1e16, 1e22, -2.5],
        ]
    )


def test_to_wad_and_to_units_equal_the_decimal_product():
    for x in _floats(20_000).tolist():
        assert to_wad(x) == int(Decimal(str(x)) * WAD), x
        assert to_units(x) == int(Decimal(str(x)) * USD_UNITS), x


def test_to_wad_refuses_what_decimal_refuses():
    with pytest.raises((ValueError, OverflowError)):
        to_wad(float("inf"))
    with pytest.raises(ValueError):
        to_wad(float("nan"))
    assert to_wad(3) == 3 * WAD
    assert to_wad(Decimal("1.25")) == 125 * 10**16


def _word_value(rng: np.random.Generator, type_str: str):
    if type_str == "address":
        return "0x" + rng.bytes(20).hex()
    if type_str == "bool":
        return bool(rng.integers(2))
    bits = int(type_str.lstrip("uint").lstrip("int") or 256)
    if type_str.startswith("uint"):
        return int.from_bytes(rng.bytes(bits // 8), "big") >> int(rng.integers(0, bits))
    value = int.from_bytes(rng.bytes(bits // 8), "big", signed=True)
    return value >> int(rng.integers(0, bits))


def test_json_log_decoding_equals_the_general_path():
    """Every event of the project's ABIs whose inputs are all one-word types, as a JSON-RPC
    log with random values: ``decode_log`` (topic0 string, words from hex) gives what
    ``decode_log_parts`` gives."""
    from eth_abi import encode

    from simulator.chain.artifacts import load_artifacts

    registry = load_artifacts().registry
    rng = np.random.default_rng(5)
    checked = 0
    for topic, spec in registry._events.items():
        types = [t for _, t, _ in spec.indexed] + list(spec.data.types)
        if not all(t == "address" or t == "bool" or t.startswith(("uint", "int")) for t in types):
            continue
        assert "0x" + topic.hex() in registry._events_hex, spec.name  # on the fast path
        for _ in range(20):
            indexed = [_word_value(rng, t) for _, t, _ in spec.indexed]
            data = [_word_value(rng, t) for t in spec.data.types]
            log = {
                "address": "0x" + rng.bytes(20).hex(),
                "topics": ["0x" + topic.hex()]
                + [
                    "0x" + encode([t], [v]).hex()
                    for (_, t, _), v in zip(spec.indexed, indexed, strict=True)
                ],
                "data": "0x" + encode(list(spec.data.types), data).hex(),
                "logIndex": hex(int(rng.integers(0, 1000))),
            }
            fast = registry.decode_log(log)
            general = registry.decode_log_parts(
                log["address"],
                log["topics"],
                bytes.fromhex(log["data"][2:]),
                int(log["logIndex"], 16),
            )
            assert fast == general, spec.name
            checked += 1
    assert checked > 200
