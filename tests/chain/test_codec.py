"""The fast word codec gives eth-abi's results on every function and event of the contracts.

Property tests over random values (hypothesis): encoding every function's inputs, decoding its
outputs and every event's indexed and data fields, and decoding random words (dirty padding,
out-of-range booleans) where the fast path must defer to eth-abi's checks.
"""

from __future__ import annotations

import re

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_abi.grammar import TupleType
from eth_abi.grammar import parse as parse_abi_type
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.chain.abi import _type_str
from simulator.chain.artifacts import load_artifacts
from simulator.chain.codec import TupleCodec, checksum, decode_replies, encode_reads


def _strategy(t: str):
    if t.endswith("[]"):
        return st.lists(_strategy(t[:-2]), max_size=4)
    if t.startswith("(") and t.endswith(")"):
        inner = _split(t[1:-1])
        return st.tuples(*(_strategy(x) for x in inner))
    if m := re.fullmatch(r"uint(\d+)", t):
        return st.integers(0, 2 ** int(m.group(1)) - 1)
    if m := re.fullmatch(r"int(\d+)", t):
        half = 2 ** (int(m.group(1)) - 1)
        return st.integers(-half, half - 1)
    if t == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: checksum("0x" + b.hex()))
    if t == "bool":
        return st.booleans()
    if m := re.fullmatch(r"bytes(\d+)", t):
        n = int(m.group(1))
        return st.binary(min_size=n, max_size=n)
    if t == "bytes":
        return st.binary(max_size=70)
    if t == "string":
        return st.text(max_size=20)
    raise AssertionError(f"no strategy for {t}")


def _split(inner: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return out + ([cur] if cur else [])


def _checksummed(value, t: str):
    """eth-abi's decoded value with addresses checksummed, as the project compares them (in
    arrays and tuples too, at any depth)."""
    return _checksum_as(value, parse_abi_type(t))


def _checksum_as(value, abi_type):
    if abi_type.is_array:
        items = [_checksum_as(v, abi_type.item_type) for v in value]
        # The codec gives address arrays as lists (checksummed), eth-abi gives tuples.
        is_address = getattr(abi_type.item_type, "base", None) == "address"
        return items if is_address else type(value)(items)
    if isinstance(abi_type, TupleType):
        return tuple(_checksum_as(v, c) for v, c in zip(value, abi_type.components, strict=True))
    if abi_type.base == "address":
        return checksum(value)
    return value


def _tuples() -> list[tuple[str, tuple[str, ...]]]:
    """Every (label, types) of the build: function inputs and outputs, event data and each
    indexed field."""
    found = []
    for name, ct in load_artifacts().contract_types.items():
        for item in ct.abi:
            kind = item.get("type")
            if kind == "function":
                found.append(
                    (f"{name}.{item['name']} in", tuple(_type_str(i) for i in item["inputs"]))
                )
                found.append(
                    (
                        f"{name}.{item['name']} out",
                        tuple(_type_str(o) for o in item.get("outputs", [])),
                    )
                )
            elif kind == "event":
                data = tuple(_type_str(i) for i in item["inputs"] if not i.get("indexed"))
                found.append((f"{name}.{item['name']} data", data))
                for i in item["inputs"]:
                    if i.get("indexed"):
                        found.append((f"{name}.{item['name']} {i['name']}", (_type_str(i),)))
    by_types: dict[tuple[str, ...], str] = {}
    for label, types in sorted(found):
        by_types.setdefault(types, label)  # one case per distinct tuple type
    return sorted((label, types) for types, label in by_types.items())  # fmt: skip


TUPLES = _tuples()


def test_most_tuple_types_of_the_contracts_take_the_fast_path():
    fast = [label for label, types in TUPLES if TupleCodec(types).fast]
    assert len(TUPLES) > 40 and len(fast) > len(TUPLES) // 2


@pytest.mark.parametrize("label, types", TUPLES, ids=[label for label, _ in TUPLES])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_encode_and_decode_agree_with_eth_abi(label, types, data):
    codec = TupleCodec(types)
    values = data.draw(st.tuples(*(_strategy(t) for t in types)), label=label)
    encoded = abi_encode(types, values)
    assert codec.encode(values) == encoded
    expected = tuple(
        _checksummed(v, t) for v, t in zip(abi_decode(types, encoded), types, strict=True)
    )
    assert codec.decode(encoded) == expected


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # eth-abi's own error types
        return ("error", type(exc).__name__)


WORD_TYPES = [
    "uint8",
    "uint64",
    "uint256",
    "int24",
    "int256",
    "address",
    "bool",
    "bytes4",
    "bytes32",
]


@settings(max_examples=300, deadline=None)
@given(
    types=st.lists(st.sampled_from(WORD_TYPES), min_size=1, max_size=4),
    words=st.lists(
        st.one_of(
            st.binary(min_size=32, max_size=32),
            st.integers(0, 2**8).map(lambda v: v.to_bytes(32, "big")),
            st.integers(-(2**30), 2**30).map(lambda v: v.to_bytes(32, "big", signed=True)),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_random_words_decode_as_eth_abi_decodes_or_refuses_them(types, words):
    data = b"".join(words)
    codec = TupleCodec(types)
    expected = _outcome(
        lambda: tuple(
            _checksummed(v, t) for v, t in zip(abi_decode(types, data), types, strict=True)
        )
    )
    assert _outcome(lambda: codec.decode(data)) == expected


@pytest.mark.parametrize(
    "types, values",
    [
        (("uint8",), (256,)),  # out of range
        (("uint256",), (-1,)),
        (("int8",), (128,)),
        (("bool",), (1,)),  # eth-abi wants a bool
        (("uint256",), (True,)),  # ... and an int that is not a bool
        (("address",), ("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",)),  # lower case is fine
        (("address",), ("0xF39fd6e51aad88f6f4ce6ab8827279cfffb92266",)),  # bad checksum
        (("address",), (b"\x11" * 20,)),  # 20 bytes are an address too
        (("bytes4",), (b"\x01\x02",)),  # shorter is right-padded
        (("bytes4",), (b"\x01" * 5,)),  # longer is refused
    ],
)
def test_inputs_outside_the_fast_path_behave_as_eth_abi(types, values):
    codec = TupleCodec(types)
    assert _outcome(lambda: codec.encode(values)) == _outcome(lambda: abi_encode(types, values))


# -- ViewBatch's (address,bytes)[] in and (bool,bytes)[] out ---------------------------------------

_addresses = st.binary(min_size=20, max_size=20).map(lambda b: checksum("0x" + b.hex()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_addresses, st.binary(max_size=100)), max_size=12))
def test_the_batched_read_encoding_is_eth_abis(reads):
    assert encode_reads(reads) == abi_encode(["(address,bytes)[]"], [reads])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=100)), max_size=12))
