"""``TxResult`` decodes its logs on first use, and is otherwise the record it always was."""

from __future__ import annotations

import gc
import pickle

from simulator.chain.abi import DecodedEvent
from simulator.chain.gcpause import paused_gc
from simulator.chain.types import TxResult

A = "0x00000000000000000000000000000000000000aA"


def _decoder(calls: list):
    def decode(raw):
        calls.append(raw)
        return None if raw == "unknown" else DecodedEvent(raw, A, {"n": 1}, len(calls))

    return decode


def test_logs_are_decoded_once_on_first_use_and_unknown_ones_dropped():
    calls: list = []
    r = TxResult(
        0, "x", True, raw_logs=["Transfer", "unknown", "Deposited"], decode=_decoder(calls)
    )
    assert calls == []  # nothing decoded until asked
    names = [e.name for e in r.events]
    assert names == ["Transfer", "Deposited"]
    assert r.events is r.events and len(calls) == 3  # decoded once, then kept


def test_a_lazy_result_equals_the_eager_one_and_pickles_decoded():
    eager = TxResult(3, "y", True, tx_hash="0x1", block_number=5, position=2, gas_used=21_000,
                     events=[DecodedEvent("Transfer", A, {"n": 1}, 1)])  # fmt: skip
    lazy = TxResult(3, "y", True, tx_hash="0x1", block_number=5, position=2, gas_used=21_000,
                    raw_logs=["Transfer"], decode=_decoder([]))  # fmt: skip
    assert lazy == eager and repr(lazy) == repr(eager)
    assert pickle.loads(pickle.dumps(lazy)) == eager
    assert TxResult(0, "z", False).events == []


def test_events_can_be_replaced():
    """The differential backend test drops a log by assigning ``events``."""
    r = TxResult(0, "x", True, raw_logs=["A", "B"], decode=_decoder([]))
    r.events = r.events[:-1]
    assert [e.name for e in r.events] == ["A"]


def test_paused_gc_restores_the_collector_as_it_was():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause does not end the outer one
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()
