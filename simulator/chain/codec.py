"""A fast ABI codec for tuples of static words, shared by both chain backends.

Once the EVM runs in process, eth-abi is most of a call's cost (about 22 µs to encode a call
and 50 µs to decode a log, against a few µs of EVM work). Most of the project's functions and
events take and return only one-word static types (``uintN``, ``intN``, ``address``, ``bool``,
``bytesN``) or structs of them; for those a tuple is just 32-byte words, which this module
packs and slices directly (structs: decoding only). Everything else (strings, bytes, arrays, tuples) stays with eth-abi.

The fast path gives exactly eth-abi's results: it takes only inputs whose types it knows for
certain (``int`` but not ``bool`` for integers, ``bool`` for booleans, valid addresses,
``bytes`` for ``bytesN``) and any other input, out-of-range value or non-canonical word
(dirty padding, a bool word above 1) is handed to eth-abi, which then encodes, decodes or
raises as it always would. ``tests/chain/test_codec.py`` checks this on every function and
event of the compiled contracts with random values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.grammar import TupleType
from eth_abi.grammar import parse as parse_abi_type
from eth_utils import is_address, keccak
from eth_utils import to_checksum_address as _to_checksum_address

_UINT = re.compile(r"uint(\d+)")
_INT = re.compile(r"int(\d+)")
_BYTES = re.compile(r"bytes(\d+)")
_ZERO12 = bytes(12)


class _Fallback(Exception):
    """The fast path does not handle this input: eth-abi decides."""


_HEX40 = re.compile(r"0x[0-9a-f]{40}")


@lru_cache(maxsize=1 << 16)
def checksum(address_hex: str) -> str:
    """EIP-55 checksummed address, cached (the same agents recur in every block).

    A lower-case ``0x`` address (how words and JSON-RPC replies spell them) is checksummed here
    directly: keccak of the hex digits, each letter upper-cased where the hash's nibble is 8 or
    more, about 1.5 times as fast as eth-utils' own (a 10,000-trader world meets every trader's
    address for the first time in its setup); any other spelling goes to eth-utils (which
    validates it). ``tests/chain/test_codec.py`` compares both on random addresses.
    """
    if _HEX40.fullmatch(address_hex):
        digits = address_hex[2:]
        nibbles = keccak(digits.encode()).hex()
        return "0x" + "".join(
            c.upper() if n > "7" else c for c, n in zip(digits, nibbles, strict=False)
        )
    return _to_checksum_address(address_hex)


@lru_cache(maxsize=1 << 16)
def _address_word(value: str) -> bytes:
    """The ABI word of an address string eth-abi accepts (hex, 0x-prefixed, valid checksum if
    mixed case); :class:`_Fallback` for anything else."""
    if not is_address(value) or len(value) != 42:
        raise _Fallback
    return _ZERO12 + bytes.fromhex(value[2:])


def _word_encoder(type_str: str) -> Callable[[Any], bytes] | None:
    if m := _UINT.fullmatch(type_str):
        bound = 1 << int(m.group(1))

        def enc_uint(v):
            if type(v) is not int or not 0 <= v < bound:
                raise _Fallback
            return v.to_bytes(32, "big")

        return enc_uint
    if m := _INT.fullmatch(type_str):
        half = 1 << (int(m.group(1)) - 1)

        def enc_int(v):
            if type(v) is not int or not -half <= v < half:
                raise _Fallback
            return v.to_bytes(32, "big", signed=True)

        return enc_int
    if type_str == "address":

        def enc_address(v):
            if type(v) is not str:
                raise _Fallback
            return _address_word(v)

        return enc_address
    if type_str == "bool":

        def enc_bool(v):
            if type(v) is not bool:
                raise _Fallback
            return b"\x00" * 31 + (b"\x01" if v else b"\x00")

        return enc_bool
    if (m := _BYTES.fullmatch(type_str)) and 1 <= int(m.group(1)) <= 32:
        size = int(m.group(1))

        def enc_bytes(v):
            if type(v) is not bytes or len(v) > size:
                raise _Fallback
            return v.ljust(32, b"\x00")

        return enc_bytes
    return None


def _word_decoder(type_str: str) -> Callable[[bytes], Any] | None:
    if m := _UINT.fullmatch(type_str):
        bits = int(m.group(1))

        def dec_uint(w):
            v = int.from_bytes(w, "big")
            if v >> bits:
                raise _Fallback
            return v

        return dec_uint
    if m := _INT.fullmatch(type_str):
        half = 1 << (int(m.group(1)) - 1)

        def dec_int(w):
            v = int.from_bytes(w, "big", signed=True)
            if not -half <= v < half:
                raise _Fallback
            return v

        return dec_int
    if type_str == "address":

        def dec_address(w):
            if w[:12] != _ZERO12:
                raise _Fallback
            return checksum("0x" + w[12:].hex())

        return dec_address
    if type_str == "bool":

        def dec_bool(w):
            v = int.from_bytes(w, "big")
            if v > 1:
                raise _Fallback
            return v == 1

        return dec_bool
    if (m := _BYTES.fullmatch(type_str)) and 1 <= int(m.group(1)) <= 32:
        size = int(m.group(1))

        def dec_bytes(w):
            if any(w[size:]):
                raise _Fallback
            return w[:size]

        return dec_bytes
    return None


def _normalise(value: Any, type_str: str) -> Any:
    """Checksum addresses (eth-abi returns them lower case) so results compare equal: at any
    depth of arrays and tuples; an array of addresses becomes a list."""
    if "address" not in type_str:
        return value
    return _normalise_as(value, _parsed_type(type_str))


@lru_cache(maxsize=1 << 10)
def _parsed_type(type_str: str):
    return parse_abi_type(type_str)


def _normalise_as(value: Any, abi_type) -> Any:
    if abi_type.is_array:
        items = [_normalise_as(v, abi_type.item_type) for v in value]
        is_address = getattr(abi_type.item_type, "base", None) == "address"
        return items if is_address else type(value)(items)
    if isinstance(abi_type, TupleType):
        return tuple(_normalise_as(v, c) for v, c in zip(value, abi_type.components, strict=True))
    if abi_type.base == "address" and isinstance(value, str):
        return checksum(value)
    return value


def _split_tuple(type_str: str) -> list[str] | None:
    """The component types of ``(a,b,...)``; ``None`` if ``type_str`` is not a bare tuple."""
    if not (type_str.startswith("(") and type_str.endswith(")")):
        return None
    parts, depth, start = [], 0, 1
    for k, ch in enumerate(type_str[1:-1], start=1):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(type_str[start:k])
            start = k + 1
    parts.append(type_str[start:-1])
    return parts if parts != [""] else []


def _static_decoder(type_str: str):
    """``(words, decode(data, offset) -> (value, offset))`` for a one-word type or a tuple of
    them (nested tuples too: a static tuple is its words in line); ``None`` otherwise."""
    word = _word_decoder(type_str)
    if word is not None:

        def dec_word(data, offset):
            return word(data[offset : offset + 32]), offset + 32

        return 1, dec_word
    parts = _split_tuple(type_str)
    if parts is None:
        return None
    inner = [_static_decoder(p) for p in parts]
    if not all(inner):
        return None
    decoders = [d for _, d in inner]

    def dec_tuple(data, offset):
        values = []
        for dec in decoders:
            value, offset = dec(data, offset)
            values.append(value)
        return tuple(values), offset

    return sum(n for n, _ in inner), dec_tuple


def word_decoder(codec: TupleCodec) -> Callable[[bytes], Any] | None:
    """The one-word decoder of a one-type ``codec`` (raises :class:`_Fallback` for a word
    its fast path does not take; ``codec.decode`` then decides), ``None`` if it has none."""
    if codec._decoders is not None and len(codec._decoders) == 1:
        return codec._decoders[0]
    return None


class TupleCodec:
    """Encode and decode one ABI tuple type, e.g. a function's inputs or an event's data.

    ``encode(values)`` and ``decode(data)`` give eth-abi's results (addresses checksummed);
    tuples of one-word static types take the fast path.
    """

    def __init__(self, types: Sequence[str]):
        self.types = tuple(types)
        encoders = [_word_encoder(t) for t in self.types]
        self._encoders = encoders if all(encoders) else None
        decoders = [_word_decoder(t) for t in self.types]
        self._decoders = decoders if all(decoders) else None
        # Outputs that are static tuples (structs of words) decode on the fast path too.
        static = [_static_decoder(t) for t in self.types]
        self._static = [d for _, d in static] if all(static) else None
        self._static_size = 32 * sum(n for n, _ in static) if all(static) else -1
        self.fast = self._encoders is not None and self._decoders is not None
        self._size = 32 * len(self.types)
        # One dynamic array of static elements (e.g. a view returning ``Struct[]``).
        self._array = None
        if len(self.types) == 1 and self.types[0].endswith("[]") and self.types[0] != "address[]":
            element = _static_decoder(self.types[0][:-2])
            self._array = element if element is not None else None

    def encode(self, values: Sequence[Any]) -> bytes:
        if self._encoders is not None and len(values) == len(self.types):
            try:
                return b"".join(enc(v) for enc, v in zip(self._encoders, values, strict=True))
            except _Fallback:
                pass
        return abi_encode(self.types, values)

    def decode(self, data: bytes) -> tuple:
        if self._decoders is not None and len(data) == self._size:
            try:
                return tuple(
                    [dec(data[32 * i : 32 * i + 32]) for i, dec in enumerate(self._decoders)]
                )
            except _Fallback:
                pass
        elif self._static is not None and len(data) == self._static_size:
            try:
                values, offset = [], 0
                for dec in self._static:
                    value, offset = dec(data, offset)
                    values.append(value)
                return tuple(values)
            except _Fallback:
                pass
        elif self._array is not None:
            try:
                return (self._decode_array(data),)
            except _Fallback:
                pass
        values = abi_decode(self.types, data)
        return tuple(_normalise(v, t) for v, t in zip(values, self.types, strict=True))

    def _decode_array(self, data: bytes) -> tuple:
        """The one ``T[]`` of static ``T`` in its canonical encoding (head 32, then the length
        and the elements in line), as eth-abi decodes it: a tuple; anything else falls back."""
        words, dec = self._array
        if len(data) < 64 or int.from_bytes(data[:32], "big") != 32:
            raise _Fallback
        n = int.from_bytes(data[32:64], "big")
        if len(data) != 64 + 32 * words * n:
            raise _Fallback
        values, offset = [], 64
        for _ in range(n):
            value, offset = dec(data, offset)
            values.append(value)
        return tuple(values)


# -- ViewBatch.readAll: many views in one call ---------------------------------------------------

_WORD_32 = (32).to_bytes(32, "big")
_WORD_64 = (64).to_bytes(32, "big")


def encode_reads(reads: Sequence[tuple[str, bytes]]) -> bytes:
    """ABI encoding of one ``(address,bytes)[]`` argument (``ViewBatch.readAll``'s, without the
    selector): exactly eth-abi's bytes, built directly (eth-abi validates every element and
    costs more than the reads it batches)."""
    try:
        tails = []
        for to, data in reads:
            if type(data) is not bytes:
                raise _Fallback
            tails.append(
                _address_word(to)
                + _WORD_64
                + len(data).to_bytes(32, "big")
                + data
                + bytes(-len(data) % 32)
            )
    except _Fallback:
        return abi_encode(["(address,bytes)[]"], [list(reads)])
    heads, offset = [], 32 * len(tails)
    for tail in tails:
        heads.append(offset.to_bytes(32, "big"))
        offset += len(tail)
    return _WORD_32 + len(tails).to_bytes(32, "big") + b"".join(heads) + b"".join(tails)


def decode_replies(data: bytes) -> list[tuple[bool, bytes]]:
    """Decode one ``(bool,bytes)[]`` return value (``ViewBatch.readAll``'s): eth-abi's result
    as a list, read by offsets directly; anything non-canonical goes to eth-abi."""
    try:
        return _decode_replies(data)
    except (_Fallback, IndexError, ValueError):
        (values,) = abi_decode(["(bool,bytes)[]"], data)
        return [tuple(v) for v in values]


def _word(data: bytes, at: int) -> int:
    if at < 0 or at + 32 > len(data):
        raise _Fallback
    return int.from_bytes(data[at : at + 32], "big")


def _decode_replies(data: bytes) -> list[tuple[bool, bytes]]:
    array = _word(data, 0)
    n = _word(data, array)
    start = array + 32
    out = []
    for i in range(n):
        at = start + _word(data, start + 32 * i)
        ok = _word(data, at)
        if ok > 1:
            raise _Fallback
        blob = at + _word(data, at + 32)
        length = _word(data, blob)
        end = blob + 32 + length
        if end > len(data) or any(data[end : end + (-length % 32)]):
            raise _Fallback
        out.append((ok == 1, data[blob + 32 : end]))
    return out