def test_the_batched_read_replies_decode_as_eth_abi_does(replies):
    encoded = abi_encode(["(bool,bytes)[]"], [replies])
    assert decode_replies(encoded) == [tuple(r) for r in abi_decode(["(bool,bytes)[]"], encoded)[0]]


def test_non_canonical_batched_replies_go_to_eth_abi():
    """A bool word above 1 or dirty padding after a blob: eth-abi decides (it raises)."""
    encoded = bytearray(abi_encode(["(bool,bytes)[]"], [[(True, b"\x01\x02")]]))
    bad_bool = bytearray(encoded)
    bad_bool[32 * 3 + 31] = 2  # the first element's bool word (after offset, length, head)
    with pytest.raises(DecodingError):
        abi_decode(["(bool,bytes)[]"], bytes(bad_bool))
    with pytest.raises(DecodingError):
        decode_replies(bytes(bad_bool))
    dirty = bytearray(encoded)
    dirty[-1] = 7  # padding after the 2-byte blob
    with pytest.raises(DecodingError):
        decode_replies(bytes(dirty))


# -- EIP-55 checksums ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.sampled_from(["lower", "upper", "checksummed"]))
def test_checksum_is_eth_utils_checksum(raw, spelling):
    """The direct EIP-55 path (lower-case ``0x`` hex) and the eth-utils path (any other
    spelling) give eth-utils' checksum of the same address."""
    from eth_utils import to_checksum_address

    expected = to_checksum_address(raw)
    spelled = {"lower": "0x" + raw.hex(), "upper": "0x" + raw.hex().upper(),
               "checksummed": expected}[spelling]  # fmt: skip
    assert checksum.__wrapped__(spelled) == expected


def test_checksum_refuses_what_eth_utils_refuses():
    """Not an address: eth-utils' error, not a made-up checksum."""
    for bad in ("0x1234", "0x" + "g" * 40, "0x" + "ab" * 21):
        with pytest.raises(ValueError):
            checksum.__wrapped__(bad)
